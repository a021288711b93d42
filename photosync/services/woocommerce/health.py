"""Webhook health for WooCommerce stores.

WooCommerce never retries a delivery and disables a webhook after a few consecutive
failures, silently. So each store's webhooks are checked on a schedule (the sync daemon) and
on every connect: disabled or paused ones are re-activated, missing ones re-created. The
companion plugin's options (where PhotoSync lives, the store id, the embed secret) are
written through WooCommerce's settings API at the same time, when the plugin is installed.
"""

from __future__ import annotations

import logging

from django.conf import settings

from integrations.errors import IntegrationError, Retryable
from integrations.woocommerce.adapter import WebhookHealth
from photosync.models import Platform, Store
from photosync.services.credentials import store_credentials_get
from photosync.services.stores import store_adapter
from photosync.services.woocommerce.endpoints import woocommerce_delivery_url

log = logging.getLogger(__name__)


def woocommerce_webhooks_ensure(*, store: Store) -> WebhookHealth:
    """Re-activate, re-create or de-duplicate the store's webhooks; return what was done."""
    credentials = store_credentials_get(store=store)
    adapter = store_adapter(store=store)
    health = adapter.webhooks_ensure(  # type: ignore[attr-defined]
        delivery_url=woocommerce_delivery_url(store=store),
        secret=credentials["webhook_secret"],
    )
    if health.changed:
        log.info(
            "store %s webhooks: created %s, re-activated %s, removed duplicates %s",
            store.pk, health.created, health.reactivated, health.removed,
        )
    if not credentials.get("embed_secret"):  # connected by key only: no plugin to set up
        return health
    plugin = adapter.plugin_configure(  # type: ignore[attr-defined]
        {
            "photosync_app_url": settings.PHOTOSYNC_PUBLIC_URL,
            "photosync_store_id": str(store.pk),
            "photosync_embed_secret": credentials["embed_secret"],
        }
    )
    log.debug("store %s companion plugin %s", store.pk, "configured" if plugin else "absent")
    return health


def woocommerce_stores_check() -> dict[int, str]:
    """Check every active WooCommerce store; a failing store never stops the others."""
    results: dict[int, str] = {}
    stores = Store.objects.filter(platform=Platform.WOOCOMMERCE, status=Store.Status.ACTIVE)
    for store in stores.order_by("pk"):
        try:
            health = woocommerce_webhooks_ensure(store=store)
        except Retryable as exc:
            results[store.pk] = f"retry later: {exc.message}"
            continue
        except IntegrationError as exc:
            log.warning("webhook check of store %s failed: %s", store.pk, exc.message)
            results[store.pk] = f"failed: {exc.message}"
            continue
        done = [f"created {t}" for t in health.created]
        done += [f"re-activated {t}" for t in health.reactivated]
        results[store.pk] = ", ".join(done) or "ok"
    return results
