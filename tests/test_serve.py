"""`manage.py serve --demo`, the README's first command, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.conftest import PRODUCTION, REPO
from tests.conftest import wait_until as _wait
from tests.test_health import _free_port
from tests.test_settings import BASE_ENV

pytestmark = pytest.mark.skipif(PRODUCTION, reason="one-machine mode runs on the embedded defaults")


def test_serve_demo_generates_and_pushes_approved_images(tmp_path):
    port = _free_port()
    env = {**BASE_ENV, "PHOTOSYNC_DATA_DIR": str(tmp_path), "PHOTOSYNC_ADMIN_USER": "admin",
           "PHOTOSYNC_ADMIN_PASSWORD": "demo-pass", "PHOTOSYNC_SYNC_INTERVAL": "1",
           "PHOTOSYNC_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--demo", "--demo-products", "2",
         f"127.0.0.1:{port}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def ready():
            try:
                return requests.get(base + "/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read()
                return False

        _wait(ready, 60, "/readyz")
        s = requests.Session()
        s.get(base + "/login/")
        s.post(base + "/login/", data={"username": "admin", "password": "demo-pass",
                                      "csrfmiddlewaretoken": s.cookies["csrftoken"]})

        def waiting():
            body = s.get(base + "/api/v1/products/?status=waiting").json()
            return body["results"] if body["count"] == 2 else None

        products = _wait(waiting, 90, "two demo products with images waiting")
        detail = s.get(f"{base}/api/v1/products/{products[0]['id']}/").json()
        framed = next(g for g in detail["generated"] if g["kind"] == "framed")
        response = s.post(f"{base}/api/v1/images/{framed['id']}/approve",
                          json={"alt_text": "Demo alt"},
                          headers={"X-CSRFToken": s.cookies["csrftoken"], "Referer": base})
        assert response.status_code == 202, response.text

        def pushed():
            body = s.get(f"{base}/api/v1/products/{products[0]['id']}/").json()
            mine = [g for g in body["generated"] if g["id"] == framed["id"]]
            return mine[0]["status"] == "pushed"

        _wait(pushed, 30, "the approved image to be pushed")
        approved = tmp_path / "demo-store" / detail["remote_id"] / "approved"
        manifest = json.loads((approved / "manifest.json").read_text())
        assert [e["alt"] for e in manifest["images"]] == ["Demo alt"]
        assert (approved / manifest["images"][0]["file"]).stat().st_size > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, output
    assert f"PhotoSync is serving on {base}/" in output
    assert "demo-pass" not in output  # the password is never printed
    assert os.path.exists(tmp_path / "photosync.sqlite3")
