"""A store that is down for longer than any retry budget: the push waits for it (saying since
when), and goes live within two minutes of the store's return.

Before: ten retries five seconds apart (~50 s), then nothing until syncd's 600 s redispatch.
"""

from __future__ import annotations

import time

import pytest
from django.test import Client
from dramatiq import Worker

from bench.seed import product_outputs_seed
from emulators.woocommerce import WooEmulator
from photosync.models import Push
from photosync.services.pushes import store_retry_delay
from tests.conftest import wait_until
from tests.integrations.conftest import WooHarness

OUTAGE_S = 60  # longer than the old budget of 10 retries × 5 s


@pytest.mark.django_db(transaction=True)
def test_a_push_waits_out_a_long_outage_and_lands_within_two_minutes_of_the_return(
        live_server, settings, media_root, broker, operator):
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    settings.PHOTOSYNC_ADAPTER_OPTIONS = {"woocommerce": {
        "timeout": 5.0, "push_timeout": 120.0, "allowed_networks": ["127.0.0.0/8"]}}
    woo = WooEmulator()
    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    try:
        harness = WooHarness(woo)
        remote_id, originals = harness.product("Outage Watch")
        (image,) = product_outputs_seed(harness.store, remote_id, count=1)
        woo.wait_deliveries()
        woo.outage = True
        down_at = time.monotonic()
        worker.start()
        client = Client()
        client.force_login(operator)
        response = client.post(f"/api/v1/images/{image}/approve", {"alt_text": "Outage"},
                               content_type="application/json")
        assert response.status_code == 202

        def waiting():
            rows = client.get(f"/api/v1/pushes/?product={response.json()['product']}").json()
            return rows["results"][0] if rows["results"][0]["waiting_since"] else None

        shown = wait_until(waiting, 20, "the push to say it is waiting for the store")
        assert shown["status"] == "queued" and shown["error"]
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert Push.objects.get(image_id=image).status == "queued"  # still trying
        attempts = Push.objects.get(image_id=image).attempts
        assert attempts > 3

        woo.outage = False
        back_at = time.monotonic()
        wait_until(lambda: Push.objects.get(image_id=image).status == "live", 120,
                   "the push to go live after the store came back")
        print(f"live {time.monotonic() - back_at:.1f} s after a {OUTAGE_S} s outage, "
              f"{Push.objects.get(image_id=image).attempts} attempts")
        push = Push.objects.get(image_id=image)
        assert (push.error, push.waiting_since) == ("", None)
        assert harness.gallery(remote_id) == [*originals, push.remote_id]
    finally:
        worker.stop()
        woo.close()


def test_the_wait_between_tries_grows_with_the_outage_up_to_the_cap(settings):
    settings.PHOTOSYNC_PUSH_RETRY_MAX_DELAY = 60.0
    assert 0.8 <= store_retry_delay(down_for=0.0, retry_after=None) <= 1.0
    assert 8.0 <= store_retry_delay(down_for=20.0, retry_after=None) <= 10.0
    assert 48.0 <= store_retry_delay(down_for=3600.0, retry_after=None) <= 60.0  # capped
    assert store_retry_delay(down_for=20.0, retry_after=300.0) == 300.0  # the store's ask
    assert store_retry_delay(down_for=None, retry_after=2.0) == 2.0  # throttled, not down
