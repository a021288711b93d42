"""Write docs/benchmarks.md from bench/results/*.json: every number beside its target, the
machine, the date, the load average each benchmark ran under, where the time goes for each
missed target, and one plot (the webhook intake's latency distribution).

    python bench/report.py [--results bench/results] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import RESULTS, machine  # noqa: E402

PLOT_NAME = "benchmarks-intake-latency.png"


def _load(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except ValueError:
            continue
    return out


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _load_avg(result: dict) -> str:
    m = result.get("machine") or {}
    start, end = m.get("load_average_at_start"), m.get("load_average_at_end")
    if not start:
        return "not recorded"
    return f"{start[0]:.2f} → {end[0]:.2f}" if end else f"{start[0]:.2f}"


def _ms(value) -> str:
    return "–" if value is None else f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def plot_intake(intake: dict, path: Path) -> bool:
    """Histogram and CDF of the fixed-rate ack latencies; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    latencies = intake.get("latencies_ms") or []
    if not latencies:
        return False
    fixed = intake["fixed_rate"]
    timeline = intake.get("timeline") or []
    fig, axes = plt.subplots(1, 3 if timeline else 2, figsize=(15 if timeline else 10, 3.6))
    hist, cdf = axes[0], axes[1]
    top = max(latencies)
    bins = [i * top / 60 for i in range(61)]
    hist.hist(latencies, bins=bins, color="#4c72b0")
    hist.set_yscale("log")
    hist.set_xlabel("ack latency (ms)")
    hist.set_ylabel("deliveries (log)")
    n = len(latencies)
    cdf.plot(latencies, [(i + 1) / n for i in range(n)], color="#4c72b0")
    cdf.set_xscale("log")
    cdf.set_xlabel("ack latency (ms, log)")
    cdf.set_ylabel("fraction answered")
    target = (intake.get("targets") or {}).get("p99_ms", 50)
    for axis in (hist, cdf):
        axis.axvline(target, color="#c44e52", linestyle="--", label=f"target p99 {target} ms")
        axis.axvline(fixed["p99_ms"], color="#55a868", linestyle=":",
                     label=f"measured p99 {fixed['p99_ms']:.0f} ms")
    cdf.legend(loc="lower right", fontsize=8)
    _plain_log_labels(cdf.xaxis)
    if timeline:
        over = axes[2]
        over.plot([w[0] for w in timeline], [w[3] for w in timeline], color="#c44e52",
                  label="max")
        over.plot([w[0] for w in timeline], [w[2] for w in timeline], color="#4c72b0",
                  label="p50")
        over.axhline(target, color="#c44e52", linestyle="--", linewidth=0.8)
        over.set_yscale("log")
        over.set_xlabel("seconds into the run (0.5 s windows)")
        over.set_ylabel("ack latency (ms, log)")
        over.legend(loc="upper right", fontsize=8)
        _plain_log_labels(over.yaxis)
    fig.suptitle(f"Shopify webhook intake at {intake['rate']:g} deliveries/s, open loop "
                 f"({n} deliveries; gunicorn + PostgreSQL + Redis)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plain_log_labels(axis) -> None:
    """Label a log axis 2, 5, 10, 20… rather than 2×10⁰ on every minor tick."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ScalarFormatter())
    axis.set_minor_formatter(NullFormatter())


# --- sections ------------------------------------------------------------------------------


def intake_section(r: dict, plot: str | None) -> tuple[list[str], list[list], list[str]]:
    fixed, sat, bare = r["fixed_rate"], r["saturated"], r["bare"]
    targets = r.get("targets", {"p99_ms": 50, "ratio": 0.5})
    p99_ok = fixed["p99_ms"] < targets["p99_ms"]
    ratio_ok = r["intake_to_bare_ratio"] >= targets["ratio"]
    summary = [
        ["1 Webhook intake", f"p99 ack at {r['rate']:g}/s", _ms(fixed["p99_ms"]),
         f"< {targets['p99_ms']} ms", _verdict(p99_ok), _load_avg(r)],
        ["1 Webhook intake", "intake ÷ bare /healthz throughput"
         + (f", median of {len(r['pairs'])} pairs" if r.get("pairs") else ""),
         f"{r['intake_to_bare_ratio']:.2f} ({sat['throughput_per_s']:.0f} ÷ "
         f"{bare['throughput_per_s']:.0f} req/s)", f"≥ {targets['ratio']}", _verdict(ratio_ok),
         _load_avg(r)],
    ]
    lines = ["## 1. Webhook intake", "",
             f"Signed Shopify `products/create` deliveries against {r.get('server')}, on "
             "loopback; the load generator (asyncio, keep-alive connections) runs on the same "
             "machine. Open loop: each delivery starts on schedule and its latency counts from "
             "then, so queueing shows; its 64 connections are opened and answered once "
             "(`/healthz`) before the clock starts, since gunicorn takes ~0.2 s to accept 64 "
             "new connections at once. `bench/webhook_intake.py`.", ""]
    lines += _md_table(["load", "req/s", "p50", "p95", "p99", "errors"], [
        [f"intake at {r['rate']:g}/s, open loop", f"{fixed['throughput_per_s']:.0f}",
         _ms(fixed["p50_ms"]), _ms(fixed["p95_ms"]), _ms(fixed["p99_ms"]), fixed["errors"]],
        ["intake, saturated (16 connections)", f"{sat['throughput_per_s']:.0f}",
         _ms(sat["p50_ms"]), _ms(sat["p95_ms"]), _ms(sat["p99_ms"]), sat["errors"]],
        ["bare `/healthz`, saturated", f"{bare['throughput_per_s']:.0f}", _ms(bare["p50_ms"]),
         _ms(bare["p95_ms"]), _ms(bare["p99_ms"]), bare["errors"]],
    ])
    if plot:
        lines += [f"![Webhook intake latency distribution]({plot})", ""]
    slow = [w for w in r.get("timeline") or [] if w[3] > targets["p99_ms"]]
    if r.get("timeline"):
        lines += [f"Over the {len(r['timeline'])} half-second windows of the open-loop run, "
                  f"{len(slow)} held a delivery slower than {targets['p99_ms']} ms"
                  + (": at " + ", ".join(f"{w[0]:g} s (max {w[3]:.0f} ms)" for w in slow[:8])
                     + ("…" if len(slow) > 8 else "") if slow else "")
                  + ". Isolated slow windows while the median stays low are the machine's "
                  "other work taking the CPUs (see the load average).", ""]
    misses = []
    pairs = r.get("pairs") or []
    if pairs:
        lines += [f"Saturated, {len(pairs)} pairs of runs back to back (intake, then the bare "
                  "endpoint); the ratio above is their median:", ""]
        lines += _md_table(
            ["pair", "intake req/s", "bare req/s", "ratio", "gunicorn CPU, intake / bare",
             "PostgreSQL CPU, intake", "load avg"],
            [[i + 1, f"{p['intake']['throughput_per_s']:.0f}",
              f"{p['bare']['throughput_per_s']:.0f}", f"{p['ratio']:.2f}",
              f"{p['cpu_ms_per_request']['intake']['gunicorn_ms']:.2f} / "
              f"{p['cpu_ms_per_request']['bare']['gunicorn_ms']:.2f} ms",
              f"{p['cpu_ms_per_request']['intake']['postgres_ms']:.2f} ms",
              f"{p['load_average']:.2f}"] for i, p in enumerate(pairs)])
    cpu = r.get("cpu_ms_per_request") or {}
    if cpu:
        lines += ["CPU per answered request (user + system)"
                  + (", the median pair's" if pairs else "") + ":", ""]
        lines += _md_table(["endpoint", "gunicorn processes", "PostgreSQL backend"], [
            [name, f"{v['gunicorn_ms']:.2f} ms", f"{v['postgres_ms']:.2f} ms"]
            for name, v in cpu.items()])
    profile = r.get("profile") or {}
    parts = profile.get("categories_pct") or {}
    if parts and profile.get("mode") == "gil-exclusive":
        lines += ["Where a delivery's CPU goes in the web process: py-spy `--gil` (the thread "
                  "running Python; waits on sockets and for the GIL are not counted) over the "
                  f"gunicorn workers during an extra saturated run, {profile.get('samples')} "
                  "samples, each counted in the first part its stack passes through:", ""]
        lines += _md_table(["part of a delivery", "share of samples"],
                           [[name, f"{pct:.1f} %"] for name, pct in parts.items()])
    if not (p99_ok and ratio_ok):
        misses += ["### Webhook intake", ""]
        if cpu.get("intake") and cpu.get("bare"):
            extra = cpu["intake"]["gunicorn_ms"] - cpu["bare"]["gunicorn_ms"]
            misses += [
                f"Each delivery costs the web process {cpu['intake']['gunicorn_ms']:.2f} ms of "
                f"CPU against {cpu['bare']['gunicorn_ms']:.2f} ms for `/healthz` "
                f"({extra:.2f} ms more), and PostgreSQL {cpu['intake']['postgres_ms']:.2f} ms. "
                "The bare endpoint does no I/O at all; a delivery must be durable before its "
                "200: one committed INSERT (the store found inside it, a repeat `ON CONFLICT "
                "DO NOTHING`) and one Redis enqueue, each a round trip and a context switch to "
                "another process on these two CPUs, and the commit waits for the WAL flush. "
                "See the parts above for the web process's share.", ""]
        if parts and profile.get("mode") != "gil-exclusive":
            misses += [f"py-spy over the gunicorn workers during an extra saturated run "
                       f"({profile.get('samples')} samples; a sample counts in every part "
                       "its stack passes through):", ""]
            misses += _md_table(["part of a delivery", "share of samples"],
                                [[name, f"{pct:.1f} %"] for name, pct in parts.items()])
        frames = [row for row in profile.get("inclusive_pct", []) if row[0] < 80]
        if frames:
            misses += ["The heaviest frames (share of samples in the frame and below it; "
                       "idle event-loop waits left out):", "", "```"]
            misses += [f"{pct:5.1f}%  {frame}" for pct, frame in frames[:22]]
            misses += ["```", ""]
    return lines, summary, misses


def e2e_section(r: dict) -> tuple[list[str], list[list], list[str]]:
    target = r["targets"]["overhead_p50_ms"]
    summary, rows, parts = [], [], []
    for b in r["batches"]:
        ok = b["overhead_ms"]["p50"] < target
        label = (f"{b['products']} product, {b['runs']} runs" if b.get("runs", 1) > 1
                 else f"{b['products']} products")
        result = _ms(b["overhead_ms"]["p50"])
        if b["capacity_wait_ms"]["p50"]:
            result += (f" (capacity wait {_ms(b['capacity_wait_ms']['p50'])}, system overhead "
                       f"{_ms(b['system_overhead_ms']['p50'])})")
        summary.append(["2 End to end", f"overhead p50, {label}", result, f"< {target} ms",
                        _verdict(ok), _load_avg(r)])
        rows.append([label, f"{b['wall_seconds']:.1f} s", _ms(b["latency_ms"]["p50"]),
                     _ms(b["latency_ms"]["p95"]), _ms(b["compute_ms"]["p50"]),
                     _ms(b["overhead_ms"]["p50"]), _ms(b["overhead_ms"]["p95"]),
                     _ms(b["capacity_wait_ms"]["p50"]), _ms(b["system_overhead_ms"]["p50"]),
                     b["failed"]])
        parts.append([label, _ms(b["webhook_to_job_ms"]["p50"]),
                      _ms(b["job_to_dispatched_ms"]["p50"]),
                      _ms(b["dispatched_to_started_ms"]["p50"]),
                      _ms(b["in_job_other_ms"]["p50"]),
                      _ms((b.get("download_and_runner_ms") or {}).get("p50"))])
    for name, variant in (r.get("variants") or {}).items():
        for b in variant["batches"]:
            summary.append(["2 End to end", f"overhead p50, {b['products']} product, "
                            f"{b.get('runs', 1)} runs, {name}", _ms(b["overhead_ms"]["p50"]),
                            f"< {target} ms", _verdict(b["overhead_ms"]["p50"] < target),
                            _load_avg(r)])
    poll = r.get("poll_ms")
    lines = ["## 2. End to end: webhook → images ready for review", "",
             f"The store is the {r['store']}; its webhook → gunicorn → PostgreSQL/Redis → "
             f"`manage.py worker` ({r['worker_processes']} processes × {r['worker_threads']} "
             f"threads = {r['slots']} slots) → classical segmenter, procedural scene, on the "
             "CPU; one ~1 MP studio photo per product, downloaded from the emulator. Each "
             f"batch starts after the system has been idle {r.get('idle_seconds', 3):g} s, as "
             "a product usually finds it (an idle queue is polled less and less often), after "
             "an uncounted warm-up batch. Latency = "
             "job finished − webhook received; compute = the job's own stage timings; "
             "overhead = latency − compute. In a batch larger than the slots a product also "
             "waits while every slot computes others (capacity wait, not overhead); system "
             "overhead = overhead − capacity wait. `bench/end_to_end.py`"
             + (f" (worker idle poll ceiling {poll} ms)." if poll else "."), ""]
    lines += _md_table(["products", "wall", "latency p50", "latency p95", "compute p50",
                        "overhead p50", "overhead p95", "capacity wait p50",
                        "system overhead p50", "failed"], rows)
    lines += ["Where the overhead sits (p50 per product):", ""]
    lines += _md_table(["batch", "webhook → job (queue hop, re-read, ingest)",
                        "job → dispatched", "dispatched → started (queue hop, capacity wait)",
                        "in job, outside the stages", "of which download + runner"], parts)
    lines += ["A dispatch pass stamps `dispatched_at` with the time it started, so a job "
              "created while a pass waited for the dispatch lock can show a slightly negative "
              "job → dispatched.", ""]
    if r.get("variants"):
        lines += ["The batch of 1 again, with other worker settings:", ""]
        lines += _md_table(["setting", "batch", "overhead p50", "overhead p95",
                            "webhook → job", "dispatched → started"], [
            [name, f"{b['products']} ×{b.get('runs', 1)}", _ms(b["overhead_ms"]["p50"]),
             _ms(b["overhead_ms"]["p95"]), _ms(b["webhook_to_job_ms"]["p50"]),
             _ms(b["dispatched_to_started_ms"]["p50"])]
            for name, v in r["variants"].items() for b in v["batches"]])
    profile = r.get("worker_profile") or {}
    if profile.get("samples"):
        lines += ["Where a worker thread's wall time goes while it processes messages "
                  f"(py-spy `--idle` over one more batch of 10, {profile['samples']} samples):",
                  ""]
        lines += _md_table(["part", "share"], [[name, f"{pct:.1f} %"] for name, pct in
                                               profile["categories_pct"].items()])
    misses = []
    if any(row[4] == "**missed**" for row in summary):
        misses += ["### End to end", "",
                   "*Where the overhead sits* and the worker profile in section 2: a worker "
                   "thread spends almost all of its busy time in the pipeline itself "
                   "(`process_image`); the re-read, ingest, dispatch, download and writes "
                   "together are a few per cent. The overhead is waiting, not work:", "",
                   "- A lone product crosses two queues (webhooks, then generate-cpu). An idle "
                   "Dramatiq Redis consumer polls with a backoff that grows to the worker "
                   "timeout (1 s by default), so each hop waits for the next poll: "
                   "*webhook → job* and *dispatched → started* above. With the ceiling at "
                   "100 ms (`dramatiq_worker_timeout=100` in the workers' environment) those "
                   "hops shrink; see the comparison in section 2.",
                   "- In a batch larger than the worker slots, products wait for a free slot "
                   "(capacity wait: the CPU count, not overhead), and the webhooks queue shares "
                   "the worker threads with generation, so a burst's later re-reads wait "
                   "behind earlier products' images (*webhook → job* for 100 products). Jobs "
                   "then wait as rows for the dispatcher, which keeps only "
                   "PHOTOSYNC_DISPATCH_CPU_IN_FLIGHT in the broker (*job → dispatched*): that "
                   "is the fair scheduling working as designed.", ""]
    return lines, summary, misses


def reconcile_section(r: dict, standalone_push: dict | None = None,
                      ) -> tuple[list[str], list[list], list[str]]:
    limit = r["targets"]["over_floor"]
    summary, rows, misses = [], [], []
    shopify = r.get("shopify") or {}
    push = r.get("push")

    def ratio(phase: dict) -> tuple[str, bool | None]:
        if not phase.get("floor_seconds"):
            return f"no floor: {phase['points']} points fit the bucket", None
        return f"{phase['over_floor']:.2f}×", phase["over_floor"] <= limit

    for name, label in (("bulk", "bulk read"), ("sweep", "paged sweep")):
        phase = shopify.get(name)
        if not phase:
            continue
        shown, ok = ratio(phase)
        summary.append(["3 Shopify reconcile", f"{label}, {phase['products_seen']:,} products",
                        f"{phase['seconds']:.1f} s vs floor {phase['floor_seconds']:.1f} s "
                        f"({shown}); {phase['throttled']} throttled",
                        f"≤ {limit}× floor, no throttle error", _verdict(ok), _load_avg(r)])
        rows.append([f"Shopify {label}", f"{phase['products_seen']:,}", f"{phase['seconds']:.1f}",
                     f"{phase['points']:,}", f"{phase['floor_seconds']:.1f}", shown,
                     phase["throttled"], f"{phase['read_seconds']:.1f}",
                     f"{phase['ingest_seconds']:.1f}", f"{phase['ingest_ms_per_product']:.1f}",
                     phase["queries_per_product"]])
    if push:
        shown, ok = ratio(push)
        ok = ok if not push["errors"] else False
        summary.append(["3 Shopify push", f"{push['pushes']} images",
                        f"{push['seconds']:.1f} s vs floor {push['floor_seconds']:.1f} s "
                        f"({shown}); {push['throttled']} throttled, {len(push['errors'])} failed",
                        f"≤ {limit}× floor, no throttle error", _verdict(ok), _load_avg(r)])
        rows.append([f"Shopify push ({push['points_per_push']} points/push)", push["live"],
                     f"{push['seconds']:.1f}", f"{push['points']:,}",
                     f"{push['floor_seconds']:.1f}", shown, push["throttled"], "", "", "", ""])
    if standalone_push and standalone_push.get("floor_seconds"):
        p = standalone_push
        shown, ok = ratio(p)
        summary.append(["3 Shopify push", f"{p['pushes']} images, `bench/shopify_push.py` "
                        "(SQLite, in-process broker)",
                        f"{p['seconds']:.1f} s vs floor {p['floor_seconds']:.1f} s ({shown}); "
                        f"{p['throttled']} throttled, {len(p['errors'])} failed",
                        f"≤ {limit}× floor, no throttle error",
                        _verdict(ok if not p["errors"] else False), "not recorded"])
        rows.append([f"Shopify push, shopify_push.py ({p['points_per_push']} points/push)",
                     p["live"], f"{p['seconds']:.1f}", f"{p['points']:,}",
                     f"{p['floor_seconds']:.1f}", shown, p["throttled"], "", "", "", ""])
    woo = r.get("woocommerce") or {}
    for name in ("first_pass", "sweep"):
        phase = woo.get(name)
        if not phase:
            continue
        summary.append(["3 WooCommerce reconcile",
                        f"{name.replace('_', ' ')}, {phase['products_seen']:,} products",
                        f"{phase['seconds']:.1f} s, {phase['pages']} pages, "
                        f"{phase['pages_per_s']} pages/s", "(no target: no rate limit)", "n/a",
                        _load_avg(r)])
        rows.append([f"WooCommerce {name.replace('_', ' ')}", f"{phase['products_seen']:,}",
                     f"{phase['seconds']:.1f}", "", "", "", "", f"{phase['read_seconds']:.1f}",
                     f"{phase['ingest_seconds']:.1f}", f"{phase['ingest_ms_per_product']:.1f}",
                     phase["queries_per_product"]])
    lines = ["## 3. Reconcile and push at the store's limit", "",
             "Shopify emulator throttling like a Standard plan (bucket "
             f"{shopify.get('bucket', 1000):,.0f} points, restore "
             f"{shopify.get('restore_rate', 100):g}/s). Floor = the time the rate limit alone "
             "imposes on the points actually spent: max(0, points − bucket) ÷ restore rate; the "
             "sweep's adds the headroom a page needs (it is sent only once the bucket holds its "
             "requested cost, though charged its smaller actual cost). Reads and ingest run in "
             "the benchmark's process on PostgreSQL; ingest = `product_ingest` (rows, input "
             "hash, generation job), timed apart from reading the store. The push uses "
             "`bench/shopify_push.py`'s machinery (worker threads, webhook echoes, polling until "
             "READY) on PostgreSQL and Redis. `bench/reconcile.py`", ""]
    lines += _md_table(["phase", "items", "seconds", "points", "floor s", "vs floor",
                        "throttled", "read s", "ingest s", "ingest ms/product",
                        "queries/product"], rows)
    for name in ("first_pass", "sweep"):
        phase = woo.get(name)
        if phase:
            lines.append(f"- WooCommerce {name.replace('_', ' ')}: {phase['pages']} pages of "
                         f"{woo.get('per_page', 100)} at {phase['pages_per_s']} pages/s; per page "
                         f"{phase['read_ms_per_page']} ms reading the store (REST, OAuth 1.0a, "
                         f"JSON) and {phase['ingest_ms_per_page']} ms of ingest.")
    bulk = shopify.get("bulk")
    if bulk:
        lines.append(f"- Shopify bulk: the bulk query cost {bulk['points']} points in "
                     f"{bulk['graphql_calls']} calls; {bulk['bulk_start_seconds']:.1f} s of it "
                     "was the emulator building the JSONL (a real shop takes minutes for this "
                     "size, off our clock and off the rate limit).")
    sweep = shopify.get("sweep")
    if sweep:
        lines.append(f"- Shopify sweep: {sweep['pages']} pages at {sweep['points_per_page']} "
                     f"points each (requested {sweep['requested_per_page']:.0f}); "
                     f"{sweep['throttle_wait_seconds']:.0f} s of the "
                     f"{sweep['seconds']:.0f} s were budgeted waits for the bucket.")
    lines.append("")
    if any(row[4] == "**missed**" for row in summary):
        misses += ["### Reconcile and push", ""]
        for name in ("bulk", "sweep"):
            phase = shopify.get(name) or {}
            if phase.get("profile_top"):
                misses += [f"cProfile of the Shopify {name} (cumulative):", "", "```",
                           *phase["profile_top"][:45], "```", ""]
    return lines, summary, misses


def burst_section(after: dict, before: dict | None) -> tuple[list[str], list[list], list[str]]:
    """bench/burst.py: a 1,000-product import, this code (`burst-after`) and the code before
    the batched drain (`burst-before`, `--code` another checkout), side by side."""
    target = after["targets"]["webhook_to_job_p95_ms"]
    runs = [*(before or {}).get("runs", []), *after["runs"]]
    summary, rows, misses = [], [], []
    for r in runs:
        w = r["webhook_to_job_ms"]
        points = (f"{r['points_requested_per_product']} / {r['points_actual_per_product']}"
                  if r["platform"] == "shopify" else "–")
        reads = (f"{r['graphql_calls']} GraphQL" if r["platform"] == "shopify"
                 else f"{r['product_read_requests']} REST")
        load = r.get("load_average") or {}
        rows.append([r["platform"], r["code"], r["products"], f"{r['sent_seconds']} s",
                     _ms(w["p50"]), _ms(w["p95"]), points, reads, r["missed"],
                     r["duplicated"], f"{load.get('mean', '?')} (max {load.get('max', '?')})"])
        if r["code"] == "before":
            continue
        ok = w["p95"] <= target and not r["missed"] and not r["duplicated"]
        summary.append([f"7 Burst ({r['platform']})",
                        f"webhook → job p95, {r['products']} products in "
                        f"{after['window_seconds']:.0f} s, {r['code']}",
                        f"{_ms(w['p95'])}; {r['missed']} missed, {r['duplicated']} duplicated",
                        f"≤ {target:,} ms, none missed or duplicated", _verdict(ok),
                        f"mean {load.get('mean', '?')}"])
        if not ok:
            misses.append(f"- Burst ({r['platform']}): p95 {_ms(w['p95'])} under a load "
                          f"average of {load.get('mean', '?')} on 2 CPUs.")
    before_shop = [r for r in runs if r["platform"] == "shopify" and r["code"] == "before"]
    for a in (r for r in after["runs"] if r["platform"] == "shopify"):
        if not before_shop:
            break
        b = before_shop[0]
        ratio = b["points_requested_per_product"] / max(a["points_requested_per_product"], 1e-9)
        summary.append(["7 Burst (shopify)", f"GraphQL points per product, before ÷ {a['code']}",
                        f"requested {ratio:.1f}× fewer ({b['points_requested_per_product']} → "
                        f"{a['points_requested_per_product']}); actual "
                        f"{b['points_actual_per_product']} → {a['points_actual_per_product']}",
                        "≥ 3× fewer", _verdict(ratio >= 3),
                        f"mean {(a.get('load_average') or {}).get('mean', '?')}"])
    lines = [
        "## 7. Bursts: a 1,000-product import, webhook → job", "",
        f"`bench/burst.py`: {after['products']} products created on the store within "
        f"{after['window_seconds']:.0f} s, one create delivery each (the issue's catalog "
        "import), on the production configuration (gunicorn 2×4, PostgreSQL, Redis, "
        f"{after['worker_processes']} × {after['worker_threads']} workers on the webhooks "
        "queue). Generation is not running: webhook → job = the job's creation − the "
        "delivery's receipt. *before*: the web and worker processes of the code before the "
        "batched drain (one message, one product read, one dispatch per delivery); *after*: "
        "this code (groups of up to 100 pending deliveries per pass, Shopify `nodes(ids:)` "
        "25 ids a call, WooCommerce `include=` 100 a request). Points: the emulator's own "
        "accounting (requested: what the reads asked the bucket for; actual: what they were "
        "charged; `nodes` is charged per id).", "",
        *_md_table(["platform", "code", "products", "sent in", "p50", "p95",
                    "points/product requested / actual", "store reads", "missed",
                    "duplicated", "load avg (1 min) mean"], rows),
        "Actual points per product do not fall with batching: Shopify charges every object a "
        "query returns (a product, its media connection, each media: 6 points for a product "
        "with one photo), whichever query returns it. What falls is what each read must find "
        "in the bucket before it runs, and the number of round trips; at the Standard plan's "
        "100 points/s a burst of 1,000 one-photo products needs about 60 s of restore "
        "whatever the batching, which is why the burst is paced as the store sends it. "
        "Groups form only while deliveries wait: when the drain keeps up (a quiet machine) "
        "most passes find one event and read it with the single read (153 requested "
        "points), so requested points per product fall 4.6× under load and only 1.2× on a "
        "quiet machine; the Shopify p95 miss at load ~17 is the bucket: 25-id calls waited "
        "for 826 points each (the final code reserves what each call asks and sizes it to "
        "what the bucket holds, measured at load ~4 only).", "",
    ]
    return lines, summary, misses


def pipeline_section(r: dict) -> list[str]:
    lines = ["## 4. Pipeline", "",
             "The CPU pipeline on one core (`bench/pipeline.py`; see docs/pipeline-notes.md). "
             "Seconds per image, mean of the repeats.", ""]
    rows = []
    stages: list[str] = []
    for size, paths in r.get("sizes", {}).items():
        for path_name, v in paths.items():
            if not isinstance(v, dict) or "stages" not in v:
                continue  # "input": the photo's description
            stages = stages or list(v["stages"])
            rows.append([f"{size} ({paths.get('input', '')})", path_name.replace("_", " "),
                         f"{v['seconds']:.2f}",
                         f"{v['images_per_s']:.2f}",
                         *(f"{v['stages'][s]:.3f}" for s in stages),
                         f"{v['max_rss_mb']:.0f}"])
    lines += _md_table(["size", "path", "s/image", "images/s", *stages, "max RSS MiB"], rows)
    return lines + _energy_lines(r)


def _energy_lines(r: dict) -> list[str]:
    """Wh per image of the CPU path beside the published average for image generation."""
    rows, published = [], None
    for size, paths in r.get("sizes", {}).items():
        for path_name, v in paths.items():
            e = v.get("energy") if isinstance(v, dict) else None
            if not e:
                continue
            published = e["published_wh_per_image"]
            how = (f"estimate: {e['cpu_seconds']:.2f} CPU s × {e['watts_per_core']:g} W"
                   if e["source"] == "estimate" else f"{e['source']}, {e['cpu_seconds']:.2f} CPU s")
            rows.append([size, path_name.replace("_", " "), e["outputs"],
                         f"{e['wh_per_image']:.5f}", f"{e['wh_per_output']:.5f}", how,
                         f"{published / e['wh_per_output']:,.0f}×"])
    if not rows:
        return []
    return [
        "Energy per image of the same runs (`pipeline.energy`; docs/operations.md, \"Energy and "
        "carbon\"), median of the repeats, beside the published average for image generation: "
        f"{published:g} Wh per image (Luccioni, Jernite & Strubell 2024, \"Power Hungry "
        "Processing\", mean over the image-generation models they measured). Those are "
        "diffusion models on GPUs; this is the classical CPU path (no model), on one core.", "",
        *_md_table(["size", "path", "outputs", "Wh/source image", "Wh/output", "source",
                    "published ÷ ours (per output)"], rows),
    ]


def pipeline_photo_section(r: dict) -> tuple[list[str], list[list], list[str]]:
    """Issue 17's CPU path per photo (`bench/pipeline.py --photo`): the stage table before and
    after, and what each PNG level or scene format costs."""
    before = r.get("before")
    seconds, cpu = r["seconds_median"], r["cpu_seconds_median"]
    target = r.get("target_seconds", 1.0)
    was = (f"; before {before['seconds_median']:.2f} s, {before['cpu_seconds_median']:.2f} CPU s"
           if before else "")
    summary = [["4 Pipeline", "CPU path per photo: framed + 4 scenes at 2048², classical, "
                f"{r['photo'].split(',')[1].strip()}, one core",
                f"{seconds:.2f} s wall, {cpu:.2f} CPU s{was}", f"≤ {target:g} s",
                _verdict(cpu <= target and seconds <= target * 1.1), _load_avg(r)]]
    lines = ["## 4b. CPU path per photo", "",
             f"`bench/pipeline.py --photo --encode`: {r['photo']}, as it is (no resize) → "
             f"{', '.join(r['outputs'])}; classical segmenter, procedural scenes, one core "
             "(taskset, OpenCV and BLAS at one thread). Median of "
             f"{r['repeats']}; the machine was shared with other work, so CPU seconds (this "
             "process's, per stage this thread's) are given beside wall seconds. Before = the "
             "same script on the code before this change, in the same session.", ""]
    header = ["stage", *(["before wall s", "before CPU s"] if before else []), "wall s", "CPU s"]
    rows = []
    for stage in r["stages"]:
        rows.append([stage, *([f"{before['stages'][stage]:.3f}",
                               f"{before['stages_cpu'][stage]:.3f}"] if before else []),
                     f"{r['stages'][stage]:.3f}", f"{r['stages_cpu'][stage]:.3f}"])
    totals = ["**per photo**"]
    if before:
        totals += [f"**{before['seconds_median']:.3f}**", f"**{before['cpu_seconds_median']:.3f}**"]
    rows.append([*totals, f"**{seconds:.3f}**", f"**{cpu:.3f}**"])
    lines += _md_table(header, rows)
    cold = r["first_photo_of_a_process"]
    lines += [f"The first photo of a process (no scene backdrop kept yet: "
              f"`pipeline.backends.procedural` renders each preset's once per process) took "
              f"{cold['seconds']:.2f} s, {cold['cpu_seconds']:.2f} CPU s. Outputs: "
              f"{sum(r['bytes'].values()) / 2**20:.2f} MiB "
              + (f"(before {sum(before['bytes'].values()) / 2**20:.2f} MiB); " if before else "; ")
              + f"load average {_load_avg(r)}.", ""]
    if r.get("encode"):
        lines += ["What encoding costs: CPU seconds to encode the photo's 5 outputs, and their "
                  "bytes, per option (`PHOTOSYNC_PNG_COMPRESSION` is the PNG zlib level; the "
                  "white-background framed output stays PNG whatever the scenes use: a lossy "
                  "format would leave off-white pixels). Encoding off the critical path (a "
                  "thread encoding scene N while N+1 is composited) gains nothing on one core, "
                  "so it is not done.", ""]
        lines += _md_table(
            ["option", "s/photo", "framed KiB", "scene KiB (mean)", "total MiB"],
            [[row["option"] + (" **(default)**" if row["default"] else ""),
              f"{row['seconds_per_photo']:.3f}", f"{row['framed_bytes'] / 1024:,.0f}",
              f"{row['scene_bytes_mean'] / 1024:,.0f}", f"{row['total_bytes'] / 2**20:.2f}"]
             for row in r["encode"]])
    misses = []
    if summary[0][4] != "**met**":
        slowest = sorted(r["stages_cpu"].items(), key=lambda kv: -kv[1])[:3]
        misses = [f"CPU path per photo: {cpu:.2f} CPU s against {target:g} s; the most "
                  "expensive stages are " + ", ".join(f"{k} {v:.2f} s" for k, v in slowest)
                  + " (table in section 4b).", ""]
    return lines, summary, misses


def memory_summary(r: dict) -> list[list]:
    """The worker's peak RSS during the run against issue 17's 600 MiB, web and syncd beside."""
    peak = {role: max((p["rss_mb_max"] for p in r["memory"].get(role, {}).values()), default=0)
            for role in ("web", "worker", "syncd")}
    return [["5 Memory", f"worker RSS, {r.get('products', 10)} products generated "
             f"({r['processes'].get('worker', '?')} processes); web, syncd",
             f"{peak['worker']:.0f} MiB; web {peak['web']:.0f}, syncd {peak['syncd']:.0f} MiB",
             "worker ≤ 600 MiB", _verdict(peak["worker"] <= 600), _load_avg(r)]]


def memory_section(r: dict) -> list[str]:
    lines = ["## 5. Memory", "",
             "Resident memory of each process with its children (gunicorn master + workers; "
             "dramatiq main + worker processes), sampled every 0.25 s. RSS counts pages a "
             "forked child shares with its parent in both; PSS (in brackets) splits them. Idle "
             "= booted and quiet; load = webhook_intake's open-loop load of signed "
             f"`products/update` deliveries at {r['rate']:g}/s for {r['seconds']:g} s "
             f"({r.get('products', 10)} products, each re-read by the worker, the first "
             "delivery of each generating its images); draining = after the load, until the "
             "worker has worked off the backlog and finished every generation job. "
             "`bench/memory.py`", ""]
    rows = []
    for role in ("web", "worker", "syncd"):
        phases = r["memory"].get(role, {})
        cells = [role, r["processes"].get(role, "")]
        for phase in ("idle", "load", "drain"):
            p = phases.get(phase)
            if not p:
                cells.append("–")
                continue
            pss = f" ({p['pss_mb_max']:.0f})" if p.get("pss_mb_max") is not None else ""
            cells.append(f"{p['rss_mb_max']:.0f}{pss}")
        rows.append(cells)
    lines += _md_table(["process", "processes", "idle, MiB max RSS (PSS)", "under load",
                        "draining"], rows)
    load = r["load"]
    lines += [f"The load: {load['ok']} of {load['sent']} deliveries answered 2xx, p99 "
              f"{load['p99_ms']:.0f} ms (this run shares the CPUs with the worker it is "
              f"loading). The worker had processed {r['events_processed']} of "
              f"{r['events_received']} events and finished {r['jobs_finished']} generation "
              f"jobs when sampling stopped; {r['backlog_left']} messages were still queued. "
              f"Load average {_load_avg(r)}.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    results = _load(args.results)
    if not results:
        sys.exit(f"no results in {args.results}: run the benchmarks first (make bench)")
    host = next((r["machine"] for r in results.values() if "cpu_model" in
                 (r.get("machine") or {})), machine())
    summary: list[list] = []
    body: list[str] = []
    misses: list[str] = []
    if "webhook_intake" in results:
        plot_path = args.out.parent / PLOT_NAME
        plotted = plot_intake(results["webhook_intake"], plot_path)
        lines, rows, miss = intake_section(results["webhook_intake"],
                                           PLOT_NAME if plotted else None)
        body += lines
        summary += rows
        misses += miss
    if "end_to_end" in results:
        lines, rows, miss = e2e_section(results["end_to_end"])
        body += lines
        summary += rows
        misses += miss
    if "reconcile" in results:
        lines, rows, miss = reconcile_section(results["reconcile"],
                                              results.get("shopify_push"))
        body += lines
        summary += rows
        misses += miss
    if "pipeline" in results:
        body += pipeline_section(results["pipeline"])
    if "pipeline_photo" in results:
        lines, rows, miss = pipeline_photo_section(results["pipeline_photo"])
        body += lines
        summary += rows
        misses += miss
    if "memory" in results:
        body += memory_section(results["memory"])
        summary += memory_summary(results["memory"])
    if "burst-after" in results:
        lines, rows, miss = burst_section(results["burst-after"], results.get("burst-before"))
        body += lines
        summary += rows
        misses += miss
    if "concurrent_approvals" in results:
        from bench.concurrent_approvals import report_section

        lines, rows, miss = report_section(results["concurrent_approvals"])
        body += lines
        summary += rows
        misses += miss
    if "segment_eval" in results:
        from bench.segment_eval import report_section as segment_section

        lines, rows, miss = segment_section(results["segment_eval"])
        body += lines
        summary += rows
        misses += miss
    dates = sorted(r["machine"]["date"] for r in results.values()
                   if (r.get("machine") or {}).get("date"))
    out = [
        "# Benchmarks", "",
        f"Generated by `bench/report.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from "
        f"`bench/results/*.json` (runs from {dates[0] if dates else '?'} to "
        f"{dates[-1] if dates else '?'}). Run everything with `make bench`; one script with "
        "`.venv/bin/python bench/<name>.py`. `make bench-smoke` (CI) runs each in seconds and "
        "writes under `bench/results/smoke/`, never here.", "",
        "## Machine", "",
        f"- {host.get('cpus')} CPUs ({host.get('cpu_model', '?')}), "
        f"{host.get('memory_gib', '?')} GiB memory; {host.get('platform')}; "
        f"Python {host.get('python')}.",
        "- One machine, loopback only: the load generator, gunicorn, the workers, PostgreSQL, "
        "Redis and the store emulators all share those CPUs, so every number includes the "
        "cost of its own measurement apparatus.",
        "- Other work ran on the machine at times; each benchmark gives the 1-minute load "
        "average at its start and end.", "",
        "## Every number against its target", "",
    ]
    out += _md_table(["#", "measure", "result", "target", "verdict", "load avg"], summary)
    out += body
    if misses:
        out += ["## Missed targets: where the time goes", "", *misses]
    notes = REPO / "bench" / "NOTES.md"
    if notes.exists():
        out += [notes.read_text().rstrip(), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out).rstrip() + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
