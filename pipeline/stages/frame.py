"""Frame: place the product cutout on a canvas at the preset's size and fill.

The product arrives as a straight-alpha RGBA cutout at source resolution. It is cropped to its
alpha bounding box, resized once with premultiplied alpha (no dark or light halos) and placed as a
:class:`Layer`: a patch plus its offset on the canvas. Later stages (shadow, scene, composite)
work on the same layer, so every output shows the very same product pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.presets import FramePreset

ALPHA_THRESHOLD = 8  # alpha at or below this does not count towards the product's box


@dataclass
class Layer:
    """An RGBA patch at ``(x, y)`` on a ``canvas`` (width, height)."""

    rgba: np.ndarray  # (h, w, 4) uint8, straight alpha
    x: int
    y: int
    canvas: tuple[int, int]
    scale: float  # output pixels per source pixel

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.rgba.shape[1], self.y + self.rgba.shape[0]


def product_bbox(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of alpha above the threshold; ValueError when there is none."""
    rows = np.flatnonzero((alpha > ALPHA_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((alpha > ALPHA_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask is empty: no product pixels to frame")
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def crop_product(cutout: np.ndarray) -> np.ndarray:
    """The cutout cropped to the product's bounding box."""
    x0, y0, x1, y1 = product_bbox(cutout[..., 3])
    return cutout[y0:y1, x0:x1]


def resize_rgba(rgba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a straight-alpha RGBA array through premultiplied alpha (Lanczos)."""
    if (rgba.shape[1], rgba.shape[0]) == size:
        return rgba.copy()
    image = Image.fromarray(rgba, "RGBA").convert("RGBa")
    return np.array(image.resize(size, Image.Resampling.LANCZOS).convert("RGBA"))


def place(
    product: np.ndarray,
    *,
    canvas: tuple[int, int],
    box: tuple[float, float],
    centre: tuple[float, float] | None = None,
    base: tuple[float, float] | None = None,
    max_scale: float | None = None,
) -> Layer:
    """Scale ``product`` (already cropped) to fit ``box`` (width, height in pixels) and place it.

    Either ``centre`` (x, y of the product's centre) or ``base`` (x of its centre, y of its
    bottom edge) positions it. ``max_scale`` caps enlargement (``1.0`` keeps source pixels).
    """
    height, width = product.shape[:2]
    scale = min(box[0] / width, box[1] / height)
    if max_scale is not None:
        scale = min(scale, max_scale)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    patch = product if (new_w, new_h) == (width, height) else resize_rgba(product, (new_w, new_h))
    if base is not None:
        x = round(base[0] - new_w / 2)
        y = round(base[1] - new_h)
    else:
        cx, cy = centre if centre is not None else (canvas[0] / 2, canvas[1] / 2)
        x, y = round(cx - new_w / 2), round(cy - new_h / 2)
    return _clip_layer(Layer(patch, x, y, canvas, new_w / width))


def frame_layer(cutout: np.ndarray, preset: FramePreset) -> Layer:
    """Place a full-size cutout on the preset's canvas (see :class:`FramePreset`)."""
    product = crop_product(cutout)
    height, width = product.shape[:2]
    if preset.width is None or preset.height is None:
        margin = round(max(width, height) * preset.margin)
        canvas = (width + 2 * margin, height + 2 * margin)
        return Layer(product.copy(), margin, margin, canvas, 1.0)
    canvas = (preset.width, preset.height)
    if preset.fill is None:
        return place(product, canvas=canvas, box=canvas, max_scale=1.0)
    box = (preset.width * preset.fill, preset.height * preset.fill)
    return place(product, canvas=canvas, box=box)


def _clip_layer(layer: Layer) -> Layer:
    """Crop a layer to its canvas (a product may overhang when placed on a floor line)."""
    width, height = layer.canvas
    x0, y0, x1, y1 = layer.box
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if (cx0, cy0, cx1, cy1) == (x0, y0, x1, y1):
        return layer
    patch = layer.rgba[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return Layer(patch.copy(), cx0, cy0, layer.canvas, layer.scale)
