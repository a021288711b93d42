"""Inside the Shopify admin the page uses the admin's own chrome (issue 16), at 1280 and 390
px: App Bridge's title bar with the screen's title and primary action, its navigation menu for
Review / Settings instead of the page's tabs, and its save bar for unsaved settings (the
beforeunload warning stays). App Bridge is the stub of tests/browser/conftest.py, whose web
components record what the page gives them; the Shopify Admin emulator is the shop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from photosync.models import Product, Push, Store
from tests.browser.conftest import NARROW, WIDE
from tests.browser.test_admin_page import _open_embedded
from tests.browser.test_review_page import log_in
from tests.conftest import PRODUCTION
from tests.review_data import seed_product
from tests.shopify.conftest import SHOP

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(PRODUCTION, reason="browser tests run once, in the embedded pass"),
    pytest.mark.django_db(transaction=True),
]

TITLE_BAR = """() => { const bar = document.querySelector("ui-title-bar");
  return { title: bar.getAttribute("title"),
           buttons: [...bar.children].map((c) => [c.tagName, c.getAttribute("variant"),
                                                   c.textContent, c.getAttribute("href")]) }; }"""


def press(page, selector: str) -> None:
    """What App Bridge does when the merchant presses the admin's button or menu item."""
    page.evaluate("(s) => document.querySelector(s).click()", selector)


def title_bar(page) -> dict:
    return page.evaluate(TITLE_BAR)


@pytest.mark.parametrize("viewport", [WIDE, NARROW], ids=["1280", "390"])
def test_inside_shopify_the_admin_draws_the_title_bar_menu_and_save_bar(
    page, live_server, emulator, shopify_store, broker, media_root, viewport, axe
):
    from bench.seed import seed_outbox

    seed_outbox(emulator, shopify_store, products=2, per_product=2)
    page.set_viewport_size(viewport)
    _open_embedded(page, live_server, emulator, [lambda: emulator.id_token(SHOP)])
    expect(page.locator("li.row")).to_have_count(2)
    at = viewport["width"]

    # The page's own tabs give way to the admin's menu; nothing of App Bridge's is drawn here.
    expect(page.locator("nav.tabs")).to_be_hidden()
    menu = page.evaluate("""[...document.querySelectorAll("ui-nav-menu > a")]
        .map((a) => [a.getAttribute("href"), a.getAttribute("rel"), a.textContent])""")
    assert menu == [["#/", "home", "PhotoSync"], ["#/", None, "Review"],
                    ["#/settings", None, "Settings"]]
    for name in ("ui-nav-menu", "ui-title-bar", "ui-save-bar"):
        assert page.locator(name).evaluate("e => e.getBoundingClientRect().height") == 0, name
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    axe(page, f"embedded queue at {at}")

    # The queue's title and primary action: approve the unflagged outputs of every product
    # shown (after a confirmation).
    assert title_bar(page) == {"title": "Review queue", "buttons": [
        ["BUTTON", "primary", "Approve all unflagged", None]]}
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    press(page, "ui-title-bar button[variant=primary]")
    expect(page.locator("#toast")).to_contain_text("Approved 4 outputs")
    assert dialogs == ["Approve the unflagged outputs of 2 products? They are pushed to your "
                       "store."]
    assert Push.objects.filter(store=shopify_store).count() == 4

    # A product: its title, a breadcrumb back, and no primary action once nothing waits.
    product = Product.objects.filter(store=shopify_store).order_by("pk").first()
    page.evaluate(f"location.hash = '#/products/{product.pk}'")
    expect(page.get_by_role("heading", level=1, name=product.title)).to_be_visible()
    page.wait_for_function("document.querySelector('ui-title-bar').getAttribute('title') "
                           f"=== {product.title!r}")
    assert title_bar(page)["buttons"] == [["A", "breadcrumb", "Review queue", "#/"]]

    # Settings through the admin's menu; the save bar while changes are unsaved.
    press(page, "ui-nav-menu a[href='#/settings']")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    assert title_bar(page) == {"title": "Settings", "buttons": []}
    assert page.evaluate("document.getElementById('photosync-save-bar').showing") is False
    page.get_by_label("Variations per scene").fill("3")
    page.wait_for_function("document.getElementById('photosync-save-bar').showing")
    axe(page, f"embedded settings with unsaved changes at {at}")
    assert page.evaluate("""() => { const e = new Event("beforeunload", {cancelable: true});
                                    window.dispatchEvent(e); return e.defaultPrevented; }""")
    press(page, "ui-save-bar button[variant=primary]")  # Save
    expect(page.locator("#toast")).to_have_text("Settings saved.")
    page.wait_for_function("!document.getElementById('photosync-save-bar').showing")
    assert Store.objects.get(pk=shopify_store.pk).settings["variations"] == 3

    # Discard: the saved settings again, the bar gone, nothing sent.
    page.get_by_label("Variations per scene").fill("5")
    page.wait_for_function("document.getElementById('photosync-save-bar').showing")
    press(page, "ui-save-bar button:not([variant])")  # Discard
    expect(page.get_by_label("Variations per scene")).to_have_value("3")
    assert page.evaluate("document.getElementById('photosync-save-bar').showing") is False
    assert Store.objects.get(pk=shopify_store.pk).settings["variations"] == 3
    press(page, "ui-nav-menu a[href='#/']:not([rel])")  # leaves without asking: all saved
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert len(dialogs) == 1


def test_outside_shopify_the_page_keeps_its_own_tabs_and_buttons(page, live_server, operator,
                                                                media_root):
    store = Store.objects.create(platform="local", domain="/tmp/outside", name="Shop")
    seed_product(store, title="Desk lamp", seed=14)
    log_in(page, live_server, operator)
    expect(page.locator("nav.tabs")).to_be_visible()
    assert page.locator("ui-title-bar, ui-nav-menu, ui-save-bar").count() == 0
    page.get_by_role("link", name="Desk lamp").click()
    expect(page.get_by_role("button", name=re.compile(r"^Approve all unflagged"))).to_be_visible()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    assert page.locator("ui-title-bar, ui-nav-menu, ui-save-bar").count() == 0
