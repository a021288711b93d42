"""Embedded-app sessions: every request from the admin iframe carries an App Bridge ID token
(`Authorization: Bearer …` on fetches, `id_token` on the first document load); there are no
cookies inside the iframe.

For other views (the admin page of issue 6, the JSON API):

- `ShopifyIdTokenAuthentication`: a DRF authentication class. The user it returns is the
  shop's staff member (a passwordless Django account tied to the store) with
  `user.shopify_store` set, which `selectors.stores_for_user` scopes every query to.
- `shopify_session_required`: the same for plain Django views (`request.shopify_store`).
- `embedded_headers(response, shop)`: the per-shop `Content-Security-Policy: frame-ancestors`
  every HTML response for a shop must carry.
- `ShopifySessionHeaders` (middleware): adds `X-Shopify-Retry-Invalid-Session-Request: 1` to
  a 401 caused by a bad ID token, so App Bridge retries with a fresh one.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import APIException

from integrations.errors import AuthRevoked, Retryable
from integrations.shopify.auth import IdToken, InvalidIdToken, decode_id_token
from photosync.middleware import retry_after_seconds, store_unavailable
from photosync.models import Store
from photosync.selectors import shopify_store
from photosync.services.shopify.auth import (
    shopify_install_from_id_token,
    shopify_secrets,
    shopify_store_needs_token,
)
from photosync.services.staff import store_staff_user
from photosync.views.framing import frame_ancestors

log = logging.getLogger(__name__)

RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


@dataclass(frozen=True)
class ShopifySession:
    store: Store
    user: object  # the staff member's Django user, with `shopify_store` set
    token: IdToken


class InvalidSessionToken(APIException):
    """401 whatever authentication class comes first (DRF would otherwise answer 403 when
    the first one, SessionAuthentication, has no WWW-Authenticate challenge)."""

    status_code = 401
    default_detail = "Invalid session token."
    default_code = "invalid_session_token"


class StoreUnreachable(APIException):
    """503 with Retry-After (DRF sends `wait` as the header): Shopify could not be reached to
    connect the shop. DRF's base APIException would answer 500."""

    status_code = 503
    default_detail = "Shopify could not be reached; try again shortly."
    default_code = "store_unreachable"

    def __init__(self, detail: str, *, wait: float | None) -> None:
        super().__init__(detail)
        self.wait = wait


class SessionError(Exception):
    """No usable session: `retry` says whether a fresh ID token may fix it; `retry_after` is
    set when the store was unreachable (answer 503 with Retry-After)."""

    def __init__(self, message: str, *, retry: bool = True, status: int = 401,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry
        self.status = status
        self.retry_after = retry_after

    def response(self) -> JsonResponse:
        """The answer of a plain Django view."""
        if self.retry_after is not None:
            return store_unavailable(self.message, self.retry_after)
        response = JsonResponse({"detail": self.message}, status=self.status)
        if self.retry:
            response[RETRY_HEADER] = "1"
        return response


def shopify_configured() -> bool:
    return bool(settings.SHOPIFY_API_KEY and settings.SHOPIFY_API_SECRET)


def session_from_id_token(id_token: str) -> ShopifySession:
    """Validate an ID token and resolve its shop's store and staff member.

    A shop with no usable offline token (first open, reinstall) is connected here by token
    exchange, as Shopify-managed installation expects. Raises SessionError.
    """
    if not shopify_configured():
        raise SessionError("Shopify is not configured on this server.", retry=False, status=503)
    try:
        token = decode_id_token(id_token, api_key=settings.SHOPIFY_API_KEY,
                                secrets=shopify_secrets())
    except InvalidIdToken as exc:
        log.info("shopify ID token refused: %s", exc)
        raise SessionError("Invalid session token.") from None
    store = shopify_store(shop_domain=token.shop)
    if shopify_store_needs_token(store=store):
        try:
            store = shopify_install_from_id_token(shop=token.shop, id_token=id_token)
        except AuthRevoked:
            raise SessionError("Shopify refused the session token.") from None
        except Retryable as exc:
            raise SessionError("Shopify could not be reached; try again shortly.",
                               retry=False, status=503,
                               retry_after=retry_after_seconds(exc.retry_after)) from None
    user = store_staff_user(store=store, remote_user_id=token.user_id)
    user.shopify_store = store
    return ShopifySession(store=store, user=user, token=token)


def bearer_token(request: HttpRequest) -> str | None:
    parts = get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer":
        return parts[1].decode("latin-1")
    return None


class ShopifyIdTokenAuthentication(BaseAuthentication):
    """DRF: authenticate `Authorization: Bearer <ID token>`; other requests are left to the
    next authentication class."""

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None or not shopify_configured():
            return None
        try:
            session = session_from_id_token(token)
        except SessionError as exc:
            if exc.retry:
                request._request.shopify_retry_session = True
            if exc.status == 503:
                raise StoreUnreachable(exc.message, wait=exc.retry_after) from None
            raise InvalidSessionToken(exc.message) from None
        request._request.shopify_store = session.store
        return session.user, session.token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="shopify"'


def shopify_session_required(view):
    """Plain Django views: require a valid ID token; sets request.user/shopify_store."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        token = bearer_token(request) or request.GET.get("id_token") or ""
        try:
            session = session_from_id_token(token)
        except SessionError as exc:
            return exc.response()
        request.user = session.user
        request.shopify_store = session.store
        request.shopify_session = session
        return view(request, *args, **kwargs)

    return wrapped


def embedded_headers(response: HttpResponse, shop: str) -> HttpResponse:
    """Allow framing by this shop's admin only (App Store requirement), per response."""
    return frame_ancestors(response, f"https://{shop}", "https://admin.shopify.com")


class ShopifySessionHeaders:
    """Middleware: tell App Bridge to retry with a fresh ID token after a 401 it caused."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 401 and getattr(request, "shopify_retry_session", False):
            response[RETRY_HEADER] = "1"
            if "WWW-Authenticate" not in response:
                response["WWW-Authenticate"] = 'Bearer realm="shopify"'
        return response
