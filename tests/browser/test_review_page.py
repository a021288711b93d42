"""The review page as a merchant meets it (issue 16), in Debian's chromium at 1280 and 390 px:
no stray "null"/"undefined" on any screen, a product opens at its top, a damaged original
says why instead of a broken-image icon, rejected tiles keep their text legible, Settings
warn before unsaved changes are lost.

Seeded review data (tests/review_data.py): no pipeline run, so these are quick."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from photosync.models import SourceImage, Store
from photosync.services.media import media_save
from tests.browser.conftest import NARROW, WIDE
from tests.conftest import PRODUCTION
from tests.review_data import FLAG, seed_product

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(PRODUCTION, reason="browser tests run once, in the embedded pass"),
    pytest.mark.django_db(transaction=True),
]

# Words that only reach the screen through a bug (a `null` child, an `undefined` field).
STRAY = re.compile(r"\b(null|undefined|NaN|\[object Object\])\b")


def log_in(page, live_server, operator) -> None:
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(operator.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def assert_no_stray_text(page, where: str) -> None:
    page.wait_for_load_state("networkidle")
    text = page.evaluate("document.body.innerText")
    found = STRAY.findall(text)
    assert not found, f"{where}: {found} in {text[:400]!r}"


def broken_original(store: Store, title: str = "Broken lamp"):
    """A product whose original is a damaged file (the per-photo reason is recorded)."""
    product = seed_product(store, title=title, seed=7, outputs=(("framed", [FLAG]),))
    source = product.sources.get()
    source.file = media_save(folder=f"sources/{store.pk}", data=b"\x89PNG\r\n\x1a\nbroken",
                             extension="png")
    source.status = SourceImage.Status.FAILED
    source.error = "The photo could not be read: it is damaged."
    source.save()
    return product


@pytest.fixture
def page(media_root, page):
    """The page closes before MEDIA_ROOT is put back: these screens poll all the time, and a
    request that lands after the switch would look outside the test's media folder."""
    return page


@pytest.fixture
def store(media_root):
    return Store.objects.create(platform="local", domain="/tmp/review-store", name="Shop")


def test_every_screen_shows_no_null_or_undefined_text(page, live_server, operator, store):
    # Every output flagged: no "Approve all unflagged" button, the case that drew "null".
    flagged = seed_product(store, title="Flagged lamp", seed=1,
                           outputs=(("framed", [FLAG]), ("scene", [{"code": "colour_drift",
                                                                     "message": FLAG["message"]}])))
    clean = seed_product(store, title="Clean chair", seed=2)
    broken = broken_original(store)
    log_in(page, live_server, operator)
    for size in (WIDE, NARROW):
        page.set_viewport_size(size)
        for key in ("waiting", "flagged", "approved", "pushed", "failed", "all", "deleted"):
            page.goto(f"{live_server.url}/#/?status={key}")
            expect(page.locator(f"[data-filter={key}][aria-pressed=true]")).to_be_visible()
            assert_no_stray_text(page, f"queue {key} at {size['width']}")
        for product in (flagged, clean, broken):
            page.goto(f"{live_server.url}/#/products/{product.pk}")
            expect(page.get_by_role("heading", level=1, name=product.title)).to_be_visible()
            assert_no_stray_text(page, f"{product.title} at {size['width']}")
        page.goto(f"{live_server.url}/#/settings")
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        assert_no_stray_text(page, f"settings at {size['width']}")
        page.goto(f"{live_server.url}/#/products/999999")
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        assert_no_stray_text(page, f"not found at {size['width']}")
    # A flag sent as {code, message} reads as its message.
    page.goto(f"{live_server.url}/#/products/{flagged.pk}")
    scene = flagged.generated.get(kind="scene")
    expect(page.locator(f"article[data-image-id='{scene.pk}'] .flags")).to_have_text(
        FLAG["message"])


def test_a_damaged_original_says_why_instead_of_a_broken_image(page, live_server, operator,
                                                              store):
    product = broken_original(store)
    log_in(page, live_server, operator)
    answers = []
    page.on("response", lambda r: answers.append(r) if "/originals/" in r.url else None)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    note = page.locator("figure.tile.original .preview-failed")
    expect(note).to_contain_text("No preview")
    expect(note).to_contain_text("not a picture that can be shown")
    assert answers and all(r.status == 422 for r in answers)
    expect(page.get_by_text("The photo could not be read: it is damaged.")).to_be_visible()


def test_opening_a_product_from_far_down_the_queue_lands_at_its_top(
    page, live_server, operator, store
):
    for n in range(14):
        seed_product(store, title=f"Lamp {n:02d}", seed=n + 1)
    page.set_viewport_size(NARROW)
    log_in(page, live_server, operator)
    expect(page.locator("li.row")).to_have_count(14)
    last = page.locator("li.row a.title").last
    last.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 300
    title = last.text_content()
    last.click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.scrollY") == 0
    expect(page.get_by_role("heading", level=1, name=title)).to_be_in_viewport()


def test_rejected_tiles_keep_their_text_at_full_contrast(page, live_server, operator, store):
    product = seed_product(store, title="Desk lamp", seed=3)
    product.generated.filter(kind="scene").update(status="rejected")
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    tile = page.locator("article.tile[data-status=rejected]")
    expect(tile.locator(".badge", has_text="Rejected")).to_be_visible()
    # No opacity on the tile or its text (it took the text below 4.5:1); only the picture.
    assert tile.evaluate("t => getComputedStyle(t).opacity") == "1"
    assert tile.locator("strong").first.evaluate("s => getComputedStyle(s).color") == (
        "rgb(48, 48, 48)")


def test_settings_warn_before_leaving_with_unsaved_changes(page, live_server, operator, store):
    log_in(page, live_server, operator)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    # Nothing changed: leaving asks nothing.
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert dialogs == []

    page.get_by_role("link", name="Settings").click()
    # The prompt field says what the built-in generator does with a prompt, and its words.
    prompt = page.get_by_label("Custom scene prompt (optional)")
    expect(prompt).to_have_accessible_description(re.compile("does not read sentences"))
    expect(page.get_by_role("list", name="Words the scene generator understands")).to_contain_text(
        "Marble counter: marble")
    page.get_by_label("Variations per scene").fill("3")
    page.get_by_role("link", name="Review").click()  # dismissed: stays, with what was typed
    for _ in range(100):  # the hash change, and so the question, comes after the click returns
        if dialogs:
            break
        page.wait_for_timeout(100)
    assert dialogs == ["You have unsaved changes in Settings. Leave without saving?"]
    expect(page.get_by_label("Variations per scene")).to_have_value("3")
    expect(page).to_have_url(re.compile(r"#/settings$"))
    # A reload asks too (beforeunload).
    assert page.evaluate("""() => { const e = new Event("beforeunload", {cancelable: true});
                                    window.dispatchEvent(e); return e.defaultPrevented; }""")

    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#toast")).to_have_text("Settings saved.")
    page.get_by_role("link", name="Review").click()  # saved: leaves without asking
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert len(dialogs) == 1


def test_the_queue_fills_without_a_reload_while_generation_runs(
    page, live_server, store_dir, media_root, broker, worker, operator
):
    from photosync.models import GeneratedImage
    from photosync.services.stores import store_connect_local
    from photosync.services.sync import stores_reconcile

    store_connect_local(path=store_dir, name="Demo store")
    log_in(page, live_server, operator)
    expect(page.locator(".empty-state")).to_contain_text("Nothing is waiting")
    page.evaluate("window.photosyncSamePage = true")  # gone if the page reloads
    stores_reconcile()  # the worker runs the real pipeline meanwhile
    deadline = time.monotonic() + 120
    while not GeneratedImage.objects.filter(status="ready").exists():
        assert time.monotonic() < deadline, "the pipeline made nothing"
        time.sleep(0.2)
    made = time.monotonic()
    expect(page.locator("li.row").first).to_be_visible(timeout=10_000)
    lag = time.monotonic() - made
    print(f"queue followed the first new output in {lag:.1f} s")
    assert lag < 5
    expect(page.locator("li.row")).to_have_count(2, timeout=120_000)
    expect(page.locator("[data-filter=waiting] .count")).to_have_text("2")
    assert page.evaluate("window.photosyncSamePage") is True


def test_the_product_page_follows_changes_made_elsewhere(page, live_server, operator, store):
    product = seed_product(store, title="Desk lamp", seed=4)
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    scene = product.generated.get(kind="scene")
    tile = page.locator(f"article[data-image-id='{scene.pk}']")
    expect(tile).to_have_attribute("data-status", "ready")
    page.evaluate("window.photosyncSamePage = true")
    # Another tab (or a colleague) rejects it: this page shows it within 5 s, no reload.
    product.generated.filter(pk=scene.pk).update(status="rejected")
    expect(tile).to_have_attribute("data-status", "rejected", timeout=5_000)
    assert page.evaluate("window.photosyncSamePage") is True


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_undo_of_a_reject_puts_the_output_back_without_regenerating(
    page, live_server, operator, store, viewport
):
    from photosync.models import GenerationJob

    product = seed_product(store, title="Desk lamp", seed=5)
    scene = product.generated.get(kind="scene")
    page.set_viewport_size(viewport)
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    tile = page.locator(f"article[data-image-id='{scene.pk}']")
    tile.get_by_role("button", name="Reject").click()
    expect(tile).to_have_attribute("data-status", "rejected")
    undo = page.locator("#toast").get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    undo.click()
    expect(tile).to_have_attribute("data-status", "ready")
    expect(page.locator("#toast")).to_contain_text("Back in review")
    scene.refresh_from_db()
    assert scene.status == "ready"
    assert GenerationJob.objects.filter(product=product).count() == 1

    # Later (the toast gone), the rejected tile itself reopens it.
    tile.get_by_role("button", name="Reject").click()
    expect(tile).to_have_attribute("data-status", "rejected")
    expect(undo).to_be_hidden(timeout=12_000)  # ~10 s
    tile.get_by_role("button", name="Reopen for review").click()
    expect(tile).to_have_attribute("data-status", "ready")


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_keyboard_review_approves_moves_and_never_fires_while_typing(
    page, live_server, operator, store, viewport
):
    first = seed_product(store, title="Desk lamp", seed=6)
    second = seed_product(store, title="Floor lamp", seed=8)
    page.set_viewport_size(viewport)
    log_in(page, live_server, operator)
    page.keyboard.press("j")  # the queue: j focuses a row, Enter opens it
    focused = page.evaluate("document.activeElement.textContent")
    assert focused in ("Desk lamp", "Floor lamp")
    target = first if focused == "Desk lamp" else second
    other = second if target is first else first
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name=target.title)).to_be_visible()

    framed, scene = target.generated.get(kind="framed"), target.generated.get(kind="scene")
    tiles = page.locator("article.tile")
    expect(tiles).to_have_count(2)
    page.keyboard.press("j")
    expect(page.locator(f"article[data-image-id='{framed.pk}']")).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f"article[data-image-id='{scene.pk}']")).to_be_focused()
    page.keyboard.press("k")
    framed_tile = page.locator(f"article[data-image-id='{framed.pk}']")
    expect(framed_tile).to_be_focused()
    # Focus is visible: a ring around the current tile.
    assert "0px 0px 0px 2px" in framed_tile.evaluate("t => getComputedStyle(t).boxShadow")

    # Typing in a field: "a", "r", "j" are letters, nothing else.
    alt = framed_tile.get_by_label("Alt text")
    alt.fill("")
    alt.type("a jar")
    expect(alt).to_have_value("a jar")
    expect(framed_tile).to_have_attribute("data-status", "ready")
    framed_tile.focus()
    page.keyboard.press("a")
    expect(framed_tile).to_have_attribute("data-status", re.compile("approved|pushed"))
    framed.refresh_from_db()
    assert framed.status in ("approved", "pushed") and framed.alt_text == "a jar"
    expect(framed_tile).to_be_focused()  # the focus stays on the tile after the repaint

    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page.locator(f"article[data-image-id='{scene.pk}']")).to_have_attribute(
        "data-status", "rejected")
    page.keyboard.press("u")  # undo, while the toast shows
    expect(page.locator(f"article[data-image-id='{scene.pk}']")).to_have_attribute(
        "data-status", "ready")

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Approve the current output")
    page.keyboard.press("a")  # the dialog is open: no shortcut fires
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    scene.refresh_from_db()
    assert scene.status == "ready"

    page.keyboard.press("n")
    expect(page.get_by_role("heading", level=1, name=other.title)).to_be_visible()


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_an_output_opens_large_beside_its_original_and_zooms_to_100_percent(
    page, live_server, operator, store, viewport, screenshot
):
    product = seed_product(store, title="Desk lamp", seed=9)
    framed = product.generated.get(kind="framed")
    page.set_viewport_size(viewport)
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    tile = page.locator(f"article[data-image-id='{framed.pk}']")
    tile.locator("[data-role=compare]").click()
    dialog = page.get_by_role("dialog", name=re.compile("^Cutout · white-square"))
    expect(dialog).to_be_visible()
    page.wait_for_function("[...document.querySelectorAll('dialog.compare img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    width = dialog.evaluate("d => d.getBoundingClientRect().width")
    assert width >= (600 if viewport is WIDE else 350), width
    expect(dialog.get_by_role("img", name=re.compile("^Your original photo"))).to_be_visible()
    output_pane = dialog.locator(".pane-frame.checker")
    assert "conic-gradient" in output_pane.evaluate("f => getComputedStyle(f).backgroundImage")
    if viewport is WIDE:
        screenshot(page, "compare-seeded", docs=False)  # the README's: test_admin_page
        page.set_viewport_size(viewport)
    if viewport is WIDE:  # side by side: the original's pane starts right of the output's
        boxes = dialog.locator(".pane").evaluate_all(
            "ps => ps.map(p => p.getBoundingClientRect().left)")
        assert boxes[1] > boxes[0] + 250
    # Fitted first; at 100 % the picture is drawn at its own pixel size (scroll to look).
    image = output_pane.locator("img")
    fitted = image.evaluate("i => i.getBoundingClientRect().width")
    dialog.get_by_role("button", name="Zoom to 100%").click()
    natural, drawn = image.evaluate("i => [i.naturalWidth, i.getBoundingClientRect().width]")
    assert drawn == natural and natural == framed.width
    assert fitted > drawn  # the 256 px test picture was drawn larger to fit
    expect(dialog.get_by_role("button", name="Fit to screen")).to_have_attribute(
        "aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(tile.locator("[data-role=compare]")).to_be_focused()


def test_axe_core_finds_no_violations_on_any_screen(page, live_server, operator, store, axe):
    from photosync.models import Push

    flagged = seed_product(store, title="Flagged lamp", seed=1,
                           outputs=(("framed", [FLAG]), ("scene", [])))
    decided = seed_product(store, title="Clean chair", seed=2)
    scene = decided.generated.get(kind="scene")
    decided.generated.filter(pk=scene.pk).update(status="rejected")
    framed = decided.generated.get(kind="framed")
    decided.generated.filter(pk=framed.pk).update(status="pushed", featured=True)
    Push.objects.create(store=store, product=decided, image=framed, status="rolled_back",
                        content_hash=framed.content_hash)
    broken = broken_original(store)
    page.goto(f"{live_server.url}/login/")
    axe(page, "login")
    log_in(page, live_server, operator)
    for size in (WIDE, NARROW):
        page.set_viewport_size(size)
        at = size["width"]
        page.goto(f"{live_server.url}/status")
        axe(page, f"status at {at}")
        assert_no_stray_text(page, f"status at {at}")
        for key in ("waiting", "pushed"):
            page.goto(f"{live_server.url}/#/?status={key}")
            expect(page.locator(f"[data-filter={key}][aria-pressed=true]")).to_be_visible()
            page.wait_for_load_state("networkidle")
            axe(page, f"queue {key} at {at}")
        for product in (flagged, decided, broken):
            page.goto(f"{live_server.url}/#/products/{product.pk}")
            expect(page.get_by_role("heading", level=1, name=product.title)).to_be_visible()
            page.wait_for_load_state("networkidle")
            axe(page, f"{product.title} at {at}")
        page.goto(f"{live_server.url}/#/products/{flagged.pk}")
        page.locator("summary", has_text="Regenerate").click()
        axe(page, f"regenerate at {at}")
        page.locator("article.tile [data-role=compare]").first.click()
        expect(page.locator("dialog.compare")).to_be_visible()
        page.wait_for_load_state("networkidle")
        axe(page, f"compare at {at}")
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Keyboard shortcuts").click()
        axe(page, f"shortcuts at {at}")
        page.keyboard.press("Escape")
        tile = page.locator("article.tile[data-status=ready]").first
        tile.get_by_role("button", name="Reject").click()
        expect(page.locator("#toast").get_by_role("button", name="Undo")).to_be_visible()
        page.wait_for_function("getComputedStyle(document.getElementById('toast'))"
                               ".opacity === '1'")  # faded in (axe measures what is drawn)
        axe(page, f"undo toast at {at}")
        page.locator("#toast").get_by_role("button", name="Undo").click()
        page.goto(f"{live_server.url}/#/settings")
        expect(page.get_by_role("heading", name="Settings")).to_be_visible()
        axe(page, f"settings at {at}")


def test_undo_of_an_approve_works_until_its_push_starts(page, live_server, operator, store,
                                                        settings):
    """The approve's push waits out PHOTOSYNC_APPROVE_UNDO_SECONDS, the time the Undo shows
    (test_review_api checks the delayed send), so Undo takes it back. No worker here: one
    stopped at teardown while holding the delayed message would leave the stub broker's
    delay queue unfinished for every later test."""
    from photosync.models import Push

    settings.PHOTOSYNC_APPROVE_UNDO_SECONDS = 10  # production's default (tests push at once)
    product = seed_product(store, title="Desk lamp", seed=10)
    framed, scene = product.generated.get(kind="framed"), product.generated.get(kind="scene")
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    tile = page.locator(f"article[data-image-id='{framed.pk}']")
    tile.get_by_role("button", name="Approve").click()  # the push waits out the Undo
    expect(tile.locator(".badge", has_text="Queued")).to_be_visible()
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(tile).to_have_attribute("data-status", "ready")
    assert not Push.objects.filter(image=framed).exists()

    # Once the push has started, Undo says what to do instead, and nothing changes.
    other = page.locator(f"article[data-image-id='{scene.pk}']")
    other.get_by_role("button", name="Approve").click()
    expect(other.locator(".badge", has_text="Queued")).to_be_visible()
    Push.objects.filter(image=scene).update(status="uploading", attempts=1)
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator("#toast")).to_contain_text("roll it back from the history")
    expect(other.locator(".badge", has_text="Uploading")).to_be_visible()


def test_the_alt_text_of_a_live_image_can_be_edited(page, live_server, operator, store):
    from photosync.models import GeneratedImage, Push

    product = seed_product(store, title="Desk lamp", seed=11, outputs=(("framed", []),))
    image = product.generated.get()
    GeneratedImage.objects.filter(pk=image.pk).update(status="pushed", featured=True)
    push = Push.objects.create(store=store, product=product, image=image, status="live",
                               content_hash=image.content_hash, remote_id="r1",
                               sent_alt=image.alt_text, sent_featured=True)
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    tile = page.locator(f"article[data-image-id='{image.pk}']")
    expect(tile.locator(".badge", has_text="Live on the store")).to_be_visible()
    tile.get_by_label("Alt text").fill("Desk lamp in brass, lit")
    tile.get_by_role("button", name="Save alt text").click()
    expect(tile.locator(".badge", has_text="Change queued")).to_be_visible()
    image.refresh_from_db()
    push.refresh_from_db()
    assert image.alt_text == "Desk lamp in brass, lit" and image.featured
    assert push.kind == "update" and push.status == "queued"


def test_a_product_deleted_on_the_store_is_listed_under_deleted_only(
        page, live_server, operator, store, axe):
    from django.utils import timezone

    from photosync.models import Product

    gone = seed_product(store, title="Retired lamp", remote_id="retired", seed=12)
    seed_product(store, title="Kept chair", remote_id="kept", seed=13)
    Product.objects.filter(pk=gone.pk).update(deleted_at=timezone.now(),
                                              deleted_reason="Deleted on the store.")
    log_in(page, live_server, operator)
    for size in (WIDE, NARROW):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/#/?status=all")
        expect(page.get_by_role("link", name="Kept chair")).to_be_visible()
        expect(page.get_by_role("link", name="Retired lamp")).to_have_count(0)
        page.goto(f"{live_server.url}/#/?status=deleted")
        row = page.locator(f"li[data-product-id='{gone.pk}']")
        expect(row).to_contain_text("Deleted on the store")
        expect(page.get_by_role("link", name="Kept chair")).to_have_count(0)
        axe(page, f"deleted filter at {size['width']}")
