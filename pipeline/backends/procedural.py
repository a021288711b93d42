"""The procedural scene generator: studio sweeps, gradients, surfaces and soft light.

No weights, deterministic for a seed, about a tenth of a second per scene on one core. The
backdrop is rendered at up to 1024 px on the long side (it is smooth, so nothing is lost) and
scaled to the canvas; the runner then paints the shadow and the product on top. Seeds vary the
light position, tint and surface pattern so variations of one preset differ visibly.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from pipeline.presets import Backdrop, ScenePreset
from pipeline.stages.frame import Layer

RENDER_MAX = 1024


class ProceduralSceneGenerator:
    """Renders :class:`~pipeline.presets.Backdrop` parameters; see the module docstring."""

    name = "procedural"

    def generate(
        self,
        *,
        product: Layer,
        preset: ScenePreset,
        seeds: list[int],
        deadline: float | None = None,
        config: object | None = None,
    ) -> list[np.ndarray]:
        return [render_backdrop(preset.backdrop, product.canvas, seed) for seed in seeds]


def render_backdrop(backdrop: Backdrop, size: tuple[int, int], seed: int) -> np.ndarray:
    """An (H, W, 3) uint8 backdrop for ``size`` (width, height): a new array, the caller's.

    The render depends only on the preset's backdrop, the size and the seed, never on the
    product, so every product of a burst asks for the same few: they are kept (at render
    size, see :func:`_render`) and only scaled to the canvas per call.
    """
    width, height = size
    factor = min(1.0, RENDER_MAX / max(width, height))
    rw, rh = max(8, round(width * factor)), max(8, round(height * factor))
    small = _render(backdrop, rw, rh, seed)
    if (rw, rh) == (width, height):
        return small.copy()
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# 8 presets at one variation each; a render is at most 1024² × 3 bytes (3 MiB), so 24 MiB.
@functools.lru_cache(maxsize=8)
def _render(backdrop: Backdrop, rw: int, rh: int, seed: int) -> np.ndarray:
    """The backdrop at render size (rw, rh), read-only: shared by every call that asks."""
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-1, 1, size=4)

    v = (np.arange(rh, dtype=np.float32) + 0.5)[:, None] / rh
    u = (np.arange(rw, dtype=np.float32) + 0.5)[None, :] / rw
    horizon = backdrop.horizon + 0.02 * jitter[0]
    wall = _vgradient(backdrop.wall_top, backdrop.wall_bottom, v / max(horizon, 1e-3))
    floor_t = np.clip((v - horizon) / max(1 - horizon, 1e-3), 0, 1)
    floor = _vgradient(backdrop.floor_far, backdrop.floor_near, floor_t)
    if backdrop.texture != "none" and backdrop.texture_strength > 0:
        floor = floor * _surface(backdrop.texture, rw, rh, horizon, rng,
                                 backdrop.texture_strength)[..., None]
    curve = max(backdrop.curve, 0.004)
    blend = _smoothstep((v - (horizon - curve / 2)) / curve)[..., None]
    image = wall * (1 - blend) + floor * blend  # (rh, rw, 3) via broadcasting
    image = np.broadcast_to(image, (rh, rw, 3)).astype(np.float32)

    if backdrop.window_light > 0:
        bars = _window_bars(u, v, jitter[1], horizon)
        image *= (1 + backdrop.window_light * bars)[..., None]

    lx = backdrop.light[0] + 0.06 * jitter[2]
    ly = backdrop.light[1] + 0.04 * jitter[3]
    aspect = rw / rh
    dist2 = ((u - lx) * aspect) ** 2 + (v - ly) ** 2
    glow = np.exp(-dist2 / 0.18).astype(np.float32)
    light = np.array(backdrop.light_colour, np.float32) / 255.0
    image = image * (1 + backdrop.light_strength * glow[..., None] * (light / light.max()) * 1.2)

    if backdrop.vignette > 0:
        r2 = ((u - 0.5) * 1.2) ** 2 + (v - 0.48) ** 2
        image *= (1 - backdrop.vignette * np.clip(r2 * 1.6, 0, 1) ** 1.5)[..., None]

    tint = 1 + 0.015 * rng.uniform(-1, 1, size=3).astype(np.float32)
    image *= tint
    out = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    out.flags.writeable = False
    return out


def _vgradient(top, bottom, t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)[..., None]
    top_arr = np.array(top, np.float32)
    bottom_arr = np.array(bottom, np.float32)
    return top_arr * (1 - t) + bottom_arr * t  # (rh, 1, 3)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _noise(rng: np.random.Generator, size: int, octaves: int) -> np.ndarray:
    """Fractal value noise in [-1, 1] on a size × size tile."""
    total = np.zeros((size, size), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        cells = 4 * 2**octave
        grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
        total += amplitude * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
        norm += amplitude
        amplitude *= 0.5
    return total / norm


def _surface(kind: str, rw: int, rh: int, horizon: float, rng, strength: float):
    """A brightness multiplier (rh, rw) for the floor, in perspective."""
    tile = 512
    noise = _noise(rng, tile, 6)
    xs, ys = np.meshgrid(np.arange(tile, dtype=np.float32) / tile,
                         np.arange(tile, dtype=np.float32) / tile)
    if kind == "marble":
        # Large, soft veins: a warped sine field, thresholded into thin grey streaks.
        turbulence = _noise(rng, tile, 4)
        veins = np.abs(np.sin((xs * 1.6 + ys * 0.7 + turbulence * 1.1) * np.pi * 2))
        streaks = np.exp(-((veins / 0.06) ** 2))
        soft = cv2.GaussianBlur(streaks.astype(np.float32), (0, 0), 2.0)
        pattern = 1 - 0.10 * soft - 0.025 * noise
    elif kind == "wood":
        # Planks run away from the camera: grain varies across x, boards every 1/5 of a tile.
        stretched = cv2.resize(_noise(rng, tile, 5), (tile, tile // 8))
        stretched = cv2.resize(stretched, (tile, tile), interpolation=cv2.INTER_CUBIC)
        grain = np.sin((xs * 90 + stretched * 4.0) * np.pi)
        board = np.floor(xs * 5)
        tone = (board * 0.37 % 1.0 - 0.5) * 0.10
        seams = np.abs(((xs * 5) % 1.0) - 0.5) > 0.494
        pattern = 1 + 0.035 * grain + tone + 0.04 * stretched - 0.22 * seams
    elif kind == "concrete":
        speck = rng.uniform(-1, 1, (tile, tile)).astype(np.float32)
        pattern = 1 + 0.07 * noise + 0.025 * speck
    elif kind == "linen":
        weave = np.sin(xs * tile * np.pi * 0.5) * np.sin(ys * tile * np.pi * 0.5)
        pattern = 1 + 0.025 * weave + 0.05 * noise
    elif kind == "terrazzo":
        chips = (rng.uniform(0, 1, (tile, tile)) > 0.995).astype(np.float32)
        chips = cv2.dilate(chips, np.ones((5, 5), np.uint8))
        pattern = 1 + 0.04 * noise - 0.2 * chips
    else:
        raise ValueError(f"unknown surface texture {kind!r}")
    pattern = 1 + (pattern.astype(np.float32) - 1) * strength * 2
    # Perspective: rows near the horizon are far away, so the texture shrinks towards it.
    v = (np.arange(rh, dtype=np.float32) + 0.5) / rh
    t = np.clip((v - horizon) / max(1 - horizon, 1e-3), 0, 1)
    depth = 1.0 / (0.35 + t)
    map_y = np.broadcast_to((depth * 0.45)[:, None] * (tile - 1), (rh, rw))
    u = (np.arange(rw, dtype=np.float32) + 0.5) / rw
    map_x = ((u[None, :] - 0.5) * depth[:, None] * 0.5 + 0.5) * (tile - 1)
    warped = cv2.remap(pattern, map_x.astype(np.float32), np.ascontiguousarray(map_y, np.float32),
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    fade = np.clip(t * 6, 0, 1)[:, None]  # texture fades out into the haze at the horizon
    return 1 + (warped - 1) * fade


def _window_bars(u: np.ndarray, v: np.ndarray, jitter: float, horizon: float) -> np.ndarray:
    """Soft diagonal window-light bars, brightest on the wall."""
    diagonal = u * 1.0 + v * 0.55 + 0.1 * jitter
    bars = 0.5 + 0.5 * np.sin(diagonal * 2 * np.pi * 3.2)
    bars = _smoothstep((bars - 0.35) / 0.3)
    window = np.exp(-(((u - 0.65) / 0.45) ** 2) - (((v - 0.35) / 0.45) ** 2))
    fade = np.clip(1.3 - v / max(horizon, 1e-3), 0.2, 1.0)
    return (bars - 0.5) * window * fade
