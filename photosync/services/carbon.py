"""Grid carbon intensity: the current value and a forecast, from a URL or from the setting.

`PHOTOSYNC_GRID_INTENSITY_URL` answers JSON in this shape (docs/operations.md, "Energy and
carbon"); times are ISO 8601 (a time without an offset is UTC) and `forecast` may be empty:

    {"current": {"g_per_kwh": 212, "at": "2026-11-27T00:30:00Z"},
     "forecast": [{"start": "2026-11-27T01:00:00Z", "end": "2026-11-27T02:00:00Z",
                   "g_per_kwh": 180}, ...]}

Each process keeps the answer for `PHOTOSYNC_GRID_INTENSITY_CACHE` seconds. When the URL
fails (unreachable, slow past `PHOTOSYNC_GRID_INTENSITY_TIMEOUT`, not that shape), the value of
`PHOTOSYNC_GRID_INTENSITY` is used with the reason, the failure is logged once until the URL
answers again, and the URL is asked again after a minute at most.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import requests
from django.conf import settings

log = logging.getLogger(__name__)

SETTING, URL = "setting", "url"
_RETRY_FAILED_AFTER = 60.0


@dataclass(frozen=True)
class ForecastSlot:
    start: datetime
    end: datetime
    g_per_kwh: float


@dataclass(frozen=True)
class GridIntensity:
    """The intensity to use now (`g_per_kwh`), where it came from, and the forecast."""

    g_per_kwh: float
    source: str  # "url" | "setting"
    at: datetime | None = None
    forecast: tuple[ForecastSlot, ...] = ()
    note: str = ""  # why the setting stands in for the URL, when it does

    def at_time(self, when: datetime) -> float:
        """The forecast's value for `when`, else the current value."""
        return self.for_time(when).g_per_kwh

    def for_time(self, when: datetime) -> GridIntensity:
        """This answer as of `when`: the forecast's slot for it when there is one (a cached
        answer's "current" grows old; its forecast does not)."""
        for slot in self.forecast:
            if slot.start <= when < slot.end:
                return replace(self, g_per_kwh=slot.g_per_kwh, at=slot.start)
        return self

    def to_json(self) -> dict:
        return {"g_per_kwh": self.g_per_kwh, "source": self.source,
                "at": self.at.isoformat() if self.at else None,
                **({"note": self.note} if self.note else {})}


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    value: GridIntensity | None = None
    fetched: float = 0.0  # time.monotonic()
    failing: bool = False  # logged once per failure streak

    def fresh(self, url: str) -> bool:
        if self.url != url or self.value is None:
            return False
        ttl = settings.PHOTOSYNC_GRID_INTENSITY_CACHE
        if self.failing:
            ttl = min(_RETRY_FAILED_AFTER, ttl)
        return time.monotonic() - self.fetched < ttl


_cache = _Cache()


class ForecastError(ValueError):
    """The URL's answer is not the documented shape; the message says what is wrong."""


def grid_intensity() -> GridIntensity:
    """The grid's intensity now: from the URL (cached) when one is set, else the setting."""
    url = settings.PHOTOSYNC_GRID_INTENSITY_URL
    if not url:
        return GridIntensity(g_per_kwh=settings.PHOTOSYNC_GRID_INTENSITY, source=SETTING)
    with _cache.lock:
        if _cache.fresh(url):
            return _cache.value
        try:
            value = _fetch(url)
        except (requests.RequestException, ForecastError) as exc:
            value = GridIntensity(
                g_per_kwh=settings.PHOTOSYNC_GRID_INTENSITY, source=SETTING,
                note=f"The grid intensity URL failed ({_reason(exc)}); using the setting.")
            if not _cache.failing:
                log.warning("grid intensity URL failed (%s); using PHOTOSYNC_GRID_INTENSITY="
                            "%g until it answers again", _reason(exc), value.g_per_kwh)
            _cache.failing = True
        else:
            if _cache.failing:
                log.info("grid intensity URL answers again: %g g CO2e/kWh", value.g_per_kwh)
            _cache.failing = False
        _cache.url, _cache.value, _cache.fetched = url, value, time.monotonic()
        return value


def grid_cache_clear() -> None:
    """Forget the cached answer (tests, and an operator changing the URL at run time)."""
    with _cache.lock:
        _cache.url, _cache.value, _cache.fetched, _cache.failing = "", None, 0.0, False


def forecast_parse(body) -> GridIntensity:
    """The documented JSON shape as a GridIntensity; ForecastError naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("current"), dict):
        raise ForecastError('expected an object with "current": {"g_per_kwh": ...}')
    current = body["current"]
    slots = []
    for i, entry in enumerate(body.get("forecast") or []):
        if not isinstance(entry, dict):
            raise ForecastError(f"forecast[{i}] is not an object")
        start, end = _time(entry.get("start"), f"forecast[{i}].start"), _time(
            entry.get("end"), f"forecast[{i}].end")
        if end <= start:
            raise ForecastError(f"forecast[{i}] ends before it starts")
        slots.append(ForecastSlot(start, end, _grams(entry.get("g_per_kwh"),
                                                     f"forecast[{i}].g_per_kwh")))
    at = current.get("at")
    return GridIntensity(
        g_per_kwh=_grams(current.get("g_per_kwh"), "current.g_per_kwh"), source=URL,
        at=_time(at, "current.at") if at else None,
        forecast=tuple(sorted(slots, key=lambda s: s.start)))


def _fetch(url: str) -> GridIntensity:
    headers = {"Accept": "application/json"}
    if settings.PHOTOSYNC_GRID_INTENSITY_TOKEN:
        headers["Authorization"] = f"Bearer {settings.PHOTOSYNC_GRID_INTENSITY_TOKEN}"
    response = requests.get(url, headers=headers,
                            timeout=settings.PHOTOSYNC_GRID_INTENSITY_TIMEOUT)
    response.raise_for_status()
    try:
        body = response.json()
    except ValueError:
        raise ForecastError("the answer is not JSON") from None
    return forecast_parse(body)


def _grams(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < 0:
        raise ForecastError(f"{where} must be a number of g CO2e/kWh ≥ 0, got {value!r}")
    return float(value)


def _time(value, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ForecastError(f"{where} must be an ISO 8601 time, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _reason(exc: Exception) -> str:
    """What went wrong, without the URL (it may carry a key in its query)."""
    if isinstance(exc, ForecastError):
        return str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {settings.PHOTOSYNC_GRID_INTENSITY_TIMEOUT:g} s"
    return type(exc).__name__
