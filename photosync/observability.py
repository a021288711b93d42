"""Metrics, log context and log redaction.

Metrics come from two places. Counters and histograms recorded in this process (webhook ack
latency, generation stage durations, push outcomes, throttle waits) live in prometheus_client's
registry; set PROMETHEUS_MULTIPROC_DIR to aggregate gunicorn or dramatiq processes on a host.
Facts that span processes and hosts (queue depths, waiting work per store, GPU heartbeat age,
flagged outputs, product latency) are read from the broker and the database at scrape time.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from django.db.models import Count
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from photosync.settings_table import secret_names, setting

WEBHOOK_ACK = Histogram(
    "photosync_webhook_ack_seconds",
    "Time from receiving a webhook to answering it.",
    ["platform"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STAGE_SECONDS = Histogram(
    "photosync_job_stage_seconds",
    "Seconds spent in each pipeline stage, per source image.",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
PUSH_OUTCOMES = Counter(
    "photosync_push_outcomes_total", "Pushes by platform and outcome.", ["platform", "outcome"]
)
FIDELITY_FLAGS = Counter(
    "photosync_fidelity_flags_total", "Generated images flagged for review.", ["kind"]
)
# Exposed as photosync_energy_wh_total; source: nvml, rapl or estimate (docs/operations.md).
ENERGY_WH = Counter(
    "photosync_energy_wh", "Energy used by generation work, in Wh, per device and source.",
    ["device", "source"],
)
ENERGY_PER_IMAGE = Histogram(
    "photosync_energy_wh_per_image",
    "Energy of each generated image (its share of its job), in Wh.",
    ["queue"],
    # 2.9 Wh: the published average for image generation (Luccioni et al. 2024).
    buckets=(0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 2.9, 10, 30),
)


_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "photosync_log", default=None
)


@contextmanager
def log_context(**ids: int | str | None) -> Iterator[None]:
    """Attach ids (store_id, product_id, job_id, push_id, event_id) to every log line."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            setattr(record, key, value)
        return True


class RedactSecrets(logging.Filter):
    """Replace any configured secret (a row of the settings table marked secret) that reaches
    a log line with [redacted]. Of a URL (DATABASE_URL, REDIS_URL) only the password is
    secret: the host stays readable in connection errors."""

    NAMES = secret_names()

    def __init__(self) -> None:
        super().__init__()
        secrets = []
        for name in self.NAMES:
            for part in os.environ.get(name, "").split(","):
                part = part.strip()
                if setting(name).type == "url":
                    try:
                        part = urlsplit(part).password or ""
                    except ValueError:  # not a URL after all: keep all of it out of logs
                        pass
                if len(part) >= 8:
                    secrets.append(part)
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        text = record.exc_text or ""
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
            text = text.replace(secret, "[redacted]")
        record.msg, record.args = message, None
        if record.exc_text:
            record.exc_text = text
        return True


class StateCollector:
    """Gauges read from the broker and the database when Prometheus scrapes."""

    def collect(self):
        # Imported here: settings.LOGGING loads this module (its log filters) before the app
        # registry is ready, so models cannot be imported at the top.
        from photosync.models import GeneratedImage, GenerationJob, Push, WorkerHeartbeat
        from photosync.queueing import Queues, queue_depth

        depth = GaugeMetricFamily(
            "photosync_queue_depth", "Messages waiting in each broker queue.", labels=["queue"]
        )
        for queue in Queues.ALL:
            depth.add_metric([queue], queue_depth(queue))
        yield depth

        waiting = GaugeMetricFamily(
            "photosync_jobs", "Generation jobs not finished, per store and status.",
            labels=["store", "status"],
        )
        open_states = ("queued", "dispatched", "running", "held")
        rows = (
            GenerationJob.objects.filter(status__in=open_states)
            .values("store_id", "status").annotate(n=Count("pk"))
        )
        for row in rows:
            waiting.add_metric([str(row["store_id"]), row["status"]], row["n"])
        yield waiting

        pushes = GaugeMetricFamily("photosync_pushes", "Pushes by status.", labels=["status"])
        for row in Push.objects.values("status").annotate(n=Count("pk")):
            pushes.add_metric([row["status"]], row["n"])
        yield pushes

        flagged = GaugeMetricFamily(
            "photosync_flagged_images", "Generated images waiting with fidelity flags."
        )
        flagged.add_metric(
            [], GeneratedImage.objects.filter(status="ready").exclude(flags=[]).count()
        )
        yield flagged

        now = timezone.now()
        newest = (
            WorkerHeartbeat.objects.filter(kind="gpu").order_by("-last_seen")
            .values_list("last_seen", flat=True).first()
        )
        age = GaugeMetricFamily(
            "photosync_gpu_heartbeat_age_seconds",
            "Seconds since the freshest GPU worker heartbeat (+Inf when none ever).",
        )
        age.add_metric([], (now - newest).total_seconds() if newest else float("inf"))
        yield age

        latency = GaugeMetricFamily(
            "photosync_product_latency_seconds",
            "Product latency (job created to finished) over the last hour.",
            labels=["quantile"],
        )
        for q, value in product_latency_quantiles(since=now - timedelta(hours=1)).items():
            latency.add_metric([q], value)
        yield latency


def product_latency_quantiles(*, since) -> dict[str, float]:
    from photosync.models import GenerationJob  # see StateCollector.collect

    spans = sorted(
        (finished - created).total_seconds()
        for created, finished in GenerationJob.objects.filter(
            finished_at__gte=since, status__in=("succeeded", "partial")
        ).values_list("created_at", "finished_at")
    )
    if not spans:
        return {}
    pick = lambda q: spans[min(len(spans) - 1, int(q * len(spans)))]  # noqa: E731
    return {"0.5": pick(0.5), "0.95": pick(0.95)}


def metrics_text() -> bytes:
    """The whole exposition: this process (or the multiprocess dir) plus scrape-time facts."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(StateCollector())
    return body + generate_latest(state)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.labels(**labels).observe(time.perf_counter() - started)
