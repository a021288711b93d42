"""A WooCommerce store emulator: the REST API v3, webhooks and wc-auth, as PHP answers them."""

from emulators.woocommerce.server import WooEmulator

__all__ = ["WooEmulator"]
