"""The model registry: every model PhotoSync knows, with its licence and how to run it.

Backends (``pipeline.backends``) say *how* a kind of model runs (``rembg:<model>``,
``rembg-file:<path>``, ``diffusers:<hub id>``, ``removebg``); this registry says *which* models
exist: task, source, licence (an SPDX id, or ``LicenseRef-…`` for a licence SPDX does not
list), whether commercial use is allowed, native size, recommended steps and guidance, a VRAM
estimate, the input normalisation of ONNX cutouts, and which tier uses it by default. The rows
live in ``pipeline/models/rows.py``, their shape in ``spec.py``; ``manage.py models`` prints them.

The licence gate: :func:`licence_check` refuses a configuration that names a non-commercial
model unless the operator opted in (``PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS=true``).
A model the registry cannot identify (an operator's own file or folder) passes: its licence is
the operator's to check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipeline.errors import NonCommercialModel
from pipeline.models.rows import MODELS
from pipeline.models.spec import (
    FAMILIES,
    FAMILY_ALIASES,
    TIERS,
    ModelSpec,
    Normalization,
)

__all__ = ["FAMILIES", "MODELS", "ModelSpec", "Normalization", "family", "licence_check",
           "licence_problems", "model", "model_for", "model_for_file", "table", "tier_defaults"]

BY_KEY: dict[str, ModelSpec] = {m.key: m for m in MODELS}
if len(BY_KEY) != len(MODELS):
    raise ValueError("pipeline/models/rows.py lists a model twice")


def model(key: str) -> ModelSpec:
    return BY_KEY[key]


def family(name: str) -> Normalization | None:
    """The normalisation a family name (or an old custom-session alias) stands for."""
    return FAMILIES.get(FAMILY_ALIASES.get(name.lower(), name.lower()))


def model_for_file(path: str) -> ModelSpec | None:
    """The registry model a local ONNX file is, judged by its path (file and folder names)."""
    text = path.lower().replace("_", "-")
    for spec in MODELS:
        if spec.file_pattern and re.search(spec.file_pattern, text):
            return spec
    return None


def model_for(name: str) -> ModelSpec | None:
    """The registry model a backend name selects (``rembg:u2net``, ``removebg``, a bare rembg
    model name as ``auto_model`` takes it, ``diffusers:<hub id or folder>``); None if unknown."""
    kind, colon, arg = name.strip().partition(":")
    if not colon:
        return next((m for m in MODELS if m.source in ("builtin", "api") and m.key == kind),
                    None) or _rembg(kind)
    if kind == "rembg":
        return _rembg(arg)
    if kind == "rembg-file":
        return model_for_file(arg)
    if kind == "diffusers":
        return _hub(arg)
    return None


def _rembg(name: str) -> ModelSpec | None:
    return next((m for m in MODELS if m.source == "rembg" and m.ref == name), None)


def _hub(ref: str) -> ModelSpec | None:
    """A hub id, or a folder that holds one: ``…/models--org--name/…``, ``…/org/name``, or a
    folder named like the repository (``/models/FLUX.1-dev``)."""
    text = ref.lower().rstrip("/")
    parts = text.split("/")
    for spec in MODELS:
        if spec.source != "hub":
            continue
        hub = spec.ref.lower()
        org, _, repo = hub.partition("/")
        if text == hub or f"models--{org}--{repo}" in parts or hub in text or repo in parts:
            return spec
    return None


def licence_problems(named: Mapping[str, Iterable[str]]) -> list[str]:
    """One sentence per non-commercial model in ``named`` (where it was set -> names)."""
    problems = []
    for where, names in named.items():
        for name in names:
            spec = model_for(name) if name else None
            if spec is not None and not spec.commercial:
                problems.append(
                    f"{name} ({spec.name}, set in {where}) is licensed {spec.licence}, which "
                    "does not allow commercial use"
                )
    return problems


def licence_check(named: Mapping[str, Iterable[str]], *, allow: bool) -> None:
    """Raise :class:`~pipeline.errors.NonCommercialModel` naming each non-commercial model in
    ``named`` unless ``allow``."""
    problems = licence_problems(named)
    if problems and not allow:
        raise NonCommercialModel(
            "Refusing to run a non-commercial model: " + "; ".join(problems) + ". Choose a "
            "commercially usable model (`manage.py models` lists them), or set "
            "PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS=true if your use is non-commercial or you "
            "hold a licence from the rights holder."
        )


def tier_defaults(tier: str) -> dict[str, str]:
    """The backend names a tier uses by default: its segmenter, the segmenter fallback chain
    (the tier's fallback models in registry order, then ``classical``) and, where it has one,
    its scene generator."""
    rows = [m for m in MODELS if m.tier == tier]
    if not rows:
        raise ValueError(f"Unknown tier {tier!r}; known: {', '.join(TIERS)}")
    out = {}
    for m in rows:
        if m.role == "segmenter":
            out["segmenter"] = m.backend
        elif m.role == "scenes":
            out["scene_generator"] = m.backend
    chain = [m.backend for m in rows if m.role == "fallback"]
    out["segmenter_fallback"] = ",".join([*chain, "classical"])
    return out


def table() -> list[dict[str, str]]:
    """The registry as strings, one dict per model (``manage.py models``)."""
    rows = []
    for m in MODELS:
        norm = m.normalization
        rows.append({
            "model": m.key,
            "task": m.task,
            "select with": m.backend,
            "source": {"builtin": "built in", "rembg": "rembg", "hub": "Hugging Face hub",
                       "file": f"file: {m.ref}", "api": f"API: {m.ref}"}[m.source],
            "licence": m.licence,
            "commercial": "yes" if m.commercial else "NO",
            "size": f"{m.native_size}²" if m.native_size else "any",
            "steps / guidance": (f"{m.steps} / {m.guidance:g}" if m.steps else ""),
            "VRAM GB": f"{m.vram_gb:g}" if m.vram_gb else "",
            "input": norm.family if norm else "",
            "default in": f"{m.tier} {m.role}".strip(),
        })
    return rows
