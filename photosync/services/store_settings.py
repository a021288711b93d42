"""A store's own settings: what the merchant may change, validated, and what they mean.

Settings live in `Store.settings` (JSON). Only the keys below are accepted; each is checked
against the pipeline's presets and sane ranges (`store_setting_clean`, also what a
regeneration's overrides go through), and an invalid value is refused with a message naming
it, leaving the store's settings untouched.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction

from photosync.models import Store
from photosync.services.generation_config import STORE_SETTING_DEFAULTS
from photosync.services.presets import (
    frame_preset_problem,
    preset_choices,
    prompt_guidance,
    scene_preset_names,
    scene_presets_unknown,
)
from photosync.services.scheduling import store_limit_set
from photosync.services.segmenters import segmenter_choices

SHADOWS = ("auto", "none", "contact", "drop")  # auto: the framing preset's own
AUTO_APPROVE = ("never", "framed", "all")  # flagged outputs are never auto-approved
HARMONIZE = ("off", "grade")  # grade: scene outputs relit toward the scene (flagged `relit`)
OUTPUT_FORMATS = ("png", "jpeg", "webp")
VARIATIONS = (1, 8)  # the fewest and the most scene variations per preset
GRID_THRESHOLD_MAX = 2000  # g CO2e/kWh; the dirtiest grids are about 1,000
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")

EDITABLE_DEFAULTS = {
    **STORE_SETTING_DEFAULTS,
    "auto_approve": "never",
    "offpeak": "",
    # Backfills in the window's cleanest hours, or below this g CO2e/kWh (services.clean_grid).
    "clean_grid_backfills": False,
    "clean_grid_threshold": 0,
    "harmonize": None,  # None: the deployment's PHOTOSYNC_HARMONIZE
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
    if values["harmonize"] is None:
        values["harmonize"] = settings.PHOTOSYNC_HARMONIZE
    values["monthly_generation_limit"] = store.monthly_generation_limit
    values["timezone"] = store.timezone
    return values


def store_settings_choices() -> dict:
    """What each setting may be set to, for the settings page."""
    return {
        **preset_choices(),
        "shadow": list(SHADOWS),
        "auto_approve": list(AUTO_APPROVE),
        "output_format": list(OUTPUT_FORMATS),
        "harmonize": list(HARMONIZE),
        "variations": {"min": VARIATIONS[0], "max": VARIATIONS[1]},
        "clean_grid_threshold": {"min": 0, "max": GRID_THRESHOLD_MAX},
        "custom_prompt": prompt_guidance(scene_generator=settings.PHOTOSYNC_SCENE_GENERATOR),
        # Not a store setting: what a regeneration may ask for (the Regenerate form).
        "segmenter": segmenter_choices(),
    }


def store_setting_clean(key: str, value):
    """The value to keep for one setting, or SettingsError naming it and why."""
    if key == "frame_preset":
        problem = frame_preset_problem(str(value))
        if problem:
            raise SettingsError(key, problem)
        return str(value)
    if key == "scene_presets":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingsError(key, "scene_presets must be a list of preset names.")
        unknown = scene_presets_unknown(value)
        if unknown:
            raise SettingsError(
                key, f"Unknown scene presets {unknown}; known: {scene_preset_names()}."
            )
        return list(dict.fromkeys(value))
    if key == "variations":
        low, high = VARIATIONS
        if not _whole(value) or not low <= value <= high:
            raise SettingsError(key, f"variations must be a whole number from {low} to {high}.")
        return value
    if key == "monthly_generation_limit":
        if not _whole(value) or value < 0:
            raise SettingsError(key, "monthly_generation_limit must be a whole number ≥ 0.")
        return value
    if key == "clean_grid_backfills":
        if not isinstance(value, bool):
            raise SettingsError(key, "clean_grid_backfills must be true or false.")
        return value
    if key == "clean_grid_threshold":
        if not _whole(value) or not 0 <= value <= GRID_THRESHOLD_MAX:
            raise SettingsError(key, "clean_grid_threshold must be a whole number of g CO₂e/kWh "
                                     f"from 0 (none) to {GRID_THRESHOLD_MAX}.")
        return value
    if key in _CHOICES:
        allowed = _CHOICES[key]
        if value not in allowed:
            raise SettingsError(
                key, f"{key} must be one of {', '.join(allowed)}; got {value!r}."
            )
        return value
    if key == "custom_prompt":
        text = str(value or "").strip()
        if len(text) > 500:
            raise SettingsError(key, "custom_prompt may be at most 500 characters.")
        return text
    if key == "offpeak":
        text = str(value or "").replace(" ", "")
        if text and not _WINDOW.match(text):
            raise SettingsError(key, 'offpeak must look like "01:00-06:00" (or be empty).')
        return text
    if key == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(key, f"Unknown time zone {value!r}.") from None
        return str(value)
    raise SettingsError(key, f"{key!r} is not a setting a store can change.")


def store_settings_update(*, store: Store, changes: dict) -> dict:
    """Validate and apply `changes`; return the effective settings."""
    clean = {key: store_setting_clean(key, value) for key, value in changes.items()}
    # The limit and the time zone are columns of their own, not part of Store.settings.
    limit = clean.pop("monthly_generation_limit", None)
    zone = clean.pop("timezone", None)
    with transaction.atomic():
        store = Store.objects.select_for_update().get(pk=store.pk)
        store.settings = {**store.settings, **clean}
        fields = ["settings", "updated_at"]
        if zone is not None:
            store.timezone = zone
            fields.append("timezone")
        store.save(update_fields=fields)
        if limit is not None:
            store_limit_set(store=store, limit=limit)
    return store_settings_get(store=store)


_CHOICES = {"shadow": SHADOWS, "auto_approve": AUTO_APPROVE, "output_format": OUTPUT_FORMATS,
            "harmonize": HARMONIZE}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
