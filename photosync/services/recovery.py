"""Recovery: work that was sent to the broker but evidently lost is sent again.

Messages are lost when Redis restarts without persistence, when an enqueue failed during a
broker outage, or when a worker died holding them. Every actor is idempotent on its row's
state, so sending twice is safe; sending never is not.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from photosync.models import GenerationJob, Push, WebhookEvent, WorkerHeartbeat
from photosync.queueing import Work, enqueue
from photosync.services.scheduling import job_send

log = logging.getLogger(__name__)


def work_recover() -> dict[str, int]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PHOTOSYNC_REDISPATCH_AFTER)
    dead_before = now - timedelta(seconds=settings.PHOTOSYNC_WORKER_DEAD_AFTER)
    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=dead_before).values_list("name", flat=True)
    )
    counts = {"jobs": 0, "pushes": 0, "events": 0}
    with transaction.atomic():
        lost = list(
            GenerationJob.objects.select_for_update()
            .filter(status=GenerationJob.Status.DISPATCHED, dispatched_at__lt=stale)
        )
        orphaned = [
            job
            for job in GenerationJob.objects.select_for_update().filter(
                status=GenerationJob.Status.RUNNING
            )
            if job.worker not in alive and (job.started_at or now) < dead_before
        ]
        for job in lost + orphaned:
            log.warning("re-sending generation job %s (%s, worker %r)", job.pk, job.status,
                        job.worker)
            job_send(job=job, now=now)
            counts["jobs"] += 1
        for push in Push.objects.select_for_update().filter(
            status__in=(Push.Status.QUEUED, Push.Status.UPLOADING), updated_at__lt=stale
        ):
            push.save(update_fields=["updated_at"])  # restart the clock
            enqueue(Work.PUSH_RUN, push.pk)
            counts["pushes"] += 1
        # A push the store is still processing whose poll message was lost.
        for push in Push.objects.select_for_update().filter(
            status=Push.Status.PROCESSING, updated_at__lt=stale
        ):
            push.save(update_fields=["updated_at"])
            enqueue(Work.PUSH_POLL, push.pk, 0)
            counts["pushes"] += 1
    counts["events"] = webhook_events_recover(now=now)
    return counts


def webhook_events_recover(*, now=None) -> int:
    """Re-enqueue webhook events recorded but never processed (e.g. the broker was down
    when they arrived). Processing is idempotent: a product's input hash decides."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.PHOTOSYNC_RECOVER_EVENTS_AFTER)
    pending = list(
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED, received_at__lt=before)
        .filter(Q(recovered_at__isnull=True) | Q(recovered_at__lt=before))
        .order_by("received_at").values_list("pk", flat=True)[:5000]
    )
    with transaction.atomic():
        for pk in pending:
            enqueue(Work.WEBHOOK_EVENT_PROCESS, pk)
        # Restart their clock so the next pass does not send them again at once.
        WebhookEvent.objects.filter(pk__in=pending).update(recovered_at=now)
    return len(pending)
