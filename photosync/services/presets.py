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


def prompt_guidance(*, scene_generator: str) -> dict:
    """What the configured scene generator does with a merchant's custom prompt, for the
    prompt fields: the pipeline's own keyword table (custom_scene picks the backdrop of the
    scene preset whose words the prompt shares most) and the backdrop used when none match.

    `procedural` (the built-in generator) reads no sentences: only those words count.
    A `diffusers:` model is given the prompt as the scene description; the words still pick
    the backdrop under the product. Jobs that fall back to the CPU path are procedural."""
    presets, _ = _pipeline()

    def picked(prompt: str):  # the scene preset whose backdrop custom_scene chooses
        backdrop = presets.custom_scene(prompt).backdrop
        return next((p for p in presets.SCENE_PRESETS.values() if p.backdrop is backdrop), None)

    fallback = picked("-")
    # Each word under the style it picks on its own (a word two styles share goes to the
    # first: the pipeline keeps the first best match).
    words: dict[str, list[str]] = {}
    for preset in presets.SCENE_PRESETS.values():
        for word in preset.tags:
            chosen = picked(word)
            if chosen is not None and word not in words.get(chosen.name, []):
                words.setdefault(chosen.name, []).append(word)
    keywords = [{"preset": p.name, "title": p.title, "words": words[p.name]}
                for p in presets.SCENE_PRESETS.values() if words.get(p.name)]
    default = fallback.title if fallback else "the first scene style"
    if scene_generator.startswith("diffusers:"):
        model = scene_generator.split(":", 1)[1]
        summary = (f"Your prompt is given to the image model ({model}) as the scene to "
                   "paint around the product. Words below also pick the backdrop and light "
                   f"(none of them: {default}). If no GPU worker is free, the built-in "
                   "generator makes the scene instead and only these words count.")
    else:
        summary = ("The built-in generator does not read sentences: it picks one backdrop "
                   "by the words below that your prompt contains (the style with most "
                   f"matches wins, ties go to the first; none of them: {default}). Other "
                   "words are kept as the image's description but change nothing in the "
                   "picture.")
    return {"generator": "diffusers" if scene_generator.startswith("diffusers:")
            else "procedural", "summary": summary, "keywords": keywords,
            "default": fallback.name if fallback else None}
