"""A small studio evaluation set with exact masks: the failure classes of issue 15.

Each case is drawn at 4x and reduced, so its alpha is exact and soft at the edge like a photo's:
a white panel inside a dark product, white on white, a bag with a thin strap loop (a true hole),
a hard cast shadow beside the product, a product cut by the frame, and plain products as
controls. ``iou`` compares a cutout with the truth at alpha 0.5.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SIZE = (360, 270)
S = 4  # supersampling


def _reduce(big: Image.Image) -> np.ndarray:
    return np.asarray(big.resize(SIZE, Image.Resampling.BOX), np.float32)


def _case(draw_product, draw_paint=None, backdrop=(255, 255, 255), shadow=None, noise=2.0,
          seed=0) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8, exact alpha float) from drawing callbacks on 4x canvases."""
    w, h = SIZE[0] * S, SIZE[1] * S
    mask = Image.new("L", (w, h), 0)
    draw_product(ImageDraw.Draw(mask), w, h, 255)
    paint = Image.new("RGB", (w, h), (0, 0, 0))
    if draw_paint is not None:
        draw_paint(ImageDraw.Draw(paint), w, h)
    alpha = _reduce(mask) / 255.0
    colour = _reduce(paint)
    rng = np.random.default_rng(seed)
    bg = np.empty((*alpha.shape, 3), np.float32)
    bg[...] = backdrop
    if shadow is not None:
        shade = Image.new("L", (w, h), 0)
        shadow(ImageDraw.Draw(shade), w, h, 255)
        bg *= 1 - 0.45 * (_reduce(shade) / 255.0)[..., None]
    rgb = colour * alpha[..., None] + bg * (1 - alpha[..., None])
    rgb += rng.normal(0, noise, rgb.shape)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8), alpha


def _box(d, w, h, v):
    d.rectangle((w * 0.3, h * 0.15, w * 0.7, h * 0.85), fill=v)


def _ellipse(d, w, h, v):
    d.ellipse((w * 0.32, h * 0.22, w * 0.68, h * 0.82), fill=v)


def eval_set() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, rgb, exact alpha) for every case."""
    cases = []

    def panel_paint(d, w, h):  # a dark DVD case with a white label panel and a title
        d.rectangle((0, 0, w, h), fill=(35, 35, 45))
        d.rectangle((w * 0.36, h * 0.3, w * 0.64, h * 0.7), fill=(255, 255, 255))
        d.rectangle((w * 0.4, h * 0.2, w * 0.6, h * 0.24), fill=(250, 250, 250))
    cases.append(("white-panel", *_case(_box, panel_paint)))

    def near_white(d, w, h):
        d.rectangle((0, 0, w, h), fill=(236, 236, 232))
    cases.append(("white-on-white", *_case(_ellipse, near_white, seed=1)))

    def bag(d, w, h, v):  # body plus a thin strap loop above it (its inside is backdrop)
        d.rectangle((w * 0.3, h * 0.45, w * 0.7, h * 0.85), fill=v)
        d.ellipse((w * 0.38, h * 0.1, w * 0.62, h * 0.6), outline=v, width=int(h * 0.012))

    def bag_paint(d, w, h):
        d.rectangle((0, 0, w, h), fill=(120, 60, 30))
    cases.append(("thin-strap", *_case(bag, bag_paint, seed=2)))

    def cast(d, w, h, v):  # a hard shadow thrown to the right along the floor
        d.polygon([(w * 0.66, h * 0.85), (w * 0.95, h * 0.78), (w * 0.95, h * 0.86),
                   (w * 0.68, h * 0.86)], fill=v)

    def blue(d, w, h):
        d.rectangle((0, 0, w, h), fill=(40, 80, 190))
    cases.append(("cast-shadow", *_case(_box, blue, shadow=cast, seed=3)))

    def cut(d, w, h, v):  # standing past the bottom edge of the photo
        d.rounded_rectangle((w * 0.3, h * 0.3, w * 0.7, h * 1.2), radius=int(w * 0.05), fill=v)

    def green(d, w, h):
        d.rectangle((0, 0, w, h), fill=(40, 120, 70))
    cases.append(("cut-by-frame", *_case(cut, green, seed=4)))

    def red(d, w, h):
        d.rectangle((0, 0, w, h), fill=(190, 50, 40))
    cases.append(("plain-box", *_case(_box, red, seed=5)))
    cases.append(("plain-ball", *_case(_ellipse, blue, seed=6)))
    return cases


def iou(alpha: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union at alpha 0.5 (alpha uint8 0..255, truth float 0..1)."""
    mask, want = alpha > 127, truth > 0.5
    return float((mask & want).sum() / max(1, (mask | want).sum()))
