"""Recovery sends lost work again exactly once: never while a copy is in flight (issue 13,
finding 9), at once when the send failed or the broker lost its messages, and after the
actor's whole retry window otherwise. Runs on both passes (Redis in the production one)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from photosync import queueing
from photosync.models import GenerationJob, Platform, Product, Push, Store, WebhookEvent
from photosync.queueing import Queues, Work, queue_depth, work_retry_window
from photosync.services.recovery import work_recover
from photosync.services.scheduling import job_send
from photosync.services.webhook_events import webhook_event_record
from tests.review_data import seed_product

pytestmark = pytest.mark.django_db


def _record_events(count: int, capture) -> list[WebhookEvent]:
    with capture(execute=True):
        return [
            webhook_event_record(platform=Platform.SHOPIFY, delivery_id=f"delivery-{i}",
                                 topic="products/update", shop_domain="alpha.myshopify.com",
                                 payload={"id": str(i)})
            for i in range(count)
        ]


def _recover(now, capture) -> dict[str, int]:
    with capture(execute=True):
        return work_recover(now=now)


def _broker_loses_everything(broker, monkeypatch) -> None:
    """What a Redis restart without persistence (or a restarted `serve`) does."""
    broker.flush_all()
    if queueing.settings.REDIS_URL:
        broker.client.delete(f"{queueing.settings.PHOTOSYNC_QUEUE_NAMESPACE}:"
                             f"{queueing.EPOCH_KEY}")
    else:
        monkeypatch.setattr(queueing, "_stub_epoch", None)


def test_five_events_stay_five_messages_while_their_copies_are_in_flight(
    broker, django_capture_on_commit_callbacks
):
    """The review's run: 5 events became 26 queued messages, recovery re-sending every
    received event older than 60 s on each pass while the first copies were still waiting."""
    capture = django_capture_on_commit_callbacks
    events = _record_events(5, capture)
    assert queue_depth(Queues.WEBHOOKS) == 5
    start = timezone.now()
    for minute in range(1, 6):  # five syncd passes, a minute apart, nobody consuming
        _recover(start + timedelta(seconds=61 * minute), capture)
        assert queue_depth(Queues.WEBHOOKS) == 5, f"after pass {minute}"
    assert WebhookEvent.objects.filter(status="received").count() == 5

    # Once no copy can be in flight any more (the actor's every attempt and retry delay),
    # each event is sent once more, and only once.
    window = work_retry_window(Work.WEBHOOK_EVENT_PROCESS)
    late = timezone.now() + window + timedelta(seconds=1)
    assert _recover(late, capture)["events"] == 5
    assert _recover(late + timedelta(seconds=61), capture)["events"] == 0
    assert queue_depth(Queues.WEBHOOKS) == 10
    assert {e.pk for e in events} == set(
        WebhookEvent.objects.filter(sent_at__gte=late).values_list("pk", flat=True))


def test_the_retry_window_is_the_house_actors_own(settings):
    from photosync.jobs.base import MAX_RETRY_DELAY
    from photosync.jobs.webhooks import TIME_LIMIT, webhook_event_process
    from photosync.queueing import QUEUE_WAIT

    retries = webhook_event_process.options["max_retries"]
    assert retries == 5
    assert work_retry_window(Work.WEBHOOK_EVENT_PROCESS) == (
        QUEUE_WAIT + (retries + 1) * TIME_LIMIT + retries * MAX_RETRY_DELAY)
    for work in Work.ALL:  # every kind of work has one, read from its actor
        assert work_retry_window(work) > timedelta(0)
    assert not hasattr(settings, "PHOTOSYNC_RECOVER_EVENTS_AFTER")
    assert not hasattr(settings, "PHOTOSYNC_REDISPATCH_AFTER")


def test_a_failed_send_is_sent_again_at_the_next_pass(broker, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    actor = broker.get_actor(Work.WEBHOOK_EVENT_PROCESS)

    def broker_down(*args, **kwargs):
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(actor, "send_with_options", broker_down)
    (event,) = _record_events(1, capture)
    event.refresh_from_db()
    assert event.sent_at is None  # the failed send says nothing is in flight
    monkeypatch.undo()
    assert _recover(timezone.now(), capture)["events"] == 1
    assert queue_depth(Queues.WEBHOOKS) == 1
    event.refresh_from_db()
    assert event.sent_at is not None


def test_messages_the_broker_lost_are_sent_again_at_once(broker, monkeypatch, tmp_path,
                                                         django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    store = Store.objects.create(platform=Platform.LOCAL, domain=str(tmp_path))
    product = Product.objects.create(store=store, remote_id="p1")
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key="lost-job")
    with capture(execute=True):
        job_send(job=job, now=timezone.now())
    _record_events(3, capture)
    assert _recover(timezone.now() + timedelta(seconds=61), capture) == {
        "jobs": 0, "pushes": 0, "events": 0}

    _broker_loses_everything(broker, monkeypatch)
    assert queue_depth(Queues.WEBHOOKS) == queue_depth(Queues.GENERATE_CPU) == 0
    assert _recover(timezone.now(), capture) == {"jobs": 1, "pushes": 0, "events": 3}
    assert queue_depth(Queues.WEBHOOKS) == 3
    assert queue_depth(Queues.GENERATE_CPU) == 1
    assert _recover(timezone.now() + timedelta(seconds=61), capture)["events"] == 0


def test_a_dispatched_job_and_a_queued_push_are_not_doubled_while_in_flight(
    broker, tmp_path, media_root, django_capture_on_commit_callbacks
):
    """A job prefetched by a busy worker, or waiting for a retry, is still in flight: the old
    rule re-sent it after 600 s (PHOTOSYNC_REDISPATCH_AFTER) though its copy was waiting."""
    from photosync.services.review import image_approve

    capture = django_capture_on_commit_callbacks
    store = Store.objects.create(platform=Platform.LOCAL, domain=str(tmp_path))
    product = seed_product(store, title="Watch")
    waiting = GenerationJob.objects.create(store=store, product=product, input_hash="h2",
                                           dedupe_key="waiting")
    now = timezone.now()
    with capture(execute=True):
        job_send(job=waiting, now=now)
        push = image_approve(image=product.generated.first())
    assert (queue_depth(Queues.GENERATE_CPU), queue_depth(Queues.PUSH)) == (1, 1)
    for seconds in (61, 601, 1801):
        _recover(now + timedelta(seconds=seconds), capture)
        assert (queue_depth(Queues.GENERATE_CPU), queue_depth(Queues.PUSH)) == (1, 1), seconds

    job_late = now + work_retry_window(Work.GENERATION_RUN) + timedelta(seconds=1)
    push_late = now + work_retry_window(Work.PUSH_RUN) + timedelta(seconds=1)
    sent = _recover(max(job_late, push_late), capture)
    assert (sent["jobs"], sent["pushes"]) == (1, 1)
    assert (queue_depth(Queues.GENERATE_CPU), queue_depth(Queues.PUSH)) == (2, 2)
    push.refresh_from_db()
    assert push.status == Push.Status.QUEUED


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_store_stays_unreachable_fails_with_the_reason_on_status(
    broker, worker, monkeypatch, client, operator, shopify_settings,
    django_capture_on_commit_callbacks,
):
    """Retries spent: the event ends failed with the store's message (the Shopify actor had
    no such end: it stayed received, to be re-sent for ever)."""
    from photosync.jobs import base
    from photosync.services.shopify.auth import shopify_store_connect
    from tests.conftest import drain

    monkeypatch.setattr(base, "RETRY_DELAY", timedelta(milliseconds=10))
    shopify_settings.SHOPIFY_API_ORIGIN = f"http://127.0.0.1:{_closed_port()}"
    shopify_settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # a closed loopback port
    shop = "alpha-goods.myshopify.com"
    shopify_store_connect(shop=shop, credentials={
        "access_token": "shpat_expired", "refresh_token": "shprt_x", "expires_at": 1.0})
    event = webhook_event_record(
        platform=Platform.SHOPIFY, delivery_id="unreachable", topic="products/update",
        shop_domain=shop, payload={"admin_graphql_api_id": "gid://shopify/Product/1"},
        store_id=Store.objects.get(domain=shop).pk)
    drain(broker, worker)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert "could not be reached" in event.error
    assert "gave up after 6 attempts" in event.error
    assert _recover(timezone.now() + timedelta(days=1), django_capture_on_commit_callbacks) == {
        "jobs": 0, "pushes": 0, "events": 0}

    client.force_login(operator)
    page = client.get("/status").content.decode()
    assert "Failed webhook events" in page
    assert "products/update" in page and "gave up after 6 attempts" in page


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_store_stays_unreachable_fails_instead_of_staying_dispatched(
    broker, worker, monkeypatch, shopify_settings
):
    """Its retries spent, a released job stayed `dispatched` with no message behind it, for
    recovery to find much later; now it fails with the store's reason."""
    from photosync.jobs import base
    from photosync.services.shopify.auth import shopify_store_connect
    from tests.conftest import drain

    monkeypatch.setattr(base, "RETRY_DELAY", timedelta(milliseconds=10))
    shopify_settings.SHOPIFY_API_ORIGIN = f"http://127.0.0.1:{_closed_port()}"
    shopify_settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # a closed loopback port
    store = shopify_store_connect(shop="alpha-goods.myshopify.com", credentials={
        "access_token": "shpat_expired", "refresh_token": "shprt_x", "expires_at": 1.0})
    product = Product.objects.create(store=store, remote_id="gid://shopify/Product/1")
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key="unreachable")
    job_send(job=job, now=timezone.now())
    drain(broker, worker)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.FAILED
    assert job.error.startswith("Image generation stopped. Shopify could not be reached")
    assert "(gave up after 4 attempts). Use Regenerate to try again." in job.error
    assert job.attempts == 4


@pytest.fixture
def shopify_settings(settings):
    from tests.shopify.conftest import API_KEY, SECRET

    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_VERSION = "2026-10"
    return settings
