"""Shadows synthesized from the product's alpha: a contact shadow or a drop shadow.

A shadow is an opacity patch on the canvas plus a colour; compositing applies it under the
product. Shadows are soft by nature, so they are computed on a reduced copy (long side 256) and
scaled up, which keeps them cheap at 2048².
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.stages.frame import Layer

_WORK = 256


@dataclass
class ShadowLayer:
    """Opacity in [0, 1] at ``(x, y)`` on the canvas, to be painted in ``colour``."""

    opacity: np.ndarray  # (h, w) float32
    x: int
    y: int
    colour: tuple[int, int, int] = (0, 0, 0)


def make_shadow(
    layer: Layer,
    kind: str,
    *,
    colour: tuple[int, int, int] = (0, 0, 0),
    strength: float = 1.0,
) -> ShadowLayer | None:
    """``none`` → ``None``; ``contact`` → a soft pool under the base; ``drop`` → a cast shadow."""
    if kind == "none":
        return None
    if kind not in ("contact", "drop"):
        raise ValueError(f"unknown shadow {kind!r}; use none, contact or drop")
    alpha = layer.rgba[..., 3].astype(np.float32) / 255.0
    height, width = alpha.shape
    factor = min(1.0, _WORK / max(height, width))
    small_w, small_h = max(2, round(width * factor)), max(2, round(height * factor))
    small = cv2.resize(alpha, (small_w, small_h), interpolation=cv2.INTER_AREA)
    if kind == "contact":
        patch, dx, dy = _contact(small)
        opacity_peak = 0.6
    else:
        patch, dx, dy = _drop(small)
        opacity_peak = 0.32
    patch *= opacity_peak * strength
    full_w = max(1, round(patch.shape[1] / factor))
    full_h = max(1, round(patch.shape[0] / factor))
    opacity = cv2.resize(patch, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    x = layer.x + round(dx / factor)
    y = layer.y + round(dy / factor)
    opacity = np.clip(opacity, 0, 1).astype(np.float32)
    opacity[opacity < 0.5 / 255] = 0.0  # no invisible tails: they would spoil pure white
    return _clip(ShadowLayer(opacity, x, y, colour), layer.canvas)


def _contact(alpha: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A soft pool and a tight dark core on the floor line, under the parts that touch it.

    Each column's lowest product pixel says how close that part is to the floor: columns
    resting on it cast the core, columns hovering above it only a faint ambient pool.
    """
    height, width = alpha.shape
    solid = alpha > 0.5
    present = solid.any(axis=0)
    if not present.any():
        return np.zeros((1, 1), np.float32), 0, 0
    lowest = np.where(present, height - 1 - np.argmax(solid[::-1], axis=0), -1)
    base = int(lowest.max())
    gap = (base - lowest).astype(np.float32)
    touch = np.where(present, np.exp(-((gap / max(2.0, 0.05 * height)) ** 2)), 0.0)
    ambient = np.where(present, 0.3, 0.0)
    pad_x = max(4, width // 8)
    sigma_pool_y = max(1.0, 0.03 * height)
    sigma_core_y = max(0.6, 0.008 * height)
    half = int(sigma_pool_y * 3) + 2
    rows = np.arange(-half, half + 1, dtype=np.float32)[:, None]

    def spread(profile: np.ndarray, sigma_x: float) -> np.ndarray:
        padded = np.zeros(width + 2 * pad_x, np.float32)
        padded[pad_x : pad_x + width] = profile
        return cv2.GaussianBlur(padded[None, :], (0, 0), sigmaX=max(0.6, sigma_x),
                                sigmaY=0.1)[0]

    pool = spread(np.maximum(touch * 0.8, ambient), 0.05 * width)[None, :]
    pool = pool * np.exp(-0.5 * ((rows + sigma_pool_y * 0.3) / sigma_pool_y) ** 2)
    core = spread(touch, 0.012 * width)[None, :]
    core = core * np.exp(-0.5 * (rows / sigma_core_y) ** 2)
    canvas = 1 - (1 - 0.45 * pool) * (1 - 0.85 * core)
    return canvas.astype(np.float32), -pad_x, base - half


def _drop(alpha: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The silhouette offset down-right and blurred (key light from the upper left)."""
    height, width = alpha.shape
    sigma = max(1.0, max(width, height) * 0.025)
    pad = int(sigma * 3) + 2
    off_x = round(width * 0.035)
    off_y = round(height * 0.035)
    canvas = np.zeros((height + 2 * pad, width + 2 * pad), np.float32)
    canvas[pad : pad + height, pad : pad + width] = alpha
    canvas = cv2.GaussianBlur(canvas, (0, 0), sigma)
    return canvas, off_x - pad, off_y - pad


def _clip(shadow: ShadowLayer, canvas: tuple[int, int]) -> ShadowLayer | None:
    width, height = canvas
    patch_h, patch_w = shadow.opacity.shape
    x0, y0 = max(0, shadow.x), max(0, shadow.y)
    x1, y1 = min(width, shadow.x + patch_w), min(height, shadow.y + patch_h)
    if x1 <= x0 or y1 <= y0:
        return None
    patch = shadow.opacity[y0 - shadow.y : y1 - shadow.y, x0 - shadow.x : x1 - shadow.x]
    return ShadowLayer(np.ascontiguousarray(patch), x0, y0, shadow.colour)
