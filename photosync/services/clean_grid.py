"""Carbon-aware backfills: a store's backfill work runs in the cleanest hours of its window.

A store opts in with its setting `clean_grid_backfills` (and may add `clean_grid_threshold`,
g CO2e/kWh). Inside the store's off-peak window (without one: the store's calendar day),
backfill jobs are dispatched only while the grid is in the `PHOTOSYNC_CLEAN_GRID_HOURS`
lowest-intensity hours of what the forecast shows of the rest of that window, or while the
intensity is below the store's threshold. New products, updates and regenerations are never
held by it. Without a forecast (no URL, or it failed) nothing is held: backfills run in the
window as they would without the option.

The dispatcher calls `backfills_clean_grid` with its `now`. Held jobs carry the hold reason
`clean_grid` and a message the merchant sees on the product and in usage; when their hours
come (or the window ends, or the store turns the option off) they go back to the queue with a
note of the wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from photosync.models import GenerationJob, Store
from photosync.services.carbon import GridIntensity, grid_intensity

HOLD_CLEAN_GRID = "clean_grid"


@dataclass(frozen=True)
class Decision:
    run: bool
    why: str  # the held job's message, or why it may run now
    g_per_kwh: float  # the intensity now


def backfills_clean_grid(*, now: datetime, allowed: set[int]) -> set[int]:
    """Of `allowed` (stores inside their off-peak window), the stores whose backfills may be
    dispatched now. Holds the backfills of the others; releases held ones whose time came."""
    waiting = GenerationJob.objects.filter(reason=GenerationJob.Reason.BACKFILL).filter(
        Q(status=GenerationJob.Status.QUEUED)
        | Q(status=GenerationJob.Status.HELD, hold_reason=HOLD_CLEAN_GRID)
    )
    stores = Store.objects.filter(pk__in=waiting.values("store_id"))
    grid: GridIntensity | None = None
    allowed = set(allowed)
    for store in stores:
        zone = _zone(store.timezone)
        if not (store.settings or {}).get("clean_grid_backfills"):
            _release(store, f"Released at {_hm(now, zone)}: clean-grid backfills are off.")
            continue
        if store.pk not in allowed:
            _release(store, f"Released at {_hm(now, zone)}: the off-peak window ended.")
            continue
        grid = grid or grid_intensity()
        decision = clean_hours_decision(
            now=now, window=window_around(now, (store.settings or {}).get("offpeak", ""), zone),
            grid=grid, threshold=float((store.settings or {}).get("clean_grid_threshold") or 0),
            hours=settings.PHOTOSYNC_CLEAN_GRID_HOURS, zone=zone)
        if decision.run:
            _release(store, f"Released at {_hm(now, zone)} "
                            f"({decision.g_per_kwh:.0f} g CO₂e/kWh).")
        else:
            waiting.filter(store=store, status=GenerationJob.Status.QUEUED).update(
                status=GenerationJob.Status.HELD, hold_reason=HOLD_CLEAN_GRID,
                error=decision.why)
            allowed.discard(store.pk)
    return allowed


def clean_hours_decision(*, now: datetime, window: tuple[datetime, datetime],
                         grid: GridIntensity, threshold: float, hours: float,
                         zone: ZoneInfo) -> Decision:
    """Run now, or wait: now is among the `hours` cleanest forecast hours of the rest of
    `window` (ties count), or below `threshold`; no forecast for the window means run."""
    now_g = grid.at_time(now)
    if threshold and now_g < threshold:
        return Decision(True, f"below the store's threshold of {threshold:.0f}", now_g)
    start, end = max(now, window[0]), window[1]
    slots = [(max(s.start, start), min(s.end, end), s.g_per_kwh)
             for s in grid.forecast if s.end > start and s.start < end]
    if not slots:
        return Decision(True, "no forecast for the window", now_g)
    if not any(a <= now < b for a, b, _ in slots):  # the present, at the current value
        later = [a for a, _, _ in slots if a > now]
        slots.append((now, min(later) if later else end, grid.g_per_kwh))
    budget, taken, cutoff = timedelta(hours=hours), timedelta(0), 0.0
    for a, b, g in sorted(slots, key=lambda slot: (slot[2], slot[0])):
        taken, cutoff = taken + (b - a), g
        if taken >= budget:
            break
    if now_g <= cutoff:
        return Decision(True, "among the cleanest hours of the window", now_g)
    best = min(slots, key=lambda slot: (slot[2], slot[0]))
    upcoming = min(a for a, _, g in slots if g <= cutoff and a > now)
    return Decision(False, (
        f"Backfill held at {_hm(now, zone)} for the cleanest hours of the grid: "
        f"{now_g:.0f} g CO₂e/kWh now; the forecast shows {best[2]:.0f} g, and it runs from "
        f"{_hm(upcoming, zone)} ({zone.key})."), now_g)


def window_around(now: datetime, offpeak: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The occurrence of the "HH:MM-HH:MM" window (store time, may wrap midnight) that holds
    `now`; the store's calendar day when there is no window (or `now` is outside it)."""
    local = now.astimezone(zone)
    try:
        start_s, end_s = offpeak.replace(" ", "").split("-")
        first, last = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError:
        first = last = None
    if first is not None:
        for day in (local.date() - timedelta(days=1), local.date()):
            begins = datetime.combine(day, first, zone)
            ends = datetime.combine(day + timedelta(days=last <= first), last, zone)
            if begins <= local < ends:
                return begins, ends
    midnight = datetime.combine(local.date(), time(0), zone)
    return midnight, datetime.combine(local.date() + timedelta(days=1), time(0), zone)


def _release(store: Store, note: str) -> None:
    """Held clean-grid backfills of `store` back to the queue, each noting its wait."""
    held = list(GenerationJob.objects.filter(
        store=store, status=GenerationJob.Status.HELD, hold_reason=HOLD_CLEAN_GRID))
    for job in held:
        job.notes = [*job.notes, f"{job.error} {note}".strip()]
        job.status, job.hold_reason, job.error = GenerationJob.Status.QUEUED, "", ""
    GenerationJob.objects.bulk_update(held, ["notes", "status", "hold_reason", "error"],
                                      batch_size=500)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def _hm(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%H:%M")
