"""The WooCommerce adapter against the emulator: reads, gallery-safe pushes, rollback, health."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from integrations.base import MediaStatus, NewImage, PushState, StoreAdapter
from integrations.errors import Invalid, NotFound, Unavailable
from integrations.woocommerce.adapter import WooCommerceAdapter
from tests.woocommerce.conftest import photo_bytes

OPTIONS = {
    "allowed_networks": ["127.0.0.0/8"],
    "timeout": 10,
    "push_timeout": 10,
    "unknown_outcome_rereads": 2,
    "unknown_outcome_reread_interval": 0.05,
}


@pytest.fixture
def adapter(woo) -> WooCommerceAdapter:
    key, secret = woo.add_key()
    return WooCommerceAdapter(
        domain=woo.url,
        credentials={"consumer_key": key, "consumer_secret": secret},
        settings=OPTIONS,
    )


@pytest.fixture
def media(tmp_path):
    """PhotoSync's public media: files under unguessable names, served over HTTP."""
    root = tmp_path / "media"
    (root / "generated").mkdir(parents=True)
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def publish(data: bytes, extension: str = ".png") -> str:
        name = f"generated/{secrets.token_urlsafe(24)}{extension}"
        (root / name).write_bytes(data)
        return f"{base}/{name}"

    yield publish
    server.shutdown()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def png(color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "PNG")
    return buffer.getvalue()


def new_image(url: str, data: bytes, *, featured=False, alt="Watch on white") -> NewImage:
    return NewImage(
        data=data, filename="41-studio-7.png", content_type="image/png",
        content_hash=hashlib.sha256(data).hexdigest(), alt=alt, featured=featured,
        public_url=url,
    )


def merchant_product(woo, n=3) -> tuple[int, list[int]]:
    files = ["mg01-bk-0.jpg", "luma-yoga-brick.jpg", "lt01.jpg"][:n]
    pid = woo.create_product("Aim Analog Watch", [(f, photo_bytes(f)) for f in files],
                             categories=("Watches",))
    woo.attachments[woo.gallery(pid)[0]]["alt"] = "The merchant's own alt"
    return pid, woo.gallery(pid)


# --- reading ----------------------------------------------------------------------------
def test_reads_products_and_maps_a_variation_to_its_parent(woo, adapter):
    assert isinstance(adapter, StoreAdapter)
    pid, ids = merchant_product(woo)
    vid = woo.create_variation(pid, "Aim Analog Watch - Black")
    product = adapter.get_product(str(pid))
    assert adapter.get_product(str(vid)) == product
    assert product.title == "Aim Analog Watch" and product.product_type == "Watches"
    assert [i.remote_id for i in product.images] == [str(i) for i in ids]
    assert product.images[0].alt == "The merchant's own alt"
    assert adapter.fetch_image(product.images[0]) == photo_bytes("mg01-bk-0.jpg")
    assert [p.remote_id for p in adapter.iter_products()] == [str(pid)]  # no variations
    with pytest.raises(NotFound):
        adapter.get_product("999999")
    with pytest.raises(Invalid):
        adapter.get_product("../settings")


def test_incremental_reads_ask_for_gmt_dates_after_the_watermark_minus_overlap(woo, adapter):
    old, new = woo.create_product("Old"), woo.create_product("New")
    now = time.time()
    woo.products[old]["modified"] = int(now) - 3600
    woo.products[new]["modified"] = int(now) - 60
    since = datetime.fromtimestamp(now, tz=UTC) - timedelta(minutes=30)
    assert [p.remote_id for p in adapter.iter_products(updated_since=since)] == [str(new)]
    _, _, query = woo.requests[-1]
    expected = (since - timedelta(seconds=120)).replace(tzinfo=None).isoformat(timespec="seconds")
    assert query["modified_after"] == expected
    assert (query["dates_are_gmt"], query["orderby"], query["order"]) == ("true", "id", "asc")


# --- pushing ----------------------------------------------------------------------------
def test_push_keeps_every_image_and_appends_ours_with_alt(woo, adapter, media):
    pid, before = merchant_product(woo)
    data = png()
    result = adapter.push_image(str(pid), new_image(media(data), data))
    after = woo.gallery(pid)
    assert after[:3] == before and len(after) == 4
    ours = woo.attachments[after[3]]
    assert result.remote_id == str(after[3]) and result.status == "live"
    assert ours["alt"] == "Watch on white" and ours["data"] == data
    assert woo.attachments[before[0]]["alt"] == "The merchant's own alt"  # untouched
    assert [i["id"] for i in result.previous_state["images"]] == before
    assert result.previous_state["featured_id"] == before[0]
    # Our image is not merchant input: the echo of this push reads as the same product.
    assert [i.remote_id for i in adapter.get_product(str(pid)).images] == [str(i) for i in before]
    assert adapter.push_status(str(pid), result.remote_id) == PushState(
        MediaStatus.LIVE, alt="Watch on white", featured=False, count=4)


def test_a_featured_push_goes_first_and_keeps_the_rest_in_order(woo, adapter, media):
    pid, before = merchant_product(woo)
    data = png()
    result = adapter.push_image(str(pid), new_image(media(data), data, featured=True))
    assert woo.gallery(pid) == [int(result.remote_id), *before]


def test_pushing_the_same_image_again_adds_nothing(woo, adapter, media):
    pid, before = merchant_product(woo)
    data = png()
    image = new_image(media(data), data)
    first = adapter.push_image(str(pid), image)
    again = adapter.push_image(str(pid), image)
    assert again.remote_id == first.remote_id
    assert [i["id"] for i in again.previous_state["images"]] == before
    assert len(woo.sideloads) == 1 and len(woo.gallery(pid)) == 4


def test_a_timed_out_put_that_succeeded_server_side_creates_no_duplicate(woo, media):
    key, secret = woo.add_key()
    adapter = WooCommerceAdapter(domain=woo.url, settings={**OPTIONS, "push_timeout": 0.5},
                                 credentials={"consumer_key": key, "consumer_secret": secret})
    pid, before = merchant_product(woo)
    woo.put_delay = 1.5  # the store applies the change, then answers too late
    data = png()
    image = new_image(media(data), data)
    result = adapter.push_image(str(pid), image)
    assert result.status == "live"
    assert woo.gallery(pid) == [*before, int(result.remote_id)]
    assert len(woo.sideloads) == 1
    puts = [r for r in woo.requests if r[0] == "PUT"]
    assert len(puts) == 1  # re-read, never re-sent
    assert adapter.push_image(str(pid), image).remote_id == result.remote_id
    assert len(woo.sideloads) == 1


def test_a_timed_out_put_not_yet_applied_is_retried_later_and_still_only_once(woo, media):
    key, secret = woo.add_key()
    adapter = WooCommerceAdapter(domain=woo.url, settings={**OPTIONS, "push_timeout": 0.3},
                                 credentials={"consumer_key": key, "consumer_secret": secret})
    pid, before = merchant_product(woo)
    woo.put_hold = 1.0  # the store is still busy with the PUT when we look
    data = png()
    image = new_image(media(data), data)
    with pytest.raises(Unavailable) as later:
        adapter.push_image(str(pid), image)
    assert later.value.retry_after == 600  # look again long after the store is done
    woo.put_hold = 0.0
    time.sleep(1.2)  # the held PUT lands meanwhile
    result = adapter.push_image(str(pid), image)
    assert woo.gallery(pid) == [*before, int(result.remote_id)]
    assert len(woo.sideloads) == 1


def test_a_gateway_error_after_the_store_applied_the_put_creates_no_duplicate(
    woo, adapter, media
):
    pid, before = merchant_product(woo)
    woo.put_answer_status = 504  # the proxy gave up; PHP went on and saved the product
    data = png()
    image = new_image(media(data), data)
    result = adapter.push_image(str(pid), image)
    woo.put_answer_status = 0
    assert woo.gallery(pid) == [*before, int(result.remote_id)]
    assert adapter.push_image(str(pid), image).remote_id == result.remote_id
    assert len(woo.sideloads) == 1 and len([r for r in woo.requests if r[0] == "PUT"]) == 1


def test_catalog_scans_ask_only_for_the_fields_they_use(woo, adapter):
    pid, ids = merchant_product(woo)
    [product] = adapter.iter_products()
    assert woo.requests[-1][2]["_fields"].split(",") == [
        "id", "name", "type", "status", "parent_id", "date_modified_gmt", "categories", "images",
        "variations"]
    assert product == adapter.get_product(str(pid))


def test_the_store_refuses_urls_without_an_image_extension_and_mismatched_content(
    woo, adapter, media
):
    pid, before = merchant_product(woo)
    data = png()
    with pytest.raises(Invalid, match="must end in"):
        adapter.push_image(str(pid), new_image(media(data, ".bin"), data))
    assert not any(r[0] == "PUT" for r in woo.requests)
    with pytest.raises(Invalid, match="not allowed to upload this file type"):
        adapter.push_image(str(pid), new_image(media(data, ".jpg"), data))
    assert woo.gallery(pid) == before


# --- rollback ---------------------------------------------------------------------------
def test_rollback_restores_the_previous_gallery_exactly(woo, adapter, media):
    pid, before = merchant_product(woo)
    alts = {i: woo.attachments[i]["alt"] for i in before}
    data = png()
    result = adapter.push_image(str(pid), new_image(media(data), data, featured=True))
    assert woo.gallery(pid)[0] == int(result.remote_id)
    adapter.rollback(str(pid), result.remote_id, result.previous_state)
    assert woo.gallery(pid) == before  # ids, order, hence the featured image
    assert {i: woo.attachments[i]["alt"] for i in before} == alts
    puts = [r for r in woo.requests if r[0] == "PUT"]
    adapter.rollback(str(pid), result.remote_id, result.previous_state)  # again: no-op
    assert len([r for r in woo.requests if r[0] == "PUT"]) == len(puts)


def test_rollback_keeps_what_the_merchant_changed_since(woo, adapter, media):
    pid, before = merchant_product(woo)
    data = png()
    result = adapter.push_image(str(pid), new_image(media(data), data))
    added = woo.upload("new-angle.jpg", photo_bytes("lt01.jpg"))
    woo.products[pid]["image_ids"].append(added)
    adapter.rollback(str(pid), result.remote_id, result.previous_state)
    assert woo.gallery(pid) == [*before, added]


def test_rollback_of_a_products_only_image_leaves_it_without_images(woo, adapter, media):
    pid = woo.create_product("Bare")
    data = png()
    result = adapter.push_image(str(pid), new_image(media(data), data))
    assert result.previous_state == {"images": [], "featured_id": None}
    adapter.rollback(str(pid), result.remote_id, result.previous_state)
    assert woo.gallery(pid) == []


# --- webhook health and the plugin --------------------------------------------------------
def test_webhooks_are_created_reactivated_recreated_and_deduplicated(woo, adapter):
    url, secret = "https://photos.example.com/webhooks/woocommerce/1", "A" * 40
    first = adapter.webhooks_ensure(delivery_url=url, secret=secret)
    assert sorted(first.created) == ["product.created", "product.deleted", "product.restored",
                                     "product.updated"]
    hooks = {h["topic"]: h for h in woo.webhooks.values()}
    assert {h["status"] for h in hooks.values()} == {"active"}
    assert {h["secret"] for h in hooks.values()} == {secret}
    assert adapter.webhooks_ensure(delivery_url=url, secret=secret).changed is False

    hooks["product.updated"]["status"] = "disabled"
    del woo.webhooks[hooks["product.created"]["id"]]
    health = adapter.webhooks_ensure(delivery_url=url, secret=secret)
    assert health.reactivated == ["product.updated"]
    assert health.created == ["product.created"]
    assert hooks["product.updated"]["failure_count"] == 0

    woo._hook_ids += 1  # someone re-created ours by hand: two deliveries per change
    woo.webhooks[woo._hook_ids] = {**hooks["product.updated"], "id": woo._hook_ids}
    health = adapter.webhooks_ensure(delivery_url=url, secret=secret)
    assert health.removed == [woo._hook_ids] and not health.created + health.reactivated
    topics = sorted((h["topic"], h["status"]) for h in woo.webhooks.values())
    assert topics == [("product.created", "active"), ("product.deleted", "active"),
                      ("product.restored", "active"), ("product.updated", "active")]


def test_plugin_options_are_written_only_when_the_plugin_is_installed(woo, adapter):
    values = {"photosync_app_url": "https://photos.example.com", "photosync_store_id": "3",
              "photosync_embed_secret": "s" * 43}
    assert adapter.plugin_configure(values) is False
    woo.plugin_options = {k: "" for k in values}
    assert adapter.plugin_configure(values) is True
    assert woo.plugin_options == values
