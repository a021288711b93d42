"""Hosted cutout APIs (removebg, photoroom) against the loopback emulator of their documented
API, the circuit breaker, and the fallback chain that keeps every photo when they fail."""

from __future__ import annotations

import io
import json
import logging
import threading

import numpy as np
import pytest

from pipeline import BackendUnavailable, PipelineConfig, process_image
from pipeline.backends import clear_cache, get_segmenter
from pipeline.backends.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from pipeline.errors import ServiceUnavailable
from pipeline.flags import Flag
from tests.conftest import CUTOUT_API_KEY as KEY
from tests.pipeline.factories import encode, studio_photo


@pytest.fixture
def api(cutout_api):
    return cutout_api


@pytest.fixture
def photo() -> bytes:
    return encode(studio_photo(), "JPEG", quality=95)


def _config(segmenter: str, *fallback: str) -> PipelineConfig:
    return PipelineConfig(segmenter=segmenter, segmenter_fallback=fallback, scene_presets=())


def _truth() -> np.ndarray:
    return np.asarray(studio_photo().convert("L")) < 250


def test_removebg_sends_the_documented_request_and_records_the_cost(api, photo):
    result = process_image(photo, _config("removebg"))
    assert result.segmenter == "removebg" and result.flags == []
    (call,) = api.requests
    assert call["key_ok"] and call["files"] == ["image_file"]
    assert call["form"] == {"size": "auto", "format": "png", "type": "product",
                            "channels": "alpha"}
    metrics = result.outputs[0].metrics
    assert metrics["segmenter_credits"] == 1.0 and metrics["segmenter_cost_usd"] == 0.18
    assert metrics["segmenter_label"] == "remove.bg API"
    alpha = get_segmenter("removebg").segment(np.asarray(studio_photo())).alpha
    assert ((alpha > 127) == _truth()).mean() > 0.99


def test_photoroom_uncertainty_above_a_half_flags_the_cutout(api, photo):
    result = process_image(photo, _config("photoroom"))
    assert result.segmenter == "photoroom" and result.flags == []
    assert api.requests[0]["form"] == {"format": "png", "channels": "alpha", "size": "full",
                                       "crop": "false"}
    api.uncertainty = 0.8
    unsure = process_image(photo, _config("photoroom"))
    assert unsure.outputs[0].metrics["segmenter_uncertainty"] == 0.8
    assert "Photoroom is unsure of this cutout (uncertainty 0.80)" in unsure.notes
    assert [f.code for f in unsure.flags] == ["mask_uncertain"]
    assert unsure.flags[0].message == "The background could not be separated with confidence."


def test_with_the_api_answering_500_the_breaker_opens_and_classical_takes_over(api, photo):
    api.fail_next(100, 500)
    results = [process_image(photo, _config("removebg", "classical")) for _ in range(5)]
    assert api.hits["removebg"] == 3  # PHOTOSYNC_HOSTED_BREAKER_FAILURES: then no more calls
    for i, result in enumerate(results):
        assert result.segmenter == "classical" and len(result.outputs) == 1  # nothing lost
        metrics = result.outputs[0].metrics
        assert metrics["segmenter"] == "classical" and metrics["segmenter_requested"] == "removebg"
        ((code, flag),) = [(f.code, f.message) for f in result.flags]
        assert code == "segmenter_fallback"
        assert flag.startswith("Background removed by the classical segmenter because "
                               "removebg was unavailable (")
        expected = ("remove.bg answered HTTP 500: Internal server error" if i < 3
                    else "remove.bg is paused for")
        assert expected in flag and expected in metrics["segmenter_fallback_reason"]


def test_a_rate_limit_opens_the_breaker_at_once_for_its_retry_after(api, photo):
    import requests

    api.rate_limit(1)
    requests.post(api.removebg_url, headers={"X-Api-Key": KEY}, timeout=5,
                  files={"image_file": ("x.jpg", photo, "image/jpeg")})  # another client
    limited = process_image(photo, _config("removebg", "classical"))
    later = process_image(photo, _config("removebg", "classical"))
    assert api.hits["removebg"] == 2  # the second photo never called it
    assert "remove.bg is rate limiting PhotoSync (HTTP 429: Rate limit exceeded); retry in" \
        in limited.flags[0].message
    assert later.segmenter == "classical" and "remove.bg is paused for" in later.flags[0].message
    breaker = get_segmenter("removebg").breaker
    assert breaker.state == OPEN and breaker._open_until - breaker.clock() > 55  # Retry-After


def test_a_used_up_rate_limit_pauses_the_api_before_it_answers_429(api, photo):
    api.rate_limit(1)
    first = process_image(photo, _config("removebg", "classical"))
    second = process_image(photo, _config("removebg", "classical"))
    assert first.segmenter == "removebg" and "remove.bg's rate limit is used up" in \
        first.notes[0]
    assert api.hits["removebg"] == 1 and second.segmenter == "classical"


def test_out_of_credits_and_a_bad_key_pause_the_api(api, photo, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    api.credits["removebg"] = 0
    result = process_image(photo, _config("removebg", "photoroom"))
    assert result.segmenter == "photoroom"
    assert "remove.bg is out of credits (HTTP 402: Insufficient credits)" in result.flags[0].message
    monkeypatch.setenv("PHOTOSYNC_PHOTOROOM_API_KEY", "sk-wrong-4b1d")
    clear_cache()
    rejected = process_image(photo, _config("photoroom", "classical"))
    assert "Photoroom rejected the API key (HTTP 403: Unauthorized)" in rejected.flags[0].message
    everything = json.dumps([rejected.notes, [f.to_dict() for f in rejected.flags],
                             rejected.outputs[0].metrics, result.notes,
                             [f.to_dict() for f in result.flags], caplog.text, repr(get_segmenter(
                                 "photoroom"))])
    assert KEY not in everything and "sk-wrong-4b1d" not in everything


def test_an_image_the_api_refuses_falls_back_without_pausing_the_api(api, photo):
    broken = photo[:200]  # the API cannot read it, but PhotoSync never sends such bytes:
    segmenter = get_segmenter("removebg")
    import requests

    response = requests.post(api.removebg_url, headers={"X-Api-Key": KEY},
                             files={"image_file": ("x.jpg", broken, "image/jpeg")}, timeout=5)
    assert response.status_code == 400
    assert response.json() == {"errors": [{"title": "Failed to read the supplied image",
                                           "code": "unknown_foreground"}]}
    api.fail_next(1, 400)
    result = process_image(photo, _config("removebg", "classical"))
    assert "remove.bg could not process this image (HTTP 400" in result.flags[0].message
    assert segmenter.breaker.state == CLOSED
    assert process_image(photo, _config("removebg", "classical")).segmenter == "removebg"


def test_a_slow_api_times_out_and_the_next_segmenter_runs(api, photo, monkeypatch):
    monkeypatch.setenv("PHOTOSYNC_HOSTED_TIMEOUT", "1")
    api.delay = 1.5
    result = process_image(photo, _config("removebg", "classical"))
    assert result.segmenter == "classical"
    assert "remove.bg did not answer within 1 s" in result.flags[0].message


def test_the_chain_moves_through_apis_and_says_so(api, photo):
    api.fail_next(1, 503)
    result = process_image(photo, _config("removebg", "photoroom", "classical"))
    assert result.segmenter == "photoroom"
    assert result.flags == [Flag(
        "segmenter_fallback",
        "Background removed by Photoroom Remove Background API because removebg was "
        "unavailable (remove.bg answered HTTP 503: Internal server error).")]


def test_without_a_key_a_hosted_fallback_is_skipped_with_the_reason(photo, monkeypatch):
    monkeypatch.delenv("PHOTOSYNC_REMOVEBG_API_KEY", raising=False)
    clear_cache()
    result = process_image(photo, _config("removebg", "classical"))
    assert "set PHOTOSYNC_REMOVEBG_API_KEY" in result.flags[0].message
    with pytest.raises(BackendUnavailable, match="No segmenter could remove the background: "
                                                 "removebg: The remove.bg segmenter needs"):
        process_image(photo, _config("removebg", "photoroom"))


def test_breaker_half_open_lets_one_probe_through():
    now = [0.0]
    breaker = CircuitBreaker("API", failures=2, cooldown=30, clock=lambda: now[0])
    breaker.acquire()
    breaker.failure("HTTP 500")
    assert breaker.state == CLOSED
    breaker.failure("HTTP 500")
    assert breaker.state == OPEN
    with pytest.raises(ServiceUnavailable, match="API is paused for 30 s more after failing: "
                                                 "HTTP 500"):
        breaker.acquire()
    now[0] = 30.0
    assert breaker.state == HALF_OPEN
    breaker.acquire()  # the probe
    with pytest.raises(ServiceUnavailable, match="being probed"):
        breaker.acquire()  # a second caller meanwhile
    breaker.failure("HTTP 502")  # the probe failed: open again for a full cool-down
    now[0] = 59.0
    with pytest.raises(ServiceUnavailable):
        breaker.acquire()
    now[0] = 60.0
    breaker.acquire()
    breaker.success()
    assert breaker.state == CLOSED
    breaker.failure("rate limited", open_for=120)  # Retry-After beyond the cool-down
    now[0] = 170.0
    assert breaker.state == OPEN
    now[0] = 180.0
    assert breaker.state == HALF_OPEN


def test_calls_run_concurrently_through_one_breaker(api, photo):
    """The breaker's lock is not held during the call (pybreaker's is)."""
    api.delay = 0.5
    segmenter = get_segmenter("removebg")
    rgb = np.asarray(studio_photo())
    import time

    started = time.perf_counter()
    threads = [threading.Thread(target=segmenter.segment, args=(rgb,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.perf_counter() - started < 1.5 and api.hits["removebg"] == 4


def test_process_with_a_fallback_reports_who_cut_out_each_photo_and_the_cost(api, tmp_path):
    from django.core.management import call_command

    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in ("a", "b", "c"):
        (inbox / f"{name}.jpg").write_bytes(encode(studio_photo(), "JPEG", quality=95))
    api.fail_next(1, 500)  # the first photo's call fails, the others are cut out by remove.bg
    call_command("process", str(inbox), "--out", str(tmp_path / "out"), "--no-progress",
                 "--scenes", "0", "--segmenter", "removebg", "--fallback", "classical",
                 stdout=io.StringIO(), stderr=io.StringIO())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["config"]["segmenter_fallback"] == ["classical"]
    assert report["summary"]["segmenter_fallbacks"] == 1
    assert report["summary"]["segmenter_cost_usd"] == 0.36  # two credits at 0.18
    by_name = {i["input"].rsplit("/", 1)[-1]: i for i in report["images"]}
    assert by_name["a.jpg"]["segmenter"] == "classical"
    assert "remove.bg answered HTTP 500" in by_name["a.jpg"]["segmenter_fallback"]
    assert [by_name[n]["segmenter"] for n in ("b.jpg", "c.jpg")] == ["removebg", "removebg"]
    assert KEY not in (tmp_path / "out" / "report.json").read_text()
