"""Optional alpha matting (closed-form, pymatting): finer soft edges for hair, fur and straps.

Costs about 1–1.5 s per megapixel on two cores (docs/pipeline.md), so it is a setting
(``PipelineConfig.alpha_matting``), off by default.
"""

from __future__ import annotations

import cv2
import numpy as np

ERODE = 10  # pixels on each side of the edge that the matting re-estimates


def trimap(alpha: np.ndarray, erode: int = ERODE) -> np.ndarray:
    """0 = background, 255 = foreground, 128 = unknown band around the edge."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode + 1, 2 * erode + 1))
    sure_fg = cv2.erode((alpha > 240).astype(np.uint8), kernel) > 0
    maybe = cv2.dilate((alpha > 10).astype(np.uint8), kernel) > 0
    out = np.full(alpha.shape, 128, np.uint8)
    out[~maybe] = 0
    out[sure_fg] = 255
    return out


def refine_alpha(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Closed-form matting inside the trimap's unknown band; returns uint8 alpha."""
    # Lazy: pymatting pulls in numba and JIT-compiles on import (seconds); only with matting on.
    from pymatting.alpha.estimate_alpha_cf import estimate_alpha_cf

    tri = trimap(alpha)
    if not (tri == 128).any() or not (tri == 255).any() or not (tri == 0).any():
        return alpha
    matte = estimate_alpha_cf(rgb.astype(np.float64) / 255.0, tri.astype(np.float64) / 255.0)
    return np.clip(matte * 255.0 + 0.5, 0, 255).astype(np.uint8)
