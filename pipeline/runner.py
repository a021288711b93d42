"""The runner: bytes and a config in, every output with its metrics out.

load → segment → enhance → frame → shadow → composite → fidelity → encode for the framed output,
then scene → shadow → harmonize (when on) → composite → fidelity → encode for every scene
variation. Each stage is a pure function from ``pipeline.stages`` or a backend from
``pipeline.backends``; the runner only orders them, times them and collects notes and flags.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from pipeline.backends import get_segmenter, scene_generator_for, segmenter_for, segmenter_spec
from pipeline.backends.base import SceneGenerator
from pipeline.backends.fallback import chain
from pipeline.config import PipelineConfig
from pipeline.energy import Energy, EnergySpan, meter, split_energy
from pipeline.errors import DeviceUnavailable, NoProductFound, PipelineError
from pipeline.flags import Flag
from pipeline.presets import (
    CUSTOM_SCENE,
    FramePreset,
    ScenePreset,
    custom_scene,
    frame_preset,
    scene_preset,
)
from pipeline.segmenting import segment
from pipeline.stages import harmonize
from pipeline.stages.composite import composite, solid_canvas
from pipeline.stages.cutout import decontaminate
from pipeline.stages.encode import Encoded, decode_rgb, encode, encode_mask
from pipeline.stages.enhance import EnhanceReport, enhance
from pipeline.stages.fidelity import (
    output_flags,
    product_fidelity,
    white_background_metrics,
)
from pipeline.stages.frame import ALPHA_THRESHOLD, Layer, crop_product, frame_layer, place
from pipeline.stages.load import LoadedImage, load_image
from pipeline.stages.shadow import make_shadow

STAGES = ("load", "segment", "enhance", "frame", "shadow", "scene", "harmonize", "composite",
          "fidelity", "encode")
SCENE_CANVAS = (2048, 2048)  # scenes for a trimmed (transparent) frame preset


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
    flags: list[Flag]  # each a stable code and a sentence (pipeline.flags)
    seed: int | None
    generator: str
    energy: dict = field(default_factory=dict)  # device → {"wh", "source"}: its share


@dataclass
class PipelineResult:
    """All outputs of one source image; nothing partial is ever returned."""

    outputs: list[Output]
    mask_png: bytes  # L-mode PNG at the (upright) source size
    timings: dict[str, float]
    notes: list[str]
    segmenter: str
    source_size: tuple[int, int] = (0, 0)
    flags: list[Flag] = field(default_factory=list)  # image-level flags (mask sanity)
    energy: Energy | None = None  # what this image used, per device and stage


@dataclass
class RunContext:
    """One image on its way through the stages: what every step reads and adds to."""

    config: PipelineConfig
    deadline: float | None = None  # time.monotonic() value scene generation must not pass
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    notes: list[str] = field(default_factory=list)
    image_flags: list[Flag] = field(default_factory=list)  # flags every output carries
    loaded: LoadedImage | None = None
    rgb: np.ndarray | None = None  # (H, W, 3) uint8, contiguous: the loaded image's colour
    segmenter: str = ""  # the backend that produced the mask ("input-alpha" for a cutout)
    alpha: np.ndarray | None = None  # (H, W) uint8 mask at the upright source size
    cutout: np.ndarray | None = None  # (H, W, 4): the enhanced product with its alpha
    base_metrics: dict = field(default_factory=dict)  # metrics every output carries
    energy: EnergySpan | None = None  # the meter's span around this image
    light: float | None = None  # harmonize: linear luminance of the source photo's backdrop
    mask: np.ndarray | None = None  # a merchant's touched-up mask: used instead of segmenting

    @classmethod
    def start(cls, config: PipelineConfig, mask: np.ndarray | None = None) -> RunContext:
        deadline = time.monotonic() + config.deadline_s if config.deadline_s else None
        span = meter().span(gpu=config.device == "cuda", watts_per_core=config.cpu_watts_per_core)
        return cls(config=config, deadline=deadline, energy=span, mask=mask)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the block's wall time to ``stage``, and book its energy there."""
        start = time.perf_counter()
        try:
            with self.energy.stage(stage):
                yield
        finally:
            self.timings[stage] += time.perf_counter() - start


def process_image(data: bytes, config: PipelineConfig, *,
                  mask: np.ndarray | None = None) -> PipelineResult:
    """Run the whole pipeline on one image.

    ``mask`` (a (H, W) uint8 array at the upright source size, e.g. a merchant's touch-up from
    :func:`pipeline.stages.touchup.apply_strokes`) replaces segmentation: every later stage, the
    fidelity check included, runs on it as on a segmenter's mask.

    Raises :class:`~pipeline.errors.InputError` for unusable input,
    :class:`~pipeline.errors.BackendUnavailable` / :class:`~pipeline.errors.ConfigError` for a
    host or settings problem, :class:`~pipeline.errors.GenerationError` when scene generation
    fails. Returns only complete results, each output with its share of the image's energy
    (:func:`~pipeline.energy.split_energy`).
    """
    run = RunContext.start(config, mask)
    with run.energy:
        result = _run_stages(run, data)
    result.energy = run.energy.energy()
    shares = split_energy(result.energy, [output.kind for output in result.outputs])
    for output, share in zip(result.outputs, shares, strict=True):
        output.energy = share
    return result


def _run_stages(run: RunContext, data: bytes) -> PipelineResult:
    config = run.config
    with run.timed("load"):
        run.loaded = load_image(data, max_bytes=config.max_input_bytes,
                                max_pixels=config.max_pixels)
    run.notes.extend(run.loaded.notes)
    run.rgb = np.ascontiguousarray(run.loaded.rgba[..., :3])
    with run.timed("segment"):
        segment(run)
    if not (run.alpha > ALPHA_THRESHOLD).any():
        raise NoProductFound(
            "No product could be found in the photo: the whole image looks like background."
        )
    with run.timed("enhance"):
        _enhance(run)

    preset = frame_preset(config.frame_preset)
    with run.timed("frame"):
        layer = frame_layer(run.cutout, preset)
    outputs = [_framed_output(run, layer, preset)]
    outputs.extend(_all_scene_outputs(run, preset))

    with run.timed("encode"):
        mask_png = encode_mask(run.alpha, config.png_compression)
    return PipelineResult(
        outputs=outputs,
        mask_png=mask_png,
        timings={k: round(v, 6) for k, v in run.timings.items()},
        notes=run.notes,
        segmenter=run.segmenter,
        source_size=run.loaded.size,
        flags=run.image_flags,
    )


def require_cuda() -> None:
    """Raise DeviceUnavailable unless torch or onnxruntime can use a CUDA device."""
    # Lazy: torch / onnxruntime are optional and slow to import; only a cuda config asks.
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
    GPU or model is missing refuses to start. A backend that can run degraded (``auto`` without
    its model, a fallback segmenter that cannot load) says so in the returned notes instead.
    """
    if config.device == "cuda":
        require_cuda()
    notes = segmenter_for(config).preload()
    for name in chain(config)[1:]:  # fallbacks may be missing: the chain then skips them
        try:
            notes.extend(get_segmenter(name, **segmenter_spec(name).options_from(config))
                         .preload())
        except PipelineError as exc:
            notes.append(f"fallback segmenter {name} will be skipped: {exc.message}")
    if config.second_opinion:  # optional like a fallback: without it cutouts go unchecked
        try:
            notes.extend(get_segmenter(config.second_opinion, **segmenter_spec(
                config.second_opinion).options_from(config)).preload())
        except PipelineError as exc:
            notes.append(f"the second opinion {config.second_opinion} will be skipped: "
                         f"{exc.message}")
    if config.scene_presets or config.custom_prompt:
        scene_generator_for(config)
    return notes


def _enhance(run: RunContext) -> None:
    """Colour-correct the product and unmix its edge colours; sets ``run.cutout``."""
    if run.config.enhance:
        enhanced, report = enhance(run.rgb, run.alpha, max_delta_e=run.config.max_enhance_delta_e)
    else:
        enhanced, report = run.rgb, EnhanceReport(applied=False)
    if run.segmenter != "input-alpha":  # a delivered cutout's edge colours are already clean
        enhanced = decontaminate(enhanced, run.alpha)
    run.cutout = np.dstack([enhanced, run.alpha])
    run.base_metrics.update({**report.metrics(), "segmenter": run.segmenter})


def _encode(run: RunContext, image: np.ndarray) -> Encoded:
    with run.timed("encode"):
        return encode(image, run.config.output_format, jpeg_quality=run.config.jpeg_quality,
                      webp_quality=run.config.webp_quality,
                      png_compression=run.config.png_compression)


def _framed_output(run: RunContext, layer: Layer, preset: FramePreset) -> Output:
    config = run.config
    shadow_kind = preset.shadow_for(config.shadow)
    with run.timed("shadow"):
        shadow = make_shadow(layer, shadow_kind)
    with run.timed("composite"):
        image = composite(solid_canvas(layer.canvas, preset.background), layer, shadow)
    white = preset.background == (255, 255, 255)
    with run.timed("fidelity"):
        metrics = {**run.base_metrics, **product_fidelity(image, layer),
                   "product_scale": round(layer.scale, 4), "shadow": shadow_kind}
    encoded = _encode(run, image)
    metrics["format"] = encoded.format
    with run.timed("fidelity"):
        if white:  # purity of the file as written: a lossy format may leave off-white pixels
            metrics.update(white_background_metrics(decode_rgb(encoded.data), layer, shadow))
        flags = [*run.image_flags, *output_flags(
            metrics, white=white, marketplace=preset.marketplace, fill_target=preset.fill)]
    return Output(kind="framed", preset=preset.name, data=encoded.data,
                  content_type=encoded.content_type, extension=encoded.extension,
                  width=image.shape[1], height=image.shape[0], metrics=metrics, flags=flags,
                  seed=None, generator=run.segmenter)


def scene_layer(product: np.ndarray, canvas: tuple[int, int], scene: ScenePreset) -> Layer:
    """Where the product stands in a scene: centred, its base on the preset's floor line."""
    width, height = canvas
    return place(product, canvas=canvas,
                 box=(width * min(0.8, scene.product_fill * 1.25), height * scene.product_fill),
                 base=(width / 2, height * scene.floor_y))


def _all_scene_outputs(run: RunContext, preset: FramePreset) -> list[Output]:
    """Every scene variation the config asks for (none without scene presets or a prompt)."""
    config = run.config
    scenes = [scene_preset(name) for name in config.scene_presets]
    if config.custom_prompt:
        scenes.append(custom_scene(config.custom_prompt))
    if not scenes:
        return []
    generator = scene_generator_for(config)
    canvas = (preset.width, preset.height) if preset.width and preset.height else SCENE_CANVAS
    with run.timed("frame"):
        product = crop_product(run.cutout)
    if config.harmonize == "grade" and run.segmenter != "input-alpha":
        with run.timed("harmonize"):  # the light the product was photographed in
            run.light = harmonize.reference_light(run.rgb, run.alpha)
    outputs: list[Output] = []
    # Scenes that stand the product in the same place share one layer: the Lanczos resize to
    # 2048² is the frame stage's cost, and most presets use the default fill and floor line.
    layers: dict[tuple[float, float], Layer] = {}
    for scene in scenes:
        with run.timed("frame"):
            where = (scene.product_fill, scene.floor_y)
            if where not in layers:
                layers[where] = scene_layer(product, canvas, scene)
        outputs.extend(_scene_outputs(run, layers[where], scene, generator))
    return outputs


def _scene_outputs(run: RunContext, layer: Layer, scene: ScenePreset,
                   generator: SceneGenerator) -> list[Output]:
    """The variations of one scene; ``layer`` is read, never changed (scenes share it)."""
    config = run.config
    seeds = [config.seed + i for i in range(config.variations)]
    scene_shadow = "contact" if config.shadow == "auto" else config.shadow
    with run.timed("scene"):
        backgrounds = generator.generate(product=layer, preset=scene, seeds=seeds,
                                         deadline=run.deadline, config=config)
    with run.timed("shadow"):
        shadow = make_shadow(layer, scene_shadow, colour=scene.backdrop.shadow_colour)
    outputs = []
    for seed, background in zip(seeds, backgrounds, strict=True):
        placed, relit = _harmonized(run, background, layer)
        with run.timed("composite"):
            image = composite(background, placed, shadow)
        with run.timed("fidelity"):
            # Compared with the product as placed (graded, when relit): the pixels must match.
            metrics = {**run.base_metrics, **product_fidelity(image, placed),
                       "product_scale": round(layer.scale, 4), "shadow": scene_shadow,
                       **relit}
            flags = [*run.image_flags, *output_flags(
                metrics, white=False, marketplace=False, fill_target=None)]
            if relit:
                flags.append(harmonize.flag(relit))
        encoded = _encode(run, image)
        metrics["format"] = encoded.format
        metrics["prompt"] = scene.prompt if scene.name == CUSTOM_SCENE else None
        outputs.append(Output(
            kind="scene", preset=scene.name, data=encoded.data,
            content_type=encoded.content_type, extension=encoded.extension,
            width=image.shape[1], height=image.shape[0], metrics=metrics, flags=flags,
            seed=seed, generator=generator.name))
    return outputs


def _harmonized(run: RunContext, background: np.ndarray, layer: Layer) -> tuple[Layer, dict]:
    """The product layer to composite on ``background``, and its relit metrics (none when
    harmonisation is off or the scene's light asks for no visible change)."""
    if run.config.harmonize != "grade":
        return layer, {}
    with run.timed("harmonize"):
        grade = harmonize.estimate(background, layer, run.light)
        if grade.negligible:
            return layer, {}
        return harmonize.apply(layer, grade), harmonize.metrics(layer, grade)
