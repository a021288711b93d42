"""The folder store honours the adapter contract."""

import json
from datetime import UTC, datetime

import pytest

from integrations.base import NewImage, StoreAdapter
from integrations.errors import Invalid, NotFound
from integrations.local.adapter import LocalStoreAdapter


def _image(data: bytes, **kw) -> NewImage:
    return NewImage(data=data, filename="watch-white.png", content_type="image/png",
                    content_hash=kw.pop("content_hash", "h1"), **kw)


def test_lists_product_folders_with_their_photos(store_dir):
    adapter = LocalStoreAdapter(store_dir)
    assert isinstance(adapter, StoreAdapter)
    products = list(adapter.iter_products())
    assert [p.remote_id for p in products] == ["luma-yoga-brick", "mg01-bk-0"]
    watch = products[1]
    assert watch.title == "Aim Analog Watch"
    assert watch.product_type == "Demo"
    assert [i.remote_id for i in watch.images] == ["mg01-bk-0.jpg"]
    original = (store_dir / "mg01-bk-0/mg01-bk-0.jpg").read_bytes()
    assert adapter.fetch_image(watch.images[0]) == original


def test_updated_since_filters_untouched_products(store_dir):
    adapter = LocalStoreAdapter(store_dir)
    assert list(adapter.iter_products(updated_since=datetime(2999, 1, 1, tzinfo=UTC))) == []


def test_push_is_idempotent_and_rollback_restores_the_manifest(store_dir):
    adapter = LocalStoreAdapter(store_dir)
    first = adapter.push_image("mg01-bk-0", _image(b"one", alt="first"))
    again = adapter.push_image("mg01-bk-0", _image(b"one", alt="first"))
    assert first.remote_id == again.remote_id == "watch-white.png"
    second = adapter.push_image("mg01-bk-0", _image(b"two", content_hash="h2", featured=True))
    assert second.remote_id == "watch-white-2.png"
    folder = store_dir / "mg01-bk-0/approved"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [e["file"] for e in manifest["images"]] == ["watch-white-2.png", "watch-white.png"]
    adapter.rollback("mg01-bk-0", second.remote_id, second.previous_state)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [e["file"] for e in manifest["images"]] == ["watch-white.png"]
    assert not (folder / "watch-white-2.png").exists()
    # Our own approved folder never shows up as merchant photos.
    assert [i.remote_id for i in adapter.get_product("mg01-bk-0").images] == ["mg01-bk-0.jpg"]


def test_paths_outside_the_store_are_refused(store_dir):
    adapter = LocalStoreAdapter(store_dir)
    with pytest.raises(Invalid):
        adapter.get_product("../etc")
    with pytest.raises(NotFound):
        adapter.get_product("no-such-product")


def test_the_registry_builds_each_platform_and_names_the_known_ones(store_dir):
    from integrations.registry import ADAPTERS, build_adapter

    assert sorted(ADAPTERS) == ["local", "shopify", "woocommerce"]
    local = build_adapter("local", domain=str(store_dir), credentials={})
    assert isinstance(local, LocalStoreAdapter) and local.root == store_dir.resolve()
    shop = build_adapter("shopify", domain="a.myshopify.com",
                         credentials={"access_token": "shpat_x"})
    assert shop.platform == "shopify"
    with pytest.raises(ValueError) as caught:
        build_adapter("magento", domain="x", credentials={})
    assert str(caught.value) == (
        "Unknown store platform 'magento'; known: local, shopify, woocommerce")
