"""Build an adapter for a store from its platform name, domain and decrypted credentials."""

from __future__ import annotations

from collections.abc import Callable

from integrations.base import StoreAdapter

_FACTORIES: dict[str, Callable[..., StoreAdapter]] = {}


def register(platform: str, factory: Callable[..., StoreAdapter]) -> None:
    _FACTORIES[platform] = factory


def build_adapter(
    platform: str, *, domain: str, credentials: dict, settings: dict | None = None
) -> StoreAdapter:
    if platform not in _FACTORIES:
        _load_builtin(platform)
    try:
        factory = _FACTORIES[platform]
    except KeyError:
        known = ", ".join(sorted(_FACTORIES)) or "none"
        raise ValueError(f"Unknown store platform {platform!r}; known: {known}") from None
    return factory(domain=domain, credentials=credentials, settings=settings or {})


def _load_builtin(platform: str) -> None:
    if platform == "local":
        from integrations.local.adapter import LocalStoreAdapter

        register("local", lambda *, domain, credentials, settings: LocalStoreAdapter(domain))
    elif platform == "shopify":
        from integrations.shopify.adapter import build as build_shopify

        register("shopify", build_shopify)
    elif platform == "woocommerce":
        from integrations.woocommerce.adapter import WooCommerceAdapter

        register("woocommerce", WooCommerceAdapter)
