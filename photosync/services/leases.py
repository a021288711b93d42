"""Named, expiring leases in the database: several daemons, no work done twice."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from photosync.models import Lease


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
