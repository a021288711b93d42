"""Selectors: reads for pages, the API and commands, with their query counts bounded."""

from __future__ import annotations

import re

from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage, Store

# services.stores.store_staff_username: `store<pk>:<remote user>` (Shopify and WooCommerce).
_STAFF_USERNAME = re.compile(r"^store(\d+):.+$")


def stores_for_user(*, user) -> QuerySet[Store]:
    """Operators (staff users) see every store; a store's staff member signed in through the
    store's admin (embedded Shopify, the WooCommerce plugin) sees that store only, while it
    is active; others none."""
    store = getattr(user, "shopify_store", None)
    if store is not None:
        return Store.objects.filter(pk=store.pk, status=Store.Status.ACTIVE)
    if not getattr(user, "is_authenticated", False):
        return Store.objects.none()
    if user.is_staff:
        return Store.objects.all().order_by("pk")
    match = _STAFF_USERNAME.match(user.get_username())
    if match:
        return Store.objects.filter(pk=int(match[1]), status=Store.Status.ACTIVE)
    return Store.objects.none()


QUEUE_FILTERS = ("waiting", "approved", "pushed", "failed", "flagged", "all")
_PUSHING = (Push.Status.QUEUED, Push.Status.UPLOADING, Push.Status.PROCESSING)


def _count(queryset) -> Coalesce:
    """A correlated COUNT of `queryset` (already filtered on product=OuterRef("pk"))."""
    counted = queryset.order_by().values("product").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def review_queue(*, stores: QuerySet[Store], status: str = "waiting") -> QuerySet[Product]:
    """Products with generated images, newest activity first, with per-status counts and the
    newest output's file for a thumbnail: one query whatever the number of products.

    `status` is one of QUEUE_FILTERS: waiting (outputs to decide), approved (approved, not yet
    on the store), pushed, failed (a source, job or push failed), flagged (waiting outputs
    that failed a fidelity threshold), all (every product, generated or not yet).
    """
    ready = Q(generated__status=GeneratedImage.Status.READY)
    counts = {
        "n_ready": Count("generated", filter=ready),
        "n_flagged": Count("generated", filter=ready & ~Q(generated__flags=[])),
        "n_approved": Count(
            "generated", filter=Q(generated__status=GeneratedImage.Status.APPROVED)
        ),
        "n_pushed": Count("generated", filter=Q(generated__status=GeneratedImage.Status.PUSHED)),
        "n_generated": Count("generated"),
        "last_generated": Max("generated__created_at"),
    }
    mine = {"product": OuterRef("pk")}
    subqueries = {
        "n_failed_sources": _count(
            SourceImage.objects.filter(**mine, status=SourceImage.Status.FAILED)
        ),
        "n_failed_pushes": _count(Push.objects.filter(**mine, status=Push.Status.FAILED)),
        "n_failed_jobs": _count(
            GenerationJob.objects.filter(**mine, status=GenerationJob.Status.FAILED)
        ),
        "n_pushing": _count(Push.objects.filter(**mine, status__in=_PUSHING)),
        "cover_file": Subquery(
            GeneratedImage.objects.filter(**mine).order_by("-id").values("file")[:1]
        ),
    }
    qs = (
        Product.objects.filter(store__in=stores)
        .annotate(**counts)
        .annotate(**subqueries)
        .select_related("store")
    )
    if status == "waiting":
        qs = qs.filter(n_ready__gt=0)
    elif status == "approved":
        qs = qs.filter(n_approved__gt=0)
    elif status == "pushed":
        qs = qs.filter(n_pushed__gt=0)
    elif status == "failed":
        qs = qs.filter(Q(n_failed_sources__gt=0) | Q(n_failed_pushes__gt=0)
                       | Q(n_failed_jobs__gt=0))
    elif status == "flagged":
        qs = qs.filter(n_flagged__gt=0)
    return qs.order_by(F("last_generated").desc(nulls_last=True), "-pk")


def review_queue_counts(*, stores: QuerySet[Store]) -> dict[str, int]:
    """How many products each queue filter shows, in one query."""
    qs = review_queue(stores=stores, status="all").order_by()
    failed = Q(n_failed_sources__gt=0) | Q(n_failed_pushes__gt=0) | Q(n_failed_jobs__gt=0)
    return qs.aggregate(
        waiting=Count("pk", filter=Q(n_ready__gt=0)),
        approved=Count("pk", filter=Q(n_approved__gt=0)),
        pushed=Count("pk", filter=Q(n_pushed__gt=0)),
        failed=Count("pk", filter=failed),
        flagged=Count("pk", filter=Q(n_flagged__gt=0)),
        all=Count("pk"),
    )


def product_detail(*, stores: QuerySet[Store], product_id: int) -> Product:
    """One product with its originals, outputs, jobs and pushes; raises DoesNotExist outside
    `stores`.

    Each prefetch is its own statement, so a worker may commit in between. Pushes and jobs
    are read before the outputs they change: a page that sees a push live or a job done also
    sees its outputs (never "live" beside a stale "approved" that nobody polls again)."""
    return (
        Product.objects.filter(store__in=stores)
        .select_related("store")
        .prefetch_related(
            Prefetch("pushes", queryset=pushes_history()),
            Prefetch("jobs", queryset=GenerationJob.objects.order_by("-created_at", "-pk")),
            Prefetch("generated", queryset=GeneratedImage.objects.order_by("source_id", "id")),
            "sources",
        )
        .get(pk=product_id)
    )


def pushes_history() -> QuerySet[Push]:
    """Pushes newest first, with what the history shows (image, who asked)."""
    return Push.objects.select_related("image", "requested_by").order_by("-created_at", "-pk")


def pushes_for_stores(*, stores: QuerySet[Store]) -> QuerySet[Push]:
    return pushes_history().filter(store__in=stores)


def store_for_user(*, user, store_id: int | None = None) -> Store | None:
    """The one store a request acts on: `store_id` if the user may see it, else the user's
    only store; None when the id is not theirs or the choice is ambiguous."""
    stores = stores_for_user(user=user)
    if store_id is not None:
        return stores.filter(pk=store_id).first()
    first_two = list(stores[:2])
    return first_two[0] if len(first_two) == 1 else None


def generated_for_stores(*, stores: QuerySet[Store]) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(product__store__in=stores).select_related("product")


def woocommerce_store(*, store_id: int) -> Store | None:
    """A WooCommerce store by id, in any status (webhook intake decides what to do)."""
    return Store.objects.filter(pk=store_id, platform="woocommerce").first()


def woocommerce_auth_request(*, state: str):
    """A wc-auth attempt by its state, or None."""
    from photosync.models import WooCommerceAuthRequest

    return WooCommerceAuthRequest.objects.filter(state=state).select_related("store").first()
