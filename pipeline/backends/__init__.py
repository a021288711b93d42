"""Backends by name: segmenters and scene generators, created once per process.

``get_segmenter("rembg:u2net")`` and ``get_scene_generator("diffusers:/models/sdxl-inpaint")``
build the backend on first use and return the same object afterwards (sessions and pipelines are
expensive). Unknown names fail with :class:`~pipeline.errors.UnknownBackend` listing the known
ones; a known backend that cannot run here fails with
:class:`~pipeline.errors.BackendUnavailable`. Heavy packages are imported only inside the
factories, so importing this module costs nothing.

Adding a backend is one module and one line in ``SEGMENTERS`` or ``SCENE_GENERATORS``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pipeline.backends.base import Segmentation, Segmenter
from pipeline.errors import UnknownBackend


def _classical(arg: str, options: dict[str, Any]) -> Segmenter:
    from pipeline.backends.classical import ClassicalSegmenter

    return ClassicalSegmenter(alpha_matting=options.get("alpha_matting", False))


def _rembg(arg: str, options: dict[str, Any]) -> Segmenter:
    from pipeline.backends.rembg_sessions import RembgSegmenter

    return RembgSegmenter.named(arg, **options)


def _rembg_file(arg: str, options: dict[str, Any]) -> Segmenter:
    from pipeline.backends.rembg_sessions import RembgSegmenter

    return RembgSegmenter.from_file(arg, **options)


def _procedural(arg: str, options: dict[str, Any]) -> Any:
    from pipeline.backends.procedural import ProceduralSceneGenerator

    return ProceduralSceneGenerator()


def _diffusers(arg: str, options: dict[str, Any]) -> Any:
    from pipeline.backends.diffusers_scenes import DiffusersSceneGenerator

    return DiffusersSceneGenerator(arg, **options)


#: kind -> (factory, takes an argument after the colon, how to write it)
SEGMENTERS: dict[str, tuple[Callable[[str, dict[str, Any]], Segmenter], bool, str]] = {
    "classical": (_classical, False, "classical"),
    "rembg": (_rembg, True, "rembg:<model>"),
    "rembg-file": (_rembg_file, True, "rembg-file:<path to .onnx>"),
}
SCENE_GENERATORS: dict[str, tuple[Callable[[str, dict[str, Any]], Any], bool, str]] = {
    "procedural": (_procedural, False, "procedural"),
    "diffusers": (_diffusers, True, "diffusers:<hub id or local folder>"),
}
#: Segmenter names resolved by the runner rather than a factory.
META_SEGMENTERS = ("auto",)

_cache: dict[tuple, Any] = {}
_lock = threading.RLock()


def get_segmenter(name: str, **options: Any) -> Segmenter:
    """The process-wide segmenter for ``name`` (and options), created on first use."""
    return _get(SEGMENTERS, "segmenter", name, options, extra_names=META_SEGMENTERS)


def get_scene_generator(name: str, **options: Any) -> Any:
    """The process-wide scene generator for ``name`` (and options), created on first use."""
    return _get(SCENE_GENERATORS, "scene generator", name, options)


def known_segmenters() -> list[str]:
    return [spec[2] for spec in SEGMENTERS.values()] + list(META_SEGMENTERS)


def known_scene_generators() -> list[str]:
    return [spec[2] for spec in SCENE_GENERATORS.values()]


def clear_cache() -> None:
    """Forget every created backend (tests; a worker never needs this)."""
    with _lock:
        _cache.clear()


def _get(registry, what: str, name: str, options: dict[str, Any], extra_names=()) -> Any:
    kind, sep, arg = name.partition(":")
    spec = registry.get(kind)
    if spec is None or spec[1] != bool(sep) or (spec[1] and not arg):
        known = [s[2] for s in registry.values()] + list(extra_names)
        raise UnknownBackend(f"Unknown {what} {name!r}; known: {', '.join(known)}.")
    key = (what, name, tuple(sorted(options.items())))
    with _lock:
        backend = _cache.get(key)
        if backend is None:
            backend = spec[0](arg, options)
            _cache[key] = backend
        return backend


__all__ = [
    "SCENE_GENERATORS",
    "SEGMENTERS",
    "Segmentation",
    "Segmenter",
    "clear_cache",
    "get_scene_generator",
    "get_segmenter",
    "known_scene_generators",
    "known_segmenters",
]
