"""Shopify stores: connecting (token exchange, authorization code, custom-app token) and
keeping tokens fresh, the webhook topics' handlers, and bulk-operation backfills."""
