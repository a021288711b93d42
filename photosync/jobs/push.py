"""The push queue: sending approved images (and edits of them) to their store, and polling
the ones it is still processing.

The services schedule every retry themselves (a busy product, a store that cannot be
reached, a read-back that did not show the write yet), so these actors never use Dramatiq's
retry budget: an outage of any length ends with the push live, not given up. What the
services did not expect (a bug, the time limit) meets the push boundary (jobs.base.bounded),
which fails the push with a message the merchant can act on."""

from __future__ import annotations

from datetime import timedelta

from photosync.jobs.base import bounded, house_actor
from photosync.models import Push
from photosync.observability import PUSH_OUTCOMES
from photosync.queueing import Queues, Work
from photosync.services.pushes import push_give_up, push_send, push_status_check


@house_actor(Work.PUSH_RUN, queue=Queues.PUSH, retries=0, time_limit=timedelta(minutes=10))
def push_run(push_id: int) -> None:
    """Send one outbox row to its store."""
    _push_outcome(bounded(push_send, push_id=push_id, give_up=_give_up(push_id)))


@house_actor(Work.PUSH_POLL, queue=Queues.PUSH, retries=0, time_limit=timedelta(minutes=2))
def push_poll(push_id: int, attempt: int = 0) -> None:
    """Ask the store whether a push it is still processing went live; the service polls
    again with a bounded backoff until it did, failed, or ran out of attempts."""
    push = bounded(push_status_check, push_id=push_id, attempt=attempt,
                   give_up=_give_up(push_id))
    if push is not None and push.status != Push.Status.PROCESSING:
        _push_outcome(push)


def _give_up(push_id: int):
    return lambda reason: _push_outcome(push_give_up(push_id=push_id, reason=reason))


def _push_outcome(push: Push | None) -> None:
    if push is not None:
        platform = getattr(push.store, "platform", "") if push.store_id else ""
        PUSH_OUTCOMES.labels(platform=platform, outcome=push.status).inc()
