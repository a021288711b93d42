"""Enhance: exposure, white balance, gentle contrast and sharpening, measured in ΔE.

Everything is estimated from the product's own pixels (the backdrop is about to be replaced).
White balance only trusts near-neutral product pixels, so a blue bag is never "corrected" to
grey. The whole change is then measured as CIEDE2000 against the source and scaled back until
the mean stays under the configured cap: the merchant never gets a colour shift they did not ask
for, and the number is reported with every output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.stages.color import delta_e_2000, srgb_to_lab

_SAMPLE = 40_000  # product pixels the estimates and ΔE use, at most


@dataclass
class EnhanceReport:
    """What the enhancement did, in numbers (all JSON-serialisable)."""

    applied: bool
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 0.0
    sharpen: float = 0.0
    strength: float = 0.0  # share of the estimated correction kept after the ΔE cap
    delta_e_mean: float = 0.0
    delta_e_p95: float = 0.0
    delta_e_max: float = 0.0
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float | bool]:
        return {
            "enhanced": self.applied,
            "enhance_strength": round(self.strength, 3),
            "delta_e_mean": round(self.delta_e_mean, 3),
            "delta_e_p95": round(self.delta_e_p95, 3),
            "delta_e_max": round(self.delta_e_max, 3),
        }


def enhance(rgb: np.ndarray, alpha: np.ndarray, *, max_delta_e: float) -> tuple[
    np.ndarray, EnhanceReport
]:
    """Return the enhanced (H, W, 3) uint8 image and its report. Pure; ``rgb`` is not modified."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("enhance expects an (H, W, 3) uint8 array")
    if max_delta_e < 0:
        raise ValueError(f"max_delta_e must be >= 0, got {max_delta_e}")
    product = alpha > 200
    count = int(product.sum())
    if count < 64:
        return rgb.copy(), EnhanceReport(False, notes=["enhance skipped: no product pixels"])
    coords = np.flatnonzero(product.ravel())
    if coords.size > _SAMPLE:
        coords = coords[:: coords.size // _SAMPLE + 1]
    pixels = rgb.reshape(-1, 3)[coords]

    gains = _white_balance_gains(pixels) * _exposure_gain(pixels)
    contrast = 0.06
    sharpen = 0.35
    luts = _curves(gains, contrast)
    full = _apply(rgb, luts, sharpen)

    source_lab = srgb_to_lab(pixels)
    target_lab = srgb_to_lab(full.reshape(-1, 3)[coords])
    delta = delta_e_2000(source_lab, target_lab)
    strength = 1.0
    if max_delta_e == 0:
        strength = 0.0
    elif delta.mean() > max_delta_e:
        strength = max(0.0, min(1.0, max_delta_e / float(delta.mean()) * 0.95))
    if strength < 1.0:
        gains = 1.0 + (gains - 1.0) * strength
        contrast *= strength
        sharpen *= strength
        full = _apply(rgb, _curves(gains, contrast), sharpen) if strength > 0 else rgb.copy()
        target_lab = srgb_to_lab(full.reshape(-1, 3)[coords])
        delta = delta_e_2000(source_lab, target_lab)
    report = EnhanceReport(
        applied=strength > 0,
        gains=(float(gains[0]), float(gains[1]), float(gains[2])),
        contrast=float(contrast),
        sharpen=float(sharpen),
        strength=strength,
        delta_e_mean=float(delta.mean()),
        delta_e_p95=float(np.percentile(delta, 95)),
        delta_e_max=float(delta.max()),
    )
    return full, report


def _white_balance_gains(pixels: np.ndarray) -> np.ndarray:
    """Per-channel gains that pull near-neutral product pixels towards grey (at most ±6%)."""
    values = pixels.astype(np.float64)
    top = values.max(axis=1)
    chroma = (top - values.min(axis=1)) / np.maximum(top, 1.0)
    neutral = (chroma < 0.12) & (top > 60) & (top < 250)
    if neutral.sum() < max(200, 0.05 * len(values)):
        return np.ones(3)
    mean = values[neutral].mean(axis=0)
    gains = mean.mean() / np.maximum(mean, 1.0)
    return np.clip(1.0 + (gains - 1.0) * 0.7, 0.94, 1.06)


def _exposure_gain(pixels: np.ndarray) -> float:
    """Lift underexposed products so their bright end reaches ~242, by at most 20%."""
    luminance = pixels.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    bright = float(np.percentile(luminance, 99.5))
    if bright <= 1.0 or bright >= 236:
        return 1.0
    return float(np.clip(242.0 / bright, 1.0, 1.2))


def _curves(gains: np.ndarray, contrast: float) -> list[np.ndarray]:
    x = np.arange(256, dtype=np.float64) / 255.0
    luts = []
    for gain in gains:
        y = np.clip(x * gain, 0.0, 1.0)
        y = y + contrast * np.sin(2 * np.pi * y) / (2 * np.pi) * -1  # gentle S-curve
        luts.append(np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return luts


def _apply(rgb: np.ndarray, luts: list[np.ndarray], sharpen: float) -> np.ndarray:
    lut = np.stack(luts, axis=1).reshape(256, 1, 3)
    out = cv2.LUT(np.ascontiguousarray(rgb), lut)
    if sharpen > 0:
        blurred = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1.0 + sharpen, blurred, -sharpen, 0)
    return out
