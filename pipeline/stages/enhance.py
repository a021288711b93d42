"""Enhance: white balance and exposure, estimated from neutral evidence, applied in linear light.

A studio photo has two sources of "this should be neutral": the backdrop outside the mask (a
white or grey sweep) and the product's own near-neutral pixels (a black bag's leather, a grey
strap). Both are read in linear light:

* **white balance** — per-channel gains that make the neutral evidence grey. The backdrop is
  used where it is unclipped and looks like a studio backdrop (bright, one colour); a clipped
  #FFFFFF backdrop says nothing about a cast, so then the product's low-saturation pixels decide
  (grey-world restricted to them, refined once after a first correction). Saturated pixels never
  vote, so a blue bag is not greyed. Both directions: warm and cool casts.
* **exposure** — one gain in linear light: lifts a studio backdrop that should be white but is
  grey (underexposure), and darkens a product whose neutral highlights are blown (overexposure,
  where the clipped backdrop cannot tell). Saturated products never count as "dark".

Dead bands leave good photos alone: a cast under ``WB_DEAD_BAND`` per channel, or an exposure
error under ``EV_DEAD_BAND``, is not corrected at all. The change is measured as CIEDE2000
against the input (``enhance_change_delta_e_*``: how much enhancement changed the product, not how
right it is) and only scaled back beyond ``max_delta_e``, a safety limit against a bad estimate.
How right it is is measured against truth in ``bench/enhance_eval.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.stages.color import delta_e_2000, srgb_to_lab

_SAMPLE = 40_000  # product (and backdrop) pixels the estimates and ΔE use, at most
WB_DEAD_BAND = 0.04  # relative gain: casts smaller than 4% in every channel are left alone
EV_DEAD_BAND = 0.3  # stops: a grey studio backdrop at -0.25 EV is a choice, not an error
# Product pixels are weaker evidence (a "black" bag may be a warm black): a wider dead band.
PRODUCT_DEAD_BAND = 0.08
CLIPPED = 0.97  # linear (sRGB ~250): a backdrop channel at or above it is clipped
MAX_WB = 0.25  # a channel gain stays within ±25%
MAX_EV = 1.0
# Over this share of the product's neutral pixels clipped white in every channel, the photo is
# overexposed (good samples: <= 0.06, one with white parts 0.23; at +0.5 EV: 0.33-0.61). How
# far is lost with the clipped values, so the darkening is a fixed step.
BLOWN_SHARE = 0.3
BLOWN_EV = 0.4

_CODES = np.arange(256, dtype=np.float64) / 255.0
_TO_LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)


@dataclass
class EnhanceReport:
    """What the enhancement did, in numbers (all JSON-serialisable)."""

    applied: bool
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # white balance x exposure, linear
    ev: float = 0.0  # the exposure part of ``gains``, in stops
    evidence: str = "none"  # what the white balance was read from: backdrop, product, none
    strength: float = 0.0  # share of the estimated correction kept after the safety limit
    change_delta_e_mean: float = 0.0  # ΔE output vs input: how much was changed, not accuracy
    change_delta_e_p95: float = 0.0
    change_delta_e_max: float = 0.0
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float | bool | str | list[float]]:
        return {
            "enhanced": self.applied,
            "enhance_strength": round(self.strength, 3),
            "enhance_gains": [round(g, 4) for g in self.gains],
            "enhance_ev": round(self.ev, 3),
            "enhance_evidence": self.evidence,
            "enhance_change_delta_e_mean": round(self.change_delta_e_mean, 3),
            "enhance_change_delta_e_p95": round(self.change_delta_e_p95, 3),
            "enhance_change_delta_e_max": round(self.change_delta_e_max, 3),
        }


def enhance(rgb: np.ndarray, alpha: np.ndarray, *, max_delta_e: float) -> tuple[
    np.ndarray, EnhanceReport
]:
    """Return the enhanced (H, W, 3) uint8 image and its report. Pure; ``rgb`` is not modified.

    ``max_delta_e`` limits the mean ΔE the enhancement may cause (0 turns it off)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("enhance expects an (H, W, 3) uint8 array")
    if max_delta_e < 0:
        raise ValueError(f"max_delta_e must be >= 0, got {max_delta_e}")
    if max_delta_e == 0:
        return rgb.copy(), EnhanceReport(False, notes=["enhance off (max_delta_e 0)"])
    flat = alpha.ravel()
    coords = _sample(flat > 200)
    if coords.size < 64:
        return rgb.copy(), EnhanceReport(False, notes=["enhance skipped: no product pixels"])
    pixels = rgb.reshape(-1, 3)[coords]
    backdrop = _studio_backdrop(_TO_LINEAR[rgb.reshape(-1, 3)[_sample(flat == 0)]])

    wb, evidence = _white_balance(pixels, backdrop)
    ev = _exposure(pixels, backdrop, wb)
    gains = wb * 2.0**ev
    if np.allclose(gains, 1.0):
        return rgb.copy(), EnhanceReport(False, evidence=evidence,
                                         notes=["good photo: nothing to correct"])
    source_lab = srgb_to_lab(pixels)
    strength = 1.0
    delta = delta_e_2000(source_lab, srgb_to_lab(_apply(pixels, gains)))
    if delta.mean() > max_delta_e:  # a safety limit on the change, not an accuracy target
        strength = max(0.0, min(1.0, max_delta_e / float(delta.mean()) * 0.95))
        gains = gains**strength
        delta = delta_e_2000(source_lab, srgb_to_lab(_apply(pixels, gains)))
    report = EnhanceReport(
        applied=True,
        gains=(float(gains[0]), float(gains[1]), float(gains[2])),
        ev=float(ev * strength),
        evidence=evidence,
        strength=strength,
        change_delta_e_mean=float(delta.mean()),
        change_delta_e_p95=float(np.percentile(delta, 95)),
        change_delta_e_max=float(delta.max()),
    )
    return _apply(rgb, gains), report


def _sample(mask: np.ndarray) -> np.ndarray:
    coords = np.flatnonzero(mask)
    if coords.size > _SAMPLE:
        coords = coords[:: coords.size // _SAMPLE + 1]
    return coords


def _studio_backdrop(lin: np.ndarray) -> np.ndarray | None:
    """The backdrop's unclipped pixels when it looks like a studio backdrop (bright, one
    neutral-ish colour), else None (a room, a scene: not evidence of anything)."""
    if len(lin) < 500:
        return None
    luminance = lin @ np.array([0.2126, 0.7152, 0.0722])
    bright = luminance > 0.25
    if bright.mean() < 0.6:
        return None
    keep = lin[bright]
    chroma = keep / np.maximum(keep.mean(axis=1, keepdims=True), 1e-6)
    if np.median(np.abs(chroma - np.median(chroma, axis=0)), axis=0).max() > 0.05:
        return None  # several colours: a printed or textured background
    return keep


def _white_balance(pixels: np.ndarray, back: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Per-channel linear gains (green fixed at 1) and where they were read from; ``back`` is
    the studio backdrop in linear light (None: there is none)."""
    if back is not None:
        level = np.median(back, axis=0)
        clipped = level >= CLIPPED
        if clipped.all():  # #FFFFFF in every channel: a neutral backdrop, no cast to read
            return np.ones(3), "backdrop"
        if not clipped.any():
            return _dead_band(level[1] / level), "backdrop"
        # Clipped channels read 1.0; the unclipped ones say how far below it they are.
        gains = np.where(clipped, 1.0, 1.0 / level)
        if clipped[1] and clipped[0] != clipped[2]:
            # Red or blue clipped with green: the cast is read along the warm-cool axis
            # (colour temperature moves red and blue opposite ways).
            gains[0 if clipped[0] else 2] = 1.0 / gains[2 if clipped[0] else 0]
        return _dead_band(gains / gains[1]), "backdrop"
    return _product_neutrals(_TO_LINEAR[pixels])


def _product_neutrals(lin: np.ndarray) -> tuple[np.ndarray, str]:
    """No studio backdrop to read: grey-world on the product's low-saturation pixels."""
    gains = np.ones(3)
    found = False
    for threshold in (0.2, 0.1):  # the cast widens neutrals: a wide net first, then narrower
        corrected = lin * gains
        codes = _to_srgb(corrected)
        chroma = (codes.max(axis=1) - codes.min(axis=1)) / np.maximum(codes.max(axis=1), 1e-6)
        neutral = (chroma < threshold) & (corrected.max(axis=1) > 0.01) & (lin.max(axis=1) < 0.9)
        if neutral.sum() < max(200, 0.05 * len(lin)):
            break
        mean = lin[neutral].mean(axis=0)
        gains = mean[1] / np.maximum(mean, 1e-6)
        found = True
    if not found:
        return np.ones(3), "none"
    return _dead_band(gains, PRODUCT_DEAD_BAND), "product"


def _dead_band(gains: np.ndarray, band: float = WB_DEAD_BAND) -> np.ndarray:
    gains = np.clip(gains, 1 - MAX_WB, 1 + MAX_WB)
    return np.ones(3) if np.abs(gains - 1.0).max() < band else gains


def _exposure(pixels: np.ndarray, back: np.ndarray | None, wb: np.ndarray) -> float:
    """Exposure correction in stops (positive lifts), from neutral evidence only."""
    ev = 0.0
    if back is not None:
        white = float(np.percentile((back * wb).max(axis=1), 75))
        if white < 0.97:  # a studio backdrop that should be white but is grey: underexposed
            ev = float(np.log2(1.0 / max(white, 1e-3)))
    if ev == 0.0:  # a clipped backdrop says nothing about overexposure: the product's neutrals
        lin = _TO_LINEAR[pixels] * wb
        codes = _to_srgb(lin)
        chroma = (codes.max(axis=1) - codes.min(axis=1)) / np.maximum(codes.max(axis=1), 1e-6)
        neutral = chroma < 0.1
        if neutral.sum() >= max(200, 0.05 * len(lin)):
            blown = float((codes[neutral].min(axis=1) > 0.99).mean())
            if blown > BLOWN_SHARE:
                ev = -BLOWN_EV
    ev = float(np.clip(ev, -MAX_EV, MAX_EV))
    return 0.0 if abs(ev) < EV_DEAD_BAND else ev


def _apply(rgb: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Per-channel linear gains through 8-bit lookup tables (pixel arrays or whole images)."""
    lut = np.stack([np.round(_to_srgb(_TO_LINEAR * g) * 255.0) for g in gains], axis=1)
    lut = lut.astype(np.uint8)
    if rgb.ndim == 2:  # (N, 3) pixel samples
        return np.stack([lut[rgb[:, c], c] for c in range(3)], axis=1)
    return cv2.LUT(np.ascontiguousarray(rgb), lut.reshape(256, 1, 3))
