"""WooCommerce's routes, included by photosync.urls."""

from django.urls import path

from photosync.views import woocommerce

urlpatterns = [
    path("woocommerce/connect", woocommerce.connect, name="woocommerce-connect"),
    path("woocommerce/callback", woocommerce.callback, name="woocommerce-callback"),
    path("woocommerce/return", woocommerce.return_page, name="woocommerce-return"),
    path("woocommerce/embed/<int:store_id>", woocommerce.embed, name="woocommerce-embed"),
    path(
        "woocommerce/embed/<int:store_id>/home",
        woocommerce.embed_home,
        name="woocommerce-embed-home",
    ),
    path("webhooks/woocommerce/<int:store_id>", woocommerce.webhook, name="woocommerce-webhook"),
]
