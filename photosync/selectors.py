"""Selectors: reads for pages, the API and commands, with their query counts bounded."""

from __future__ import annotations

import calendar
import hashlib
import re
import statistics
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
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
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from photosync.models import (
    GeneratedImage,
    GenerationJob,
    Platform,
    Product,
    Push,
    SourceImage,
    Store,
    WebhookEvent,
    WooCommerceAuthRequest,
)

# services.staff.store_staff_username: `store<pk>:<remote user>` (Shopify and WooCommerce).
_STAFF_USERNAME = re.compile(r"^store(\d+):.+$")


def store_get(*, store_id: int, platform: str | None = None, active: bool = False) -> Store | None:
    """A store by id (of `platform`, when given; only while connected, with `active`)."""
    stores = Store.objects.filter(pk=store_id)
    if platform is not None:
        stores = stores.filter(platform=platform)
    if active:
        stores = stores.filter(status=Store.Status.ACTIVE)
    return stores.first()


def shopify_store(*, shop_domain: str) -> Store | None:
    """The store of a myshopify domain, in any status."""
    return Store.objects.filter(platform=Platform.SHOPIFY, domain=shop_domain).first()


def woocommerce_auth_request(*, state: str) -> WooCommerceAuthRequest | None:
    """A wc-auth attempt by its state, or None."""
    return WooCommerceAuthRequest.objects.filter(state=state).select_related("store").first()


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


QUEUE_FILTERS = ("waiting", "approved", "pushed", "failed", "flagged", "all", "deleted")
_PUSHING = (Push.Status.QUEUED, Push.Status.UPLOADING, Push.Status.PROCESSING)


def _count(queryset) -> Coalesce:
    """A correlated COUNT of `queryset` (already filtered on product=OuterRef("pk"))."""
    counted = queryset.order_by().values("product").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def review_queue(*, stores: QuerySet[Store], status: str | None = "waiting"
                 ) -> QuerySet[Product]:
    """Products with generated images, newest activity first, with per-status counts and the
    newest output's file for a thumbnail: one query whatever the number of products.

    `status` is one of QUEUE_FILTERS: waiting (outputs to decide), approved (approved, not yet
    on the store), pushed, failed (a source, job or push failed), flagged (waiting outputs
    that failed a fidelity threshold), all (every product, generated or not yet), deleted
    (products the store deleted or trashed: only there, never under the others).
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
    if status is None:  # every row, deleted ones too (review_queue_counts)
        return qs
    if status == "deleted":
        return qs.filter(deleted_at__isnull=False).order_by(F("deleted_at").desc(), "-pk")
    qs = qs.filter(deleted_at__isnull=True)
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
    qs = review_queue(stores=stores, status=None).order_by()
    failed = Q(n_failed_sources__gt=0) | Q(n_failed_pushes__gt=0) | Q(n_failed_jobs__gt=0)
    kept = Q(deleted_at__isnull=True)  # every filter but "deleted" leaves deleted ones out
    return qs.aggregate(
        waiting=Count("pk", filter=kept & Q(n_ready__gt=0)),
        approved=Count("pk", filter=kept & Q(n_approved__gt=0)),
        pushed=Count("pk", filter=kept & Q(n_pushed__gt=0)),
        failed=Count("pk", filter=kept & failed),
        flagged=Count("pk", filter=kept & Q(n_flagged__gt=0)),
        all=Count("pk", filter=kept),
        deleted=Count("pk", filter=~kept),
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


# What a refused delivery's note starts with (services.shopify.webhooks, at intake).
REFUSED = "refused: "


def webhook_events_failed() -> QuerySet[WebhookEvent]:
    """Webhook events an operator should look at, newest first: those that failed (with the
    reason) and those refused at intake (a payload naming another shop than its header)."""
    return WebhookEvent.objects.filter(
        Q(status=WebhookEvent.Status.FAILED)
        | Q(status=WebhookEvent.Status.IGNORED, error__startswith=REFUSED)
    ).select_related("store").order_by("-received_at", "-pk")


def active_user(*, username: str):
    """The active account of `username`, or None."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


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


# Jobs that count against a store's monthly limit: sent to a worker this month and neither
# failed nor cancelled.
GENERATIONS_COUNTED = (
    GenerationJob.Status.DISPATCHED,
    GenerationJob.Status.RUNNING,
    GenerationJob.Status.SUCCEEDED,
    GenerationJob.Status.PARTIAL,
)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def generations_this_month(*, now: datetime, store: Store | None = None) -> dict[int, int]:
    """Generations counted against the monthly limit so far this month, per store id (of one
    store, when given)."""
    jobs = GenerationJob.objects.filter(
        status__in=GENERATIONS_COUNTED, dispatched_at__gte=month_start(now)
    )
    if store is not None:
        jobs = jobs.filter(store=store)
    counts = jobs.values("store_id").annotate(n=Count("pk")).order_by()
    return {row["store_id"]: row["n"] for row in counts}


def store_usage(*, store: Store, now: datetime | None = None) -> dict:
    """Generations used this month against the store's limit, what is held and why, and this
    month's images with their energy and carbon (of jobs that finished this month)."""
    now = now or timezone.now()
    used = generations_this_month(now=now, store=store).get(store.pk, 0)
    held = GenerationJob.objects.filter(store=store, status=GenerationJob.Status.HELD)
    by_reason = dict(held.values_list("hold_reason").annotate(n=Count("pk")).order_by())
    waiting_note = (held.filter(hold_reason="clean_grid").order_by("-pk")
                    .values_list("error", flat=True).first())
    energy = GenerationJob.objects.filter(store=store, finished_at__gte=month_start(now)) \
        .aggregate(wh=Sum("energy_wh"), g=Sum("co2e_g"))
    last_day = calendar.monthrange(now.year, now.month)[1]
    return {
        "month": month_start(now).strftime("%Y-%m"),
        "used": used,
        "limit": store.monthly_generation_limit,
        "remaining": max(0, store.monthly_generation_limit - used),
        "held": sum(by_reason.values()),
        "held_by_reason": by_reason,
        "clean_grid_note": waiting_note or "",
        "resets_on": now.replace(day=last_day).date().isoformat(),
        "images": GeneratedImage.objects.filter(
            product__store=store, created_at__gte=month_start(now)).count(),
        "energy_wh": round(energy["wh"] or 0.0, 6),
        "co2e_g": round(energy["g"] or 0.0, 6),
    }


def login_lockout_ends(*, username: str | None, address: str | None, limit: int,
                       cool_off: timedelta, now: datetime | None = None) -> datetime | None:
    """When the login lockout of this account or address ends (django-axes' attempts): the
    moment fewer than `limit` failures are left within `cool_off`, the later of the two;
    None when neither is locked."""
    now = now or timezone.now()
    ends = []
    for field, value in (("username", username), ("ip_address", address)):
        if not value:
            continue
        rows = (AccessAttempt.objects.filter(**{field: value},
                                             attempt_time__gte=now - cool_off)
                .order_by("-attempt_time").values_list("attempt_time", "failures_since_start"))
        total = 0
        for attempt_time, failures in rows:
            total += failures
            if total >= limit:  # the lock holds until this row leaves the window
                ends.append(attempt_time + cool_off)
                break
    return max(ends) if ends else None


def energy_per_image(*, since: datetime, limit: int = 5000) -> list[dict]:
    """Median Wh per generated image since `since` (the newest `limit`), per device and
    source, then overall: what /status shows."""
    rows = GeneratedImage.objects.filter(created_at__gte=since, energy_wh__isnull=False) \
        .order_by("-pk").values_list("energy_wh", "energy")[:limit]
    parts: dict[tuple[str, str], list[float]] = {}
    totals = []
    for wh, energy in rows:
        totals.append(wh)
        for device, info in ((energy or {}).get("devices") or {}).items():
            parts.setdefault((device, info["source"]), []).append(info["wh"])
    out = [{"device": d, "source": s, "images": len(v), "median_wh": statistics.median(v)}
           for (d, s), v in sorted(parts.items())]
    if totals:
        out.append({"device": "all", "source": "", "images": len(totals),
                    "median_wh": statistics.median(totals)})
    return out


def review_version(*, stores: QuerySet[Store], product_id: int | None = None) -> str:
    """A fingerprint of what the review page shows for `stores` (or one product): outputs,
    jobs, pushes and products, by status, with their newest ids and times. It changes when
    an output is made or decided, a job moves on, a push changes status, a product is
    ingested or edited. Four small aggregate queries and no serializing: the page polls with
    it as an ETag, and an unchanged answer is a 304."""
    scope = {"product_id": product_id} if product_id is not None else {}
    grouped = [
        GeneratedImage.objects.filter(product__store__in=stores, **scope).values("status")
        .annotate(n=Count("pk"), top=Max("pk"), at=Max("decided_at")),
        GenerationJob.objects.filter(store__in=stores, **scope).values("status")
        .annotate(n=Count("pk"), top=Max("pk"), at=Max("finished_at"), run=Max("started_at")),
        Push.objects.filter(store__in=stores, **scope).values("status")
        .annotate(n=Count("pk"), top=Max("pk"), at=Max("updated_at")),
    ]
    products = Product.objects.filter(store__in=stores)
    if product_id is not None:
        products = products.filter(pk=product_id)
    parts = [sorted(repr(sorted(row.items())) for row in qs.order_by()) for qs in grouped]
    parts.append(sorted(products.aggregate(n=Count("pk"), at=Max("updated_at")).items()))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def products_generating(*, stores: QuerySet[Store]) -> int:
    """How many products have a generation under way (queued, dispatched or running)."""
    busy = ("queued", "dispatched", "running")
    return (GenerationJob.objects.filter(store__in=stores, status__in=busy)
            .values("product_id").distinct().count())
