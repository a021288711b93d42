"""Request-level guards shared by every view."""

from __future__ import annotations

import logging
import math

from django.db import DatabaseError
from django.db.utils import InterfaceError, OperationalError
from django.http import JsonResponse

from integrations.errors import Retryable
from photosync.observability import WEBHOOK_ACK, timed

log = logging.getLogger(__name__)

# Seconds a client is asked to wait when a store is unreachable and gave no hint itself.
STORE_RETRY_AFTER = 30


def retry_after_seconds(hint: float | None) -> int:
    """A Retry-After value: the store's own hint rounded up, else STORE_RETRY_AFTER."""
    return max(1, math.ceil(hint)) if hint else STORE_RETRY_AFTER


def store_unavailable(message: str, retry_after: float | None = None) -> JsonResponse:
    """503 with Retry-After: a store (or Shopify's token endpoint) could not be reached while
    the request waited. Nothing was stored; the same request succeeds later."""
    response = JsonResponse({"detail": message}, status=503)
    response["Retry-After"] = str(retry_after_seconds(retry_after))
    return response


class StoreUnavailable:
    """Answer 503 with Retry-After when a store cannot be reached during a request: a
    Retryable integration error (Unavailable, Throttled) that the view did not answer
    itself, which would otherwise be a 500 (our code is not broken; the store is away)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, Retryable):
            return None
        log.warning("a store was unreachable while serving %s: %s", request.path,
                    exception.message)
        return store_unavailable(exception.message, exception.retry_after)


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
