"""What a store's settings mean for the pipeline: one place that builds a job's config."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from photosync.models import Store
from photosync.queueing import Queues

# Store settings a merchant may change, with their defaults.
STORE_SETTING_DEFAULTS: dict = {
    "frame_preset": "white-square",
    "shadow": "auto",
    "scene_presets": ["studio-sweep"],
    "variations": 1,
    "custom_prompt": "",
    "output_format": "png",
}


def job_config_for_store(*, store: Store, overrides: dict | None = None) -> dict:
    """A JSON config for one generation job, plus the queue it belongs on.

    A job on the GPU queue is cut out by the GPU tier's segmenter (PHOTOSYNC_GPU_SEGMENTER),
    any other by PHOTOSYNC_SEGMENTER; both fall back along PHOTOSYNC_SEGMENTER_FALLBACK.
    """
    config = {
        **STORE_SETTING_DEFAULTS,
        "segmenter": None,
        "scene_generator": settings.PHOTOSYNC_SCENE_GENERATOR,
        "harmonize": settings.PHOTOSYNC_HARMONIZE,  # a store's own `harmonize` wins
    }
    config.update({k: v for k, v in store.settings.items() if k in config})
    config.update(overrides or {})
    gpu = str(config["scene_generator"]).startswith("diffusers:")
    config["queue"] = Queues.GENERATE_GPU if gpu else Queues.GENERATE_CPU
    if not config["segmenter"]:
        config["segmenter"] = (
            settings.PHOTOSYNC_GPU_SEGMENTER if gpu else settings.PHOTOSYNC_SEGMENTER
        )
    config.setdefault("segmenter_fallback", list(settings.PHOTOSYNC_SEGMENTER_FALLBACK))
    return config


def pipeline_config(config: dict):
    """Translate a job's JSON config into the pipeline's typed config."""
    # Imported here: the pipeline loads numpy and OpenCV; only workers build its config.
    from pipeline import PipelineConfig

    return PipelineConfig(
        segmenter=config["segmenter"],
        # Jobs created before the fallback chain existed have none.
        segmenter_fallback=tuple(config.get("segmenter_fallback", ())),
        segmenter_unavailable=tuple(tuple(x) for x in config.get("segmenter_unavailable", ())),
        second_opinion=settings.PHOTOSYNC_SECOND_OPINION,  # the worker's check, not the store's
        allow_noncommercial=settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS,
        frame_preset=config["frame_preset"],
        shadow=config["shadow"],
        scene_generator=config["scene_generator"],
        scene_presets=tuple(config["scene_presets"]),
        custom_prompt=config.get("custom_prompt") or None,
        variations=int(config["variations"]),
        seed=int(config.get("seed", 0)),
        output_format=config.get("output_format", "png"),
        harmonize=config.get("harmonize", "off"),  # jobs from before harmonisation: off
        max_input_bytes=settings.PHOTOSYNC_MAX_IMAGE_BYTES,
        max_pixels=settings.PHOTOSYNC_MAX_IMAGE_PIXELS,
        png_compression=settings.PHOTOSYNC_PNG_COMPRESSION,
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


def worker_pipeline_config(*, gpu: bool = False):
    """The pipeline config a worker prepares at boot: the deployment's defaults (a GPU
    worker's: the GPU tier's segmenter)."""
    config = {
        **STORE_SETTING_DEFAULTS,
        "segmenter": settings.PHOTOSYNC_GPU_SEGMENTER if gpu else settings.PHOTOSYNC_SEGMENTER,
        "segmenter_fallback": settings.PHOTOSYNC_SEGMENTER_FALLBACK,
        "scene_generator": settings.PHOTOSYNC_SCENE_GENERATOR,
        "harmonize": settings.PHOTOSYNC_HARMONIZE,
    }
    return pipeline_config(config)


def configured_models() -> dict[str, list[str]]:
    """Every model name the deployment's settings configure, by setting."""
    # Imported here: the pipeline loads numpy and OpenCV; only commands that run models ask.
    from pipeline.config import auto_segmenter

    lora = settings.PHOTOSYNC_SCENE_LORA
    return {
        "PHOTOSYNC_SEGMENTER": [settings.PHOTOSYNC_SEGMENTER],
        "PHOTOSYNC_GPU_SEGMENTER": [settings.PHOTOSYNC_GPU_SEGMENTER],
        "PHOTOSYNC_SEGMENTER_FALLBACK": list(settings.PHOTOSYNC_SEGMENTER_FALLBACK),
        "PHOTOSYNC_AUTO_MODEL": [auto_segmenter(settings.PHOTOSYNC_AUTO_MODEL)],
        "PHOTOSYNC_SECOND_OPINION": ([settings.PHOTOSYNC_SECOND_OPINION]
                                     if settings.PHOTOSYNC_SECOND_OPINION else []),
        "PHOTOSYNC_SCENE_GENERATOR": [settings.PHOTOSYNC_SCENE_GENERATOR],
        "PHOTOSYNC_SCENE_LORA": [f"diffusers:{lora}"] if lora else [],
    }


def models_licence_check() -> None:
    """Refuse to start when a setting names a non-commercial model, unless the operator opted
    in (PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS); `serve` and `worker` call it before anything
    runs. Raises ImproperlyConfigured naming each model, its licence and its setting."""
    from pipeline.errors import NonCommercialModel
    from pipeline.models import licence_check

    try:
        licence_check(configured_models(),
                      allow=settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS)
    except NonCommercialModel as exc:
        raise ImproperlyConfigured(exc.message) from None
