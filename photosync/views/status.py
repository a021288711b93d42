"""Operators' views of the system: Prometheus metrics and a human status page."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from photosync.models import GenerationJob, Push, WorkerHeartbeat
from photosync.observability import metrics_text, product_latency_quantiles
from photosync.queueing import Queues, queue_depth
from photosync.selectors import energy_per_image, webhook_events_failed
from photosync.services.carbon import grid_intensity


@require_GET
def metrics(request):
    """Prometheus metrics: with `PHOTOSYNC_METRICS_TOKEN`, for a scraper that sends it as a
    bearer token; without one, nobody's (404) unless the operator made them public
    (`PHOTOSYNC_METRICS_PUBLIC`, for a port only an internal scraper reaches). They list
    per-store job counts and queue depths."""
    token = settings.PHOTOSYNC_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.PHOTOSYNC_METRICS_PUBLIC:
        return HttpResponse("Not Found\n", status=404, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


@require_GET
@staff_member_required(login_url="/login/")
def status(request):
    now = timezone.now()
    dead_after = timedelta(seconds=settings.PHOTOSYNC_WORKER_DEAD_AFTER)
    workers = [
        {"name": w.name, "kind": w.kind, "queues": w.queues,
         "age": (now - w.last_seen).total_seconds(), "alive": now - w.last_seen < dead_after}
        for w in WorkerHeartbeat.objects.order_by("kind", "name")
    ]
    context = {
        "workers": workers,
        "queues": [(q, queue_depth(q)) for q in Queues.ALL],
        "waiting": {
            s: GenerationJob.objects.filter(status=s).count()
            for s in ("queued", "dispatched", "running", "held")
        },
        "latency": {
            {"0.5": "p50", "0.95": "p95"}[q]: value
            for q, value in product_latency_quantiles(since=now - timedelta(hours=1)).items()
        },
        "failed_jobs": GenerationJob.objects.filter(status__in=("failed", "partial"))
        .select_related("product", "store").order_by("-finished_at")[:10],
        "failed_pushes": Push.objects.filter(status="failed")
        .select_related("product", "store").order_by("-updated_at")[:10],
        "energy": energy_per_image(since=now - timedelta(days=7)),
        "grid": _grid(now),
        "failed_events": webhook_events_failed()[:20],
        "failed_events_count": webhook_events_failed().count(),
    }
    return render(request, "photosync/status.html", context)


def _grid(now) -> dict:
    """The intensity in use now and the cleanest forecast hour of the next 24 hours."""
    grid = grid_intensity()
    ahead = [slot for slot in grid.forecast
             if now <= slot.end and slot.start < now + timedelta(hours=24)]
    return {"now": grid.at_time(now), "intensity": grid,
            "cleanest": min(ahead, key=lambda slot: slot.g_per_kwh) if ahead else None}
