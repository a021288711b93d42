"""The generate-cpu and generate-gpu queues: one generation job per message."""

from __future__ import annotations

import logging
from datetime import timedelta

from integrations.errors import Retryable
from photosync.jobs.base import bounded, house_actor
from photosync.queueing import Queues, Work
from photosync.services.generation import (
    GpuStageFailed,
    job_fail,
    job_release,
    job_requeue_after_gpu_failure,
    job_run,
)
from photosync.services.scheduling import jobs_dispatch

log = logging.getLogger(__name__)

TIME_LIMIT = timedelta(minutes=15)


@house_actor(Work.GENERATION_RUN, queue=Queues.GENERATE_CPU, retries=3, time_limit=TIME_LIMIT)
def generation_run(job_id: int) -> None:
    """Run a generation job on the CPU path (no diffusion model)."""
    _generation(job_id)


@house_actor(Work.GENERATION_RUN_GPU, queue=Queues.GENERATE_GPU, retries=3,
             time_limit=TIME_LIMIT)
def generation_run_gpu(job_id: int) -> None:
    """Run a generation job that needs a model on a GPU worker."""
    _generation(job_id)


def _generation(job_id: int) -> None:
    """The job boundary (jobs.base.bounded): a store error is retried, the job given back
    meanwhile; what cannot be retried, or is out of retries, fails the job with a message a
    merchant can read, so that no job stays dispatched or running with nothing behind it."""
    bounded(_job_attempt, job_id=job_id, give_up=lambda reason: job_fail(
        job_id=job_id, message=f"Image generation stopped. {reason} Use Regenerate to try again."
    ))
    jobs_dispatch()  # a slot is free: hand the broker the next job in fair order


def _job_attempt(*, job_id: int) -> None:
    try:
        job_run(job_id=job_id)
    except Retryable:
        job_release(job_id=job_id)  # the retry may run on any worker
        raise
    except GpuStageFailed as exc:
        log.warning("GPU stage of job %s failed: %s", job_id, exc)
        job_requeue_after_gpu_failure(job_id=job_id, message=str(exc))
