"""Enhancement measured against the truth (issue 15): the sample photos are good studio photos,
so each is its own ground truth. Casts of ±12% and exposure of ±0.5 EV are applied in linear
light, the enhance stage runs, and the product is compared with the truth in CIEDE2000.

Acceptance: good photos ≤ 1.0 ΔE; casts after ≤ 0.6x before; ±0.5 EV reduced. The same
measurement at 800 px on all 15 photos is bench/enhance_eval.py.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.enhance_eval import CONDITIONS, degrade, evaluate, product_delta_e, truth
from pipeline import PipelineConfig, process_image
from pipeline.stages.enhance import enhance
from pipeline.stages.fidelity import output_flags
from tests.conftest import PHOTOS

SIZE = 360
LIMIT = PipelineConfig().max_enhance_delta_e


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, dict]]:
    photos = sorted(PHOTOS.glob("*.jpg"))
    assert len(photos) == 15, PHOTOS
    return {path.name: evaluate(*truth(path, SIZE), LIMIT) for path in photos}


def _mean(results, condition: str, key: str) -> float:
    return float(np.mean([photo[condition][key] for photo in results.values()]))


def test_good_photos_are_left_alone(results):
    assert _mean(results, "good", "after") <= 1.0
    assert max(photo["good"]["after"] for photo in results.values()) <= 1.0


@pytest.mark.parametrize("condition", ["warm +12%", "cool +12%"])
def test_casts_end_closer_to_the_truth(results, condition):
    before, after = _mean(results, condition, "before"), _mean(results, condition, "after")
    assert before > 2.0  # the cast is real: the test could fail
    assert after <= 0.6 * before, (before, after)


@pytest.mark.parametrize("condition", ["+0.5 EV", "-0.5 EV"])
def test_exposure_errors_are_reduced_and_never_made_worse(results, condition):
    before, after = _mean(results, condition, "before"), _mean(results, condition, "after")
    assert after < before, (before, after)
    for name, photo in results.items():
        assert photo[condition]["after"] <= photo[condition]["before"] + 1e-6, name


def test_overexposure_is_darkened_and_casts_are_read_both_ways():
    rgb, alpha = truth(PHOTOS / "luma-yoga-strap.jpg", SIZE)
    _, over = enhance(degrade(rgb, CONDITIONS["+0.5 EV"]), alpha, max_delta_e=LIMIT)
    assert over.ev < 0
    _, warm = enhance(degrade(rgb, CONDITIONS["warm +12%"]), alpha, max_delta_e=LIMIT)
    _, cool = enhance(degrade(rgb, CONDITIONS["cool +12%"]), alpha, max_delta_e=LIMIT)
    assert warm.gains[0] < 1 < warm.gains[2] and cool.gains[2] < 1 < cool.gains[0]
    assert warm.evidence == cool.evidence == "backdrop"


def test_a_real_correction_is_not_colour_drift_and_metrics_say_what_they_measure():
    rgb, alpha = truth(PHOTOS / "mb03-black-0.jpg", 480)
    cast = degrade(rgb, CONDITIONS["warm +12%"])
    buffer = io.BytesIO()
    Image.fromarray(cast).save(buffer, "PNG")
    result = process_image(buffer.getvalue(), PipelineConfig(scene_presets=()))
    (output,) = result.outputs
    metrics = output.metrics
    assert "delta_e_mean" not in metrics  # the old, ambiguous name is gone
    assert metrics["enhanced"] is True and metrics["enhance_change_delta_e_mean"] > 1.5
    assert metrics["output_delta_e_mean"] == 0.0 and metrics["product_max_abs_diff"] == 0
    assert "colour_drift" not in [flag.code for flag in output.flags]
    # Drift is the output against the enhanced product: a visible difference there is flagged.
    drifted = {"output_delta_e_mean": 1.4, "output_delta_e_p95": 2.0}
    assert [f.code for f in output_flags(drifted, white=False, marketplace=False,
                                         fill_target=None)] == ["colour_drift"]
    spread = {"output_delta_e_mean": 0.2, "output_delta_e_p95": 3.5}
    assert [f.code for f in output_flags(spread, white=False, marketplace=False,
                                         fill_target=None)] == ["colour_drift"]
    assert output_flags({"output_delta_e_mean": 0.9, "output_delta_e_p95": 2.9}, white=False,
                        marketplace=False, fill_target=None) == []


def test_the_delta_e_of_the_evaluation_is_inside_the_product():
    rgb, alpha = truth(PHOTOS / "mg01-bk-0.jpg", SIZE)
    changed = rgb.copy()
    changed[alpha == 0] = 0  # the backdrop is replaced anyway: it must not count
    assert product_delta_e(changed, rgb, alpha) == 0.0


def test_without_a_studio_backdrop_the_products_neutrals_decide():
    rgb, alpha = truth(PHOTOS / "mb03-black-0.jpg", SIZE)
    rng = np.random.default_rng(1)
    room = rgb.copy()  # a busy, colourful background: not evidence of any cast
    room[alpha == 0] = rng.integers(0, 256, (int((alpha == 0).sum()), 3), dtype=np.uint8)
    cast = degrade(room, CONDITIONS["cool +12%"])
    enhanced, report = enhance(cast, alpha, max_delta_e=LIMIT)
    assert report.evidence == "product" and report.gains[0] > 1 > report.gains[2]
    before = product_delta_e(cast, room, alpha)
    assert product_delta_e(enhanced, room, alpha) <= 0.6 * before
    good, _ = enhance(room, alpha, max_delta_e=LIMIT)
    assert product_delta_e(good, room, alpha) <= 1.0
