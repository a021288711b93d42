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
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.errors import IntegrationError, Retryable
from photosync.database import statement_once_retrying_stale
from photosync.models import Platform, Store, WebhookEvent
from photosync.observability import log_context
from photosync.queueing import Work, enqueue
from photosync.services.sending import unsent
from photosync.services.shopify import webhooks as shopify
from photosync.services.woocommerce import webhooks as woocommerce

log = logging.getLogger(__name__)

Handler = Callable[[WebhookEvent], tuple[str, str]]

HANDLERS: dict[tuple[str, str], Handler] = {
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


def webhook_event_fail(*, event_id: int, reason: str) -> None:
    """End an event still waiting to be processed as failed, with the reason (/status shows
    it): the actor's boundary gave up on it."""
    WebhookEvent.objects.filter(pk=event_id, status=WebhookEvent.Status.RECEIVED).update(
        status=WebhookEvent.Status.FAILED, error=reason[:2000], processed_at=timezone.now()
    )


def _ignore(event: WebhookEvent) -> tuple[str, str]:
    return WebhookEvent.Status.IGNORED, f"topic {event.topic} is not handled"
