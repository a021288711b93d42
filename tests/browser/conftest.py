"""Browser fixtures: Debian's chromium driven by playwright (never `playwright install`), a
stub of Shopify's App Bridge, and screenshots.

Screenshots go to `<pytest's basetemp>/screenshots/` (CI keeps that folder as an artifact:
/tmp/pytest-of-$USER/pytest-current/screenshots/ by default). With
PHOTOSYNC_UPDATE_SCREENSHOTS=1 the README's ones in docs/screenshots/ are rewritten as well.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.shopify.conftest import emulator, shopify_settings, shopify_store  # noqa: F401

CHROMIUM = os.environ.get("PHOTOSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}

# App Bridge as the admin page uses it: `shopify.idToken()` (here: a token the test signs, on
# each call), toasts, and a minimal double of its web components: <ui-title-bar>,
# <ui-nav-menu> and <ui-save-bar> are defined as App Bridge defines them, drawn by the admin
# and not in the page (a shadow root without a slot), and the save bar's show()/hide()
# (also as shopify.saveBar.show/hide(id)) are recorded in window.photosyncSaveBar. The admin
# pressing a title bar or save bar button, or a menu item, is a click on that child element.
# The test routes https://cdn.shopify.com/** here.
APP_BRIDGE_STUB = """
window.photosyncSaveBar = [];
class PhotosyncAdminDrawn extends HTMLElement {
  constructor() { super(); this.attachShadow({ mode: "open" }); }
}
customElements.define("ui-title-bar", class extends PhotosyncAdminDrawn {});
customElements.define("ui-nav-menu", class extends PhotosyncAdminDrawn {});
customElements.define("ui-save-bar", class extends PhotosyncAdminDrawn {
  get showing() { return !!this._showing; }
  show() { this._showing = true; window.photosyncSaveBar.push("show"); return Promise.resolve(); }
  hide() { this._showing = false; window.photosyncSaveBar.push("hide"); return Promise.resolve(); }
});
window.shopify = {
  config: { apiKey: document.querySelector('meta[name="shopify-api-key"]').content },
  idToken: () => window.photosyncTestIdToken(),
  toast: { show: (message) => { (window.photosyncToasts = window.photosyncToasts || [])
                                  .push(message); } },
  saveBar: { show: (id) => document.getElementById(id).show(),
             hide: (id) => document.getElementById(id).hide() },
};
"""


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are
    # still synchronous, so Django's async-safety check does not apply to them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a loaded CI machine runs the pipeline slower
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=WIDE, device_scale_factor=1, locale="en-GB",
                                  timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: _console_error(message, errors))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def _console_error(message, errors: list[str]) -> None:
    """Errors in the browser's console count as the page's errors: a module that does not
    load, a CSP refusal, a wrong MIME type. The API's own error answers (a 404 for another
    shop's product, the 401 that asks for a fresh ID token) are the page's to show: the
    browser logs each, and the tests check what the page makes of them."""
    if message.type != "error":
        return
    url = message.location.get("url", "")
    if message.text.startswith("Failed to load resource") and "/api/v1/" in url:
        return
    if "status of 422" in message.text and ("/originals/" in url or "/thumbs/" in url):
        return  # a damaged picture: the page shows the server's reason in its place
    errors.append(f"console: {message.text} ({url})")


def shopify_bridge(page, mint) -> None:
    """Serve the App Bridge stub for the CDN URL; `mint()` answers each `idToken()`."""
    page.expose_function("photosyncTestIdToken", mint)
    page.route("https://cdn.shopify.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=APP_BRIDGE_STUB))


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots", numbered=False)


@pytest.fixture
def screenshot(screenshots_dir):
    """`screenshot(page, name)`: at 1280 and 390 px wide, as `<name>-1280.png` and
    `<name>-390.png`, from the top of the page; the page is left at 1280 px. `docs=False`:
    a CI artifact only, never one of the README's."""
    update = os.environ.get("PHOTOSYNC_UPDATE_SCREENSHOTS") == "1"

    def take(page, name: str, *, full_page: bool = False, docs: bool = True) -> None:
        page.evaluate("document.activeElement && document.activeElement.blur()")
        for size in (WIDE, NARROW):
            page.set_viewport_size(size)
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(150)  # layout settles, lazy images start
            page.wait_for_load_state("networkidle")
            data = page.screenshot(animations="disabled", full_page=full_page)
            filename = f"{name}-{size['width']}.png"
            (screenshots_dir / filename).write_bytes(data)
            if update and docs:
                DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                (DOCS_SCREENSHOTS / filename).write_bytes(_small_png(data))
        page.set_viewport_size(WIDE)

    return take


def _small_png(data: bytes) -> bytes:
    """The screenshot re-encoded with zlib's best effort (palette quantization was tried: it
    shifts the admin's greys and bands the scenes, for a small gain)."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


AXE_VERSION = "4.10.2"
AXE_FILE = Path(__file__).parent / "vendor" / f"axe-{AXE_VERSION}.min.js"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's axe.min.js from the npm package (`npm pack axe-core@4.10.2`, fetched once
    into the git-ignored tests/browser/vendor/). Skips when npm is absent or offline."""
    if not AXE_FILE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("axe-core checks need npm (to fetch the axe-core package)")
        with tempfile.TemporaryDirectory() as folder:
            packed = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent"],
                                    cwd=folder, capture_output=True, text=True, timeout=180)
            if packed.returncode != 0:
                pytest.skip(f"npm pack axe-core failed: {packed.stderr.strip()[:200]}")
            tarball = Path(folder) / packed.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as archive:
                data = archive.extractfile("package/axe.min.js").read()
        AXE_FILE.parent.mkdir(exist_ok=True)
        staged = AXE_FILE.with_suffix(".tmp")
        staged.write_bytes(data)
        staged.replace(AXE_FILE)
    return AXE_FILE.read_text()


@pytest.fixture
def axe(axe_source):
    """`axe(page, where)`: run axe-core (WCAG 2.1 A/AA and best practices) on the page as it
    is; fails with each violation's rule, impact and first nodes."""

    def check(page, where: str) -> None:
        # Fades finish first (a toast half faded in is measured as drawn); endless spinners
        # are left alone.
        page.wait_for_function("""() => document.getAnimations().every(a =>
            a.playState !== "running" || a.effect.getComputedTiming().iterations === Infinity)""")
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=axe_source)
        result = page.evaluate("""() => axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "best-practice"] },
            resultTypes: ["violations"] })""")
        problems = [f"{v['id']} ({v['impact']}): {v['help']} at "
                    + "; ".join(n["target"][0] if isinstance(n["target"][0], str)
                                else str(n["target"]) for n in v["nodes"][:3])
                    for v in result["violations"]]
        assert problems == [], f"axe-core on {where}: {problems}"

    return check
