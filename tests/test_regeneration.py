"""Regenerate only what changed (issue 14, item 7), through a folder store and the
WooCommerce emulator, the real pipeline and a real worker.

Generation is keyed per photo by the sha256 of its bytes, not its URL: a title-only edit
updates the waiting alt suggestions and makes no job; one added photo generates outputs for
that photo only; the same bytes at a new URL or name generate nothing; a removed or changed
photo's waiting outputs are superseded and leave the queue.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from photosync.models import GeneratedImage, GenerationJob, SourceImage
from photosync.services.stores import store_connect_local
from photosync.services.sync import store_reconcile
from tests.conftest import PHOTOS, drain

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def folder(tmp_path, media_root):
    root = tmp_path / "store"
    product = root / "watch"
    product.mkdir(parents=True)
    shutil.copy2(PHOTOS / "mg01-bk-0.jpg", product / "front.jpg")
    shutil.copy2(PHOTOS / "lt01.jpg", product / "side.jpg")
    (product / "product.json").write_text(json.dumps({"title": "Aim Analog Watch"}))
    return root


def sync(store, broker, worker) -> None:
    store_reconcile(store=store, sweep=True)
    drain(broker, worker)


def outputs(status: str = "ready") -> dict[str, set[int]]:
    """Output ids by the name of their source photo."""
    by_source: dict[str, set[int]] = {}
    for image in GeneratedImage.objects.filter(status=status).select_related("source"):
        by_source.setdefault(image.source.remote_id, set()).add(image.pk)
    return by_source


def test_each_change_regenerates_only_the_photo_it_touched(folder, broker, worker, client,
                                                           operator):
    store = store_connect_local(path=folder)
    product_dir = folder / "watch"
    sync(store, broker, worker)
    assert GenerationJob.objects.count() == 1
    first = outputs()
    assert sorted(first) == ["front.jpg", "side.jpg"]
    per_photo = len(first["front.jpg"])
    assert per_photo >= 2  # a framed output and scenes

    # A title-only edit: no job, the same outputs, and their alt suggestions follow.
    (product_dir / "product.json").write_text(json.dumps({"title": "Aim Watch, black"}))
    sync(store, broker, worker)
    assert GenerationJob.objects.count() == 1
    assert outputs() == first
    assert set(GeneratedImage.objects.values_list("alt_text", flat=True)) == {
        "Aim Watch, black"}

    # The same bytes at a new version (touched) and under a new name: nothing generated.
    stat = (product_dir / "front.jpg").stat()
    os.utime(product_dir / "front.jpg", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (product_dir / "side.jpg").rename(product_dir / "side-renamed.jpg")
    sync(store, broker, worker)
    assert GenerationJob.objects.count() == 1
    assert outputs() == {
        "front.jpg": first["front.jpg"], "side-renamed.jpg": first["side.jpg"]}

    # One photo added: one job, for that photo only; the others' outputs are untouched.
    shutil.copy2(PHOTOS / "ug05-gr-0.jpg", product_dir / "top.jpg")
    sync(store, broker, worker)
    added = GenerationJob.objects.order_by("-pk").first()
    assert GenerationJob.objects.count() == 2
    assert [SourceImage.objects.get(pk=i).remote_id for i in added.config["source_ids"]] == [
        "top.jpg"]
    now = outputs()
    assert now["front.jpg"] == first["front.jpg"]
    assert len(now["top.jpg"]) == per_photo

    # The merchant approves one output of the side photo, then replaces that photo's bytes
    # and removes the top one: their waiting outputs are superseded, the approval stands,
    # and only the new bytes are generated.
    approved = min(first["side.jpg"])
    client.force_login(operator)
    assert client.post(f"/api/v1/images/{approved}/approve", {"alt_text": "Side"},
                       content_type="application/json").status_code == 202
    drain(broker, worker)
    shutil.copy2(PHOTOS / "luma-yoga-brick.jpg", product_dir / "side-renamed.jpg")
    (product_dir / "top.jpg").unlink()
    sync(store, broker, worker)
    assert GenerationJob.objects.count() == 3
    superseded = outputs("superseded")
    assert superseded["side-renamed.jpg"] == first["side.jpg"] - {approved}
    assert superseded["top.jpg"] == now["top.jpg"]
    assert GeneratedImage.objects.get(pk=approved).status in ("approved", "pushed")
    current = outputs()
    assert current["front.jpg"] == first["front.jpg"]
    assert len(current["side-renamed.jpg"]) == per_photo  # the new bytes, generated
    assert "top.jpg" not in current
    waiting = client.get("/api/v1/products/?status=waiting").json()
    assert waiting["results"][0]["waiting"] == 2 * per_photo  # 2 photos, not 4
    answer = client.post(f"/api/v1/images/{min(superseded['top.jpg'])}/approve",
                         {"alt_text": "Gone"}, content_type="application/json")
    assert answer.status_code == 409 and "superseded" in answer.content.decode()


def test_a_waiting_job_whose_photos_all_left_is_cancelled(folder, broker, worker):
    store = store_connect_local(path=folder)
    worker.pause()  # the first job waits while the merchant swaps both photos
    store_reconcile(store=store, sweep=True)
    waiting = GenerationJob.objects.get()
    for name in ("front.jpg", "side.jpg"):
        (folder / "watch" / name).unlink()
    shutil.copy2(PHOTOS / "ug05-gr-0.jpg", folder / "watch" / "new.jpg")
    store_reconcile(store=store, sweep=True)
    worker.resume()
    drain(broker, worker)

    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert "removed or changed" in waiting.error
    assert sorted(outputs()) == ["new.jpg"]


def test_woocommerce_the_same_bytes_at_a_cdn_url_generate_nothing(
        live_server, settings, media_root, broker, worker):
    from emulators.woocommerce import WooEmulator
    from photosync.services.woocommerce.connect import woocommerce_store_connect

    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    settings.PHOTOSYNC_ADAPTER_OPTIONS = {"woocommerce": {
        "timeout": 10.0, "push_timeout": 10.0, "allowed_networks": ["127.0.0.0/8"]}}
    woo = WooEmulator()
    try:
        key, secret = woo.add_key()
        woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
        pid = woo.create_product("CDN Watch", [("mg01-bk-0.jpg",
                                                 (PHOTOS / "mg01-bk-0.jpg").read_bytes())])
        woo.wait_deliveries()
        drain(broker, worker)
        before = outputs()
        assert GenerationJob.objects.count() == 1 and before

        woo.src_suffix = "?cdn=edge-2"  # a CDN plugin rewrites every attachment URL
        woo.update_product(pid, name="CDN Watch")  # and some edit fires an update
        woo.wait_deliveries()
        drain(broker, worker)
    finally:
        woo.close()
    assert GenerationJob.objects.count() == 1
    assert outputs() == before
    source = SourceImage.objects.get()
    assert source.src.endswith("?cdn=edge-2")  # the photo follows its new URL
