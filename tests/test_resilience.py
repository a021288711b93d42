"""Bad days: the database away, originals kept before pushes."""

from __future__ import annotations

import pytest
from django.db import connection

from photosync.models import Product, SourceImage
from photosync.services.originals import product_originals_backup
from photosync.services.stores import store_adapter, store_connect_local


@pytest.mark.django_db(transaction=True)
def test_requests_get_503_with_retry_after_when_the_database_is_down(client, operator, tmp_path):
    client.force_login(operator)
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        response = client.get("/api/v1/products/")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "The database is unavailable; please retry shortly."}


@pytest.mark.django_db(transaction=True)
def test_originals_are_backed_up_content_addressed_before_a_push(store_dir, media_root):
    store = store_connect_local(path=store_dir)
    product = Product.objects.create(store=store, remote_id="mg01-bk-0", title="Watch")
    adapter = store_adapter(store=store)
    assert product_originals_backup(product=product, adapter=adapter) == 1
    assert product_originals_backup(product=product, adapter=adapter) == 0  # already kept
    source = SourceImage.objects.get(product=product)
    original = (store_dir / "mg01-bk-0" / "mg01-bk-0.jpg").read_bytes()
    assert source.file.name == (
        f"originals/{store.pk}/{source.content_hash[:2]}/{source.content_hash}.jpg"
    )
    with source.file.open("rb") as fh:
        assert fh.read() == original
