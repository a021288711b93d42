"""Webhook intake under load: signed Shopify products/create deliveries against the
production web configuration (gunicorn, PostgreSQL, Redis) on loopback.

Reports throughput and ack latency percentiles at a fixed offered rate (open loop), the
intake's saturated throughput, and the same server's bare endpoint (/healthz) throughput,
all in one run. Targets: p99 < 50 ms at 300 deliveries/s; intake throughput >= half of bare.

    python bench/webhook_intake.py [--rate 300] [--seconds 10] [--smoke]
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
    base_env,
    bench_database,
    django_shell,
    gunicorn,
    http_request,
    load,
    table,
    write_result,
)

SECRET = "bench-shopify-secret-0123456789"
SHOP = "bench-shop.myshopify.com"


def delivery_body(product_id: int) -> bytes:
    return json.dumps({
        "id": product_id, "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "title": "Bench product", "updated_at": "2026-11-26T10:00:00Z", "images": [],
    }).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to keep it working")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds = 50.0, 1.0
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    with bench_database() as db_url:
        env = base_env(DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
                       PHOTOSYNC_QUEUE_NAMESPACE=namespace, SHOPIFY_API_KEY="bench-key",
                       SHOPIFY_API_SECRET=SECRET, ALLOWED_HOSTS="127.0.0.1")
        django_shell(
            "from photosync.models import Store; "
            f"Store.objects.create(platform='shopify', domain='{SHOP}', name='bench')",
            env=env,
        )
        body = delivery_body(7_000_000_000_001)
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())

        with gunicorn(env) as base:
            host = base.removeprefix("http://")

            def webhook(i: int) -> bytes:
                return http_request("POST", "/webhooks/shopify", host, {
                    "Content-Type": "application/json",
                    "X-Shopify-Hmac-Sha256": signature.decode(),
                    "X-Shopify-Topic": "products/create",
                    "X-Shopify-Shop-Domain": SHOP,
                    "X-Shopify-API-Version": "2026-10",
                    "X-Shopify-Webhook-Id": f"{namespace}-{i}-{uuid.uuid4().hex}",
                    "X-Shopify-Triggered-At": "2026-11-26T10:00:00Z",
                }, body)

            def bare(i: int) -> bytes:
                return http_request("GET", "/healthz", host, {}, b"")

            n = int(args.rate * args.seconds)
            load(base, webhook, total=min(n, 200), connections=16)  # warm-up
            fixed = load(base, webhook, rate=args.rate, total=n, connections=64)
            saturated = load(base, webhook, total=n, connections=16)
            bare_max = load(base, bare, total=n, connections=16)
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
    path = write_result("webhook_intake", {
        "rate": args.rate, "seconds": args.seconds, "smoke": args.smoke,
        "fixed_rate": fixed.summary(), "saturated": saturated.summary(),
        "bare": bare_max.summary(), "intake_to_bare_ratio": round(ratio, 3),
        "latencies_ms": sorted(fixed.latencies_ms),
        "targets": {"p99_ms": 50, "ratio": 0.5},
        "server": "gunicorn gthread, 2 workers x 4 threads, PostgreSQL, Redis",
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
