"""Webhook intake under load: signed Shopify products/create deliveries against the
production web configuration (gunicorn, PostgreSQL, Redis) on loopback.

Reports throughput and ack latency percentiles at a fixed offered rate (open loop), the
intake's saturated throughput, and the same server's bare endpoint (/healthz) throughput,
all in one run. Targets: p99 < 50 ms at 300 deliveries/s; intake throughput >= half of bare.

Where the time goes: CPU milliseconds per request of the gunicorn processes and of the
PostgreSQL backends serving the bench database, for intake and for /healthz; with --profile,
an extra (unmeasured) saturated run sampled by py-spy gives the frames intake spends its time in.

    python bench/webhook_intake.py [--rate 300] [--seconds 10] [--profile] [--smoke]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    REDIS_URL,
    RESULTS,
    base_env,
    bench_database,
    cpu_seconds,
    django_shell,
    gunicorn,
    http_request,
    load,
    load_note,
    postgres_backends,
    process_tree,
    py_spy,
    redis_flush_namespace,
    table,
    write_result,
)

SECRET = "bench-shopify-secret-0123456789"
# What one delivery's time is spent on, by the frames its stacks pass through (py-spy).
INTAKE_PARTS = {
    "connection health check (SELECT 1)": "is_usable (",
    "store lookup (SELECT)": "shopify_store_id (photosync/selectors.py)"
                             ";QuerySet.first",
    "event INSERT (autocommit)": "Model.save_base (",
    "transaction BEGIN/COMMIT": "Atomic.",
    "Redis enqueue": "enqueue.<locals>.send (",
    "HMAC check": "verify_webhook (",
    "JSON parse": "loads (json",
    "all of Django (middleware, view)": "WSGIHandler.__call__ (",
}
SHOP = "bench-shop.myshopify.com"


def delivery_body(product_id: int) -> bytes:
    return json.dumps({
        "id": product_id, "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "title": "Bench product", "updated_at": "2026-11-26T10:00:00Z", "images": [],
    }).encode()


def webhook_maker(host: str, namespace: str, bodies: list[bytes], *, secret: str = SECRET,
                  shop: str = SHOP, topic: str = "products/create"):
    """`make(i)` → the raw bytes of the i-th signed delivery (a fresh webhook id each, the
    bodies in turn). bench/memory.py reuses it for its load."""
    signed = [(body, base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256)
                                      .digest()).decode()) for body in bodies]

    def make(i: int) -> bytes:
        body, signature = signed[i % len(signed)]
        return http_request("POST", "/webhooks/shopify", host, {
            "Content-Type": "application/json",
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": f"{namespace}-{i}-{uuid.uuid4().hex}",
            "X-Shopify-Triggered-At": "2026-11-26T10:00:00Z",
        }, body)

    return make


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true",
                        help="then sample a saturated run with py-spy (the bench extra)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to keep it working")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds = 50.0, 1.0
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    cpu: dict[str, dict[str, float]] = {}
    profile: dict = {}
    web: list = []
    with bench_database() as db_url:
        database = db_url.rsplit("/", 1)[1]

        def measured(name: str, make, n: int):
            """A saturated run, with the CPU each side spent per answered request."""
            pids = process_tree(web[0].pid)
            before = cpu_seconds(pids), cpu_seconds(postgres_backends(database))
            result = load(base, make, total=n, connections=16)
            after = cpu_seconds(pids), cpu_seconds(postgres_backends(database))
            per = 1000 / result.ok if result.ok else 0
            cpu[name] = {"gunicorn_ms": round((after[0] - before[0]) * per, 3),
                         "postgres_ms": round((after[1] - before[1]) * per, 3)}
            return result

        env = base_env(DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
                       PHOTOSYNC_QUEUE_NAMESPACE=namespace, SHOPIFY_API_KEY="bench-key",
                       SHOPIFY_API_SECRET=SECRET, ALLOWED_HOSTS="127.0.0.1")
        django_shell(
            "from photosync.models import Store; "
            f"Store.objects.create(platform='shopify', domain='{SHOP}', name='bench')",
            env=env,
        )
        with gunicorn(env, on_start=web.append) as base:
            host = base.removeprefix("http://")
            webhook = webhook_maker(host, namespace, [delivery_body(7_000_000_000_001)])

            def bare(i: int) -> bytes:
                return http_request("GET", "/healthz", host, {}, b"")

            n = int(args.rate * args.seconds)
            load(base, webhook, total=min(n, 200), connections=16)  # warm-up
            fixed = load(base, webhook, rate=args.rate, total=n, connections=64,
                         prime=bare(0))
            saturated = measured("intake", webhook, n)
            bare_max = measured("bare", bare, n)
            if args.profile:
                workers = process_tree(web[0].pid)[1:]
                with py_spy(workers, args.seconds, RESULTS / "webhook_intake.py-spy",
                            categories=INTAKE_PARTS) as profile:
                    load(base, webhook, total=n, connections=16)
    redis_flush_namespace(namespace)
    ratio = saturated.throughput / bare_max.throughput if bare_max.throughput else 0
    rows = [
        [f"intake @ {args.rate:g}/s (open loop)", f"{fixed.throughput:.0f}",
         f"{fixed.percentile(.5):.1f}", f"{fixed.percentile(.95):.1f}",
         f"{fixed.percentile(.99):.1f}", fixed.errors],
        ["intake, saturated", f"{saturated.throughput:.0f}", f"{saturated.percentile(.5):.1f}",
         f"{saturated.percentile(.95):.1f}", f"{saturated.percentile(.99):.1f}",
         saturated.errors],
        ["bare /healthz, saturated", f"{bare_max.throughput:.0f}",
         f"{bare_max.percentile(.5):.1f}", f"{bare_max.percentile(.95):.1f}",
         f"{bare_max.percentile(.99):.1f}", bare_max.errors],
    ]
    print(table(rows, ["load", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]))
    print(f"intake/bare throughput ratio: {ratio:.2f} (target >= 0.5); "
          f"p99 at {args.rate:g}/s: {fixed.percentile(.99):.1f} ms (target < 50)")
    print("CPU ms per request:", ", ".join(
        f"{name}: gunicorn {v['gunicorn_ms']:.2f}, PostgreSQL {v['postgres_ms']:.2f}"
        for name, v in cpu.items()))
    if profile.get("samples"):
        print(f"py-spy, gunicorn workers, saturated intake ({profile['samples']} samples):")
        for name, pct in profile["categories_pct"].items():
            print(f"  {pct:5.1f}%  {name}")
    if profile.get("error"):
        print("profile:", profile["error"])
    print(load_note())
    path = write_result("webhook_intake", {
        "rate": args.rate, "seconds": args.seconds, "smoke": args.smoke,
        "fixed_rate": fixed.summary(), "saturated": saturated.summary(),
        "bare": bare_max.summary(), "intake_to_bare_ratio": round(ratio, 3),
        "latencies_ms": sorted(fixed.latencies_ms), "timeline": fixed.windows(0.5),
        "targets": {"p99_ms": 50, "ratio": 0.5},
        "server": "gunicorn gthread, 2 workers x 4 threads, PostgreSQL, Redis",
        "cpu_ms_per_request": cpu, "profile": profile,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
