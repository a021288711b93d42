"""The review page's service controls (issue 16), in Debian's chromium at 1280 and 390 px:
Regenerate lets the merchant choose the background remover; the queue says when new products
take longer than usual. Seeded review data (tests/review_data.py): no pipeline run."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from photosync.models import GenerationJob, Store
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_review_page import log_in
from tests.conftest import PRODUCTION
from tests.review_data import seed_product

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(PRODUCTION, reason="browser tests run once, in the embedded pass"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(media_root, page):
    """Closed before MEDIA_ROOT is put back (these screens poll all the time)."""
    return page


@pytest.fixture
def store(media_root):
    return Store.objects.create(platform="local", domain="/tmp/review-controls", name="Shop")


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_regenerate_offers_the_configured_background_removers(
    page, live_server, operator, store, settings, broker, viewport, axe, screenshot
):
    settings.PHOTOSYNC_SEGMENTER = "rembg:u2net"
    settings.PHOTOSYNC_SEGMENTER_FALLBACK = ["removebg", "classical"]
    product = seed_product(store, title="Desk lamp", seed=12)
    page.set_viewport_size(viewport)
    log_in(page, live_server, operator)
    page.goto(f"{live_server.url}/#/products/{product.pk}")
    page.locator("summary", has_text="Regenerate").click()
    panel = page.locator("details.card")
    remover = panel.get_by_label("Background remover")
    expect(remover).to_be_visible()
    expect(remover.locator("option")).to_have_text([
        "Classical (no model: edges and colours)", "U²-Net (rembg:u2net) — default",
        "remove.bg API (hosted, charged per image)"])
    expect(remover).to_have_value("rembg:u2net")  # the deployment's default first
    remover.select_option("classical")
    axe(page, f"regenerate with a background remover at {viewport['width']}")
    if viewport is WIDE:
        remover.scroll_into_view_if_needed()
        screenshot(page, "regenerate-remover", docs=False)
        page.set_viewport_size(viewport)
    panel.get_by_role("button", name="Regenerate").click()
    expect(page.locator("#toast")).to_contain_text("Regenerating")
    job = GenerationJob.objects.get(product=product, reason="regenerate")
    assert job.config["segmenter"] == "classical"


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_the_queue_says_when_new_products_take_longer_and_follows_it_live(
    page, live_server, operator, store, settings, viewport, axe, screenshot
):
    from tests.test_processing_delay import _history, _job

    settings.PHOTOSYNC_DELAY_BANNER_AFTER = 120
    seed_product(store, title="Desk lamp", seed=13)
    _history(store, now=timezone.now())  # 2 per minute, 60 s each, over the last hour
    page.set_viewport_size(viewport)
    log_in(page, live_server, operator)
    banner = page.locator("[data-role=delay]")
    expect(page.locator("li.row")).to_have_count(1)
    expect(banner).to_have_count(0)  # nothing waiting: about a minute, under the threshold

    waiting = [_job(store, status="queued", created=5, now=timezone.now()) for _ in range(8)]
    page.evaluate("window.photosyncSamePage = true")
    # 8 ahead at 2 a minute, then its own minute: about 5 minutes; shown without a reload.
    expect(banner).to_contain_text("New products take about 5 minutes right now.",
                                   timeout=5_000)
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_be_in_viewport()
    axe(page, f"queue with the delay banner at {viewport['width']}")
    if viewport is WIDE:
        screenshot(page, "queue-delay", docs=False)
        page.set_viewport_size(viewport)

    GenerationJob.objects.filter(pk__in=[j.pk for j in waiting]).update(status="succeeded")
    expect(banner).to_have_count(0, timeout=5_000)  # the backlog cleared
    assert page.evaluate("window.photosyncSamePage") is True
