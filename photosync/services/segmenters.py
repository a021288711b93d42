"""The background removers a merchant may choose when regenerating: `classical` and the ones
the operator configured. The web asks here (it never imports `pipeline`); the names and labels
come from the pipeline's model registry, imported on first use.

Offered, in order and without repeats:
- `classical` (no model, always installed);
- `PHOTOSYNC_SEGMENTER`, the CPU path's;
- `PHOTOSYNC_GPU_SEGMENTER`, only where jobs go to GPU workers (a `diffusers:` scene
  generator): elsewhere no worker is set up to run it;
- each link of `PHOTOSYNC_SEGMENTER_FALLBACK` (prefetched on the images that run them).

A chosen segmenter that cannot run falls back along the same chain as any other, and the
output says who removed the background and why.
"""

from __future__ import annotations

from django.conf import settings

CLASSICAL = "classical"


def segmenter_default() -> str:
    """The segmenter a job gets when the merchant chooses none (generation_config's rule)."""
    if _gpu_jobs():
        return settings.PHOTOSYNC_GPU_SEGMENTER
    return settings.PHOTOSYNC_SEGMENTER


def segmenter_names() -> list[str]:
    """Every segmenter a regeneration may ask for, in the order the page offers them."""
    names = [CLASSICAL, settings.PHOTOSYNC_SEGMENTER]
    if _gpu_jobs():
        names.append(settings.PHOTOSYNC_GPU_SEGMENTER)
    names.extend(settings.PHOTOSYNC_SEGMENTER_FALLBACK)
    return [n for n in dict.fromkeys(names) if n]


def segmenter_choices() -> dict:
    """For the Regenerate form: `default` (preselected) and `options` [{name, label}]."""
    return {
        "default": segmenter_default(),
        "options": [{"name": name, "label": _label(name)} for name in segmenter_names()],
    }


def segmenter_problem(name: str) -> str:
    """Why `name` may not be asked for; empty when it may."""
    allowed = segmenter_names()
    if name in allowed:
        return ""
    return (f"segmenter must be one of the background removers this service offers: "
            f"{', '.join(allowed)}; got {name!r}.")


def _gpu_jobs() -> bool:
    return str(settings.PHOTOSYNC_SCENE_GENERATOR).startswith("diffusers:")


def _label(name: str) -> str:
    """What the merchant reads: the registry's name, with what makes it differ."""
    from pipeline.backends.fallback import segmenter_label
    from pipeline.config import auto_segmenter
    from pipeline.models import model_for

    if name == CLASSICAL:
        return "Classical (no model: edges and colours)"
    if name == "auto":
        busy = segmenter_label(auto_segmenter(settings.PHOTOSYNC_AUTO_MODEL))
        return f"Automatic (classical, or {busy} on a busy backdrop)"
    spec = model_for(name)
    label = segmenter_label(name)
    if spec is not None and spec.source == "api":
        return f"{label} (hosted, charged per image)"
    return label if label == name else f"{label} ({name})"
