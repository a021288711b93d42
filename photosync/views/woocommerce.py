"""WooCommerce endpoints: the wc-auth connect flow, webhook intake, the plugin's iframe entry.

Webhook intake answers fast and calls no store: WooCommerce never retries a delivery and
disables a webhook after a few failures, so a slow or failing answer costs real updates.
"""

from __future__ import annotations

import json
import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from integrations.errors import Retryable
from integrations.woocommerce.webhooks import (
    SIGNATURE_HEADER,
    SUBSCRIBED_TOPICS,
    DeliveryError,
    parse_product_delivery,
    ping_webhook_id,
    verify_signature,
)
from photosync.middleware import retry_after_seconds
from photosync.models import Platform, Store
from photosync.selectors import store_get, woocommerce_auth_request
from photosync.services.credentials import store_credentials_get
from photosync.services.webhook_events import webhook_event_record
from photosync.services.woocommerce.connect import (
    ConnectError,
    woocommerce_auth_declined,
    woocommerce_callback_accept,
    woocommerce_connect_start,
)
from photosync.services.woocommerce.embed import (
    EmbedTokenError,
    woocommerce_embed_token_verify,
    woocommerce_page_token,
)
from photosync.services.woocommerce.webhooks import woocommerce_event_fields
from photosync.views.woocommerce_session import (
    woocommerce_embed_session_start,
    woocommerce_frame_headers,
    woocommerce_session_store,
)

log = logging.getLogger(__name__)

MAX_BODY = 2 * 1024 * 1024  # a product with many variations and images stays far below
CONNECT_SESSION_KEY = "woocommerce_connect_state"


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


@login_required
@require_GET
def connect(request: HttpRequest) -> HttpResponse:
    """`GET /woocommerce/connect?store=URL`: send an operator to the store's authorize page."""
    if not request.user.is_staff:
        return _text("Only operators can connect stores.", 403)
    store_url = request.GET.get("store", "").strip()
    if not store_url:
        return render(request, "photosync/woocommerce/connect.html", {"store": ""})
    try:
        auth, authorize_url = woocommerce_connect_start(store_url=store_url, user=request.user)
    except ConnectError as exc:
        context = {"store": store_url, "error": exc.message}
        return render(request, "photosync/woocommerce/connect.html", context, status=400)
    except Retryable as exc:
        context = {"store": store_url, "error": f"{exc.message} Try again shortly."}
        page = render(request, "photosync/woocommerce/connect.html", context, status=503)
        page["Retry-After"] = str(retry_after_seconds(exc.retry_after))
        return page
    request.session[CONNECT_SESSION_KEY] = auth.state
    return HttpResponseRedirect(authorize_url)


@csrf_exempt
def callback(request: HttpRequest) -> HttpResponse:
    """`POST /woocommerce/callback`: the store's unsigned key post. Exactly 200 when taken
    (anything else makes WooCommerce delete the key, which is what a refusal wants)."""
    if request.method != "POST":
        return _text("Method not allowed", 405)
    if len(request.body) > 16 * 1024:
        return _text("Too large", 413)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _text("Body is not JSON", 400)
    if woocommerce_callback_accept(payload=payload) is None:
        log.warning("wc-auth callback refused: unknown, used or expired state")
        return _text("Unknown or expired request", 400)
    return HttpResponse(status=200)


@login_required
@require_GET
def return_page(request: HttpRequest) -> HttpResponse:
    """`GET /woocommerce/return?success=1&user_id=STATE`: where the store sends the browser."""
    state = request.GET.get("user_id", "")
    auth = None
    if state and state == request.session.get(CONNECT_SESSION_KEY):
        if request.GET.get("success") == "0":
            woocommerce_auth_declined(state=state)
        auth = woocommerce_auth_request(state=state)
    return render(request, "photosync/woocommerce/return.html", {"auth": auth})


@csrf_exempt
def webhook(request: HttpRequest, store_id: int) -> HttpResponse:
    """`POST /webhooks/woocommerce/<store id>`: 200 for a ping, 401 bad signature, 404 unknown
    store, 410 disconnected store, 400 malformed; else 200 (a repeated delivery included)."""
    if request.method != "POST":
        return _text("Method not allowed", 405)
    if len(request.body) > MAX_BODY:
        return _text("Too large", 413)
    body = request.body  # the raw bytes: the signature is over exactly these
    store = store_get(store_id=store_id, platform=Platform.WOOCOMMERCE)
    if ping_webhook_id(body, request.headers) is not None:
        return HttpResponse(status=200 if store is not None else 404)
    if store is None:
        return _text("Unknown store", 404)
    if store.status != Store.Status.ACTIVE:
        return _text("This store is not connected", 410)
    secret = store_credentials_get(store=store).get("webhook_secret", "")
    if not verify_signature(body, request.headers.get(SIGNATURE_HEADER, ""), secret):
        log.warning("woocommerce webhook for store %s with a bad signature refused", store.pk)
        return _text("Unauthorized", 401)
    if request.headers.get("X-WC-Webhook-Topic", "") not in SUBSCRIBED_TOPICS:
        return HttpResponse(status=200)  # a topic we did not ask for: nothing to do
    try:
        delivery = parse_product_delivery(body, request.headers)
    except DeliveryError as exc:
        return _text(f"Bad delivery: {exc}", 400)
    webhook_event_record(**woocommerce_event_fields(store=store, delivery=delivery))
    return HttpResponse(status=200)


@xframe_options_exempt
@require_GET
def embed(request: HttpRequest, store_id: int) -> HttpResponse:
    """`GET /woocommerce/embed/<store id>?token=…`: trade the plugin's signed token for a
    session bound to the store, then drop the token from the URL."""
    store = store_get(store_id=store_id, platform=Platform.WOOCOMMERCE)
    if store is None:
        return _text("Unknown store", 404)
    try:
        claims = woocommerce_embed_token_verify(store=store, token=request.GET.get("token", ""))
    except EmbedTokenError as exc:
        page = render(request, "photosync/woocommerce/embed.html", {"error": exc.message},
                      status=403)
        return woocommerce_frame_headers(page, store=store)
    user = woocommerce_embed_session_start(request=request, store=store, claims=claims)
    # The page carries its own credential: inside the WordPress admin's iframe the browser
    # does not send our session cookie (a third-party context). The session stays for
    # deployments served from the store's own site.
    page = render(request, "photosync/woocommerce/embed.html", {
        "store": store, "user": user,
        "app_token": woocommerce_page_token(store=store, username=user.get_username()),
    })
    page["Cache-Control"] = "no-store"
    page["Referrer-Policy"] = "no-referrer"  # the handoff token is in this page's URL
    return woocommerce_frame_headers(page, store=store)


@xframe_options_exempt
@require_GET
def embed_home(request: HttpRequest, store_id: int) -> HttpResponse:
    """The embedded landing page (the full admin page is the embedded-admin issue's)."""
    store = woocommerce_session_store(request=request)
    if store is None or store.pk != store_id:
        return _text("Open PhotoSync from your WooCommerce admin.", 403)
    page = render(request, "photosync/woocommerce/embed.html", {"store": store})
    return woocommerce_frame_headers(page, store=store)
