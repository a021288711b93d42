"""A catalog import as the store sends it: N products created within a window (default 1,000
in 60 s, issue 17), one products/create (Shopify) or product.created (WooCommerce) delivery
each, on the production configuration (gunicorn 2×4, PostgreSQL, Redis, `manage.py worker`
on the webhooks queue). Generation is not running (its queue has no consumer): this measures
the issue's webhook → job part only, on a shared 2-core machine.

Per product: webhook → job = GenerationJob.created_at − WebhookEvent.received_at of its
create delivery. Missed: a product without a job after the wait; duplicated: one with more
than one job or product row. Shopify: the emulator's Standard plan (bucket 1,000, restore 100
points/s); GraphQL points per product from the emulator's own cost accounting (requested:
what the re-reads asked the bucket for; actual: what they were charged; emulators/shopify
charges `nodes(ids:)` per id). WooCommerce: product reads (requests) per product.

`--code DIR` runs the web and worker processes from another checkout (the code before the
batched drain: `--code /work/main`), the emulators and the measurement from this one.

    python bench/burst.py [--platform shopify,woocommerce] [--products 1000] [--window 60]
                          [--code DIR] [--label before]
"""

from __future__ import annotations

import argparse
import os
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
    REPO,
    Periodic,
    base_env,
    bench_database,
    django_setup,
    free_port,
    gunicorn,
    load_note,
    managed,
    percentile,
    redis_flush_namespace,
    table,
    wait_for,
    write_result,
)

API_KEY = "bench-burst-key"
API_SECRET = "bench-burst-secret-0123456789abcdef"
SHOP = "bench-burst.myshopify.com"
TARGET_P95_MS = 5000


class LoadSampler(Periodic):
    """The 1-minute load average every second while the burst runs (its max and mean)."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        if not self.samples:
            return {}
        return {"max": round(max(self.samples), 2),
                "mean": round(statistics.fmean(self.samples), 2)}


def paced(n: int, window: float, create) -> list[str]:
    """Call `create(i)` n times spread evenly over `window` seconds; return the ids."""
    start = time.monotonic()
    ids = []
    for i in range(n):
        due = start + window * i / n
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        ids.append(create(i))
    return ids


def measure(ids: list[str], topic: str, timeout: float, id_of) -> dict:
    from django.db.models import Count

    from photosync.models import GenerationJob, Product, WebhookEvent

    try:
        wait_for(lambda: GenerationJob.objects.filter(product__remote_id__in=ids)
                 .values("product__remote_id").distinct().count() >= len(ids),
                 timeout, f"{len(ids)} jobs", interval=0.5)
    except TimeoutError as exc:
        print(exc)
    drained = time.time()
    events = {id_of(e): e for e in WebhookEvent.objects.filter(topic=topic)}
    jobs: dict[str, list] = {}
    for job in GenerationJob.objects.filter(product__remote_id__in=ids).select_related(
            "product"):
        jobs.setdefault(job.product.remote_id, []).append(job)
    latencies = [1000 * (min(j.created_at for j in jobs[i]).timestamp()
                         - events[i].received_at.timestamp())
                 for i in ids if i in jobs and i in events]
    rows = Product.objects.filter(remote_id__in=ids).values("remote_id").annotate(
        n=Count("pk"))
    statuses = dict(WebhookEvent.objects.filter(topic=topic).values_list("status")
                    .annotate(n=Count("pk")))
    return {
        "products": len(ids),
        "webhook_to_job_ms": {"p50": round(percentile(latencies, 0.5)),
                              "p95": round(percentile(latencies, 0.95)),
                              "max": round(percentile(latencies, 1.0))},
        "missed": sum(1 for i in ids if i not in jobs),
        "duplicated": sum(1 for js in jobs.values() if len(js) > 1)
        + sum(1 for r in rows if r["n"] > 1),
        "events": statuses,
        "drained_at": drained,
    }


def run_shopify(args, env: dict, base: str, photo: bytes) -> dict:
    from emulators.shopify import ShopifyEmulator
    from photosync.services.shopify.auth import shopify_store_connect

    emulator = ShopifyEmulator(api_key=API_KEY, api_secret=API_SECRET,
                               webhook_url=f"{base}/webhooks/shopify")
    emulator.start()
    emulator.add_shop(SHOP)
    env = {**env, "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
           "SHOPIFY_API_ORIGIN": emulator.base_url}
    os.environ.update(env)
    from django.conf import settings

    settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET = API_KEY, API_SECRET
    settings.SHOPIFY_API_ORIGIN = emulator.base_url
    shopify_store_connect(shop=SHOP, credentials={"access_token": emulator.issue_token(SHOP)})
    try:
        with served(args, env) as load:
            started = time.time()
            ids = paced(args.products, args.window, lambda i: emulator.create_product(
                SHOP, title=f"Import {i}", product_type="Demo",
                images=[(f"import{i}.jpg", photo, "")], notify=True))
            sent = time.time() - started
            result = measure(ids, "products/create", args.timeout,
                             lambda e: e.payload.get("admin_graphql_api_id"))
        n = args.products
        result.update({
            "platform": "shopify",
            "store": "Shopify emulator, Standard plan (bucket 1000, restore 100 points/s)",
            "sent_seconds": round(sent, 1),
            "graphql_calls": emulator.stats["graphql"],
            "graphql_calls_by_operation": dict(emulator.op_counts),
            "throttled_calls": emulator.stats["throttled"],
            "points_requested_per_product": round(emulator.stats["requested"] / n, 2),
            "points_actual_per_product": round(emulator.stats["cost"] / n, 2),
            "load_average": load.summary(),
        })
        return result
    finally:
        emulator.stop()


def run_woocommerce(args, env: dict, base: str, photo: bytes) -> dict:
    from django.conf import settings

    from emulators.woocommerce import WooEmulator
    from photosync.services.woocommerce.connect import woocommerce_store_connect

    woo = WooEmulator()
    settings.PHOTOSYNC_PUBLIC_URL = base
    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    key, secret = woo.add_key()
    woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    woo.wait_deliveries()
    try:
        with served(args, env) as load:
            woo.requests.clear()
            started = time.time()
            ids = paced(args.products, args.window, lambda i: str(woo.create_product(
                f"Import {i}", [(f"import{i}.jpg", photo)])))
            sent = time.time() - started
            result = measure(ids, "product.created", args.timeout,
                             lambda e: str(e.payload.get("product_id")))
        reads = [r for r in woo.requests if r[0] == "GET"
                 and r[1].strip("/").startswith("products")]
        result.update({
            "platform": "woocommerce", "store": "WooCommerce emulator",
            "sent_seconds": round(sent, 1),
            "product_read_requests": len(reads),
            "product_reads_per_product": round(len(reads) / args.products, 3),
            "load_average": load.summary(),
        })
        return result
    finally:
        woo.close()


class served:
    """gunicorn and the webhooks-queue workers, from `--code`, around one burst."""

    def __init__(self, args, env: dict) -> None:
        self.args, self.env = args, env

    def __enter__(self) -> LoadSampler:
        self._web = gunicorn(self.env, port=self.args.port, cwd=self.args.code)
        self._web.__enter__()
        self._workers = managed("worker", "--queues", "webhooks", "--processes",
                                str(self.args.processes), "--threads", str(self.args.threads),
                                env=self.env, cwd=self.args.code)
        from photosync.models import WorkerHeartbeat

        WorkerHeartbeat.objects.all().delete()
        self._workers.__enter__()
        wait_for(lambda: WorkerHeartbeat.objects.count() >= self.args.processes, 120,
                 "the workers to boot")
        time.sleep(2)
        self._load = LoadSampler().__enter__()
        return self._load

    def __exit__(self, *exc) -> None:
        self._load.__exit__(*exc)
        self._workers.__exit__(*exc)
        self._web.__exit__(*exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default="shopify,woocommerce")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds over which the store sends the deliveries")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--code", type=Path, default=REPO,
                        help="checkout whose web and worker processes run")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    args.port = free_port()
    base = f"http://127.0.0.1:{args.port}"
    photo = sorted(PHOTOS.glob("*.jpg"))[0].read_bytes()
    label = args.label or ("this branch" if args.code.resolve() == REPO else str(args.code))
    results = []
    namespace = f"bench-burst-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory(prefix="photosync-burst-") as data_dir, \
            bench_database() as db_url:
        env = base_env(
            DATABASE_URL=db_url, REDIS_URL=REDIS_URL, PHOTOSYNC_QUEUE_NAMESPACE=namespace,
            ALLOWED_HOSTS="127.0.0.1", PHOTOSYNC_ALLOWED_NETWORKS="127.0.0.0/8",
            PHOTOSYNC_PUBLIC_URL=base, PHOTOSYNC_DATA_DIR=data_dir,
            PHOTOSYNC_MEDIA_ROOT=str(Path(data_dir) / "media"),
        )
        django_setup(env)
        from django.db import connections

        try:
            for platform in args.platform.split(","):  # one store each, one database
                run = run_shopify if platform == "shopify" else run_woocommerce
                results.append({"code": label, **run(args, env, base, photo)})
        finally:
            connections.close_all()
            redis_flush_namespace(namespace)
    rows = []
    for r in results:
        w = r["webhook_to_job_ms"]
        points = (f"{r['points_requested_per_product']} / {r['points_actual_per_product']}"
                  if r["platform"] == "shopify" else "—")
        calls = (r["graphql_calls"] if r["platform"] == "shopify"
                 else r["product_read_requests"])
        rows.append([r["platform"], r["code"], r["products"], r["sent_seconds"],
                     f"{w['p50']} / {w['p95']}", points, calls, r["missed"], r["duplicated"],
                     r["load_average"].get("max", "")])
    print(table(rows, ["platform", "code", "products", "sent in s", "webhook → job p50/p95 ms",
                       "points/product req/actual", "store reads", "missed", "duplicated",
                       "load max"]))
    print(f"target: webhook → job p95 ≤ {TARGET_P95_MS} ms; {load_note()}")
    path = write_result("burst" + (f"-{args.label}" if args.label else ""), {
        "products": args.products, "window_seconds": args.window,
        "worker_processes": args.processes, "worker_threads": args.threads,
        "generation": "not running (webhook → job only)",
        "targets": {"webhook_to_job_p95_ms": TARGET_P95_MS}, "runs": results,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
