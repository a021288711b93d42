"""The broker, built from settings, the names of the work it carries, and the one way to
enqueue work.

Production: `REDIS_URL` → Dramatiq's Redis broker shared by web, workers and syncd.
Embedded default: Dramatiq's stub broker, consumed by worker threads that `manage.py serve`
starts in the same process.

Work is sent by name (`enqueue(Work.PUSH_RUN, push.pk)`) through the broker's actor registry,
so services never import the actors (photosync.jobs) that call them back; the system check in
photosync.checks resolves every name at start-up.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from photosync.services.workers import worker_beat, worker_gone

log = logging.getLogger(__name__)

# This process's name in worker heartbeats and on the jobs it runs.
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


class Queues:
    WEBHOOKS = "webhooks"  # webhook events and product refreshes
    GENERATE_CPU = "generate-cpu"
    GENERATE_GPU = "generate-gpu"
    PUSH = "push"
    SYNC = "sync"  # reconciliation pages and sweeps

    ALL = (WEBHOOKS, GENERATE_CPU, GENERATE_GPU, PUSH, SYNC)
    CPU = (WEBHOOKS, GENERATE_CPU, PUSH, SYNC)


class Work:
    """The stable name of each kind of work: the name of the actor (photosync.jobs) that does
    it, and what a message on the broker says. Renaming one strands messages already queued."""

    GENERATION_RUN = "generation_run"  # one generation job, CPU path
    GENERATION_RUN_GPU = "generation_run_gpu"  # one generation job that needs a model
    PUSH_RUN = "push_run"  # send one outbox row to its store
    PUSH_POLL = "push_poll"  # ask the store whether a push it is processing went live
    WEBHOOK_EVENT_PROCESS = "webhook_event_process"  # act on one recorded delivery
    SHOPIFY_BULK_IMPORT = "shopify_bulk_import"  # stream a finished bulk operation
    WOOCOMMERCE_CONNECT_VERIFY = "woocommerce_connect_verify"  # check a wc-auth key
    WOOCOMMERCE_WEBHOOKS_CHECK = "woocommerce_webhooks_check"  # repair one store's webhooks

    ALL = (
        GENERATION_RUN,
        GENERATION_RUN_GPU,
        PUSH_RUN,
        PUSH_POLL,
        WEBHOOK_EVENT_PROCESS,
        SHOPIFY_BULK_IMPORT,
        WOOCOMMERCE_CONNECT_VERIFY,
        WOOCOMMERCE_WEBHOOKS_CHECK,
    )


_GENERATION_WORK = {Queues.GENERATE_CPU: Work.GENERATION_RUN,
                    Queues.GENERATE_GPU: Work.GENERATION_RUN_GPU}


def generation_work(queue: str) -> str:
    """The work that runs a generation job kept for `queue` (GenerationJob.queue)."""
    return _GENERATION_WORK[queue]


class DjangoConnections(Middleware):
    """Give each message a fresh, healthy database connection, as a web request gets."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        close_old_connections()

    def after_process_message(self, broker: Any, message: Any, *, result=None, exception=None):
        close_old_connections()

    after_skip_message = after_process_message

    def before_worker_thread_shutdown(self, broker: Any, thread: Any) -> None:
        connections.close_all()  # this thread's connections; nobody else will close them


class Heartbeat(Middleware):
    """Report this worker process as alive, and whether it serves the GPU queue."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        queues = sorted(worker.consumer_whitelist or broker.get_declared_queues())
        kind = "gpu" if Queues.GENERATE_GPU in queues else "cpu"
        self._stop.clear()
        thread = threading.Thread(
            target=self._beat, args=(kind, queues), name="heartbeat", daemon=True
        )
        thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()
        try:
            worker_gone(name=WORKER_NAME)
        except Exception:
            log.warning("could not remove the heartbeat of %s", WORKER_NAME)
        connections.close_all()

    def _beat(self, kind: str, queues: list[str]) -> None:
        while not self._stop.is_set():
            try:
                worker_beat(name=WORKER_NAME, kind=kind, queues=queues)
            except Exception:  # the database may be briefly away; keep trying
                log.warning("heartbeat of %s failed", WORKER_NAME, exc_info=True)
            finally:
                close_old_connections()
            self._stop.wait(settings.PHOTOSYNC_HEARTBEAT_INTERVAL)
        connections.close_all()


def build_broker() -> dramatiq.Broker:
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=3),
        CurrentMessage(),
        DjangoConnections(),
        Heartbeat(),
    ]
    if settings.REDIS_URL:
        broker: dramatiq.Broker = RedisBroker(
            url=settings.REDIS_URL,
            namespace=settings.PHOTOSYNC_QUEUE_NAMESPACE,
            middleware=middleware,
            heartbeat_timeout=settings.PHOTOSYNC_BROKER_HEARTBEAT_TIMEOUT,
            maintenance_chance=settings.PHOTOSYNC_BROKER_MAINTENANCE_CHANCE,
        )
    else:
        broker = StubBroker(middleware=middleware)
    for queue in Queues.ALL:
        broker.declare_queue(queue)
    return broker


# Where the Redis broker keeps the time from which it holds messages (see broker_epoch).
EPOCH_KEY = "photosync.epoch"
_stub_epoch: datetime | None = None


_broker: dramatiq.Broker | None = None


def get_broker() -> dramatiq.Broker:
    """The process's broker, built once and installed as Dramatiq's global broker."""
    global _broker
    if _broker is None:
        _broker = build_broker()
        dramatiq.set_broker(_broker)
        try:
            broker_epoch()  # mark the broker before this process sends anything to it
        except Exception:  # Redis is away: syncd marks it once it is back
            log.warning("could not read the broker's epoch; syncd will set it")
    return _broker


def broker_epoch() -> datetime:
    """Since when the broker has held the messages it holds: a row sent before this was
    lost with the broker, and may be sent again at once.

    Redis: a marker key, set once (SET NX) and kept exactly as long as the messages are — a
    Redis that restarted without its data (or was flushed) has lost both, and the first
    process to look sets it anew. The stub broker lives in this process's memory: its epoch
    is when this process built it.
    """
    global _stub_epoch
    broker = _broker or get_broker()
    if not settings.REDIS_URL:
        if _stub_epoch is None:
            _stub_epoch = datetime.now(UTC)
        return _stub_epoch
    client = broker.client  # type: ignore[attr-defined]
    key = f"{settings.PHOTOSYNC_QUEUE_NAMESPACE}:{EPOCH_KEY}"
    client.set(key, repr(time.time()), nx=True)
    return datetime.fromtimestamp(float(client.get(key)), tz=UTC)


# How long a message may wait in its queue behind others before a worker takes it (a busy
# fleet, a backlog after an outage): part of every work's window below.
QUEUE_WAIT = timedelta(minutes=30)


def work_retry_window(work: str) -> timedelta:
    """How long after a send a copy of `work` may still be in flight: QUEUE_WAIT for a worker
    to take it, then every attempt its actor may make (1 + retries) running to its time
    limit, plus the longest delay before each retry. Read from the options
    `jobs.base.house_actor` declared, so it cannot drift from them. (Work that schedules its
    own next try, like a push, sends a new stamped message each time: its window is one
    attempt's.)"""
    options = get_broker().get_actor(work).options
    retries = int(options["max_retries"])
    return QUEUE_WAIT + timedelta(
        milliseconds=(retries + 1) * int(options["time_limit"])
        + retries * int(options["max_backoff"])
    )


def enqueue(work: str, *args: Any, delay_ms: int | None = None,
            on_failure: Callable[[], None] | None = None) -> None:
    """Send the work named `work` (a Work name) with `args` once the current transaction
    commits (at once outside one).

    A name without an actor raises ActorNotFound at once (a bug, which the system check
    catches at start-up). A failed send is logged, not raised: the row that describes the work
    is already committed, and the sync daemon re-enqueues work that never started;
    `on_failure` (e.g. clearing the row's send stamp) tells it that nothing is in flight.
    """
    actor = get_broker().get_actor(work)

    def send() -> None:
        try:
            actor.send_with_options(args=args, delay=delay_ms)
        except Exception:  # broker down: the daemon picks the work up later
            log.exception("enqueue of %s%r failed; it will be retried by syncd", work, args)
            if on_failure is not None:
                try:
                    on_failure()
                except Exception:
                    log.exception("could not record the failed enqueue of %s%r", work, args)

    transaction.on_commit(send)


def queue_depth(queue: str) -> int:
    """Messages waiting on a queue, delayed ones included."""
    broker = get_broker()
    if settings.REDIS_URL:
        ns = settings.PHOTOSYNC_QUEUE_NAMESPACE
        client = broker.client  # type: ignore[attr-defined]
        return int(client.llen(f"{ns}:{queue}") + client.llen(f"{ns}:{queue}.DQ"))
    queues = broker.queues  # type: ignore[attr-defined]
    return sum(queues[name].qsize() for name in (queue, f"{queue}.DQ") if name in queues)


def broker_ping() -> None:
    """Raise if the broker cannot be reached."""
    broker = get_broker()
    if settings.REDIS_URL:
        broker.client.ping()  # type: ignore[attr-defined]
