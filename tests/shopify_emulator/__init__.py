"""A Shopify Admin emulator for tests: real schema, in-memory shops, cost-based throttling."""
