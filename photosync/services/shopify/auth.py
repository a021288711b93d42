"""Shopify stores: connecting (token exchange, authorization code, custom-app token) and
keeping expiring offline tokens fresh.

Credentials are stored encrypted (services.credentials). A refresh is serialized per shop:
the store row is locked, the credentials re-read, and only a worker that still finds them
stale spends the refresh token.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from integrations.errors import AuthRevoked, Retryable
from integrations.shopify import auth, queries
from integrations.shopify.client import Endpoint, ShopifyClient
from photosync.models import Platform, Store
from photosync.services.credentials import store_credentials_get, store_credentials_set

log = logging.getLogger(__name__)

# Refresh a little before expiry: a job started now should not see the token die mid-way.
REFRESH_MARGIN_S = 300


def shopify_endpoint(shop: str) -> Endpoint:
    return Endpoint(shop=shop, api_version=settings.SHOPIFY_API_VERSION,
                    api_origin=settings.SHOPIFY_API_ORIGIN,
                    allowed_networks=tuple(settings.PHOTOSYNC_ALLOWED_NETWORKS))


def shopify_secrets() -> list[str]:
    """The client secret and, during rotation, the previous one."""
    return [s for s in (settings.SHOPIFY_API_SECRET, settings.SHOPIFY_PREVIOUS_API_SECRET) if s]


@transaction.atomic
def shopify_store_connect(*, shop: str, credentials: dict, name: str = "") -> Store:
    """Create or re-activate the store of `shop` with fresh credentials (idempotent)."""
    domain = auth.normalize_shop(shop)
    if domain is None:
        raise ValueError(f"{shop!r} is not a NAME.myshopify.com shop domain")
    store, _ = Store.objects.select_for_update().get_or_create(
        platform=Platform.SHOPIFY, domain=domain, defaults={"name": name or domain}
    )
    store.status = Store.Status.ACTIVE
    if name:
        store.name = name
    store.save(update_fields=["status", "name", "updated_at"])
    store_credentials_set(store=store, credentials=credentials)
    return store


def shopify_install_from_id_token(*, shop: str, id_token: str) -> Store:
    """Shopify-managed install: trade the embedded page's ID token for an offline token."""
    tokens = auth.exchange_id_token(
        shopify_endpoint(shop), api_key=settings.SHOPIFY_API_KEY,
        api_secret=settings.SHOPIFY_API_SECRET, id_token=id_token,
    )
    return shopify_store_connect(shop=shop, credentials=tokens.as_credentials())


def shopify_install_from_code(*, shop: str, code: str) -> Store:
    """Authorization-code grant callback (non-embedded installs)."""
    tokens = auth.exchange_code(
        shopify_endpoint(shop), api_key=settings.SHOPIFY_API_KEY,
        api_secret=settings.SHOPIFY_API_SECRET, code=code,
    )
    return shopify_store_connect(shop=shop, credentials=tokens.as_credentials())


def shopify_store_needs_token(*, store: Store | None) -> bool:
    """Whether the embedded entry must run token exchange for this shop."""
    if store is None or store.status != Store.Status.ACTIVE:
        return True
    return not store_credentials_get(store=store).get("access_token")


def shopify_credentials_fresh(*, store: Store, credentials: dict,
                              margin: float = REFRESH_MARGIN_S) -> dict:
    """Credentials whose access token is valid for at least `margin` more seconds.

    Non-expiring tokens (custom apps) are returned as they are. A refused refresh marks the
    store as needing re-authorization and raises AuthRevoked.
    """
    if not _stale(credentials, margin):
        return credentials
    with transaction.atomic():
        locked = Store.objects.select_for_update().get(pk=store.pk)
        current = store_credentials_get(store=locked)
        if not _stale(current, margin):  # another worker refreshed while we waited for the lock
            return current
        try:
            tokens = auth.refresh_access_token(
                shopify_endpoint(locked.domain), api_key=settings.SHOPIFY_API_KEY,
                api_secret=settings.SHOPIFY_API_SECRET,
                refresh_token=str(current.get("refresh_token") or ""),
            )
        except AuthRevoked as exc:
            refused = exc
        else:
            fresh = tokens.as_credentials()
            store_credentials_set(store=locked, credentials=fresh)
            log.info("refreshed the Shopify access token of store %s", locked.pk)
            return fresh
    _needs_reauth(store)
    raise refused


def _stale(credentials: dict, margin: float = REFRESH_MARGIN_S) -> bool:
    expires_at = credentials.get("expires_at")
    return bool(expires_at) and float(expires_at) - time.time() < margin


def _needs_reauth(store: Store) -> None:
    Store.objects.filter(pk=store.pk).update(status=Store.Status.NEEDS_REAUTH)
    store.status = Store.Status.NEEDS_REAUTH
    log.warning("Shopify refused to refresh the token of store %s: needs re-authorization",
                store.pk)


def shopify_connect_custom_app(*, shop: str, access_token: str, name: str = "",
                               verify: bool = True) -> Store:
    """Connect a store through a custom app's non-expiring Admin API token.

    With `verify`, the token is tried on the shop first (a wrong one raises AuthRevoked and
    nothing is stored)."""
    domain = auth.normalize_shop(shop)
    if domain is None:
        raise ValueError(f"{shop!r} is not a NAME.myshopify.com shop domain")
    if not access_token:
        raise ValueError("the access token is empty")
    if verify:
        answer = ShopifyClient(endpoint=shopify_endpoint(domain),
                               access_token=access_token).execute(queries.SHOP)
        name = name or str(answer.get("shop", {}).get("name") or "")
    return shopify_store_connect(shop=domain, credentials={"access_token": access_token},
                                 name=name)


def shopify_stores_refresh(*, margin: float | None = None) -> dict[int, str]:
    """Refresh, ahead of expiry, every active shop's token that would lapse before the next
    health pass (syncd), so no job starts on a token about to expire."""
    margin = settings.PHOTOSYNC_HEALTH_INTERVAL + REFRESH_MARGIN_S if margin is None else margin
    results: dict[int, str] = {}
    for store in Store.objects.filter(platform=Platform.SHOPIFY, status=Store.Status.ACTIVE):
        credentials = store_credentials_get(store=store)
        if not _stale(credentials, margin):
            results[store.pk] = "ok"
            continue
        try:
            shopify_credentials_fresh(store=store, credentials=credentials, margin=margin)
            results[store.pk] = "refreshed"
        except AuthRevoked:
            results[store.pk] = "needs re-authorization"
        except Retryable as exc:
            results[store.pk] = f"retry later: {exc.message}"
    return results
