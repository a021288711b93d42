"""Reconcile a catalog and push images at the store's rate limit, against the emulators.

Shopify (emulator throttling like a Standard plan: bucket 1,000 points, restore 100/s):
- bulk: the first read of a 10,000-product catalog through a bulk operation
  (shopify_backfill_start, then shopify_bulk_ingest streams the JSONL into product_ingest);
- sweep: store_reconcile(sweep=True) over the now-known catalog, page by page (20 products a
  page), which is what the rate limit bounds;
- push: 500 approved images pushed (bench/shopify_push.py's machinery, here on PostgreSQL and
  Redis).
Each reports its time against the floor the rate limit implies on the points it actually spent,
max(0, points − bucket) / restore rate; for the sweep plus the headroom a page needs (it is sent
only when the bucket holds its requested cost, though charged its smaller actual cost).
Target: within 1.25× of the floor, no throttle error surfaced.

WooCommerce (no rate limit, as core WooCommerce): the same catalog size through store_reconcile
in pages of 100, first pass and a sweep of the known catalog; time, pages/s and per-page cost.

Ingest (product_ingest: rows, hashes, jobs) is timed apart from reading the store, with its
database queries counted, so the table says where the time goes.

    python bench/reconcile.py [--products 10000] [--pushes 500] [--smoke] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import math
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    REDIS_URL,
    RESULTS,
    bench_database,
    load_note,
    redis_flush_namespace,
    table,
    write_result,
)

CATALOG_SHOP = "bench-catalog.myshopify.com"
TARGET_OVER_FLOOR = 1.25


class Timed:
    """Wrap a module's function: count calls and add up their seconds."""

    def __init__(self, module, name: str) -> None:
        self.module, self.name = module, name
        self.original = getattr(module, name)
        self.calls, self.seconds = 0, 0.0

    def __enter__(self) -> Timed:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.calls += 1
                self.seconds += time.perf_counter() - started

        setattr(self.module, self.name, timed)
        return self

    def __exit__(self, *exc) -> None:
        setattr(self.module, self.name, self.original)


class Queries:
    """Count this thread's database queries and the seconds spent waiting on them."""

    def __init__(self) -> None:
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


@contextlib.contextmanager
def profiled(enabled: bool, name: str, out: dict):
    """cProfile the block when enabled; keep the top of the cumulative listing in `out`."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        RESULTS.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(RESULTS / f"reconcile.{name}.prof")
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(25)
        out["profile_top"] = text.getvalue().splitlines()[:60]


def _throttle_wait() -> float:
    from integrations.metrics import THROTTLE_WAIT_SECONDS

    return THROTTLE_WAIT_SECONDS.labels(platform="shopify")._value.get()


def _floor(points: float, bucket: float, rate: float) -> float:
    return max(0.0, points - bucket) / rate


def _fresh_bucket(emulator, shop: str) -> None:
    from integrations.shopify.budget import budgets_reset

    bucket = emulator.shops[shop].bucket
    bucket.available, bucket.at = bucket.maximum, time.monotonic()
    emulator.stats.update(graphql=0, throttled=0, cost=0)
    emulator.op_counts.clear()
    budgets_reset()  # the client's model of the bucket starts full too


def ingest_split(total: float, ingest: Timed, dispatch: Timed, queries: Queries,
                 products: int) -> dict:
    """Where a reconcile's time went: reading the store vs ingest vs dispatch."""
    per = 1000 / products if products else 0
    return {
        "read_seconds": round(total - ingest.seconds - dispatch.seconds, 3),
        "ingest_seconds": round(ingest.seconds, 2),
        "dispatch_seconds": round(dispatch.seconds, 2),
        "ingest_ms_per_product": round(ingest.seconds * per, 2),
        "queries_per_product": round(queries.count / products, 1) if products else 0,
        "query_wait_ms_per_product": round(queries.seconds * per, 2),
    }


def shopify_catalog(products: int, *, bucket: float, rate: float, sweep: bool,
                    profile: bool) -> dict:
    from django.conf import settings
    from django.db import connection

    from emulators.images import tiny_png
    from emulators.shopify import ShopifyEmulator
    from integrations.errors import Unavailable
    from integrations.shopify.budget import budget_for
    from photosync.services import sync
    from photosync.services.shopify import backfill
    from photosync.services.shopify.auth import shopify_store_connect

    emulator = ShopifyEmulator(api_key=settings.SHOPIFY_API_KEY,
                               api_secret=settings.SHOPIFY_API_SECRET,
                               bucket_size=bucket, restore_rate=rate)
    emulator.start()
    out: dict = {"products": products, "bucket": bucket, "restore_rate": rate}
    try:
        started = time.perf_counter()
        emulator.add_shop(CATALOG_SHOP)
        png = tiny_png(1)
        for n in range(products):
            emulator.create_product(CATALOG_SHOP, title=f"Catalog product {n}",
                                    product_type="Demo", images=[(f"c{n}.png", png, "")])
        out["seed_seconds"] = round(time.perf_counter() - started, 2)
        settings.SHOPIFY_API_ORIGIN = emulator.base_url
        settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the emulator is on loopback
        store = shopify_store_connect(
            shop=CATALOG_SHOP, credentials={"access_token": emulator.issue_token(CATALOG_SHOP)})

        # --- bulk: the first read of the catalog ---------------------------------------
        _fresh_bucket(emulator, CATALOG_SHOP)
        queries, wait0, result = Queries(), _throttle_wait(), {}
        with Timed(backfill, "product_ingest") as ingest, \
                Timed(backfill, "jobs_dispatch") as dispatch, \
                connection.execute_wrapper(queries), profiled(profile, "bulk", result):
            started = time.perf_counter()
            operation = backfill.shopify_backfill_start(store=store)
            start_seconds = time.perf_counter() - started
            polls = 0
            while True:  # what the actor does on Unavailable, without its retry delay
                polls += 1
                try:
                    seen = backfill.shopify_bulk_ingest(store=store, operation_id=operation)
                    break
                except Unavailable:
                    time.sleep(0.1)
            total = time.perf_counter() - started
        points = emulator.stats["cost"]
        floor = _floor(points, bucket, rate)
        out["bulk"] = {
            "seconds": round(total, 2), "products_seen": seen,
            "products_per_s": round(seen / total, 1),
            "points": points, "graphql_calls": emulator.stats["graphql"],
            "throttled": emulator.stats["throttled"],
            "throttle_wait_seconds": round(_throttle_wait() - wait0, 2),
            "floor_seconds": round(floor, 2),
            "over_floor": round(total / floor, 2) if floor else None,
            "bulk_start_seconds": round(start_seconds, 2), "status_polls": polls,
            **ingest_split(total - start_seconds, ingest, dispatch, queries, seen),
            **result,
        }

        # --- sweep: the whole known catalog, page by page, at the rate limit ------------
        if sweep:
            store.refresh_from_db()
            _fresh_bucket(emulator, CATALOG_SHOP)
            queries, wait0, result = Queries(), _throttle_wait(), {}
            with Timed(sync, "product_ingest") as ingest, \
                    Timed(sync, "jobs_dispatch") as dispatch, \
                    connection.execute_wrapper(queries), profiled(profile, "sweep", result):
                started = time.perf_counter()
                seen = sync.store_reconcile(store=store, sweep=True)
                total = time.perf_counter() - started
            points = emulator.stats["cost"]
            pages = emulator.op_counts.get("ProductsPage", 0)
            # A page is sent only when the bucket holds its *requested* cost (~660 points)
            # though it is charged its actual cost (~120): that headroom is never usable.
            requested = budget_for(CATALOG_SHOP).estimate("ProductsPage")
            headroom = max(0.0, requested - points / pages) if pages else 0.0
            floor = _floor(points + headroom, bucket, rate)
            out["sweep"] = {
                "seconds": round(total, 2), "products_seen": seen, "pages": pages,
                "products_per_s": round(seen / total, 1),
                "points": points, "points_per_page": round(points / pages, 1) if pages else 0,
                "requested_per_page": requested,
                "graphql_calls": emulator.stats["graphql"],
                "calls_by_operation": dict(emulator.op_counts),
                "throttled": emulator.stats["throttled"],
                "throttle_wait_seconds": round(_throttle_wait() - wait0, 2),
                "floor_seconds": round(floor, 2),
                "over_floor": round(total / floor, 2) if floor else None,
                **ingest_split(total, ingest, dispatch, queries, seen),
                **result,
            }
    finally:
        emulator.stop()
    return out


def woocommerce_catalog(products: int, *, profile: bool) -> dict:
    from django.db import connection

    from emulators.images import tiny_png
    from emulators.woocommerce import WooEmulator
    from photosync.models import Platform, Store
    from photosync.services import sync
    from photosync.services.credentials import store_credentials_set

    woo = WooEmulator()
    out: dict = {"products": products, "per_page": 100}
    try:
        started = time.perf_counter()
        key, secret = woo.add_key()
        png = tiny_png(2)
        for n in range(products):
            woo.create_product(f"Woo product {n}", [(f"w{n}.png", png)])
        out["seed_seconds"] = round(time.perf_counter() - started, 2)
        store = Store.objects.create(platform=Platform.WOOCOMMERCE, domain=woo.url,
                                     name="bench-woo")
        store_credentials_set(store=store, credentials={
            "consumer_key": key, "consumer_secret": secret, "webhook_secret": "W" * 40})
        for phase in ("first_pass", "sweep"):
            store.refresh_from_db()
            requests_before = len(woo.requests)
            queries, result = Queries(), {}
            with Timed(sync, "product_ingest") as ingest, \
                    Timed(sync, "jobs_dispatch") as dispatch, \
                    connection.execute_wrapper(queries), profiled(profile, f"woo-{phase}",
                                                                  result):
                started = time.perf_counter()
                seen = sync.store_reconcile(store=store, sweep=True)
                total = time.perf_counter() - started
            pages = sum(1 for method, route, _ in woo.requests[requests_before:]
                        if method == "GET" and route == "products")
            split = ingest_split(total, ingest, dispatch, queries, seen)
            out[phase] = {
                "seconds": round(total, 2), "products_seen": seen, "pages": pages,
                "expected_pages": math.ceil(products / 100),
                "pages_per_s": round(pages / total, 2) if total else None,
                "read_ms_per_page": round(1000 * split["read_seconds"] / pages, 1)
                if pages else None,
                "ingest_ms_per_page": round(1000 * split["ingest_seconds"] / pages, 1)
                if pages else None,
                "products_per_s": round(seen / total, 1),
                **split, **result,
            }
    finally:
        woo.close()
    return out


def pushes(count: int, *, bucket: float, rate: float) -> dict:
    from bench import shopify_push
    from photosync.queueing import Queues

    per_product = 4 if count % 4 == 0 else 1  # products × images = exactly `count`
    result = shopify_push.run(pushes=count, per_product=per_product, restore_rate=rate,
                              bucket=bucket,
                              threads=2, queues={Queues.PUSH, Queues.WEBHOOKS})
    result.pop("wall_started", None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--pushes", type=int, default=500)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    parser.add_argument("--bucket", type=float, default=1000.0)
    parser.add_argument("--no-sweep", action="store_true",
                        help="skip the rate-limited page-by-page Shopify sweep")
    parser.add_argument("--only", choices=("shopify", "push", "woocommerce"), action="append",
                        help="run only these parts (repeatable)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile each reconcile; top entries go into the JSON")
    parser.add_argument("--smoke", action="store_true", help="200 products, 10 pushes")
    args = parser.parse_args()
    if args.smoke:  # seconds, not minutes: 10× the restore rate, as shopify_push's smoke
        args.products, args.pushes, args.restore_rate = 200, 10, args.restore_rate * 10
    parts = set(args.only or ("shopify", "push", "woocommerce"))
    namespace = f"bench-rec-{uuid.uuid4().hex[:6]}"
    from bench import shopify_push

    data: dict = {"smoke": args.smoke, "targets": {"over_floor": TARGET_OVER_FLOOR}}
    try:
        with tempfile.TemporaryDirectory(prefix="photosync-bench-") as data_dir, \
                bench_database() as db_url:
            shopify_push._setup_django(
                data_dir, DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
                PHOTOSYNC_QUEUE_NAMESPACE=namespace,
                PHOTOSYNC_ALLOWED_NETWORKS="127.0.0.0/8",
            )
            if "shopify" in parts:
                data["shopify"] = shopify_catalog(args.products, bucket=args.bucket,
                                                  rate=args.restore_rate,
                                                  sweep=not args.no_sweep,
                                                  profile=args.profile)
            if "push" in parts:
                data["push"] = pushes(args.pushes, bucket=args.bucket, rate=args.restore_rate)
            if "woocommerce" in parts:
                data["woocommerce"] = woocommerce_catalog(args.products, profile=args.profile)
    finally:
        redis_flush_namespace(namespace)
    report(data)
    path = write_result("reconcile", data)
    print(f"wrote {path}")
    if data.get("push", {}).get("errors"):
        sys.exit(1)


def _ratio(phase: dict) -> str:
    if not phase.get("floor_seconds"):
        return "n/a (floor 0)"
    ok = phase["over_floor"] <= TARGET_OVER_FLOOR
    return f"{phase['over_floor']:.2f}× {'ok' if ok else 'MISSED'}"


def report(data: dict) -> None:
    rows = []
    shopify = data.get("shopify", {})
    for name in ("bulk", "sweep"):
        phase = shopify.get(name)
        if phase:
            rows.append([f"Shopify {name}", phase["products_seen"], f"{phase['seconds']:.1f}",
                         phase["points"], f"{phase['floor_seconds']:.1f}", _ratio(phase),
                         phase["throttled"], f"{phase['read_seconds']:.1f}",
                         f"{phase['ingest_seconds']:.1f}", phase["queries_per_product"]])
    push = data.get("push")
    if push:
        rows.append([f"Shopify push ({push['pushes']} images)", push["live"],
                     f"{push['seconds']:.1f}", push["points"], f"{push['floor_seconds']:.1f}",
                     _ratio(push), push["throttled"], "", "", ""])
    woo = data.get("woocommerce", {})
    for name in ("first_pass", "sweep"):
        phase = woo.get(name)
        if phase:
            rows.append([f"WooCommerce {name.replace('_', ' ')}", phase["products_seen"],
                         f"{phase['seconds']:.1f}", "", "", "", "",
                         f"{phase['read_seconds']:.1f}", f"{phase['ingest_seconds']:.1f}",
                         phase["queries_per_product"]])
    print(table(rows, ["phase", "items", "seconds", "points", "floor s", "vs floor (≤1.25×)",
                       "throttled", "read s", "ingest s", "queries/product"]))
    for name in ("first_pass", "sweep"):
        phase = woo.get(name)
        if phase:
            print(f"WooCommerce {name.replace('_', ' ')}: {phase['pages']} pages, "
                  f"{phase['pages_per_s']} pages/s; per page {phase['read_ms_per_page']} ms "
                  f"reading, {phase['ingest_ms_per_page']} ms ingest")
    print(load_note())


if __name__ == "__main__":
    main()
