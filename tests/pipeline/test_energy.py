"""pipeline.energy: counters read at stage boundaries, RAPL wrap-around and CPU-time shares,
threads, the per-output split, and the CPU path's energy on this machine."""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from pathlib import Path

import pytest

from pipeline import PipelineConfig, process_image
from pipeline.energy import ESTIMATE, RAPL, EnergyMeter, meter, split_energy
from tests.pipeline.factories import png_bytes, studio_photo

TICK = os.sysconf("SC_CLK_TCK")


def _zone(root: Path, name: str, label: str, energy_uj: int | None, limit: int) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "max_energy_range_uj").write_text(f"{limit}\n")
    if energy_uj is not None:
        (zone / "energy_uj").write_text(f"{energy_uj}\n")
    return zone


def _stat(path: Path, busy_ticks: int, idle_ticks: int = 10_000) -> None:
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(f"cpu  {busy_ticks} 0 0 {idle_ticks} 7 0 0 0 0 0\ncpu0 1 2 3 4\n")


def test_the_cpu_path_records_its_energy_and_splits_it_over_the_outputs():
    config = PipelineConfig(variations=2, cpu_watts_per_core=3.5)
    result = process_image(png_bytes(studio_photo()), config)
    energy = result.energy
    cpu = energy.devices["cpu"]
    assert cpu["source"] in (RAPL, ESTIMATE) and cpu["source"] == meter().cpu_source
    assert energy.cpu_seconds > 0 and cpu["wh"] > 0
    if cpu["source"] == ESTIMATE:  # this machine has no readable RAPL
        assert cpu["wh"] == pytest.approx(energy.cpu_seconds * 3.5 / 3600)
    assert "gpu" not in energy.devices and energy.unmeasured == {}
    assert set(energy.stages) >= {"load", "segment", "scene", "encode"}
    assert sum(s["cpu"] for s in energy.stages.values()) == pytest.approx(cpu["wh"])
    kinds = [o.kind for o in result.outputs]
    assert kinds == ["framed", "scene", "scene"]
    shares = [o.energy["cpu"]["wh"] for o in result.outputs]
    assert sum(shares) == pytest.approx(cpu["wh"])
    scene_stage = energy.stages["scene"]["cpu"]
    assert shares[1] == pytest.approx(shares[0] + scene_stage / 2)
    assert energy.to_json()["wh"] == pytest.approx(cpu["wh"], abs=1e-6)


def test_split_gives_the_scene_stage_to_scene_outputs_only():
    from pipeline.energy import Energy

    energy = Energy(devices={"cpu": {"wh": 3.0, "source": "estimate"},
                             "gpu": {"wh": 10.0, "source": "nvml"}},
                    stages={"segment": {"cpu": 2.0, "gpu": 0.0},
                            "scene": {"cpu": 1.0, "gpu": 10.0}}, cpu_seconds=1.0)
    framed, scene_a, scene_b = split_energy(energy, ["framed", "scene", "scene"])
    assert framed == {"cpu": {"wh": pytest.approx(2 / 3), "source": "estimate"},
                      "gpu": {"wh": 0.0, "source": "nvml"}}
    assert scene_a["gpu"]["wh"] == scene_b["gpu"]["wh"] == 5.0
    assert scene_a["cpu"]["wh"] == pytest.approx(2 / 3 + 0.5)
    # Without scene outputs the scene stage's energy (if any) is shared like the rest.
    (only,) = split_energy(energy, ["framed"])
    assert only["cpu"]["wh"] == 3.0 and only["gpu"]["wh"] == 10.0


def test_rapl_wraps_and_the_process_gets_its_share_of_busy_cpu_time(tmp_path):
    powercap, stat = tmp_path / "powercap", tmp_path / "stat"
    limit = 262_143_328_850
    package = _zone(powercap, "intel-rapl:0", "package-0", limit - 1_000_000, limit)
    _zone(powercap, "intel-rapl:0:0", "core", 5, limit)  # inside the package: not added
    _zone(powercap, "intel-rapl:1", "psys", 5, limit)  # the platform, not a package
    _stat(stat, busy_ticks=1000)
    clock = [10.0]
    m = EnergyMeter(powercap=powercap, proc_stat=stat, cpu_clock=lambda: clock[0])
    assert m.cpu_source == RAPL
    with m.span() as span:
        with span.stage("segment"):
            (package / "energy_uj").write_text("2000000\n")  # wrapped: 3 J since the start
            _stat(stat, busy_ticks=1000 + 4 * TICK)  # the machine was busy 4 CPU seconds
            clock[0] += 1.0  # this process, 1 of them
    energy = span.energy()
    cpu = energy.devices["cpu"]
    assert cpu["source"] == RAPL and cpu["cpu_share"] == 0.25
    assert cpu["wh"] == pytest.approx(3.0 * 0.25 / 3600)
    assert energy.stages["segment"]["cpu"] == pytest.approx(cpu["wh"])
    assert energy.cpu_seconds == pytest.approx(1.0)


def test_unreadable_rapl_means_the_estimate(tmp_path):
    powercap = tmp_path / "powercap"
    _zone(powercap, "intel-rapl:0", "package-0", None, 1000)  # energy_uj is root-only
    clock = [0.0]
    m = EnergyMeter(powercap=powercap, proc_stat=tmp_path / "stat", cpu_clock=lambda: clock[0])
    assert m.cpu_source == ESTIMATE
    assert "not readable" in m.describe(gpu=False)[0]
    with m.span(watts_per_core=10.0) as span:
        clock[0] += 36.0
    assert span.energy().devices["cpu"] == {"wh": pytest.approx(0.1), "source": ESTIMATE,
                                            "watts_per_core": 10.0}


def test_threads_share_the_process_and_nested_spans_see_all_of_it(tmp_path):
    clock = [0.0]
    m = EnergyMeter(powercap=tmp_path / "none", cpu_clock=lambda: clock[0])
    opened, finish, spans = threading.Event(), threading.Event(), {}
    with m.span() as job:
        with m.span() as image, image.stage("segment"):
            clock[0] += 2.0  # one thread at work: both spans of it get all of it

        def other_job():
            with m.span() as span:
                spans["other"] = span
                opened.set()
                finish.wait(5)

        thread = threading.Thread(target=other_job)
        thread.start()
        opened.wait(5)
        clock[0] += 4.0  # two threads with open spans: half each
        finish.set()
        thread.join(5)
    assert image.energy().cpu_seconds == pytest.approx(2.0)
    assert image.energy().stages["segment"]["cpu"] == pytest.approx(2.0 * 3.5 / 3600)
    assert job.energy().cpu_seconds == pytest.approx(4.0)
    assert set(job.energy().stages) == {"segment", "other"}
    assert spans["other"].energy().cpu_seconds == pytest.approx(2.0)


def test_a_gpu_span_without_nvml_says_why_and_counts_only_the_cpu(tmp_path):
    m = EnergyMeter(powercap=tmp_path / "none")
    with m.span(gpu=True) as span:
        sum(range(10_000))
    energy = span.energy()
    if "gpu" in energy.devices:
        pytest.skip("this machine has a GPU that NVML can read")
    assert set(energy.devices) == {"cpu"}
    assert energy.unmeasured["gpu"].startswith(("NVML:", "nvidia-ml-py"))
    assert energy.to_json()["unmeasured"] == energy.unmeasured
    assert "GPU energy: not measured" in m.describe(gpu=True)[1]


CUDA = importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_nvml_measures_the_gpu_around_a_stage():
    import torch

    m = EnergyMeter()
    with m.span(gpu=True) as span, span.stage("scene"):
        x = torch.randn(4096, 4096, device="cuda")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            x = (x @ x).clamp_(-1, 1)
        torch.cuda.synchronize()
    gpu = span.energy().devices["gpu"]
    assert gpu["source"] == "nvml" and gpu["wh"] > 0
    print(f"\nNVML on {gpu['name']}: {gpu['wh'] * 3600:.0f} J in 2 s of matmuls")
