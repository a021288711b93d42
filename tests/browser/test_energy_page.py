"""What a merchant sees of energy and carbon, in a real browser: each output's Wh and g CO₂e in
its fidelity details, this month's images, Wh and g CO₂e in Settings, and the option to run
backfills when the grid is cleanest (saved, and a held backfill explained)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from photosync.models import GeneratedImage, GenerationJob, Product
from photosync.services.energy import energy_label
from tests.browser.test_admin_page import _assert_named, _folder_store, _log_in
from tests.conftest import PRODUCTION

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(PRODUCTION, reason="browser tests run once, in the embedded pass"),
    pytest.mark.django_db(transaction=True),
]


def test_energy_per_output_and_per_month_and_the_clean_grid_option(
        page, live_server, store_dir, media_root, broker, worker, operator, settings,
        screenshot):
    settings.PHOTOSYNC_GRID_INTENSITY_URL = None
    settings.PHOTOSYNC_GRID_INTENSITY = 250.0
    store = _folder_store(store_dir, broker, worker)
    _log_in(page, live_server, operator)

    watch = Product.objects.get(remote_id="mg01-bk-0")
    scene = watch.generated.get(kind="scene")
    page.get_by_role("link", name="Aim Analog Watch").click()
    tile = page.locator(f"article[data-image-id='{scene.pk}']")
    badge = tile.get_by_role("button", name=re.compile("^Fidelity"))
    source = scene.energy["devices"]["cpu"]["source"]
    label = energy_label(wh=scene.energy_wh, co2e_g=scene.co2e_g, sources=[source])
    assert re.fullmatch(r"0\.\d+ Wh · 0\.\d+ g CO₂e \((estimated from CPU time|measured, RAPL)\)",
                        label), label
    expect(badge).to_have_attribute("title", re.compile(re.escape(f"Energy: {label}")))
    badge.click()
    expect(tile.locator("ul.meta li", has_text="Energy:")).to_have_text(f"Energy: {label}")

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    images = GeneratedImage.objects.filter(product__store=store).count()
    line = page.locator("[data-role=energy]")
    expect(line).to_contain_text(f"{images} images this month")
    expect(line).to_contain_text(re.compile(r"· 0\.\d+ Wh · 0\.\d+ g CO₂e$"))
    page.get_by_label("Window starts at").fill("01:00")
    page.get_by_label("ends at").fill("06:00")
    page.get_by_label("Run backfills when the grid is cleanest").check()
    page.get_by_label(re.compile("^…or whenever the grid is below")).fill("150")
    _assert_named(page)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#toast")).to_have_text("Settings saved.")
    store.refresh_from_db()
    assert store.settings["clean_grid_backfills"] is True
    assert store.settings["clean_grid_threshold"] == 150

    page.get_by_label(re.compile("^…or whenever the grid is below")).fill("99999")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#err-clean_grid_threshold")).to_contain_text("from 0 (none) to 2000")

    # A backfill held for a cleaner grid is explained in the usage.
    job = GenerationJob.objects.filter(store=store).first()
    GenerationJob.objects.filter(pk=job.pk).update(
        status="held", hold_reason="clean_grid", reason="backfill",
        error="Backfill held at 01:10 for the cleanest hours of the grid: 300 g CO₂e/kWh "
              "now; the forecast shows 110 g, and it runs from 03:00 (UTC).")
    page.reload()
    expect(page.locator(".banner.warn")).to_have_text(
        "1 job on hold: Backfill held at 01:10 for the cleanest hours of the grid: 300 g "
        "CO₂e/kWh now; the forecast shows 110 g, and it runs from 03:00 (UTC).")
    screenshot(page, "settings-energy", full_page=True)
