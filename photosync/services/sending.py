"""Sending a row's work to the broker with a stamp that recovery can trust.

A row that describes work (a webhook event, a generation job, a push) records when its last
message was sent. Recovery (services.recovery) sends it again only when no copy can still be
in flight: the stamp is older than the actor's whole retry window
(queueing.work_retry_window), older than the broker's epoch (the broker lost its messages),
or absent because the send itself failed, which `enqueue`'s `on_failure` records here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from photosync.queueing import broker_epoch, enqueue, work_retry_window


def row_send(model: type[models.Model], pk: int, work: str, *args: Any,
             field: str = "sent_at", delay_ms: int | None = None,
             now: datetime | None = None) -> datetime:
    """Stamp the row's `field` and send `work` for it; return the stamp. A delayed message is
    stamped with the time it falls due: its window starts then."""
    stamp = (now or timezone.now()) + timedelta(milliseconds=delay_ms or 0)
    model.objects.filter(pk=pk).update(**{field: stamp})
    enqueue(work, *args, delay_ms=delay_ms,
            on_failure=unsent(model, pk, field=field, stamp=stamp))
    return stamp


def unsent(model: type[models.Model], pk: int, *, field: str, stamp: datetime,
           **changes: Any) -> Callable[[], None]:
    """What a failed send does to the row: clear its stamp (and apply `changes`), unless a
    later send has stamped it since."""

    def record() -> None:
        model.objects.filter(pk=pk, **{field: stamp}).update(**{field: None, **changes})

    return record


def recovery_now(now: datetime | None = None) -> datetime:
    """The time a recovery pass stamps its sends with: never before the broker's epoch (read
    first, so that a pass which finds the broker emptied does not take its own sends for
    lost ones)."""
    epoch = broker_epoch()
    return max(now or timezone.now(), epoch)


def resend_before(work: str, *, now: datetime) -> datetime:
    """A row whose last `work` message was stamped before this has no copy left in flight
    (the actor's whole retry window has passed, or the broker lost it): it may be sent
    again."""
    return max(broker_epoch(), now - work_retry_window(work))
