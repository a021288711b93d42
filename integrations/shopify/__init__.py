"""Shopify: the Admin GraphQL client, its documents, webhook and OAuth checks, the adapter.

`client` is the only module here that talks HTTP to Shopify; everything outside this package
speaks the StoreAdapter protocol and the dataclasses of `integrations.base`.
"""
