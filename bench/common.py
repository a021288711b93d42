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


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


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


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """The production web server configuration on loopback; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "photosync.wsgi", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "-k", "gthread", "--threads", str(threads),
         "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
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
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]

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
                connections: int) -> LoadResult:
    """Open loop when `rate` is set (each request starts on schedule, latency counted from
    then, so queueing delay shows), else closed loop (`connections` clients back to back)."""
    host, port = base.removeprefix("http://").split(":")
    result = LoadResult()
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))

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
         connections: int = 32) -> LoadResult:
    return asyncio.run(_load(base, make_request, rate=rate, total=total,
                             connections=connections))


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2))
    return path


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in cells[1:]]
    return "\n".join(lines)
