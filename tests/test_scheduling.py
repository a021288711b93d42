"""The dispatcher: priorities, fairness across stores, monthly limits, GPU fallback, leases."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from photosync.models import GenerationJob, Product, Store, WorkerHeartbeat
from photosync.queueing import Queues
from photosync.services.leases import lease_acquire, lease_release
from photosync.services.scheduling import _inside, jobs_dispatch, store_limit_set
from tests.conftest import queue_size

pytestmark = pytest.mark.django_db(transaction=True)


def _store(name: str, **kw) -> Store:
    return Store.objects.create(platform="local", domain=f"/stores/{name}", name=name, **kw)


def _jobs(store: Store, n: int, *, reason="new", priority=5, queue=Queues.GENERATE_CPU,
          config=None) -> list[GenerationJob]:
    products = Product.objects.bulk_create(
        Product(store=store, remote_id=f"{store.name}-{i}") for i in range(n)
    )
    return GenerationJob.objects.bulk_create(
        GenerationJob(store=store, product=p, input_hash="h", dedupe_key=f"{p.pk}:h",
                      reason=reason, priority=priority, queue=queue, config=config or {})
        for p in products
    )


def _finish_dispatched() -> list[GenerationJob]:
    """Play a worker: finish whatever was dispatched, oldest first; return them in order."""
    done = list(GenerationJob.objects.filter(status="dispatched").order_by("dispatched_at"))
    GenerationJob.objects.filter(pk__in=[j.pk for j in done]).update(status="succeeded")
    return done


def test_dispatch_is_bounded_in_flight(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 3
    _jobs(_store("a"), 10)
    assert jobs_dispatch() == 3
    assert jobs_dispatch() == 0  # nothing finished, nothing more goes out
    assert queue_size(broker, Queues.GENERATE_CPU) == 3


def test_a_new_product_overtakes_another_stores_backfill(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 4
    big, small = _store("big"), _store("small")
    _jobs(big, 2000, reason="backfill", priority=9)
    jobs_dispatch()
    _finish_dispatched()
    jobs_dispatch()
    (new,) = _jobs(small, 1)
    ran_after_new = 0
    while True:
        jobs_dispatch()
        order = _finish_dispatched()
        if new.pk in [j.pk for j in order]:
            ran_after_new += [j.pk for j in order].index(new.pk)
            break
        ran_after_new += len(order)
    # Only jobs already in flight when it arrived may run before it.
    assert ran_after_new <= 4


def test_stores_with_equal_priority_take_turns(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 6
    a, b = _store("a"), _store("b")
    _jobs(a, 30)
    _jobs(b, 3)
    jobs_dispatch()
    stores = [j.store_id for j in _finish_dispatched()]
    assert stores == [a.pk, b.pk, a.pk, b.pk, a.pk, b.pk]


def test_regenerate_goes_before_new_products(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 1
    store = _store("s")
    _jobs(store, 5)
    (regen,) = _jobs(_store("t"), 1, reason="regenerate", priority=0)
    jobs_dispatch()
    assert [j.pk for j in _finish_dispatched()] == [regen.pk]


def test_monthly_limit_holds_work_with_a_reason_and_raising_it_resumes(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 10
    store = _store("capped", monthly_generation_limit=2)
    _jobs(store, 3)
    assert jobs_dispatch() == 2
    held = GenerationJob.objects.get(status="held")
    assert held.hold_reason == "monthly_limit"
    assert "used its 2 generations for this month" in held.error
    assert jobs_dispatch() == 0
    store_limit_set(store=store, limit=5)  # live: the next dispatch resumes it
    held.refresh_from_db()
    assert held.status == "dispatched"
    assert held.error == ""


def test_gpu_work_takes_the_cpu_path_when_no_gpu_worker_is_alive(broker, settings):
    settings.PHOTOSYNC_GPU_FALLBACK = "cpu"
    (job,) = _jobs(_store("g"), 1, queue=Queues.GENERATE_GPU,
                   config={"segmenter": "rembg:u2net", "scene_generator": "diffusers:/m"})
    assert jobs_dispatch() == 1
    job.refresh_from_db()
    assert job.queue == Queues.GENERATE_CPU
    assert job.config["segmenter"] == "classical"  # a job without a fallback chain
    assert job.config["scene_generator"] == "procedural"
    assert job.config["segmenter_unavailable"] == [
        ["rembg:u2net", "no GPU worker was alive for 120 s"]]
    assert "No GPU worker was alive" in job.notes[0]
    assert queue_size(broker, Queues.GENERATE_GPU) == 0


def test_the_cpu_path_cuts_out_with_the_next_segmenter_of_the_chain(broker, settings):
    settings.PHOTOSYNC_GPU_FALLBACK = "cpu"
    (job,) = _jobs(_store("g"), 1, queue=Queues.GENERATE_GPU, config={
        "segmenter": "rembg:birefnet-general", "scene_generator": "diffusers:/m",
        "segmenter_fallback": ["rembg:birefnet-general", "removebg", "classical"]})
    jobs_dispatch()
    job.refresh_from_db()
    assert (job.config["segmenter"], job.config["segmenter_fallback"]) == (
        "removebg", ["classical"])
    assert job.config["segmenter_unavailable"] == [
        ["rembg:birefnet-general", "no GPU worker was alive for 120 s"]]
    (hosted,) = _jobs(_store("h"), 1, queue=Queues.GENERATE_GPU, config={
        "segmenter": "removebg", "scene_generator": "diffusers:/m"})
    jobs_dispatch()
    hosted.refresh_from_db()
    assert hosted.config["segmenter"] == "removebg"  # needs no GPU: kept
    assert "segmenter_unavailable" not in hosted.config


def test_gpu_work_waits_when_the_policy_is_hold_and_resumes_with_a_gpu(broker, settings):
    settings.PHOTOSYNC_GPU_FALLBACK = "hold"
    (job,) = _jobs(_store("g"), 1, queue=Queues.GENERATE_GPU)
    assert jobs_dispatch() == 0
    job.refresh_from_db()
    assert (job.status, job.hold_reason) == ("held", "no_gpu")
    assert "Waiting for a GPU worker" in job.error
    WorkerHeartbeat.objects.create(name="gpu-host:1", kind="gpu", last_seen=timezone.now())
    assert jobs_dispatch() == 1
    job.refresh_from_db()
    assert (job.status, job.queue) == ("dispatched", Queues.GENERATE_GPU)
    assert queue_size(broker, Queues.GENERATE_GPU) == 1


def test_backfill_waits_for_the_off_peak_window(broker, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 5
    store = _store("night", timezone="Europe/Berlin", settings={"offpeak": "01:00-05:00"})
    _jobs(store, 2, reason="backfill", priority=9)
    noon_berlin = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    assert jobs_dispatch(now=noon_berlin) == 0
    two_am_berlin = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    assert jobs_dispatch(now=two_am_berlin) == 2


@pytest.mark.parametrize(
    ("window", "hour", "inside"),
    [("01:00-05:00", 3, True), ("01:00-05:00", 5, False), ("22:00-04:00", 23, True),
     ("22:00-04:00", 3, True), ("22:00-04:00", 12, False)],
)
def test_offpeak_windows_may_wrap_midnight(window, hour, inside):
    assert _inside(window, datetime(2026, 1, 1, hour, 0, tzinfo=UTC), "UTC") is inside


def test_a_lease_has_one_holder_until_it_lapses():
    assert lease_acquire(name="reconcile:1", holder="a", seconds=60)
    assert not lease_acquire(name="reconcile:1", holder="b", seconds=60)
    assert lease_acquire(name="reconcile:1", holder="a", seconds=60)  # renewal
    lease_release(name="reconcile:1", holder="a")
    assert lease_acquire(name="reconcile:1", holder="b", seconds=0.001)
    time.sleep(0.01)
    assert lease_acquire(name="reconcile:1", holder="c", seconds=60)
