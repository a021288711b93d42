"""The Shopify adapter and client against the emulator: push, status, rollback, reads, errors,
throttling, and the download guard."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from emulators.shopify import ShopifyEmulator
from integrations.base import MediaStatus, NewImage, PushState, RemoteImage
from integrations.errors import AuthRevoked, Invalid, NotFound, Retryable, Unavailable
from integrations.shopify import budget
from integrations.shopify import client as http
from integrations.shopify import queries as q
from integrations.shopify.adapter import ShopifyAdapter
from tests.conftest import PHOTOS
from tests.shopify.conftest import API_KEY, LOOPBACK, SECRET, SHOP


@pytest.fixture
def emu():
    budget.budgets_reset()
    with ShopifyEmulator(api_key=API_KEY, api_secret=SECRET) as emulator:
        emulator.add_shop(SHOP)
        yield emulator
    budget.budgets_reset()


def _adapter(emu: ShopifyEmulator, **kwargs) -> ShopifyAdapter:
    return ShopifyAdapter(shop=SHOP, access_token=emu.issue_token(SHOP), api_version="2026-10",
                          api_origin=emu.base_url, allowed_networks=LOOPBACK, **kwargs)


def _png(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


def _new(data: bytes, alt: str = "Generated", featured: bool = False) -> NewImage:
    return NewImage(data=data, filename="x.png", content_type="image/png",
                    content_hash=hashlib.sha256(data).hexdigest(), alt=alt, featured=featured)


def _product(emu, title="Watch") -> str:
    photo = (PHOTOS / "mg01-bk-0.jpg").read_bytes()
    return emu.create_product(SHOP, title=title, product_type="Watches",
                              images=[("front.jpg", photo, "Front")])


def _wait_live(adapter, product, media_id, timeout=5.0) -> PushState:
    deadline = time.monotonic() + timeout
    while True:
        state = adapter.push_status(product, media_id)
        if state.status != MediaStatus.PROCESSING or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def test_push_attaches_with_alt_and_processes_to_live(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    result = adapter.push_image(product, _new(_png(), alt="On white"))
    assert result.status == "processing"
    media = emu.product_media(SHOP, product)
    assert [m["status"] for m in media][1] in ("UPLOADED", "PROCESSING")
    assert _wait_live(adapter, product, result.remote_id) == PushState(
        MediaStatus.LIVE, alt="On white", featured=False, count=2)
    media = emu.product_media(SHOP, product)
    assert [m["alt"] for m in media] == ["Front", "On white"]
    assert media[1]["id"] == result.remote_id
    assert result.previous_state == {"media": [{"id": media[0]["id"], "alt": "Front"}],
                                     "featured": media[0]["id"]}


def test_a_push_whose_answer_was_lost_is_not_attached_twice(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    image = _new(_png())
    emu.lose_answer.add("ProductMediaAttach")  # Shopify attached it; we only saw a 502
    with pytest.raises(Unavailable):
        adapter.push_image(product, image)
    again = adapter.push_image(product, image)
    third = adapter.push_image(product, image)
    ours = [m for m in emu.product_media(SHOP, product) if m["filename"].startswith("photosync-")]
    assert len(ours) == 1
    assert again.remote_id == third.remote_id == ours[0]["id"]


def test_unidentifiable_media_in_flight_makes_the_push_wait_not_duplicate(emu):
    emu.original_source_while_processing = False  # Shopify may show no URL until READY
    emu.media_delays = (0.1, 0.2)
    adapter = _adapter(emu)
    product = _product(emu)
    image = _new(_png())
    emu.lose_answer.add("ProductMediaAttach")
    with pytest.raises(Unavailable):
        adapter.push_image(product, image)
    with pytest.raises(Retryable, match="still processing"):
        adapter.push_image(product, image)
    time.sleep(0.35)
    result = adapter.push_image(product, image)
    assert result.status == MediaStatus.LIVE
    assert len(emu.product_media(SHOP, product)) == 2


def test_a_file_that_is_not_an_image_fails_with_shopifys_reason(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    result = adapter.push_image(product, _new(b"%PDF-1.4 not an image at all"))
    state = _wait_live(adapter, product, result.remote_id)
    assert (state.status, state.reason) == (MediaStatus.FAILED,
                                            "Image file type is not supported.")
    # Asked again (the merchant pressed Retry): the failed media is taken off, not kept twice.
    again = adapter.push_image(product, _new(b"%PDF-1.4 not an image at all"))
    assert again.remote_id != result.remote_id
    assert [m["id"] for m in emu.product_media(SHOP, product)][1:] == [again.remote_id]


def test_featured_only_when_chosen_and_rollback_restores_the_gallery(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    plain = adapter.push_image(product, _new(_png((1, 2, 3)), alt="Plain"))
    assert emu.product_media(SHOP, product)[0]["alt"] == "Front"  # not featured: appended
    featured = adapter.push_image(product, _new(_png((9, 9, 9)), alt="Hero", featured=True))
    assert [m["alt"] for m in emu.product_media(SHOP, product)] == ["Hero", "Front", "Plain"]
    assert _wait_live(adapter, product, featured.remote_id).featured

    adapter.rollback(product, featured.remote_id, featured.previous_state)
    assert [m["alt"] for m in emu.product_media(SHOP, product)] == ["Front", "Plain"]
    adapter.rollback(product, plain.remote_id, plain.previous_state)
    assert [m["alt"] for m in emu.product_media(SHOP, product)] == ["Front"]
    adapter.rollback(product, plain.remote_id, plain.previous_state)  # again: harmless


def test_reads_leave_out_our_media_and_unprocessed_ones(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    result = adapter.push_image(product, _new(_png()))
    _wait_live(adapter, product, result.remote_id)
    remote = adapter.get_product(product)
    assert remote.title == "Watch" and remote.product_type == "Watches"
    assert [i.alt for i in remote.images] == ["Front"]
    assert remote.images[0].remote_id.startswith("gid://shopify/MediaImage/")
    assert adapter.fetch_image(remote.images[0]) == (PHOTOS / "mg01-bk-0.jpg").read_bytes()
    with pytest.raises(NotFound):
        adapter.get_product("gid://shopify/Product/1")


def test_incremental_reads_page_through_changes_since_a_time(emu):
    adapter = _adapter(emu)
    products = [_product(emu, title=f"P{n}") for n in range(45)]
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert [p.remote_id for p in adapter.iter_products()] == products
    time.sleep(0.01)
    marker = datetime.now(UTC)
    time.sleep(0.01)
    emu.edit_product(SHOP, products[7], title="Renamed", notify=False)
    changed = list(adapter.iter_products(updated_since=marker))
    assert [(p.remote_id, p.title) for p in changed] == [(products[7], "Renamed")]
    assert len(list(adapter.iter_products(updated_since=since))) == 45
    assert emu.stats["max_cost"] == 0 and emu.stats["throttled"] == 0


def test_bulk_operation_results_are_streamed_into_products(emu):
    adapter = _adapter(emu)
    products = [_product(emu, title=f"B{n}") for n in range(3)]
    emu.bulk_delay = 1.0  # long enough that a pause (a GC of the big schema) cannot finish it
    operation = adapter.bulk_start()
    assert adapter.bulk_status(operation).status == "RUNNING"
    time.sleep(emu.bulk_delay + 0.05)
    status = adapter.bulk_status(operation)
    assert status.status == "COMPLETED" and status.url
    read = list(adapter.iter_bulk_products(status.url))
    assert [p.remote_id for p in read] == products
    assert all(len(p.images) == 1 and p.images[0].alt == "Front" for p in read)


def test_client_maps_errors_and_retries_only_what_is_safe(emu):
    token = emu.issue_token(SHOP)
    endpoint = http.Endpoint(shop=SHOP, api_version="2026-10", api_origin=emu.base_url,
                             allowed_networks=LOOPBACK)
    sleeps: list[float] = []
    client = http.ShopifyClient(endpoint=endpoint, access_token=token, sleep=sleeps.append)
    emu.fail_next = [502, 503]
    assert client.execute(q.SHOP)["shop"]["myshopifyDomain"] == SHOP  # a query: retried
    assert len(sleeps) == 2
    emu.fail_next = [502]
    with pytest.raises(Unavailable):  # a non-idempotent mutation: surfaced, not resent
        client.execute(q.PRODUCT_MEDIA_ATTACH, {"product": {"id": "gid://shopify/Product/1"},
                                                "media": []})
    bad = http.ShopifyClient(endpoint=endpoint, access_token="shpat_revoked")
    with pytest.raises(AuthRevoked) as caught:
        bad.execute(q.SHOP)
    assert "shpat_revoked" not in caught.value.message
    too_big = q.Document("query Big { products(first: 100) { nodes { media(first: 50) "
                         "{ nodes { id } } } } }")
    with pytest.raises(Invalid, match="exceeds the single query max cost"):
        client.execute(too_big)
    old = http.Endpoint(shop=SHOP, api_version="2023-01", api_origin=emu.base_url,
                         allowed_networks=LOOPBACK)
    with pytest.raises(NotFound):
        http.ShopifyClient(endpoint=old, access_token=token).execute(q.SHOP)


@pytest.mark.parametrize("status", [200, 429])
def test_throttled_calls_wait_and_succeed_whether_200_or_429(emu, status):
    emu.throttle_http_status = status
    shop = emu.add_shop("tiny.myshopify.com", bucket_size=60, restore_rate=200)
    endpoint = http.Endpoint(shop=shop.domain, api_version="2026-10", api_origin=emu.base_url,
                             allowed_networks=LOOPBACK)
    staged = {"input": [{"resource": "IMAGE", "filename": "a.png", "mimeType": "image/png",
                         "httpMethod": "POST"}]}
    # Two processes share the shop's bucket, each with its own budget: they overrun it.
    first, second = (
        http.ShopifyClient(endpoint=endpoint, access_token=emu.issue_token(shop.domain),
                           budget=budget.CostBudget())
        for _ in range(2)
    )
    for _ in range(10):
        for client in (first, second):
            assert client.execute(q.STAGED_UPLOADS_CREATE, staged)["stagedUploadsCreate"]
    throttled = first.stats.throttled + second.stats.throttled
    assert throttled >= 1
    assert emu.stats["throttled"] == throttled
    # One process alone: once a response has told its budget where the bucket stands (the
    # other process drained it meanwhile), it waits instead of being refused.
    first.execute(q.STAGED_UPLOADS_CREATE, staged)
    throttled = first.stats.throttled
    for _ in range(20):
        first.execute(q.STAGED_UPLOADS_CREATE, staged)
    assert first.stats.throttled == throttled
    assert first.stats.waited_s > 0
    assert first.budget.maximum == 60 and first.budget.restore_rate == 200


def test_downloads_only_from_shopifys_cdn_and_within_the_size_cap(emu):
    adapter = _adapter(emu, max_image_bytes=1000)
    for url in ("http://cdn.shopify.com/s/files/x.jpg",  # not https
                "https://169.254.169.254/latest/meta-data/",  # not the CDN
                "https://cdn.shopify.com.evil.example/x.jpg",
                "https://user:pw@cdn.shopify.com/x.jpg",
                "https://cdn.shopify.com:8443/x.jpg",
                "file:///etc/passwd"):
        with pytest.raises(Invalid):
            adapter.fetch_image(RemoteImage(remote_id="m", src=url))
    product = _product(emu)
    remote = _adapter(emu).get_product(product)
    with pytest.raises(Invalid, match="larger than"):
        adapter.fetch_image(remote.images[0])


def test_file_updates_of_files_that_are_not_ready_are_refused_as_the_schema_documents(emu):
    from emulators.shopify.schema import admin_schema

    codes = set(admin_schema().type_map["FilesErrorCode"].values)
    assert {"NON_READY_STATE", "FILE_DOES_NOT_EXIST", "FILE_LOCKED"} <= codes
    adapter = _adapter(emu)
    product = _product(emu)
    pending = adapter.push_image(product, _new(_png(), alt="Pending"))
    answer = adapter.client.execute(q.FILE_UPDATE, {"files": [
        {"id": pending.remote_id, "alt": "Too early"}]})["fileUpdate"]
    assert [e["code"] for e in answer["userErrors"]] == ["NON_READY_STATE"]
    assert _wait_live(adapter, product, pending.remote_id).alt == "Pending"  # not applied

    failed = adapter.push_image(product, _new(b"%PDF-1.4 not an image", alt="Broken"))
    assert _wait_live(adapter, product, failed.remote_id).status == MediaStatus.FAILED
    detach = adapter.client.execute(q.FILE_UPDATE, {"files": [
        {"id": failed.remote_id, "referencesToRemove": [product]}]})["fileUpdate"]
    assert [e["code"] for e in detach["userErrors"]] == ["NON_READY_STATE"]
    assert failed.remote_id in [m["id"] for m in emu.product_media(SHOP, product)]

    deleted = adapter.client.execute(q.FILE_DELETE, {"ids": [failed.remote_id]})["fileDelete"]
    assert (deleted["deletedFileIds"], deleted["userErrors"]) == ([failed.remote_id], [])
    assert failed.remote_id not in [m["id"] for m in emu.product_media(SHOP, product)]
    again = adapter.client.execute(q.FILE_DELETE, {"ids": [failed.remote_id]})["fileDelete"]
    assert [e["code"] for e in again["userErrors"]] == ["FILE_DOES_NOT_EXIST"]


def test_rollback_of_media_shopify_failed_deletes_it(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    emu.fail_media_next = 1
    result = adapter.push_image(product, _new(_png(), alt="Hero", featured=True))
    state = _wait_live(adapter, product, result.remote_id)
    assert (state.status, state.reason) == (MediaStatus.FAILED, "Image could not be processed.")
    adapter.rollback(product, result.remote_id, result.previous_state)
    assert [m["alt"] for m in emu.product_media(SHOP, product)] == ["Front"]
    assert adapter.push_status(product, result.remote_id).status == MediaStatus.MISSING
    adapter.rollback(product, result.remote_id, result.previous_state)  # again: harmless


def test_alt_text_and_featured_changes_wait_for_ready_then_apply(emu):
    adapter = _adapter(emu)
    product = _product(emu)
    result = adapter.push_image(product, _new(_png(), alt="Old"))
    with pytest.raises(Retryable, match="still processing"):
        adapter.update_image(product, result.remote_id, alt="New")
    _wait_live(adapter, product, result.remote_id)
    adapter.update_image(product, result.remote_id, alt="New", featured=True)
    assert adapter.push_status(product, result.remote_id) == PushState(
        MediaStatus.LIVE, alt="New", featured=True, count=2)
    adapter.update_image(product, result.remote_id, featured=False)
    assert [m["alt"] for m in emu.product_media(SHOP, product)] == ["Front", "New"]
