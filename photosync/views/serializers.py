"""The JSON shapes of the versioned API (`/api/v1/`): what the admin page reads and sends.

Image URLs are relative to the app and need no cookie (the Shopify iframe sends none):
generated images as public thumbnails at display size, originals as expiring signed links.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from photosync.flags import flag_codes, flags_read
from photosync.models import (
    GeneratedImage,
    GenerationJob,
    MaskEdit,
    Product,
    Push,
    SourceImage,
    Store,
)
from photosync.services.energy import energy_label
from photosync.services.media import media_public_url
from photosync.services.segmenters import segmenter_problem
from photosync.services.store_settings import SettingsError, store_setting_clean
from photosync.services.thumbnails import generated_thumb_url, mask_link, original_link

ROLLBACK_FROM = (Push.Status.LIVE, Push.Status.PROCESSING, Push.Status.FAILED)
# What the fidelity badge shows on hover, in this order, when an output has it.
FIDELITY_METRICS = (
    "product_max_abs_diff",
    "product_mean_abs_diff",
    "product_compared_share",
    "output_delta_e_mean",
    "output_delta_e_p95",
    "enhance_change_delta_e_mean",
    "enhance_ev",
    "relit_ev",
    "relit_delta_e_mean",
    "delta_e_mean",  # outputs made before the enhancement metrics were renamed
    "delta_e_p95",
    "background_purity",
    "background_purity_outside_shadow",
    "fill_ratio",
    "product_scale",
    "mask_area_fraction",
    "mask_components",
    "mask_border_contact",
)


def _user_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


class StoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "name", "platform", "domain", "status"]


class SourceSerializer(serializers.ModelSerializer):
    original = serializers.SerializerMethodField(help_text="Signed link, 640 px, expires.")
    original_full = serializers.SerializerMethodField(help_text="Signed link, full size.")

    class Meta:
        model = SourceImage
        fields = ["id", "remote_id", "position", "alt", "status", "error", "width", "height",
                  "superseded_at", "original", "original_full"]

    def get_original(self, obj: SourceImage) -> str | None:
        return original_link(source_id=obj.pk, size=640) if obj.file else None

    def get_original_full(self, obj: SourceImage) -> str | None:
        return original_link(source_id=obj.pk) if obj.file else None


class GeneratedSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="Public URL the store downloads.")
    full = serializers.SerializerMethodField(help_text="The full-size file, on this app.")
    thumb = serializers.SerializerMethodField(help_text="320 px thumbnail, cached a year.")
    thumb_2x = serializers.SerializerMethodField(help_text="640 px thumbnail for dense screens.")
    flags = serializers.SerializerMethodField(
        help_text="Why this output needs a look: [{code, message}]; codes are listed in the "
                  "README (`legacy` for a reason stored before flags had codes).")
    fidelity = serializers.SerializerMethodField()
    energy = serializers.SerializerMethodField(
        help_text="This output's share of its job's energy: Wh, g CO2e, sources; null before "
                  "it is recorded.")
    background_removal = serializers.SerializerMethodField()
    touch_up = serializers.SerializerMethodField(
        help_text="Signed links to the mask this output was made from (`mask`) and to the "
                  "touch-up editor's layer of it (`overlay`), the edit that made it "
                  "(`edit`); null when no mask was kept (older outputs).")

    class Meta:
        model = GeneratedImage
        fields = [
            "id", "product", "source", "job", "kind", "preset", "generator", "seed", "status",
            "url", "full", "thumb", "thumb_2x", "width", "height", "metrics", "flags",
            "fidelity", "energy", "background_removal", "touch_up", "alt_text", "featured",
            "decided_at", "created_at",
        ]

    def get_touch_up(self, obj: GeneratedImage) -> dict | None:
        if not obj.mask:
            return None
        return {"mask": mask_link(image_id=obj.pk),
                "overlay": mask_link(image_id=obj.pk, overlay=True),
                "edit": (obj.metrics or {}).get("mask_edit")}

    def get_url(self, obj: GeneratedImage) -> str:
        return media_public_url(obj.file.name)

    def get_full(self, obj: GeneratedImage) -> str:
        return reverse("generated-media", kwargs={"path": obj.file.name})

    def get_thumb(self, obj: GeneratedImage) -> str:
        return generated_thumb_url(name=obj.file.name, size=320)

    def get_thumb_2x(self, obj: GeneratedImage) -> str:
        return generated_thumb_url(name=obj.file.name, size=640)

    def get_flags(self, obj: GeneratedImage) -> list[dict[str, str]]:
        return flags_read(obj.flags)

    def get_fidelity(self, obj: GeneratedImage) -> dict:
        """`passed`: no flag code at all (`codes` says which); `numbers` for the badge."""
        metrics = obj.metrics or {}
        codes = flag_codes(obj.flags)
        return {
            "passed": not codes,
            "codes": codes,
            "numbers": {k: metrics[k] for k in FIDELITY_METRICS if k in metrics},
        }


    def get_energy(self, obj: GeneratedImage) -> dict | None:
        if obj.energy_wh is None:
            return None
        devices = (obj.energy or {}).get("devices") or {}
        sources = sorted({d["source"] for d in devices.values()})
        return {"wh": obj.energy_wh, "co2e_g": obj.co2e_g, "sources": sources,
                "devices": devices,
                "g_per_kwh": ((obj.energy or {}).get("grid") or {}).get("g_per_kwh"),
                "label": energy_label(wh=obj.energy_wh, co2e_g=obj.co2e_g, sources=sources)}

    def get_background_removal(self, obj: GeneratedImage) -> dict:
        """Who removed the background, in words ("Background removed by remove.bg API"); why
        the configured segmenter did not (a fallback), and what a hosted API charged."""
        metrics = obj.metrics or {}
        segmenter = metrics.get("segmenter", "")
        by = metrics.get("segmenter_label") or segmenter
        return {
            "segmenter": segmenter,
            "text": f"Background removed by {by}" if by else "",
            "requested": metrics.get("segmenter_requested"),
            "fallback_reason": metrics.get("segmenter_fallback_reason"),
            "cost_usd": metrics.get("segmenter_cost_usd"),
        }


class JobSerializer(serializers.ModelSerializer):
    settings = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = ["id", "status", "reason", "error", "hold_reason", "notes", "timings",
                  "settings", "energy_wh", "co2e_g", "grid_g_per_kwh", "energy", "created_at",
                  "started_at", "finished_at"]

    def get_settings(self, obj: GenerationJob) -> dict:
        config = obj.config or {}
        keys = ("frame_preset", "shadow", "scene_presets", "variations", "custom_prompt",
                "scene_generator", "segmenter")
        return {k: config[k] for k in keys if k in config}


class PushSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    action = serializers.CharField(source="kind", read_only=True, help_text=(
        "add: putting the image on the product; update: changing its alt text or featured "
        "choice on the store."))
    kind = serializers.CharField(source="image.kind", read_only=True)
    preset = serializers.CharField(source="image.preset", read_only=True)
    generator = serializers.CharField(source="image.generator", read_only=True)
    seed = serializers.IntegerField(source="image.seed", read_only=True, allow_null=True)
    alt_text = serializers.CharField(source="image.alt_text", read_only=True)
    featured = serializers.BooleanField(source="image.featured", read_only=True)
    thumb = serializers.SerializerMethodField()
    can_retry = serializers.SerializerMethodField()
    can_rollback = serializers.SerializerMethodField()

    class Meta:
        model = Push
        fields = ["id", "product", "image", "status", "action", "waiting_since", "remote_id",
                  "error", "attempts", "requested_by", "created_at", "updated_at", "pushed_at",
                  "kind", "preset", "generator", "seed", "alt_text", "featured", "thumb",
                  "can_retry", "can_rollback"]
        extra_kwargs = {
            "waiting_since": {"help_text": "Set while the store cannot be reached: since when "
                                           "the push has been waiting for it (it keeps "
                                           "trying)."},
        }

    def get_requested_by(self, obj: Push) -> str:
        return _user_name(obj.requested_by)

    def get_thumb(self, obj: Push) -> str:
        return generated_thumb_url(name=obj.image.file.name, size=160)

    def get_can_retry(self, obj: Push) -> bool:
        return obj.status in (Push.Status.FAILED, Push.Status.ROLLED_BACK,
                              Push.Status.CANCELLED)

    def get_can_rollback(self, obj: Push) -> bool:
        return bool(obj.remote_id) and obj.status in ROLLBACK_FROM


class ProductListSerializer(serializers.ModelSerializer):
    store_name = serializers.CharField(source="store.name", read_only=True)
    waiting = serializers.IntegerField(source="n_ready")
    flagged = serializers.IntegerField(source="n_flagged")
    approved = serializers.IntegerField(source="n_approved")
    pushed = serializers.IntegerField(source="n_pushed")
    pushing = serializers.IntegerField(source="n_pushing")
    failed_sources = serializers.IntegerField(source="n_failed_sources")
    failed_pushes = serializers.IntegerField(source="n_failed_pushes")
    failed_jobs = serializers.IntegerField(source="n_failed_jobs")
    last_generated = serializers.DateTimeField(allow_null=True)
    thumb = serializers.SerializerMethodField(help_text="160 px thumbnail of the newest output.")

    class Meta:
        model = Product
        fields = ["id", "store", "store_name", "remote_id", "title", "product_type", "waiting",
                  "flagged", "approved", "pushed", "pushing", "failed_sources", "failed_pushes",
                  "failed_jobs", "last_generated", "thumb", "deleted_at", "deleted_reason"]

    def get_thumb(self, obj: Product) -> str | None:
        name = getattr(obj, "cover_file", None)
        return generated_thumb_url(name=name, size=160) if name else None


class TouchUpSerializer(serializers.Serializer):
    """Brush strokes over an output's cutout, in the photo's own pixels."""

    strokes = serializers.ListField(
        child=serializers.JSONField(), allow_empty=True,
        help_text='[{"mode": "keep"|"erase", "radius": px, "points": [[x, y], ...]}], applied '
                  "in order.")


class MaskEditSerializer(serializers.ModelSerializer):
    """One touch-up in a photo's history: who, when, what the brush changed, and its job."""

    by = serializers.SerializerMethodField()
    strokes = serializers.SerializerMethodField(help_text="How many strokes of each brush.")
    status = serializers.CharField(source="job.status", default=None, read_only=True)
    error = serializers.CharField(source="job.error", default="", read_only=True)

    class Meta:
        model = MaskEdit
        fields = ["id", "source", "base_image", "job", "status", "error", "by", "strokes",
                  "kept_px", "erased_px", "created_at"]

    def get_by(self, obj: MaskEdit) -> str:
        return _user_name(obj.created_by) if obj.created_by else ""

    def get_strokes(self, obj: MaskEdit) -> dict[str, int]:
        modes = [stroke.get("mode") for stroke in obj.strokes or []]
        return {"keep": modes.count("keep"), "erase": modes.count("erase")}


class ProductSerializer(serializers.ModelSerializer):
    store_name = serializers.CharField(source="store.name", read_only=True)
    platform = serializers.CharField(source="store.platform", read_only=True)
    sources = SourceSerializer(many=True)
    generated = GeneratedSerializer(many=True)
    jobs = JobSerializer(many=True)
    pushes = PushSerializer(many=True)
    mask_edits = serializers.SerializerMethodField(help_text="Touch-ups, newest first.")

    class Meta:
        model = Product
        fields = ["id", "store", "store_name", "platform", "remote_id", "title", "product_type",
                  "deleted_at", "deleted_reason", "sources", "generated", "jobs", "pushes",
                  "mask_edits"]

    @extend_schema_field(MaskEditSerializer(many=True))
    def get_mask_edits(self, obj: Product) -> list[dict]:
        edits = (MaskEdit.objects.filter(source__product=obj)
                 .select_related("job", "created_by").order_by("-id"))
        return MaskEditSerializer(edits, many=True).data


class ApproveSerializer(serializers.Serializer):
    alt_text = serializers.CharField(required=False, allow_blank=True, max_length=512)
    featured = serializers.BooleanField(required=False, default=False)


class BulkApproveSerializer(serializers.Serializer):
    images = serializers.ListField(child=serializers.IntegerField(), required=False,
                                   max_length=1000, default=list)
    products = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     max_length=1000, default=list)

    def validate(self, attrs):
        if not attrs["images"] and not attrs["products"]:
            raise serializers.ValidationError("Name the images or the products to approve.")
        return attrs


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.DictField())
    pushes = PushSerializer(many=True)


class RegenerateSerializer(serializers.Serializer):
    """What may differ from the store's settings for one regeneration."""

    frame_preset = serializers.CharField(required=False, max_length=100)
    scene_presets = serializers.ListField(child=serializers.CharField(max_length=100),
                                          required=False, max_length=8)
    custom_prompt = serializers.CharField(required=False, allow_blank=True, max_length=500)
    variations = serializers.IntegerField(required=False, min_value=1, max_value=8)
    shadow = serializers.CharField(required=False, max_length=20)
    segmenter = serializers.CharField(
        required=False, max_length=300,
        help_text="The background remover: `classical` or one the operator configured "
                  "(`choices.segmenter` of the settings); the deployment's default without.")

    def validate(self, attrs: dict) -> dict:
        """Each override is checked as the store's own setting is (one validator); the
        segmenter against the ones this deployment offers."""
        segmenter = attrs.pop("segmenter", None)
        if segmenter is not None:
            problem = segmenter_problem(segmenter)
            if problem:
                raise serializers.ValidationError({"segmenter": [problem]})
        try:
            clean = {key: store_setting_clean(key, value) for key, value in attrs.items()}
        except SettingsError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {**clean, "segmenter": segmenter} if segmenter else clean


class SettingsSerializer(serializers.Serializer):
    """A store's settings (GET) and the changes to make (PATCH: any subset)."""

    frame_preset = serializers.CharField(required=False)
    shadow = serializers.CharField(required=False)
    scene_presets = serializers.ListField(child=serializers.CharField(), required=False)
    variations = serializers.IntegerField(required=False)
    custom_prompt = serializers.CharField(required=False, allow_blank=True)
    output_format = serializers.CharField(required=False)
    auto_approve = serializers.CharField(required=False, help_text="never, framed or all; "
                                         "flagged outputs are never auto-approved.")
    offpeak = serializers.CharField(required=False, allow_blank=True,
                                    help_text='Backfill window, e.g. "01:00-06:00".')
    clean_grid_backfills = serializers.BooleanField(
        required=False, help_text="Run backfills in the window's cleanest grid hours.")
    clean_grid_threshold = serializers.IntegerField(
        required=False, help_text="Also run them while the grid is below this g CO2e/kWh "
                                  "(0: no threshold).")
    monthly_generation_limit = serializers.IntegerField(required=False)
    timezone = serializers.CharField(required=False)


class UsageSerializer(serializers.Serializer):
    month = serializers.CharField()
    used = serializers.IntegerField()
    limit = serializers.IntegerField()
    remaining = serializers.IntegerField()
    held = serializers.IntegerField()
    held_by_reason = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Held jobs per hold reason: monthly_limit, no_gpu, clean_grid.")
    clean_grid_note = serializers.CharField(
        help_text="Why backfills wait for a cleaner grid, and until when (empty if not).")
    resets_on = serializers.DateField()
    images = serializers.IntegerField(help_text="Images generated this month.")
    energy_wh = serializers.FloatField(help_text="Energy of this month's generation work.")
    co2e_g = serializers.FloatField(help_text="Its grams of CO2e at the grid's intensity.")
