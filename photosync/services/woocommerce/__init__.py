"""WooCommerce stores: connecting (wc-auth and the operator command), webhook intake and
processing, webhook health, and the companion plugin's signed-token handoff."""
