"""The GPU worker runs one process, one thread, prefetch 1; KEDA watches what the code writes.

The Redis list the ScaledObject watches is checked against a real Dramatiq RedisBroker (the key
it actually pushes to), and the PostgreSQL query against real GenerationJob rows.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from tests.conftest import REPO
from tests.deploy.conftest import COMPOSE, by_kind, pod_spec
from tests.test_settings import BASE_ENV

GPU_ARGS = ["--queues", "generate-gpu", "--processes", "1", "--threads", "1", "--prefetch", "1"]


def scaled_object(rendered) -> dict:
    (scaled,) = by_kind(rendered, "ScaledObject").values()
    return scaled


def trigger(rendered, kind: str) -> dict:
    (found,) = [t for t in scaled_object(rendered)["spec"]["triggers"] if t["type"] == kind]
    return found


def test_the_worker_command_accepts_the_gpu_options():
    """The entrypoint's gpu-worker line, parsed by the real management command."""
    from photosync.management.commands.worker import Command

    options = Command().create_parser("manage.py", "worker").parse_args(GPU_ARGS)
    assert (options.queues, options.processes, options.threads, options.prefetch) == (
        "generate-gpu", 1, 1, 1
    )
    entrypoint = (REPO / "deploy" / "entrypoint.sh").read_text()
    assert "exec python manage.py worker " + " ".join(GPU_ARGS) + "\n" in entrypoint


def test_every_gpu_worker_definition_uses_that_command(rendered):
    import yaml

    (container,) = pod_spec(by_kind(rendered, "Deployment")["gpu-worker"])["containers"]
    assert container["args"] == ["gpu-worker"]
    assert "command" not in container  # the image's entrypoint, not an override
    assert yaml.safe_load(COMPOSE.read_text())["services"]["gpu-worker"]["command"] == [
        "gpu-worker"
    ]


def test_the_default_queue_namespace_is_the_one_keda_watches(rendered):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.PHOTOSYNC_QUEUE_NAMESPACE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=BASE_ENV, capture_output=True, text=True
    )
    default = result.stdout.strip()
    assert default == "photosync", result.stderr
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    namespace = config.get("PHOTOSYNC_QUEUE_NAMESPACE", default)
    assert trigger(rendered, "redis")["metadata"]["listName"] == f"{namespace}:generate-gpu"


def test_scale_to_zero_on_the_gpu_worker(rendered):
    spec = scaled_object(rendered)["spec"]
    assert spec["minReplicaCount"] == 0
    assert spec["scaleTargetRef"]["name"] == "gpu-worker"
    assert "gpu-worker" in by_kind(rendered, "Deployment")
    assert trigger(rendered, "redis")["metadata"]["activationListLength"] == "0"
    config = by_kind(rendered, "ConfigMap")["photosync-config"]["data"]
    # With no GPU worker alive, GPU work must wait in the database (which wakes KEDA's
    # postgresql trigger), not move to the CPU path.
    assert config["PHOTOSYNC_GPU_FALLBACK"] == "hold"
    assert int(config["PHOTOSYNC_DISPATCH_GPU_IN_FLIGHT"]) >= 2 * spec["maxReplicaCount"]
    backlog = trigger(rendered, "postgresql")["metadata"]
    (container,) = pod_spec(by_kind(rendered, "Deployment")["gpu-worker"])["containers"]
    # connectionFromEnv reads the target container's environment: DATABASE_URL via secretRef.
    assert backlog["connectionFromEnv"] == "DATABASE_URL"
    assert any("secretRef" in source for source in container["envFrom"])


@pytest.mark.production
def test_dramatiq_pushes_gpu_work_to_the_list_keda_watches(rendered):
    """Send a message through a real RedisBroker and find it under the watched key."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    listed = trigger(rendered, "redis")["metadata"]["listName"]
    namespace, _, queue = listed.rpartition(":")
    assert queue == "generate-gpu"
    namespace = f"{namespace}-keda-check-{uuid.uuid4().hex[:8]}"  # never touch real queues
    broker = RedisBroker(url=settings.REDIS_URL, namespace=namespace)
    try:
        actor = dramatiq.actor(lambda: None, actor_name="probe", queue_name=queue, broker=broker)
        actor.send()
        key = f"{namespace}:{queue}"
        assert broker.client.type(key) == b"list"  # KEDA's Redis scaler reads LLEN
        assert broker.client.llen(key) == 1
    finally:
        broker.flush_all()
        broker.close()


@pytest.mark.django_db
def test_the_backlog_query_counts_gpu_work_that_waits_or_runs(rendered):
    from django.db import connection

    from photosync.models import GenerationJob, Product, Store
    from photosync.services.scheduling import HOLD_GPU, HOLD_LIMIT

    query = trigger(rendered, "postgresql")["metadata"]["query"]
    assert GenerationJob._meta.db_table in query
    store = Store.objects.create(platform="local", domain=f"/tmp/{uuid.uuid4().hex}")
    product = Product.objects.create(store=store, remote_id="p")
    S = GenerationJob.Status
    rows = [
        ("generate-gpu", S.QUEUED, ""),
        ("generate-gpu", S.DISPATCHED, ""),
        ("generate-gpu", S.RUNNING, ""),
        ("generate-gpu", S.HELD, HOLD_GPU),
        ("generate-gpu", S.HELD, HOLD_LIMIT),  # over the monthly limit: a GPU would not help
        ("generate-gpu", S.SUCCEEDED, ""),
        ("generate-gpu", S.FAILED, ""),
        ("generate-cpu", S.QUEUED, ""),
        ("generate-cpu", S.RUNNING, ""),
    ]
    for i, (queue, status, hold) in enumerate(rows):
        GenerationJob.objects.create(
            store=store, product=product, input_hash="h", dedupe_key=f"k{i}", queue=queue,
            status=status, hold_reason=hold,
        )
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchone()[0] == 4


def test_keda_statuses_are_real_job_statuses(rendered):
    import re

    from photosync.models import GenerationJob
    from photosync.services.scheduling import HOLD_GPU

    query = trigger(rendered, "postgresql")["metadata"]["query"]
    quoted = set(re.findall(r"'([^']*)'", query))
    assert quoted - {"generate-gpu", HOLD_GPU} <= set(GenerationJob.Status.values)
