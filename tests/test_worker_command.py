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

    when = retry_up_to(3)
    assert when(0, dramatiq.Retry("later", delay=1000))
    assert when(2, Throttled("slow down", retry_after=1))
    assert not when(3, dramatiq.Retry("later", delay=1000))
    assert not when(0, Invalid("bad request"))
    assert not when(0, ValueError("bug"))
    assert push_run.options["retry_when"](9, dramatiq.Retry("x"))
    assert not push_run.options["retry_when"](10, dramatiq.Retry("x"))
