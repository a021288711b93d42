"""Fidelity: numbers for every output, and the review flags they trigger.

* product pixel fidelity — inside the product (opaque alpha, eroded by two pixels) the output must
  equal the placed product exactly: ``product_max_abs_diff`` is 0 after a correct composite-back;
  ``product_compared_share`` is the share of the product's core that was compared: alpha >= 128,
  at least ``EDGE_SOURCE_PX`` source pixels inside its edge (the resize softens that band).
  Under ``MIN_COMPARED_SHARE`` the check cannot vouch for the product (a soft model mask, glass)
  and says so with a flag instead of passing on the pixels it did not see;
* colour drift — CIEDE2000 of the output's product against the enhanced product it should show
  (``output_delta_e_mean``, ``output_delta_e_p95``: what we intended, not the raw input, so a
  real correction is never "drift"); how much the enhancement itself changed the product is
  ``enhance_change_delta_e_*`` from the enhance stage, a description, not a fault;
* relit — on a harmonised scene output (``pipeline.stages.harmonize``): ``relit_gain``,
  ``relit_ev`` and the product's ΔE against the unrelit product (``relit_delta_e_mean``,
  ``relit_delta_e_p95``); the pixel check then compares with the graded product;
* mask sanity — area fraction, components, border contact, edge softness;
* white backgrounds — purity (share of exactly #FFFFFF pixels outside the product and its
  shadow-free surroundings) and the product's fill ratio.

Flags are :class:`~pipeline.flags.Flag` s: a stable code (``pipeline.flags.FLAG_CODES``) that
decisions read, and a sentence a merchant can act on; an output with any flag is never
auto-approved.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline.flags import Flag
from pipeline.stages.color import delta_e_2000, srgb_to_lab
from pipeline.stages.frame import ALPHA_THRESHOLD, Layer
from pipeline.stages.shadow import ShadowLayer

ERODE_PX = 2
# Studio products sit inside the frame; above this share of the border the product is cropped
# (a model's body, a card filling the shot) or the backdrop leaked into the cutout.
BORDER_CONTACT = 0.05
MIN_COMPARED_SHARE = 0.95
EDGE_SOURCE_PX = 3  # Lanczos' reach: the edge band a resize may soften, in source pixels
# colour_drift: the output's product against the enhanced product (mean, 95th percentile ΔE)
DRIFT_MEAN = 1.0
DRIFT_P95 = 3.0
_DRIFT_SAMPLE = 40_000


def mask_metrics(alpha: np.ndarray) -> dict[str, float | int]:
    """Sanity numbers for a segmentation mask at source size."""
    solid = alpha > 127
    area = float(solid.mean())
    count, _, stats, _ = cv2.connectedComponentsWithStats(solid.astype(np.uint8), 8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1] if count > 1 else np.array([0])
    total = max(1, int(areas.sum()))
    significant = int((areas >= 0.02 * total).sum()) if total > 1 else 0
    border = np.concatenate([solid[0], solid[-1], solid[1:-1, 0], solid[1:-1, -1]])
    soft = int(((alpha > ALPHA_THRESHOLD) & (alpha < 255 - ALPHA_THRESHOLD)).sum())
    eroded = cv2.erode(solid.astype(np.uint8), np.ones((3, 3), np.uint8))
    perimeter = max(1, int(solid.sum() - eroded.sum()))
    return {
        "mask_area_fraction": round(area, 5),
        "mask_components": significant,
        "mask_largest_component_share": round(float(areas[0]) / total, 5),
        "mask_border_contact": round(float(border.mean()), 5),
        "mask_edge_softness_px": round(soft / perimeter, 3),
    }


def mask_flags(metrics: dict[str, float | int]) -> list[Flag]:
    """Review reasons for an unsure mask (empty when it looks sane)."""
    flags = []
    area = float(metrics["mask_area_fraction"])
    if area < 0.01:
        flags.append(Flag(
            "mask_too_small",
            f"The cutout covers only {area:.1%} of the photo; the product may have been missed."
        ))
    elif area > 0.92:
        flags.append(Flag(
            "mask_too_large",
            f"The cutout covers {area:.0%} of the photo; the background may not have been "
            "removed."
        ))
    if int(metrics["mask_components"]) > 1 and float(metrics["mask_largest_component_share"]) < 0.9:
        flags.append(Flag(
            "mask_fragmented",
            f"The cutout has {metrics['mask_components']} separate parts; check for leftover "
            "background or missing pieces."
        ))
    contact = float(metrics["mask_border_contact"])
    if contact > BORDER_CONTACT:
        flags.append(Flag(
            "touches_edge",
            f"The product touches the photo's edge ({contact:.0%} of the border); it may be "
            "cropped, or the background may have leaked into the cutout."
        ))
    return flags


def product_fidelity(image: np.ndarray, layer: Layer) -> dict[str, float | int]:
    """Compare the output with the placed product inside its eroded opaque area."""
    x0, y0, x1, y1 = layer.box
    kernel = np.ones((2 * ERODE_PX + 1, 2 * ERODE_PX + 1), np.uint8)
    alpha = layer.rgba[..., 3]
    inner = cv2.erode((alpha == 255).astype(np.uint8), kernel)
    count = int(cv2.countNonZero(inner))
    share = _compared_share(inner, alpha, layer.scale)
    if count == 0:
        return {"product_pixels_compared": 0, "product_compared_share": share,
                "product_max_abs_diff": 0, "product_mean_abs_diff": 0.0,
                "output_delta_e_mean": 0.0, "output_delta_e_p95": 0.0}
    out = image[y0:y1, x0:x1]
    # Packed RGB for OpenCV; cvtColor drops alpha several times faster than numpy's strided
    # copy (np.ascontiguousarray of [..., :3]), with the same values.
    if out.shape[2] == 4:
        out = cv2.cvtColor(out, cv2.COLOR_RGBA2RGB)
    ref = cv2.cvtColor(np.ascontiguousarray(layer.rgba), cv2.COLOR_RGBA2RGB)
    diff = cv2.absdiff(out, ref)
    red, green, blue = cv2.split(diff)
    per_pixel = cv2.max(cv2.max(red, green), blue)
    _, max_diff, _, _ = cv2.minMaxLoc(per_pixel, mask=inner)
    mean_diff = sum(cv2.mean(diff, mask=inner)[:3]) / 3
    drift_mean = drift_p95 = 0.0
    if max_diff > 0:  # identical pixels have no colour difference: ΔE only costs when it can
        where = np.flatnonzero(inner.ravel())
        where = where[:: where.size // _DRIFT_SAMPLE + 1]
        delta = delta_e_2000(srgb_to_lab(out.reshape(-1, 3)[where]),
                             srgb_to_lab(ref.reshape(-1, 3)[where]))
        drift_mean, drift_p95 = float(delta.mean()), float(np.percentile(delta, 95))
    return {
        "product_pixels_compared": count,
        "product_compared_share": share,
        "product_max_abs_diff": int(max_diff),
        "product_mean_abs_diff": round(float(mean_diff), 6),
        "output_delta_e_mean": round(drift_mean, 3),
        "output_delta_e_p95": round(drift_p95, 3),
    }


def _compared_share(inner: np.ndarray, alpha: np.ndarray, scale: float) -> float:
    """Share of the product's core that ``inner`` (the compared pixels) covers; a product too
    thin to have such a core is measured against its shallow (``ERODE_PX``) core instead."""
    solid = (alpha >= 128).astype(np.uint8)
    reach = ERODE_PX + math.ceil(EDGE_SOURCE_PX * max(1.0, scale))
    for radius in (reach, ERODE_PX):
        core = cv2.erode(solid, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
        total = int(cv2.countNonZero(core))
        if total:
            return round(int(cv2.countNonZero(cv2.bitwise_and(inner, core))) / total, 5)
    return 0.0


def white_background_metrics(image: np.ndarray, layer: Layer,
                             shadow: ShadowLayer | None = None) -> dict[str, float]:
    """Background purity and the product's fill ratio on a white canvas.

    ``background_purity`` is the share of exactly #FFFFFF pixels outside the product;
    ``background_purity_outside_shadow`` leaves the synthesized shadow out too (a chosen
    shadow is not an impurity; anything else off-white is). Counted with whole-canvas
    reductions and per-patch corrections, so a 2048² canvas costs a few milliseconds.
    """
    height, width = image.shape[:2]
    white = cv2.inRange(np.ascontiguousarray(image[..., :3]), (255, 255, 255),
                        (255, 255, 255))
    total_white = int(cv2.countNonZero(white))
    # Everything that is product or shadow, restricted to the union of their boxes.
    x0, y0, x1, y1 = layer.box
    if shadow is not None:
        sh, sw = shadow.opacity.shape
        ux0, uy0 = min(x0, shadow.x), min(y0, shadow.y)
        ux1, uy1 = max(x1, shadow.x + sw), max(y1, shadow.y + sh)
    else:
        ux0, uy0, ux1, uy1 = x0, y0, x1, y1
    product = np.zeros((uy1 - uy0, ux1 - ux0), bool)
    product[y0 - uy0 : y1 - uy0, x0 - ux0 : x1 - ux0] = layer.rgba[..., 3] > 0
    covered = product.copy()
    if shadow is not None:
        covered[shadow.y - uy0 : shadow.y - uy0 + sh,
                shadow.x - ux0 : shadow.x - ux0 + sw] |= shadow.opacity > 0
    region_white = white[uy0:uy1, ux0:ux1] > 0
    n_product = int(product.sum())
    n_covered = int(covered.sum())
    white_in_product = int((region_white & product).sum())
    white_in_covered = int((region_white & covered).sum())
    background = width * height - n_product
    clean_background = width * height - n_covered
    purity = (total_white - white_in_product) / background if background else 1.0
    clean = (total_white - white_in_covered) / clean_background if clean_background else 1.0
    rows = np.flatnonzero(layer.rgba[..., 3].max(axis=1) > ALPHA_THRESHOLD)
    cols = np.flatnonzero(layer.rgba[..., 3].max(axis=0) > ALPHA_THRESHOLD)
    box_w = int(cols[-1] - cols[0] + 1) if cols.size else 0
    box_h = int(rows[-1] - rows[0] + 1) if rows.size else 0
    return {
        "background_purity": round(purity, 5),
        "background_purity_outside_shadow": round(clean, 5),
        "fill_ratio": round(max(box_w / width, box_h / height), 4),
        "fill_area_fraction": round(float((layer.rgba[..., 3] > ALPHA_THRESHOLD).sum())
                                    / (width * height), 5),
    }


def output_flags(
    metrics: dict,
    *,
    white: bool,
    marketplace: bool,
    fill_target: float | None,
) -> list[Flag]:
    """Review reasons for one output, from its metrics."""
    flags = []
    if metrics.get("product_max_abs_diff", 0) > 0:
        flags.append(Flag(
            "fidelity_failed",
            "Product pixels differ from the source after compositing (max difference "
            f"{metrics['product_max_abs_diff']})."
        ))
    share = metrics.get("product_compared_share")
    if share is not None and share < MIN_COMPARED_SHARE:
        flags.append(Flag(
            "fidelity_low_coverage",
            f"The pixel-fidelity check could compare only {share:.0%} of the product (the rest "
            "is semi-transparent in the mask), so it cannot vouch for the product's pixels."
        ))
    drift_mean = metrics.get("output_delta_e_mean", 0.0)
    drift_p95 = metrics.get("output_delta_e_p95", 0.0)
    if drift_mean > DRIFT_MEAN or drift_p95 > DRIFT_P95:
        flags.append(Flag(
            "colour_drift",
            "The product's colours in this output differ from the enhanced product "
            f"(mean ΔE {drift_mean:.1f}, 95th percentile {drift_p95:.1f})."
        ))
    if white:
        purity = metrics["background_purity_outside_shadow"]
        if purity < 0.995:
            flags.append(Flag(
                "not_pure_white",
                f"Only {purity:.1%} of the background (outside the shadow) is pure white "
                "(#FFFFFF)."
            ))
        if marketplace and metrics["background_purity"] < 0.95:
            flags.append(Flag(
                "shadow_not_white",
                f"The shadow leaves only {metrics['background_purity']:.1%} of the background "
                "pure white; marketplaces may reject it (use shadow 'none')."
            ))
        if fill_target is not None:
            fill = metrics["fill_ratio"]
            if abs(fill - fill_target) > 0.03:
                flags.append(Flag(
                    "fill_mismatch",
                    f"The product fills {fill:.0%} of the frame; the preset expects "
                    f"{fill_target:.0%}."
                ))
    scale = metrics.get("product_scale", 1.0)
    if scale > 2.5:
        flags.append(Flag(
            "low_resolution",
            f"The photo is low resolution: the product was enlarged {scale:.1f}x for this "
            "output and may look soft."
        ))
    return flags
