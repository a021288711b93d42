"""Shared plumbing for the benchmark scripts: a throwaway database, the production web
server on loopback, an open-loop HTTP load generator, and result files.

Benchmarks are scripts, not tests: each prints a table and writes bench/results/<name>.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PG_ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
FERNET_KEY = "3JF7PEkdBUJ71z9pXbR5oknn6Tfjp3ThPd4WSCT_1bk="  # bench-only, never a real store
PHOTOS = REPO / "photosync" / "demo" / "products"  # 15 real studio photos, about 1 MP each
# The load average when the benchmark started: other work on the machine skews every number.
LOAD_AT_START = os.getloadavg()


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    return None


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in LOAD_AT_START],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def load_note() -> str:
    """One line for a table's footer: the 1-minute load average now and at the start."""
    return (f"load average (1 min): {LOAD_AT_START[0]:.2f} at start, "
            f"{os.getloadavg()[0]:.2f} now, on {os.cpu_count()} CPUs")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "bench-" + "x" * 40,
        "PHOTOSYNC_ENCRYPTION_KEY": FERNET_KEY,
        "PHOTOSYNC_PUBLIC_URL": "http://127.0.0.1:8000",
        "PHOTOSYNC_ENV_FILE": os.devnull,
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated, dropped afterwards; yields its URL."""
    import psycopg

    name = f"photosync_bench_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("postgres://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        manage("migrate", "--verbosity", "0", env=base_env(DATABASE_URL=url, REDIS_URL=REDIS_URL))
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def django_shell(code: str, *, env: dict[str, str]) -> str:
    return manage("shell", "-c", code, env=env)


def django_setup(env: dict[str, str]) -> None:
    """Configure Django in this process with `env` (the same settings as the processes the
    benchmark starts), to seed and read the database directly."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "photosync.settings"
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


@contextlib.contextmanager
def managed(*args: str, env: dict[str, str], log: Path | None = None,
            cwd: Path = REPO) -> Iterator[subprocess.Popen]:
    """`manage.py <args>` as a separate process (worker, syncd), stopped with its children.
    `cwd`: another checkout's code (a before/after comparison)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, stdout=out,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_group(proc)
        if log:
            out.close()


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group a benchmark started (its own session), SIGKILL if it lingers."""
    import signal

    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def redis_flush_namespace(namespace: str) -> int:
    """Delete a benchmark's queue keys from the shared Redis; return how many."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i:i + 500])
    return len(keys)


def percentile(values: list[float], q: float) -> float:
    """The same nearest-rank percentile LoadResult uses."""
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, threads: int = 4,
             port: int | None = None, on_start=None, app: str = "photosync.wsgi",
             cwd: Path = REPO) -> Iterator[str]:
    """The production web server configuration on loopback; yields its base URL.

    `on_start(proc)` is called with the gunicorn master once it answers (to watch its pid);
    `app` serves another WSGI module (an A/B experiment's variant)."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "-k", "gthread", "--threads", str(threads),
         "--log-level", "warning"],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {proc.stderr.read()[-2000:]}")
            time.sleep(0.1)
        if on_start is not None:
            on_start(proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    import psutil

    proc = psutil.Process(pid)
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 2**20


# --- load generation -----------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    offsets_s: list[float] = field(default_factory=list)  # each latency's start, from t0
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

    def windows(self, width: float = 0.5) -> list[list[float]]:
        """[start s, requests, p50 ms, max ms] per `width` seconds of start times."""
        buckets: dict[int, list[float]] = {}
        for offset, latency in zip(self.offsets_s, self.latencies_ms, strict=True):
            buckets.setdefault(int(offset / width), []).append(latency)
        return [[round(k * width, 2), len(v), round(percentile(v, 0.5), 1), round(max(v), 1)]
                for k, v in sorted(buckets.items())]

    def summary(self) -> dict:
        return {
            "sent": self.sent, "ok": self.ok, "errors": self.errors, "statuses": self.statuses,
            "seconds": round(self.seconds, 3), "throughput_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile(0.50), 2), "p95_ms": round(self.percentile(0.95), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2) if self.latencies_ms else None,
        }


async def _request(reader, writer, raw: bytes) -> int:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


def http_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _load(base: str, make_request, *, rate: float | None, total: int,
                connections: int, prime: bytes | None = None) -> LoadResult:
    """Open loop when `rate` is set (each request starts on schedule, latency counted from
    then, so queueing delay shows), else closed loop (`connections` clients back to back).

    `prime`: a request each new connection sends once before the clock starts, so that the
    server has accepted every connection (gunicorn takes ~0.2 s to accept 64 at once, which
    would otherwise show as the first deliveries' latency)."""
    host, port = base.removeprefix("http://").split(":")
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    opened = [await asyncio.open_connection(host, int(port)) for _ in range(connections)]
    if prime is not None:
        await asyncio.gather(*(_request(reader, writer, prime) for reader, writer in opened))
    for pair in opened:
        pool.put_nowait(pair)

    async def one(i: int, scheduled: float) -> None:
        reader, writer = await pool.get()
        try:
            status = await _request(reader, writer, make_request(i))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            result.errors += 1
            writer.close()
            pool.put_nowait(await asyncio.open_connection(host, int(port)))
            return
        result.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        result.offsets_s.append(scheduled - started)
        result.statuses[status] = result.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            result.ok += 1
        else:
            result.errors += 1
        pool.put_nowait((reader, writer))

    counter = iter(range(total))

    async def client() -> None:
        for i in counter:
            await one(i, time.perf_counter())

    started = time.perf_counter()
    if rate:
        tasks = []
        for i in range(total):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    else:
        await asyncio.gather(*(client() for _ in range(connections)))
    result.sent = total
    result.seconds = time.perf_counter() - started
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return result


def load(base: str, make_request, *, rate: float | None = None, total: int,
         connections: int = 32, prime: bytes | None = None) -> LoadResult:
    return asyncio.run(_load(base, make_request, rate=rate, total=total,
                             connections=connections, prime=prime))


def write_result(name: str, data: dict) -> Path:
    """bench/results/<name>.json; a smoke run's (data["smoke"]) under bench/results/smoke/,
    so that it never replaces the real numbers the report is made from."""
    folder = RESULTS / "smoke" if data.get("smoke") else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2))
    return path


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in cells[1:]]
    return "\n".join(lines)


# --- where the time goes -------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (gone ones count 0)."""
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def process_tree(pid: int) -> list[int]:
    import psutil

    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        return [pid, *(c.pid for c in proc.children(recursive=True))]
    return []


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to one database."""
    import psutil

    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith("postgres:") and f" {database} " in cmdline:
            pids.append(proc.pid)
    return pids


@contextlib.contextmanager
def py_spy(pids: list[int], seconds: float, out_dir: Path, rate: int = 250, *,
           idle: bool = False, gil: bool = False,
           categories: dict[str, str | tuple[str, ...]] | None = None,
           exclusive: bool = False, within: str | None = None) -> Iterator[dict]:
    """Sample the given processes with py-spy (the `bench` extra) for `seconds` from the
    block's start; on exit the dict holds the collapsed profile (see collapse_stacks), or an
    error. `idle` also samples threads that wait (wall time rather than CPU); `gil` only the
    thread holding the GIL, which is where a multi-threaded server's Python CPU goes (without
    it, threads waiting for the GIL or for a socket inside a C call count as busy)."""
    import shutil

    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    result: dict = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / f"py-spy.{pid}.txt" for pid in pids]
    procs = []
    if not Path(exe).exists():
        result["error"] = "py-spy is not installed (pip install -e '.[bench]')"
    else:
        procs = [subprocess.Popen(
            [exe, "record", "--nonblocking", "-p", str(pid), "-r", str(rate), "-f", "raw",
             "-o", str(path), "-d", str(max(1, int(seconds))), *(["--idle"] if idle else []),
             *(["--gil"] if gil else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ) for pid, path in zip(pids, files, strict=True)]
        time.sleep(1.0)  # py-spy attaches
    try:
        yield result
    finally:
        for proc in procs:
            try:
                proc.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        done = [f for f in files if f.exists()]
        if procs and not done:
            result["error"] = "py-spy wrote nothing: " + (procs[0].stderr.read()[-300:]
                                                          if procs[0].stderr else "")
        elif done:
            result.update(collapse_stacks(done, categories=categories, exclusive=exclusive,
                                          within=within))


def collapse_stacks(paths: list[Path], top: int = 60, *,
                    categories: dict[str, str | tuple[str, ...]] | None = None,
                    exclusive: bool = False, within: str | None = None) -> dict:
    """Inclusive and self shares of frames in py-spy's raw (collapsed) output, idle event-loop
    waits left out. `within`: only stacks through a frame containing that text. `categories`:
    name → text of the stack (frames joined by ";"), or several (any of them); the share of
    samples that contain it. `exclusive`: a sample counts only in the first category it
    matches, in the dict's order, and the rest in "other" (the parts then add up to 100 %)."""
    import collections
    import re

    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    matched: collections.Counter = collections.Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")
                      if not f.startswith("process ")]
            if not frames or "select (selectors" in frames[-1] or "selectors.py" in frames[-1]:
                continue
            if within and not any(within in f for f in frames):
                continue
            n = int(count)
            total += n
            joined = ";".join(frames)
            for name, texts in (categories or {}).items():
                if any(text in joined for text in
                       ((texts,) if isinstance(texts, str) else texts)):
                    matched[name] += n
                    if exclusive:
                        break
            else:
                if exclusive:
                    matched["other"] += n
            for frame in set(frames):
                inclusive[frame] += n
            own[frames[-1]] += n

    def share(counter: collections.Counter) -> list[list]:
        return [[round(100 * n / total, 1), frame] for frame, n in counter.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own),
            "categories_pct": {name: round(100 * matched[name] / total, 1) if total else 0.0
                               for name in [*(categories or {}),
                                            *(["other"] if exclusive else [])]}}


class Periodic:
    """A daemon thread calling ``self.sample()`` every ``interval`` seconds (first at once)
    while the ``with`` block runs; subclasses define ``sample`` and what they keep."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
