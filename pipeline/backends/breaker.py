"""A circuit breaker for the hosted cutout APIs: stop calling a service that is failing.

* **closed**: calls go through; ``failures`` failures in a row open it.
* **open**: calls are refused at once (the fallback chain moves on) until the cool-down has
  passed. A rate limit (429 with ``Retry-After``), an empty account (402) or a rejected key open
  it immediately, for as long as the service said or the cool-down, whichever is longer.
* **half-open**: after the cool-down exactly one call, the probe, goes through; the others are
  still refused while it runs. Its success closes the breaker, its failure opens it again.

One breaker per provider and process, shared by the process's threads: a lock guards the state
and is never held during the call itself, so calls run concurrently (pybreaker, the usual
library, holds its lock for the whole call and would serialise every request). N worker
processes each learn on their own, so up to N × ``failures`` calls fail before all have stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pipeline.errors import ServiceUnavailable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(self, name: str, *, failures: int = 3, cooldown: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.failures = max(1, failures)
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._failed = 0  # consecutive failures
        self._open_until = 0.0
        self._probing = False
        self._state = CLOSED
        self.last_error = ""

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self.clock() >= self._open_until:
                return HALF_OPEN
            return self._state

    def acquire(self) -> None:
        """Let one call through, or raise :class:`~pipeline.errors.ServiceUnavailable`."""
        with self._lock:
            now = self.clock()
            if self._state == OPEN and now >= self._open_until:
                self._state, self._probing = HALF_OPEN, False
            if self._state == OPEN:
                raise ServiceUnavailable(
                    f"{self.name} is paused for {self._open_until - now:.0f} s more after "
                    f"failing: {self.last_error}"
                )
            if self._state == HALF_OPEN:
                if self._probing:
                    raise ServiceUnavailable(
                        f"{self.name} is being probed after a pause; not calling it meanwhile"
                    )
                self._probing = True

    def success(self) -> None:
        with self._lock:
            self._state, self._failed, self._probing = CLOSED, 0, False

    def failure(self, error: str, *, open_for: float | None = None) -> None:
        """Count a failed call; ``open_for`` (seconds) opens the breaker at once."""
        with self._lock:
            self.last_error = error
            self._failed += 1
            if open_for is not None or self._state == HALF_OPEN or self._failed >= self.failures:
                self._state, self._probing = OPEN, False
                self._open_until = self.clock() + max(self.cooldown, open_for or 0.0)
