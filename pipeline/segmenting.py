"""The segment step of the runner: the mask every later stage works from.

The photo's own transparency when it has some, a merchant's touched-up mask when the run was
given one, else the configured segmenter (or the next of its fallback chain), checked against
a second segmenter when one is configured; the mask's metrics and flags are added to the run
(``pipeline.runner.RunContext``). Apart from the runner so each file stays readable.
"""

from __future__ import annotations

import numpy as np

from pipeline.backends import get_segmenter, segmenter_spec
from pipeline.backends.fallback import segment_with_fallback, segmenter_label
from pipeline.errors import MaskMismatch, PipelineError
from pipeline.flags import Flag
from pipeline.stages.cutout import snap_alpha
from pipeline.stages.fidelity import mask_flags, mask_metrics
from pipeline.stages.frame import ALPHA_THRESHOLD

# Two segmenters' masks that overlap less than this (IoU) make the cutout uncertain: on the
# synthetic studio set right cutouts agree with the truth at IoU >= 0.95, so two right ones
# agree at >= ~0.9, and a hole, a lost part or a kept shadow of a tenth of the product falls under.
SECOND_OPINION_AGREE = 0.9
TOUCH_UP = "touch-up"  # the segmenter name of outputs made from a merchant's edited mask

def segment(run) -> None:
    """The mask: the photo's own transparency when it has some, else the configured segmenter
    (or, when it cannot run, the next one of the fallback chain).

    Sets ``run.alpha`` and ``run.segmenter``; adds the segmenter's notes and numbers, the mask's
    metrics and flags (one when the segmenter doubts its answer, one when a fallback made it).
    """
    alpha = run.loaded.rgba[..., 3]
    confident, doubt = True, ""
    if run.mask is not None:
        _touched_up(run)
    elif run.loaded.has_alpha and (alpha <= ALPHA_THRESHOLD).mean() > 0.01:
        run.notes.append("the image already had a transparent background; its alpha was used")
        run.alpha, run.segmenter = alpha.copy(), "input-alpha"
    else:
        outcome = segment_with_fallback(run.config, run.rgb)
        segmentation = outcome.segmentation
        run.alpha, run.segmenter = segmentation.alpha, outcome.used
        run.notes.extend(segmentation.notes)
        run.base_metrics.update({**segmentation.metrics, **outcome.metrics()})
        confident, doubt = segmentation.confident, segmentation.doubt
        if run.config.second_opinion and run.config.second_opinion != outcome.used:
            agree, why = _second_opinion(run, run.config.second_opinion)
            if not agree:
                confident, doubt = False, (f"{doubt}; {why}" if doubt else why)
        if outcome.fell_back:
            flag = outcome.flag()
            run.notes.append(flag.message)
            run.image_flags.append(flag)
        # A model's confident inside is opaque: pasted as is into every output, and compared.
        run.alpha, snapped = snap_alpha(run.alpha)
        run.base_metrics["mask_core_snapped_px"] = snapped
    run.base_metrics["segmenter_label"] = segmenter_label(run.segmenter)
    mask_info = mask_metrics(run.alpha)
    run.base_metrics.update(mask_info)
    run.image_flags.extend(mask_flags(mask_info))
    if not confident:
        why = f": {doubt}" if doubt else ""
        run.image_flags.append(Flag("mask_uncertain",
                                    f"The background could not be separated with confidence{why}."))


def _second_opinion(run, name: str) -> tuple[bool, str]:
    """Cut the photo out again with ``name`` and compare the two masks (IoU of alpha > 127):
    (agree, why not). Records ``mask_second_opinion`` and ``mask_second_opinion_iou``. A second
    opinion that cannot run is a note, not a doubt about the first mask."""
    try:
        other = get_segmenter(name, **segmenter_spec(name).options_from(run.config))
        theirs = other.segment(run.rgb).alpha > 127
    except PipelineError as exc:
        run.notes.append(f"the second opinion ({name}) could not run: {exc.message}")
        return True, ""
    ours = run.alpha > 127
    union = int(np.count_nonzero(ours | theirs))
    iou = int(np.count_nonzero(ours & theirs)) / union if union else 1.0
    run.base_metrics["mask_second_opinion"] = name
    run.base_metrics["mask_second_opinion_iou"] = round(iou, 4)
    if iou >= SECOND_OPINION_AGREE:
        return True, ""
    return False, (f"a second background remover ({segmenter_label(name)}) draws the product "
                   f"differently (they overlap {iou:.0%})")


def _touched_up(run) -> None:
    """The merchant's own mask: no segmenter runs, and none doubts it (the merchant looked)."""
    height, width = run.rgb.shape[:2]
    if run.mask.shape != (height, width):
        raise MaskMismatch(
            f"The touched-up mask ({run.mask.shape[1]}×{run.mask.shape[0]}) does not fit this "
            f"photo ({width}×{height}); touch up an output made from the current photo."
        )
    run.notes.append("the merchant's touched-up mask was used; no background remover ran")
    run.alpha, run.segmenter = np.ascontiguousarray(run.mask, dtype=np.uint8), TOUCH_UP
    run.alpha, snapped = snap_alpha(run.alpha)  # the edited model mask's core, as above
    run.base_metrics["mask_core_snapped_px"] = snapped
