"""Selectors: reads for pages, the API and commands, with their query counts bounded."""

from __future__ import annotations

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from photosync.models import GeneratedImage, Product, SourceImage, Store


def stores_for_user(*, user) -> QuerySet[Store]:
    """Operators (staff users) see every store; a shop's staff member signed in through
    the embedded Shopify admin sees that shop only; others none."""
    store = getattr(user, "shopify_store", None)
    if store is not None:
        return Store.objects.filter(pk=store.pk, status=Store.Status.ACTIVE)
    if getattr(user, "is_staff", False):
        return Store.objects.all().order_by("pk")
    return Store.objects.none()


def review_queue(*, stores: QuerySet[Store], status: str = "waiting") -> QuerySet[Product]:
    """Products with generated images, newest activity first, with per-status counts."""
    counts = {
        "n_ready": Count("generated", filter=Q(generated__status=GeneratedImage.Status.READY)),
        "n_approved": Count(
            "generated", filter=Q(generated__status=GeneratedImage.Status.APPROVED)
        ),
        "n_pushed": Count("generated", filter=Q(generated__status=GeneratedImage.Status.PUSHED)),
        "n_failed_sources": Count(
            "sources", filter=Q(sources__status=SourceImage.Status.FAILED), distinct=True
        ),
        "last_generated": Max("generated__created_at"),
    }
    qs = Product.objects.filter(store__in=stores).annotate(**counts).select_related("store")
    if status == "waiting":
        qs = qs.filter(n_ready__gt=0)
    elif status == "pushed":
        qs = qs.filter(n_pushed__gt=0)
    elif status == "failed":
        qs = qs.filter(n_failed_sources__gt=0)
    return qs.order_by("-last_generated", "-pk")


def product_detail(*, stores: QuerySet[Store], product_id: int) -> Product:
    """One product with its originals, outputs and jobs; raises DoesNotExist outside `stores`."""
    return (
        Product.objects.filter(store__in=stores)
        .select_related("store")
        .prefetch_related(
            "sources",
            Prefetch("generated", queryset=GeneratedImage.objects.order_by("source_id", "id")),
            "jobs",
        )
        .get(pk=product_id)
    )


def generated_for_stores(*, stores: QuerySet[Store]) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(product__store__in=stores).select_related("product")


def woocommerce_store(*, store_id: int) -> Store | None:
    """A WooCommerce store by id, in any status (webhook intake decides what to do)."""
    return Store.objects.filter(pk=store_id, platform="woocommerce").first()


def woocommerce_auth_request(*, state: str):
    """A wc-auth attempt by its state, or None."""
    from photosync.models import WooCommerceAuthRequest

    return WooCommerceAuthRequest.objects.filter(state=state).select_related("store").first()
