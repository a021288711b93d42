"""Dramatiq actors: primitive ids in, one service call, retryable errors mapped to a delay.

Every actor names its queue, retry budget and time limit; nothing inherits Dramatiq's default
of 20 retries spread over days. This is the only place a broad `except` lives: it turns an
unexpected error into a message a merchant can read.
"""

from __future__ import annotations

import logging

import dramatiq

from integrations.errors import Retryable
from photosync.queueing import Queues, get_broker

log = logging.getLogger(__name__)
get_broker()  # actors bind to the broker built from settings

MINUTE = 60_000


def _retry_when(retries: int, exc: BaseException) -> bool:
    return isinstance(exc, Retryable) and retries < 5


def _retry_later(exc: Retryable) -> dramatiq.Retry:
    delay = int((exc.retry_after or 5) * 1000)
    return dramatiq.Retry(exc.message, delay=delay)


def _generation(job_id: int) -> None:
    from photosync.services.generation import (
        GpuStageFailed,
        job_fail,
        job_release,
        job_requeue_after_gpu_failure,
        job_run,
    )
    from photosync.services.scheduling import jobs_dispatch

    try:
        job_run(job_id=job_id)
    except Retryable as exc:
        job_release(job_id=job_id)
        raise _retry_later(exc) from exc
    except GpuStageFailed as exc:
        log.warning("GPU stage of job %s failed: %s", job_id, exc)
        job_requeue_after_gpu_failure(job_id=job_id, message=str(exc))
    except Exception:
        log.exception("generation job %s failed", job_id)
        job_fail(
            job_id=job_id,
            message="Image generation failed unexpectedly; the operator has the details. "
            "Use Regenerate to try again.",
        )
    jobs_dispatch()  # a slot is free: hand the broker the next job in fair order


@dramatiq.actor(
    queue_name=Queues.GENERATE_CPU, max_retries=3, time_limit=15 * MINUTE, retry_when=_retry_when
)
def generation_run(job_id: int) -> None:
    """Run a generation job on the CPU path (classical segmenter, procedural scenes)."""
    _generation(job_id)


@dramatiq.actor(
    queue_name=Queues.GENERATE_GPU, max_retries=3, time_limit=15 * MINUTE, retry_when=_retry_when
)
def generation_run_gpu(job_id: int) -> None:
    """Run a generation job that needs a model on a GPU worker."""
    _generation(job_id)


@dramatiq.actor(
    queue_name=Queues.PUSH, max_retries=5, time_limit=10 * MINUTE, retry_when=_retry_when
)
def push_run(push_id: int) -> None:
    from photosync.models import Push
    from photosync.services.pushes import push_failed
    from photosync.services.pushes import push_run as service

    try:
        service(push_id=push_id)
    except Retryable as exc:
        raise _retry_later(exc) from exc
    except Exception:
        log.exception("push %s failed", push_id)
        push = Push.objects.filter(pk=push_id).first()
        if push is not None:
            push_failed(push=push, message="The push failed unexpectedly; use Retry to try again.")


@dramatiq.actor(
    queue_name=Queues.WEBHOOKS, max_retries=5, time_limit=5 * MINUTE, retry_when=_retry_when
)
def product_refresh(store_id: int, remote_id: str) -> None:
    """Re-read one product from its store and queue generation if its inputs are new."""
    from photosync.services.sync import product_refresh as service

    try:
        service(store_id=store_id, remote_id=remote_id)
    except Retryable as exc:
        raise _retry_later(exc) from exc


GENERATION_ACTORS = {Queues.GENERATE_CPU: generation_run, Queues.GENERATE_GPU: generation_run_gpu}
