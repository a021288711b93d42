"""How long a new product takes right now, for the review queue's delay banner.

A product that arrives now (a webhook, a sync) becomes a generation job on the deployment's
generation queue (the GPU one with a `diffusers:` scene generator). It waits behind:
- every merchant's regeneration waiting there (they go first, by priority);
- its own store's waiting new and updated products;
- for each other store, as many of that store's as its own plus one (the dispatcher serves
  the stores in turn within a priority);
and never behind backfills (they go last) or held jobs. Then it is processed itself.

From the last hour's finished jobs on that queue (the newest RECENT_ROWS of them):
- `processing`: the median time a job runs (started → finished);
- `parallel`: how many ran at once at most (at most the dispatcher's in-flight bound);
- throughput = parallel / processing, in jobs per second; it does not drop when the service
  sat idle part of the hour;
- `latency_p50_s`: the median time from the job's creation (the webhook or sync that made it)
  to its end, what merchants met; shown, not used in the estimate, which already counts the
  wait behind the jobs ahead.

estimate = ahead / throughput + processing. With no finished job in the last hour and jobs
ahead, the oldest of those jobs' wait so far is a lower bound (`at_least`). The banner shows
when the estimate exceeds PHOTOSYNC_DELAY_BANNER_AFTER seconds. For several stores (an
operator) the estimate is the worst of them.

Two queries; the queue API takes it once for its ETag and reuses it for its body.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q, QuerySet
from django.utils import timezone

from photosync.models import GenerationJob, Store
from photosync.queueing import Queues

WINDOW = timedelta(hours=1)
NEW_PRIORITY = 5  # services.products: a new or updated product; regenerations are 0
WAITING = (GenerationJob.Status.QUEUED, GenerationJob.Status.DISPATCHED)
FINISHED = (GenerationJob.Status.SUCCEEDED, GenerationJob.Status.PARTIAL,
            GenerationJob.Status.FAILED)
RECENT_ROWS = 500  # the newest finished jobs read: plenty for a median; bounds each poll


def processing_delay(*, stores: QuerySet[Store], now: datetime | None = None) -> dict:
    """The estimate for a new product of `stores` (the worst of them), with its inputs."""
    now = now or timezone.now()
    queue = _queue()
    ahead, oldest = _ahead(stores=stores, queue=queue)
    recent = _recent(queue=queue, now=now)
    processing = _median([finished - started for _, started, finished in recent])
    latency = _median([finished - created for created, _, finished in recent])
    parallel = min(_most_at_once(recent), _in_flight(queue)) if recent else 0
    per_second = parallel / processing if processing else None
    at_least = False
    if per_second:
        seconds = ahead / per_second + processing
    elif ahead and oldest is not None:
        seconds, at_least = (now - oldest).total_seconds(), True
    else:
        seconds = None
    threshold = settings.PHOTOSYNC_DELAY_BANNER_AFTER
    show = seconds is not None and seconds > threshold
    return {
        "seconds": None if seconds is None else round(seconds),
        "at_least": at_least,
        "show": show,
        "text": delay_text(seconds, at_least=at_least) if show else "",
        "ahead": ahead,
        "per_minute": None if per_second is None else round(per_second * 60, 2),
        "processing_p50_s": None if processing is None else round(processing, 1),
        "latency_p50_s": None if latency is None else round(latency, 1),
        "threshold_s": threshold,
    }


def delay_text(seconds: float, *, at_least: bool = False) -> str:
    """ "New products take about 3 minutes right now." (hours from 90 minutes on)."""
    minutes = max(1, round(seconds / 60))
    if minutes >= 90:
        hours = round(seconds / 3600)
        amount = f"{hours} hour{'s' if hours != 1 else ''}"
    else:
        amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"New products take {'at least' if at_least else 'about'} {amount} right now."


def _queue() -> str:
    gpu = str(settings.PHOTOSYNC_SCENE_GENERATOR).startswith("diffusers:")
    return Queues.GENERATE_GPU if gpu else Queues.GENERATE_CPU


def _in_flight(queue: str) -> int:
    if queue == Queues.GENERATE_GPU:
        return settings.PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT
    return settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT


def _ahead(*, stores: QuerySet[Store], queue: str) -> tuple[int, datetime | None]:
    """Jobs a new product of `stores` waits behind (the worst store), and the oldest of the
    waiting ones' creation time. One query over every store's waiting work."""
    rows = list(
        GenerationJob.objects.filter(queue=queue, status__in=WAITING,
                                     priority__lte=NEW_PRIORITY)
        .annotate(mine=ExpressionWrapper(Q(store__in=stores), output_field=BooleanField()))
        .values("store_id", "mine")
        .annotate(regen=Count("pk", filter=Q(priority__lt=NEW_PRIORITY)),
                  new=Count("pk", filter=Q(priority=NEW_PRIORITY)), since=Min("created_at"))
        .order_by()
    )
    if not rows:
        return 0, None
    regenerations = sum(r["regen"] for r in rows)
    waiting = {r["store_id"]: r["new"] for r in rows}

    def behind(own_store: int | None) -> int:
        own = waiting.get(own_store, 0)
        return regenerations + own + sum(min(n, own + 1) for store, n in waiting.items()
                                         if store != own_store)

    ahead = max([behind(None), *(behind(r["store_id"]) for r in rows if r["mine"])])
    return ahead, min(r["since"] for r in rows)


def _recent(*, queue: str, now: datetime) -> list[tuple[datetime, datetime, datetime]]:
    return list(
        GenerationJob.objects.filter(queue=queue, status__in=FINISHED,
                                     finished_at__gte=now - WINDOW, started_at__isnull=False)
        .order_by("-finished_at").values_list("created_at", "started_at", "finished_at")
        [:RECENT_ROWS]
    )


def _median(spans: list[timedelta]) -> float | None:
    values = sorted(max(0.0, s.total_seconds()) for s in spans)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _most_at_once(recent: list[tuple[datetime, datetime, datetime]]) -> int:
    """The most jobs that ran at the same time (a sweep over starts and ends)."""
    events = sorted([(started, 1) for _, started, _ in recent]
                    + [(finished, -1) for _, _, finished in recent])
    running = most = 0
    for _, step in events:  # at equal times an end (-1) sorts before a start
        running += step
        most = max(most, running)
    return max(1, most)
