"""Cutout: straight-alpha product colours with the old backdrop removed from the soft edge.

A soft edge pixel is a mix ``I = a·F + (1 − a)·B`` of product colour F and backdrop colour B.
Keeping I as the product colour leaves a light fringe that shows on dark scenes. Here B is
estimated from the backdrop nearby and the equation solved for F; where alpha is too small for a
stable answer, the colour of the nearest solid product pixels is used. Only the edge band (soft
pixels within ``EDGE_BAND_PX`` of the backdrop) is unmixed; fully opaque pixels and soft ones
deep inside the product (glass) are never touched.

Model masks (rembg's min-max normalised maps) put a product's inside at alpha 248–254, never
255: left so, every product pixel would be blended with each scene's background and the
fidelity check would compare nothing. :func:`snap_alpha` makes the confident core opaque.
"""

from __future__ import annotations

import cv2
import numpy as np

WINDOW = 15  # pixels: neighbourhood the local backdrop and product colours are averaged over
EDGE_BAND_PX = 12  # soft pixels this close to the backdrop are edge (unmixed); deeper ones kept
CONFIDENT = 230  # alpha (0.9) from which a model is sure a pixel is product...
CORE_ERODE_PX = 2  # ...and this far inside such a region the pixel is snapped to 255


def snap_alpha(alpha: np.ndarray) -> tuple[np.ndarray, int]:
    """``alpha`` with its confident core (alpha >= 0.9, eroded by ``CORE_ERODE_PX``) set to 255,
    and how many pixels changed. The soft edge band keeps its values."""
    confident = (alpha >= CONFIDENT).astype(np.uint8)
    size = 2 * CORE_ERODE_PX + 1
    core = cv2.erode(confident, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    snap = (core > 0) & (alpha < 255)
    changed = int(np.count_nonzero(snap))
    if not changed:
        return alpha, 0
    out = alpha.copy()
    out[snap] = 255
    return out, changed


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Return a copy of ``rgb`` with edge colours (0 < alpha < 255 within ``EDGE_BAND_PX`` of
    the backdrop) unmixed from the backdrop."""
    soft = (alpha > 0) & (alpha < 255)
    out = rgb.copy()
    if not soft.any():
        return out
    ys, xs = np.nonzero(soft)
    pad = WINDOW + EDGE_BAND_PX
    y0, y1 = max(0, ys.min() - pad), min(rgb.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(rgb.shape[1], xs.max() + pad + 1)
    crop = rgb[y0:y1, x0:x1]
    crop_alpha = alpha[y0:y1, x0:x1]
    band = np.ones((2 * EDGE_BAND_PX + 1, 2 * EDGE_BAND_PX + 1), np.uint8)
    near_backdrop = cv2.dilate((crop_alpha < 5).astype(np.uint8), band) > 0
    region = soft[y0:y1, x0:x1] & near_backdrop
    if not region.any():
        return out
    size = (WINDOW, WINDOW)
    background = _masked_mean(crop, crop_alpha < 5, region, size, cv2)
    solid = _masked_mean(crop, crop_alpha > 250, region, size, cv2)
    a = (crop_alpha[region].astype(np.float32) / 255.0)[:, None]
    unmixed = (crop[region].astype(np.float32) - (1 - a) * background) / np.maximum(a, 1e-3)
    # Below ~0.3 the division amplifies noise: lean on the nearby solid colour instead.
    trust = np.clip((a - 0.1) / 0.3, 0.0, 1.0)
    estimate = trust * unmixed + (1 - trust) * solid
    out[y0:y1, x0:x1][region] = np.clip(estimate + 0.5, 0, 255).astype(np.uint8)
    return out


def _masked_mean(image: np.ndarray, mask: np.ndarray, where: np.ndarray,
                 size: tuple[int, int], cv2) -> np.ndarray:
    """Window average of ``image`` (uint8) over ``mask``, sampled at ``where`` → (n, 3).

    Pixels with no ``mask`` pixel in their window get the mask's overall mean.
    """
    mask8 = mask.astype(np.uint8)
    masked = cv2.bitwise_and(image, image, mask=mask8)
    weight = cv2.boxFilter(mask8, cv2.CV_32F, size)[where]
    total = cv2.boxFilter(masked, cv2.CV_32F, size)[where]
    has = weight > 1e-4
    result = np.empty_like(total)
    result[has] = total[has] / weight[has][:, None]
    if not has.all():
        result[~has] = cv2.mean(image, mask=mask8)[:3] if mask.any() else 0.0
    return result
