"""Recovery: work that was sent to the broker but evidently lost is sent again, once.

Messages are lost when Redis restarts without its data, when an enqueue failed during a
broker outage, or when a worker process of the in-process broker died holding them. A row is
sent again only when no copy of its message can still be in flight (services.sending): its
send failed (no stamp), the broker lost everything since (the stamp is older than the
broker's epoch), or the actor's whole retry window has passed since the stamp. A copy that is
merely waiting (in a queue, prefetched by a busy worker, delayed for a retry) is never
doubled, so an outage cannot multiply messages.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from photosync.models import GenerationJob, Push, WebhookEvent, WorkerHeartbeat
from photosync.queueing import Queues, Work, generation_work
from photosync.services.scheduling import job_send
from photosync.services.sending import recovery_now, resend_before, row_send

log = logging.getLogger(__name__)

BATCH = 5000  # rows per kind per pass


def work_recover(*, now: datetime | None = None) -> dict[str, int]:
    now = recovery_now(now)
    counts = {"jobs": jobs_recover(now=now), "pushes": pushes_recover(now=now),
              "events": webhook_events_recover(now=now)}
    return counts


def _lost(field: str, before: datetime) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": before})


def jobs_recover(*, now: datetime) -> int:
    """Dispatched jobs whose message is lost, and running ones whose worker died as well:
    sent again through the dispatcher's own send. (While a dead worker's message may still be
    in flight, the broker's redelivery (Redis) is what takes the job over.)"""
    dead_before = now - timedelta(seconds=settings.PHOTOSYNC_WORKER_DEAD_AFTER)
    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=dead_before).values_list("name", flat=True)
    )
    sent = 0
    with transaction.atomic():
        for queue in (Queues.GENERATE_CPU, Queues.GENERATE_GPU):
            before = resend_before(generation_work(queue), now=now)
            lost = (
                GenerationJob.objects.select_for_update()
                .filter(queue=queue, status__in=(GenerationJob.Status.DISPATCHED,
                                                 GenerationJob.Status.RUNNING))
                .filter(_lost("dispatched_at", before))[:BATCH]
            )
            for job in lost:
                if job.status == GenerationJob.Status.RUNNING and job.worker in alive:
                    continue  # its worker holds the message and runs it
                log.warning("re-sending generation job %s (%s, worker %r): its message is lost",
                            job.pk, job.status, job.worker)
                job_send(job=job, now=now)
                sent += 1
    return sent


def pushes_recover(*, now: datetime) -> int:
    """Pushes whose push or poll message is lost: sent again."""
    sent = 0
    plans = (
        ((Push.Status.QUEUED, Push.Status.UPLOADING), Work.PUSH_RUN, ()),
        # A push the store is still processing: poll it again from the first delay.
        ((Push.Status.PROCESSING,), Work.PUSH_POLL, (0,)),
    )
    with transaction.atomic():
        for statuses, work, extra in plans:
            before = resend_before(work, now=now)
            for pk in (
                Push.objects.select_for_update()
                .filter(status__in=statuses).filter(_lost("sent_at", before))
                .values_list("pk", flat=True)[:BATCH]
            ):
                log.warning("re-sending push %s: its message is lost", pk)
                row_send(Push, pk, work, pk, *extra, now=now)
                sent += 1
    return sent


def webhook_events_recover(*, now: datetime | None = None) -> int:
    """Re-send webhook events recorded but never processed whose message is lost (e.g. the
    broker was down when they arrived), and those a drain pass claimed and never finished
    (its claim expired: the worker died; the event's own message ran while it was claimed).
    Processing is idempotent: a product's input hash decides."""
    now = recovery_now(now)
    before = resend_before(Work.WEBHOOK_EVENT_PROCESS, now=now)
    sent = 0
    with transaction.atomic():
        for pk in (
            WebhookEvent.objects.select_for_update()
            .filter(status=WebhookEvent.Status.RECEIVED)
            .filter(_lost("sent_at", before) | Q(claimed_until__lt=now))
            .order_by("received_at").values_list("pk", flat=True)[:BATCH]
        ):
            row_send(WebhookEvent, pk, Work.WEBHOOK_EVENT_PROCESS, pk, now=now)
            sent += 1
        # An expired claim is let go with the re-send (it is not re-sent twice).
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED,
                                    claimed_until__lt=now).update(claimed_by=None,
                                                                  claimed_until=None)
    if sent:
        log.warning("re-sent %s webhook events whose message was lost", sent)
    return sent

