"""End to end: a Shopify products/create webhook → images ready for review, on the production
configuration (gunicorn, PostgreSQL, Redis, `manage.py worker` processes) with the classical
segmenter and procedural scenes on the CPU.

The Shopify emulator (Standard plan: bucket 1,000, restore 100 points/s) is the store: it
delivers the signed webhook, answers the product re-read and serves the product photo, one
real ~1 MP studio photo per product. Batches of 1 (ten times), 10 and 100 products, each
after the previous one has finished and the system has been idle for 3 s (as a product usually
finds it: an idle queue is polled less and less often), after a warm-up batch that is not
counted. The batch of 1 is then repeated with the workers' idle poll ceiling at 100 ms instead
of Dramatiq's 1000 ms (dramatiq_worker_timeout) for comparison.

Per product: latency = GenerationJob.finished_at − WebhookEvent.received_at; pipeline compute =
the sum of the job's own per-stage timings (GenerationJob.timings); overhead = latency −
compute. Target: overhead p50 < 150 ms. In a batch larger than the worker slots a product also
waits while every slot computes other products: that wait is capacity, not overhead, and is
reported apart ("capacity wait"); "system overhead" = overhead − capacity wait.

    python bench/end_to_end.py [--batches 1,10,100] [--processes 2] [--threads 2] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
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
    RESULTS,
    base_env,
    bench_database,
    django_setup,
    free_port,
    gunicorn,
    load_note,
    managed,
    percentile,
    process_tree,
    py_spy,
    redis_flush_namespace,
    table,
    wait_for,
    write_result,
)

API_KEY = "bench-e2e-key"
API_SECRET = "bench-e2e-secret-0123456789abcdef"
SHOP = "bench-e2e.myshopify.com"
TARGET_OVERHEAD_P50_MS = 150
FINISHED = ("succeeded", "partial", "failed", "cancelled")
# Where a worker's wall time goes while it processes messages (py-spy --idle, --profile).
WORKER_PARTS = {
    "webhook event: product re-read (GraphQL)": "get_product (",
    "webhook event: ingest (rows, hash, job)": "product_ingest (",
    "dispatch (jobs_dispatch)": "jobs_dispatch (",
    "job claim (job_start)": "job_start (",
    "store adapter (credentials)": "store_adapter (",
    "photo download from the store": "fetch_image (",
    "original kept (media_save_original)": "media_save_original (",
    "pipeline (process_image)": "process_image (",
    "outputs written (files + rows)": "_outputs_save (",
    "job row saved, auto-approve": "images_auto_approve (",
}


def capacity_wait(waiting: tuple[float, float], running: list[tuple[float, float]],
                  slots: int) -> float:
    """Seconds of `waiting` (start, end) during which at least `slots` jobs were computing."""
    start, end = waiting
    if end <= start:
        return 0.0
    cuts = sorted({start, end, *(t for iv in running for t in iv if start < t < end)})
    busy = 0.0
    for a, b in zip(cuts, cuts[1:], strict=False):
        mid = (a + b) / 2
        if sum(1 for s, f in running if s <= mid < f) >= slots:
            busy += b - a
    return busy


def run_batch(emulator, size: int, first: int, *, photos: list[Path], slots: int,
              timeout: float) -> dict:
    from photosync.models import GeneratedImage, GenerationJob, WebhookEvent

    sent_at = time.time()
    gids = []
    for i in range(first, first + size):
        photo = photos[i % len(photos)]
        gids.append(emulator.create_product(
            SHOP, title=f"Bench product {i}", product_type="Demo",
            images=[(photo.name, photo.read_bytes(), "")], notify=True,
        ))
    wait_for(lambda: GenerationJob.objects.filter(product__remote_id__in=gids,
                                                  status__in=FINISHED).count() >= size,
             timeout, f"{size} products to be generated", interval=0.05)
    wall = time.time() - sent_at
    events = {e.payload.get("admin_graphql_api_id"): e for e in
              WebhookEvent.objects.filter(topic="products/create")}
    jobs = list(GenerationJob.objects.filter(product__remote_id__in=gids)
                .select_related("product"))
    running = [(j.started_at.timestamp(), j.finished_at.timestamp()) for j in jobs]
    rows = []
    for job in jobs:
        event = events[job.product.remote_id]
        received = event.received_at.timestamp()
        started, finished = job.started_at.timestamp(), job.finished_at.timestamp()
        dispatched = (job.dispatched_at or job.started_at).timestamp()
        compute = sum(v for k, v in job.timings.items() if k != "total")
        others = [iv for iv in running if iv != (started, finished)]
        latency = finished - received
        waited = capacity_wait((received, started), others, slots)
        rows.append({
            "status": job.status,
            "latency_ms": 1000 * latency,
            "compute_ms": 1000 * compute,
            "overhead_ms": 1000 * (latency - compute),
            "capacity_wait_ms": 1000 * waited,
            "system_overhead_ms": 1000 * (latency - compute - waited),
            # Where the overhead sits; the four add up to it. Webhook → job: the webhooks
            # queue hop, the product re-read and the ingest. Job → dispatched: the dispatcher.
            # Dispatched → started: the generate-cpu queue hop (and any capacity wait). In-job
            # other: the photo download, media writes and database rows around the pipeline.
            "webhook_to_job_ms": 1000 * (job.created_at.timestamp() - received),
            "job_to_dispatched_ms": 1000 * (dispatched - job.created_at.timestamp()),
            "dispatched_to_started_ms": 1000 * (started - dispatched),
            "in_job_other_ms": 1000 * ((finished - started) - compute),
            # of which: photo download + the runner around the stages, and the rest of the
            # job (claim, adapter, outputs written, job row saved)
            "download_and_runner_ms": 1000 * (job.timings.get("total", compute) - compute),
            "stages": {k: v for k, v in job.timings.items() if k != "total"},
        })
    images = GeneratedImage.objects.filter(job__in=jobs).count()
    return {"products": size, "runs": 1, "wall_seconds": round(wall, 2),
            "images_for_review": images,
            "failed": sum(r["status"] != "succeeded" for r in rows), "per_product": rows}


def merge(runs: list[dict]) -> dict:
    """Several sequential runs of one batch size as one sample set."""
    return {"products": runs[0]["products"], "runs": len(runs),
            "wall_seconds": round(statistics.fmean(r["wall_seconds"] for r in runs), 2),
            "images_for_review": sum(r["images_for_review"] for r in runs),
            "failed": sum(r["failed"] for r in runs),
            "per_product": [p for r in runs for p in r["per_product"]]}


def summarise(batch: dict) -> dict:
    rows = batch["per_product"]

    def pct(key: str, q: float) -> float:
        return round(percentile([r[key] for r in rows if r[key] is not None], q), 1)

    out = {k: v for k, v in batch.items() if k != "per_product"}
    for key in ("latency_ms", "compute_ms", "overhead_ms", "capacity_wait_ms",
                "system_overhead_ms", "webhook_to_job_ms", "job_to_dispatched_ms",
                "dispatched_to_started_ms", "in_job_other_ms", "download_and_runner_ms"):
        out[key] = {"p50": pct(key, 0.5), "p95": pct(key, 0.95), "max": pct(key, 1.0)}
    stages: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r["stages"].items():
            stages.setdefault(k, []).append(v * 1000)
    out["stage_mean_ms"] = {k: round(statistics.fmean(v), 1) for k, v in stages.items()}
    out["overhead_p50_meets_target"] = out["overhead_ms"]["p50"] < TARGET_OVERHEAD_P50_MS
    out["per_product"] = [{k: (round(v, 1) if isinstance(v, float) else v)
                           for k, v in r.items() if k != "stages"} for r in rows]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,10,100")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker process")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--repeat-single", type=int, default=10,
                        help="the batch of 1 runs this many times, one after another")
    parser.add_argument("--idle", type=float, default=3.0,
                        help="seconds the system stays idle before each batch: a product "
                             "usually arrives at workers that have been idle a while")
    parser.add_argument("--poll-ms", type=int, default=None,
                        help="the workers' idle poll ceiling (dramatiq_worker_timeout; "
                             "default: Dramatiq's own, 1000)")
    parser.add_argument("--compare-poll-ms", type=int, action="append", default=None,
                        help="then the batch of 1 again with workers polling at this ceiling "
                             "(default: 100)")
    parser.add_argument("--profile", action="store_true",
                        help="then sample the workers (py-spy, wall time) through one more "
                             "batch of 10")
    parser.add_argument("--smoke", action="store_true", help="batches of 1 and 3")
    args = parser.parse_args()
    sizes = [1, 3] if args.smoke else [int(n) for n in args.batches.split(",")]
    if args.smoke:
        args.repeat_single, args.idle = 1, 1.0
    slots = args.processes * args.threads
    photos = sorted(PHOTOS.glob("*.jpg"))
    namespace = f"bench-e2e-{uuid.uuid4().hex[:6]}"
    from emulators.shopify import ShopifyEmulator

    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    emulator = ShopifyEmulator(api_key=API_KEY, api_secret=API_SECRET,
                               webhook_url=f"{base}/webhooks/shopify")
    emulator.start()
    emulator.add_shop(SHOP)
    batches: list[dict] = []
    variants: dict[str, dict] = {}
    compare = [] if args.smoke else (args.compare_poll_ms or [100])
    try:
        with tempfile.TemporaryDirectory(prefix="photosync-bench-") as data_dir, \
                bench_database() as db_url:
            env = base_env(
                DATABASE_URL=db_url, REDIS_URL=REDIS_URL, PHOTOSYNC_QUEUE_NAMESPACE=namespace,
                SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=API_SECRET,
                SHOPIFY_API_ORIGIN=emulator.base_url, ALLOWED_HOSTS="127.0.0.1",
                PHOTOSYNC_ALLOWED_NETWORKS="127.0.0.0/8",
                PHOTOSYNC_PUBLIC_URL=base, PHOTOSYNC_DATA_DIR=data_dir,
                PHOTOSYNC_MEDIA_ROOT=str(Path(data_dir) / "media"),
                PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT=str(2 * slots),  # README: ~2× worker threads
                PHOTOSYNC_SEGMENTER="classical", PHOTOSYNC_SCENE_GENERATOR="procedural",
            )
            worker_env = dict(env)
            if args.poll_ms is not None:
                worker_env["dramatiq_worker_timeout"] = str(args.poll_ms)
            django_setup(env)
            from photosync.models import WorkerHeartbeat
            from photosync.services.shopify.auth import shopify_store_connect

            shopify_store_connect(shop=SHOP,
                                  credentials={"access_token": emulator.issue_token(SHOP)})
            worker_args = ["worker", "--processes", str(args.processes),
                           "--threads", str(args.threads)]
            profile: dict = {}

            @contextlib.contextmanager
            def workers(env: dict[str, str]):
                """Worker processes, booted and warmed up: every worker process imports the
                pipeline on its first job, so a first batch is not counted."""
                nonlocal first
                WorkerHeartbeat.objects.all().delete()
                with managed(*worker_args, env=env) as proc:
                    wait_for(lambda: WorkerHeartbeat.objects.count() >= args.processes, 60,
                             "the workers to boot")
                    run_batch(emulator, slots, first, photos=photos, slots=slots,
                              timeout=args.timeout)
                    first += slots
                    yield proc

            first = 0
            with gunicorn(env, port=web_port), workers(worker_env) as worker:
                for size in sizes:
                    runs = []
                    for _ in range(args.repeat_single if size == 1 else 1):
                        time.sleep(args.idle)
                        runs.append(run_batch(emulator, size, first, photos=photos,
                                              slots=slots, timeout=args.timeout))
                        first += size
                    batches.append(summarise(merge(runs)))
                if args.profile:
                    worker_pids = process_tree(worker.pid)[1:]
                    with py_spy(worker_pids, 20, RESULTS / "end_to_end.py-spy", rate=100,
                                idle=True, categories=WORKER_PARTS,
                                within="process_message (") as profile:
                        run_batch(emulator, 10, first, photos=photos, slots=slots,
                                  timeout=args.timeout)
                    first += 10
                for poll in compare:
                    with workers({**env, "dramatiq_worker_timeout": str(poll)}):
                        runs = []
                        for _ in range(args.repeat_single):
                            time.sleep(args.idle)
                            runs.append(run_batch(emulator, 1, first, photos=photos,
                                                  slots=slots, timeout=args.timeout))
                            first += 1
                        variants[f"workers polling at {poll} ms"] = {
                            "batches": [summarise(merge(runs))]}
    finally:
        emulator.stop()
        redis_flush_namespace(namespace)

    rows = []
    for b in batches:
        rows.append([
            f"{b['products']}" + (f" ×{b['runs']}" if b["runs"] > 1 else ""),
            f"{b['wall_seconds']:.1f}",
            f"{b['latency_ms']['p50']:.0f} / {b['latency_ms']['p95']:.0f}",
            f"{b['compute_ms']['p50']:.0f}",
            f"{b['overhead_ms']['p50']:.0f} / {b['overhead_ms']['p95']:.0f}",
            f"{b['capacity_wait_ms']['p50']:.0f}",
            f"{b['system_overhead_ms']['p50']:.0f} / {b['system_overhead_ms']['p95']:.0f}",
            b["failed"],
        ])
    print(table(rows, ["products", "wall s", "latency p50/p95 ms", "compute p50",
                       "overhead p50/p95", "capacity wait p50", "system ovh p50/p95",
                       "failed"]))
    print("\nwhere the overhead sits (p50 ms):")
    parts = ("webhook_to_job_ms", "job_to_dispatched_ms", "dispatched_to_started_ms",
             "in_job_other_ms", "download_and_runner_ms")
    print(table([[b["products"], *(f"{b[k]['p50']:.0f}" for k in parts)] for b in batches],
                ["products", "webhook → job", "job → dispatched", "dispatched → started",
                 "in-job other", "(download + runner)"]))
    for name, variant in variants.items():
        b = variant["batches"][0]
        print(f"{name}: {b['products']} product ×{b['runs']}: overhead p50 "
              f"{b['overhead_ms']['p50']:.0f} ms, p95 {b['overhead_ms']['p95']:.0f} ms")
    print(f"target: overhead p50 < {TARGET_OVERHEAD_P50_MS} ms; {slots} worker slots "
          f"({args.processes} processes × {args.threads} threads); {load_note()}")
    print("throttled GraphQL calls:", emulator.stats["throttled"])
    if profile.get("samples"):
        print(f"py-spy, worker threads processing messages, wall time "
              f"({profile['samples']} samples):")
        for name, pct in profile["categories_pct"].items():
            print(f"  {pct:5.1f}%  {name}")
    elif profile.get("error"):
        print("profile:", profile["error"])
    path = write_result("end_to_end", {
        "smoke": args.smoke, "worker_processes": args.processes,
        "worker_threads": args.threads, "slots": slots, "poll_ms": args.poll_ms,
        "idle_seconds": args.idle,
        "store": "Shopify emulator, Standard plan (bucket 1000, restore 100/s)",
        "throttled_calls": emulator.stats["throttled"], "graphql_calls": emulator.stats["graphql"],
        "targets": {"overhead_p50_ms": TARGET_OVERHEAD_P50_MS},
        "batches": batches, "worker_profile": profile, "variants": variants,
    })
    print(f"wrote {path}")
    if any(b["failed"] for b in batches):
        sys.exit(1)


if __name__ == "__main__":
    main()
