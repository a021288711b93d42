"""Energy of the pipeline's work: counters read at every stage boundary, per device, with the
source of each number.

- ``gpu`` / ``nvml``: the GPU's total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``,
  millijoules, Volta and newer) through nvidia-ml-py, for spans that run on CUDA. The counter
  is device-wide: the GPU worker owns its GPU (one process, one thread per GPU), so the
  device's energy during a job is the job's. Without nvidia-ml-py, a driver or a supported
  device (MIG slices have no counter), the GPU is listed under ``unmeasured`` with the reason.
- ``cpu`` / ``rapl``: the CPU packages' RAPL counters
  (``/sys/class/powercap/intel-rapl:N/energy_uj``, wrapping at ``max_energy_range_uj``),
  where they are readable. RAPL counts the whole package, every process on it, so a span
  gets the process's share of the machine's busy CPU time (``/proc/stat``) over the span:
  ``package joules × process CPU seconds / busy CPU seconds``.
- ``cpu`` / ``estimate``: otherwise, the process's CPU seconds × ``watts_per_core``.

A meter is process-wide. Spans open in several threads of one process at the same time split
each interval's process CPU time and counter deltas equally between those threads (neither
counter can tell threads apart); nested spans in one thread (a job around its images) each see
all of it, and both book it to the stage the thread is in.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CPU, GPU = "cpu", "gpu"
RAPL, ESTIMATE, NVML = "rapl", "estimate", "nvml"
OTHER = "other"  # a span's time outside any named stage (fetching, saving, glue)
# Cloud Carbon Footprint's AWS coefficient: average watts of one vCPU at 100 % utilisation
# (methodology, appendix I). A process CPU second is one vCPU fully busy for a second.
DEFAULT_WATTS_PER_CORE = 3.5
_J_PER_WH = 3600.0


@dataclass(frozen=True)
class Energy:
    """What one span used: per device ``{"wh", "source"}``, per stage per device Wh."""

    devices: dict[str, dict]
    stages: dict[str, dict[str, float]]
    cpu_seconds: float
    unmeasured: dict[str, str] = field(default_factory=dict)  # device → why not

    @property
    def wh(self) -> float:
        return sum(d["wh"] for d in self.devices.values())

    def to_json(self) -> dict:
        return {
            "wh": round(self.wh, 9),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "devices": {k: {**v, "wh": round(v["wh"], 9)} for k, v in self.devices.items()},
            "stages": {s: round(sum(d.values()), 9) for s, d in self.stages.items()},
            **({"unmeasured": dict(self.unmeasured)} if self.unmeasured else {}),
        }


def split_energy(energy: Energy, kinds: list[str]) -> list[dict[str, dict]]:
    """Each output's share of one image's energy, per device: the ``scene`` stage (the scene
    generator, a model on a GPU) in equal parts to the scene outputs it made; every other
    stage (load, segment, enhance, framing, shadows, compositing, fidelity, encoding) in equal
    parts to all outputs. The shares add up to the whole."""
    n, scenes = len(kinds), kinds.count("scene")
    shares: list[dict[str, dict]] = []
    for kind in kinds:
        devices = {}
        for device, info in energy.devices.items():
            scene = energy.stages.get("scene", {}).get(device, 0.0) if scenes else 0.0
            wh = (info["wh"] - scene) / n + (scene / scenes if kind == "scene" else 0.0)
            devices[device] = {"wh": wh, "source": info["source"]}
        shares.append(devices)
    return shares


class RaplPackages:
    """The top-level RAPL zones named ``package-N``, when every counter can be read."""

    def __init__(self, root: Path) -> None:
        self.zones: list[tuple[Path, int]] = []
        self.why = ""
        try:
            for zone in sorted(root.glob("intel-rapl:*")):
                if zone.name.count(":") != 1:  # sub-zones (core, uncore, dram) are inside
                    continue
                if (zone / "name").read_text().strip().startswith("package"):
                    limit = int((zone / "max_energy_range_uj").read_text())
                    int((zone / "energy_uj").read_text())  # root-only on most kernels
                    self.zones.append((zone / "energy_uj", limit))
        except (OSError, ValueError) as exc:
            self.zones, self.why = [], f"RAPL counters not readable ({exc.__class__.__name__})"
        if not self.zones and not self.why:
            self.why = f"no RAPL package zones under {root}"

    def read(self) -> tuple[int, ...]:
        return tuple(int(path.read_text()) for path, _ in self.zones)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        """Energy between two readings; a counter that wrapped went past its range once."""
        total = 0
        for (_, limit), b, a in zip(self.zones, before, after, strict=True):
            total += a - b if a >= b else a + limit - b
        return total / 1e6


class NvmlDevice:
    """The first GPU this process sees (``CUDA_VISIBLE_DEVICES``, as torch's ``cuda:0``)."""

    def __init__(self) -> None:
        self.handle = None
        self.name = ""
        self.why = ""
        try:
            import pynvml  # lazy: nvidia-ml-py (the ml extra) is needed only by GPU spans
        except ImportError:
            self.why = "nvidia-ml-py is not installed"
            return
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
            if visible.startswith(("GPU-", "MIG-")):
                handle = pynvml.nvmlDeviceGetHandleByUUID(visible)
            else:
                handle = pynvml.nvmlDeviceGetHandleByIndex(int(visible or 0))
            pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)  # NotSupported before Volta
            self.name = str(pynvml.nvmlDeviceGetName(handle))
        except (pynvml.NVMLError, ValueError) as exc:
            self.why = f"NVML: {exc}"
            return
        self.handle = handle

    def read(self) -> int | None:
        """Millijoules since the driver loaded, or None when the read failed."""
        try:
            return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except self._nvml.NVMLError:
            return None


@dataclass
class _Reading:
    process_s: float
    busy_s: float = 0.0
    rapl: tuple[int, ...] = ()
    gpu_mj: int | None = None


class EnergyMeter:
    """Reads the counters for the spans open in this process (see the module's notes)."""

    def __init__(self, *, powercap: Path = Path("/sys/class/powercap"),
                 proc_stat: Path = Path("/proc/stat"),
                 cpu_clock: Callable[[], float] = time.process_time) -> None:
        self._lock = threading.Lock()
        self._rapl = RaplPackages(powercap)
        self._proc_stat = proc_stat
        self._cpu_clock = cpu_clock
        self._gpu: NvmlDevice | None = None  # opened by the first GPU span
        self._spans: list[EnergySpan] = []
        self._stage: dict[int, str] = {}  # thread → the stage it is in
        self._last: _Reading | None = None

    @property
    def cpu_source(self) -> str:
        return RAPL if self._rapl.zones else ESTIMATE

    def describe(self, *, gpu: bool) -> list[str]:
        """How this process measures energy, in words (for a worker's start-up log)."""
        cpu = ("CPU energy: RAPL, this process's share of the package" if self._rapl.zones
               else f"CPU energy: estimated from CPU time ({self._rapl.why})")
        if not gpu:
            return [cpu]
        device = self._gpu_device()
        return [cpu, f"GPU energy: NVML on {device.name}" if device.handle
                else f"GPU energy: not measured ({device.why})"]

    def span(self, *, gpu: bool = False,
             watts_per_core: float = DEFAULT_WATTS_PER_CORE) -> EnergySpan:
        return EnergySpan(self, gpu=gpu, watts_per_core=watts_per_core)

    def _gpu_device(self) -> NvmlDevice:
        if self._gpu is None:
            self._gpu = NvmlDevice()
        return self._gpu

    def _read(self) -> _Reading:
        reading = _Reading(process_s=self._cpu_clock())
        if self._rapl.zones:
            reading.rapl = self._rapl.read()
            with open(self._proc_stat) as fh:
                ticks = [int(v) for v in fh.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal: all but idle and iowait
            reading.busy_s = (sum(ticks[:3]) + sum(ticks[5:8])) / os.sysconf("SC_CLK_TCK")
        if self._gpu is not None and self._gpu.handle is not None:
            reading.gpu_mj = self._gpu.read()
        return reading

    def _advance(self) -> None:
        """Share what the counters moved since the last reading among the open spans."""
        now, last = self._read(), self._last
        self._last = now
        if last is None or not self._spans:
            return
        threads = len({s.thread for s in self._spans})
        gpu_threads = len({s.thread for s in self._spans if s.gpu}) or 1
        process_s = max(0.0, now.process_s - last.process_s) / threads
        busy_s = max(0.0, now.busy_s - last.busy_s) / threads
        rapl_j = self._rapl.joules(last.rapl, now.rapl) / threads if self._rapl.zones else 0.0
        gpu_j = 0.0
        if now.gpu_mj is not None and last.gpu_mj is not None:
            gpu_j = max(0, now.gpu_mj - last.gpu_mj) / 1000 / gpu_threads
        for span in self._spans:
            span._add(self._stage.get(span.thread, OTHER), process_s, busy_s, rapl_j,
                      gpu_j if span.gpu else 0.0)

    def _enter(self, span: EnergySpan) -> None:
        with self._lock:
            if span.gpu:
                self._gpu_device()
            self._advance()
            self._spans.append(span)

    def _leave(self, span: EnergySpan) -> None:
        with self._lock:
            self._advance()
            self._spans.remove(span)

    def _switch(self, thread: int, stage: str) -> None:
        with self._lock:
            self._advance()
            self._stage[thread] = stage


class EnergySpan:
    """One measured piece of work (a job, an image); open it with ``with``."""

    def __init__(self, meter: EnergyMeter, *, gpu: bool, watts_per_core: float) -> None:
        self.meter = meter
        self.gpu = gpu
        self.watts_per_core = watts_per_core
        self.thread = threading.get_ident()
        self._open = False
        self._cpu_s: dict[str, float] = {}
        self._gpu_j: dict[str, float] = {}
        self._busy_s = 0.0
        self._rapl_j = 0.0

    def __enter__(self) -> EnergySpan:
        self.meter._enter(self)
        self._open = True
        return self

    def __exit__(self, *exc) -> None:
        self._open = False
        self.meter._leave(self)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Book the block's energy to stage ``name`` (a no-op while the span is closed)."""
        if not self._open:
            yield
            return
        previous = self.meter._stage.get(self.thread, OTHER)
        self.meter._switch(self.thread, name)
        try:
            yield
        finally:
            self.meter._switch(self.thread, previous)

    def _add(self, stage: str, process_s: float, busy_s: float, rapl_j: float,
             gpu_j: float) -> None:
        self._cpu_s[stage] = self._cpu_s.get(stage, 0.0) + process_s
        self._busy_s += busy_s
        self._rapl_j += rapl_j
        if self.gpu:
            self._gpu_j[stage] = self._gpu_j.get(stage, 0.0) + gpu_j

    def energy(self) -> Energy:
        cpu_s = sum(self._cpu_s.values())
        if self.meter.cpu_source == RAPL:
            share = min(1.0, cpu_s / self._busy_s) if self._busy_s > 0 else float(cpu_s > 0)
            cpu_wh = self._rapl_j * share / _J_PER_WH
            cpu = {"wh": cpu_wh, "source": RAPL, "cpu_share": round(share, 4)}
        else:
            cpu_wh = cpu_s * self.watts_per_core / _J_PER_WH
            cpu = {"wh": cpu_wh, "source": ESTIMATE, "watts_per_core": self.watts_per_core}
        devices = {CPU: cpu}
        stages = {s: {CPU: cpu_wh * v / cpu_s if cpu_s else 0.0} for s, v in self._cpu_s.items()}
        unmeasured = {}
        if self.gpu:
            device = self.meter._gpu_device()
            if device.handle is not None:
                devices[GPU] = {"wh": sum(self._gpu_j.values()) / _J_PER_WH, "source": NVML,
                                "name": device.name}
                for s, joules in self._gpu_j.items():
                    stages.setdefault(s, {})[GPU] = joules / _J_PER_WH
            else:
                unmeasured[GPU] = device.why
        return Energy(devices=devices, stages=stages, cpu_seconds=cpu_s, unmeasured=unmeasured)


_default: EnergyMeter | None = None
_default_lock = threading.Lock()


def meter() -> EnergyMeter:
    """This process's meter (made on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = EnergyMeter()
        return _default
