"""Named, expiring leases in the database: several daemons, no work done twice."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from photosync.models import Lease

log = logging.getLogger(__name__)


def lease_acquire(*, name: str, holder: str, seconds: float, renew: bool = True) -> bool:
    """Take or renew the lease; False while another holder's lease is unexpired.

    With `renew=False` even the current holder must wait for expiry: the lease then spaces
    out a periodic task across every daemon.
    """
    now = timezone.now()
    expires = now + timedelta(seconds=seconds)
    free = Q(expires_at__lte=now) | Q(holder=holder) if renew else Q(expires_at__lte=now)
    taken = Lease.objects.filter(Q(name=name) & free).update(holder=holder, expires_at=expires)
    if taken:
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=expires)
        return True
    except IntegrityError:  # it exists and someone else holds it
        return False


def lease_release(*, name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())


class LeaseBusy(Exception):
    """Another holder kept the lease for longer than the caller would wait."""


def _holder() -> str:
    """Unique per acquisition: two threads of one process must not share a lease."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@contextmanager
def lease_held(*, name: str, seconds: float, wait: float) -> Iterator[str]:
    """Hold the lease `name` for the block: wait at most `wait` seconds for it (else raise
    LeaseBusy), keep renewing it while the block runs (so it expires `seconds` after a
    holder that died), release it at the end. Yields the holder name."""
    holder = _holder()
    deadline = time.monotonic() + wait
    pause = 0.02
    while not lease_acquire(name=name, holder=holder, seconds=seconds, renew=False):
        if time.monotonic() + pause > deadline:
            raise LeaseBusy(name)
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(0.25, pause * 2)
    stop = threading.Event()
    renewer = threading.Thread(target=_keep, args=(name, holder, seconds, stop),
                               name=f"lease-{name}", daemon=True)
    renewer.start()
    try:
        yield holder
    finally:
        stop.set()
        renewer.join(timeout=seconds)
        lease_release(name=name, holder=holder)


def _keep(name: str, holder: str, seconds: float, stop: threading.Event) -> None:
    """Renew a held lease every third of its length until `stop` (in its own thread, so on
    its own database connection, opened only if the block outlives the first third)."""
    try:
        while not stop.wait(seconds / 3):
            if not lease_acquire(name=name, holder=holder, seconds=seconds):
                log.warning("lease %s was lost by %s while still in use", name, holder)
                return
    finally:
        connections.close_all()  # this thread's connections only


# Every write to a product on its store (push, edit, rollback) holds this lease, so two
# writers never interleave their read-modify-write of the gallery.
PRODUCT_WRITES_SECONDS = 60.0


def product_writes(*, product_id: int, wait: float):
    """The lease on writes to one product's store copy (a context manager; LeaseBusy)."""
    return lease_held(name=f"product-writes:{product_id}", seconds=PRODUCT_WRITES_SECONDS,
                      wait=wait)
