"""The stores the adapter contract battery runs against, behind one small interface.

`harness` is parametrised over the local folder store, the Shopify emulator, the WooCommerce
emulator and, where one answers on this machine, the real WooCommerce store of
`../shared/tools/woo-local` (skipped cleanly when it is absent). Each harness creates a
merchant's product with real photos, reads the product's gallery as the store shows it (ids
in order: first is featured), and plays the merchant's own edits in the store's admin.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest

from photosync.models import Store
from tests.conftest import PHOTOS, drain

PHOTO_NAMES = ("mg01-bk-0.jpg", "luma-yoga-brick.jpg", "lt01.jpg", "ug05-gr-0.jpg")
WOO_LOCAL_ENV = Path(os.environ.get("WOO_BASE", "/tmp/woo-local")) / "env.sh"


class Harness:
    """One store under test. Ids are strings as the app keeps them (`Push.remote_id`)."""

    platform = ""
    #: the merchant's photos are part of the gallery PhotoSync writes (not so in a folder)
    merchant_gallery = True
    #: the store processes media after accepting it (and may fail it): Shopify
    async_media = False
    #: the store tells the app about changes by webhook (else reconciliation finds them)
    webhooks = True
    #: products have variants with their own image ("" or why the battery skips them)
    no_variants = "this store has no variants"
    #: a variant's image is one of the product's gallery images (Shopify)
    variant_media_in_gallery = False

    def __init__(self, store: Store) -> None:
        self.store = store

    def product(self, title: str, originals: int = 3) -> tuple[str, list[str]]:
        """A new product with the merchant's photos; returns its id and theirs, in order."""
        raise NotImplementedError

    def gallery(self, remote_id: str) -> list[str]:
        """The product's images in the store's order (the first is the featured one)."""
        raise NotImplementedError

    def alts(self, remote_id: str) -> dict[str, str]:
        raise NotImplementedError

    def merchant_adds_featured(self, remote_id: str) -> str:
        """The merchant uploads a new photo in the store's admin and makes it featured."""
        raise NotImplementedError

    def merchant_orders(self, remote_id: str, ids: list[str]) -> None:
        """The merchant drags the gallery into this order in the store's admin."""
        raise NotImplementedError

    def fail_next_media(self) -> None:
        raise NotImplementedError

    def merchant_deletes(self, remote_id: str) -> None:
        """The merchant deletes the product in the store's admin (WooCommerce: trashes it)."""
        raise NotImplementedError

    def variant_product(self, title: str) -> tuple[str, str, str, list[str]]:
        """A product whose variant shows the merchant's own photo: the product's id, the
        variant's (as the app keeps it in SourceImage.variant_id), that photo's id, and the
        gallery in order."""
        raise NotImplementedError

    def variant_shows(self, variant: str) -> list[str]:
        """The image ids the variant shows."""
        raise NotImplementedError

    def settle(self, broker, worker) -> None:
        """Let pushes, the webhooks they cause and the work those cause finish."""
        for _ in range(3):
            self._deliveries()
            drain(broker, worker, timeout=180)
        self._deliveries()

    def _deliveries(self) -> None:
        pass

    def close(self) -> None:
        pass


class LocalHarness(Harness):
    platform = "local"
    merchant_gallery = False  # the approved/ manifest holds only PhotoSync's images
    webhooks = False

    def __init__(self, root: Path) -> None:
        from photosync.services.stores import store_connect_local

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(store_connect_local(path=root))

    def product(self, title, originals=3):
        name = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        folder = self.root / name
        folder.mkdir()
        for photo in PHOTO_NAMES[:originals]:
            shutil.copy2(PHOTOS / photo, folder / photo)
        return name, []

    def _manifest(self, remote_id):
        from integrations.local.adapter import LocalStoreAdapter

        folder = self.root / remote_id / "approved"
        return LocalStoreAdapter._manifest(folder)["images"] if folder.is_dir() else []

    def gallery(self, remote_id):
        return [e["file"] for e in self._manifest(remote_id)]

    def alts(self, remote_id):
        return {e["file"]: e["alt"] for e in self._manifest(remote_id)}

    def merchant_deletes(self, remote_id):
        shutil.rmtree(self.root / remote_id)


class ShopifyHarness(Harness):
    platform = "shopify"
    async_media = True
    no_variants = ""
    variant_media_in_gallery = True

    def __init__(self, emulator, shop: str) -> None:
        from photosync.services.shopify.auth import shopify_store_connect

        self.emu, self.shop = emulator, shop
        token = emulator.issue_token(shop)
        super().__init__(shopify_store_connect(shop=shop, credentials={"access_token": token}))

    def product(self, title, originals=3):
        photos = [(p, (PHOTOS / p).read_bytes(), f"Merchant photo {n}")
                  for n, p in enumerate(PHOTO_NAMES[:originals])]
        gid = self.emu.create_product(self.shop, title=title, product_type="Demo",
                                      images=photos)
        return gid, self.gallery(gid)

    def gallery(self, remote_id):
        return [m["id"] for m in self.emu.product_media(self.shop, remote_id)]

    def alts(self, remote_id):
        return {m["id"]: m["alt"] for m in self.emu.product_media(self.shop, remote_id)}

    def merchant_adds_featured(self, remote_id):
        self.emu.edit_product(self.shop, remote_id, add_images=[
            ("new-angle.jpg", (PHOTOS / PHOTO_NAMES[3]).read_bytes(), "The merchant's new")])
        new = self.gallery(remote_id)[-1]
        self.merchant_orders(remote_id, [new, *[i for i in self.gallery(remote_id) if i != new]])
        return new

    def merchant_orders(self, remote_id, ids):
        self.emu.reorder_media(self.shop, remote_id, ids)

    def fail_next_media(self):
        self.emu.fail_media_next = 1

    def variant_product(self, title):
        gid, originals = self.product(title, originals=2)
        variant = self.emu.add_variant(self.shop, gid, "Grey", originals[1], notify=False)
        return gid, variant.rsplit("/", 1)[-1], originals[1], originals

    def variant_shows(self, variant):
        return self.emu.variant_media(self.shop, f"gid://shopify/ProductVariant/{variant}")

    def merchant_deletes(self, remote_id):
        self.emu.delete_product(self.shop, remote_id)

    def _deliveries(self):
        self.emu.wait_for_webhooks()


class WooHarness(Harness):
    platform = "woocommerce"
    no_variants = ""

    def __init__(self, woo) -> None:
        from photosync.services.woocommerce.connect import woocommerce_store_connect

        self.woo = woo
        key, secret = woo.add_key()
        super().__init__(woocommerce_store_connect(url=woo.url, consumer_key=key,
                                                   consumer_secret=secret))

    def product(self, title, originals=3):
        pid = self.woo.create_product(
            title, [(p, (PHOTOS / p).read_bytes()) for p in PHOTO_NAMES[:originals]])
        return str(pid), self.gallery(str(pid))

    def gallery(self, remote_id):
        return [str(i) for i in self.woo.gallery(int(remote_id))]

    def alts(self, remote_id):
        return {str(i): self.woo.attachments[i]["alt"] for i in self.woo.gallery(int(remote_id))}

    def merchant_adds_featured(self, remote_id):
        new = self.woo.upload("new-angle.jpg", (PHOTOS / PHOTO_NAMES[3]).read_bytes())
        self.woo.set_gallery(int(remote_id), [new, *self.woo.gallery(int(remote_id))])
        return str(new)

    def merchant_orders(self, remote_id, ids):
        self.woo.set_gallery(int(remote_id), [int(i) for i in ids])

    def merchant_deletes(self, remote_id):
        self.woo.trash_product(int(remote_id))

    def variant_product(self, title):
        pid = self.woo.create_product(title, [(PHOTO_NAMES[0], (PHOTOS / PHOTO_NAMES[0])
                                               .read_bytes())], kind="variable")
        vid = self.woo.create_variation(pid, f"{title} - Grey")
        theirs = self.woo.upload("grey.jpg", (PHOTOS / PHOTO_NAMES[2]).read_bytes(),
                                 alt="Grey strap")
        self.woo.set_variation_image(vid, theirs)
        return str(pid), str(vid), str(theirs), self.gallery(str(pid))

    def variant_shows(self, variant):
        return [str(i) for i in self.woo.gallery(int(variant))]

    def _deliveries(self):
        self.woo.wait_deliveries()


class RealWooHarness(Harness):
    """The real WordPress 6.8 + WooCommerce store on this machine; everything it creates
    carries a unique prefix and is deleted afterwards (others use the store too)."""

    platform = "woocommerce"
    webhooks = False  # connected without webhooks (below)
    no_variants = "variations are not created on the shared real store (emulator only)"

    def __init__(self, env: dict[str, str], public: Path, base_url: str) -> None:
        from integrations.woocommerce.client import WooClient
        from photosync.services.credentials import store_credentials_set

        self.env = env
        self.client = WooClient(env["WOO_URL"], env["WOO_CK"], env["WOO_CS"], timeout=60,
                                slow_timeout=180)
        self.public, self.base_url = public, base_url
        self.prefix = f"photosync-b1-{uuid.uuid4().hex[:8]}"
        self.created: list[int] = []
        self.uploads: set[int] = set()
        # Connected without webhooks: the store is shared, and its deliveries depend on
        # its queue runner; the echo is read by a refresh instead.
        store = Store.objects.create(platform="woocommerce", domain=env["WOO_URL"],
                                     name=self.prefix)
        store_credentials_set(store=store, credentials={
            "consumer_key": env["WOO_CK"], "consumer_secret": env["WOO_CS"],
            "webhook_secret": "w" * 40, "embed_secret": "e" * 43})
        super().__init__(store)

    def _url(self, photo: str) -> str:
        name = f"{self.prefix}-{uuid.uuid4().hex[:6]}-{photo}"
        (self.public / name).write_bytes((PHOTOS / photo).read_bytes())
        return f"{self.base_url}/media/generated/{name}"

    def _images(self, remote_id: str) -> list[dict]:
        images = self.client.get(f"products/{remote_id}").data["images"]
        self.uploads.update(i["id"] for i in images)
        return images

    def product(self, title, originals=3):
        body = {"name": f"{self.prefix} {title}", "type": "simple",
                "images": [{"src": self._url(p)} for p in PHOTO_NAMES[:originals]]}
        pid = self.client.post("products", body).data["id"]
        self.created.append(pid)
        return str(pid), self.gallery(str(pid))

    def gallery(self, remote_id):
        return [str(i["id"]) for i in self._images(remote_id)]

    def alts(self, remote_id):
        return {str(i["id"]): i.get("alt") or "" for i in self._images(remote_id)}

    def merchant_adds_featured(self, remote_id):
        images = [{"src": self._url(PHOTO_NAMES[3])}, *({"id": int(i)}
                                                         for i in self.gallery(remote_id))]
        self.client.put(f"products/{remote_id}", {"images": images}, slow=True)
        return self.gallery(remote_id)[0]

    def merchant_orders(self, remote_id, ids):
        self.client.put(f"products/{remote_id}", {"images": [{"id": int(i)} for i in ids]})

    def merchant_deletes(self, remote_id):
        self._images(remote_id)  # remember its attachments for close()
        self.client.delete(f"products/{remote_id}")  # to the trash

    def close(self):
        from photosync.models import Push

        ours = Push.objects.filter(store=self.store).exclude(remote_id="")
        self.uploads.update(int(i) for i in ours.values_list("remote_id", flat=True))
        for pid in self.created:
            self.uploads.update(i["id"] for i in self._images(str(pid)))
            self.client.delete(f"products/{pid}", {"force": "true"})
        # The attachments the products used: through wp/v2 as the store's admin (a
        # WooCommerce key may not delete media), logged in with a cookie and a REST nonce.
        import requests

        url = self.env["WOO_URL"]
        admin = requests.Session()
        admin.post(f"{url}/wp-login.php", data={
            "log": self.env.get("WOO_ADMIN_USER", ""), "pwd": self.env.get("WOO_ADMIN_PASS", ""),
            "testcookie": "1"}, cookies={"wordpress_test_cookie": "WP Cookie check"},
            allow_redirects=False, timeout=30)
        nonce = admin.get(f"{url}/wp-admin/admin-ajax.php", params={"action": "rest-nonce"},
                          timeout=30).text
        for attachment in sorted(self.uploads):
            admin.delete(f"{url}/wp-json/wp/v2/media/{attachment}", params={"force": "true"},
                         headers={"X-WP-Nonce": nonce}, timeout=30)


def woo_local_env() -> dict[str, str] | None:
    """WOO_URL, WOO_CK, WOO_CS of the local store, or None when it is absent or silent."""
    if not WOO_LOCAL_ENV.is_file():
        return None
    env = dict(re.findall(r"^export (\w+)='([^']*)'$", WOO_LOCAL_ENV.read_text(), re.M))
    if not {"WOO_URL", "WOO_CK", "WOO_CS"} <= set(env):
        return None
    import requests

    try:
        requests.get(f"{env['WOO_URL']}/wp-json/", timeout=3).raise_for_status()
    except requests.RequestException:
        return None
    return env


PLATFORMS = ["local", "shopify", "woocommerce", "woocommerce-real"]


@pytest.fixture(params=PLATFORMS)
def harness(request, tmp_path, settings, live_server, media_root):
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    settings.PHOTOSYNC_ADAPTER_OPTIONS = {"woocommerce": {
        "timeout": 30.0, "push_timeout": 120.0, "allowed_networks": ["127.0.0.0/8"],
        "unknown_outcome_reread_interval": 0.2, "throttle_wait_max": 5.0}}
    kind = request.param
    if kind == "local":
        store = LocalHarness(tmp_path / "store")
    elif kind == "shopify":
        store = _shopify(request, settings, live_server)
    elif kind == "woocommerce":
        from emulators.woocommerce import WooEmulator

        woo = WooEmulator()
        request.addfinalizer(woo.close)
        store = WooHarness(woo)
    else:
        env = woo_local_env()
        if env is None:
            pytest.skip(f"no local WooCommerce store answers ({WOO_LOCAL_ENV} absent or the "
                        "store is down)")
        public = media_root / "generated"
        public.mkdir(parents=True, exist_ok=True)
        store = RealWooHarness(env, public, live_server.url)
    yield store
    store.close()


def _shopify(request, settings, live_server) -> ShopifyHarness:
    from emulators.shopify import ShopifyEmulator
    from integrations.shopify.budget import budgets_reset
    from tests.shopify.conftest import API_KEY, SECRET, SHOP

    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, SECRET
    settings.SHOPIFY_API_VERSION = "2026-10"
    budgets_reset()
    emu = ShopifyEmulator(api_key=API_KEY, api_secret=SECRET,
                          webhook_url=f"{live_server.url}/webhooks/shopify")
    emu.start()
    request.addfinalizer(emu.stop)
    request.addfinalizer(budgets_reset)
    settings.SHOPIFY_API_ORIGIN = emu.base_url
    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]  # the emulator listens here
    emu.add_shop(SHOP)
    return ShopifyHarness(emu, SHOP)
