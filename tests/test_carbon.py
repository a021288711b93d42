"""Grid intensity from a real loopback server (cached, the setting when it fails), and
carbon-aware backfills: held until the cleanest hours of the window and released there, on a
clock the test drives, while a new product of the same store goes at once."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from photosync.models import GenerationJob, Product, Store
from photosync.services.carbon import (
    ForecastSlot,
    GridIntensity,
    grid_cache_clear,
    grid_intensity,
)
from photosync.services.clean_grid import clean_hours_decision, window_around
from photosync.services.scheduling import jobs_dispatch
from photosync.services.store_settings import SettingsError, store_settings_update
from photosync.services.stores import store_connect_local
from photosync.services.sync import product_refresh, stores_reconcile
from tests.conftest import PHOTOS, drain

UTC_ZONE = ZoneInfo("UTC")


class _GridHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        state["requests"].append({"path": self.path, **dict(self.headers)})
        time.sleep(state.get("delay", 0))
        body = state["body"]
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(state.get("status", 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def grid_server(settings):
    """A real HTTP server on loopback answering the documented forecast shape."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GridHandler)
    server.state = {"requests": [], "body": {"current": {"g_per_kwh": 212}, "forecast": []}}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.PHOTOSYNC_GRID_INTENSITY_URL = f"http://127.0.0.1:{server.server_port}/grid"
    settings.PHOTOSYNC_GRID_INTENSITY = 333.0
    grid_cache_clear()
    yield server.state
    server.shutdown()
    server.server_close()
    grid_cache_clear()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _hourly(start: datetime, grams: list[float]) -> list[dict]:
    return [{"start": _iso(start + timedelta(hours=i)), "end": _iso(start + timedelta(hours=i + 1)),
             "g_per_kwh": g} for i, g in enumerate(grams)]


# --- the intensity provider -------------------------------------------------------------------
def test_the_forecast_comes_from_the_url_once_per_cache_period(grid_server, settings):
    settings.PHOTOSYNC_GRID_INTENSITY_TOKEN = "token-for-the-grid-api"
    settings.PHOTOSYNC_GRID_INTENSITY_CACHE = 900
    start = datetime(2026, 11, 27, 1, tzinfo=UTC)
    grid_server["body"] = {"current": {"g_per_kwh": 212, "at": "2026-11-27T00:30:00Z"},
                           "forecast": _hourly(start, [180, 150])[::-1]}
    grid = grid_intensity()
    assert (grid.g_per_kwh, grid.source, grid.note) == (212.0, "url", "")
    assert grid.at == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    assert [s.g_per_kwh for s in grid.forecast] == [180.0, 150.0]  # sorted by start
    assert grid.at_time(start + timedelta(minutes=90)) == 150.0
    assert grid.at_time(start - timedelta(minutes=1)) == 212.0  # no slot: the current value
    assert grid_intensity() is grid and len(grid_server["requests"]) == 1  # cached
    assert grid_server["requests"][0]["Authorization"] == "Bearer token-for-the-grid-api"
    settings.PHOTOSYNC_GRID_INTENSITY_CACHE = 0
    assert grid_intensity().g_per_kwh == 212.0 and len(grid_server["requests"]) == 2


def test_a_failing_url_falls_back_to_the_setting_logged_once_per_streak(
        grid_server, settings, caplog):
    settings.PHOTOSYNC_GRID_INTENSITY_CACHE = 0  # ask every time
    settings.PHOTOSYNC_GRID_INTENSITY_URL += "?key=very-secret-query-key"
    caplog.set_level(logging.INFO, logger="photosync.services.carbon")
    grid_server["status"] = 503
    for _ in range(3):
        grid = grid_intensity()
        assert (grid.g_per_kwh, grid.source) == (333.0, "setting")
        assert "HTTP 503" in grid.note
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "HTTP 503" in warnings[0].getMessage()
    assert len(grid_server["requests"]) == 3

    grid_server["status"] = 200
    assert grid_intensity().source == "url"
    assert "answers again" in caplog.records[-1].getMessage()

    grid_server["body"] = {"current": {"g_per_kwh": "high"}}
    assert "current.g_per_kwh must be a number" in grid_intensity().note
    grid_server["body"] = b"<html>maintenance</html>"
    assert "not JSON" in grid_intensity().note
    settings.PHOTOSYNC_GRID_INTENSITY_TIMEOUT = 0.2
    grid_server["body"], grid_server["delay"] = {"current": {"g_per_kwh": 10}}, 1.0
    assert "no answer within 0.2 s" in grid_intensity().note
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2  # new streak
    assert "very-secret-query-key" not in caplog.text


def test_a_failure_is_not_asked_again_for_a_minute(grid_server, settings):
    settings.PHOTOSYNC_GRID_INTENSITY_CACHE = 900
    grid_server["status"] = 500
    assert grid_intensity().source == "setting"
    grid_server["status"] = 200
    assert grid_intensity().source == "setting"  # the failure is cached (60 s at most)
    assert len(grid_server["requests"]) == 1


def test_without_a_url_the_setting_is_the_intensity(settings):
    settings.PHOTOSYNC_GRID_INTENSITY_URL = None
    settings.PHOTOSYNC_GRID_INTENSITY = 56.0
    grid = grid_intensity()
    assert (grid.g_per_kwh, grid.source, grid.forecast, grid.note) == (56.0, "setting", (), "")


# --- the decision -------------------------------------------------------------------------
NIGHT = datetime(2026, 11, 27, 1, tzinfo=UTC)
WINDOW = (NIGHT, NIGHT + timedelta(hours=5))  # 01:00-06:00
FORECAST = GridIntensity(g_per_kwh=400, source="url", forecast=tuple(
    ForecastSlot(NIGHT + timedelta(hours=i), NIGHT + timedelta(hours=i + 1), g)
    for i, g in enumerate([300, 250, 120, 110, 260])))


def _decide(minutes: int, *, grid=FORECAST, threshold=0.0, hours=2.0):
    return clean_hours_decision(now=NIGHT + timedelta(minutes=minutes), window=WINDOW,
                                grid=grid, threshold=threshold, hours=hours, zone=UTC_ZONE)


def test_backfills_run_in_the_cleanest_hours_of_what_remains_of_the_window():
    held = _decide(30)
    assert not held.run and held.g_per_kwh == 300
    assert held.why == ("Backfill held at 01:30 for the cleanest hours of the grid: 300 g "
                        "CO₂e/kWh now; the forecast shows 110 g, and it runs from 03:00 (UTC).")
    assert not _decide(90).run
    assert _decide(125).run and _decide(200).run  # 03:05 at 120 g, 04:20 at 110 g
    # Once those hours have passed, the rest of tonight's window is all that is left.
    assert _decide(270).run
    assert not _decide(30, hours=1).run and not _decide(125, hours=1).run
    assert _decide(185, hours=1).run


def test_a_threshold_lets_backfills_run_and_no_forecast_never_holds():
    assert _decide(30, threshold=301).run and not _decide(30, threshold=300).run
    plain = GridIntensity(g_per_kwh=700, source="setting")
    assert _decide(30, grid=plain).run  # nothing to wait for: run in the window as usual
    # A forecast that starts later: the present counts at the current value (400 g).
    later = GridIntensity(g_per_kwh=400, source="url", forecast=FORECAST.forecast[2:])
    decision = _decide(30, grid=later)
    assert not decision.run and "400 g CO₂e/kWh now" in decision.why


def test_the_window_is_tonights_occurrence_in_the_store_time_zone():
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 01:30 in Paris
    begins, ends = window_around(now, "22:00-04:00", paris)
    assert begins == datetime(2026, 11, 26, 22, tzinfo=paris)
    assert ends == datetime(2026, 11, 27, 4, tzinfo=paris)
    assert window_around(now, "", paris) == (datetime(2026, 11, 27, tzinfo=paris),
                                             datetime(2026, 11, 28, tzinfo=paris))


def test_the_store_options_are_validated():
    store = Store(platform="local", domain="/x", settings={})
    for bad in ({"clean_grid_backfills": "yes"}, {"clean_grid_threshold": -1},
                {"clean_grid_threshold": 5000}, {"clean_grid_threshold": 12.5}):
        with pytest.raises(SettingsError) as info:
            store_settings_update(store=store, changes=bad)
        assert info.value.field == next(iter(bad))


# --- the dispatcher, end to end -------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_backfill_waits_for_the_cleanest_hour_and_a_new_product_goes_at_once(
        store_dir, media_root, broker, worker, grid_server, settings, client, operator):
    settings.PHOTOSYNC_BACKFILL_THRESHOLD = 1  # the store's two products arrive as backfill
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 10
    settings.PHOTOSYNC_CLEAN_GRID_HOURS = 1
    settings.PHOTOSYNC_GRID_INTENSITY_CACHE = 900
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    window = (hour - timedelta(hours=1), hour + timedelta(hours=5))
    # Now (the second slot) is dirty; the cleanest hour of the window starts in two hours.
    grid_server["body"] = {"current": {"g_per_kwh": 380, "at": _iso(hour)},
                           "forecast": _hourly(window[0], [390, 380, 300, 120, 250, 260])}
    store = store_connect_local(path=store_dir, name="Clean store")
    store_settings_update(store=store, changes={
        "offpeak": f"{window[0]:%H:%M}-{window[1]:%H:%M}", "clean_grid_backfills": True})

    stores_reconcile()  # the first pass queues the catalog as backfill and dispatches
    drain(broker, worker)
    backfill = GenerationJob.objects.filter(store=store, reason="backfill")
    assert backfill.count() == 2
    cleanest = f"{hour + timedelta(hours=2):%H:%M}"
    for job in backfill:
        assert (job.status, job.hold_reason) == ("held", "clean_grid")
        assert f"380 g CO₂e/kWh now; the forecast shows 120 g, and it runs from {cleanest}" \
            in job.error

    # A new product of the same store is not held by it: it is generated at once.
    folder = store_dir / "new-arrival"
    folder.mkdir()
    shutil.copy2(PHOTOS / "mg01-bk-0.jpg", folder / "new-arrival.jpg")
    new = product_refresh(store_id=store.pk, remote_id="new-arrival")
    drain(broker, worker)
    new.refresh_from_db()
    assert (new.reason, new.status) == ("new", "succeeded") and new.images.count() == 2
    assert new.grid_g_per_kwh == 380 and new.energy["grid"]["source"] == "url"
    assert set(backfill.values_list("status", flat=True)) == {"held"}

    client.force_login(operator)
    usage = client.get(f"/api/v1/usage/?store={store.pk}").json()
    assert usage["held"] == 2 and usage["held_by_reason"] == {"clean_grid": 2}
    assert usage["clean_grid_note"].startswith("Backfill held at")
    product = Product.objects.get(store=store, remote_id="mg01-bk-0")
    jobs = client.get(f"/api/v1/products/{product.pk}/").json()["jobs"]
    assert jobs[0]["hold_reason"] == "clean_grid" and "runs from" in jobs[0]["error"]

    # The clock moves on: an hour later (300 g) they still wait; in the cleanest hour they go.
    assert jobs_dispatch(now=hour + timedelta(hours=1, minutes=10)) == 0
    assert set(backfill.values_list("status", flat=True)) == {"held"}
    assert jobs_dispatch(now=hour + timedelta(hours=2, minutes=5)) == 2
    drain(broker, worker)
    for job in backfill.all():
        assert job.status == "succeeded" and job.hold_reason == "" and job.error == ""
        assert job.notes[-1].startswith("Backfill held at")
        assert f"Released at {hour + timedelta(hours=2, minutes=5):%H:%M} (120 g CO₂e/kWh)." \
            in job.notes[-1]
    assert len(grid_server["requests"]) == 1  # one answer served every decision (cached)


@pytest.mark.django_db(transaction=True)
def test_turning_the_option_off_releases_held_backfills(broker, grid_server, settings):
    settings.PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT = 10
    night = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
    grid_server["body"] = {"current": {"g_per_kwh": 300},
                           "forecast": _hourly(night.replace(minute=0), [300, 100, 100])}
    store = Store.objects.create(platform="local", domain="/stores/off", name="off",
                                 settings={"offpeak": "01:00-06:00",
                                           "clean_grid_backfills": True})
    for i, reason in enumerate(("backfill", "backfill", "update")):
        product = Product.objects.create(store=store, remote_id=f"p{i}")
        GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                     dedupe_key=f"{product.pk}:h", reason=reason, priority=9)
    assert jobs_dispatch(now=night) == 1  # the update goes; the backfills wait
    assert GenerationJob.objects.filter(status="held", hold_reason="clean_grid").count() == 2
    store_settings_update(store=store, changes={"clean_grid_backfills": False})
    assert jobs_dispatch(now=night) == 2
    notes = GenerationJob.objects.filter(reason="backfill").values_list("notes", flat=True)
    assert all(n[-1].endswith("Released at 01:30: clean-grid backfills are off.") for n in notes)
