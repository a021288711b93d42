"""Request-level guards shared by every view."""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.db.utils import InterfaceError, OperationalError
from django.http import JsonResponse

from photosync.observability import WEBHOOK_ACK, timed

log = logging.getLogger(__name__)


class DatabaseUnavailable:
    """Answer 503 (with Retry-After) when the database is unreachable.

    A platform that sees 503 delivers the webhook again later (Shopify retries for hours);
    a 500 would say our code is broken, and nothing would have been recorded either way.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError) or (
            isinstance(exception, DatabaseError) and "connection" in str(exception).lower()
        ):
            log.error("database unavailable while serving %s", request.path)
            response = JsonResponse(
                {"detail": "The database is unavailable; please retry shortly."}, status=503
            )
            response["Retry-After"] = "30"
            return response
        return None


class WebhookTiming:
    """Observe how long each webhook delivery takes to answer (photosync_webhook_ack_seconds)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/webhooks/"):
            return self.get_response(request)
        platform = request.path.split("/")[2] or "unknown"
        with timed(WEBHOOK_ACK, platform=platform if platform in _PLATFORMS else "other"):
            return self.get_response(request)


_PLATFORMS = {"shopify", "woocommerce"}
