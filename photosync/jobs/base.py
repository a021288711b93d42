"""The house actor: one decorator that names the work, its queue, retries and time limit, and
the one failure boundary the actors that own a row share."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import dramatiq
from dramatiq.middleware import CurrentMessage, TimeLimitExceeded

from integrations.errors import Retryable
from photosync.queueing import Work, get_broker

get_broker()  # actors bind to the broker built from settings, not to Dramatiq's default

log = logging.getLogger(__name__)

# The wait before a retry: the store's own hint (Retry-After, a throttle's restore time)
# within these bounds. The upper bound also bounds every actor's retry window
# (queueing.work_retry_window), which recovery waits out before it sends work again.
RETRY_DELAY = timedelta(seconds=5)  # when the store gives no hint
MAX_RETRY_DELAY = timedelta(minutes=1)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def house_actor(work: str, *, queue: str, retries: int, time_limit: timedelta) -> Callable:
    """Declare the actor that does `work` (a Work name) on `queue`: at most `retries` retries
    of retryable errors (see retry_up_to), each after at most MAX_RETRY_DELAY, and killed
    after `time_limit`. `max_retries` and the backoff bounds are declared too (Dramatiq
    ignores max_retries when retry_when is set): queueing.work_retry_window reads them."""
    if work not in Work.ALL:
        raise ValueError(f"{work!r} is not a queueing.Work name")

    def declare(fn: Callable) -> dramatiq.Actor:
        return dramatiq.actor(
            fn,
            actor_name=work,
            queue_name=queue,
            time_limit=_ms(time_limit),
            max_retries=retries,
            min_backoff=_ms(RETRY_DELAY),
            max_backoff=_ms(MAX_RETRY_DELAY),
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
    """A retry after the store's delay, kept within [0, MAX_RETRY_DELAY] so that no store
    (a large Retry-After) parks work past the window recovery counts on."""
    seconds = float(exc.retry_after or RETRY_DELAY.total_seconds())
    seconds = max(0.0, min(seconds, MAX_RETRY_DELAY.total_seconds()))
    return dramatiq.Retry(exc.message, delay=int(seconds * 1000))


def bounded(service: Callable, /, *, give_up: Callable[[str], object], **kwargs):
    """The failure boundary of an actor that owns a row (a webhook event, a wc-auth request,
    a generation job, a push): whatever happens, the row ends in a state someone can read,
    never one that recovery would re-send for ever.

    - a Retryable error is retried after the store's delay while the actor has retries
      left; on the last attempt `give_up(reason)` records the store's message instead;
    - the time limit, or any error the service did not handle itself, is logged and
      `give_up(reason)` records it.
    """
    try:
        return service(**kwargs)
    except Retryable as exc:
        left = retries_left()
        if left is None or left > 0:
            raise retry_later(exc) from exc
        attempts = attempts_made()
        log.warning("giving up after %s attempts: %s", attempts, exc.message)
        give_up(f"{exc.message.rstrip('.')} (gave up after {attempts} attempts).")
    except TimeLimitExceeded:
        log.error("%s stopped at its time limit", _current_name())
        give_up(f"It took longer than its time limit ({_time_limit_text()}) and was stopped.")
    except Exception:
        log.exception("%s failed", _current_name())
        give_up("It failed unexpectedly; the operator has the details in the logs.")
    return None


def retries_left() -> int | None:
    """How many retries the current message still has (None outside a worker)."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return None
    options = get_broker().get_actor(message.actor_name).options
    return int(options["max_retries"]) - int(message.options.get("retries", 0))


def attempts_made() -> int:
    message = CurrentMessage.get_current_message()
    return 1 + int(message.options.get("retries", 0)) if message is not None else 1


def _current_name() -> str:
    message = CurrentMessage.get_current_message()
    return f"{message.actor_name}{tuple(message.args)!r}" if message is not None else "work"


def _time_limit_text() -> str:
    message = CurrentMessage.get_current_message()
    if message is None:
        return "its limit"
    ms = int(get_broker().get_actor(message.actor_name).options["time_limit"])
    return f"{ms / 60000:g} min"
