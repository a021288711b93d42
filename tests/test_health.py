import shutil
import socket
import subprocess
import time

import pytest
from dramatiq.brokers.redis import RedisBroker

from photosync import queueing


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405


def test_readyz_checks_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_readyz_names_a_stopped_redis(client, db, settings, monkeypatch, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        broker = RedisBroker(url=url, namespace="readyz-test")
        for _ in range(50):
            try:
                broker.client.ping()
                break
            except Exception:
                time.sleep(0.1)
        settings.REDIS_URL = url
        monkeypatch.setattr(queueing, "_broker", broker)
        assert client.get("/readyz").status_code == 200
    finally:
        server.terminate()
        server.wait(10)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable: ")
