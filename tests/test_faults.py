"""Fault tests with real processes: PostgreSQL, Redis, `manage.py worker` and `syncd`.

They run in the production pass of the suite (DATABASE_URL and REDIS_URL set).
"""

from __future__ import annotations

import contextlib
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
from PIL import Image

from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage
from photosync.services.review import image_approve
from photosync.services.stores import store_connect_local
from photosync.services.sync import stores_reconcile
from tests.conftest import PHOTOS, REPO, drain
from tests.conftest import wait_until as _wait
from tests.processes import process_env
from tests.processes import stop as _stop

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]


def _env(**extra: str) -> dict[str, str]:
    """The environment of a PhotoSync process sharing this test's database, broker and media,
    with short heartbeats and broker timeouts."""
    return process_env(**{
        "PHOTOSYNC_HEARTBEAT_INTERVAL": "0.5",
        "PHOTOSYNC_WORKER_DEAD_AFTER": "3",
        "PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT": "3000",
        "PHOTOSYNC_BROKER_MAINTENANCE_CHANCE": "1000000",
        **extra,
    })


def _manage(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=REPO, env=_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


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


def _redis_server(port: int, tmp: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    _wait(lambda: _pings(client), 10, "redis-server to start")
    return proc


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_webhooks_during_a_redis_outage_are_all_answered_and_each_processed_once(
    tmp_path, fault_media
):
    """The event is committed before the 200; the broker's absence only delays its work."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from emulators.woocommerce import WooEmulator
    from integrations.woocommerce.webhooks import webhook_signature
    from photosync.models import Platform, Store, WebhookEvent
    from photosync.services.credentials import store_credentials_set
    from tests.test_health import _free_port

    woo = WooEmulator()
    redis_port, web_port = _free_port(), _free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis_proc = _redis_server(redis_port, tmp_path)
    secret = "W" * 40
    key, key_secret = woo.add_key()
    store = Store.objects.create(platform=Platform.WOOCOMMERCE, domain=woo.url, name="woo")
    store_credentials_set(store=store, credentials={
        "consumer_key": key, "consumer_secret": key_secret, "webhook_secret": secret})
    photo = (PHOTOS / "luma-yoga-brick.jpg").read_bytes()
    pids = [woo.create_product(f"Brick {i}", [(f"brick{i}.jpg", photo)]) for i in range(12)]
    env = {"REDIS_URL": redis_url, "PHOTOSYNC_ALLOWED_NETWORKS": "127.0.0.0/8",
           "ALLOWED_HOSTS": "127.0.0.1",
           "PHOTOSYNC_PUBLIC_URL": f"http://127.0.0.1:{web_port}"}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "photosync.wsgi", "-b", f"127.0.0.1:{web_port}",
         "-w", "2", "-k", "gthread", "--threads", "4"],
        cwd=REPO, env=_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    worker_proc = None
    try:
        base = f"http://127.0.0.1:{web_port}"
        _wait(lambda: _answers(base), 30, "gunicorn to start")

        def deliver(i: int) -> int:
            pid = pids[i % len(pids)]
            raw = json.dumps(woo.product_json(woo.products[pid])).encode()
            return requests.post(f"{base}/webhooks/woocommerce/{store.pk}", data=raw, headers={
                "Content-Type": "application/json", "X-WC-Webhook-Topic": "product.created",
                "X-WC-Webhook-Resource": "product", "X-WC-Webhook-Event": "created",
                "X-WC-Webhook-Source": woo.url + "/", "X-WC-Webhook-ID": "31",
                "X-WC-Webhook-Delivery-ID": str(i), "X-WC-Webhook-Signature":
                webhook_signature(raw, secret)}, timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            first = list(pool.map(deliver, range(0, 24)))
            redis_proc.terminate()  # the broker goes away mid-burst
            redis_proc.wait(10)
            second = list(pool.map(deliver, range(24, 48)))
        assert first + second == [200] * 48  # every delivery answered, none lost
        # 12 products, each delivered 4 times: one event each (deduplicated on identity).
        assert WebhookEvent.objects.count() == 12
        assert WebhookEvent.objects.filter(status="received").count() == 12

        redis_proc = _redis_server(redis_port, tmp_path)  # back, empty: it kept nothing
        syncd = _manage("syncd", "--once", **env)
        assert syncd.wait(120) == 0, syncd.communicate()[0]
        worker_proc = _manage("worker", "--processes", "1", "--threads", "2", **env)
        _wait(lambda: WebhookEvent.objects.filter(status="processed").count() == 12, 180,
              "every event to be processed")
        _wait(lambda: GenerationJob.objects.filter(status="succeeded").count() == 12, 180,
              "every product to be generated")
    finally:
        if worker_proc is not None:
            _stop(worker_proc)
        _stop(web)
        redis_proc.terminate()
        woo.close()
    assert GenerationJob.objects.count() == 12
    assert sorted(GenerationJob.objects.values_list("product__remote_id", flat=True)) == sorted(
        str(p) for p in pids)


def _answers(base: str) -> bool:
    import requests

    try:
        return requests.get(base + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


SHOPIFY_KEY = "fault-api-key"
SHOPIFY_SECRET = "shpss_fault_secret_0123456789abcdef"
SHOP = "fault-goods.myshopify.com"


@contextlib.contextmanager
def _shopify_world(tmp_path, settings):
    """A Shopify emulator, a shop connected to it, and gunicorn serving the app on loopback
    (webhooks go there; media is downloaded from there). Yields (emulator, store, env)."""
    from emulators.shopify import ShopifyEmulator
    from integrations.shopify.budget import budgets_reset
    from photosync.services.shopify.auth import shopify_store_connect
    from tests.test_health import _free_port

    web_port = _free_port()
    base = f"http://127.0.0.1:{web_port}"
    emulator = ShopifyEmulator(api_key=SHOPIFY_KEY, api_secret=SHOPIFY_SECRET,
                               webhook_url=f"{base}/webhooks/shopify")
    emulator.start()
    emulator.add_shop(SHOP)
    env = {"SHOPIFY_API_KEY": SHOPIFY_KEY, "SHOPIFY_API_SECRET": SHOPIFY_SECRET,
           "SHOPIFY_API_ORIGIN": emulator.base_url, "ALLOWED_HOSTS": "127.0.0.1",
           "PHOTOSYNC_ALLOWED_NETWORKS": "127.0.0.0/8", "PHOTOSYNC_PUBLIC_URL": base}
    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = SHOPIFY_KEY, SHOPIFY_SECRET
    settings.SHOPIFY_API_ORIGIN = emulator.base_url
    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    budgets_reset()
    store = shopify_store_connect(shop=SHOP,
                                  credentials={"access_token": emulator.issue_token(SHOP)})
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "photosync.wsgi", "-b", f"127.0.0.1:{web_port}",
         "-w", "2", "-k", "gthread", "--threads", "16", "--backlog", "256"],
        cwd=REPO, env=_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        _wait(lambda: _answers(base), 30, "gunicorn to start")
        yield emulator, store, env, base
    finally:
        _stop(web)
        emulator.stop()
        budgets_reset()


def _ours(emulator, product_gid: str) -> list[dict]:
    return [m for m in emulator.product_media(SHOP, product_gid)
            if m["filename"].startswith("photosync-")]


def test_a_hundred_concurrent_deliveries_make_one_event_one_job_one_push(
    tmp_path, fault_media, broker, settings
):
    import threading

    from photosync.models import WebhookEvent

    with _shopify_world(tmp_path, settings) as (emulator, store, env, base):
        photo = (PHOTOS / "luma-yoga-brick.jpg").read_bytes()
        gid = emulator.create_product(SHOP, title="Yoga Brick", images=[("b.jpg", photo, "")])
        payload = emulator._product_payload(emulator.shops[SHOP], int(gid.rsplit("/", 1)[1]))
        barrier = threading.Barrier(100)
        statuses: list[int] = []

        def deliver() -> None:
            barrier.wait()
            statuses.append(emulator.send_webhook(SHOP, "products/create", payload,
                                                  webhook_id="one-delivery",
                                                  url=f"{base}/webhooks/shopify"))

        threads = [threading.Thread(target=deliver) for _ in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 100
        assert WebhookEvent.objects.filter(delivery_id="one-delivery").count() == 1

        worker_proc = _manage("worker", "--processes", "1", "--threads", "2", **env)
        try:
            job = _wait(lambda: GenerationJob.objects.filter(status="succeeded").first(), 120,
                        "the product's job")
            image = GeneratedImage.objects.get(job=job, kind="framed")
            for _ in range(3):  # a double click and a second tab
                image_approve(image=image, alt_text="Brick on white")
            _wait(lambda: Push.objects.filter(status="live").exists(), 120, "the push to go live")
            emulator.wait_for_webhooks()
            time.sleep(2)  # the products/update echo is processed by the worker meanwhile
        finally:
            output = _stop(worker_proc)
        assert GenerationJob.objects.count() == 1, output
        assert Push.objects.count() == 1
        assert [m["alt"] for m in _ours(emulator, gid)] == ["Brick on white"]


def test_a_store_failing_in_bursts_still_gets_every_approved_image_exactly_once(
    tmp_path, fault_media, broker, settings
):
    with _shopify_world(tmp_path, settings) as (emulator, store, env, base):
        photo = (PHOTOS / "mg04-bk-0.jpg").read_bytes()
        gids = [emulator.create_product(SHOP, title=f"Watch {i}", images=[("w.jpg", photo, "")])
                for i in range(3)]
        assert _manage("syncd", "--once", **env).wait(120) == 0
        worker_proc = _manage("worker", "--processes", "1", "--threads", "2", **env)
        try:
            _wait(lambda: GenerationJob.objects.filter(status="succeeded").count() == 3, 180,
                  "three generated products")
            # The store now answers in bursts of errors: 500, 429 (THROTTLED) and 502.
            emulator.fail_next = [500, 500, 429, 502, 500, 429, 429, 500, 503, 500] * 2
            for image in GeneratedImage.objects.filter(kind="framed"):
                image_approve(image=image, alt_text=f"On white {image.pk}")
            try:
                _wait(lambda: Push.objects.filter(status="live").count() == 3, 240,
                      "every push to go live")
            except AssertionError:
                print(list(Push.objects.values("status", "error", "attempts")))
                print(_stop(worker_proc)[-6000:])
                raise
        finally:
            output = _stop(worker_proc)
        assert emulator.fail_next == [], output  # every injected failure was met
        assert Push.objects.count() == 3
        for gid in gids:
            assert len(_ours(emulator, gid)) == 1
