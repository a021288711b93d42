"""shop/redact leaves nothing (issue 13, finding 11): after the erasure neither the shop's
access token nor its Fernet ciphertext can be read from the database's bytes, and no file or
folder of the shop remains under MEDIA_ROOT (thumbnails of its originals included)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from photosync.models import SourceImage, Store, WebhookEvent
from photosync.services.media import media_save_original
from photosync.services.thumbnails import SIZES, thumbnail_name
from photosync.services.webhook_events import webhook_event_handle
from tests.review_data import png
from tests.shopify.conftest import SHOP, post_webhook, shop_with_data

pytestmark = pytest.mark.django_db(transaction=True)


def _database_bytes() -> bytes:
    """The SQLite database file and its write-ahead log, as a disk image would hold them.

    Read by another process: closing a file descriptor of the database in this one would drop
    every POSIX lock this process holds on it, SQLite's own included, and the next process to
    close its last connection (test_login's gunicorn servers) would then take itself for the
    last user and delete the log from under this process's open connections ("disk I/O
    error" in every later test)."""
    name = Path(connection.settings_dict["NAME"])
    files = [str(p) for p in (name, Path(f"{name}-wal")) if p.exists()]
    return subprocess.run(["cat", *files], capture_output=True, check=True).stdout


def _deliver(client, emulator, topic: str, payload: dict) -> None:
    webhook_id = str(uuid.uuid4())
    assert post_webhook(client, payload, topic=topic, webhook_id=webhook_id).status_code == 200
    event = WebhookEvent.objects.get(delivery_id=webhook_id)
    webhook_event_handle(event_id=event.pk)


def test_nothing_of_an_erased_shop_stays_readable(client, emulator, media_root):
    token = emulator.issue_token(SHOP)
    store = shop_with_data(SHOP, media_root, token=token)
    ciphertext = bytes(Store.objects.get(pk=store.pk).credentials_encrypted)
    source = SourceImage.objects.get(product__store=store)
    source.file.name, _ = media_save_original(store_id=store.pk, data=png(3), extension=".png")
    source.save(update_fields=["file"])
    for size in SIZES:
        thumbnail_name(name=source.file.name, size=size)
    held = [p for p in media_root.rglob("*") if str(store.pk) in p.relative_to(media_root).parts]
    assert any("thumbs" in p.parts for p in held) and any("originals" in p.parts for p in held)
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        assert ciphertext in _database_bytes()  # the check can see what it looks for

    emulator.uninstall(SHOP)
    _deliver(client, emulator, "app/uninstalled", emulator.shop_payload(SHOP))
    with CaptureQueriesContext(connection) as queries:
        _deliver(client, emulator, "shop/redact", emulator.compliance_payload("shop/redact", SHOP))

    assert not Store.objects.filter(pk=store.pk).exists()
    left = [p for p in media_root.rglob("*") if str(store.pk) in p.relative_to(media_root).parts]
    assert left == []  # no file, and no emptied folder, of the shop
    if sqlite:
        image = _database_bytes()
        assert token.encode() not in image
        assert ciphertext not in image
        assert ciphertext[:40] not in image  # not even the start of it
        assert connection.cursor().execute("PRAGMA secure_delete").fetchone()[0] == 1
    else:
        # PostgreSQL: the row is gone, and its credentials were overwritten before the delete.
        sql = [q["sql"] for q in queries.captured_queries]
        overwrite = next(i for i, q in enumerate(sql) if q.startswith('UPDATE "photosync_store"')
                         and '"credentials_encrypted"' in q)
        delete = next(i for i, q in enumerate(sql) if q.startswith('DELETE FROM "photosync_store"'))
        assert overwrite < delete


def test_every_sqlite_connection_zeroes_what_it_deletes():
    """SQLite's own default is off (Debian builds it on: checked here by switching it off
    first); every connection Django opens gets it from the connection_created receiver."""
    from django.db.backends.signals import connection_created

    from photosync.database import connection_prepare

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection_prepare in [entry[1]() for entry in connection_created.receivers]
    connection.close()
    connection.ensure_connection()  # a new connection, as each worker thread opens
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA secure_delete").fetchone()[0] == 1
        cursor.execute("PRAGMA secure_delete = OFF")
        connection_prepare(sender=type(connection), connection=connection)
        assert cursor.execute("PRAGMA secure_delete").fetchone()[0] == 1
