"""Mask touch-up in the browser (issue 16): the classical cutout of a boxed DVD takes its white
label panel for backdrop; the merchant opens the large view, paints the panel back in with the
Keep brush and applies; the real worker re-makes the cutout and the scene from the edited mask,
their fidelity passes, the wrong outputs read "Replaced", and the history lists the touch-up.
At 390 px the editor opens and draws too; axe-core finds nothing on it at either width."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import expect

from photosync.models import GeneratedImage, GenerationJob, MaskEdit
from photosync.services.stores import store_connect_local
from photosync.services.sync import stores_reconcile
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_admin_page import _wait_for
from tests.browser.test_review_page import assert_no_stray_text, log_in
from tests.conftest import PRODUCTION, drain
from tests.touchup_data import PANEL, panel_alpha, panel_photo, panel_strokes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(PRODUCTION, reason="browser tests run once, in the embedded pass"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def boxed(tmp_path, media_root, broker, worker):
    root = tmp_path / "store"
    (root / "boxed-dvd").mkdir(parents=True)
    (root / "boxed-dvd" / "front.png").write_bytes(panel_photo())
    (root / "boxed-dvd" / "product.json").write_text('{"title": "Boxed DVD", "type": "Media"}')
    store_connect_local(path=root, name="Demo store",
                        settings={"scene_presets": ["studio-sweep"], "variations": 1})
    stores_reconcile()
    drain(broker, worker)
    framed = GeneratedImage.objects.get(kind="framed")
    return framed


def _open_editor(page, framed):
    tile = page.locator(f"article[data-image-id='{framed.pk}']")
    tile.locator("[data-role=compare]").click()
    dialog = page.locator("dialog.compare")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Touch up the cutout").click()
    expect(dialog.locator("section.touchup[data-ready='1']")).to_be_visible()
    return dialog


def _brush(page, dialog, strokes) -> None:
    """Drag the mouse through each stroke's points (photo pixels → screen), with the brush
    size set so its radius in photo pixels is the stroke's."""
    canvas = dialog.locator("canvas.touchup-layer")
    box = canvas.bounding_box()
    per_px = 1800 / box["width"]  # photo pixels per CSS pixel
    for stroke in strokes:
        size = round(2 * stroke["radius"] / per_px)
        dialog.locator("[data-role=brush-size]").evaluate(
            "(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", size)
        dialog.get_by_label(stroke["mode"].capitalize(), exact=False).first.check()
        points = [(box["x"] + x / per_px, box["y"] + y / per_px) for x, y in stroke["points"]]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()


def test_a_touch_up_restores_the_punched_out_panel(page, live_server, operator, boxed,
                                                    screenshot, axe):
    first = list(GeneratedImage.objects.order_by("id"))
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{boxed.product_id}")
    expect(page.get_by_role("heading", level=1, name="Boxed DVD")).to_be_visible()
    dialog = _open_editor(page, boxed)
    assert dialog.bounding_box()["width"] >= 600
    axe(page, "touch-up editor at 1280")
    _brush(page, dialog, panel_strokes())
    expect(dialog.locator("[data-role=touchup-status]")).to_have_text(
        "2 keep strokes, 0 erase strokes.")
    # What the page drew is what will be sent: the panel is clear of the red tint now.
    tint = dialog.locator("canvas.touchup-layer").evaluate(
        """(c, p) => { const d = c.getContext('2d').getImageData(p[0] + 20, p[1] + 20,
                                                                 p[2] - p[0] - 40, 60).data;
                       let opaque = 0; for (let i = 3; i < d.length; i += 4) opaque += d[i] > 0;
                       return opaque; }""", list(PANEL))
    assert tint == 0
    screenshot(page, "touchup")
    dialog.get_by_role("button", name="Undo stroke").click()
    expect(dialog.locator("[data-role=touchup-status]")).to_have_text(
        "1 keep stroke, 0 erase strokes.")
    _brush(page, dialog, panel_strokes()[1:])  # the undone stroke again
    dialog.get_by_role("button", name="Apply touch-up").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#toast")).to_contain_text("Touch-up sent")

    job = _wait_for(lambda: GenerationJob.objects.filter(
        reason="touch_up", status__in=["succeeded", "partial", "failed"]).first(),
                    timeout=90)
    assert job.status == "succeeded", job.error
    edit = MaskEdit.objects.get(job=job)
    with default_storage.open(edit.mask.name, "rb") as fh:
        assert panel_alpha(np.asarray(Image.open(io.BytesIO(fh.read())))) > 250
    new = list(job.images.order_by("id"))
    framed = next(g for g in new if g.kind == "framed")
    tile = page.locator(f"article[data-image-id='{framed.pk}']")
    expect(tile).to_contain_text("Background removed by your touch-up of the cutout")
    expect(tile.get_by_role("button", name="Fidelity OK")).to_be_visible()
    for old in first:
        expect(page.locator(f"article[data-image-id='{old.pk}'] [data-role=status]")
               ).to_have_text("Replaced")
    row = page.locator(f"tr[data-edit-id='{edit.pk}']")
    expect(row).to_contain_text("Touch-up: 2 keep strokes")
    expect(row).to_contain_text("operator")
    expect(row.locator("[data-role=edit-status]")).to_have_text("New images made")
    # The new outputs come first in the photo's card, the replaced ones after them.
    ids = page.locator("article.tile").evaluate_all("ts => ts.map(t => +t.dataset.imageId)")
    assert ids == [g.pk for g in new] + [g.pk for g in first]
    assert_no_stray_text(page, "product after a touch-up")
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "touchup-result")

    # The new cutout can be opened and touched up again (edits chain); on a phone too.
    page.set_viewport_size(NARROW)
    page.reload()
    dialog = _open_editor(page, framed)
    _brush(page, dialog, [{"mode": "erase", "radius": 30, "points": [[900, 1100]]}])
    expect(dialog.locator("[data-role=touchup-status]")).to_have_text(
        "0 keep strokes, 1 erase stroke.")
    axe(page, "touch-up editor at 390")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog.locator(".panes")).to_be_visible()  # back to the side-by-side view
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.set_viewport_size(WIDE)
    assert MaskEdit.objects.count() == 1  # Cancel sent nothing
