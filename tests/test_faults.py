"""Fault tests with real processes: PostgreSQL, Redis, `manage.py worker` and `syncd`.

They run in the production pass of the suite (DATABASE_URL and REDIS_URL set).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage
from photosync.services.review import image_approve
from photosync.services.stores import store_connect_local
from photosync.services.sync import stores_reconcile
from tests.conftest import PHOTOS, REPO, drain

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]


def _env(**extra: str) -> dict[str, str]:
    """The environment of a PhotoSync process sharing this test's database, broker and media."""
    db = connection.settings_dict
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": settings.SECRET_KEY,
        "PHOTOSYNC_ENCRYPTION_KEY": ",".join(settings.PHOTOSYNC_ENCRYPTION_KEYS),
        "PHOTOSYNC_PUBLIC_URL": settings.PHOTOSYNC_PUBLIC_URL,
        "PHOTOSYNC_ENV_FILE": os.devnull,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "PHOTOSYNC_QUEUE_NAMESPACE": settings.PHOTOSYNC_QUEUE_NAMESPACE,
        "PHOTOSYNC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PHOTOSYNC_DATA_DIR": str(settings.DATA_DIR),
        "PHOTOSYNC_HEARTBEAT_INTERVAL": "0.5",
        "PHOTOSYNC_WORKER_DEAD_AFTER": "3",
        "PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT": "3000",
        "PHOTOSYNC_BROKER_MAINTENANCE_CHANCE": "1000000",
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.update(extra)
    return env


def _manage(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=REPO, env=_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()[0]


@pytest.fixture
def fault_media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_worker_killed_mid_job_leads_to_one_finished_job_and_one_push(
    tmp_path, fault_media, broker
):
    root = tmp_path / "store"
    folder = root / "big-watch"
    folder.mkdir(parents=True)
    # A large photo with several scene variations keeps the job busy long enough to kill.
    Image.open(PHOTOS / "mg01-bk-0.jpg").resize((2400, 2400)).save(folder / "watch.jpg")
    store = store_connect_local(path=root)
    store.settings = {"variations": 3}
    store.save()
    stores_reconcile()
    job = GenerationJob.objects.get()
    assert job.status == "dispatched"

    first = _manage("worker", "--processes", "1", "--threads", "1")
    try:
        _wait(lambda: GenerationJob.objects.get(pk=job.pk).status == "running", 60,
              "the first worker to start the job")
        time.sleep(0.3)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        _stop(first, signal.SIGKILL)
    assert GenerationJob.objects.get(pk=job.pk).status == "running"
    assert not GeneratedImage.objects.filter(status="pushed").exists()

    second = _manage("worker", "--processes", "1", "--threads", "1")
    try:
        try:
            done = _wait(
                lambda: GenerationJob.objects.filter(pk=job.pk, status="succeeded").first(), 60,
                "the redelivered job to finish",
            )
        except AssertionError:
            print(_stop(second))
            print(GenerationJob.objects.filter(pk=job.pk).values())
            raise
        assert done.attempts == 2
        images = list(GeneratedImage.objects.filter(job=done))
        # Exactly one set: the framed image and 3 scene variations, nothing from attempt one.
        assert sorted(i.kind for i in images) == ["framed", "scene", "scene", "scene"]
        assert len({i.file.name for i in images}) == 4
        generated = list(Path(fault_media, "generated").rglob("*.png"))
        assert len(generated) == 4
        image_approve(image=images[0])
        _wait(lambda: Push.objects.filter(status="live").exists(), 60, "the push")
    finally:
        output = _stop(second)
    assert Push.objects.count() == 1
    approved = list((folder / "approved").glob("*.png"))
    assert len(approved) == 1, output


def test_two_syncd_processes_do_not_do_the_same_work_twice(tmp_path, fault_media, broker):
    root = tmp_path / "store"
    for i in range(40):
        (root / f"p{i:02d}").mkdir(parents=True)
        shutil.copy2(PHOTOS / "luma-yoga-brick.jpg", root / f"p{i:02d}" / "brick.jpg")
    store = store_connect_local(path=root)
    procs = [_manage("syncd", "--once") for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert Product.objects.filter(store=store).count() == 40
    assert GenerationJob.objects.count() == 40
    assert SourceImage.objects.count() == 40
    # Both daemons dispatched, but never beyond the in-flight bound, and each job once.
    dispatched = GenerationJob.objects.filter(status="dispatched").count()
    assert dispatched == settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT
    from tests.conftest import queue_size

    assert queue_size(broker, "generate-cpu") == dispatched


def test_a_product_added_without_any_webhook_is_found_by_syncd_once(tmp_path, fault_media):
    root = tmp_path / "store"
    root.mkdir()
    store = store_connect_local(path=root)
    assert _manage("syncd", "--once").wait(60) == 0
    assert not Product.objects.exists()
    (root / "late-arrival").mkdir()
    shutil.copy2(PHOTOS / "ug05-gr-0.jpg", root / "late-arrival" / "grips.jpg")
    (root / "late-arrival" / "product.json").write_text(json.dumps({"title": "Late"}))
    proc = _manage("syncd", "--once")
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, output
    job = GenerationJob.objects.get(product__store=store, product__remote_id="late-arrival")
    assert job.status == "dispatched"


def test_one_stores_backfill_does_not_delay_another_stores_new_product(
    tmp_path, fault_media, broker, worker, settings
):
    settings.PHOTOSYNC_BACKFILL_THRESHOLD = 100
    small = Image.open(PHOTOS / "luma-yoga-brick.jpg").resize((96, 96))
    big_root = tmp_path / "big"
    for i in range(2000):
        folder = big_root / f"b{i:04d}"
        folder.mkdir(parents=True)
        small.save(folder / "brick.jpg", quality=80)
    store_connect_local(path=big_root, settings={"scene_presets": []})
    stores_reconcile()
    assert GenerationJob.objects.filter(reason="backfill").count() == 2000
    # Let the backfill get going on the real worker.
    _wait(lambda: GenerationJob.objects.filter(status="succeeded").count() >= 5, 120,
          "the backfill to start")

    other_root = tmp_path / "other"
    (other_root / "fresh").mkdir(parents=True)
    shutil.copy2(PHOTOS / "mg04-bk-0.jpg", other_root / "fresh" / "watch.jpg")
    other = store_connect_local(path=other_root)
    stores_reconcile()
    new_job = GenerationJob.objects.get(store=other)
    arrived = new_job.created_at
    finished = _wait(
        lambda: GenerationJob.objects.filter(pk=new_job.pk, status="succeeded").first(), 120,
        "the other store's new product",
    )
    ran_meanwhile = GenerationJob.objects.filter(
        reason="backfill", started_at__gte=arrived, started_at__lt=finished.finished_at
    ).count()
    print(f"backfill jobs started between arrival and readiness: {ran_meanwhile}")
    assert ran_meanwhile < 20
    GenerationJob.objects.filter(status="queued").update(status="cancelled")
    drain(broker, worker)
