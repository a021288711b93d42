"""Shared fixtures: real sample photos, real folder stores, a real Dramatiq worker."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO / "photosync" / "demo" / "products"

PRODUCTION = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs DATABASE_URL and REDIS_URL (the production config)")
    for item in items:
        if "production" in item.keywords and not PRODUCTION:
            item.add_marker(skip)


@pytest.fixture
def photo() -> Path:
    """A real studio photo (a dark watch on white)."""
    return PHOTOS / "mg01-bk-0.jpg"


@pytest.fixture
def store_dir(tmp_path) -> Path:
    """A folder store with two real products."""
    root = tmp_path / "store"
    for name, title in (("mg01-bk-0", "Aim Analog Watch"), ("luma-yoga-brick", "Yoga Brick")):
        folder = root / name
        folder.mkdir(parents=True)
        shutil.copy2(PHOTOS / f"{name}.jpg", folder / f"{name}.jpg")
        (folder / "product.json").write_text(json.dumps({"title": title, "type": "Demo"}))
    return root


@pytest.fixture
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password="pw", is_staff=True)


@pytest.fixture
def broker():
    """The process's broker (Redis or stub per settings), emptied before and after."""
    from photosync.queueing import get_broker

    b = get_broker()
    b.flush_all()
    yield b
    b.flush_all()


@pytest.fixture
def worker(broker):
    """A real Dramatiq worker consuming every queue, as `serve` or `manage.py worker` runs it."""
    from dramatiq import Worker

    w = Worker(broker, worker_threads=2, worker_timeout=100)
    w.start()
    yield w
    w.stop()


def drain(broker, worker, timeout: float = 120.0) -> None:
    """Wait until every queue is empty and the worker is idle (work may enqueue more)."""
    from photosync.queueing import Queues

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for queue in Queues.ALL:
            broker.join(queue, timeout=int((deadline - time.monotonic()) * 1000))
        worker.join()
        if all(_queue_empty(broker, q) for q in Queues.ALL):
            return
    raise TimeoutError("the queues did not drain")


def drain_webhooks(broker, timeout_ms: int = 120_000) -> None:
    """Run a real worker on the webhooks queue only until it is empty (generation is not
    under test)."""
    from dramatiq import Worker

    from photosync.queueing import Queues

    worker = Worker(broker, queues={Queues.WEBHOOKS}, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        broker.join(Queues.WEBHOOKS, timeout=timeout_ms)
        worker.join()
    finally:
        worker.stop()


def _queue_empty(broker, queue: str) -> bool:
    from photosync.queueing import queue_depth

    return queue_depth(queue) == 0


def queue_size(broker, queue: str) -> int:
    """Messages waiting on `queue` (delayed ones included), for either broker."""
    from photosync.queueing import queue_depth

    return queue_depth(queue)



def wait_until(predicate, timeout: float, what: str):
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


#: The API key the hosted cutout emulator accepts (a test value: never a real key).
CUTOUT_API_KEY = "sk-test-7f3a9c1e2b"


@pytest.fixture
def cutout_api(monkeypatch):
    """remove.bg and Photoroom on loopback (emulators/cutout_apis.py), with the hosted
    segmenters pointed at it; backends and breakers start fresh."""
    from emulators.cutout_apis import CutoutAPIEmulator
    from pipeline.backends import clear_cache

    clear_cache()
    with CutoutAPIEmulator(api_key=CUTOUT_API_KEY) as api:
        for provider, url in (("REMOVEBG", api.removebg_url), ("PHOTOROOM", api.photoroom_url)):
            monkeypatch.setenv(f"PHOTOSYNC_{provider}_API_KEY", CUTOUT_API_KEY)
            monkeypatch.setenv(f"PHOTOSYNC_{provider}_URL", url)
        monkeypatch.setenv("PHOTOSYNC_REMOVEBG_PRICE", "0.18")
        yield api
    clear_cache()
