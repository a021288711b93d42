"""Mask touch-up (issue 16): the merchant paints a wrongly removed label panel back in with the
keep brush; a worker re-runs framing, shadow and scenes from the edited mask, the fidelity
check passes on every new output, the outputs made from the wrong mask leave the queue, and
the edit is in the product's history. Real runs of the pipeline (classical segmenter,
procedural scenes) on a folder store; the strokes go through the API as the page sends them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from photosync.models import GeneratedImage, GenerationJob, MaskEdit, SourceImage, Store
from photosync.services.generation import job_run
from photosync.services.stores import store_connect_local
from photosync.services.sync import product_refresh
from tests.review_data import seed_product
from tests.touchup_data import BOX, panel_alpha, panel_photo, panel_strokes

pytestmark = pytest.mark.django_db


@pytest.fixture
def boxed(tmp_path, media_root):
    """A folder store with the boxed product, generated once (framed + one scene)."""
    folder = tmp_path / "store" / "boxed-dvd"
    folder.mkdir(parents=True)
    (folder / "front.png").write_bytes(panel_photo())
    (folder / "product.json").write_text('{"title": "Boxed DVD", "type": "Media"}')
    store = store_connect_local(path=tmp_path / "store", name="Folder",
                                settings={"scene_presets": ["studio-sweep"], "variations": 1})
    job = product_refresh(store_id=store.pk, remote_id="boxed-dvd")
    assert job_run(job_id=job.pk).status == "succeeded"
    return job.product


def _mask(name: str) -> np.ndarray:
    with default_storage.open(name, "rb") as fh:
        return np.asarray(Image.open(fh).convert("L"))


def _touch_up(client, image_id: int, strokes):
    return client.post(f"/api/v1/images/{image_id}/touch-up", {"strokes": strokes},
                       content_type="application/json")


def test_a_touch_up_restores_the_panel_and_fidelity_holds(client, operator, boxed):
    first = list(boxed.generated.order_by("id"))
    assert {g.kind for g in first} == {"framed", "scene"}
    assert len({g.mask.name for g in first}) == 1  # one mask per photo and job, kept
    wrong = _mask(first[0].mask.name)
    assert panel_alpha(wrong) < 64  # the classical cutout took the white panel for backdrop

    client.force_login(operator)
    answer = _touch_up(client, first[0].pk, panel_strokes())
    assert answer.status_code == 202, answer.content
    job = GenerationJob.objects.get(pk=answer.json()["id"])
    edit = MaskEdit.objects.get(job=job)
    assert job.reason == "touch_up" and job.config["mask_edit"] == edit.pk
    assert job.config["source_ids"] == [first[0].source_id]
    assert job.config["scene_presets"] == ["studio-sweep"]  # the edited output's settings

    finished = job_run(job_id=job.pk)
    assert finished.status == "succeeded", finished.error
    new = list(finished.images.order_by("id"))
    assert {g.kind for g in new} == {"framed", "scene"}
    edit.refresh_from_db()
    fixed = _mask(edit.mask.name)
    assert panel_alpha(fixed) > 250  # the panel is product again...
    assert _mask(new[0].mask.name).tolist() == fixed.tolist()  # ...in what the outputs used
    x0, y0, x1, y1 = BOX
    outside = np.ones(fixed.shape, bool)
    outside[y0 - 2:y1 + 3, x0 - 2:x1 + 3] = False
    added = fixed.astype(int) > wrong
    assert not (added & outside).any()  # and nothing of the backdrop was added
    assert edit.kept_px > 0.8 * (330 * 345) and edit.erased_px == 0
    for output in new:
        m = output.metrics
        assert m["segmenter"] == "touch-up" and m["mask_edit"] == edit.pk
        assert m["product_compared_share"] > 0.99, output.kind
        assert m["product_max_abs_diff"] <= 2, output.kind
        assert not [f for f in output.flags if f["code"] != "low_resolution"], output.flags
    area_before = first[0].metrics["mask_area_fraction"]
    assert new[0].metrics["mask_area_fraction"] - area_before > 0.8 * (330 * 345) / (1800 * 1350)
    # The outputs of the wrong mask left the queue; the new ones wait for review.
    assert {g.status for g in GeneratedImage.objects.filter(pk__in=[g.pk for g in first])} \
        == {"superseded"}
    assert {g.status for g in new} == {"ready"}

    detail = client.get(f"/api/v1/products/{boxed.pk}/").json()
    [history] = detail["mask_edits"]
    assert history["by"] == "operator" and history["status"] == "succeeded"
    assert history["strokes"] == {"keep": 2, "erase": 0}
    assert history["base_image"] == first[0].pk and history["kept_px"] == edit.kept_px
    newest = max(detail["generated"], key=lambda g: g["id"])
    assert newest["background_removal"]["text"] == (
        "Background removed by your touch-up of the cutout")
    assert newest["touch_up"]["edit"] == edit.pk
    assert newest["fidelity"]["passed"] is True

    # Edits chain: touching up the new output starts from the fixed mask.
    again = _touch_up(client, newest["id"], [{"mode": "erase", "radius": 20,
                                             "points": [[900, 1100]]}])
    assert again.status_code == 202, again.content
    chained = MaskEdit.objects.get(job_id=again.json()["id"])
    assert chained.base_mask == new[0].mask.name


def test_the_mask_links_are_signed_and_the_overlay_marks_the_backdrop(client, operator, boxed):
    image = boxed.generated.order_by("id").first()
    client.force_login(operator)
    links = client.get(f"/api/v1/products/{boxed.pk}/").json()["generated"][0]["touch_up"]
    client.logout()  # the links need no session (the Shopify iframe sends no cookie)
    mask = Image.open(io.BytesIO(client.get(links["mask"]).content))
    assert mask.mode == "L" and mask.size == (1800, 1350)
    overlay = Image.open(io.BytesIO(client.get(links["overlay"]).content))
    assert overlay.mode == "RGBA" and overlay.size == (1800, 1350)
    alpha = np.asarray(overlay)[..., 3]
    assert alpha[10, 10] == 255 and alpha[900, 650] == 0  # backdrop tinted, product clear
    assert client.get(links["mask"][:-3] + "xyz").status_code == 404
    assert client.get(links["mask"].replace("masks/", "masks/x")).status_code == 404
    assert image.mask.name.startswith(f"masks/{boxed.store_id}/")
    assert client.get(f"/media/{image.mask.name}").status_code == 404  # not public


@pytest.mark.parametrize("strokes, words", [
    ([], "at least one stroke"),
    ([{"mode": "paint", "radius": 5, "points": [[1, 1]]}], "`keep` or `erase`"),
    ([{"mode": "keep", "radius": 0, "points": [[1, 1]]}], "radius"),
    ([{"mode": "keep", "radius": "5", "points": [[1, 1]]}], "radius"),
    ([{"mode": "keep", "radius": 5, "points": []}], "no points"),
    ([{"mode": "keep", "radius": 5, "points": [[1, "x"]]}], "[x, y]"),
    ([{"mode": "keep", "radius": 5, "points": [[1, 2, 3]]}], "[x, y]"),
    ([{"mode": "keep", "radius": 5, "points": [[1e12, 2]]}], "[x, y]"),
    ([{"mode": "keep", "radius": 5, "points": [[1, 1]] * 20_001}], "more than 20000"),
])
def test_bad_strokes_are_refused_and_queue_nothing(client, operator, boxed, strokes, words):
    image = boxed.generated.order_by("id").first()
    client.force_login(operator)
    before = GenerationJob.objects.count()
    answer = _touch_up(client, image.pk, strokes)
    assert answer.status_code == 400, answer.content
    assert words in " ".join(answer.json()["strokes"])
    assert GenerationJob.objects.count() == before and not MaskEdit.objects.exists()


def test_a_second_apply_waits_for_the_first_and_old_outputs_cannot_be_touched_up(
        client, operator, boxed, media_root):
    image = boxed.generated.order_by("id").first()
    client.force_login(operator)
    stroke = [{"mode": "keep", "radius": 10, "points": [[900, 400]]}]
    assert _touch_up(client, image.pk, stroke).status_code == 202
    busy = _touch_up(client, image.pk, stroke)  # a double click on Apply
    assert busy.status_code == 409 and "already being applied" in busy.json()["detail"]
    assert MaskEdit.objects.count() == 1

    older = seed_product(boxed.store, title="Old", seed=7)  # made before masks were kept
    answer = _touch_up(client, older.generated.first().pk, stroke)
    assert answer.status_code == 409 and "regenerate" in answer.json()["detail"]

    other = Store.objects.create(platform="local", domain="/tmp/other-touch", name="Other")
    client.force_login(operator.__class__.objects.create_user("merchant", password="pw"))
    foreign = seed_product(other, title="Not yours", seed=8).generated.first()
    assert _touch_up(client, foreign.pk, stroke).status_code == 404


def test_erasing_everything_fails_the_touch_up_not_the_photo(client, operator, boxed):
    image = boxed.generated.order_by("id").first()
    client.force_login(operator)
    wipe = [{"mode": "erase", "radius": 1000, "points": [[900, 675]]}]
    job = job_run(job_id=_touch_up(client, image.pk, wipe).json()["id"])
    assert job.status == "failed" and "No product could be found" in job.error
    source = SourceImage.objects.get(pk=image.source_id)
    assert source.status == "ok" and not source.error  # still good to regenerate from
    image.refresh_from_db()
    assert image.status == "ready"  # nothing was replaced
    history = client.get(f"/api/v1/products/{boxed.pk}/").json()["mask_edits"]
    assert history[0]["status"] == "failed" and "No product" in history[0]["error"]
