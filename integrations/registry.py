"""Store adapters by platform: build one from a store's platform name, domain, decrypted
credentials and settings.

Adding a platform is one package under `integrations/` and one `AdapterSpec` in `ADAPTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from integrations.base import StoreAdapter
from integrations.local.adapter import LocalStoreAdapter
from integrations.shopify.adapter import build as build_shopify
from integrations.woocommerce.adapter import WooCommerceAdapter

#: (*, domain, credentials, settings) -> adapter
AdapterFactory = Callable[..., StoreAdapter]


@dataclass(frozen=True)
class AdapterSpec:
    """One store platform: its name (`Store.platform`) and how its adapter is built."""

    platform: str
    factory: AdapterFactory
    description: str


def _local(*, domain: str, credentials: dict, settings: dict) -> StoreAdapter:
    return LocalStoreAdapter(domain)  # the domain is the store folder; no credentials


ADAPTERS: dict[str, AdapterSpec] = {spec.platform: spec for spec in (
    AdapterSpec("local", _local, "a folder of product folders on this machine (demo, tests)"),
    AdapterSpec("shopify", build_shopify, "Shopify's Admin GraphQL API, as an embedded app"),
    AdapterSpec("woocommerce", WooCommerceAdapter,
                "WooCommerce's REST API v3, with the companion WordPress plugin"),
)}


def build_adapter(
    platform: str, *, domain: str, credentials: dict, settings: dict | None = None
) -> StoreAdapter:
    spec = ADAPTERS.get(platform)
    if spec is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"Unknown store platform {platform!r}; known: {known}")
    return spec.factory(domain=domain, credentials=credentials, settings=settings or {})
