"""WooCommerce stores: client (the only module importing `woocommerce`), webhooks (pure
verification), addresses (which hosts may be called) and the StoreAdapter."""
