"""Store platform emulators (Shopify, WooCommerce): real HTTP servers on loopback."""
