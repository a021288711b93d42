"""The storefront sync daemon's loop: bounded ticks, stopped cleanly between them."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from photosync.queueing import WORKER_NAME
from photosync.services.leases import lease_acquire
from photosync.services.recovery import work_recover
from photosync.services.scheduling import jobs_dispatch
from photosync.services.shopify.auth import shopify_stores_refresh
from photosync.services.sync import stores_reconcile
from photosync.services.woocommerce.health import woocommerce_stores_check

log = logging.getLogger(__name__)


def tick() -> dict:
    """One bounded pass of the daemon's work."""
    close_old_connections()
    try:
        reconciled = stores_reconcile()
        recovered = work_recover()
        dispatched = jobs_dispatch()
        result = {"reconciled": reconciled, "recovered": recovered, "dispatched": dispatched}
        health = stores_health()
        if health is not None:
            result["health"] = health
        return result
    finally:
        close_old_connections()


def stores_health() -> dict | None:
    """Every PHOTOSYNC_HEALTH_INTERVAL (across all daemons, by lease): re-activate or
    re-create WooCommerce webhooks, and refresh Shopify access tokens ahead of expiry.
    Shopify subscriptions are declared in shopify.app.toml, which Shopify never deletes."""
    # Never released: the lease's expiry is what spaces the checks out.
    if not lease_acquire(name="health", holder=f"{WORKER_NAME}:health",
                         seconds=settings.PHOTOSYNC_HEALTH_INTERVAL, renew=False):
        return None
    return {"woocommerce": woocommerce_stores_check(), "shopify": shopify_stores_refresh()}


def run(*, interval: float, stop: threading.Event) -> None:
    """Tick every `interval` seconds until `stop` is set; a tick is never cut in half."""
    while not stop.is_set():
        try:
            result = tick()
            log.debug("syncd tick: %s", result)
        except Exception:  # the daemon outlives any one bad tick
            log.exception("syncd tick failed")
        stop.wait(interval)
