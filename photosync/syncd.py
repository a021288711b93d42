"""The storefront sync daemon's loop: bounded ticks, stopped cleanly between them."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from photosync.services.recovery import work_recover
from photosync.services.scheduling import jobs_dispatch
from photosync.services.sync import stores_reconcile

log = logging.getLogger(__name__)


def tick() -> dict:
    """One bounded pass of the daemon's work."""
    close_old_connections()
    try:
        reconciled = stores_reconcile()
        recovered = work_recover()
        dispatched = jobs_dispatch()
        return {"reconciled": reconciled, "recovered": recovered, "dispatched": dispatched}
    finally:
        close_old_connections()


def run(*, interval: float, stop: threading.Event) -> None:
    """Tick every `interval` seconds until `stop` is set; a tick is never cut in half."""
    while not stop.is_set():
        try:
            result = tick()
            log.debug("syncd tick: %s", result)
        except Exception:  # the daemon outlives any one bad tick
            log.exception("syncd tick failed")
        stop.wait(interval)
