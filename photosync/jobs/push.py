"""The push queue: sending approved images to their store, and polling the ones it is still
processing."""

from __future__ import annotations

import logging
from datetime import timedelta

from integrations.errors import Retryable
from photosync.jobs.base import house_actor, retry_later, retrying
from photosync.models import Push
from photosync.observability import PUSH_OUTCOMES
from photosync.queueing import Queues, Work
from photosync.services.pushes import push_fail_unexpectedly, push_send, push_status_check

log = logging.getLogger(__name__)


@house_actor(Work.PUSH_RUN, queue=Queues.PUSH, retries=10, time_limit=timedelta(minutes=10))
def push_run(push_id: int) -> None:
    """Send one outbox row to its store (the push boundary: an unexpected error fails the
    push with a message the merchant can act on)."""
    try:
        _push_outcome(push_send(push_id=push_id))
    except Retryable as exc:
        PUSH_OUTCOMES.labels(platform="", outcome="retry").inc()
        raise retry_later(exc) from exc
    except Exception:
        log.exception("push %s failed", push_id)
        _push_outcome(push_fail_unexpectedly(push_id=push_id))


@house_actor(Work.PUSH_POLL, queue=Queues.PUSH, retries=3, time_limit=timedelta(minutes=2))
def push_poll(push_id: int, attempt: int = 0) -> None:
    """Ask the store whether a push it is still processing went live; re-queues itself with
    a bounded backoff until it did, failed, or ran out of attempts."""
    push = retrying(push_status_check, push_id=push_id, attempt=attempt)
    if push is not None and push.status != Push.Status.PROCESSING:
        _push_outcome(push)


def _push_outcome(push: Push | None) -> None:
    if push is not None:
        platform = getattr(push.store, "platform", "") if push.store_id else ""
        PUSH_OUTCOMES.labels(platform=platform, outcome=push.status).inc()
