import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

BASE_ENV = {
    "PATH": os.environ["PATH"],
    "SECRET_KEY": "x" * 40,
    "PHOTOSYNC_ENCRYPTION_KEY": "3JF7PEkdBUJ71z9pXbR5oknn6Tfjp3ThPd4WSCT_1bk=",
    "PHOTOSYNC_PUBLIC_URL": "https://photos.example.com",
    "PHOTOSYNC_ENV_FILE": os.devnull,
    "DJANGO_SETTINGS_MODULE": "photosync.settings",
}
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "PHOTOSYNC_ENCRYPTION_KEY", "PHOTOSYNC_PUBLIC_URL"]
)
def test_a_missing_required_setting_stops_startup_naming_it(missing):
    env = {k: v for k, v in BASE_ENV.items() if k != missing}
    result = _start(env)
    assert result.returncode != 0
    assert f"Missing required setting {missing}" in result.stderr


def test_debug_is_off_by_default_and_defaults_are_embedded():
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], repr(s.REDIS_URL))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=BASE_ENV, capture_output=True, text=True
    )
    assert result.stdout.split() == ["False", "django.db.backends.sqlite3", "''"]


def test_database_url_selects_postgresql():
    env = {**BASE_ENV, "DATABASE_URL": "postgres://u:p@db.internal:5433/photos"}
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "d = s.DATABASES['default']; print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.stdout.split() == [
        "django.db.backends.postgresql", "db.internal", "5433", "photos"
    ]


def test_credentials_are_encrypted_at_rest(db, tmp_path):
    from photosync.models import Store
    from photosync.services.credentials import store_credentials_get, store_credentials_set

    store = Store.objects.create(platform="woocommerce", domain="https://shop.example")
    store_credentials_set(store=store, credentials={"consumer_secret": "cs_supersecret"})
    raw = bytes(Store.objects.get(pk=store.pk).credentials_encrypted)
    assert b"supersecret" not in raw
    assert store_credentials_get(store=Store.objects.get(pk=store.pk)) == {
        "consumer_secret": "cs_supersecret"
    }
