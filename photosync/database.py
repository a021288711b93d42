"""Settings every database connection gets when it opens (connected in PhotoSyncConfig.ready),
and the webhook intake's one statement, which checks its kept connection itself.

SQLite keeps deleted rows in its free pages, readable in the file, until they are reused:
`secure_delete` overwrites deleted content with zeros, so an erasure (shop/redact) leaves no
credentials or shop data behind (services.stores.store_redact also empties the write-ahead
log). PostgreSQL has no such setting: a deleted row's space is reclaimed by (auto)vacuum, and
the erasure overwrites the credentials before the delete.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import InterfaceError, OperationalError

log = logging.getLogger(__name__)


def connection_prepare(sender, connection, **kwargs) -> None:
    """django.db.backends.signals.connection_created receiver."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")


def statement_once_retrying_stale(sql: str, params: list) -> tuple | None:
    """Run one statement that is safe to run twice (webhook intake's INSERT … ON CONFLICT DO
    NOTHING) on the default database and return its first row, without the health check
    that CONN_HEALTH_CHECKS runs before a request's first query.

    That check is a `SELECT 1` round trip on every request, there only to catch a persistent
    connection that broke since its last request (the database restarted). Here the
    statement itself is the check: on a connection kept from an earlier request that fails
    with a connection error, the connection is closed and the statement runs once more on a
    fresh one; a database that is really away fails that second try too (a 503 through
    middleware.DatabaseUnavailable). Inside a transaction, or on a connection opened in this
    request, nothing is retried.

    As with any write, if the first try was committed but its answer lost, the second finds
    the row already there and returns nothing: the caller takes it for a repeat, and
    recovery (services.recovery) sends its work once no copy can be in flight.
    """
    conn = connections[DEFAULT_DB_ALIAS]
    kept = conn.connection is not None and not conn.in_atomic_block
    if kept and conn.health_check_enabled:
        conn.health_check_done = True  # this statement checks it, below
    try:
        return _first_row(conn, sql, params)
    except (OperationalError, InterfaceError):
        if not kept:
            raise
        log.warning("a kept database connection was broken; reconnecting once")
        conn.close()
        return _first_row(conn, sql, params)


def _first_row(conn, sql: str, params: list) -> tuple | None:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()
