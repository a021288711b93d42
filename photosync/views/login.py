"""Login throttling's two hooks for django-axes (settings: AXES_*): the client's address, and
the answer to a locked-out login.

django-axes records every failed `/login/` in the database, so all gunicorn workers and
replicas count the same failures; after 10 for one account or from one address (with no
15-minute pause between them) it refuses that account or address, the right password
included, until 15 minutes after the last failure. The answer is 429 with `Retry-After`.
"""

from __future__ import annotations

import logging
import math

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from photosync.selectors import login_lockout_ends

log = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's own, or, behind `PHOTOSYNC_TRUSTED_PROXIES`
    proxies, the entry of `X-Forwarded-For` the outermost of them added (entries further
    left come from the client and prove nothing)."""
    hops = settings.PHOTOSYNC_TRUSTED_PROXIES
    remote = request.META.get("REMOTE_ADDR", "")
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """429 with Retry-After (seconds until the lockout ends), logged without the password."""
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    cool_off = get_cool_off(request)
    now = timezone.now()
    ends = login_lockout_ends(username=username, address=address, cool_off=cool_off,
                              limit=get_failure_limit(request, credentials), now=now)
    seconds = max(1, math.ceil(((ends or now + cool_off) - now).total_seconds()))
    log.warning("login refused: too many failures for account %r or address %s; locked "
                "for %d s more", username or "", address, seconds)
    response = render(request, "registration/locked_out.html",
                      {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response
