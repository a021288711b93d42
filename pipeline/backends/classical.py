"""The classical segmenter: no weights, always available.

A flood fill from the border with a *floating* colour range (each pixel is compared with its
already-filled neighbour, so the fill follows sweeps, gradients and soft shadows) marks the
backdrop on a reduced copy; GrabCut, seeded from that mask, refines it; the result is brought
back to full resolution and its edge band is re-estimated from the local backdrop and product
colours, which gives a soft alpha along the true edge rather than an upscaled staircase.
See docs/pipeline.md for the measurements behind these choices.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.backends.backdrop import _masked_mean, cast_shadow, local_backdrop
from pipeline.backends.base import Segmentation
from pipeline.backends.matting import refine_alpha

WORK_SIZE = 512  # long side of the reduced copy the flood fill and GrabCut run on
FLOAT_DIFF = 3  # per-channel step the flood fill accepts between neighbours
LEAK_RATIO = 0.5  # a fill keeping under this share of the strict fill's product has leaked
SEED_DISTANCE = 48.0  # border pixels this far (RGB) from the border median are not seeds
GRABCUT_ITERATIONS = 3
BAND_PX = 6  # GrabCut may move the edge this far (work-size pixels)
# An enclosed backdrop-coloured region is a hole only with evidence: the product around it is
# thin somewhere (a handle loop, between straps), within this share of the long side of the
# backdrop outside. Else it is kept (a white label, a panel). Either way, big regions whose
# separation is over CLEAR_SEPARATION are doubted: on the sample photos a DVD's white panel
# (13 px at 512) and a jump rope's loops (12-22 px) cannot be told apart by this alone.
THIN_SEPARATION = 0.05
CLEAR_SEPARATION = 0.02
DOUBT_SHARE = 0.02  # ambiguous regions over this share of the product are doubted
HOLE_SHIFT = 3.0  # levels: a region this far off the backdrop model is not backdrop
WEAK_EDGE = 6.0  # mean gradient (work size, grey levels) on the cutout's edge below which...


class ClassicalSegmenter:
    """Flood fill + GrabCut + edge-band refinement; see the module docstring."""

    name = "classical"

    def __init__(self, *, alpha_matting: bool = False) -> None:
        self.alpha_matting = alpha_matting

    def segment(self, rgb: np.ndarray) -> Segmentation:
        height, width = rgb.shape[:2]
        scale = min(1.0, WORK_SIZE / max(height, width))
        small_w, small_h = max(8, round(width * scale)), max(8, round(height * scale))
        small = cv2.resize(rgb, (small_w, small_h), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (3, 3), 0)

        background = flood_background(small)
        holes, kept, shaded = find_holes(small, background)
        background |= holes
        notes: list[str] = []
        doubts: list[str] = []
        confident = 0.02 <= float(background.mean()) <= 0.995
        if not confident:
            notes.append("classical: the border flood fill found no separable backdrop")
        foreground = _grabcut(small, background)
        foreground = _clean(foreground)
        if confident:
            doubts = _doubts(small, foreground, kept, shaded)
        alpha = _upscale_alpha(rgb, foreground, scale)
        if self.alpha_matting:
            alpha = refine_alpha(rgb, alpha)
        notes.extend(f"classical: {d}" for d in doubts)
        return Segmentation(alpha=alpha, notes=notes, confident=confident and not doubts,
                            doubt="; ".join(doubts))

    def preload(self) -> list[str]:
        return []  # nothing to load: no weights


def border_uniformity(rgb: np.ndarray) -> float:
    """Share of border pixels close to the border's median colour (1.0 = a clean backdrop)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, 256 / max(height, width))
    small = cv2.resize(
        rgb, (max(8, round(width * scale)), max(8, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    ).astype(np.float32)
    border = _border_pixels(small)
    median = np.median(border, axis=0)
    return float((np.linalg.norm(border - median, axis=1) < 24.0).mean())


def flood_background(small: np.ndarray) -> np.ndarray:
    """Boolean backdrop mask from the border fill, guarded against leaks.

    A floating range follows gradients, but where the product's edge loses all contrast (a dark
    product in its own shadow) it also walks into the product and floods it. Such a leak shows
    as the wide fill losing most of what the strict fill kept as product; then the next
    stricter range is used.
    """
    strict = ~_flood(small, 1)
    strict_area = max(1, int(strict.sum()))
    for diff in range(FLOAT_DIFF, 1, -1):
        background = _flood(small, diff)
        if (~background).sum() >= LEAK_RATIO * strict_area:
            return background
    return ~strict


def _flood(small: np.ndarray, float_diff: int) -> np.ndarray:
    """A floating-range flood fill from backdrop-coloured border pixels."""
    height, width = small.shape[:2]
    fill_mask = np.zeros((height + 2, width + 2), np.uint8)
    border = _border_coords(height, width)
    colours = small[border[:, 0], border[:, 1]].astype(np.float32)
    median = np.median(colours, axis=0)
    seedable = np.linalg.norm(colours - median, axis=1) < SEED_DISTANCE
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
    diff = (float_diff,) * 3
    image = np.ascontiguousarray(small)
    for (y, x), ok in zip(border, seedable, strict=True):
        if ok and not fill_mask[y + 1, x + 1]:
            cv2.floodFill(image, fill_mask, (int(x), int(y)), (0, 0, 0), diff, diff, flags)
    return fill_mask[1:-1, 1:-1] > 0


def find_holes(small: np.ndarray, background: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enclosed backdrop the border fill cannot reach (inside a handle loop, between straps),
    the backdrop-coloured regions, removed or kept, whose call is not clear, and the enclosed
    regions kept because they are darker than the backdrop: (holes, ambiguous, shaded).

    Candidates are smooth pixels within a few levels of the local backdrop colour (averaged from
    the filled backdrop nearby), in regions big enough to matter. A region is a hole only when
    the product separating it from the backdrop outside is thin somewhere (``THIN_SEPARATION``):
    a white panel or label framed by a thick product has the backdrop's colour but is product.
    Nor is a region whose mean colour is over ``HOLE_SHIFT`` levels off the backdrop model in
    some channel: a true hole's mean is within a level of it on the eval set (noise averages
    out), a clear glass body or a label a few levels off is product. A darker one (glass, or a
    hole in the product's own shadow) is kept and returned as ``shaded``, to be doubted.
    """
    height, width = background.shape
    if background.all() or not background.any():
        empty = np.zeros_like(background)
        return empty, empty, empty
    image = small.astype(np.float32)
    local_bg = local_backdrop(image, background)
    close = np.linalg.norm(image - local_bg, axis=2) < 10.0
    grad = cv2.morphologyEx(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), cv2.MORPH_GRADIENT,
                            np.ones((3, 3), np.uint8))
    candidates = close & (grad < 6) & ~background
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8), 4)
    minimum = max(9, int(background.size * 0.0008))
    big = np.zeros(count, bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= minimum
    if not big.any():
        return big[labels], big[labels], big[labels]
    # Distance of each product pixel to the backdrop outside: how thick the product around is.
    depth = cv2.distanceTransform((~background).astype(np.uint8), cv2.DIST_L2, 3)
    nearest = np.full(count, np.inf, np.float32)
    inside = big[labels]
    np.minimum.at(nearest, labels[inside], depth[inside])
    long_side = max(height, width)
    thin = nearest <= max(3.0, THIN_SEPARATION * long_side)
    clear = nearest <= max(3.0, CLEAR_SEPARATION * long_side)
    residual = (image - local_bg)[inside]
    shift = np.stack([np.bincount(labels[inside], residual[:, c], minlength=count)
                      for c in range(3)], axis=1)
    shift /= np.maximum(1, stats[:, cv2.CC_STAT_AREA])[:, None]
    off = np.abs(shift).max(axis=1) > HOLE_SHIFT
    darker = shift.mean(axis=1) < 0
    holes = big & thin & ~off
    return holes[labels], (big & ~clear & ~off)[labels], (big & thin & off & darker)[labels]


def _doubts(small: np.ndarray, foreground: np.ndarray, ambiguous: np.ndarray,
            shaded: np.ndarray | None = None) -> list[str]:
    """Measurable reasons to doubt a cutout: big backdrop-coloured regions inside the product
    that may be holes or white parts, enclosed regions a little darker than the backdrop
    (glass, or a hole in shadow), a part that looks like a cast shadow, and an edge that does
    not follow the image's own."""
    doubts = []
    product = max(1, int((foreground | ambiguous).sum()))
    share = float(ambiguous.sum()) / product
    removed = float((ambiguous & ~foreground).sum()) / product
    if share > DOUBT_SHARE:
        doubts.append(f"{share:.0%} of the product has the backdrop's colour and could be a "
                      "hole or a white part (a panel, a label)")
    elif removed > 0:  # small, but cut out of a thick frame: a DVD's title bar, a label
        doubts.append(f"a backdrop-coloured region framed by the product ({removed:.1%} of it) "
                      "was removed as a hole and could be a white part (a title, a label)")
    share = float((shaded & foreground).sum()) / product if shaded is not None else 0.0
    if share > DOUBT_SHARE:
        doubts.append(f"{share:.0%} of the product is enclosed and only a few levels darker "
                      "than the backdrop: glass or a transparent part (kept), or a hole in "
                      "shadow")
    share = float(cast_shadow(small, foreground).sum()) / product
    if share > 0:
        doubts.append(f"{share:.0%} of the cutout is the backdrop's colour darkened and reaches "
                      "sideways past the product: a cast shadow may have been kept as product")
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    gradient = cv2.morphologyEx(grey, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edge = cv2.morphologyEx(foreground.astype(np.uint8), cv2.MORPH_GRADIENT,
                            np.ones((3, 3), np.uint8)) > 0
    strength = float(gradient[edge].mean()) if edge.any() else 0.0
    if strength < WEAK_EDGE:
        doubts.append(f"the cutout's edge barely follows the photo's (mean contrast "
                      f"{strength:.1f} levels): the product may blend into the backdrop")
    return doubts


def _grabcut(small: np.ndarray, background: np.ndarray) -> np.ndarray:
    """GrabCut confined to a band around the fill's edge.

    Away from the edge the fill's answer is kept: where product and backdrop colours overlap
    (grey products, dark on dark) unconstrained GrabCut can discard a whole product.
    """
    if background.all() or not background.any():
        return ~background
    foreground = ~background
    band_px = BAND_PX
    inside = cv2.distanceTransform(foreground.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(background.astype(np.uint8), cv2.DIST_L2, 3)
    mask = np.full(background.shape, cv2.GC_BGD, np.uint8)
    mask[background & (outside <= band_px)] = cv2.GC_PR_BGD
    mask[foreground & (inside <= band_px)] = cv2.GC_PR_FGD
    mask[foreground & (inside > band_px)] = cv2.GC_FGD
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    # grabCut seeds its colour models from OpenCV's per-thread RNG, which every call advances:
    # without a fixed seed the same photo gets a different mask on each run in one process.
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, mask, None, bgd_model, fgd_model, GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return foreground
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def _clean(foreground: np.ndarray) -> np.ndarray:
    """Drop specks and fill pinholes (both under 0.05% of the image)."""
    area = foreground.size
    minimum = max(4, int(area * 0.0005))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(foreground.astype(np.uint8), 8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= minimum
    if count > 1 and not keep.any():
        keep[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))] = True
    cleaned = keep[labels]
    holes = ~cleaned
    count, labels, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), 4)
    small_hole = np.zeros(count, bool)
    small_hole[1:] = stats[1:, cv2.CC_STAT_AREA] < minimum
    return cleaned | small_hole[labels]


def _upscale_alpha(rgb: np.ndarray, foreground: np.ndarray, scale: float) -> np.ndarray:
    """Full-resolution soft alpha from the reduced binary mask.

    The upscaled mask gives an edge band a few pixels wide; inside it alpha is estimated per pixel
    by projecting the colour onto the line between the local backdrop colour and the local
    product colour (both averaged from the confident pixels nearby).
    """
    height, width = rgb.shape[:2]
    coarse = cv2.resize(foreground.astype(np.float32), (width, height),
                        interpolation=cv2.INTER_LINEAR)
    if scale >= 1.0:
        coarse = cv2.GaussianBlur(coarse, (3, 3), 0)
    radius = max(2, int(round(1.5 / max(scale, 1e-6))))
    band = (coarse > 0.02) & (coarse < 0.98)
    if radius > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        band = cv2.dilate(band.astype(np.uint8), kernel) > 0
    fg = (coarse >= 0.5) & ~band
    bg = (coarse < 0.5) & ~band
    alpha = (coarse >= 0.5).astype(np.float32)
    ys, xs = np.nonzero(band)
    if ys.size:
        y0, y1 = max(0, ys.min() - 4 * radius), min(height, ys.max() + 4 * radius + 1)
        x0, x1 = max(0, xs.min() - 4 * radius), min(width, xs.max() + 4 * radius + 1)
        crop = rgb[y0:y1, x0:x1].astype(np.float32)
        size = (4 * radius + 1, 4 * radius + 1)
        local_f = _masked_mean(crop, fg[y0:y1, x0:x1], size)
        local_b = _masked_mean(crop, bg[y0:y1, x0:x1], size)
        # In place (the same float32 arithmetic, element by element): each (H, W, 3) float
        # copy of the photo is 17 MiB at 1.4 MP, and this step was the job's memory peak.
        diff = local_f
        diff -= local_b
        denom = (diff * diff).sum(axis=2)
        crop -= local_b
        crop *= diff
        del local_b, diff, local_f
        projected = crop.sum(axis=2) / np.maximum(denom, 1e-3)
        del crop
        estimate = np.clip(projected, 0.0, 1.0)
        prior = coarse[y0:y1, x0:x1]
        # Where backdrop and product colours are too close to separate, trust the coarse mask.
        confident = np.clip((np.sqrt(denom) - 12.0) / 24.0, 0.0, 1.0)
        refined = confident * estimate + (1 - confident) * _smoothstep(prior)
        # Keep the refinement near the coarse edge: far from it the prior wins.
        refined = np.where(prior > 0.97, np.maximum(refined, prior), refined)
        refined = np.where(prior < 0.03, np.minimum(refined, prior * 10), refined)
        window = band[y0:y1, x0:x1]
        alpha[y0:y1, x0:x1][window] = refined[window]
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip((x - 0.25) / 0.5, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _border_coords(height: int, width: int) -> np.ndarray:
    top = [(0, x) for x in range(width)]
    bottom = [(height - 1, x) for x in range(width)]
    left = [(y, 0) for y in range(1, height - 1)]
    right = [(y, width - 1) for y in range(1, height - 1)]
    return np.array(top + bottom + left + right, dtype=np.int64)


def _border_pixels(image: np.ndarray) -> np.ndarray:
    coords = _border_coords(*image.shape[:2])
    return image[coords[:, 0], coords[:, 1]].reshape(-1, image.shape[2])
