"""Resident memory of the production processes at idle and under the webhook intake load.

Starts the process map of the README on loopback: web (gunicorn, 2 workers × 4 threads, as in
bench/webhook_intake.py), a CPU worker (`manage.py worker`, the container's defaults: 2
processes × 2 threads) and syncd, on PostgreSQL and Redis, with a Shopify emulator as the store.
Memory is sampled (process_rss_mb: each process with its children) at idle after boot, then
during webhook_intake's open-loop load of signed products/update deliveries for 10 products
(`--products`; each delivery re-read by the worker; the first of each product also generates
its images), and while the worker drains the backlog afterwards. RSS counts pages shared
between a parent and its forked children in each; PSS, which splits them, is given beside it.

    python bench/memory.py [--rate 300] [--seconds 10] [--drain 30] [--smoke]
    python bench/memory.py --products 200 --drain 900   # a long run of generation

With ``--products N`` the sample photos are cycled over N products (a burst: each product's
first delivery generates its images) and draining lasts until every generation job has
finished (or ``--drain`` runs out), so the worker's peak covers the whole run of generation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PHOTOS,
    REDIS_URL,
    Periodic,
    base_env,
    bench_database,
    django_setup,
    free_port,
    gunicorn,
    load,
    load_note,
    managed,
    process_rss_mb,
    process_tree,
    redis_flush_namespace,
    table,
    wait_for,
    write_result,
)
from bench.webhook_intake import webhook_maker  # noqa: E402

API_KEY = "bench-mem-key"
API_SECRET = "bench-mem-secret-0123456789abcdef"
SHOP = "bench-mem.myshopify.com"
ROLES = ("web", "worker", "syncd")


def pss_mb(pid: int) -> float | None:
    """Proportional set size of a process and its children, in MiB (None where unreadable)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_full_info().pss for p in procs) / 2**20
    except (psutil.Error, AttributeError):
        return None


class Sampler(Periodic):
    """Sample RSS and PSS of each role every `interval` seconds, per phase."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        super().__init__(interval)
        self.pids = pids
        self.phase = "idle"
        self.samples: dict[str, dict[str, list[tuple[float, float | None]]]] = {}

    def sample(self) -> None:
        phase = self.samples.setdefault(self.phase, {})
        for role, pid in self.pids.items():
            with contextlib.suppress(Exception):
                phase.setdefault(role, []).append((process_rss_mb(pid), pss_mb(pid)))

    def summary(self) -> dict:
        out: dict = {}
        for phase, roles in self.samples.items():
            for role, values in roles.items():
                rss = [r for r, _ in values]
                pss = [p for _, p in values if p is not None]
                out.setdefault(role, {})[phase] = {
                    "rss_mb_mean": round(statistics.fmean(rss), 1),
                    "rss_mb_max": round(max(rss), 1),
                    "pss_mb_max": round(max(pss), 1) if pss else None,
                    "samples": len(values),
                }
        return out


def _load_child(base: str, namespace: str, bodies: list[bytes], rate: float, total: int,
                out) -> None:
    make = webhook_maker(base.removeprefix("http://"), namespace, bodies, secret=API_SECRET,
                         shop=SHOP, topic="products/update")
    out.put(load(base, make, rate=rate, total=total, connections=64).summary())


def load_apart(base: str, namespace: str, bodies: list[bytes], rate: float,
               total: int) -> dict:
    """webhook_intake's open-loop load, from its own process: the store emulator shares this
    one and would starve the load generator of the GIL."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_load_child, args=(base, namespace, bodies, rate, total, out))
    child.start()
    summary = out.get(timeout=total / rate + 300)
    child.join(30)
    return summary


def product_body(emulator, gid: str) -> bytes:
    from emulators.shopify import state as st

    shop = emulator.shops[SHOP]
    return json.dumps(emulator._product_payload(shop, st.gid_number(gid))).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to keep sampling while the worker drains the backlog")
    parser.add_argument("--products", type=int, default=10,
                        help="products in the burst (the 15 sample photos, cycled)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.drain = 50.0, 1.0, 2.0
    namespace = f"bench-mem-{uuid.uuid4().hex[:6]}"
    from emulators.shopify import ShopifyEmulator

    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    # Restore fast enough that the worker does the re-reads rather than wait on the limit:
    # this measures memory, not the store's rate limit.
    emulator = ShopifyEmulator(api_key=API_KEY, api_secret=API_SECRET, restore_rate=100_000,
                               bucket_size=100_000)
    emulator.start()
    emulator.add_shop(SHOP)
    photos = sorted(PHOTOS.glob("*.jpg"))
    data: dict = {"smoke": args.smoke, "rate": args.rate, "seconds": args.seconds,
                  "products": args.products}
    try:
        with tempfile.TemporaryDirectory(prefix="photosync-bench-") as data_dir, \
                bench_database() as db_url:
            env = base_env(
                DATABASE_URL=db_url, REDIS_URL=REDIS_URL, PHOTOSYNC_QUEUE_NAMESPACE=namespace,
                SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
                SHOPIFY_API_ORIGIN=emulator.base_url, ALLOWED_HOSTS="127.0.0.1",
                PHOTOSYNC_ALLOWED_NETWORKS="127.0.0.0/8",
                PHOTOSYNC_PUBLIC_URL=base_url, PHOTOSYNC_DATA_DIR=data_dir,
                PHOTOSYNC_MEDIA_ROOT=str(Path(data_dir) / "media"),
            )
            django_setup(env)
            from photosync.models import GenerationJob, WebhookEvent, WorkerHeartbeat
            from photosync.queueing import queue_depth
            from photosync.services.shopify.auth import shopify_store_connect

            shopify_store_connect(shop=SHOP,
                                  credentials={"access_token": emulator.issue_token(SHOP)})
            web: list = []
            with gunicorn(env, port=web_port, on_start=web.append) as base, \
                    managed("worker", "--processes", "2", "--threads", "2", env=env) as worker, \
                    managed("syncd", env=env) as syncd:
                wait_for(lambda: WorkerHeartbeat.objects.count() >= 2, 60, "the workers")
                time.sleep(3)  # settle: syncd's first pass, imports done
                pids = {"web": web[0].pid, "worker": worker.pid, "syncd": syncd.pid}
                with Sampler(pids) as sampler:
                    time.sleep(2)
                    # The products appear only now, so that idle is idle (syncd's first pass
                    # found an empty catalog).
                    gids = [emulator.create_product(
                        SHOP, title=f"Memory product {n}", product_type="Demo",
                        images=[(photos[n % len(photos)].name,
                                 photos[n % len(photos)].read_bytes(), "")])
                        for n in range(args.products)]
                    sampler.phase = "load"
                    data["load"] = load_apart(base, namespace,
                                              [product_body(emulator, g) for g in gids],
                                              args.rate, int(args.rate * args.seconds))
                    sampler.phase = "drain"
                    deadline = time.monotonic() + args.drain
                    started = time.monotonic()
                    while time.monotonic() < deadline and (
                            queue_depth("webhooks") or GenerationJob.objects.filter(
                                finished_at__isnull=False).count() < args.products):
                        time.sleep(0.5)
                    data["drain_seconds"] = round(time.monotonic() - started, 1)
                data["events_processed"] = WebhookEvent.objects.exclude(
                    status="received").count()
                data["events_received"] = WebhookEvent.objects.count()
                data["jobs_finished"] = GenerationJob.objects.filter(
                    finished_at__isnull=False).count()
                data["backlog_left"] = queue_depth("webhooks")
                data["processes"] = {role: len(process_tree(pid)) for role, pid in pids.items()}
                data["memory"] = sampler.summary()
    finally:
        emulator.stop()
        redis_flush_namespace(namespace)

    rows = []
    for role in ROLES:
        phases = data["memory"].get(role, {})
        cells = [role, data["processes"][role]]
        for phase in ("idle", "load", "drain"):
            p = phases.get(phase)
            cells.append(f"{p['rss_mb_max']:.0f} ({p['pss_mb_max']:.0f})" if p and
                         p["pss_mb_max"] is not None else (f"{p['rss_mb_max']:.0f}" if p
                                                           else "-"))
        rows.append(cells)
    print(table(rows, ["process", "processes", "idle MiB RSS (PSS)",
                       f"under load @ {args.rate:g}/s", "draining"]))
    print(f"load: {data['load']['ok']} of {data['load']['sent']} answered 2xx, "
          f"p99 {data['load']['p99_ms']} ms; worker processed {data['events_processed']} of "
          f"{data['events_received']} events, finished {data['jobs_finished']} jobs; "
          f"{data['backlog_left']} left in the queue")
    print(load_note())
    path = write_result("memory", data)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
