"""The processing-delay estimate behind the queue's banner (issue 16), on seeded jobs: the jobs
a new product waits behind (regenerations, its own store's, the other stores' in turn; never
backfills or held jobs), the last hour's throughput and processing time, the threshold
setting, and the queue API's `delay` field (its ETag follows the banner)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from photosync.models import GenerationJob, Product, Store
from photosync.services.delay import delay_text, processing_delay

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _now():
    """NOW: this test's clock (the estimate is taken at it, seeded times are before it)."""
    global NOW
    NOW = timezone.now()

def _job(store: Store, *, status: str, priority: int = 5, created: float = 0,
         started: float | None = None, finished: float | None = None,
         queue: str = "generate-cpu", now=None) -> GenerationJob:
    """A job whose times are seconds before `now` (the module's NOW by default)."""
    now = now or NOW
    n = GenerationJob.objects.count()
    product = Product.objects.create(store=store, remote_id=f"p{n}", title=f"P{n}")
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key=f"k{n}", status=status, priority=priority,
                                       queue=queue)
    at = lambda s: None if s is None else now - timedelta(seconds=s)  # noqa: E731
    GenerationJob.objects.filter(pk=job.pk).update(created_at=at(created), started_at=at(started),
                                                   finished_at=at(finished))
    return job


@pytest.fixture
def stores():
    return (Store.objects.create(platform="local", domain="/tmp/a", name="A"),
            Store.objects.create(platform="local", domain="/tmp/b", name="B"))


def _history(store: Store, now=None) -> None:
    """The last hour: three pairs of jobs, two at a time, each 60 s of processing after 30 s
    of waiting; one more an hour and a half ago (outside the window) that took 10 minutes."""
    for pair in range(3):
        for _ in range(2):
            end = 300 + pair * 600
            _job(store, status="succeeded", created=end + 90, started=end + 60, finished=end,
                 now=now)
    _job(store, status="succeeded", created=6000, started=5900, finished=5300, now=now)


def test_a_new_product_waits_behind_regenerations_its_own_and_the_other_stores_in_turn(
        stores, settings):
    a, b = stores
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 4
    _history(a)
    for n in range(10):
        _job(a, status="queued", created=200 - n)
    _job(a, status="dispatched", created=100)  # sent, not started yet: still ahead
    for _ in range(3):
        _job(b, status="queued", created=150)
    _job(b, status="queued", priority=0, created=50)  # a regeneration goes first
    for _ in range(5):
        _job(a, status="queued", priority=9)  # backfills go last
    _job(a, status="held", created=900)
    _job(a, status="running", created=120, started=30)  # running: part of the throughput
    _job(a, status="queued", queue="generate-gpu", created=3000)  # another queue

    # 2 at a time, 60 s each: 2 per minute.
    for_a = processing_delay(stores=Store.objects.filter(pk=a.pk), now=NOW)
    assert for_a["per_minute"] == 2.0 and for_a["processing_p50_s"] == 60.0
    assert for_a["latency_p50_s"] == 90.0  # created → finished, what merchants met
    # 1 regeneration + A's own 11 + B's 3 (fewer than A's 12 turns) = 15 → 7.5 min + 1 min.
    assert for_a["ahead"] == 15 and for_a["seconds"] == 15 * 30 + 60
    assert for_a["show"] and for_a["text"] == "New products take about 8 minutes right now."
    # B: 1 + its own 3 + A's next 4 (one each turn, B's product in the 4th) = 8.
    for_b = processing_delay(stores=Store.objects.filter(pk=b.pk), now=NOW)
    assert for_b["ahead"] == 8 and for_b["seconds"] == 8 * 30 + 60
    # A store with nothing waiting: the regeneration, then one of each store's turn.
    c = Store.objects.create(platform="local", domain="/tmp/c", name="C")
    assert processing_delay(stores=Store.objects.filter(pk=c.pk), now=NOW)["ahead"] == 3
    # An operator's queue (every store): the worst of them.
    assert processing_delay(stores=Store.objects.all(), now=NOW)["seconds"] == for_a["seconds"]


def test_the_banner_shows_only_above_the_threshold(stores, settings):
    a, _ = stores
    _history(a)
    for _ in range(3):
        _job(a, status="queued", created=20)
    scope = Store.objects.filter(pk=a.pk)
    settings.PHOTOSYNC_DELAY_BANNER_AFTER = 120
    quiet = processing_delay(stores=scope, now=NOW)
    assert quiet["seconds"] == 3 * 30 + 60 and quiet["show"]
    settings.PHOTOSYNC_DELAY_BANNER_AFTER = 150
    assert processing_delay(stores=scope, now=NOW) == {**quiet, "show": False, "text": "",
                                                       "threshold_s": 150}
    # Nothing waiting: a product starts at once and takes its minute.
    GenerationJob.objects.filter(status="queued").delete()
    settings.PHOTOSYNC_DELAY_BANNER_AFTER = 0
    idle = processing_delay(stores=scope, now=NOW)
    assert idle["ahead"] == 0 and idle["seconds"] == 60
    assert idle["text"] == "New products take about 1 minute right now."


def test_without_recent_history_the_oldest_wait_is_a_lower_bound(stores):
    a, b = stores
    assert processing_delay(stores=Store.objects.all(), now=NOW)["seconds"] is None
    # Nothing finished in the last hour (workers down?), jobs waiting for 20 minutes.
    _job(a, status="succeeded", created=9000, started=8000, finished=7500)
    _job(b, status="queued", created=1200)
    delay = processing_delay(stores=Store.objects.filter(pk=a.pk), now=NOW)
    assert delay["seconds"] == 1200 and delay["at_least"] and delay["per_minute"] is None
    assert delay["text"] == "New products take at least 20 minutes right now."


def test_the_estimate_follows_the_gpu_queue_with_a_diffusers_generator(stores, settings):
    a, _ = stores
    settings.PHOTOSYNC_SCENE_GENERATOR = "diffusers:stabilityai/sdxl-turbo"
    settings.PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT = 1
    _job(a, status="succeeded", created=400, started=300, finished=200, queue="generate-gpu")
    _job(a, status="succeeded", created=400, started=300, finished=200, queue="generate-gpu")
    for _ in range(4):
        _job(a, status="queued", created=10, queue="generate-gpu")
        _job(a, status="queued", created=10)  # the CPU queue: not this deployment's new work
    delay = processing_delay(stores=Store.objects.filter(pk=a.pk), now=NOW)
    # Both ran at once, but the dispatcher sends one GPU job at a time.
    assert delay["per_minute"] == 0.6 and delay["ahead"] == 4
    assert delay["seconds"] == 4 * 100 + 100


def test_words_for_long_waits():
    assert delay_text(30) == "New products take about 1 minute right now."
    assert delay_text(89 * 60) == "New products take about 89 minutes right now."
    assert delay_text(3 * 3600 + 600) == "New products take about 3 hours right now."
    assert delay_text(90 * 60, at_least=True) == "New products take at least 2 hours right now."


def test_the_queue_api_answers_the_delay_and_its_etag_follows_the_banner(
        client, operator, stores, settings):
    a, b = stores
    _history(a)  # the view reads the clock: NOW is a moment earlier
    client.force_login(operator)
    url = f"/api/v1/products/?status=waiting&store={a.pk}"
    first = client.get(url)
    delay = first.json()["delay"]
    assert delay["ahead"] == 0 and not delay["show"] and delay["text"] == ""
    # Another store's backlog waits its turn: one of its jobs goes before this store's next
    # product, no banner, and the cached answer still holds.
    for _ in range(6):
        _job(b, status="queued", created=10)
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    # Its regenerations go first: the banner appears, and the cached answer is not reused
    # though nothing of this store changed.
    for _ in range(6):
        _job(b, status="queued", priority=0, created=10)
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert again.json()["delay"]["text"] == "New products take about 4 minutes right now."
    assert again.json()["delay"]["seconds"] == 7 * 30 + 60
    assert client.get(url, HTTP_IF_NONE_MATCH=again["ETag"]).status_code == 304
