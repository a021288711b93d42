"""Benchmark pushes to Shopify under the Standard plan's real rate limit, against the emulator.

    python bench/shopify_push.py                 # 200 pushes, 100 points/s, bucket 1,000
    python bench/shopify_push.py --smoke         # 20 pushes at 10× the rate: a few seconds
    python bench/shopify_push.py --restore-rate 200 --pushes 400

Everything a real push does runs: the app's worker (Dramatiq, in-process broker, SQLite),
the originals backup read, the idempotency read, stagedUploadsCreate, the multipart upload,
productUpdate with alt text, polling until READY, and the products/update echo of every push
coming back to the app's webhook endpoint and being re-read. The emulator charges Shopify's
calculated query cost against a leaky bucket.

The floor is the time the rate limit alone imposes on the points actually spent:
max(0, points − bucket) / restore rate. Results go to bench/results/shopify_push.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

API_KEY = "bench-api-key"
API_SECRET = "bench-api-secret-0123456789abcdef0123456789"
SHOP = "bench-shop.myshopify.com"


def _setup_django(data_dir: str, **extra: str) -> None:
    """Django in this process: SQLite and the in-process broker, unless `extra` names a
    DATABASE_URL / REDIS_URL (bench/reconcile.py runs on PostgreSQL and Redis)."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.update({
        "SECRET_KEY": "bench-" + "x" * 40,
        "PHOTOSYNC_ENCRYPTION_KEY": "3JF7PEkdBUJ71z9pXbR5oknn6Tfjp3ThPd4WSCT_1bk=",
        "PHOTOSYNC_PUBLIC_URL": "http://127.0.0.1:8000",
        "PHOTOSYNC_DATA_DIR": data_dir,
        "PHOTOSYNC_ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "photosync.settings",
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "LOG_LEVEL": "WARNING",
        **extra,
    })
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _serve_app(threads: int | None = None) -> tuple[str, object]:
    """The Django app on loopback (for the webhook echoes), as a threaded WSGI server: a
    thread per request, or with `threads` a fixed pool of them, as gunicorn's gthread worker
    (so that a burst of requests holds at most that many database connections)."""
    from concurrent.futures import ThreadPoolExecutor
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class PerRequest(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        request_queue_size = 128

    class Pooled(WSGIServer):
        request_queue_size = 512
        pool = ThreadPoolExecutor(max_workers=threads or 1, thread_name_prefix="bench-web")

        def process_request(self, request, client_address):
            self.pool.submit(self._serve, request, client_address)

        def _serve(self, request, client_address):
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    Threaded = Pooled if threads else PerRequest
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=Threaded,
                         handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


def run(*, pushes: int, per_product: int, restore_rate: float, bucket: float,
        threads: int, queues: set[str] | None = None) -> dict:
    """`queues`: what the in-process worker consumes (None: every queue)."""
    from django.conf import settings
    from dramatiq import Worker

    from bench.seed import approve_all, seed_outbox, wait_pushed
    from emulators.shopify import ShopifyEmulator
    from photosync.models import Push
    from photosync.queueing import get_broker
    from photosync.services.shopify.auth import shopify_store_connect

    app_url, app_server = _serve_app()
    emulator = ShopifyEmulator(api_key=API_KEY, api_secret=API_SECRET, bucket_size=bucket,
                               restore_rate=restore_rate,
                               webhook_url=f"{app_url}/webhooks/shopify")
    emulator.start()
    settings.SHOPIFY_API_ORIGIN = emulator.base_url
    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the emulator is on loopback
    settings.MEDIA_ROOT = Path(settings.DATA_DIR) / "media"
    emulator.add_shop(SHOP)
    store = shopify_store_connect(shop=SHOP, credentials={"access_token":
                                                          emulator.issue_token(SHOP)})
    image_ids = seed_outbox(emulator, store, products=pushes // per_product,
                            per_product=per_product)
    # Start from a full bucket, as a shop that has been quiet for a while would.
    shop = emulator.shops[SHOP]
    shop.bucket.available = shop.bucket.maximum
    emulator.stats.update(graphql=0, throttled=0, cost=0)
    emulator.op_counts.clear()

    broker = get_broker()
    worker = Worker(broker, worker_threads=threads, queues=queues)
    worker.start()
    started = time.monotonic()
    approve_all(image_ids)
    elapsed = wait_pushed(len(image_ids), timeout=3600)
    stats = dict(emulator.stats)  # what the measured interval spent (echoes go on after)
    calls_by_operation = dict(sorted(emulator.op_counts.items()))
    worker.stop()
    emulator.wait_for_webhooks()
    emulator.stop()
    app_server.shutdown()

    live = Push.objects.filter(status=Push.Status.LIVE).count()
    failed = list(Push.objects.exclude(status=Push.Status.LIVE).values_list("error", flat=True))
    points = stats["cost"]
    floor = max(0.0, points - bucket) / restore_rate
    calls = stats["graphql"]
    return {
        "pushes": len(image_ids),
        "live": live,
        "errors": failed,
        "seconds": round(elapsed, 2),
        "floor_seconds": round(floor, 2),
        "over_floor": round(elapsed / floor, 2) if floor else None,
        "graphql_calls": calls,
        "throttled": stats["throttled"],
        "throttled_pct": round(100 * stats["throttled"] / calls, 2) if calls else 0,
        "points": points,
        "points_per_push": round(points / len(image_ids), 1),
        "calls_by_operation": calls_by_operation,
        "restore_rate": restore_rate,
        "bucket": bucket,
        "worker_threads": threads,
        "wall_started": started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--per-product", type=int, default=4)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    parser.add_argument("--bucket", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.pushes, args.restore_rate = 20, args.restore_rate * 10
    with tempfile.TemporaryDirectory(prefix="photosync-bench-") as data_dir:
        _setup_django(data_dir)
        result = run(pushes=args.pushes, per_product=args.per_product,
                     restore_rate=args.restore_rate, bucket=args.bucket, threads=args.threads)
    result.pop("wall_started")
    print(f"{result['pushes']} pushes ({result['live']} live) in {result['seconds']} s; "
          f"rate-limit floor {result['floor_seconds']} s "
          f"({result['points']} points, bucket {args.bucket:.0f}, "
          f"restore {args.restore_rate:.0f}/s) → {result['over_floor']}× the floor")
    print(f"{result['graphql_calls']} GraphQL calls, {result['throttled']} throttled "
          f"({result['throttled_pct']} %), {result['points_per_push']} points per push")
    print("calls by operation:", result["calls_by_operation"])
    if not args.smoke:
        out = REPO / "bench" / "results" / "shopify_push.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out.relative_to(REPO)}")
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
