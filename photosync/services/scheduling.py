"""Fair scheduling of generation work.

Jobs wait as rows (status `queued`); the dispatcher sends a bounded number to the broker at a
time, so the broker never holds a backlog that would serve stores first-come-first-served:

- best priority first (a merchant's regenerate, then new products, then backfills);
- within a priority, the store that has waited longest since it was last served;
- backfills only inside the store's off-peak window (and, for stores that ask, in its
  cleanest hours: services.clean_grid);
- nothing past a store's monthly generation limit (held, with a reason the merchant sees);
- GPU work only while a GPU worker is alive; otherwise the CPU path or a hold, per setting.

Any process may call `jobs_dispatch`; a lock row serializes them.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from photosync.models import GenerationJob, Lease, Store, WorkerHeartbeat
from photosync.queueing import Queues, enqueue, generation_work
from photosync.selectors import generations_this_month
from photosync.services.clean_grid import backfills_clean_grid
from photosync.services.sending import unsent

log = logging.getLogger(__name__)

IN_FLIGHT = (GenerationJob.Status.DISPATCHED, GenerationJob.Status.RUNNING)
HOLD_LIMIT = "monthly_limit"
HOLD_GPU = "no_gpu"
CPU_PATH = {"segmenter": "classical", "scene_generator": "procedural"}
#: Segmenters that run a local model, which the CPU path skips (a hosted API, auto and
#: classical need no GPU).
LOCAL_MODELS = ("rembg:", "rembg-file:")


def jobs_dispatch(*, now: datetime | None = None) -> int:
    """Send as many queued jobs as the in-flight bounds allow; return how many were sent."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        _serialize("dispatch", now)
        gpu_alive = gpu_worker_alive(now=now)
        _release_holds(now=now, gpu_alive=gpu_alive)
        if not gpu_alive:
            _reroute_gpu_jobs(now=now)
        generated = generations_this_month(now=now)
        offpeak = backfills_clean_grid(now=now, allowed=_stores_in_offpeak(now))
        for queue, limit in _limits().items():
            free = limit - GenerationJob.objects.filter(queue=queue, status__in=IN_FLIGHT).count()
            while free > 0:
                job = _next_job(queue=queue, offpeak=offpeak)
                if job is None:
                    break
                store = job.store
                if generated.get(store.pk, 0) >= store.monthly_generation_limit:
                    _hold(job, HOLD_LIMIT, _limit_message(store))
                    continue
                job_send(job=job, now=now)
                generated[store.pk] = generated.get(store.pk, 0) + 1
                # A strictly increasing stamp keeps round-robin order exact within one pass.
                now = now + timedelta(microseconds=1)
                Store.objects.filter(pk=store.pk).update(last_dispatched_at=now)
                free -= 1
                sent += 1
    return sent


def gpu_worker_alive(*, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    horizon = now - timedelta(seconds=settings.PHOTOSYNC_GPU_DEAD_AFTER)
    return WorkerHeartbeat.objects.filter(kind="gpu", last_seen__gte=horizon).exists()


def job_route_to_cpu(*, job: GenerationJob, reason: str, why: str) -> None:
    """Move a GPU job to the CPU path, noting `reason` on the job: procedural scenes, and for
    the cutout the next segmenter of the job's fallback chain (classical when it has none).
    The GPU segmenter it skips is recorded with `why`, so every output says who removed the
    background instead and why."""
    config = {**job.config, "scene_generator": CPU_PATH["scene_generator"]}
    segmenter = config.get("segmenter") or CPU_PATH["segmenter"]
    if segmenter.startswith(LOCAL_MODELS):
        chain = [n for n in config.get("segmenter_fallback", []) if n != segmenter]
        config["segmenter"] = chain[0] if chain else CPU_PATH["segmenter"]
        config["segmenter_fallback"] = chain[1:]
        config["segmenter_unavailable"] = [*config.get("segmenter_unavailable", []),
                                           [segmenter, why]]
    job.queue = Queues.GENERATE_CPU
    job.config = config
    job.notes = [*job.notes, reason]
    job.status = GenerationJob.Status.QUEUED
    job.hold_reason = ""
    job.save(update_fields=["queue", "config", "notes", "status", "hold_reason"])


def store_limit_set(*, store: Store, limit: int) -> None:
    """Change a store's monthly limit live; held work resumes at the next dispatch."""
    Store.objects.filter(pk=store.pk).update(monthly_generation_limit=limit)
    store.monthly_generation_limit = limit
    transaction.on_commit(lambda: jobs_dispatch())


def job_send(*, job: GenerationJob, now: datetime) -> None:
    """Mark the job dispatched and send it to the work of its queue (also how recovery
    re-sends a job the broker lost). `dispatched_at` is the send stamp recovery reads; a
    send that fails puts the job back in the queue for the next dispatch."""
    job.status = GenerationJob.Status.DISPATCHED
    job.dispatched_at = now
    job.save(update_fields=["status", "dispatched_at"])
    enqueue(generation_work(job.queue), job.pk, on_failure=unsent(
        GenerationJob, job.pk, field="dispatched_at", stamp=now,
        status=GenerationJob.Status.QUEUED,
    ))


def _limits() -> dict[str, int]:
    return {
        Queues.GENERATE_CPU: settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT,
        Queues.GENERATE_GPU: settings.PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT,
    }


def _serialize(name: str, now: datetime) -> None:
    """Hold a row lock for the rest of the transaction (SQLite serializes writers anyway)."""
    lease, _ = Lease.objects.get_or_create(name=name, defaults={"expires_at": now})
    Lease.objects.select_for_update().get(pk=lease.pk)


def _next_job(*, queue: str, offpeak: set[int]) -> GenerationJob | None:
    waiting = GenerationJob.objects.filter(status=GenerationJob.Status.QUEUED, queue=queue).filter(
        ~Q(reason=GenerationJob.Reason.BACKFILL) | Q(store_id__in=offpeak)
    )
    best = waiting.aggregate(p=Min("priority"))["p"]
    if best is None:
        return None
    waiting = waiting.filter(priority=best)
    store = (
        Store.objects.filter(pk__in=waiting.values("store_id"))
        .order_by(F("last_dispatched_at").asc(nulls_first=True), "pk")
        .first()
    )
    return waiting.filter(store=store).select_related("store").order_by("created_at", "pk").first()


def _hold(job: GenerationJob, reason: str, message: str) -> None:
    job.status = GenerationJob.Status.HELD
    job.hold_reason = reason
    job.error = message
    job.save(update_fields=["status", "hold_reason", "error"])


def _limit_message(store: Store) -> str:
    return (
        f"This store has used its {store.monthly_generation_limit} generations for this month. "
        "Raise the limit in Settings, or the work resumes next month."
    )


def _release_holds(*, now: datetime, gpu_alive: bool) -> None:
    """Held jobs whose reason no longer applies go back to the queue."""
    generated = generations_this_month(now=now)
    held = GenerationJob.objects.filter(status=GenerationJob.Status.HELD)
    for store in Store.objects.filter(
        pk__in=held.filter(hold_reason=HOLD_LIMIT).values("store_id")
    ):
        if generated.get(store.pk, 0) < store.monthly_generation_limit:
            held.filter(store=store, hold_reason=HOLD_LIMIT).update(
                status=GenerationJob.Status.QUEUED, hold_reason="", error=""
            )
    if gpu_alive:
        held.filter(hold_reason=HOLD_GPU).update(
            status=GenerationJob.Status.QUEUED, hold_reason="", error=""
        )


def _reroute_gpu_jobs(*, now: datetime) -> None:
    waiting = GenerationJob.objects.filter(
        queue=Queues.GENERATE_GPU, status=GenerationJob.Status.QUEUED
    )
    if not waiting.exists():
        return
    seconds = settings.PHOTOSYNC_GPU_DEAD_AFTER
    if settings.PHOTOSYNC_GPU_FALLBACK == "cpu":
        why = f"no GPU worker was alive for {seconds:g} s"
        reason = (
            f"No GPU worker was alive for {seconds:g} s, so this product was generated on the "
            "CPU path (procedural scenes, the cutout by the segmenter fallback chain)."
        )
        for job in waiting:
            job_route_to_cpu(job=job, reason=reason, why=why)
    else:
        waiting.update(
            status=GenerationJob.Status.HELD,
            hold_reason=HOLD_GPU,
            error=f"Waiting for a GPU worker (none alive for {seconds:g} s).",
        )


def _stores_in_offpeak(now: datetime) -> set[int]:
    """Stores whose backfills may run now: those without a window, or inside theirs."""
    allowed = set()
    for pk, tz, store_settings in Store.objects.values_list("pk", "timezone", "settings"):
        window = (store_settings or {}).get("offpeak")
        if not window or _inside(window, now, tz):
            allowed.add(pk)
    return allowed


def _inside(window: str, now: datetime, tz: str) -> bool:
    """`window` is "HH:MM-HH:MM" in the store's time zone; it may wrap past midnight."""
    try:
        start_s, end_s = window.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        local = now.astimezone(ZoneInfo(tz or "UTC")).time()
    except (ValueError, KeyError):
        log.warning("ignoring malformed off-peak window %r", window)
        return True
    if start <= end:
        return start <= local < end
    return local >= start or local < end
