"""Live updates for the review page: polling with ETags.

The page asks again every few seconds with `If-None-Match`; the view first computes a cheap
fingerprint (selectors.review_version: a few aggregate queries, no serializing) and answers
304 with no body while nothing changed. Chosen over server-sent events because production
runs gunicorn with gthread workers: an SSE stream holds a worker thread per open tab for as
long as the tab is open, while a 304 poll holds one for a few milliseconds (see README).
"""

from __future__ import annotations

import functools
import hashlib

from rest_framework.response import Response

CACHE_CONTROL = "private, no-cache"  # revalidate every time; never shared between users


def conditional(version_of):
    """Decorate a DRF view's `get`: `version_of(view)` is the data's fingerprint. The ETag
    also covers the URL (filter, search, page) and the caller, so one answer is never another
    caller's 304 (the fingerprint itself is taken over the caller's stores). It is taken
    before the body: a change that lands in between gives the client an older tag, so it
    asks again (it never misses one)."""

    def decorate(get):
        @functools.wraps(get)
        def wrapper(self, request, *args, **kwargs):
            key = repr((version_of(self), request.get_full_path(),
                        getattr(request.user, "pk", None), request.auth is not None))
            tag = f'W/"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
            asked = request.headers.get("If-None-Match", "")
            if tag in [t.strip() for t in asked.split(",")]:
                response = Response(status=304)
            else:
                response = get(self, request, *args, **kwargs)
            if response.status_code in (200, 304):
                response["ETag"] = tag
                response["Cache-Control"] = CACHE_CONTROL
            return response

        return wrapper

    return decorate
