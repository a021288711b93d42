"""The push queue: sending approved images to their store, and polling the ones it is still
processing."""

from __future__ import annotations

from datetime import timedelta

from integrations.errors import Retryable
from photosync.jobs.base import bounded, house_actor, retrying
from photosync.models import Push
from photosync.observability import PUSH_OUTCOMES
from photosync.queueing import Queues, Work
from photosync.services.pushes import push_give_up, push_send, push_status_check


@house_actor(Work.PUSH_RUN, queue=Queues.PUSH, retries=10, time_limit=timedelta(minutes=10))
def push_run(push_id: int) -> None:
    """Send one outbox row to its store (the push boundary, jobs.base.bounded: what cannot
    be retried, or is out of retries, fails the push with a message the merchant can act
    on)."""
    bounded(_push_attempt, push_id=push_id,
            give_up=lambda reason: _push_outcome(push_give_up(push_id=push_id, reason=reason)))


def _push_attempt(*, push_id: int) -> None:
    try:
        _push_outcome(push_send(push_id=push_id))
    except Retryable:
        PUSH_OUTCOMES.labels(platform="", outcome="retry").inc()
        raise


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
