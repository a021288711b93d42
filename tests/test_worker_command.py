"""`manage.py worker` as operators run it."""

import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.test_settings import BASE_ENV


@pytest.mark.parametrize("queues", ["generate-gpu", "webhooks,generate-gpu"])
def test_a_gpu_worker_without_a_gpu_refuses_to_start(queues):
    env = {**BASE_ENV, "REDIS_URL": "redis://127.0.0.1:6379/0", "PHOTOSYNC_DEVICE": "cuda",
           "PHOTOSYNC_DTYPE": "float16", "PHOTOSYNC_SCENE_GENERATOR": "procedural"}
    result = subprocess.run(
        [sys.executable, "manage.py", "worker", "--queues", queues, "--processes", "1",
         "--threads", "1", "--prefetch", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "gpu-worker refuses to start" in result.stderr
    assert "no usable CUDA GPU" in result.stderr


def test_separate_workers_need_redis():
    result = subprocess.run(
        [sys.executable, "manage.py", "worker"], cwd=REPO, env=BASE_ENV,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "REDIS_URL is not set" in result.stderr


def test_unknown_queues_are_refused():
    env = {**BASE_ENV, "REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "worker", "--queues", "generate-cpu,bogus"], cwd=REPO,
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Unknown queues ['bogus']" in result.stderr


def test_actors_retry_retryable_errors_a_bounded_number_of_times():
    import dramatiq

    from integrations.errors import Invalid, Throttled
    from photosync.jobs.base import retry_up_to
    from photosync.jobs.push import push_run
    from photosync.jobs.webhooks import webhook_event_process

    when = retry_up_to(3)
    assert when(0, dramatiq.Retry("later", delay=1000))
    assert when(2, Throttled("slow down", retry_after=1))
    assert not when(3, dramatiq.Retry("later", delay=1000))
    assert not when(0, Invalid("bad request"))
    assert not when(0, ValueError("bug"))
    assert webhook_event_process.options["retry_when"](4, dramatiq.Retry("x"))
    assert not webhook_event_process.options["retry_when"](5, dramatiq.Retry("x"))
    # Pushes schedule their own retries (a store can be down for any length of time).
    assert not push_run.options["retry_when"](0, dramatiq.Retry("x"))


def _fake_dramatiq(tmp_path):
    """A `dramatiq` first on PATH that reports what `manage.py worker` hands it."""
    fake = tmp_path / "dramatiq"
    fake.write_text("#!/bin/sh\necho \"prefetch=$dramatiq_queue_prefetch\"\necho \"argv=$*\"\n")
    fake.chmod(0o755)
    return {**BASE_ENV, "PATH": f"{tmp_path}:{BASE_ENV['PATH']}",
            "REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize(("args", "prefetch"), [
    ((), "2"),  # the default: 2 threads, one message each
    (("--threads", "4"), "4"),
    (("--threads", "1", "--prefetch", "1"), "1"),  # the GPU worker's
    (("--threads", "2", "--prefetch", "3"), "6"),
])
def test_a_worker_process_holds_one_message_per_thread(tmp_path, args, prefetch):
    """Dramatiq's default (2 x threads per queue) let a busy process keep generation jobs it
    could not start, `dispatched` for minutes, while other processes idled."""
    result = subprocess.run(
        [sys.executable, "manage.py", "worker", "--processes", "1", *args], cwd=REPO,
        env=_fake_dramatiq(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"prefetch={prefetch}\n" in result.stdout
    assert "photosync.worker_boot" in result.stdout


@pytest.mark.production
@pytest.mark.django_db(transaction=True)
def test_a_busy_worker_leaves_the_next_job_to_an_idle_one(tmp_path, broker, media_root):
    """Two one-thread workers, two jobs waiting in Redis: the first worker to start takes one
    job, not both, so the second runs at once on the other worker instead of waiting."""
    from dramatiq import Worker
    from PIL import Image

    from photosync.management.commands.worker import queue_prefetch
    from photosync.models import GenerationJob
    from photosync.services.stores import store_connect_local
    from photosync.services.sync import stores_reconcile
    from tests.conftest import PHOTOS, wait_until

    for name in ("one", "two"):
        (tmp_path / "store" / name).mkdir(parents=True)
        Image.open(PHOTOS / "mg01-bk-0.jpg").resize((1600, 1600)).save(
            tmp_path / "store" / name / "watch.jpg")
    store = store_connect_local(path=tmp_path / "store", settings={"variations": 2})
    stores_reconcile()
    assert GenerationJob.objects.filter(store=store, status="dispatched").count() == 2

    workers = []
    try:
        for _ in range(2):
            worker = Worker(broker, queues={"generate-cpu"}, worker_threads=1,
                            worker_timeout=100)
            worker.queue_prefetch = queue_prefetch(1)  # what `manage.py worker` sets
            worker.start()
            workers.append(worker)
            wait_until(lambda n=len(workers): GenerationJob.objects.filter(
                status__in=("running", "succeeded")).count() >= n, 60, "a job to start")
        jobs = list(GenerationJob.objects.order_by("started_at"))
        # The second job started while the first was still running.
        assert jobs[0].finished_at is None or jobs[1].started_at < jobs[0].finished_at
        wait_until(lambda: GenerationJob.objects.filter(status="succeeded").count() == 2, 180,
                   "both jobs to finish")
    finally:
        for worker in workers:
            worker.stop()
