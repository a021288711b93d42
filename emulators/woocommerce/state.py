"""The store's data as WordPress holds it, shared by the emulator's parts: products and
attachments (posts with one id sequence), API keys, webhooks, and the records tests read
(API requests, deliveries, wc-auth callbacks, sideloads)."""

from __future__ import annotations

import math
import queue
import threading
import time
from datetime import UTC, datetime


class StoreState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = 100  # WordPress posts (products, variations, attachments) share ids
        self._key_ids = 0
        self._hook_ids = 0
        self._delivery_ids = 0
        self.products: dict[int, dict] = {}
        self.attachments: dict[int, dict] = {}
        self.keys: dict[str, dict] = {}
        self.webhooks: dict[int, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, query) of API calls
        self.deliveries: list[dict] = []  # pings and deliveries with their outcome
        self.callbacks: list[dict] = []  # wc-auth callback posts and their answers
        self.sideloads: list[str] = []  # every {src} downloaded
        self._queue: queue.Queue = queue.Queue()  # pings and deliveries waiting to be sent
        self._pending: set[tuple[int, int]] = set()  # (webhook, resource) deliveries queued

    def _new_id(self) -> int:
        self._ids += 1
        return self._ids

    def _touch(self, product: dict) -> None:
        # Second precision as WordPress stores it; never the same second twice per product,
        # so that every change has its own date_modified_gmt in tests.
        product["modified"] = max(math.floor(time.time()), product["modified"] + 1)


def gmt(ts: float) -> str:
    """A `date_*_gmt` field as the REST API writes it."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
