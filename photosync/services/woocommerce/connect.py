"""Connecting a WooCommerce store.

Two ways in, one place where a store is trusted (`woocommerce_store_connect`):

- the wc-auth flow: `woocommerce_connect_start` sends the merchant to the store's authorize
  page with a single-use state as `user_id`; the store then POSTs the key, unsigned, to our
  callback. `woocommerce_callback_accept` takes it only for a pending, unexpired state and
  queues the `woocommerce_connect_verify` work, whose `woocommerce_auth_verify` calls the
  store with the key before trusting it;
- `manage.py connect_woocommerce --url --key --secret`, for operators.

Connecting stores the key encrypted, gives the store its own random webhook secret and
creates the `product.created` / `product.updated` webhooks that deliver to
`PHOTOSYNC_PUBLIC_URL/webhooks/woocommerce/<store id>`.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.utils import timezone

from integrations.addresses import url_check
from integrations.errors import IntegrationError, Retryable, Terminal
from integrations.registry import build_adapter
from integrations.woocommerce.webhooks import webhook_secret_generate
from photosync.crypto import decrypt_json, encrypt_json
from photosync.models import Platform, Store, WooCommerceAuthRequest
from photosync.queueing import Work, enqueue
from photosync.services.credentials import store_credentials_get, store_credentials_set
from photosync.services.stores import adapter_options
from photosync.services.woocommerce.endpoints import (
    url_origin,
    woocommerce_callback_url,
    woocommerce_return_url,
)
from photosync.services.woocommerce.health import woocommerce_webhooks_ensure

log = logging.getLogger(__name__)

APP_NAME = "PhotoSync"
AUTH_TTL = timedelta(minutes=30)  # the merchant has this long to approve on the store


class ConnectError(Exception):
    """The connection cannot start; `message` says why, for the merchant."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def store_url_normalize(url: str) -> str:
    """A store's canonical address: `scheme://host[:port][/path]`, no trailing slash."""
    raw = (url or "").strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError("Enter the store's address, such as https://shop.example.com.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConnectError("The store address must not contain a login, a query or a fragment.")
    try:
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise ConnectError("The store address has an invalid port.") from None
    return f"{url_origin(raw)}{parts.path.rstrip('/')}"


def woocommerce_connect_start(*, store_url: str, user=None) -> tuple[WooCommerceAuthRequest, str]:
    """Create a single-use state and return (the request, the store's authorize URL).
    ConnectError: the address is not acceptable; Retryable: it could not be checked now."""
    url = store_url_normalize(store_url)
    _address_check(url)
    request = WooCommerceAuthRequest.objects.create(
        state=secrets.token_urlsafe(32),
        store_url=url,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
    )
    query = urlencode(
        {
            "app_name": APP_NAME,
            "scope": "read_write",
            "user_id": request.state,
            "return_url": woocommerce_return_url(),
            "callback_url": woocommerce_callback_url(),
        }
    )
    return request, f"{url}/wc-auth/v1/authorize?{query}"


def woocommerce_callback_accept(*, payload: object) -> WooCommerceAuthRequest | None:
    """Take the store's unsigned key post for a pending, unexpired state and queue its
    verification. None means refused: nothing was stored, and the store should delete the
    key (the view answers non-200)."""
    if not isinstance(payload, dict):
        return None
    state = payload.get("user_id")
    key, secret = payload.get("consumer_key"), payload.get("consumer_secret")
    if not isinstance(state, str) or not 20 <= len(state) <= 100:
        return None
    with transaction.atomic():
        request = (
            WooCommerceAuthRequest.objects.select_for_update()
            .filter(
                state=state,
                status=WooCommerceAuthRequest.Status.PENDING,
                created_at__gte=timezone.now() - AUTH_TTL,
            )
            .first()
        )
        if request is None:
            return None
        request.callback_at = timezone.now()
        problem = _key_problem(key, secret, payload.get("key_permissions"))
        if problem:
            request.status = WooCommerceAuthRequest.Status.FAILED
            request.error = problem
            request.decided_at = request.callback_at
            request.save()
            return None
        request.credentials_encrypted = encrypt_json(
            {"consumer_key": key, "consumer_secret": secret, "key_id": payload.get("key_id")}
        )
        request.status = WooCommerceAuthRequest.Status.RECEIVED
        request.save()
        enqueue(Work.WOOCOMMERCE_CONNECT_VERIFY, request.pk)
    return request


def woocommerce_auth_declined(*, state: str) -> None:
    """The merchant refused on the store's page (the return URL says success=0)."""
    WooCommerceAuthRequest.objects.filter(
        state=state, status=WooCommerceAuthRequest.Status.PENDING
    ).update(status=WooCommerceAuthRequest.Status.DECLINED, decided_at=timezone.now())


def woocommerce_auth_verify(*, request_id: int) -> WooCommerceAuthRequest | None:
    """Verify a received key against the store and connect it; the key is wiped from the
    request either way. Retryable errors propagate (the request stays "received")."""
    request = WooCommerceAuthRequest.objects.filter(pk=request_id).first()
    if request is None or request.status != WooCommerceAuthRequest.Status.RECEIVED:
        return request
    credentials = decrypt_json(request.credentials_encrypted)
    try:
        store = woocommerce_store_connect(
            url=request.store_url,
            consumer_key=str(credentials.get("consumer_key") or ""),
            consumer_secret=str(credentials.get("consumer_secret") or ""),
            key_id=credentials.get("key_id"),
        )
    except Retryable:
        raise
    except Terminal as exc:
        log.info("wc-auth request %s refused: %s", request.pk, exc.message)
        _record_decision(request, status=WooCommerceAuthRequest.Status.FAILED,
                         error=exc.message)
        return request
    _record_decision(request, status=WooCommerceAuthRequest.Status.VERIFIED, store=store)
    return request


def woocommerce_auth_fail(*, request_id: int, reason: str) -> None:
    """The verification's boundary gave up (the store stayed unreachable, an unexpected
    error): close the request as failed, the key wiped, with a reason the merchant sees."""
    request = WooCommerceAuthRequest.objects.filter(
        pk=request_id, status=WooCommerceAuthRequest.Status.RECEIVED
    ).first()
    if request is not None:
        _record_decision(request, status=WooCommerceAuthRequest.Status.FAILED,
                         error=f"The key could not be verified. {reason}"[:2000])


def woocommerce_store_connect(
    *,
    url: str,
    consumer_key: str,
    consumer_secret: str,
    key_id: int | str | None = None,
    name: str = "",
) -> Store:
    """Verify the key against the store, then store it (encrypted) and make sure the
    store's webhooks exist. Idempotent: the same address is the same store."""
    url = store_url_normalize(url)
    key = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
    adapter = build_adapter(
        Platform.WOOCOMMERCE,
        domain=url,
        credentials=key,
        settings=adapter_options(platform=Platform.WOOCOMMERCE),
    )
    adapter.verify()  # type: ignore[attr-defined]  # AuthRevoked for a forged key
    with transaction.atomic():
        store, created = Store.objects.select_for_update().get_or_create(
            platform=Platform.WOOCOMMERCE,
            domain=url,
            defaults={"name": name or urlsplit(url).netloc},
        )
        previous = {} if created else store_credentials_get(store=store)
        credentials = {
            **key,
            "key_id": key_id,
            "webhook_secret": previous.get("webhook_secret") or webhook_secret_generate(),
            "embed_secret": previous.get("embed_secret") or secrets.token_urlsafe(32),
        }
        store.status = Store.Status.ACTIVE
        if name:
            store.name = name
        store.save(update_fields=["status", "name", "updated_at"])
        store_credentials_set(store=store, credentials=credentials)
    try:
        woocommerce_webhooks_ensure(store=store)
    except Terminal:
        Store.objects.filter(pk=store.pk).update(status=Store.Status.NEEDS_REAUTH)
        raise
    return store


def _record_decision(request: WooCommerceAuthRequest, *, status: str, error: str = "",
                     store=None) -> None:
    """Close a wc-auth request with its outcome; the posted key is wiped either way."""
    request.status = status
    request.error = error
    request.store = store
    request.credentials_encrypted = b""
    request.decided_at = timezone.now()
    request.save()


def _key_problem(key: object, secret: object, permissions: object) -> str:
    if not (isinstance(key, str) and key.startswith("ck_") and 10 < len(key) <= 100):
        return "The store sent no valid consumer key."
    if not (isinstance(secret, str) and secret.startswith("cs_") and 10 < len(secret) <= 100):
        return "The store sent no valid consumer secret."
    if permissions != "read_write":
        return "PhotoSync needs read and write access; the key had other permissions."
    return ""


def _address_check(url: str) -> None:
    options = adapter_options(platform=Platform.WOOCOMMERCE)
    try:
        url_check(url, allowed=options.get("allowed_networks") or (), what="store address")
    except Retryable:
        raise  # the name did not resolve, which may be temporary: the caller answers 503
    except IntegrationError as exc:
        raise ConnectError(exc.message) from None
