"""A store's own settings: what the merchant may change, validated, and what they mean.

Settings live in `Store.settings` (JSON). Only the keys below are accepted; each is checked
against the pipeline's presets and sane ranges, and an invalid value is refused with a
message naming it, leaving the store's settings untouched.
"""

from __future__ import annotations

import calendar
import re

from django.db import transaction
from django.utils import timezone

from photosync.models import GeneratedImage, GenerationJob, Store
from photosync.services.generation_config import STORE_SETTING_DEFAULTS

SHADOWS = ("none", "contact", "drop")
AUTO_APPROVE = ("never", "framed", "all")  # flagged outputs are never auto-approved
OUTPUT_FORMATS = ("png", "jpeg", "webp")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")

EDITABLE_DEFAULTS = {
    **STORE_SETTING_DEFAULTS,
    "auto_approve": "never",
    "offpeak": "",
}


class SettingsError(ValueError):
    """A setting was refused; `field` names it and the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def store_settings_get(*, store: Store) -> dict:
    """Every editable setting with its effective value, plus the limit and time zone."""
    values = {**EDITABLE_DEFAULTS, **{k: v for k, v in store.settings.items()
                                      if k in EDITABLE_DEFAULTS}}
    values["monthly_generation_limit"] = store.monthly_generation_limit
    values["timezone"] = store.timezone
    return values


def store_settings_update(*, store: Store, changes: dict) -> dict:
    """Validate and apply `changes`; return the effective settings."""
    from pipeline import FRAME_PRESETS, SCENE_PRESETS
    from pipeline.errors import ConfigError
    from pipeline.presets import frame_preset

    clean: dict = {}
    for key, value in changes.items():
        if key == "frame_preset":
            if value not in FRAME_PRESETS:
                try:
                    frame_preset(str(value))
                except ConfigError as exc:
                    raise SettingsError(key, str(exc)) from None
            clean[key] = str(value)
        elif key == "scene_presets":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise SettingsError(key, "scene_presets must be a list of preset names.")
            unknown = [v for v in value if v not in SCENE_PRESETS]
            if unknown:
                raise SettingsError(
                    key, f"Unknown scene presets {unknown}; known: {sorted(SCENE_PRESETS)}."
                )
            clean[key] = list(dict.fromkeys(value))
        elif key == "variations":
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 8:
                raise SettingsError(key, "variations must be a whole number from 1 to 8.")
            clean[key] = value
        elif key == "shadow":
            _choice(key, value, SHADOWS)
            clean[key] = value
        elif key == "auto_approve":
            _choice(key, value, AUTO_APPROVE)
            clean[key] = value
        elif key == "output_format":
            _choice(key, value, OUTPUT_FORMATS)
            clean[key] = value
        elif key == "custom_prompt":
            text = str(value or "").strip()
            if len(text) > 500:
                raise SettingsError(key, "custom_prompt may be at most 500 characters.")
            clean[key] = text
        elif key == "offpeak":
            text = str(value or "").replace(" ", "")
            if text and not _WINDOW.match(text):
                raise SettingsError(key, 'offpeak must look like "01:00-06:00" (or be empty).')
            clean[key] = text
        elif key == "monthly_generation_limit":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SettingsError(key, "monthly_generation_limit must be a whole number ≥ 0.")
        elif key == "timezone":
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise SettingsError(key, f"Unknown time zone {value!r}.") from None
        else:
            raise SettingsError(key, f"{key!r} is not a setting a store can change.")
    with transaction.atomic():
        store = Store.objects.select_for_update().get(pk=store.pk)
        store.settings = {**store.settings, **clean}
        fields = ["settings", "updated_at"]
        if "timezone" in changes:
            store.timezone = str(changes["timezone"])
            fields.append("timezone")
        store.save(update_fields=fields)
        if "monthly_generation_limit" in changes:
            from photosync.services.scheduling import store_limit_set

            store_limit_set(store=store, limit=changes["monthly_generation_limit"])
    return store_settings_get(store=store)


def store_usage(*, store: Store) -> dict:
    """Generations used this month against the store's limit."""
    from photosync.services.scheduling import COUNTED, _month_start

    now = timezone.now()
    start = _month_start(now)
    used = GenerationJob.objects.filter(
        store=store, status__in=COUNTED, dispatched_at__gte=start
    ).count()
    held = GenerationJob.objects.filter(store=store, status="held").count()
    last_day = calendar.monthrange(now.year, now.month)[1]
    return {
        "month": start.strftime("%Y-%m"),
        "used": used,
        "limit": store.monthly_generation_limit,
        "remaining": max(0, store.monthly_generation_limit - used),
        "held": held,
        "resets_on": now.replace(day=last_day).date().isoformat(),
    }


def images_auto_approve(*, job: GenerationJob) -> int:
    """Apply the store's auto-approve rule to a finished job; never to flagged outputs."""
    from photosync.services.review import image_approve

    rule = job.store.settings.get("auto_approve", "never")
    if rule == "never":
        return 0
    candidates = GeneratedImage.objects.filter(job=job, status=GeneratedImage.Status.READY,
                                               flags=[])
    if rule == "framed":
        candidates = candidates.filter(kind=GeneratedImage.Kind.FRAMED)
    count = 0
    for image in candidates:
        image_approve(image=image)
        count += 1
    return count


def _choice(key: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(key, f"{key} must be one of {', '.join(allowed)}; got {value!r}.")

