"""Settings every database connection gets when it opens (connected in PhotoSyncConfig.ready).

SQLite keeps deleted rows in its free pages, readable in the file, until they are reused:
`secure_delete` overwrites deleted content with zeros, so an erasure (shop/redact) leaves no
credentials or shop data behind (services.stores.store_redact also empties the write-ahead
log). PostgreSQL has no such setting: a deleted row's space is reclaimed by (auto)vacuum, and
the erasure overwrites the credentials before the delete.
"""

from __future__ import annotations


def connection_prepare(sender, connection, **kwargs) -> None:
    """django.db.backends.signals.connection_created receiver."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
