"""Separate PhotoSync processes for a test: the environment they need to share the test's
database (PostgreSQL or the SQLite file), broker and media, and gunicorn serving the app on
loopback. The test must use `django_db(transaction=True)` so they see its rows."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import connection

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    """The URL of the test database itself (not the one settings name)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a PhotoSync process sharing this test's database, broker and media."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "SECRET_KEY": settings.SECRET_KEY,
        "PHOTOSYNC_ENCRYPTION_KEY": ",".join(settings.PHOTOSYNC_ENCRYPTION_KEYS),
        "PHOTOSYNC_PUBLIC_URL": settings.PHOTOSYNC_PUBLIC_URL,
        "PHOTOSYNC_ENV_FILE": os.devnull,
        "DATABASE_URL": database_url(),
        "PHOTOSYNC_QUEUE_NAMESPACE": settings.PHOTOSYNC_QUEUE_NAMESPACE,
        "PHOTOSYNC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PHOTOSYNC_DATA_DIR": str(settings.DATA_DIR),
        "DATABASE_CONN_MAX_AGE": "0",
        "PHOTOSYNC_APPROVE_UNDO_SECONDS": str(settings.PHOTOSYNC_APPROVE_UNDO_SECONDS),
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(extra)
    return env


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return (out or "") + (err or "")


@contextlib.contextmanager
def app_servers(count: int = 2, **env: str) -> Iterator[list[str]]:
    """`count` gunicorn servers (one worker process each, so each is its own process) on
    loopback with the test settings (its password hasher); yields their base URLs."""
    import requests

    ports = [free_port() for _ in range(count)]
    procs = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "photosync.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", "1", "-k", "gthread", "--threads", "2"],
        cwd=REPO, env=process_env(DJANGO_SETTINGS_MODULE="tests.settings",
                                  ALLOWED_HOSTS="127.0.0.1", **env),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    ) for port in ports]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, proc in zip(bases, procs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not start: {stop(proc)[-2000:]}")
                time.sleep(0.2)
        yield bases
    finally:
        for proc in procs:
            stop(proc)
