"""Mask touch-up: the merchant corrects a cutout with a keep/erase brush, and a worker re-runs
framing, shadow and scenes from the edited mask.

The page sends brush strokes in the photo's own pixels (``pipeline.stages.touchup``), not a
drawn mask: they are small, checkable here without decoding anything, and replayable, so the
history says what was changed. The worker draws them on the mask the edited output was made
from (``GeneratedImage.mask``) and generates with it in place of a background remover; the
fidelity check runs on every new output as on any other. When the new outputs are saved, the
edit records the mask they used, and the edited output's siblings still waiting for a decision
(made from the mask the merchant corrected) are superseded; approved and pushed ones stay.
"""

from __future__ import annotations

import math
import uuid

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from photosync.models import GeneratedImage, GenerationJob, MaskEdit, SourceImage
from photosync.services.scheduling import jobs_dispatch

MAX_STROKES = 400
MAX_POINTS = 20_000  # over all strokes: a long drag sends a point every few pixels
MAX_RADIUS = 1_000.0  # source pixels
MAX_COORDINATE = 100_000.0  # beyond any photo the pipeline accepts
MODES = ("keep", "erase")
_OPEN = (GenerationJob.Status.QUEUED, GenerationJob.Status.DISPATCHED,
         GenerationJob.Status.RUNNING, GenerationJob.Status.HELD)


class TouchUpError(Exception):
    """The touch-up cannot be applied; the message says why, for the merchant."""


class BadStrokes(TouchUpError):
    """The strokes sent are not strokes this endpoint accepts (a client or API caller error)."""


class TouchUpMaskMissing(Exception):
    """The worker cannot read the mask the edit started from (removed from storage)."""


def strokes_clean(strokes) -> list[dict]:
    """The strokes as stored, or BadStrokes naming the first problem."""
    if not isinstance(strokes, list) or not strokes:
        raise BadStrokes("Draw at least one stroke with the keep or erase brush.")
    if len(strokes) > MAX_STROKES:
        raise BadStrokes(f"At most {MAX_STROKES} strokes can be applied at once; apply "
                           "these in parts.")
    clean, total = [], 0
    for index, stroke in enumerate(strokes, 1):
        if not isinstance(stroke, dict):
            raise BadStrokes(f"Stroke {index} is not a stroke.")
        mode, radius, points = stroke.get("mode"), stroke.get("radius"), stroke.get("points")
        if mode not in MODES:
            raise BadStrokes(f"Stroke {index}: the brush is `keep` or `erase`.")
        if not _number(radius) or not 0.5 <= float(radius) <= MAX_RADIUS:
            raise BadStrokes(f"Stroke {index}: the brush radius must be 0.5 to "
                               f"{MAX_RADIUS:g} pixels.")
        if not isinstance(points, list) or not points:
            raise BadStrokes(f"Stroke {index} has no points.")
        total += len(points)
        if total > MAX_POINTS:
            raise BadStrokes(f"The strokes have more than {MAX_POINTS} points; apply them in "
                               "parts.")
        xy = []
        for point in points:
            if (not isinstance(point, list | tuple) or len(point) != 2
                    or not all(_number(v) and -MAX_RADIUS <= float(v) <= MAX_COORDINATE
                               for v in point)):
                raise BadStrokes(f"Stroke {index}: every point is [x, y] in the photo's "
                                   "pixels.")
            xy.append([round(float(point[0]), 2), round(float(point[1]), 2)])
        clean.append({"mode": mode, "radius": round(float(radius), 2), "points": xy})
    return clean


def _number(value) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def touch_up_start(*, image: GeneratedImage, strokes, user=None) -> MaskEdit:
    """Record the edit and queue its generation (the same framing, shadow and scenes as the
    edited output's job). TouchUpError when the output cannot be touched up."""
    clean = strokes_clean(strokes)
    with transaction.atomic():
        image = GeneratedImage.objects.select_for_update().select_related(
            "job", "source", "product").get(pk=image.pk)
        source = SourceImage.objects.select_for_update().get(pk=image.source_id)
        if not image.mask:
            raise TouchUpError("This output was made before cutouts were kept for touch-up; "
                               "regenerate the product, then touch up a new output.")
        if source.superseded_at is not None or image.product.deleted_at is not None:
            raise TouchUpError("This photo is no longer on the product; there is nothing to "
                               "touch up.")
        if image.status == GeneratedImage.Status.SUPERSEDED:
            raise TouchUpError("This output was replaced; touch up its newer version.")
        if MaskEdit.objects.filter(source=source, job__status__in=_OPEN).exists():
            raise TouchUpError("A touch-up of this photo is already being applied; wait for "
                               "its images.")
        base = image.job
        config = {key: value for key, value in base.config.items() if key != "source_ids"}
        job = GenerationJob.objects.create(
            store_id=image.product.store_id, product=image.product,
            input_hash=base.input_hash,
            dedupe_key=f"{image.product_id}:touch-up:{uuid.uuid4().hex}",
            reason=GenerationJob.Reason.TOUCH_UP, priority=0, queue=base.queue,
            config={**config, "source_ids": [source.pk]},
        )
        edit = MaskEdit.objects.create(source=source, base_image=image,
                                       base_mask=image.mask.name, strokes=clean, job=job,
                                       created_by=user if getattr(user, "pk", None) else None)
        job.config = {**job.config, "mask_edit": edit.pk}
        job.save(update_fields=["config"])
        transaction.on_commit(jobs_dispatch)
    return edit


def touch_up_mask(*, job: GenerationJob, source: SourceImage):
    """For a touch-up job: the edited mask of ``source`` (drawn now and kept on the edit), as a
    (H, W) uint8 array; None for any other job. Worker side: imports the pipeline."""
    edit_id = job.config.get("mask_edit")
    if not edit_id:
        return None
    import numpy as np
    from PIL import Image

    from pipeline.stages.touchup import apply_strokes

    edit = MaskEdit.objects.get(pk=edit_id)
    if edit.source_id != source.pk:
        return None
    try:
        with default_storage.open(edit.base_mask, "rb") as fh:
            base = np.asarray(Image.open(fh).convert("L"))
    except (OSError, ValueError) as exc:
        raise TouchUpMaskMissing("the cutout this touch-up started from could not be read "
                                 f"({type(exc).__name__}); regenerate the product.") from exc
    mask, changed = apply_strokes(base, edit.strokes)
    edit.kept_px, edit.erased_px = changed["kept_px"], changed["erased_px"]
    edit.save(update_fields=["kept_px", "erased_px"])
    return mask


def touch_up_finish(*, job: GenerationJob, source: SourceImage, mask_name: str) -> int:
    """After a touch-up's outputs are saved: the edit records the mask they were made from
    (the file the worker wrote for them, not a second copy), and the edited output and its
    siblings from the old mask that still wait for a decision leave the queue. Returns how
    many left."""
    edit_id = job.config.get("mask_edit")
    if not edit_id:
        return 0
    edit = MaskEdit.objects.filter(pk=edit_id).first()
    if edit is None:
        return 0
    MaskEdit.objects.filter(pk=edit.pk).update(mask=mask_name)
    return (GeneratedImage.objects
            .filter(source=source, mask=edit.base_mask, status=GeneratedImage.Status.READY)
            .exclude(job=job)
            .update(status=GeneratedImage.Status.SUPERSEDED, decided_at=timezone.now()))
