"""Run every benchmark, then write the report (docs/benchmarks.md).

    python bench/run.py             # the real numbers: about half an hour on 2 CPUs
    python bench/run.py --smoke     # each script in seconds (CI); the report of those goes to
                                    # bench/results/smoke/benchmarks.md, never to docs/
    python bench/run.py --only end_to_end --only memory

Needs PostgreSQL and Redis on loopback (BENCH_DATABASE_ADMIN_URL, BENCH_REDIS_URL; see
bench/common.py). The scripts run one after another, each in its own process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# (script, extra arguments for the full run)
SCRIPTS = [
    ("webhook_intake", ["--profile"]),
    ("end_to_end", []),
    ("reconcile", []),
    ("shopify_push", []),
    ("concurrent_approvals", []),
    ("pipeline", []),
    ("enhance_eval", ["--timing"]),  # enhancement against truth (sample photos as ground truth)
    ("segment_eval", []),  # classical cutouts against exact masks: IoU, boundary F, flags
    ("memory", []),
    ("gpu", []),  # the full run needs a CUDA GPU (bench/gpu_device.sh); --smoke runs anywhere
]
#: Scripts whose full run needs a CUDA GPU: skipped (and said so) on a host without one.
NEEDS_CUDA = {"gpu"}


def cuda_available() -> bool:
    probe = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.call([sys.executable, "-c", probe], cwd=REPO,
                           stderr=subprocess.DEVNULL) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", action="append", choices=[s for s, _ in SCRIPTS])
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    failed = []
    for name, extra in SCRIPTS:
        if args.only and name not in args.only:
            continue
        if name in NEEDS_CUDA and not args.smoke and not cuda_available():
            print(f"\n=== {name}: skipped, no CUDA GPU on this host", flush=True)
            continue
        argv = [sys.executable, str(BENCH / f"{name}.py"), *(["--smoke"] if args.smoke
                                                               else extra)]
        print(f"\n=== {name} ({' '.join(argv[2:]) or 'full'}); load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        started = time.monotonic()
        code = subprocess.call(argv, cwd=REPO)
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if not args.no_report:
        report = [sys.executable, str(BENCH / "report.py")]
        if args.smoke:
            smoke = BENCH / "results" / "smoke"
            report += ["--results", str(smoke), "--out", str(smoke / "benchmarks.md")]
        if subprocess.call(report, cwd=REPO):
            failed.append("report")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
