"""Webhook intake under load: signed Shopify products/create deliveries against the
production web configuration (gunicorn, PostgreSQL, Redis) on loopback.

Reports throughput and ack latency percentiles at a fixed offered rate (open loop), then
`--pairs` pairs of saturated runs, the intake's and the same server's bare endpoint's
(/healthz) back to back, each pair's ratio and their median: the machine is shared, so one
pair alone says little. Targets: p99 < 50 ms at 300 deliveries/s; intake throughput >= half
of bare.

Where the time goes: CPU milliseconds per request of the gunicorn processes and of the
PostgreSQL backends serving the bench database, for intake and for /healthz; with --profile,
an extra (unmeasured) saturated run sampled by py-spy (the thread holding the GIL: Python's
CPU, not its waits) gives each part's share of a delivery and the frames it spends it in.

    python bench/webhook_intake.py [--rate 300] [--seconds 10] [--pairs 3] [--profile]
                                   [--smoke]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
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
# What one delivery's CPU is spent on, by the frames its stacks pass through (py-spy): each
# sample counts in the first part it matches, in this order, so the parts add up to 100 %.
INTAKE_PARTS = {
    "connection health check (SELECT 1)": "is_usable (",
    "store lookup (SELECT)": "shopify_store_id (photosync/selectors.py)",
    "transaction BEGIN/COMMIT": "Atomic.",
    "Redis enqueue": "enqueue (photosync/queueing.py)",
    "event INSERT": "webhook_event_record (",
    "HMAC check": "verify_webhook (",
    "JSON parse": "loads (json",
    "the rest of the view (headers, fields)": "webhook (photosync/views/shopify.py)",
    "Django around the view (request, middleware, URLs, signals)": (
        "WSGIHandler.__call__ (", "HttpResponseBase.close ("),
    "gunicorn (HTTP, sockets, threads)": "gunicorn/",
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
    parser.add_argument("--pairs", type=int, default=3,
                        help="saturated intake + bare runs back to back; the median ratio counts")
    parser.add_argument("--profile", action="store_true",
                        help="then sample a saturated run with py-spy (the bench extra)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, to keep it working")
    args = parser.parse_args()
    if args.smoke:
        args.rate, args.seconds, args.pairs = 50.0, 1.0, 1
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    cpu: dict[str, dict[str, float]] = {}
    profile: dict = {}
    web: list = []
    pairs: list[dict] = []
    with bench_database() as db_url:
        database = db_url.rsplit("/", 1)[1]

        def measured(make, n: int):
            """A saturated run, with the CPU each side spent per answered request."""
            pids = process_tree(web[0].pid)
            before = cpu_seconds(pids), cpu_seconds(postgres_backends(database))
            result = load(base, make, total=n, connections=16)
            after = cpu_seconds(pids), cpu_seconds(postgres_backends(database))
            per = 1000 / result.ok if result.ok else 0
            return result, {"gunicorn_ms": round((after[0] - before[0]) * per, 3),
                            "postgres_ms": round((after[1] - before[1]) * per, 3)}

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
            for i in range(args.pairs):
                intake_run, intake_cpu = measured(webhook, n)
                bare_run, bare_cpu = measured(bare, n)
                ratio = intake_run.throughput / bare_run.throughput if bare_run.throughput else 0
                pairs.append({"intake": intake_run, "bare": bare_run, "ratio": ratio,
                              "cpu": {"intake": intake_cpu, "bare": bare_cpu},
                              "load_average": round(os.getloadavg()[0], 2)})
                print(f"pair {i + 1}: intake {intake_run.throughput:.0f} req/s, bare "
                      f"{bare_run.throughput:.0f} req/s, ratio {ratio:.2f} (gunicorn CPU "
                      f"{intake_cpu['gunicorn_ms']:.2f} vs {bare_cpu['gunicorn_ms']:.2f} ms, "
                      f"PostgreSQL {intake_cpu['postgres_ms']:.2f} ms; load average "
                      f"{pairs[-1]['load_average']:.2f})", flush=True)
            if args.profile:
                workers = process_tree(web[0].pid)[1:]
                with py_spy(workers, args.seconds, RESULTS / "webhook_intake.py-spy", gil=True,
                            categories=INTAKE_PARTS, exclusive=True) as profile:
                    load(base, webhook, total=n, connections=16)
                profile["mode"] = "gil-exclusive"  # bench/report.py: the parts add up
    redis_flush_namespace(namespace)
    # The pair whose ratio is the median (the lower middle one of an even count) stands for
    # the run: its throughputs and CPU are the ones reported beside the median ratio.
    ratio = statistics.median_low([p["ratio"] for p in pairs])
    median = next(p for p in pairs if p["ratio"] == ratio)
    saturated, bare_max, cpu = median["intake"], median["bare"], median["cpu"]
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
    each = ", ".join(f"{p['ratio']:.2f}" for p in pairs)
    print(f"intake/bare throughput ratio, median of {len(pairs)} pairs: {ratio:.2f} "
          f"({each}; target >= 0.5); "
          f"p99 at {args.rate:g}/s: {fixed.percentile(.99):.1f} ms (target < 50)")
    print("CPU ms per request (median pair):", ", ".join(
        f"{name}: gunicorn {v['gunicorn_ms']:.2f}, PostgreSQL {v['postgres_ms']:.2f}"
        for name, v in cpu.items()))
    if profile.get("samples"):
        print(f"py-spy --gil, gunicorn workers, saturated intake ({profile['samples']} samples; "
              "each in the first part it matches):")
        for name, pct in profile["categories_pct"].items():
            print(f"  {pct:5.1f}%  {name}")
    if profile.get("error"):
        print("profile:", profile["error"])
    print(load_note())
    path = write_result("webhook_intake", {
        "rate": args.rate, "seconds": args.seconds, "smoke": args.smoke,
        "fixed_rate": fixed.summary(), "saturated": saturated.summary(),
        "bare": bare_max.summary(), "intake_to_bare_ratio": round(ratio, 3),
        "pairs": [{"intake": p["intake"].summary(), "bare": p["bare"].summary(),
                   "ratio": round(p["ratio"], 3), "cpu_ms_per_request": p["cpu"],
                   "load_average": p["load_average"]} for p in pairs],
        "latencies_ms": sorted(fixed.latencies_ms), "timeline": fixed.windows(0.5),
        "targets": {"p99_ms": 50, "ratio": 0.5},
        "server": "gunicorn gthread, 2 workers x 4 threads, PostgreSQL, Redis",
        "cpu_ms_per_request": cpu, "profile": profile,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
