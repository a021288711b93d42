"""Backends by name: segmenters and scene generators, created once per process.

``get_segmenter("rembg:u2net")`` and ``get_scene_generator("diffusers:/models/sdxl-inpaint")``
build the backend on first use and return the same object afterwards (sessions and pipelines are
expensive); ``segmenter_for(config)`` and ``scene_generator_for(config)`` do the same for the
names a :class:`~pipeline.config.PipelineConfig` gives, with the settings each backend takes.
Unknown names fail with :class:`~pipeline.errors.UnknownBackend` listing the known ones; a known
backend that cannot run here fails with :class:`~pipeline.errors.BackendUnavailable`. The
model frameworks (rembg/onnxruntime, torch/diffusers) are imported only when a backend that
needs them is created.

Adding a backend is one module and one :class:`BackendSpec` in ``SEGMENTERS`` or
``SCENE_GENERATORS``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.backends.base import SceneGenerator, Segmentation, Segmenter
from pipeline.backends.classical import ClassicalSegmenter
from pipeline.backends.diffusers_scenes import DiffusersSceneGenerator
from pipeline.backends.hosted import HostedSegmenter, breakers_reset
from pipeline.backends.onnx_file import load_file_segmenter
from pipeline.backends.procedural import ProceduralSceneGenerator
from pipeline.backends.rembg_sessions import RembgSegmenter
from pipeline.errors import UnknownBackend

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig


@dataclass(frozen=True)
class BackendSpec:
    """One kind of backend, as settings name it (``name`` or ``name:<argument>``)."""

    name: str  # the part before the colon: "rembg"
    kind: str  # "segmenter" | "scene generator"
    factory: Callable[[str, dict[str, Any]], Any]  # (argument after the colon, options)
    description: str
    argument: str | None = None  # what follows the colon, in words; None: takes no argument
    options: tuple[str, ...] = ()  # PipelineConfig fields the factory takes as options

    @property
    def usage(self) -> str:
        """How to write it: ``rembg:<model>``."""
        return f"{self.name}:<{self.argument}>" if self.argument else self.name

    def accepts(self, argument: str, has_colon: bool) -> bool:
        return bool(argument) if self.argument else not has_colon

    def options_from(self, config: PipelineConfig) -> dict[str, Any]:
        return {option: getattr(config, option) for option in self.options}


def _classical(arg: str, options: dict[str, Any]) -> Segmenter:
    return ClassicalSegmenter(**options)


def _rembg(arg: str, options: dict[str, Any]) -> Segmenter:
    return RembgSegmenter.named(arg, **options)


def _rembg_file(arg: str, options: dict[str, Any]) -> Segmenter:
    return load_file_segmenter(arg, **options)


def _hosted(provider: str) -> Callable[[str, dict[str, Any]], Segmenter]:
    return lambda arg, options: HostedSegmenter(provider)


def _auto(arg: str, options: dict[str, Any]) -> Segmenter:
    # Lazy: auto.py asks this registry for its classical and rembg segmenters (import cycle).
    from pipeline.backends.auto import AutoSegmenter

    return AutoSegmenter(**options)


def _procedural(arg: str, options: dict[str, Any]) -> SceneGenerator:
    return ProceduralSceneGenerator()


def _diffusers(arg: str, options: dict[str, Any]) -> SceneGenerator:
    return DiffusersSceneGenerator(arg, **options)


def _by_name(*specs: BackendSpec) -> dict[str, BackendSpec]:
    return {spec.name: spec for spec in specs}


SEGMENTERS: dict[str, BackendSpec] = _by_name(
    BackendSpec("classical", "segmenter", _classical,
                "border flood fill and GrabCut; no weights, always available",
                options=("alpha_matting",)),
    BackendSpec("rembg", "segmenter", _rembg,
                "a rembg model by name, from rembg's home folder (never downloaded)",
                argument="model", options=("alpha_matting", "device")),
    BackendSpec("rembg-file", "segmenter", _rembg_file,
                "any local ONNX segmentation model ([<family>:]<path>): input size from the "
                "model, pre-processing from its family",
                argument="path to .onnx", options=("alpha_matting", "device")),
    BackendSpec("auto", "segmenter", _auto,
                "classical on a clean backdrop, else the auto_model segmenter (classical "
                "when that model cannot load here)",
                options=("alpha_matting", "device", "auto_model")),
    BackendSpec("removebg", "segmenter", _hosted("removebg"),
                "the remove.bg API (hosted: the photo leaves this host; billed per call)"),
    BackendSpec("photoroom", "segmenter", _hosted("photoroom"),
                "Photoroom's Remove Background API (hosted: the photo leaves this host; "
                "billed per call)"),
)
SCENE_GENERATORS: dict[str, BackendSpec] = _by_name(
    BackendSpec("procedural", "scene generator", _procedural,
                "rendered studio sweeps and surfaces; no weights, deterministic"),
    BackendSpec("diffusers", "scene generator", _diffusers,
                "a diffusers inpainting pipeline from the local Hugging Face cache or a folder",
                argument="hub id or local folder",
                options=("device", "dtype", "scheduler", "lora", "lora_scale")),
)

_cache: dict[tuple, Any] = {}
_lock = threading.RLock()


def get_segmenter(name: str, **options: Any) -> Segmenter:
    """The process-wide segmenter for ``name`` (and options), created on first use."""
    return _get(SEGMENTERS, "segmenter", name, options)


def get_scene_generator(name: str, **options: Any) -> SceneGenerator:
    """The process-wide scene generator for ``name`` (and options), created on first use."""
    return _get(SCENE_GENERATORS, "scene generator", name, options)


def segmenter_for(config: PipelineConfig) -> Segmenter:
    """The segmenter ``config.segmenter`` names, with the settings it takes from ``config``."""
    options = segmenter_spec(config.segmenter).options_from(config)
    return get_segmenter(config.segmenter, **options)


def scene_generator_for(config: PipelineConfig) -> SceneGenerator:
    """The scene generator ``config.scene_generator`` names, with its settings from ``config``."""
    options = scene_generator_spec(config.scene_generator).options_from(config)
    return get_scene_generator(config.scene_generator, **options)


def segmenter_spec(name: str) -> BackendSpec:
    """The spec of segmenter ``name``; :class:`~pipeline.errors.UnknownBackend` if none."""
    return _spec(SEGMENTERS, "segmenter", name)


def scene_generator_spec(name: str) -> BackendSpec:
    """The spec of scene generator ``name``; :class:`~pipeline.errors.UnknownBackend` if none."""
    return _spec(SCENE_GENERATORS, "scene generator", name)


def known_segmenters() -> list[str]:
    return [spec.usage for spec in SEGMENTERS.values()]


def known_scene_generators() -> list[str]:
    return [spec.usage for spec in SCENE_GENERATORS.values()]


def clear_cache() -> None:
    """Forget every created backend and hosted-API breaker (tests; a worker never needs this)."""
    with _lock:
        _cache.clear()
    breakers_reset()


def _spec(registry: dict[str, BackendSpec], what: str, name: str) -> BackendSpec:
    prefix, colon, argument = name.partition(":")
    spec = registry.get(prefix)
    if spec is None or not spec.accepts(argument, bool(colon)):
        known = ", ".join(s.usage for s in registry.values())
        raise UnknownBackend(f"Unknown {what} {name!r}; known: {known}.")
    return spec


def _get(registry: dict[str, BackendSpec], what: str, name: str, options: dict[str, Any]) -> Any:
    spec = _spec(registry, what, name)
    key = (what, name, tuple(sorted(options.items())))
    with _lock:
        backend = _cache.get(key)
        if backend is None:
            backend = spec.factory(name.partition(":")[2], options)
            _cache[key] = backend
        return backend


__all__ = [
    "SCENE_GENERATORS",
    "SEGMENTERS",
    "BackendSpec",
    "SceneGenerator",
    "Segmentation",
    "Segmenter",
    "clear_cache",
    "get_scene_generator",
    "get_segmenter",
    "known_scene_generators",
    "known_segmenters",
    "scene_generator_for",
    "scene_generator_spec",
    "segmenter_for",
    "segmenter_spec",
]
