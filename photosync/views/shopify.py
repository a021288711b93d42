"""Shopify endpoints: webhook intake, the embedded entry (Shopify-managed install with token
exchange), the ID-token bounce page, and the authorization-code grant for non-embedded installs.

Webhooks are verified over the raw body, recorded once and queued; nothing there calls the
store while Shopify waits for an answer (it allows 5 seconds, and counts only 2xx).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from integrations.errors import IntegrationError, Retryable
from integrations.shopify import auth
from integrations.shopify.webhooks import parse_delivery, verify_webhook
from photosync.middleware import store_unavailable
from photosync.services.shopify.auth import shopify_install_from_code, shopify_secrets
from photosync.services.shopify.webhooks import shopify_event_fields
from photosync.services.webhook_events import webhook_event_record
from photosync.views.shopify_session import (
    SessionError,
    embedded_headers,
    session_from_id_token,
    shopify_configured,
)

log = logging.getLogger(__name__)

APP_BRIDGE_URL = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
STATE_COOKIE = "shopify_oauth_state"
STATE_MAX_AGE = 600


def not_configured() -> JsonResponse:
    return JsonResponse(
        {"detail": "Shopify is not configured on this server: set SHOPIFY_API_KEY and "
                   "SHOPIFY_API_SECRET (see .env.example)."},
        status=503,
    )


@csrf_exempt
def webhook(request: HttpRequest) -> HttpResponse:
    """`POST /webhooks/shopify`: 405 wrong method, 400 missing HMAC or headers, 401 bad HMAC,
    503 when the app is not configured, else 200 (a repeated delivery included)."""
    if request.method != "POST":
        response = HttpResponse("Method not allowed", status=405, content_type="text/plain")
        response["Allow"] = "POST"
        return response
    if not shopify_configured():
        return not_configured()
    signature = request.headers.get("X-Shopify-Hmac-Sha256", "")
    if not signature.strip():
        return HttpResponse("Missing HMAC", status=400, content_type="text/plain")
    body = request.body  # the raw bytes: never re-serialise before checking
    if not verify_webhook(body, signature, shopify_secrets()):
        log.warning("shopify webhook with a bad HMAC refused")
        return HttpResponse("Unauthorized", status=401, content_type="text/plain")
    delivery = parse_delivery(request.headers)
    if delivery is None:
        return HttpResponse("Missing webhook headers", status=400, content_type="text/plain")
    try:
        payload = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("Body is not JSON", status=400, content_type="text/plain")
    if not isinstance(payload, dict):
        return HttpResponse("Body is not a JSON object", status=400, content_type="text/plain")
    webhook_event_record(**shopify_event_fields(delivery=delivery, payload=payload))
    return HttpResponse(status=200)


@require_GET
def app(request: HttpRequest) -> HttpResponse:
    """The app URL Shopify loads in the admin iframe (`?embedded=1&shop=…&host=…&id_token=…`).

    A valid ID token identifies the shop (token exchange connects it on first open); a
    missing or stale one goes through the bounce page for a fresh one."""
    if not shopify_configured():
        return not_configured()
    shop = auth.normalize_shop(request.GET.get("shop"))
    id_token = request.GET.get("id_token", "")
    if not id_token:
        if shop is None:
            return _bad_request("Open PhotoSync from your Shopify admin.")
        if request.GET.get("embedded") != "1":
            return HttpResponseRedirect(_admin_app_url(shop, request.GET.get("host", "")))
        return _bounce_redirect(request, shop)
    try:
        session = session_from_id_token(id_token)
    except SessionError as exc:
        if exc.status == 503:
            return exc.response()
        if shop is None:
            return _bad_request("Open PhotoSync from your Shopify admin.")
        return _bounce_redirect(request, shop)
    if shop is not None and shop != session.store.domain:
        return _bad_request("The shop in the address does not match the session.")
    response = render(request, "photosync/shopify/app.html",
                      {**_bridge_context(), "store": session.store})
    return embedded_headers(response, session.store.domain)


@require_GET
def session_bounce(request: HttpRequest) -> HttpResponse:
    """The bounce page: App Bridge gets a fresh ID token and reloads `shopify-reload`."""
    if not shopify_configured():
        return not_configured()
    shop = auth.normalize_shop(request.GET.get("shop"))
    if shop is None:
        return _bad_request("Open PhotoSync from your Shopify admin.")
    response = render(request, "photosync/shopify/bounce.html", _bridge_context())
    return embedded_headers(response, shop)


def _bridge_context() -> dict:
    return {"api_key": settings.SHOPIFY_API_KEY, "app_bridge_url": APP_BRIDGE_URL}


def _bounce_redirect(request: HttpRequest, shop: str) -> HttpResponse:
    params = {k: v for k, v in request.GET.items() if k not in ("id_token", "hmac")}
    reload_to = f"{request.path}?{urlencode(params)}"
    query = urlencode({"shop": shop, "host": request.GET.get("host", ""),
                       "shopify-reload": reload_to})
    return HttpResponseRedirect(f"/shopify/session-token?{query}")


def _admin_app_url(shop: str, host: str) -> str:
    """Where the app opens embedded: the `host` parameter is the admin's base64 host."""
    try:
        admin = base64.b64decode(host + "=" * (-len(host) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        admin = ""
    if admin.startswith(("admin.shopify.com/store/", f"{shop}/admin")):
        return f"https://{admin}/apps/{settings.SHOPIFY_API_KEY}"
    return f"https://{shop}/admin/apps/{settings.SHOPIFY_API_KEY}"


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@require_GET
def install(request: HttpRequest) -> HttpResponse:
    """Start OAuth: a single-use state nonce in a signed cookie, then Shopify's consent page."""
    if not shopify_configured():
        return not_configured()
    shop = auth.normalize_shop(request.GET.get("shop"))
    if shop is None:
        return _bad_request("Enter your shop as NAME.myshopify.com.")
    state = secrets.token_urlsafe(24)
    url = auth.authorize_url(
        shop=shop, api_key=settings.SHOPIFY_API_KEY, scopes=settings.SHOPIFY_SCOPES,
        redirect_uri=f"{settings.PHOTOSYNC_PUBLIC_URL}/shopify/callback", state=state,
        api_origin=settings.SHOPIFY_API_ORIGIN,
    )
    response = HttpResponseRedirect(url)
    response.set_signed_cookie(
        STATE_COOKIE, f"{shop} {state}", salt=STATE_COOKIE, max_age=STATE_MAX_AGE,
        httponly=True, secure=request.is_secure(), samesite="Lax",
    )
    return response


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Shopify's redirect after consent: check the query HMAC (hex), the state nonce, the
    timestamp and the shop host, then trade the code for an expiring offline token."""
    if not shopify_configured():
        return not_configured()
    params = {k: request.GET.get(k, "") for k in request.GET}
    shop = auth.normalize_shop(params.get("shop"))
    if not auth.verify_query_hmac(params, shopify_secrets()):
        return _bad_request("The request did not come from Shopify (bad signature).")
    if shop is None:
        return _bad_request("Not a Shopify shop domain.")
    if not auth.timestamp_fresh(params.get("timestamp")):
        return _bad_request("This install link has expired; start the install again.")
    expected = request.get_signed_cookie(STATE_COOKIE, default="", salt=STATE_COOKIE,
                                         max_age=STATE_MAX_AGE)
    if not params.get("state") or not secrets.compare_digest(
        expected, f"{shop} {params['state']}"
    ):
        return _bad_request("The install session does not match; start the install again.")
    try:
        shopify_install_from_code(shop=shop, code=params.get("code", ""))
    except Retryable as exc:
        return store_unavailable("Shopify could not be reached; try again.", exc.retry_after)
    except IntegrationError as exc:
        return _bad_request(exc.message)
    response = HttpResponseRedirect(_admin_app_url(shop, params.get("host", "")))
    response.delete_cookie(STATE_COOKIE)
    return response
