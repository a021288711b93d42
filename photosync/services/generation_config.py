"""What a store's settings mean for the pipeline: one place that builds a job's config."""

from __future__ import annotations

from django.conf import settings

from photosync.models import Store
from photosync.queueing import Queues

# Store settings a merchant may change, with their defaults.
STORE_SETTING_DEFAULTS: dict = {
    "frame_preset": "white-square",
    "shadow": "contact",
    "scene_presets": ["studio-sweep"],
    "variations": 1,
    "custom_prompt": "",
    "output_format": "png",
}


def job_config_for_store(*, store: Store, overrides: dict | None = None) -> dict:
    """A JSON config for one generation job, plus the queue it belongs on."""
    config = {
        **STORE_SETTING_DEFAULTS,
        "segmenter": settings.PHOTOSYNC_SEGMENTER,
        "scene_generator": settings.PHOTOSYNC_SCENE_GENERATOR,
    }
    config.update({k: v for k, v in store.settings.items() if k in config})
    config.update(overrides or {})
    config["queue"] = (
        Queues.GENERATE_GPU
        if str(config["scene_generator"]).startswith("diffusers:")
        else Queues.GENERATE_CPU
    )
    return config


def pipeline_config(config: dict):
    """Translate a job's JSON config into the pipeline's typed config."""
    # Imported here: the pipeline loads numpy and OpenCV; only workers build its config.
    from pipeline import PipelineConfig

    return PipelineConfig(
        segmenter=config["segmenter"],
        frame_preset=config["frame_preset"],
        shadow=config["shadow"],
        scene_generator=config["scene_generator"],
        scene_presets=tuple(config["scene_presets"]),
        custom_prompt=config.get("custom_prompt") or None,
        variations=int(config["variations"]),
        seed=int(config.get("seed", 0)),
        output_format=config.get("output_format", "png"),
        max_input_bytes=settings.PHOTOSYNC_MAX_IMAGE_BYTES,
        max_pixels=settings.PHOTOSYNC_MAX_IMAGE_PIXELS,
        # How this worker runs models is the worker's setting, not the store's.
        device=settings.PHOTOSYNC_DEVICE,
        dtype=settings.PHOTOSYNC_DTYPE,
        auto_model=settings.PHOTOSYNC_AUTO_MODEL,
        alpha_matting=settings.PHOTOSYNC_ALPHA_MATTING,
        steps=settings.PHOTOSYNC_SCENE_STEPS,
        guidance=settings.PHOTOSYNC_SCENE_GUIDANCE,
        scheduler=settings.PHOTOSYNC_SCENE_SCHEDULER,
        lora=settings.PHOTOSYNC_SCENE_LORA,
        scene_size=settings.PHOTOSYNC_SCENE_SIZE,
        deadline_s=settings.PHOTOSYNC_SCENE_DEADLINE,
        cpu_watts_per_core=settings.PHOTOSYNC_CPU_WATTS_PER_CORE,
    )


def worker_pipeline_config():
    """The pipeline config a worker prepares at boot: the deployment's defaults."""
    config = {
        **STORE_SETTING_DEFAULTS,
        "segmenter": settings.PHOTOSYNC_SEGMENTER,
        "scene_generator": settings.PHOTOSYNC_SCENE_GENERATOR,
    }
    return pipeline_config(config)
