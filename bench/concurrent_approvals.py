"""Concurrent approvals: 200 approvals across 20 products, all at once through the API, on the
Shopify emulator throttling like a Standard plan (bucket 1,000 points, restore 100/s).

    python bench/concurrent_approvals.py             # 20 products × 10 approvals
    python bench/concurrent_approvals.py --smoke     # 4 × 5 at 10× the restore rate: seconds
    python bench/concurrent_approvals.py --products 40 --per-product 10 --threads 8

Everything a real approval causes runs: each approval is its own HTTP request (its own
thread and session) to the app, released together; the app's worker (Dramatiq on Redis,
PostgreSQL) serialises writes per product with the product lease, backs up the originals,
uploads, attaches, polls until READY and reads the product back before calling a push live;
every push's products/update echo comes back to the webhook endpoint and is re-read.

Checked: every approval answered 202; every push live exactly once (each product shows each
of its images once, nothing failed); time against the rate-limit floor on the points
actually spent, max(0, points − bucket) / restore rate (target ≤ 1.25×). Results go to
bench/results/concurrent_approvals.json.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    REDIS_URL,
    bench_database,
    percentile,
    redis_flush_namespace,
    write_result,
)

TARGET_OVER_FLOOR = 1.25
OPERATOR = ("bench-operator", "bench-password-0123456789")


def _login(base: str):
    """A session of an operator on the app, as the admin page has one (cookie + CSRF)."""
    import requests

    session = requests.Session()
    session.get(f"{base}/login/", timeout=30)
    token = session.cookies["csrftoken"]
    answer = session.post(f"{base}/login/", timeout=30, allow_redirects=False, data={
        "username": OPERATOR[0], "password": OPERATOR[1], "csrfmiddlewaretoken": token})
    assert answer.status_code == 302, answer.text[:300]
    return session.cookies.get_dict()


def _approve_at_once(base: str, cookies: dict, image_ids: list[int]) -> tuple[list, float]:
    """One thread and HTTP session per approval, released by one barrier."""
    import requests

    barrier = threading.Barrier(len(image_ids) + 1)
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()

    def approve(image_id: int) -> None:
        session = requests.Session()
        session.cookies.update(cookies)
        barrier.wait()
        started = time.monotonic()
        status = session.post(f"{base}/api/v1/images/{image_id}/approve", timeout=120,
                              json={"alt_text": f"Approved {image_id}"},
                              headers={"X-CSRFToken": cookies["csrftoken"]}).status_code
        with lock:
            answers.append((status, time.monotonic() - started))

    threads = [threading.Thread(target=approve, args=(i,)) for i in image_ids]
    for thread in threads:
        thread.start()
    barrier.wait()
    released = time.monotonic()
    for thread in threads:
        thread.join()
    return answers, released


def run(*, products: int, per_product: int, restore_rate: float, bucket: float,
        threads: int) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from dramatiq import Worker

    from bench.seed import seed_outbox
    from bench.shopify_push import API_KEY, API_SECRET, SHOP, _serve_app
    from emulators.shopify import ShopifyEmulator
    from photosync.models import Push
    from photosync.queueing import Queues, get_broker
    from photosync.services.shopify.auth import shopify_store_connect

    base, app_server = _serve_app(threads=8)  # gunicorn's 2 workers × 4 threads
    emulator = ShopifyEmulator(api_key=API_KEY, api_secret=API_SECRET, bucket_size=bucket,
                               restore_rate=restore_rate, webhook_url=f"{base}/webhooks/shopify")
    emulator.start()
    settings.SHOPIFY_API_ORIGIN = emulator.base_url
    settings.MEDIA_ROOT = Path(settings.DATA_DIR) / "media"
    emulator.add_shop(SHOP)
    store = shopify_store_connect(shop=SHOP, credentials={
        "access_token": emulator.issue_token(SHOP)})
    image_ids = seed_outbox(emulator, store, products=products, per_product=per_product)
    get_user_model().objects.create_user(OPERATOR[0], password=OPERATOR[1], is_staff=True)
    cookies = _login(base)
    shop = emulator.shops[SHOP]
    shop.bucket.available = shop.bucket.maximum  # a shop that has been quiet for a while
    emulator.stats.update(graphql=0, throttled=0, cost=0)
    emulator.op_counts.clear()

    worker = Worker(get_broker(), worker_threads=threads, queues={Queues.PUSH, Queues.WEBHOOKS})
    worker.start()
    answers, released = _approve_at_once(base, cookies, image_ids)
    done = Push.objects.filter(status__in=[Push.Status.LIVE, Push.Status.FAILED])
    while done.count() < len(image_ids) and time.monotonic() - released < 3600:
        time.sleep(0.1)
    elapsed = time.monotonic() - released
    stats, calls_by_operation = dict(emulator.stats), dict(sorted(emulator.op_counts.items()))
    worker.stop()
    emulator.wait_for_webhooks()

    pushes = list(Push.objects.values("status", "error", "remote_id", "attempts",
                                      "product__remote_id"))
    on_store = collections.Counter()
    for product in {p["product__remote_id"] for p in pushes}:
        for media in emulator.product_media(SHOP, product):
            if media["filename"].startswith("photosync-"):
                on_store[(product, media["filename"].split("_")[0])] += 1
    emulator.stop()
    app_server.shutdown()

    live = sum(p["status"] == Push.Status.LIVE for p in pushes)
    duplicates = sum(n - 1 for n in on_store.values() if n > 1)
    points = stats["cost"]
    floor = max(0.0, points - bucket) / restore_rate
    latencies = [seconds * 1000 for _, seconds in answers]
    over = round(elapsed / floor, 2) if floor else None
    return {
        "approvals": len(image_ids),
        "products": products,
        "accepted": sum(status == 202 for status, _ in answers),
        "approve_p50_ms": round(percentile(latencies, 0.5), 1),
        "approve_p99_ms": round(percentile(latencies, 0.99), 1),
        "live": live,
        "on_store": sum(on_store.values()),
        "duplicates": duplicates,
        "errors": [p["error"] for p in pushes if p["status"] != Push.Status.LIVE],
        "attempts": sum(p["attempts"] for p in pushes),
        "seconds": round(elapsed, 2),
        "floor_seconds": round(floor, 2),
        "over_floor": over,
        "target_over_floor": TARGET_OVER_FLOOR,
        "met": bool(over is not None and over <= TARGET_OVER_FLOOR and live == len(image_ids)
                    and duplicates == 0 and sum(on_store.values()) == len(image_ids)),
        "graphql_calls": stats["graphql"],
        "throttled": stats["throttled"],
        "points": points,
        "points_per_push": round(points / len(image_ids), 1),
        "calls_by_operation": calls_by_operation,
        "restore_rate": restore_rate,
        "bucket": bucket,
        "worker_threads": threads,
    }


def report_section(r: dict) -> tuple[list[str], list[list], list[str]]:
    """docs/benchmarks.md's section for this run: its lines, its summary rows, its misses."""
    ok = r["met"] and not r["errors"]
    shown = f"{r['over_floor']:.2f}×" if r["over_floor"] else "no floor"
    load = r.get("machine") or {}
    start, end = load.get("load_average_at_start"), load.get("load_average_at_end")
    load_avg = f"{start[0]:.2f} → {end[0]:.2f}" if start and end else "not recorded"
    summary = [["6 Concurrent approvals",
                f"{r['approvals']} approvals across {r['products']} products at once",
                f"{r['live']} live, {r['on_store']} on the store, {r['duplicates']} duplicates; "
                f"{r['seconds']:.1f} s vs floor {r['floor_seconds']:.1f} s ({shown})",
                f"every one live exactly once, ≤ {r['target_over_floor']}× floor",
                "**met**" if ok else "**missed**", load_avg]]
    lines = [
        "## 6. Concurrent approvals", "",
        f"{r['approvals']} approvals across {r['products']} products sent at once, each its own "
        "HTTP request and session to the app (a WSGI server with 8 threads, as gunicorn's 2 × 4), "
        "on the Shopify emulator throttling like a Standard plan (bucket "
        f"{r['bucket']:,.0f} points, restore {r['restore_rate']:g}/s); the worker (Dramatiq on "
        f"Redis, PostgreSQL, {r['worker_threads']} threads) writes each product under its "
        "lease, backs up the originals, uploads, attaches, polls until READY and reads the "
        "product back before calling a push live; every echo is re-read. Floor as in section "
        "3; the approve's 10 s Undo window (`PHOTOSYNC_APPROVE_UNDO_SECONDS`, a constant wait "
        "before each push) is set to 0 for this run. `bench/concurrent_approvals.py`", "",
        "| approvals | answered 202 | approve p50 | approve p99 | live | on the store | "
        "duplicates | seconds | points | floor s | vs floor | throttled | push attempts | "
        "points/push |",
        "|" + "---|" * 14,
        f"| {r['approvals']} | {r['accepted']} | {r['approve_p50_ms']:,.0f} ms | "
        f"{r['approve_p99_ms']:,.0f} ms | {r['live']} | {r['on_store']} | {r['duplicates']} | "
        f"{r['seconds']:.1f} | {r['points']:,} | {r['floor_seconds']:.1f} | {shown} | "
        f"{r['throttled']} | {r['attempts']} | {r['points_per_push']} |", "",
        "GraphQL calls by operation: " + ", ".join(
            f"{name} {count}" for name, count in r["calls_by_operation"].items()) + ".", "",
    ]
    return lines, summary, []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--per-product", type=int, default=10)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    parser.add_argument("--bucket", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.products, args.per_product, args.restore_rate = 4, 5, args.restore_rate * 10
    from bench import shopify_push

    namespace = f"bench-cap-{uuid.uuid4().hex[:6]}"
    try:
        with tempfile.TemporaryDirectory(prefix="photosync-bench-") as data_dir, \
                bench_database() as db_url:
            # The push pipeline's rate is measured: the approve's 10 s Undo window, a
            # constant wait before every push, is left out.
            shopify_push._setup_django(data_dir, DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
                                       PHOTOSYNC_QUEUE_NAMESPACE=namespace,
                                       PHOTOSYNC_APPROVE_UNDO_SECONDS="0",
                                       PHOTOSYNC_ALLOWED_NETWORKS="127.0.0.0/8")  # emulator
            result = run(products=args.products, per_product=args.per_product,
                         restore_rate=args.restore_rate, bucket=args.bucket,
                         threads=args.threads)
    finally:
        redis_flush_namespace(namespace)
    result["smoke"] = args.smoke
    print(f"{result['approvals']} approvals across {result['products']} products at once: "
          f"{result['accepted']} answered 202 (p50 {result['approve_p50_ms']} ms, p99 "
          f"{result['approve_p99_ms']} ms); {result['live']} live, {result['on_store']} on the "
          f"store, {result['duplicates']} duplicates, in {result['seconds']} s; rate-limit floor "
          f"{result['floor_seconds']} s ({result['points']} points) → {result['over_floor']}× "
          f"the floor (target ≤ {TARGET_OVER_FLOOR}×)")
    print(f"{result['graphql_calls']} GraphQL calls, {result['throttled']} throttled, "
          f"{result['attempts']} push attempts; calls by operation: "
          f"{result['calls_by_operation']}")
    path = write_result("concurrent_approvals", result)
    print(f"wrote {path}")
    if result["errors"] or result["duplicates"] or (not result["met"] and not args.smoke):
        sys.exit(1)


if __name__ == "__main__":
    main()
