"""Webhook events, every platform: record a verified delivery once, then process it on a
worker.

A request only records and enqueues (`webhook_event_record`, with the fields the platform's
module builds: services.shopify.webhooks, services.woocommerce.webhooks); everything that
may call a store happens in `webhook_event_handle`, on the webhooks queue, through the
`(platform, topic)` handler table. The unique (platform, delivery id) constraint makes a
repeated delivery a no-op, and processing is idempotent (a product's input hash decides), so
syncd may send a recorded event again (services.recovery, once no copy is in flight).

A delivery the platform's module refuses at intake (a Shopify payload naming another shop
than the header) is recorded as ignored, with the reason, and never processed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.errors import IntegrationError, Retryable
from photosync.database import statement_once_retrying_stale
from photosync.models import Platform, Store, WebhookEvent
from photosync.observability import log_context
from photosync.queueing import Work, enqueue
from photosync.services.sending import unsent
from photosync.services.shopify import webhooks as shopify
from photosync.services.sync import Refreshed, Target, product_refresh, products_refresh
from photosync.services.woocommerce import webhooks as woocommerce

log = logging.getLogger(__name__)

Handler = Callable[[WebhookEvent], tuple[str, str]]


class Grouped(NamedTuple):
    """How a platform's product deliveries are drained in groups: the product each asks to
    re-read (or the status it ends in without one), and its status once re-read."""

    target: Callable[[WebhookEvent], Target | tuple[str, str]]
    outcome: Callable[[WebhookEvent, Target, Refreshed], tuple[str, str]]


GROUPED: dict[tuple[str, str], Grouped] = {
    **{(Platform.SHOPIFY, t): Grouped(shopify.product_target, shopify.product_outcome)
       for t in shopify.PRODUCT_TOPICS},
    **{(Platform.WOOCOMMERCE, t): Grouped(woocommerce.product_target,
                                          woocommerce.product_outcome)
       for t in woocommerce.PRODUCT_TOPICS},
}

# A drain pass takes at most GROUP pending product deliveries of one store at a time, and
# goes on with the next group while there are any, for at most PASS_SECONDS (the messages of
# what is left are still queued). A claim outlives a pass that died (SIGKILL) by CLAIM.
GROUP = 100
PASS_SECONDS = 30.0
CLAIM = timedelta(minutes=2)



def _product_one(event: WebhookEvent) -> tuple[str, str]:
    """A product delivery outside a drain (no store recorded on it): the same target and
    outcome as a group's, for one event."""
    grouped = GROUPED[(event.platform, event.topic)]
    target = grouped.target(event)
    if isinstance(target, tuple):
        return target
    job = product_refresh(store_id=target.store_id, remote_id=target.remote_id)
    return grouped.outcome(event, target, Refreshed(job=job))


HANDLERS: dict[tuple[str, str], Handler] = {
    **dict.fromkeys(GROUPED, _product_one),
    **{(Platform.SHOPIFY, topic): h for topic, h in shopify.HANDLERS.items()},
    **{(Platform.WOOCOMMERCE, topic): h for topic, h in woocommerce.HANDLERS.items()},
}


def webhook_event_record(
    *,
    platform: str,
    delivery_id: str,
    topic: str,
    shop_domain: str,
    payload: dict,
    store_id: int | None = None,
    triggered_at: datetime | None = None,
    refused: str = "",
) -> WebhookEvent | None:
    """Record a verified delivery and queue its processing; None when it is a repeat. A
    delivery `refused` (the reason) is recorded as ignored and not processed. Without a
    `store_id` the event belongs to the platform's store of `shop_domain`, if there is one.

    One statement, committed before this returns (autocommit in a request), and the only
    round trip to the database on the Shopify intake path (bench/webhook_intake.py): the
    store is found inside the INSERT, a repeat is `ON CONFLICT DO NOTHING` (no row comes back,
    no IntegrityError, so no savepoint inside a caller's transaction), and the send stamp
    rides on it. The store is read as the statement sees it, never from a cache: a shop
    erased a moment ago gets an event without a store, which processing ignores. The enqueue
    below runs once the row is committed.
    """
    now = timezone.now()
    status = WebhookEvent.Status.IGNORED if refused else WebhookEvent.Status.RECEIVED
    fields = {
        "platform": platform, "delivery_id": delivery_id, "store_id": store_id, "topic": topic,
        "shop_domain": shop_domain, "payload": payload, "triggered_at": triggered_at,
        "status": status, "error": refused, "received_at": now,
        "sent_at": None if refused else now,  # no second write on the hot path
        "processed_at": now if refused else None,
    }
    try:
        row = statement_once_retrying_stale(*_insert_statement(fields))
    except IntegrityError:  # the store named was erased at that very moment
        log.warning("%s webhook %s for %s not recorded: its store is gone", platform,
                    delivery_id, shop_domain)
        return None
    if row is None:  # a repeated delivery
        return None
    event_id, fields["store_id"] = row
    event = WebhookEvent(pk=event_id, **fields)
    if refused:
        log.warning("%s webhook %s (%s) for %s %s", platform, event.pk, topic,
                    shop_domain, refused)
        return event
    enqueue(Work.WEBHOOK_EVENT_PROCESS, event.pk,
            on_failure=unsent(WebhookEvent, event.pk, field="sent_at", stamp=now))
    return event


def _insert_statement(fields: dict) -> tuple[str, list]:
    """`INSERT … ON CONFLICT (platform, delivery_id) DO NOTHING RETURNING id, store_id`, the
    store id looked up by (platform, domain) in the statement when not given, and its
    parameters, prepared by the model's fields as the ORM would. PostgreSQL and SQLite (3.35
    or later) both take it."""
    connection = transaction.get_connection()
    events = WebhookEvent._meta
    params = []
    for name, value in fields.items():
        params.append(events.get_field(name).get_db_prep_save(value, connection))
        if name == "store_id":
            params += [fields["platform"], fields["shop_domain"]]
    key = (connection.vendor, tuple(fields))
    if key not in _INSERT_SQL:
        _INSERT_SQL[key] = _insert_sql(connection, tuple(fields))
    return _INSERT_SQL[key], params


_INSERT_SQL: dict[tuple, str] = {}


def _insert_sql(connection, names: tuple[str, ...]) -> str:
    q = connection.ops.quote_name
    events, stores = WebhookEvent._meta, Store._meta

    def column(meta, name: str) -> str:
        return q(meta.get_field(name).column)

    values = [
        f"COALESCE(%s, (SELECT {q(stores.pk.column)} FROM {q(stores.db_table)} WHERE "
        f"{column(stores, 'platform')} = %s AND {column(stores, 'domain')} = %s))"
        if name == "store_id" else "%s"
        for name in names
    ]
    return (f"INSERT INTO {q(events.db_table)} ({', '.join(column(events, n) for n in names)}) "
            f"VALUES ({', '.join(values)}) ON CONFLICT ({column(events, 'platform')}, "
            f"{column(events, 'delivery_id')}) DO NOTHING "
            f"RETURNING {q(events.pk.column)}, {column(events, 'store')}")


def webhook_event_handle(*, event_id: int) -> str | None:
    """Act on one recorded delivery; return the status it ended in (None: gone or done).

    The failure boundary of every topic: a retryable error propagates (the actor retries; the
    event stays "received" meanwhile, and fails with the store's message once the retries
    are spent: jobs.base.bounded); any other error marks the event failed, with a reason,
    rather than leaving it to be re-sent for ever.
    """
    event = WebhookEvent.objects.filter(pk=event_id).select_related("store").first()
    if event is None or event.status != WebhookEvent.Status.RECEIVED:
        return None
    if (event.platform, event.topic) in GROUPED and event.store_id is not None:
        return webhook_events_drain(event=event)
    handler = HANDLERS.get((event.platform, event.topic), _ignore)
    with log_context(store_id=event.store_id, event_id=event.pk):
        try:
            status, note = handler(event)
        except Retryable:
            raise
        except IntegrationError as exc:
            log.warning("webhook event %s failed: %s", event.pk, exc.message)
            status, note = WebhookEvent.Status.FAILED, exc.message
        except Exception:
            log.exception("webhook event %s failed", event.pk)
            status, note = WebhookEvent.Status.FAILED, "Processing failed unexpectedly."
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=status, error=note, processed_at=timezone.now()
    )
    return status


def webhook_events_drain(*, event: WebhookEvent) -> str | None:
    """Process the store's pending product deliveries in groups, `event` first; return the
    status `event` ended in (None: another pass has it).

    A burst of deliveries (a catalog import) is one message per event; the first pass to
    run takes the event and up to GROUP - 1 others of its store (skip_locked on PostgreSQL; a
    conditional claim on every backend), re-reads their products in one call per platform
    page (services.sync.products_refresh; repeats of one product are read once) and ingests
    them; it goes on with the next group while any is pending. The messages of events it
    took find them done, or claimed, and return: one pass drains what many messages ask.

    A read that fails (throttled past the client's own waits, the store away) releases the
    whole group, pending as it was, and raises: the actor retries, and the retry drains the
    group again. A pass that dies leaves its claim to expire (CLAIM); recovery then re-sends.
    """
    deadline = time.monotonic() + PASS_SECONDS
    status = None  # stays None when another pass holds the event
    first = True
    while first or time.monotonic() < deadline:
        group = _claim(event=event, own=first)
        first = False
        if not group:
            break
        ended = _group_process(group)
        status = ended.get(event.pk, status)
    return status


def _claim(*, event: WebhookEvent, own: bool) -> list[WebhookEvent]:
    """Claim up to GROUP pending product deliveries of the event's store (`own`: the event
    itself among them, if it is free), oldest first. A claim is taken with one conditional
    UPDATE, so two passes never hold one event, SQLite included."""
    now = timezone.now()
    token = uuid.uuid4().hex
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    pending = WebhookEvent.objects.filter(
        free, status=WebhookEvent.Status.RECEIVED, platform=event.platform,
        store_id=event.store_id,
        topic__in=[t for p, t in GROUPED if p == event.platform])
    with transaction.atomic():
        # Every row is locked with skip_locked before the UPDATE touches it, the event's own
        # included: a pass never waits on a row another pass holds, so two passes cannot
        # deadlock (each holding a row the other's UPDATE wanted); a held row is just left.
        ids = (list(pending.filter(pk=event.pk).select_for_update(skip_locked=True)
                    .values_list("pk", flat=True)) if own else [])
        ids += list(pending.exclude(pk=event.pk).select_for_update(skip_locked=True)
                    .order_by("received_at", "pk").values_list("pk", flat=True)[:GROUP - len(ids)])
        WebhookEvent.objects.filter(free, pk__in=ids, status=WebhookEvent.Status.RECEIVED
                                    ).update(claimed_by=token, claimed_until=now + CLAIM)
    return list(WebhookEvent.objects.filter(claimed_by=token, status=WebhookEvent.Status.RECEIVED)
                .select_related("store").order_by("received_at", "pk"))


def _group_process(group: list[WebhookEvent]) -> dict[int, str]:
    """Re-read and ingest one claimed group; every event ends processed, ignored or failed,
    or (a failed read) all are released and the error raised."""
    ended: dict[int, tuple[str, str]] = {}
    targets: dict[int, Target] = {}
    for event in group:
        try:
            target = GROUPED[(event.platform, event.topic)].target(event)
        except Exception:
            log.exception("webhook event %s failed", event.pk)
            target = (WebhookEvent.Status.FAILED, "Processing failed unexpectedly.")
        if isinstance(target, tuple):
            ended[event.pk] = target
        else:
            targets[event.pk] = target
    by_store: dict[int, list[str]] = {}
    for target in targets.values():
        by_store.setdefault(target.store_id, []).append(target.remote_id)
    refreshed: dict[tuple[int, str], Refreshed] = {}
    try:
        for store_id, remote_ids in by_store.items():
            with log_context(store_id=store_id):
                for remote_id, result in products_refresh(store_id=store_id,
                                                          remote_ids=remote_ids).items():
                    refreshed[(store_id, remote_id)] = result
    except Retryable:
        _release(group)
        raise
    except IntegrationError as exc:  # the store refused the read: every read of it fails
        log.warning("webhook events %s failed: %s", [e.pk for e in group], exc.message)
        for pk in targets:
            ended[pk] = (WebhookEvent.Status.FAILED, exc.message)
        targets = {}
    except Exception:
        _release(group)
        raise
    for event in group:
        target = targets.get(event.pk)
        if target is None:
            continue
        result = refreshed.get((target.store_id, target.remote_id), Refreshed())
        if result.error:
            ended[event.pk] = (WebhookEvent.Status.FAILED, result.error)
        else:
            ended[event.pk] = GROUPED[(event.platform, event.topic)].outcome(event, target,
                                                                              result)
    now = timezone.now()
    for status, note in set(ended.values()):
        pks = [pk for pk, value in ended.items() if value == (status, note)]
        WebhookEvent.objects.filter(pk__in=pks).update(
            status=status, error=note, processed_at=now, claimed_by=None, claimed_until=None)
    return {pk: status for pk, (status, _) in ended.items()}


def _release(group: list[WebhookEvent]) -> None:
    WebhookEvent.objects.filter(pk__in=[e.pk for e in group],
                                claimed_by=group[0].claimed_by if group else None).update(
        claimed_by=None, claimed_until=None)


def webhook_event_fail(*, event_id: int, reason: str) -> None:
    """End an event still waiting to be processed as failed, with the reason (/status shows
    it): the actor's boundary gave up on it."""
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.RECEIVED).update(
        status=WebhookEvent.Status.FAILED, error=reason[:2000], processed_at=timezone.now()
    )


def _ignore(event: WebhookEvent) -> tuple[str, str]:
    return WebhookEvent.Status.IGNORED, f"topic {event.topic} is not handled"
