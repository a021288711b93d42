import os
import shutil
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


def _probe(env: dict, expression: str) -> subprocess.CompletedProcess:
    code = ("import django; django.setup(); from django.conf import settings as s; "
            f"print({expression})")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("PHOTOSYNC_SYNC_INTERVAL", "soon", "PHOTOSYNC_SYNC_INTERVAL must be a number, got 'soon'"),
    ("PHOTOSYNC_GPU_FALLBACK", "gpu", "PHOTOSYNC_GPU_FALLBACK must be one of cpu, hold"),
    ("PHOTOSYNC_WOOCOMMERCE_PUSH_TIMEOUT", "60", "must be at least 120"),
])
def test_a_malformed_setting_stops_startup_naming_it(name, value, message):
    result = _probe({**BASE_ENV, name: value}, "s.DEBUG")
    assert result.returncode != 0 and result.stdout == ""
    assert message in result.stderr


def test_settings_come_from_the_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / "photosync.env"
    env_file.write_text("PHOTOSYNC_SYNC_INTERVAL=3\nPHOTOSYNC_WORKER_THREADS=5\n")
    env = {**BASE_ENV, "PHOTOSYNC_ENV_FILE": str(env_file), "PHOTOSYNC_WORKER_THREADS": "7"}
    result = _probe(env, "s.PHOTOSYNC_SYNC_INTERVAL, s.PHOTOSYNC_WORKER_THREADS")
    assert result.stdout.split() == ["3.0", "7"], result.stderr


def _envfile(*args, cwd=REPO) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "photosync.envfile", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_envfile_help_prints_usage_and_writes_nothing(tmp_path):
    result = _envfile("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: python -m photosync.envfile" in result.stdout and "--addr" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_envfile_writes_a_private_env_for_its_address_that_settings_accept(tmp_path):
    target = tmp_path / ".env"
    result = _envfile(str(target), "--addr", "127.0.0.1:9000")
    assert result.returncode == 0, result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in target.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values["PHOTOSYNC_PUBLIC_URL"] == "http://127.0.0.1:9000"
    assert values["PHOTOSYNC_ADMIN_PASSWORD"] not in result.stdout + result.stderr
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "photosync.settings",
           "PHOTOSYNC_ENV_FILE": str(target), "PHOTOSYNC_DATA_DIR": str(tmp_path)}
    probe = _probe(env, "s.PHOTOSYNC_PUBLIC_URL, s.ALLOWED_HOSTS[0], len(s.SECRET_KEY) > 50")
    assert probe.stdout.split() == ["http://127.0.0.1:9000", "127.0.0.1", "True"], probe.stderr


def test_envfile_never_replaces_a_file_without_force(tmp_path):
    target = tmp_path / ".env"
    target.write_text("SECRET_KEY=the-operators-own\n")
    kept = _envfile(str(target))
    assert kept.returncode == 1 and "--force" in kept.stderr
    assert target.read_text() == "SECRET_KEY=the-operators-own\n"
    replaced = _envfile(str(target), "--force")
    assert replaced.returncode == 0, replaced.stderr
    assert "the-operators-own" not in target.read_text()
    assert "PHOTOSYNC_ENCRYPTION_KEY=" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_envfile_refuses_a_bad_address_and_writes_nothing(tmp_path):
    result = _envfile(str(tmp_path / ".env"), "--addr", "127.0.0.1:http")
    assert result.returncode == 2 and "expected HOST:PORT or PORT" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("addr", "url"), [
    ("127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("9000", "http://127.0.0.1:9000"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),  # every interface: loopback still answers
    ("photos.lan:8001", "http://photos.lan:8001"),
    ("::1:9000", "http://[::1]:9000"),
    ("[::1]:9000", "http://[::1]:9000"),
])
def test_envfile_public_url_follows_the_serve_address(addr, url):
    from photosync.envfile import public_url

    assert public_url(addr) == url


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_writes_its_env_for_its_address(tmp_path):
    """`make run ADDR=...` hands ADDR to envfile (a dry run: nothing is executed)."""
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", ".env", "ADDR=127.0.0.1:9000",
         f"VENV={tmp_path}"], cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path}/bin/python -m photosync.envfile .env --addr 127.0.0.1:9000" in (
        result.stdout.splitlines())
    assert list(tmp_path.iterdir()) == []
