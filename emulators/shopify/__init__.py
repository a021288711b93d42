"""A Shopify Admin emulator: real schema, in-memory shops, cost-based throttling."""

from emulators.shopify.server import ShopifyEmulator

__all__ = ["ShopifyEmulator"]
