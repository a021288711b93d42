"""Worker heartbeats: who is alive, and whether any GPU worker is."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from photosync.models import WorkerHeartbeat


def worker_beat(*, name: str, kind: str, queues: list[str]) -> None:
    WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"kind": kind, "queues": queues, "last_seen": timezone.now()}
    )


def worker_gone(*, name: str) -> None:
    WorkerHeartbeat.objects.filter(name=name).delete()


def worker_alive(*, name: str) -> bool:
    horizon = timezone.now() - timedelta(seconds=settings.PHOTOSYNC_WORKER_DEAD_AFTER)
    return WorkerHeartbeat.objects.filter(name=name, last_seen__gte=horizon).exists()
