"""A client-side model of Shopify's cost-based leaky bucket, per shop, shared by a process's
threads. Pure bookkeeping: no I/O."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_BUCKET = 1000.0  # until the first response reports the shop's real bucket
DEFAULT_RESTORE_RATE = 100.0  # Standard plan; the response says what the shop really has
DEFAULT_QUERY_COST = 50.0  # estimate for a document not sent yet in this process


class CostBudget:
    """A client-side model of one shop's leaky bucket, shared by this process's threads.

    `reserve` takes points before a request is sent (waiting in line when the bucket is short);
    `settle` corrects the model from the response's throttleStatus, which is the truth as of
    that response, minus what other requests of ours still have in flight.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.maximum = DEFAULT_BUCKET
        self.restore_rate = DEFAULT_RESTORE_RATE
        self.available = DEFAULT_BUCKET
        self._at = clock()
        self._in_flight = 0.0
        self._costs: dict[str, float] = {}

    def estimate(self, name: str) -> float:
        with self._lock:
            return self._costs.get(name, DEFAULT_QUERY_COST)

    def available_now(self) -> float:
        """Points the model says the bucket holds now (less what is in flight)."""
        with self._lock:
            self._refill()
            return self.available

    def reserve(self, cost: float) -> float:
        """Take `cost` points; return how long to wait before sending (0 when they are there)."""
        with self._lock:
            self._refill()
            cost = min(cost, self.maximum)
            self.available -= cost
            self._in_flight += cost
            return 0.0 if self.available >= 0 else -self.available / self.restore_rate

    def settle(self, name: str, reserved: float, cost: dict | None) -> None:
        """Account a finished request; `cost` is the response's `extensions.cost` (or None)."""
        with self._lock:
            self._in_flight = max(0.0, self._in_flight - reserved)
            if not cost:
                self._refill()
                self.available += reserved  # nothing was charged that we know of
                return
            requested = cost.get("requestedQueryCost")
            if isinstance(requested, int | float) and requested > 0:
                self._costs[name] = float(requested)
            status = cost.get("throttleStatus") or {}
            if status.get("maximumAvailable"):
                self.maximum = float(status["maximumAvailable"])
            if status.get("restoreRate"):
                self.restore_rate = float(status["restoreRate"])
            if status.get("currentlyAvailable") is not None:
                self._at = self._clock()
                self.available = float(status["currentlyAvailable"]) - self._in_flight

    def _refill(self) -> None:
        now = self._clock()
        self.available = min(self.maximum, self.available + (now - self._at) * self.restore_rate)
        self._at = now


_budgets: dict[str, CostBudget] = {}
_budgets_lock = threading.Lock()


def budget_for(shop: str) -> CostBudget:
    """The process-wide budget of one shop (every client of the shop shares it)."""
    with _budgets_lock:
        return _budgets.setdefault(shop, CostBudget())


def budgets_reset() -> None:
    """Forget every shop's bucket model (tests start each shop afresh)."""
    with _budgets_lock:
        _budgets.clear()
