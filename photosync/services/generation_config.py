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
    )
