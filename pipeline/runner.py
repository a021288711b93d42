"""The runner: bytes and a config in, every output with its metrics out.

load → segment → enhance → frame → shadow → composite → fidelity → encode for the framed output,
then scene → shadow → composite → fidelity → encode for every scene variation. Each stage is a
pure function from ``pipeline.stages`` or a backend from ``pipeline.backends``; the runner only
orders them, times them and collects notes and flags.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from pipeline.backends import get_scene_generator, get_segmenter
from pipeline.backends.base import Segmentation
from pipeline.config import PipelineConfig
from pipeline.errors import BackendUnavailable, DeviceUnavailable, NoProductFound
from pipeline.presets import (
    CUSTOM_SCENE,
    FramePreset,
    ScenePreset,
    custom_scene,
    frame_preset,
    scene_preset,
)
from pipeline.stages.composite import composite, solid_canvas
from pipeline.stages.cutout import decontaminate
from pipeline.stages.encode import encode, encode_mask
from pipeline.stages.enhance import EnhanceReport, enhance
from pipeline.stages.fidelity import (
    mask_flags,
    mask_metrics,
    output_flags,
    product_fidelity,
    white_background_metrics,
)
from pipeline.stages.frame import ALPHA_THRESHOLD, Layer, crop_product, frame_layer, place
from pipeline.stages.load import load_image
from pipeline.stages.shadow import make_shadow

STAGES = ("load", "segment", "enhance", "frame", "shadow", "scene", "composite", "fidelity",
          "encode")
SCENE_CANVAS = (2048, 2048)  # scenes for a trimmed (transparent) frame preset
AUTO_UNIFORMITY = 0.9  # share of near-median border pixels above which "auto" uses classical


@dataclass
class Output:
    """One encoded image and everything known about it."""

    kind: str  # "framed" | "scene"
    preset: str  # frame preset name (framed) or scene preset name (scene; "custom" for a prompt)
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    metrics: dict
    flags: list[str]
    seed: int | None
    generator: str


@dataclass
class PipelineResult:
    """All outputs of one source image; nothing partial is ever returned."""

    outputs: list[Output]
    mask_png: bytes  # L-mode PNG at the (upright) source size
    timings: dict[str, float]
    notes: list[str]
    segmenter: str
    source_size: tuple[int, int] = (0, 0)
    flags: list[str] = field(default_factory=list)  # image-level flags (mask sanity)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] += time.perf_counter() - start


def process_image(data: bytes, config: PipelineConfig) -> PipelineResult:
    """Run the whole pipeline on one image.

    Raises :class:`~pipeline.errors.InputError` for unusable input,
    :class:`~pipeline.errors.BackendUnavailable` / :class:`~pipeline.errors.ConfigError` for a
    host or settings problem, :class:`~pipeline.errors.GenerationError` when scene generation
    fails. Returns only complete results.
    """
    deadline = time.monotonic() + config.deadline_s if config.deadline_s else None
    timings = dict.fromkeys(STAGES, 0.0)
    notes: list[str] = []

    with _timed(timings, "load"):
        loaded = load_image(data, max_bytes=config.max_input_bytes, max_pixels=config.max_pixels)
    notes.extend(loaded.notes)
    rgb = np.ascontiguousarray(loaded.rgba[..., :3])

    with _timed(timings, "segment"):
        segmentation, used = _segment(loaded.rgba, loaded.has_alpha, config, notes)
        alpha = segmentation.alpha
        notes.extend(segmentation.notes)
        mask_info = mask_metrics(alpha)
        image_flags = mask_flags(mask_info)
        if any(n.startswith("classical: ") for n in segmentation.notes):
            image_flags.append("The background could not be separated with confidence.")
    if not (alpha > ALPHA_THRESHOLD).any():
        raise NoProductFound(
            "No product could be found in the photo: the whole image looks like background."
        )

    with _timed(timings, "enhance"):
        if config.enhance:
            enhanced, report = enhance(rgb, alpha, max_delta_e=config.max_enhance_delta_e)
        else:
            enhanced, report = rgb, EnhanceReport(applied=False)
        if used != "input-alpha":  # a delivered cutout's edge colours are already clean
            enhanced = decontaminate(enhanced, alpha)
        cutout = np.dstack([enhanced, alpha])
    base_metrics = {**mask_info, **report.metrics(), "segmenter": used}

    outputs: list[Output] = []
    preset = frame_preset(config.frame_preset)
    with _timed(timings, "frame"):
        layer = frame_layer(cutout, preset)
    outputs.append(
        _framed_output(layer, preset, config, base_metrics, image_flags, timings, used)
    )

    scenes = [scene_preset(name) for name in config.scene_presets]
    if config.custom_prompt:
        scenes.append(custom_scene(config.custom_prompt))
    if scenes:
        generator_options = _generator_options(config)
        generator = get_scene_generator(config.scene_generator, **generator_options)
        canvas = (
            (preset.width, preset.height) if preset.width and preset.height else SCENE_CANVAS
        )
        with _timed(timings, "frame"):
            product = crop_product(cutout)
        for scene in scenes:
            outputs.extend(
                _scene_outputs(product, canvas, scene, generator, config, base_metrics,
                               image_flags, timings, deadline)
            )

    with _timed(timings, "encode"):
        mask_png = encode_mask(alpha)
    return PipelineResult(
        outputs=outputs,
        mask_png=mask_png,
        timings={k: round(v, 6) for k, v in timings.items()},
        notes=notes,
        segmenter=used,
        source_size=loaded.size,
        flags=image_flags,
    )


def require_cuda() -> None:
    """Raise DeviceUnavailable unless torch or onnxruntime can use a CUDA device."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            return
    elif importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            return
    raise DeviceUnavailable(
        "device=cuda was configured but no usable CUDA GPU was found; refusing to fall back "
        "to the CPU. Set device=cpu explicitly to run models on the CPU."
    )


def prepare(config: PipelineConfig) -> list[str]:
    """Load the backends ``config`` names, once per process (worker boot).

    Raises :class:`~pipeline.errors.BackendUnavailable` (missing model, package or device) or
    :class:`~pipeline.errors.ConfigError` now rather than on the first job, so a GPU worker whose
    GPU or model is missing refuses to start. ``auto`` tries its model and records a fallback.
    Returns notes (e.g. that ``auto`` will fall back to classical).
    """
    notes: list[str] = []
    if config.device == "cuda":
        require_cuda()
    options = {"alpha_matting": config.alpha_matting}
    if config.segmenter == "auto":
        try:
            get_segmenter(f"rembg:{config.auto_model}", device=config.device, **options)
        except BackendUnavailable as exc:
            notes.append(f"auto segmenter will fall back to classical: {exc.message}")
        get_segmenter("classical", **options)
    elif config.segmenter == "classical":
        get_segmenter("classical", **options)
    else:
        get_segmenter(config.segmenter, device=config.device, **options)
    if config.scene_presets or config.custom_prompt:
        get_scene_generator(config.scene_generator, **_generator_options(config))
    return notes


def _segment(rgba: np.ndarray, has_alpha: bool, config: PipelineConfig,
             notes: list[str]) -> tuple[Segmentation, str]:
    """Pick and run the segmenter; returns the segmentation and the name actually used."""
    alpha = rgba[..., 3]
    if has_alpha and (alpha <= ALPHA_THRESHOLD).mean() > 0.01:
        notes.append("the image already had a transparent background; its alpha was used")
        return Segmentation(alpha=alpha.copy()), "input-alpha"
    rgb = np.ascontiguousarray(rgba[..., :3])
    options = {"alpha_matting": config.alpha_matting}
    name = config.segmenter
    if name == "auto":
        from pipeline.backends.classical import border_uniformity

        uniformity = border_uniformity(rgb)
        if uniformity >= AUTO_UNIFORMITY:
            name = "classical"
        else:
            name = f"rembg:{config.auto_model}"
            try:
                segmenter = get_segmenter(name, device=config.device, **options)
            except BackendUnavailable as exc:
                notes.append(f"auto segmenter fell back to classical: {exc.message}")
                name = "classical"
    if name == "classical":
        return get_segmenter("classical", **options).segment(rgb), "classical"
    segmenter = get_segmenter(name, device=config.device, **options)
    return segmenter.segment(rgb), segmenter.name


def _generator_options(config: PipelineConfig) -> dict:
    if config.scene_generator == "procedural":
        return {}
    return {
        "device": config.device,
        "dtype": config.dtype,
        "scheduler": config.scheduler,
        "lora": config.lora,
        "lora_scale": config.lora_scale,
    }


def _framed_output(layer: Layer, preset: FramePreset, config: PipelineConfig,
                   base_metrics: dict, image_flags: list[str], timings: dict[str, float],
                   used: str) -> Output:
    shadow_kind = "none" if preset.transparent else config.shadow
    with _timed(timings, "shadow"):
        shadow = make_shadow(layer, shadow_kind)
    with _timed(timings, "composite"):
        image = composite(solid_canvas(layer.canvas, preset.background), layer, shadow)
    white = preset.background == (255, 255, 255)
    with _timed(timings, "fidelity"):
        metrics = {**base_metrics, **product_fidelity(image, layer),
                   "product_scale": round(layer.scale, 4), "shadow": shadow_kind}
        if white:
            metrics.update(white_background_metrics(image, layer, shadow))
        flags = [*image_flags, *output_flags(
            metrics, white=white, marketplace=preset.marketplace, fill_target=preset.fill,
            max_delta_e=config.max_enhance_delta_e)]
    with _timed(timings, "encode"):
        encoded = encode(image, config.output_format, jpeg_quality=config.jpeg_quality,
                         webp_quality=config.webp_quality)
    metrics["format"] = encoded.format
    return Output("framed", preset.name, encoded.data, encoded.content_type, encoded.extension,
                  image.shape[1], image.shape[0], metrics, flags, None, used)


def scene_layer(product: np.ndarray, canvas: tuple[int, int], scene: ScenePreset) -> Layer:
    """Where the product stands in a scene: centred, its base on the preset's floor line."""
    width, height = canvas
    return place(product, canvas=canvas,
                 box=(width * min(0.8, scene.product_fill * 1.25), height * scene.product_fill),
                 base=(width / 2, height * scene.floor_y))


def _scene_outputs(product: np.ndarray, canvas: tuple[int, int], scene: ScenePreset,
                   generator, config: PipelineConfig, base_metrics: dict,
                   image_flags: list[str], timings: dict[str, float],
                   deadline: float | None) -> list[Output]:
    with _timed(timings, "frame"):
        layer = scene_layer(product, canvas, scene)
    seeds = [config.seed + i for i in range(config.variations)]
    with _timed(timings, "scene"):
        backgrounds = generator.generate(product=layer, preset=scene, seeds=seeds,
                                         deadline=deadline, config=config)
    with _timed(timings, "shadow"):
        shadow = make_shadow(layer, config.shadow, colour=scene.backdrop.shadow_colour)
    outputs = []
    for seed, background in zip(seeds, backgrounds, strict=True):
        with _timed(timings, "composite"):
            image = composite(background, layer, shadow)
        with _timed(timings, "fidelity"):
            metrics = {**base_metrics, **product_fidelity(image, layer),
                       "product_scale": round(layer.scale, 4), "shadow": config.shadow}
            flags = [*image_flags, *output_flags(
                metrics, white=False, marketplace=False, fill_target=None,
                max_delta_e=config.max_enhance_delta_e)]
        with _timed(timings, "encode"):
            encoded = encode(image, config.output_format, jpeg_quality=config.jpeg_quality,
                             webp_quality=config.webp_quality)
        metrics["format"] = encoded.format
        metrics["prompt"] = scene.prompt if scene.name == CUSTOM_SCENE else None
        outputs.append(Output("scene", scene.name, encoded.data, encoded.content_type,
                              encoded.extension, image.shape[1], image.shape[0], metrics, flags,
                              seed, generator.name))
    return outputs
