"""The house actor: one decorator that names the work, its queue, retries and time limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import dramatiq

from integrations.errors import Retryable
from photosync.queueing import Work, get_broker

get_broker()  # actors bind to the broker built from settings, not to Dramatiq's default


def house_actor(work: str, *, queue: str, retries: int, time_limit: timedelta) -> Callable:
    """Declare the actor that does `work` (a Work name) on `queue`: at most `retries` retries
    of retryable errors (see retry_up_to), and killed after `time_limit`."""
    if work not in Work.ALL:
        raise ValueError(f"{work!r} is not a queueing.Work name")

    def declare(fn: Callable) -> dramatiq.Actor:
        return dramatiq.actor(
            fn,
            actor_name=work,
            queue_name=queue,
            time_limit=int(time_limit.total_seconds() * 1000),
            retry_when=retry_up_to(retries),
        )

    return declare


def retry_up_to(limit: int):
    """Dramatiq's retry_when for an actor: retry what may succeed later (we raise
    dramatiq.Retry to carry the store's delay) at most `limit` times; everything else was
    already recorded for the merchant by the actor. (With retry_when set, Dramatiq ignores
    max_retries, so the limit lives here.)"""

    def retry_when(retries: int, exc: BaseException) -> bool:
        return isinstance(exc, Retryable | dramatiq.Retry) and retries < limit

    return retry_when


def retrying(service: Callable, /, **kwargs):
    """Call a service; a Retryable error becomes a Dramatiq retry after the store's delay."""
    try:
        return service(**kwargs)
    except Retryable as exc:
        raise retry_later(exc) from exc


def retry_later(exc: Retryable) -> dramatiq.Retry:
    delay = int((exc.retry_after or 5) * 1000)
    return dramatiq.Retry(exc.message, delay=delay)
