"""Frame and scene presets: plain data the store settings refer to by name.

Frame presets decide the canvas (size, background, how much of it the product fills). Scene
presets describe a lifestyle background twice over: as a prompt for model-based generators and as
backdrop parameters for the procedural renderer, so every preset works on every host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.errors import ConfigError

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class FramePreset:
    """A canvas for the framed cutout.

    ``width``/``height`` of ``None`` mean "trim": the canvas is the product's bounding box plus
    ``margin`` (a fraction of the longer side) at the source resolution. ``fill`` is the share of
    the canvas's limiting side that the product's bounding box spans (``None`` keeps the source
    scale, shrinking only to fit). ``background`` of ``None`` is transparent.
    """

    name: str
    width: int | None
    height: int | None
    fill: float | None
    background: RGB | None
    margin: float = 0.0
    marketplace: bool = False
    shadow: str = "contact"  # what shadow "auto" means on this canvas

    def shadow_for(self, asked: str) -> str:
        """The shadow an output on this canvas gets: none when transparent, the preset's own
        for ``auto``, else what was asked."""
        if self.transparent:
            return "none"
        return self.shadow if asked == "auto" else asked

    @property
    def transparent(self) -> bool:
        return self.background is None


FRAME_PRESETS: dict[str, FramePreset] = {
    # A storefront image: a soft contact shadow on white, pure white outside it.
    "white-square": FramePreset("white-square", 2048, 2048, 0.80, (255, 255, 255)),
    "transparent": FramePreset("transparent", None, None, None, None, margin=0.02),
    # Marketplace main images (Amazon: pure white #FFFFFF, product >= 85% of the frame, long
    # side >= 1000 px for zoom; Google Merchant Center recommends >= 1500): no shadow unless
    # one is asked for, 2000 px, fill 0.85.
    "marketplace": FramePreset(
        "marketplace", 2000, 2000, 0.85, (255, 255, 255), marketplace=True, shadow="none"
    ),
}

_CUSTOM = re.compile(r"^custom:(\d{2,5})x(\d{2,5}):([^:]+)(?::(.+))?$")
_NAMED_COLOURS: dict[str, RGB | None] = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "transparent": None,
}


def parse_colour(text: str) -> RGB | None:
    """``white``, ``black``, ``transparent`` (``None``) or ``#RRGGBB``."""
    text = text.strip().lower()
    if text in _NAMED_COLOURS:
        return _NAMED_COLOURS[text]
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
    raise ConfigError(
        f"Unknown colour {text!r}: use white, black, transparent or #RRGGBB."
    )


def frame_preset(name: str) -> FramePreset:
    """Resolve a frame preset name, including ``custom:<W>x<H>:<fill>[:<background>]``.

    ``<fill>`` is a fraction in (0, 1] (e.g. ``0.8``), a percentage (``80%``) or ``native`` (keep
    the source scale). ``<background>`` defaults to white.
    """
    if name in FRAME_PRESETS:
        return FRAME_PRESETS[name]
    match = _CUSTOM.match(name)
    if not match:
        known = ", ".join([*FRAME_PRESETS, "custom:<W>x<H>:<fill>[:<background>]"])
        raise ConfigError(f"Unknown frame preset {name!r}; known presets: {known}.")
    width, height = int(match[1]), int(match[2])
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ConfigError(f"Frame size {width}x{height} is outside 16..8192 pixels per side.")
    fill_text = match[3].strip().lower()
    fill: float | None
    if fill_text == "native":
        fill = None
    else:
        try:
            fill = (
                float(fill_text[:-1]) / 100 if fill_text.endswith("%") else float(fill_text)
            )
        except ValueError:
            raise ConfigError(
                f"Frame fill {match[3]!r} is not a number, a percentage or 'native'."
            ) from None
        if not 0.05 <= fill <= 1.0:
            raise ConfigError(f"Frame fill {fill} must be between 0.05 and 1.0.")
    background = parse_colour(match[4]) if match[4] else (255, 255, 255)
    return FramePreset(name, width, height, fill, background)


@dataclass(frozen=True)
class Backdrop:
    """Parameters of the procedural renderer (see ``pipeline.backends.procedural``).

    Colours are sRGB. ``horizon`` is the height (fraction from the top) where wall meets floor;
    ``curve`` softens that line into a seamless sweep (0 = hard edge). ``light`` is the key light's
    position in canvas fractions, ``light_strength`` how much it brightens, ``vignette`` how much
    the corners darken. ``texture`` names a surface pattern for the floor.
    """

    wall_top: RGB
    wall_bottom: RGB
    floor_near: RGB
    floor_far: RGB
    horizon: float = 0.62
    curve: float = 0.18
    texture: str = "none"  # none | marble | wood | concrete | linen | terrazzo
    texture_strength: float = 0.0
    light: tuple[float, float] = (0.3, 0.15)
    light_strength: float = 0.12
    light_colour: RGB = (255, 250, 240)
    vignette: float = 0.12
    window_light: float = 0.0  # soft diagonal window-bar shadows on the wall
    shadow_colour: RGB = (30, 30, 35)


@dataclass(frozen=True)
class ScenePreset:
    """A lifestyle background: a prompt for models, a backdrop for the procedural renderer.

    ``product_fill`` is the share of the canvas height the product's box may span; the product
    stands on the floor at ``floor_y`` (fraction from the top, where its base touches).
    """

    name: str
    title: str
    prompt: str
    negative_prompt: str
    backdrop: Backdrop
    product_fill: float = 0.56
    floor_y: float = 0.86
    tags: tuple[str, ...] = field(default_factory=tuple)


_NEGATIVE = (
    "text, watermark, logo, people, hands, extra objects, clutter, blurry, low quality, "
    "distorted, deformed product, duplicate product"
)

SCENE_PRESETS: dict[str, ScenePreset] = {
    p.name: p
    for p in (
        ScenePreset(
            "studio-sweep",
            "Studio sweep",
            "professional product photo on a seamless light grey studio sweep, soft diffused "
            "key light from the upper left, gentle floor shadow, high-end catalogue photography",
            _NEGATIVE,
            Backdrop((236, 237, 240), (222, 224, 228), (214, 216, 220), (226, 228, 231),
                     horizon=0.60, curve=0.22, light=(0.28, 0.12), light_strength=0.10,
                     vignette=0.16),
            tags=("studio", "grey", "sweep"),
        ),
        ScenePreset(
            "warm-gradient",
            "Warm gradient",
            "product photo in front of a smooth warm peach to cream gradient backdrop, soft "
            "studio light, minimal, elegant, commercial photography",
            _NEGATIVE,
            Backdrop((250, 222, 200), (246, 236, 222), (238, 214, 192), (244, 226, 206),
                     horizon=0.64, curve=0.30, light=(0.5, 0.05), light_strength=0.14,
                     light_colour=(255, 240, 220), vignette=0.14, shadow_colour=(90, 50, 30)),
            tags=("gradient", "warm", "peach"),
        ),
        ScenePreset(
            "marble-counter",
            "Marble counter",
            "product photo standing on a white marble countertop, bright kitchen wall blurred "
            "behind, soft morning window light, lifestyle photography, shallow depth of field",
            _NEGATIVE,
            Backdrop((232, 230, 226), (218, 214, 208), (242, 241, 239), (226, 225, 223),
                     horizon=0.58, curve=0.0, texture="marble", texture_strength=0.5,
                     light=(0.8, 0.1), light_strength=0.16, window_light=0.10,
                     vignette=0.10),
            tags=("marble", "kitchen", "bright"),
        ),
        ScenePreset(
            "oak-table",
            "Oak table",
            "product photo on a light oak wooden table, warm cream wall blurred in the "
            "background, cosy natural light, lifestyle photography",
            _NEGATIVE,
            Backdrop((240, 232, 218), (226, 214, 196), (196, 158, 116), (176, 134, 94),
                     horizon=0.60, curve=0.0, texture="wood", texture_strength=0.6,
                     light=(0.2, 0.1), light_strength=0.14, light_colour=(255, 236, 205),
                     vignette=0.18, shadow_colour=(60, 35, 15)),
            tags=("wood", "table", "warm"),
        ),
        ScenePreset(
            "concrete-loft",
            "Concrete loft",
            "product photo on a polished concrete floor against a smooth grey concrete wall, "
            "urban loft, soft daylight, modern minimal photography",
            _NEGATIVE,
            Backdrop((196, 196, 194), (176, 176, 174), (160, 160, 158), (182, 182, 180),
                     horizon=0.62, curve=0.05, texture="concrete", texture_strength=0.55,
                     light=(0.7, 0.0), light_strength=0.18, vignette=0.22,
                     window_light=0.06),
            tags=("concrete", "urban", "grey"),
        ),
        ScenePreset(
            "pastel-pop",
            "Pastel pop",
            "product photo on a mint green podium floor against a soft pastel pink wall, "
            "playful colour-block set, even soft light, trendy commercial photography",
            _NEGATIVE,
            Backdrop((246, 208, 214), (240, 196, 204), (186, 226, 208), (200, 234, 218),
                     horizon=0.64, curve=0.08, light=(0.5, 0.1), light_strength=0.10,
                     vignette=0.08, shadow_colour=(60, 90, 80)),
            tags=("pastel", "pink", "mint", "colourful"),
        ),
        ScenePreset(
            "dark-luxe",
            "Dark luxe",
            "luxury product photo on a dark charcoal backdrop with a soft spotlight from above, "
            "subtle reflections, dramatic elegant lighting, premium advertising photography",
            _NEGATIVE,
            Backdrop((46, 46, 52), (28, 28, 32), (34, 34, 38), (22, 22, 26),
                     horizon=0.62, curve=0.25, light=(0.5, 0.28), light_strength=0.45,
                     light_colour=(255, 246, 230), vignette=0.45, shadow_colour=(0, 0, 0)),
            tags=("dark", "black", "luxury", "night"),
        ),
        ScenePreset(
            "linen-daylight",
            "Linen daylight",
            "product photo on natural beige linen fabric, sunlit room, soft window shadows on "
            "the wall, calm Scandinavian lifestyle photography",
            _NEGATIVE,
            Backdrop((238, 232, 222), (228, 220, 206), (214, 202, 182), (226, 216, 198),
                     horizon=0.60, curve=0.10, texture="linen", texture_strength=0.5,
                     light=(0.85, 0.05), light_strength=0.16, light_colour=(255, 244, 224),
                     window_light=0.16, vignette=0.12, shadow_colour=(70, 55, 35)),
            tags=("linen", "fabric", "beige", "sunlight", "window"),
        ),
    )
}

#: The name under which a merchant prompt appears in outputs.
CUSTOM_SCENE = "custom"


def scene_preset(name: str) -> ScenePreset:
    """Look up a scene preset, failing with the list of known names."""
    try:
        return SCENE_PRESETS[name]
    except KeyError:
        known = ", ".join(SCENE_PRESETS)
        raise ConfigError(f"Unknown scene preset {name!r}; known presets: {known}.") from None


def custom_scene(prompt: str) -> ScenePreset:
    """A scene for a merchant prompt: the prompt drives models; keywords pick the backdrop."""
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    best = SCENE_PRESETS["studio-sweep"]
    best_score = 0
    for preset in SCENE_PRESETS.values():
        score = len(words & set(preset.tags))
        if score > best_score:
            best, best_score = preset, score
    return ScenePreset(
        CUSTOM_SCENE,
        "Custom prompt",
        prompt,
        best.negative_prompt,
        best.backdrop,
        best.product_fill,
        best.floor_y,
        best.tags,
    )
