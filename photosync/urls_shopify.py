"""Shopify's routes, included by photosync.urls."""

from django.urls import path

from photosync.views import shopify

urlpatterns = [
    path("webhooks/shopify", shopify.webhook, name="shopify-webhook"),
    path("shopify/", shopify.app, name="shopify-app"),
    path("shopify/session-token", shopify.session_bounce, name="shopify-session-bounce"),
    path("shopify/install", shopify.install, name="shopify-install"),
    path("shopify/callback", shopify.callback, name="shopify-callback"),
]
