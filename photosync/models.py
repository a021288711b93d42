"""The system of record.

Rows are written only through `photosync.services`; reads go through `photosync.selectors`.
The merchant's originals (SourceImage) are never deleted by processing, and every push keeps
what is needed to roll it back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Platform(models.TextChoices):
    LOCAL = "local", "Local folder"
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class Store(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        NEEDS_REAUTH = "needs_reauth"
        UNINSTALLED = "uninstalled"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    # myshopify domain, WooCommerce site URL, or the local folder's absolute path.
    domain = models.CharField(max_length=500)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Fernet token of a JSON object; read and written only by services.store_credentials_*.
    credentials_encrypted = models.BinaryField(default=b"", editable=False)
    settings = models.JSONField(default=dict, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    monthly_generation_limit = models.PositiveIntegerField(default=1000)
    # Reconciliation watermark: the newest remote updated_at fully processed.
    watermark = models.DateTimeField(null=True, blank=True)
    last_swept_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher serves the store that waited longest, so no store starves another.
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "domain"], name="store_platform_domain")
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.domain}"


class Product(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="products")
    # Kept as text: Shopify ids may exceed 2**53 and local ids are folder names.
    remote_id = models.CharField(max_length=255)
    title = models.CharField(max_length=500, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    # Hash of the inputs that matter (merchant images, title, type); generation runs only
    # when it changes, which is also what makes our own pushes' echoes harmless.
    input_hash = models.CharField(max_length=64, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    # Set when the store deleted the product (or, on WooCommerce, trashed it): it leaves the
    # review queue (listed under "Deleted"), and nothing is pushed to it. Cleared on restore.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "remote_id"], name="product_store_remote")
        ]
        indexes = [models.Index(fields=["store", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or self.remote_id


class SourceImage(models.Model):
    """A merchant's original image, copied into our storage and never discarded."""

    class Status(models.TextChoices):
        PENDING = "pending"
        OK = "ok"
        FAILED = "failed"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="sources")
    remote_id = models.CharField(max_length=255)
    version = models.CharField(max_length=255, blank=True)
    src = models.TextField(blank=True)
    alt = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="sources/", max_length=500, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # The variant (WooCommerce: variation) whose own image this is; "" for the gallery's.
    # Its outputs are pushed back to that variant.
    variant_id = models.CharField(max_length=255, blank=True)
    # Set when the photo left the product (removed, or replaced by other bytes): its waiting
    # outputs are superseded, and it is no longer generated from.
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "remote_id", "version"], name="source_product_remote_version"
            )
        ]
        ordering = ["position", "id"]


class GenerationJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"  # waiting for the dispatcher (fair across stores, by priority)
        DISPATCHED = "dispatched"  # sent to the broker
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        PARTIAL = "partial"  # some source images failed; the rest produced outputs
        FAILED = "failed"
        CANCELLED = "cancelled"
        HELD = "held"

    class Reason(models.TextChoices):
        NEW = "new"
        UPDATE = "update"
        REGENERATE = "regenerate"
        TOUCH_UP = "touch_up"  # the merchant edited a cutout's mask (MaskEdit)
        BACKFILL = "backfill"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="jobs")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="jobs")
    input_hash = models.CharField(max_length=64)
    # Unique per (product, input hash) for automatic work; regenerations get a fresh key.
    dedupe_key = models.CharField(max_length=200, unique=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, default=Reason.NEW)
    priority = models.SmallIntegerField(default=5)
    queue = models.CharField(max_length=40, default="generate-cpu")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    config = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)  # written for the merchant to read
    # Why a job is held (e.g. the monthly limit, no GPU alive): shown to the merchant.
    hold_reason = models.CharField(max_length=40, blank=True)
    worker = models.CharField(max_length=200, blank=True)  # heartbeat name of the runner
    attempts = models.PositiveIntegerField(default=0)
    # Energy of every attempt (services.energy): Wh, g CO2e and the grid intensity used;
    # `energy` has the devices, their sources and the stages.
    energy_wh = models.FloatField(null=True, blank=True)
    co2e_g = models.FloatField(null=True, blank=True)
    grid_g_per_kwh = models.FloatField(null=True, blank=True)
    energy = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "priority", "created_at"])]


class GeneratedImage(models.Model):
    class Kind(models.TextChoices):
        FRAMED = "framed"
        SCENE = "scene"

    class Status(models.TextChoices):
        READY = "ready"
        APPROVED = "approved"
        REJECTED = "rejected"
        PUSHED = "pushed"
        FAILED = "failed"
        # Its source photo was removed or changed on the store before a decision, or the
        # merchant touched up the cutout it was made from: it left the queue (kept for the
        # record, never pushed).
        SUPERSEDED = "superseded"

    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="images")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="generated")
    source = models.ForeignKey(SourceImage, on_delete=models.CASCADE, related_name="generated")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    preset = models.CharField(max_length=100)
    generator = models.CharField(max_length=300, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READY)
    file = models.FileField(upload_to="generated/", max_length=500)
    # The mask it was made from (L-mode PNG at the upright source size; shared by the outputs
    # of one photo in one job): what a touch-up edits. Empty for outputs made before it was kept.
    mask = models.FileField(upload_to="masks/", max_length=500, blank=True)
    content_type = models.CharField(max_length=50, default="image/png")
    content_hash = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    flags = models.JSONField(default=list, blank=True)  # [{code, message}]: see photosync.flags
    alt_text = models.TextField(blank=True)
    featured = models.BooleanField(default=False)
    # This output's share of its job's energy (pipeline.energy.split_energy, services.energy).
    energy_wh = models.FloatField(null=True, blank=True)
    co2e_g = models.FloatField(null=True, blank=True)
    energy = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["product", "status"])]
        ordering = ["id"]


class MaskEdit(models.Model):
    """A merchant's touch-up of one photo's cutout: keep/erase brush strokes over the mask an
    output was made from, and the generation that re-ran framing, shadow and scenes from the
    edited mask. Edits chain (touching up a touched-up output starts from its mask), so the
    rows of a photo are its history."""

    source = models.ForeignKey(SourceImage, on_delete=models.CASCADE, related_name="mask_edits")
    # The output whose mask was edited; its mask file is kept in base_mask (outputs go away).
    base_image = models.ForeignKey("GeneratedImage", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    base_mask = models.CharField(max_length=500)
    # [{"mode": "keep"|"erase", "radius": px, "points": [[x, y], ...]}] in source pixels.
    strokes = models.JSONField(default=list)
    # The edited mask as the outputs used it (their GeneratedImage.mask), once they exist.
    mask = models.FileField(upload_to="masks/", max_length=500, blank=True)
    kept_px = models.PositiveIntegerField(null=True, blank=True)  # set by the worker
    erased_px = models.PositiveIntegerField(null=True, blank=True)
    job = models.OneToOneField(GenerationJob, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="mask_edit")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class Push(models.Model):
    """Outbox row: one approved image on its way to the store, keyed by its content.

    Live means read back: the store showed the image with the alt text and featured choice
    recorded in `sent_alt` / `sent_featured`. An edit of those on a live image makes the row
    an update (`kind`) and sends it again, with the same statuses."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        UPLOADING = "uploading"
        PROCESSING = "processing"  # the store accepted it and is still processing the media
        LIVE = "live"
        FAILED = "failed"
        ROLLED_BACK = "rolled_back"
        # Never sent: the product was deleted (or trashed) on the store; `error` says so.
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        ADD = "add"  # put the image on the product
        UPDATE = "update"  # change the alt text / featured choice of the image on the store

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="pushes")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="pushes")
    image = models.ForeignKey(GeneratedImage, on_delete=models.CASCADE, related_name="pushes")
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    remote_id = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ADD)
    # Gallery as it was before this push (ids, order, featured, alt), for rollback.
    previous_state = models.JSONField(default=dict, blank=True)
    # What the store was last seen showing for the image (read back after the write).
    sent_alt = models.TextField(blank=True)
    sent_featured = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    # Read-backs in a row that did not show the write; the push fails after a few.
    checks_failed = models.PositiveSmallIntegerField(default=0)
    # Set while the store cannot be reached: the push keeps retrying, with a capped backoff.
    waiting_since = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    # When its last push or poll message was sent (a delayed one: when it falls due); None
    # when the send failed. Recovery re-sends only once no copy can still be in flight.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["store", "product", "content_hash"], name="push_store_product_content"
            )
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]


class WebhookEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    # The platform's identity of one delivery (Shopify X-Shopify-Webhook-Id; WooCommerce
    # store + topic + resource id + date_modified_gmt).
    delivery_id = models.CharField(max_length=255)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_events"
    )
    topic = models.CharField(max_length=100)
    shop_domain = models.CharField(max_length=500, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # When its processing was last sent to the broker (None: the send failed, or it never
    # was): recovery re-sends it only once no copy can still be in flight.
    sent_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # A drain pass working on it (services.webhook_events): which one, and until when; a
    # claim that outlived its pass (the worker died) is free again, and recovery re-sends.
    claimed_by = models.CharField(max_length=64, null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "delivery_id"], name="webhook_delivery")
        ]
        indexes = [models.Index(fields=["status", "received_at"])]


class Lease(models.Model):
    """A named, expiring lock held by one process (syncd ticks, per-store reconciles)."""

    name = models.CharField(max_length=200, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()


class WorkerHeartbeat(models.Model):
    """Workers report in; the dispatcher routes GPU work only while a GPU worker is alive."""

    name = models.CharField(max_length=200, unique=True)  # host:pid
    kind = models.CharField(max_length=10, default="cpu")  # cpu | gpu
    queues = models.JSONField(default=list)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()


class WooCommerceAuthRequest(models.Model):
    """One wc-auth attempt: the single-use state sent as `user_id`, and what came back.

    The store's callback is unsigned, so it is accepted only for a pending state, and the key
    it carries is verified against the store before a Store is created or updated. The key
    waits here (encrypted) only between the callback and that verification.
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # the merchant was sent to the store's authorize page
        RECEIVED = "received"  # the store posted a key; verification is queued
        VERIFIED = "verified"  # the key works: the store is connected
        FAILED = "failed"
        DECLINED = "declined"  # the merchant refused on the store's page

    state = models.CharField(max_length=100, unique=True)
    store_url = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Fernet token of the posted key, cleared once verification has decided.
    credentials_encrypted = models.BinaryField(default=b"", editable=False)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="woocommerce_auth"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    error = models.TextField(blank=True)  # for the merchant to read
    created_at = models.DateTimeField(auto_now_add=True)
    callback_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)


class UsedToken(models.Model):
    """A single-use token already spent (the WooCommerce embed handoff), by its `jti`: the
    unique key refuses a second use in any process; rows go once the token has expired."""

    jti = models.CharField(max_length=150, unique=True)
    expires_at = models.DateTimeField(db_index=True)
