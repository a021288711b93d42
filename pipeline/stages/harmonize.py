"""Harmonise: match a scene's light on the product with a small, bounded colour/exposure grade.

Off by default (``PipelineConfig.harmonize = "off"``). With ``"grade"``, every *scene* output
(never a framed or marketplace one) is measured and graded before compositing:

* the scene's light is the mean linear-light colour of a ring of background pixels around the
  product (outside a small gap, so the product's own edge never counts), measured on the
  generated background before the shadow is painted;
* the grade is one per-channel gain in linear light that moves the product's white point part
  of the way toward the scene's (the product is taken as neutrally lit: the enhance stage has
  white-balanced it, and its own mean colour is its identity, not its light), plus one exposure
  shift from the ring's luminance against the light the product was photographed in (the
  source photo's backdrop around it; for a delivered cutout, the product's own luminance).
  Each is capped: every gain within
  ``MAX_GAIN`` (8%) of 1, the exposure within ``MAX_EV`` (0.3 EV);
* the same grade is applied to all of the product's pixels (a per-channel 256-entry table, so
  it costs a few milliseconds at 2048²); the cutout's alpha, and so the mask, is unchanged.

A grade below what anyone could see (every gain within 1%, exposure under 0.05 EV) is not
applied: that output stays exactly as without harmonisation. A graded output carries the
``relit`` flag (never auto-approved), and its metrics say what changed.

Relighting *models* (``relight:<model>``) are reserved: none is supported yet, and a
configuration naming one is refused with a :class:`~pipeline.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.errors import ConfigError
from pipeline.flags import Flag
from pipeline.stages.color import delta_e_2000, srgb_to_lab
from pipeline.stages.frame import Layer

MODES = ("off", "grade")
RELIGHT_PREFIX = "relight:"
MAX_GAIN = 0.08  # per channel, in linear light
MAX_EV = 0.3
COLOUR_STRENGTH = 0.5  # share of the way toward the scene's white point (before the cap)
EXPOSURE_STRENGTH = 0.5  # share of the ring-vs-product luminance gap (before the cap)
MIN_GAIN, MIN_EV = 0.01, 0.05  # below both: not worth a grade (nor a review)
RING_SHARE = 0.08  # ring width as a share of the product's long side
WORK_SIZE = 256  # the ring is measured on a copy this big at most (long side)
SAMPLE = 10_000  # product pixels the ΔE numbers are computed on, at most
_Y = np.array([0.2126, 0.7152, 0.0722])
_LINEAR = np.where(np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92,
                   ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4)


def check_mode(mode: str) -> None:
    """Raise :class:`ConfigError` unless ``mode`` is one this pipeline can run."""
    if mode in MODES:
        return
    if mode.startswith(RELIGHT_PREFIX):
        name = mode[len(RELIGHT_PREFIX):].strip()
        # Imported here: the registry is only needed for this refusal.
        from pipeline.models import MODELS

        listed = [m.key for m in MODELS if m.task == "relight"]
        where = (f"{name!r} is in the model registry, but"
                 if name in listed else "the model registry lists no relighting model, and")
        raise ConfigError(
            f"harmonize={mode!r}: {where} relighting models are not supported yet. Use "
            "'grade' (a bounded colour/exposure grade toward the scene's light) or 'off'.")
    raise ConfigError(f"Unknown harmonize {mode!r}; choose one of: {', '.join(MODES)} "
                      "(relight:<model> is reserved and not supported yet).")


@dataclass(frozen=True)
class Grade:
    """One product's grade: linear-light gains (R, G, B) and an exposure shift in EV."""

    gain: tuple[float, float, float]
    ev: float

    @property
    def negligible(self) -> bool:
        return max(abs(g - 1) for g in self.gain) < MIN_GAIN and abs(self.ev) < MIN_EV

    def table(self) -> np.ndarray:
        """The (1, 256, 3) uint8 lookup table that applies the grade to sRGB values."""
        scale = np.array(self.gain) * 2.0 ** self.ev
        linear = np.clip(_LINEAR[:, None] * scale[None, :], 0.0, 1.0)
        srgb = np.where(linear <= 0.0031308, linear * 12.92,
                        1.055 * linear ** (1 / 2.4) - 0.055)
        return np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)[None]


def estimate(background: np.ndarray, layer: Layer, reference_y: float | None = None) -> Grade:
    """The grade that moves ``layer``'s product toward the light of ``background`` around it.

    ``reference_y`` is the linear luminance of the light the product was photographed in (the
    source photo's backdrop around it, :func:`reference_light`); without one the product's own
    mean luminance stands in for it.
    """
    alpha = layer.rgba[..., 3]
    x0, y0, x1, y1 = layer.box
    width, height = layer.canvas
    pad = max(4, round(RING_SHARE * max(x1 - x0, y1 - y0)))
    rx0, ry0 = max(0, x0 - pad), max(0, y0 - pad)
    rx1, ry1 = min(width, x1 + pad), min(height, y1 + pad)
    # A regular grid of pixels (every ``step``-th) is plenty for a mean, and costs nothing.
    step = max(1, math.ceil(max(rx1 - rx0, ry1 - ry0) / WORK_SIZE))
    region = background[ry0:ry1:step, rx0:rx1:step, :3]
    solid = np.zeros(region.shape[:2], np.uint8)  # the product on the same grid
    oy, ox = (ry0 - y0) % step, (rx0 - x0) % step  # its first row/column on the grid
    patch = alpha[oy::step, ox::step] > 0
    top, left = (y0 + oy - ry0) // step, (x0 + ox - rx0) // step
    solid[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    reach = max(2, round(pad / step))
    gap = max(1, reach // 4)
    ring = (cv2.dilate(solid, _disc(reach)) > 0) & ~(cv2.dilate(solid, _disc(gap)) > 0)
    if not ring.any():  # the product fills the canvas: no scene around it to match
        return Grade((1.0, 1.0, 1.0), 0.0)
    scene = _LINEAR[region[ring]].mean(axis=0)
    scene_y = float(scene @ _Y)
    if reference_y is None:
        reference_y = float(_LINEAR[_sample(layer)].mean(axis=0) @ _Y)
    if scene_y <= 1e-6 or reference_y <= 1e-6:
        return Grade((1.0, 1.0, 1.0), 0.0)
    white = (scene / scene_y) ** COLOUR_STRENGTH  # the scene's cast, luminance-neutral
    white = white / float(white @ _Y)
    gain = tuple(round(float(np.clip(g, 1 - MAX_GAIN, 1 + MAX_GAIN)), 4) for g in white)
    ev = EXPOSURE_STRENGTH * math.log2(scene_y / reference_y)
    return Grade(gain, round(float(np.clip(ev, -MAX_EV, MAX_EV)), 3))


def reference_light(rgb: np.ndarray, alpha: np.ndarray) -> float | None:
    """The linear luminance of the source photo's backdrop in a ring around the product: the
    light the product was photographed in. None when the photo has no backdrop to measure
    (a delivered cutout) or the product fills it."""
    height, width = alpha.shape
    step = max(1, math.ceil(max(height, width) / WORK_SIZE))
    solid = np.ascontiguousarray((alpha[::step, ::step] > 0).astype(np.uint8))
    rows, cols = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if not rows.size:
        return None
    reach = max(2, round(RING_SHARE * max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1))
    gap = max(1, reach // 4)
    ring = (cv2.dilate(solid, _disc(reach)) > 0) & ~(cv2.dilate(solid, _disc(gap)) > 0)
    if not ring.any():
        return None
    return float(_LINEAR[rgb[::step, ::step][ring]].mean(axis=0) @ _Y)


def apply(layer: Layer, grade: Grade) -> Layer:
    """A new layer: ``layer`` with ``grade`` on every colour pixel; its alpha is the same."""
    table = np.empty((1, 256, 4), np.uint8)
    table[..., :3] = grade.table()
    table[..., 3] = np.arange(256, dtype=np.uint8)  # alpha passes through unchanged
    rgba = cv2.LUT(layer.rgba, table)
    return Layer(rgba, layer.x, layer.y, layer.canvas, layer.scale)


def metrics(original: Layer, grade: Grade) -> dict:
    """The relit numbers: the grade, and the product's ΔE against its unrelit self."""
    before = _sample(original)
    after = cv2.LUT(before[None], grade.table())[0]
    delta = delta_e_2000(srgb_to_lab(before), srgb_to_lab(after)) if len(before) else np.zeros(1)
    return {
        "relit": True,
        "relit_gain": list(grade.gain),
        "relit_ev": grade.ev,
        "relit_delta_e_mean": round(float(delta.mean()), 3),
        "relit_delta_e_p95": round(float(np.percentile(delta, 95)), 3),
    }


def flag(numbers: dict) -> Flag:
    """The ``relit`` flag of an output whose relit metrics are ``numbers``."""
    red, green, blue = numbers["relit_gain"]
    return Flag("relit", (
        "Relit to match the scene's light: linear-light gain R ×{:.3f}, G ×{:.3f}, B ×{:.3f} "
        "and exposure {:+.2f} EV (mean ΔE {:.1f} against the unrelit product)."
    ).format(red, green, blue, numbers["relit_ev"], numbers["relit_delta_e_mean"]))


def _sample(layer: Layer) -> np.ndarray:
    """Up to ``SAMPLE`` of the product's opaque pixels, (n, 3) uint8, on a regular grid."""
    alpha = layer.rgba[..., 3]
    step = max(1, math.isqrt(max(1, int(alpha.size // SAMPLE))))
    patch = layer.rgba[::step, ::step]
    opaque = patch[..., 3] == 255
    if not opaque.any():
        opaque = patch[..., 3] > 0
    return np.ascontiguousarray(patch[opaque][:, :3])


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
