"""Composite: background, then shadow, then the product layer with its own alpha.

Wherever the product's alpha is 255 the output pixel *is* the product pixel (no arithmetic that
could round it differently); the fidelity stage proves it for every output.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.stages.frame import Layer
from pipeline.stages.shadow import ShadowLayer


def solid_canvas(size: tuple[int, int], colour: tuple[int, int, int] | None) -> np.ndarray:
    """An (H, W, 3) canvas of ``colour``, or a transparent (H, W, 4) one for ``None``."""
    width, height = size
    if colour is None:
        return np.zeros((height, width, 4), np.uint8)
    canvas = np.empty((height, width, 3), np.uint8)
    # One row, then rows from it: numpy broadcasts a 3-tuple over a 2048² canvas pixel by
    # pixel (about 30 ms); copying whole rows is a memset's speed.
    canvas[0] = colour
    canvas[1:] = canvas[0]
    return canvas


def composite(background: np.ndarray, product: Layer, shadow: ShadowLayer | None) -> np.ndarray:
    """Return a new image: ``background`` (RGB or RGBA) with the shadow and product on top."""
    height, width = background.shape[:2]
    if (width, height) != product.canvas:
        raise ValueError(
            f"background is {width}x{height} but the product layer is for {product.canvas}"
        )
    out = background.copy()
    if shadow is not None:
        _paint_shadow(out, shadow)
    _paint_layer(out, product)
    return out


def _paint_shadow(out: np.ndarray, shadow: ShadowLayer) -> None:
    patch_h, patch_w = shadow.opacity.shape
    region = out[shadow.y : shadow.y + patch_h, shadow.x : shadow.x + patch_w]
    opacity = shadow.opacity[..., None]
    colour = np.array(shadow.colour, np.float32)
    if out.shape[2] == 3:
        mixed = region.astype(np.float32) * (1 - opacity) + colour * opacity
        region[...] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return
    # Transparent canvas: the shadow becomes semi-transparent colour under what is there.
    base_a = region[..., 3:4].astype(np.float32) / 255.0
    out_a = base_a + opacity * (1 - base_a)
    rgb = (region[..., :3].astype(np.float32) * base_a
           + colour * opacity * (1 - base_a)) / np.maximum(out_a, 1e-6)
    region[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    region[..., 3:4] = np.clip(out_a * 255 + 0.5, 0, 255).astype(np.uint8)


def _paint_layer(out: np.ndarray, layer: Layer) -> None:
    """Paint the product: opaque pixels are copied, only the soft edge is blended.

    ``out`` is composite's own contiguous copy. The opaque copy is one masked OpenCV copy
    into the region (numpy's masked copy of a strided RGB view is several times slower); the
    edge is gathered and scattered by flat index into ``out``, with the same arithmetic.
    """
    x0, y0, x1, y1 = layer.box
    region = out[y0:y1, x0:x1]
    src = np.ascontiguousarray(layer.rgba)
    alpha8 = src[..., 3]
    channels = out.shape[2]
    opaque = alpha8 == 255
    colour = src if channels == 4 else cv2.cvtColor(src, cv2.COLOR_RGBA2RGB)
    painted = cv2.copyTo(colour, opaque.view(np.uint8), region)
    if not np.shares_memory(painted, region):  # pragma: no cover - OpenCV copied the view
        np.copyto(region, colour, where=opaque[..., None])
    edge = np.flatnonzero((alpha8 > 0) & ~opaque)
    if not edge.size:
        return
    patch_w = src.shape[1]
    flat = out.reshape(-1, channels)
    where = (edge // patch_w + y0) * out.shape[1] + (edge % patch_w + x0)
    top = src.reshape(-1, 4)[edge]
    a = top[:, 3:4].astype(np.float32) / 255.0
    top = top.astype(np.float32)
    below = flat[where].astype(np.float32)
    if channels == 3:
        mixed = top[:, :3] * a + below * (1 - a)
        flat[where] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return
    base_a = below[:, 3:4] / 255.0
    out_a = a + base_a * (1 - a)
    rgb = (top[:, :3] * a + below[:, :3] * base_a * (1 - a)) / np.maximum(out_a, 1e-6)
    merged = np.empty((rgb.shape[0], 4), np.float32)
    merged[:, :3] = rgb
    merged[:, 3:4] = out_a * 255
    flat[where] = np.clip(merged + 0.5, 0, 255).astype(np.uint8)
