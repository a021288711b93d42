"""/metrics, /status and what reaches the logs."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from photosync.models import GenerationJob, Product, Store, WorkerHeartbeat
from photosync.observability import RedactSecrets, log_context


@pytest.fixture
def public_metrics(settings):
    settings.PHOTOSYNC_METRICS_PUBLIC = True


@pytest.mark.django_db
def test_metrics_expose_queue_depth_jobs_and_gpu_heartbeat(client, public_metrics):
    store = Store.objects.create(platform="local", domain="/s", name="s")
    product = Product.objects.create(store=store, remote_id="p")
    GenerationJob.objects.create(store=store, product=product, input_hash="h", dedupe_key="k",
                                 status="held", hold_reason="monthly_limit")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'photosync_queue_depth{queue="generate-gpu"} 0.0' in text
    assert f'photosync_jobs{{status="held",store="{store.pk}"}} 1.0' in text
    assert "photosync_gpu_heartbeat_age_seconds +Inf" in text
    assert "# TYPE photosync_webhook_ack_seconds histogram" in text
    WorkerHeartbeat.objects.create(name="h:1", kind="gpu", last_seen=timezone.now())
    text = client.get("/metrics").content.decode()
    age = [ln for ln in text.splitlines() if ln.startswith("photosync_gpu_heartbeat_age_seconds ")]
    assert 0 <= float(age[0].split()[1]) < 5


@pytest.mark.django_db
def test_metrics_token_is_enforced_when_set(client, settings):
    settings.PHOTOSYNC_METRICS_TOKEN = "scrape-token-123"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert b"photosync_" not in refused.content
    wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-12"})
    assert wrong.status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert ok.status_code == 200 and b"photosync_queue_depth" in ok.content
    settings.PHOTOSYNC_METRICS_PUBLIC = True  # a token still wins over "public"
    assert client.get("/metrics").status_code == 401


@pytest.mark.django_db
def test_metrics_are_not_public_by_default(client, settings, operator):
    """Issue 13, finding 7: without a token nobody reads per-store job counts, not even a
    signed-in operator (the scraper is not one), unless the operator opted in."""
    Store.objects.create(platform="local", domain="/s", name="s")
    assert settings.PHOTOSYNC_METRICS_TOKEN == "" and settings.PHOTOSYNC_METRICS_PUBLIC is False
    hidden = client.get("/metrics")
    assert hidden.status_code == 404 and b"photosync_" not in hidden.content
    client.force_login(operator)
    assert client.get("/metrics").status_code == 404
    settings.PHOTOSYNC_METRICS_PUBLIC = True
    shown = client.get("/metrics")
    assert shown.status_code == 200 and b"photosync_jobs" in shown.content


@pytest.mark.django_db
def test_status_page_is_for_operators_and_shows_workers(client, operator):
    assert client.get("/status").status_code == 302
    WorkerHeartbeat.objects.create(name="gpu-box:42", kind="gpu", queues=["generate-gpu"],
                                   last_seen=timezone.now())
    store = Store.objects.create(platform="local", domain="/s", name="s")
    product = Product.objects.create(store=store, remote_id="p")
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key="k", status="succeeded")
    GenerationJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(seconds=12.5), finished_at=timezone.now())
    client.force_login(operator)
    page = client.get("/status").content.decode()
    assert "p50 12.5 s · p95 12.5 s" in page
    assert "gpu-box:42" in page
    assert "alive" in page
    assert "generate-cpu" in page


def test_secrets_never_reach_a_log_line(monkeypatch, caplog):
    monkeypatch.setenv("SHOPIFY_API_SECRET", "shpss_very_secret_value")
    logger = logging.getLogger("photosync.test")
    redact = RedactSecrets()
    logger.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="photosync.test"):
            logger.info("calling with %s", "shpss_very_secret_value")
            try:
                raise ValueError("bad secret shpss_very_secret_value")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(redact)
    text = caplog.text
    assert "shpss_very_secret_value" not in text
    assert text.count("[redacted]") >= 2


def test_log_lines_carry_store_product_and_job_ids(caplog):
    from photosync.observability import ContextFilter

    logger = logging.getLogger("photosync.test.ctx")
    logger.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO, logger="photosync.test.ctx"):
        with log_context(store_id=3, product_id=7, job_id=11):
            logger.info("working")
        logger.info("outside")
    inside, outside = caplog.records
    assert (inside.store_id, inside.product_id, inside.job_id) == (3, 7, 11)
    assert not hasattr(outside, "job_id")


@pytest.mark.django_db
def test_webhook_answers_are_timed(client, public_metrics):
    from photosync.observability import WEBHOOK_ACK

    before = WEBHOOK_ACK.labels(platform="shopify")._sum.get()
    count = [m for m in WEBHOOK_ACK.collect()[0].samples
             if m.name.endswith("_count") and m.labels["platform"] == "shopify"]
    assert client.get("/webhooks/shopify").status_code == 405
    after = [m for m in WEBHOOK_ACK.collect()[0].samples
             if m.name.endswith("_count") and m.labels["platform"] == "shopify"]
    assert after[0].value == (count[0].value if count else 0) + 1
    assert WEBHOOK_ACK.labels(platform="shopify")._sum.get() > before
    assert 'photosync_webhook_ack_seconds_count{platform="shopify"}' in (
        client.get("/metrics").content.decode()
    )
