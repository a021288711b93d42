"""The promise under test: an output without a flag is right.

Every case of the generated studio set (bench/eval_set.py, seed 0: one per failure
class of issue 15) goes through ``process_image`` with the classical segmenter, and its mask is
scored against the exact truth; "wrong" is ``eval_set.is_wrong`` (IoU < 0.90 or boundary F at
2 px < 0.90). Wrong & unflagged must be zero, in every class.

Right & flagged is bounded, not zero, and the bound is written down here: the set is made of
the hard cases, and on some of them a flag on a right cutout is the honest answer because no
classical signal can tell the two readings apart. A white panel framed by a product and the
inside of a jump rope's loop are both backdrop-coloured regions deep inside (the rope's is
removed, the panel kept; both doubted), and a clear glass body kept as product looks like a
hole in the product's shadow (kept, doubted). A product cut by the frame is flagged
``touches_edge``, which is a true statement about the photo. Beyond those, a right cutout
carries no flag; in particular the plain controls and the new classes a studio shoots every
day (grey on grey, a textured backdrop, a cable, a label) do not. The ≤ 10 %
target of the issue is for ordinary studio photos: bench/segment_eval.py and the 15 sample
photos measure it (docs/benchmarks.md).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.eval_set import (
    CLASSES,
    boundary_f,
    class_of,
    confusion,
    eval_set,
    iou,
    is_wrong,
)
from pipeline import PipelineConfig, process_image
from pipeline.flags import codes
from tests.pipeline.factories import png_bytes

#: Right cutouts whose flag is the honest answer (see the module docstring).
FLAG_EXPECTED = {"white-panel": "mask_uncertain", "rope": "mask_uncertain",
                 "glass": "mask_uncertain", "cut-by-frame": "touches_edge"}


@pytest.fixture(scope="module")
def rows():
    config = PipelineConfig(segmenter="classical", scene_presets=(),
                            frame_preset="custom:360x360:0.8")
    out = []
    for name, rgb, truth in eval_set():
        result = process_image(png_bytes(Image.fromarray(rgb)), config)
        alpha = np.asarray(Image.open(io.BytesIO(result.mask_png)))
        i, f = iou(alpha, truth), boundary_f(alpha, truth)
        out.append({"name": name, "class": class_of(name), "iou": i, "boundary_f": f,
                    "wrong": is_wrong(i, f), "flags": codes(result.outputs[0].flags),
                    "messages": [flag.message for flag in result.outputs[0].flags]})
    return out


def test_the_set_covers_every_failure_class_of_the_issue():
    assert set(CLASSES) >= {
        "light panels and labels", "white on white", "glass and transparent", "thin parts",
        "cast shadows", "cut by the frame", "grey on grey", "several parts",
        "textured backdrop"}
    assert {class_of(name) for name, _, _ in eval_set()} == set(CLASSES)


def test_no_wrong_cutout_goes_unflagged(rows):
    table = confusion(rows)
    silent = [(r["name"], round(r["iou"], 3), round(r["boundary_f"], 3))
              for r in rows if r["wrong"] and not r["flags"]]
    assert silent == [] and table["all"]["wrong_unflagged"] == 0
    assert all(cell["wrong_unflagged"] == 0 for cell in table.values())


def test_right_cutouts_are_unflagged_but_for_the_ambiguous_ones(rows):
    flagged = {r["name"]: r["flags"] for r in rows if not r["wrong"] and r["flags"]}
    unexpected = {name: flags for name, flags in flagged.items()
                  if FLAG_EXPECTED.get(name) not in flags}
    assert unexpected == {}
    right = [r for r in rows if not r["wrong"]]
    assert len(right) >= 12  # the segmenter gets most of the set right...
    assert len(flagged) <= len(FLAG_EXPECTED)  # ...and flags at most the ambiguous ones
    mean = float(np.mean([r["iou"] for r in rows]))
    assert mean >= 0.95, {r["name"]: round(r["iou"], 3) for r in rows}


def test_a_hard_cast_shadow_kept_as_product_is_flagged_as_such(rows):
    (row,) = [r for r in rows if r["name"] == "hard-shadow"]
    assert row["wrong"] and "mask_uncertain" in row["flags"]
    assert any("cast shadow may have been kept" in m for m in row["messages"])


def test_glass_is_kept_as_product_and_doubted(rows):
    (row,) = [r for r in rows if r["name"] == "glass"]
    assert not row["wrong"], row  # its see-through body is not punched out as a hole...
    assert any("glass or a transparent part" in m for m in row["messages"])  # ...but doubted


def test_boundary_f_sees_what_iou_does_not():
    """A lost 2 px strap barely moves IoU; the boundary F-measure drops, so it counts wrong."""
    truth = np.zeros((200, 200), np.float32)
    truth[60:160, 40:160] = 1.0
    truth[20:60, 98:100] = 1.0  # a thin strap
    truth[20:22, 60:140] = 1.0
    lost = (truth * 255).astype(np.uint8)
    lost[:60] = 0
    assert iou(lost, truth) > 0.97
    assert boundary_f(lost, truth) < 0.8 and is_wrong(iou(lost, truth), boundary_f(lost, truth))
    exact = (truth * 255).astype(np.uint8)
    assert iou(exact, truth) == 1.0 and boundary_f(exact, truth) == 1.0
    shifted = np.roll(exact, 2, axis=1)  # two pixels off: within the tolerance
    assert boundary_f(shifted, truth) == pytest.approx(1.0)
    assert boundary_f(np.roll(exact, 6, axis=1), truth) < 0.6


def test_the_confusion_table_counts_per_class_and_overall():
    rows = [{"class": "a", "wrong": True, "flags": ["x"]},
            {"class": "a", "wrong": True, "flags": []},
            {"class": "b", "wrong": False, "flags": ["y"]},
            {"class": "b", "wrong": False, "flags": []}]
    table = confusion(rows)
    assert table["a"] == {"wrong_flagged": 1, "wrong_unflagged": 1, "right_flagged": 0,
                          "right_unflagged": 0}
    assert table["all"] == dict.fromkeys(table["all"], 1)
