"""A photo the classical segmenter cuts out wrongly, for the touch-up tests: a navy box with a
white label panel that opens onto the box's top edge, on a white sweep. The panel is the
backdrop's colour and touches it, so it is cut away with the backdrop; a keep stroke over it
restores it. Coordinates are the photo's pixels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (1800, 1350)
BOX = (570, 300, 1230, 1140)  # x0, y0, x1, y1 (inclusive)
PANEL = (735, 300, 1065, 645)  # the white label, open at the box's top edge
BACKDROP = (244, 244, 242)


def panel_photo() -> bytes:
    image = Image.new("RGB", SIZE, BACKDROP)
    draw = ImageDraw.Draw(image)
    draw.rectangle(BOX, fill=(38, 52, 90))
    draw.rectangle(PANEL, fill=BACKDROP)
    draw.rectangle((795, 450, 1005, 480), fill=(200, 40, 40))  # a printed title on the label
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    noise = np.random.default_rng(0).integers(-2, 3, (SIZE[1], SIZE[0], 3))
    pixels = np.clip(np.asarray(image).astype(np.int16) + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def panel_strokes(radius: float = 60.0) -> list[dict]:
    """Keep strokes that paint the panel back in: a zigzag inside it, clear of the box's outer
    edge by more than the radius, so nothing of the backdrop is added."""
    x0, y0, x1, y1 = PANEL
    points, y, left = [], y0 + radius, True
    while y <= y1:
        points.append([x0 + radius if left else x1 - radius, y])
        points.append([x1 - radius if left else x0 + radius, y])
        y += radius
        left = not left
    # the band along the top edge, where the panel meets the backdrop: straight across
    top = [[x0 + radius, y0 + radius * 0.6], [x1 - radius, y0 + radius * 0.6]]
    return [{"mode": "keep", "radius": radius, "points": points},
            {"mode": "keep", "radius": radius * 0.6, "points": top}]


def panel_alpha(mask: np.ndarray) -> float:
    """The mean alpha over the panel's inside (a margin in from its sides)."""
    x0, y0, x1, y1 = PANEL
    return float(mask[y0 + 15:y1 - 15, x0 + 15:x1 - 15].mean())
