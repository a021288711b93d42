"""Energy and carbon of generation work, kept on each job and each of its outputs.

A job's energy is measured around the whole attempt (fetching the originals, every pipeline
stage, saving the outputs) by `pipeline.energy`, per device with its source (`nvml`, `rapl`
or `estimate`). Every attempt counts: a retried or rerouted job spent energy on each.

Each output gets its image's pipeline share (`pipeline.energy.split_energy`: the scene stage
to the scene outputs, everything else evenly), plus an even share of the rest of the
attempt: fetching and saving, and the images that failed. So an attempt's outputs add up to
the attempt. Grams of CO2e are Wh × the grid intensity when the attempt ended
(`services.carbon`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from photosync.models import GeneratedImage, GenerationJob
from photosync.observability import ENERGY_PER_IMAGE, ENERGY_WH
from photosync.services.carbon import GridIntensity, grid_intensity

log = logging.getLogger(__name__)


@contextmanager
def job_energy(job: GenerationJob) -> Iterator[None]:
    """Measure the block as one attempt of `job`, and record it whatever way the block ends
    (accounting never fails the work: a recording error is logged)."""
    # Lazy: pipeline loads numpy and OpenCV, which only a worker that runs a job needs.
    from pipeline.energy import meter

    span = meter().span(gpu=settings.PHOTOSYNC_DEVICE == "cuda",
                        watts_per_core=settings.PHOTOSYNC_CPU_WATTS_PER_CORE)
    try:
        with span:
            yield
    finally:
        try:
            job_energy_record(job_id=job.pk, energy=span.energy().to_json(),
                              grid=grid_intensity().for_time(timezone.now()))
        except Exception:
            log.exception("could not record the energy of job %s", job.pk)


def job_energy_record(*, job_id: int, energy: dict, grid: GridIntensity) -> None:
    """Add one attempt's energy (`Energy.to_json()`) to the job, split it over the outputs it
    made, and count it in the metrics."""
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().get(pk=job_id)
        images = list(job.images.all())  # this attempt's: a new attempt discards the old
        _images_share(images, energy, grid)
        GeneratedImage.objects.bulk_update(images, ["energy_wh", "co2e_g", "energy"])
        job.energy = _attempts_add(job.energy, energy, grid)
        job.energy_wh = job.energy["wh"]
        job.co2e_g = job.energy["co2e_g"]
        job.grid_g_per_kwh = grid.g_per_kwh
        job.save(update_fields=["energy", "energy_wh", "co2e_g", "grid_g_per_kwh"])
    for device, info in energy["devices"].items():
        ENERGY_WH.labels(device=device, source=info["source"]).inc(info["wh"])
    for image in images:
        ENERGY_PER_IMAGE.labels(queue=job.queue).observe(image.energy_wh)


def energy_label(*, wh: float | None, co2e_g: float | None, sources: list[str]) -> str:
    """`0.00053 Wh · 0.00025 g CO₂e (estimated from CPU time)`: what the review page shows."""
    if wh is None:
        return ""
    how = {"estimate": "estimated from CPU time", "rapl": "measured, RAPL",
           "nvml": "measured, NVML"}
    said = ", ".join(how.get(s, s) for s in sources)
    grams = f" · {_short(co2e_g)} g CO₂e" if co2e_g is not None else ""
    return f"{_short(wh)} Wh{grams}" + (f" ({said})" if said else "")


def _images_share(images: list[GeneratedImage], energy: dict, grid: GridIntensity) -> None:
    """Each image's own pipeline share (`energy["devices"]`, from the runner) plus an even
    part of what the attempt used besides those shares."""
    if not images:
        return
    own = {i.pk: dict((i.energy or {}).get("devices") or {}) for i in images}
    rest = {
        device: max(0.0, info["wh"] - sum((o.get(device) or {}).get("wh", 0.0)
                                          for o in own.values())) / len(images)
        for device, info in energy["devices"].items()
    }
    for image in images:
        devices = {}
        for device, info in energy["devices"].items():
            mine = (own[image.pk].get(device) or {}).get("wh", 0.0)
            devices[device] = {"wh": round(mine + rest[device], 9), "source": info["source"]}
        image.energy_wh = sum(d["wh"] for d in devices.values())
        image.co2e_g = image.energy_wh / 1000 * grid.g_per_kwh
        image.energy = {"devices": devices, "grid": grid.to_json()}


def _attempts_add(total: dict, attempt: dict, grid: GridIntensity) -> dict:
    """The job's running sum over its attempts (devices, stages, Wh, g CO2e)."""
    total = dict(total or {})
    devices = {k: dict(v) for k, v in (total.get("devices") or {}).items()}
    for device, info in attempt["devices"].items():
        kept = devices.setdefault(device, {**info, "wh": 0.0})
        kept["wh"] = round(kept["wh"] + info["wh"], 9)
        kept["source"] = info["source"]
    stages = dict(total.get("stages") or {})
    for stage, wh in attempt["stages"].items():
        stages[stage] = round(stages.get(stage, 0.0) + wh, 9)
    grams = attempt["wh"] / 1000 * grid.g_per_kwh
    total.update(
        wh=round(total.get("wh", 0.0) + attempt["wh"], 9),
        co2e_g=round(total.get("co2e_g", 0.0) + grams, 9),
        cpu_seconds=round(total.get("cpu_seconds", 0.0) + attempt["cpu_seconds"], 4),
        devices=devices, stages=stages, attempts=total.get("attempts", 0) + 1,
        last_attempt_wh=attempt["wh"], grid=grid.to_json(),
    )
    if attempt.get("unmeasured"):
        total["unmeasured"] = attempt["unmeasured"]
    return total


def _short(value: float | None) -> str:
    """Three significant figures, never scientific notation."""
    if not value:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1e-3 else f"{value:.6f}".rstrip("0")
