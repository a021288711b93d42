"""Generation: run the image pipeline for one job and keep every output.

The merchant's originals are copied into our storage before anything else happens. A bad
source image (corrupt, empty, not an image) gets its own readable error; the product's other
images are still processed.
"""

from __future__ import annotations

import ctypes
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.base import RemoteImage
from integrations.errors import IntegrationError, Retryable
from photosync.flags import flags_store
from photosync.models import GeneratedImage, GenerationJob, SourceImage
from photosync.observability import FIDELITY_FLAGS, STAGE_SECONDS, log_context
from photosync.queueing import WORKER_NAME, Queues
from photosync.services.energy import job_energy
from photosync.services.generation_config import pipeline_config
from photosync.services.media import (
    content_hash,
    media_delete,
    media_save,
    media_save_original,
    original_extension,
)
from photosync.services.review import images_auto_approve
from photosync.services.scheduling import HOLD_GPU, job_route_to_cpu
from photosync.services.sources import SUPERSEDED_JOB
from photosync.services.stores import store_adapter
from photosync.services.touchup import TouchUpMaskMissing, touch_up_finish, touch_up_mask
from photosync.services.workers import worker_alive

log = logging.getLogger(__name__)


class GpuStageFailed(Exception):
    """A model stage of a GPU job failed permanently (device, model or memory)."""


_FINISHED = {
    GenerationJob.Status.SUCCEEDED,
    GenerationJob.Status.PARTIAL,
    GenerationJob.Status.FAILED,
    GenerationJob.Status.CANCELLED,
}


def job_start(*, job_id: int) -> GenerationJob | None:
    """Claim a job for this worker; None when another live worker has it or it is done.

    A message may arrive twice (a redelivery after a worker died, or syncd re-sending work
    it presumed lost). A running job is taken over only when its worker has stopped beating.
    """
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in _FINISHED or job.status == GenerationJob.Status.HELD:
            return None
        if job.status == GenerationJob.Status.RUNNING and job.worker and (
            job.worker == WORKER_NAME or worker_alive(name=job.worker)
        ):
            log.info("job %s is already running on %s; dropping the duplicate", job_id, job.worker)
            return None
        job.status = GenerationJob.Status.RUNNING
        job.started_at = timezone.now()
        job.worker = WORKER_NAME
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "worker", "attempts"])
    return job


def job_run(*, job_id: int) -> GenerationJob | None:
    """Process every source image of the job; return the finished job."""
    job = job_start(job_id=job_id)
    if job is None:
        return None
    try:
        with log_context(store_id=job.store_id, product_id=job.product_id, job_id=job.pk), \
                job_energy(job):
            return _job_process(job)
    finally:
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Give the job's freed image buffers back to the OS.

    A job allocates tens of 2048² arrays (12-16 MiB each) from its thread's malloc arena; glibc
    keeps what is freed there for reuse, so each worker thread's arena stays at the size of its
    biggest job and a worker's RSS climbs over a burst (820 MiB for 2 × 2 threads, 200
    products, bench/memory.py). malloc_trim returns the free pages at once; where there is
    no glibc (musl, macOS) there is nothing to do.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _job_process(job: GenerationJob) -> GenerationJob:
    # Imported here: the pipeline loads numpy and OpenCV, which only a worker that runs a job
    # needs (every process imports this module through photosync.jobs).
    from pipeline import InputError, PipelineError, process_image

    # A redelivered job starts clean: drop outputs of an attempt that died half-way.
    _discard_outputs(job)
    store = job.store
    adapter = store_adapter(store=store)
    config = pipeline_config(job.config)
    # A photo removed or changed on the store since the job was queued is not generated.
    sources = list(SourceImage.objects.filter(pk__in=job.config.get("source_ids", []),
                                              superseded_at__isnull=True))
    if not sources and job.config.get("source_ids"):
        job.status, job.error = GenerationJob.Status.CANCELLED, SUPERSEDED_JOB
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        return job
    timings: dict[str, float] = {}
    notes: list[str] = list(job.notes)  # e.g. why it was routed to the CPU path
    failures: list[str] = []
    produced = 0
    # A touch-up that cannot be applied (the merchant erased everything) fails the job, not
    # the photo: the photo is as good as before and can be regenerated or touched up again.
    touch_up = job.reason == GenerationJob.Reason.TOUCH_UP
    for source in sources:
        started = time.perf_counter()
        try:
            data = _source_bytes(adapter, source)
            mask = touch_up_mask(job=job, source=source)
            result = process_image(data, config, mask=mask)
        except InputError as exc:
            if not touch_up:
                _source_failed(source, exc.message)
            failures.append(f"{source.remote_id}: {exc.message}")
            continue
        except Retryable:
            raise
        except PipelineError as exc:
            if job.queue == Queues.GENERATE_GPU:
                raise GpuStageFailed(str(exc)) from exc
            if not touch_up:
                _source_failed(source, str(exc))
            failures.append(f"{source.remote_id}: {exc}")
            continue
        except IntegrationError as exc:
            _source_failed(source, exc.message)
            failures.append(f"{source.remote_id}: {exc.message}")
            continue
        except TouchUpMaskMissing as exc:
            failures.append(f"{source.remote_id}: {exc}")
            continue
        produced += _outputs_save(job, source, result)
        for stage, seconds in result.timings.items():
            timings[stage] = round(timings.get(stage, 0.0) + seconds, 4)
            STAGE_SECONDS.labels(stage=stage).observe(seconds)
        notes.extend(n for n in result.notes if n not in notes)
        timings["total"] = round(timings.get("total", 0.0) + time.perf_counter() - started, 4)
    job.timings = timings
    job.notes = notes
    job.finished_at = timezone.now()
    if failures and produced:
        job.status = GenerationJob.Status.PARTIAL
    elif failures or not produced:
        job.status = GenerationJob.Status.FAILED
    else:
        job.status = GenerationJob.Status.SUCCEEDED
    job.error = _failure_text(failures, len(sources))
    job.save(update_fields=["timings", "notes", "finished_at", "status", "error"])
    if produced:
        images_auto_approve(job=job)
    return job


def job_requeue_after_gpu_failure(*, job_id: int, message: str) -> None:
    """A GPU stage failed for good: take the CPU path or hold, per PHOTOSYNC_GPU_FALLBACK."""
    job = GenerationJob.objects.get(pk=job_id)
    _discard_outputs(job)
    if settings.PHOTOSYNC_GPU_FALLBACK == "cpu":
        job_route_to_cpu(
            job=job,
            reason=f"The GPU stage failed ({message}); generated on the CPU path instead.",
            why=f"the GPU stage failed: {message}",
        )
    else:
        job.status = GenerationJob.Status.HELD
        job.hold_reason = HOLD_GPU
        job.error = f"The GPU stage failed ({message}); waiting for a working GPU worker."
        job.save(update_fields=["status", "hold_reason", "error"])


def job_release(*, job_id: int) -> None:
    """Give a claimed job back (a retryable store error): the retry may run anywhere."""
    GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.RUNNING).update(
        status=GenerationJob.Status.DISPATCHED, worker=""
    )


def job_fail(*, job_id: int, message: str) -> None:
    """Record a failure the job boundary caught, in words a merchant can read."""
    GenerationJob.objects.filter(pk=job_id).exclude(status__in=_FINISHED).update(
        status=GenerationJob.Status.FAILED, error=message, finished_at=timezone.now()
    )


def _source_bytes(adapter, source: SourceImage) -> bytes:
    """The original's bytes: from our copy when we have it, else from the store (then kept)."""
    if source.file:
        with source.file.open("rb") as fh:
            return fh.read()
    data = adapter.fetch_image(
        RemoteImage(remote_id=source.remote_id, src=source.src, version=source.version)
    )
    if not data:
        return data  # the pipeline names an empty file; nothing worth keeping
    name, digest = media_save_original(
        store_id=source.product.store_id, data=data, extension=original_extension(source.remote_id)
    )
    source.file.name = name
    source.content_hash = digest
    source.save(update_fields=["file", "content_hash"])
    return data


def _source_failed(source: SourceImage, message: str) -> None:
    source.status = SourceImage.Status.FAILED
    source.error = message
    source.save(update_fields=["status", "error"])


def _outputs_save(job: GenerationJob, source: SourceImage, result) -> int:
    names = []
    try:
        # The mask every output of this photo was made from: what a touch-up edits.
        mask_name = media_save(folder=f"masks/{job.store_id}", data=result.mask_png,
                               extension=".png")
        names.append(mask_name)
        edit = job.config.get("mask_edit")
        rows = []
        for out in result.outputs:
            name = media_save(
                folder=f"generated/{job.store_id}", data=out.data, extension=out.extension
            )
            names.append(name)
            rows.append(
                GeneratedImage(
                    job=job,
                    product_id=job.product_id,
                    source=source,
                    kind=out.kind,
                    preset=out.preset,
                    generator=out.generator,
                    seed=out.seed,
                    file=name,
                    mask=mask_name,
                    content_type=out.content_type,
                    content_hash=content_hash(out.data),
                    width=out.width,
                    height=out.height,
                    metrics={**out.metrics, "mask_edit": edit} if edit else out.metrics,
                    flags=flags_store(out.flags),
                    alt_text=source.alt or job.product.title,
                    energy={"devices": out.energy},  # completed by services.energy
                )
            )
        for row in rows:
            if row.flags:
                FIDELITY_FLAGS.labels(kind=row.kind).inc()
        with transaction.atomic():
            GeneratedImage.objects.bulk_create(rows)
            source.status = SourceImage.Status.OK
            source.error = ""
            source.save(update_fields=["status", "error"])
            touch_up_finish(job=job, source=source, mask_name=mask_name)
    except BaseException:
        media_delete(names)
        raise
    return len(rows)


def _discard_outputs(job: GenerationJob) -> None:
    stale = list(job.images.values_list("file", flat=True))
    stale += sorted(set(job.images.exclude(mask="").values_list("mask", flat=True)))
    if stale:
        job.images.all().delete()
        media_delete(stale)


def _failure_text(failures: list[str], total: int) -> str:
    if not failures:
        return ""
    head = f"{len(failures)} of {total} images could not be processed"
    return head + ": " + "; ".join(failures)
