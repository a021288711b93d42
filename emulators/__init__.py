"""Store platform emulators: a Shopify Admin and a WooCommerce store, each a real HTTP server
on loopback, with its catalogue in memory.

They are products, like Dramatiq's stub broker: the tests and the benchmarks (bench/) run the
app against them, and a developer can point a running PhotoSync at one. They follow the
platforms' documented behaviour, errors included (the platform contract sheet,
shared/docs/platform.md): Shopify's published Admin schema with calculated query cost and
the leaky bucket, staged uploads and media processing, token exchange and refresh, signed
webhooks; WooCommerce's OAuth 1.0a key checks, paging headers, gallery replacement with
sideloading, webhooks that ping, deliver once and disable themselves, and wc-auth. Each
module's docstring names the rules it follows and the faults a test can switch on.

They are independent of the app: nothing here imports photosync, integrations or pipeline,
and the app's runtime code never imports them (tests/test_boundaries.py checks both).

Shopify: the Admin API at `base_url` (the app's `SHOPIFY_API_ORIGIN`); webhooks, when
`webhook_url` is set, go there signed with `api_secret`:

>>> from emulators.images import tiny_png
>>> from emulators.shopify import ShopifyEmulator
>>> with ShopifyEmulator(api_key="key", api_secret="secret") as shopify:
...     _ = shopify.add_shop("demo.myshopify.com")
...     token = shopify.issue_token("demo.myshopify.com")  # an offline access token
...     gid = shopify.create_product("demo.myshopify.com", title="Watch",
...                                  images=[("watch.png", tiny_png(1), "Watch on white")])
...     [m["status"] for m in shopify.product_media("demo.myshopify.com", gid)]
['READY']

WooCommerce: serving from construction at `url` (the store's home); connect with a key, or
through wc-auth (`approve`):

>>> from emulators.woocommerce import WooEmulator
>>> woo = WooEmulator()
>>> key, secret = woo.add_key("read_write")
>>> pid = woo.create_product("Watch", [("watch.png", tiny_png(1))])
>>> len(woo.gallery(pid))
1
>>> woo.close()
"""
