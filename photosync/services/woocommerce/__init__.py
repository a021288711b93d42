"""WooCommerce stores: connecting (wc-auth and the operator command), the webhook topics'
handler, webhook health, and verifying the companion plugin's signed-token handoff."""
