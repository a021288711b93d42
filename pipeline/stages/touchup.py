"""Touch-up: a merchant's keep/erase brush strokes applied to the mask an output was made from.

A stroke is ``{"mode": "keep" | "erase", "radius": r, "points": [[x, y], ...]}`` in pixels of
the (upright) source photo: a round brush of radius ``r`` dragged through the points. "keep"
paints product (alpha 255), "erase" paints backdrop (alpha 0); strokes apply in order, so a
later one wins where they cross. Edges are anti-aliased, so a stroke that ends on the product's
outline leaves a soft edge rather than a staircase. The strokes are validated where they are
received (``photosync.services.touchup``); here they are only drawn.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

KEEP, ERASE = "keep", "erase"
_SHIFT = 4  # cv2 fixed-point bits: strokes keep sub-pixel precision (1/16 px)


def apply_strokes(mask: np.ndarray, strokes: list[dict]) -> tuple[np.ndarray, dict[str, int]]:
    """``mask`` (H, W uint8) with ``strokes`` drawn on it, and how many pixels each mode changed
    (``kept_px``: now more opaque, ``erased_px``: now more transparent)."""
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError("the mask must be a (H, W) uint8 array")
    out = np.ascontiguousarray(mask.copy())
    scale = 1 << _SHIFT
    for stroke in strokes:
        value = 255 if stroke["mode"] == KEEP else 0
        radius = max(1, int(round(float(stroke["radius"]))))
        points = [(int(round(float(x) * scale)), int(round(float(y) * scale)))
                  for x, y in stroke["points"]]
        for point in points:  # a click (one point) is a dot; a drag, dots joined by lines
            cv2.circle(out, point, radius * scale, value, thickness=-1, lineType=cv2.LINE_AA,
                       shift=_SHIFT)
        for start, end in itertools.pairwise(points):
            cv2.line(out, start, end, value, thickness=2 * radius, lineType=cv2.LINE_AA,
                     shift=_SHIFT)
    diff = out.astype(np.int16) - mask.astype(np.int16)
    return out, {"kept_px": int(np.count_nonzero(diff > 0)),
                 "erased_px": int(np.count_nonzero(diff < 0))}
