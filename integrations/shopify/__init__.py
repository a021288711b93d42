"""Shopify: the Admin GraphQL client, its documents, webhook and OAuth checks, the adapter.

`transport`, `graphql` and `files` are the only modules here that talk HTTP to Shopify (`client`
re-exports their public names); everything outside this package speaks the StoreAdapter
protocol and the dataclasses of `integrations.base`.
"""
