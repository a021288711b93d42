"""Scale-out on one machine: two worker processes and two sync daemons, as separate OS
processes started with the production commands, against one PostgreSQL and one Redis.

50 products from two folder stores go through generation, approval and push. Every product
gets exactly one generation job, run once; every approved image is pushed exactly once; and
both workers do part of the work.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count
from PIL import Image, ImageDraw

from tests.conftest import REPO

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]

STORES = 2
PRODUCTS_PER_STORE = 25
WORKERS = 2
DAEMONS = 2
#: Small work per job (no scene, a trimmed transparent frame): the test is about concurrency.
LIGHT = {"frame_preset": "transparent", "scene_presets": []}


def product_photo(n: int) -> bytes:
    """A distinct product on a white backdrop (its colour depends on n)."""
    image = Image.new("RGB", (320, 320), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    colour = (40 + (n * 37) % 180, 40 + (n * 91) % 180, 40 + (n * 53) % 180)
    draw.rounded_rectangle((90, 60, 230, 270), radius=24, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_store(root: Path, index: int) -> Path:
    for p in range(PRODUCTS_PER_STORE):
        folder = root / f"product-{index}-{p:02d}"
        folder.mkdir(parents=True)
        (folder / "front.jpg").write_bytes(product_photo(index * 100 + p))
        (folder / "product.json").write_text(
            json.dumps({"title": f"Product {index}-{p}", "type": "Demo"})
        )
    return root


def database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Processes:
    """OS processes started by this test, each in its own session, stopped by their ids."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, *args: str) -> None:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args], cwd=REPO, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.started.append((name, process, log))

    def check_alive(self) -> None:
        for name, process, _ in self.started:
            assert process.poll() is None, f"{name} exited early:\n{self.tails()}"

    def stop(self) -> None:
        for _, process, _ in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)  # dramatiq's master and its children
        deadline = time.monotonic() + 60
        for _, process, _ in self.started:
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def tails(self) -> str:
        return "\n".join(
            f"--- {name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            for name, _, log in self.started
        )


@pytest.fixture
def processes(tmp_path, media_root, broker):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "photosync.settings",
        "PHOTOSYNC_ENV_FILE": os.devnull,
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "PHOTOSYNC_ENCRYPTION_KEY": os.environ["PHOTOSYNC_ENCRYPTION_KEY"],
        "PHOTOSYNC_PUBLIC_URL": settings.PHOTOSYNC_PUBLIC_URL,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PHOTOSYNC_QUEUE_NAMESPACE": settings.PHOTOSYNC_QUEUE_NAMESPACE,
        "PHOTOSYNC_DATA_DIR": str(tmp_path / "data"),
        "PHOTOSYNC_MEDIA_ROOT": str(media_root),
        "PHOTOSYNC_HEARTBEAT_INTERVAL": "1",
        "LOG_LEVEL": "INFO",
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Processes(env, logs)
    yield procs
    procs.stop()


def wait_for(what: str, condition, procs: Processes, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{procs.tails()}")


def test_two_workers_and_two_daemons_share_the_work_without_duplicates(tmp_path, processes):
    from photosync.models import GeneratedImage, GenerationJob, Product, Push, WorkerHeartbeat
    from photosync.services.review import image_approve
    from photosync.services.stores import store_connect_local

    for n in range(WORKERS):
        processes.start(
            f"worker-{n}", "worker", "--queues", "webhooks,generate-cpu,push,sync",
            "--processes", "1", "--threads", "2", "--prefetch", "1",
        )
    # Both workers listen before there is any work, so neither can take it all while the
    # other is still booting.
    wait_for("two worker heartbeats",
             lambda: WorkerHeartbeat.objects.filter(kind="cpu").count() == WORKERS,
             processes, timeout=90)

    folders = [make_store(tmp_path / f"store-{i}", i) for i in range(STORES)]
    for i, folder in enumerate(folders):
        store_connect_local(path=folder, name=f"Store {i}", settings=LIGHT)
    for n in range(DAEMONS):
        processes.start(f"syncd-{n}", "syncd", "--interval", "1")

    total = STORES * PRODUCTS_PER_STORE
    finished = [GenerationJob.Status.SUCCEEDED, GenerationJob.Status.PARTIAL,
                GenerationJob.Status.FAILED]
    wait_for(f"{total} finished generation jobs",
             lambda: GenerationJob.objects.filter(status__in=finished).count() >= total,
             processes, timeout=300)

    for product in Product.objects.all():
        image = GeneratedImage.objects.get(product=product, kind="framed")
        image_approve(image=image, alt_text=f"{product.title} on transparent")
    wait_for(f"{total} live pushes",
             lambda: Push.objects.filter(status=Push.Status.LIVE).count() >= total,
             processes, timeout=180)
    time.sleep(3)  # a few more passes of both daemons: they must find nothing new
    processes.stop()

    # One job per product, each run exactly once, all succeeded.
    jobs = GenerationJob.objects.all()
    assert Product.objects.count() == total
    assert jobs.count() == total, processes.tails()
    assert not jobs.values("product").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert sorted(set(jobs.values_list("status", flat=True))) == ["succeeded"]
    assert sorted(set(jobs.values_list("attempts", flat=True))) == [1]
    # No output written twice.
    outputs = GeneratedImage.objects.values("job", "source", "kind", "preset")
    assert outputs.annotate(n=Count("pk")).filter(n__gt=1).count() == 0
    assert GeneratedImage.objects.filter(kind="framed").count() == total

    # Each approved image pushed once: one outbox row, one attempt, one file in the store.
    pushes = Push.objects.all()
    assert pushes.count() == total
    assert sorted(set(pushes.values_list("attempts", flat=True))) == [1]
    for folder in folders:
        for product_dir in sorted(folder.iterdir()):
            approved = product_dir / "approved"
            manifest = json.loads((approved / "manifest.json").read_text())
            assert len(manifest["images"]) == 1, product_dir.name
            assert [p.name for p in approved.iterdir() if p.name != "manifest.json"] == [
                manifest["images"][0]["file"]
            ]

    # Both worker processes ran generation jobs.
    per_worker = dict(jobs.values_list("worker").annotate(n=Count("pk")))
    assert len(per_worker) == WORKERS, per_worker
    assert all(n > 0 for n in per_worker.values()), per_worker
