"""The pipeline's presets as the web sees them: the choices to offer, and whether a name is
one. Views and serializers ask here (through services.store_settings); they never import
`pipeline` themselves."""

from __future__ import annotations

from types import ModuleType


def frame_preset_problem(name: str) -> str:
    """Why `name` is not a frame preset (a named one or `custom:<W>x<H>:<fill>[:<bg>]`);
    empty when it is one."""
    presets, errors = _pipeline()
    if name in presets.FRAME_PRESETS:
        return ""
    try:
        presets.frame_preset(name)
    except errors.ConfigError as exc:
        return str(exc)
    return ""


def scene_presets_unknown(names: list[str]) -> list[str]:
    """The names in `names` that are not scene presets."""
    presets, _ = _pipeline()
    return [name for name in names if name not in presets.SCENE_PRESETS]


def scene_preset_names() -> list[str]:
    presets, _ = _pipeline()
    return sorted(presets.SCENE_PRESETS)


def preset_choices() -> dict:
    """What the settings page offers: frame preset names, scene presets with their titles."""
    presets, _ = _pipeline()
    return {
        "frame_preset": list(presets.FRAME_PRESETS),
        "scene_presets": [
            {"name": p.name, "title": p.title} for p in presets.SCENE_PRESETS.values()
        ],
    }


def _pipeline() -> tuple[ModuleType, ModuleType]:
    # Imported on first use: `import pipeline` loads the image stages (numpy, OpenCV), which
    # web and syncd processes need only once a settings page or a regeneration asks.
    from pipeline import errors, presets

    return presets, errors
