"""Backdrop evidence for the classical segmenter: the backdrop's colour behind every pixel
(local means, and a smooth model of the sweep where the product is wide) and cast shadows kept
as product. Apart from ``classical`` so each file stays readable; it re-exports these names.
"""

from __future__ import annotations

import cv2
import numpy as np

# Cast shadow kept as product: product pixels that are the backdrop behind them darkened
# (ratio SHADOW_DARK, same hue within SHADOW_HUE, flat), in a part that is over SHADOW_SHARE of
# the cutout, not all of it, and reaches sideways past the rest of the product (a floor shadow
# from a low key light) by over SHADOW_REACH of its own pixels.
SHADOW_DARK = (0.25, 0.92)
SHADOW_HUE = 0.05
SHADOW_SHARE = 0.015  # a soft shadow's kept wedge measured 2.6-3.1% on the eval set
SHADOW_REACH = 0.35
SHADOW_WORK = 256  # long side the shadow check runs at (a region signal, no edge detail)

def local_backdrop(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The backdrop's colour behind every pixel: the mean of the backdrop nearby, and where the
    product is wide (a loop's inside, a glass body) a smooth model of the whole backdrop.

    The model is a cubic in x and y per channel, fitted to the backdrop pixels: a sweep's light
    falls off by 20-40 levels toward the floor and vignetting darkens the corners, so the
    backdrop's median is the colour of no place in particular; against it the top of a big
    loop's inside was too far off to be found a hole.
    """
    height, width = background.shape
    size = (max(15, width // 12) | 1,) * 2
    local_bg = _masked_mean(image, background, size)
    far = cv2.blur(background.astype(np.float32), size) < 1e-3
    if far.any():
        local_bg[far] = _backdrop_model(image, background, far)
    return local_bg


def _backdrop_model(image: np.ndarray, background: np.ndarray, where: np.ndarray) -> np.ndarray:
    """A least-squares cubic surface per channel through the backdrop, sampled at ``where``."""
    height, width = background.shape
    ys, xs = np.nonzero(background)
    if ys.size < 20:
        return np.broadcast_to(np.median(image[background], axis=0), (int(where.sum()), 3))
    step = max(1, ys.size // 20_000)
    ys, xs = ys[::step], xs[::step]

    def terms(y, x):
        u, v = x / width - 0.5, y / height - 0.5
        return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v,
                         u ** 3, u * u * v, u * v * v, v ** 3], axis=1)

    coef, *_ = np.linalg.lstsq(terms(ys.astype(np.float32), xs.astype(np.float32)),
                               image[ys, xs], rcond=None)
    # A smooth surface: evaluated on a grid a quarter the size and resized, not per pixel.
    gh, gw = max(2, height // 4), max(2, width // 4)
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    grid = (terms((gy.ravel() + 0.5) * height / gh - 0.5, (gx.ravel() + 0.5) * width / gw - 0.5)
            @ coef).reshape(gh, gw, 3).astype(np.float32)
    surface = cv2.resize(grid, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(surface[where], 0, 255)


def cast_shadow(small: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Product pixels that look like a shadow cast on the backdrop and kept as product.

    A shadow is the backdrop behind it darkened: every channel divided by the backdrop's
    (``local_backdrop``) gives the same ratio, within ``SHADOW_DARK``, and it is flat. A grey
    product on a white sweep is that too, so a part counts only when it is a sizeable part of
    the cutout but not all of it, and reaches sideways past the columns the rest of the product
    (less every shadow-like part) stands in: a shadow thrown along the floor does, a grey sole
    or panel does not.
    """
    none = np.zeros_like(foreground)
    if foreground.all() or not foreground.any():
        return none
    height, width = foreground.shape
    if max(height, width) > 1.5 * SHADOW_WORK:  # a region signal: half the work size will do
        size = (max(8, width // 2), max(8, height // 2))
        half = cv2.resize(foreground.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        found = cast_shadow(cv2.resize(small, size, interpolation=cv2.INTER_AREA), half > 0)
        return cv2.resize(found.astype(np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST) > 0
    background = ~foreground
    image = small.astype(np.float32)
    ratio = image / np.maximum(local_backdrop(image, background), 1.0)
    level = ratio.mean(axis=2)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    flat = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) < 8
    like = (foreground & flat & (level > SHADOW_DARK[0]) & (level < SHADOW_DARK[1])
            & (ratio.max(axis=2) - ratio.min(axis=2) < SHADOW_HUE))
    product = int(foreground.sum())
    if like.sum() < SHADOW_SHARE * product:
        return none
    count, labels, stats, _ = cv2.connectedComponentsWithStats(like.astype(np.uint8), 8)
    areas = stats[:, cv2.CC_STAT_AREA]
    sizeable = np.flatnonzero((areas >= SHADOW_SHARE * product) & (areas <= 0.6 * product))
    sizeable = sizeable[sizeable > 0]
    if sizeable.size == 0:
        return none
    # The body of the rest of the product: an opening drops the parts' own outlines (a soft
    # edge is not flat, so it is not in a part) and other ribbons a few px wide.
    body = cv2.morphologyEx((foreground & ~like).astype(np.uint8), cv2.MORPH_OPEN,
                            np.ones((5, 5), np.uint8)) > 0
    columns = np.flatnonzero(body.any(axis=0))
    if columns.size == 0:
        return none
    ys, xs = np.nonzero(like)
    owner = labels[ys, xs]
    outside = (xs < columns[0]) | (xs > columns[-1])
    beyond = np.bincount(owner, outside, minlength=count) / np.maximum(1, areas)
    shadow = np.zeros(count, bool)
    shadow[sizeable] = beyond[sizeable] > SHADOW_REACH
    return shadow[labels]


def _masked_mean(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    weight = cv2.blur(mask.astype(np.float32), size)
    total = cv2.blur(image * mask[..., None].astype(np.float32), size)
    total /= np.maximum(weight, 1e-4)[..., None]  # in place: one float copy fewer at a time
    return total
