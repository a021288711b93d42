"""Classical cutouts against exact masks: mean IoU, boundary F at 2 px and the flag confusion
table (wrong or right, flagged or not) on the generated studio set of issue 15
(bench/eval_set.py), through the real pipeline path (``process_image`` with the
classical segmenter, its mask as the pipeline returns it, every flag of the framed output).

    python bench/segment_eval.py            # seeds 0-3 at 360x270 and 720x540: 120 cutouts
    python bench/segment_eval.py --smoke    # seed 0 at 360x270 (the tests' set, seconds)

"Wrong" is ``bench.eval_set.is_wrong`` (IoU < 0.90 or boundary F < 0.90; the
docstring there says why). The promise under test: wrong & unflagged = 0.
Results go to bench/results/segment_eval.json (smoke: bench/results/smoke/).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from bench.eval_set import (  # noqa: E402
    CELLS,
    CLASSES,
    WRONG_BOUNDARY_F,
    WRONG_IOU,
    boundary_f,
    class_of,
    confusion,
    eval_set,
    iou,
    is_wrong,
)
from pipeline import PipelineConfig, process_image  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from pipeline.flags import codes  # noqa: E402

RESULTS = REPO / "bench" / "results"
FULL_SEEDS = (0, 1, 2, 3)
FULL_SIZES = ((360, 270), (720, 540))


def score(name: str, rgb: np.ndarray, truth: np.ndarray, config: PipelineConfig) -> dict:
    """One case through the pipeline: its scores, flags and whether it is wrong."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    try:
        result = process_image(buffer.getvalue(), config)
    except PipelineError as exc:  # refused, not output: as good as flagged (nothing published)
        return {"name": name, "class": class_of(name), "iou": 0.0, "boundary_f": 0.0,
                "wrong": True, "flags": [f"refused:{type(exc).__name__}"], "segment_s": 0.0}
    alpha = np.asarray(Image.open(io.BytesIO(result.mask_png)))
    i, f = iou(alpha, truth), boundary_f(alpha, truth)
    flags = codes(result.outputs[0].flags)
    return {"name": name, "class": class_of(name), "iou": round(i, 4),
            "boundary_f": round(f, 4), "wrong": is_wrong(i, f), "flags": flags,
            "segment_s": round(result.timings.get("segment", 0.0), 4)}


def evaluate(seeds, sizes) -> list[dict]:
    rows = []
    for size in sizes:
        config = PipelineConfig(segmenter="classical", scene_presets=(),
                                frame_preset=f"custom:{size[0]}x{size[0]}:0.8")
        for seed in seeds:
            for name, rgb, truth in eval_set(seed, size):
                rows.append({**score(name, rgb, truth, config), "seed": seed,
                             "size": f"{size[0]}x{size[1]}"})
    return rows


def summarise(rows: list[dict]) -> dict:
    table = confusion(rows)
    per_class = {}
    for cls in [*CLASSES, "all"]:
        subset = [r for r in rows if cls in ("all", r["class"])]
        if not subset:
            continue
        right = table[cls]["right_flagged"] + table[cls]["right_unflagged"]
        per_class[cls] = {
            "n": len(subset),
            "mean_iou": round(float(np.mean([r["iou"] for r in subset])), 4),
            "min_iou": round(float(min(r["iou"] for r in subset)), 4),
            "mean_boundary_f": round(float(np.mean([r["boundary_f"] for r in subset])), 4),
            **table[cls],
            "false_flag_rate": round(table[cls]["right_flagged"] / right, 3) if right else None,
        }
    return per_class


def print_table(summary: dict) -> None:
    head = (f"{'class':<24} {'n':>3} {'IoU':>6} {'min':>6} {'BF@2':>6} {'wrong+flag':>10} "
            f"{'WRONG-SILENT':>12} {'right+flag':>10} {'right':>6} {'false flag':>10}")
    print(head)
    for cls, s in summary.items():
        rate = "–" if s["false_flag_rate"] is None else f"{s['false_flag_rate']:.0%}"
        print(f"{cls:<24} {s['n']:>3} {s['mean_iou']:6.3f} {s['min_iou']:6.3f} "
              f"{s['mean_boundary_f']:6.3f} {s['wrong_flagged']:>10} {s['wrong_unflagged']:>12} "
              f"{s['right_flagged']:>10} {s['right_unflagged']:>6} {rate:>10}")


def report_section(r: dict) -> tuple[list[str], list[list], list[str]]:
    """docs/benchmarks.md's section for this run: its lines, its summary rows, its misses."""
    s = r["summary"]["all"]
    load = r.get("machine") or {}
    start, end = load.get("load_average_at_start"), load.get("load_average_at_end")
    load_avg = f"{start[0]:.2f} → {end[0]:.2f}" if start and end else "not recorded"
    rate = s["false_flag_rate"] or 0.0
    ok = s["wrong_unflagged"] == 0 and s["mean_iou"] >= 0.95 and rate <= 0.10
    summary = [["8 Classical cutouts", f"{s['n']} generated studio photos with exact masks",
                f"mean IoU {s['mean_iou']:.3f}, BF@2 {s['mean_boundary_f']:.3f}; "
                f"{s['wrong_unflagged']} wrong & unflagged, {rate:.0%} of right ones flagged",
                "IoU ≥ 0.95, 0 silent, ≤ 10 % false flags", "**met**" if ok else "**missed**",
                load_avg]]
    rows = []
    for cls, v in r["summary"].items():
        rows.append([cls, v["n"], f"{v['mean_iou']:.3f}", f"{v['min_iou']:.3f}",
                     f"{v['mean_boundary_f']:.3f}", *(v[c] for c in CELLS),
                     "–" if v["false_flag_rate"] is None else f"{v['false_flag_rate']:.0%}"])
    lines = [
        "## 8. Classical cutouts against exact masks", "",
        f"The generated studio set of issue 15 (`bench/eval_set.py`: seeds "
        f"{', '.join(map(str, r['seeds']))} at {', '.join(r['sizes'])}) through "
        "`process_image` with the classical segmenter; flags are every flag of the framed "
        f"output. Wrong = IoU < {r['wrong_iou']} or boundary F at 2 px < "
        f"{r['wrong_boundary_f']}. `bench/segment_eval.py`", "",
        "| class | n | mean IoU | min IoU | BF@2 | wrong & flagged | wrong & unflagged | "
        "right & flagged | right & unflagged | false flags |",
        "|" + "---|" * 10,
        *("| " + " | ".join(str(c) for c in row) + " |" for row in rows), "",
    ]
    misses = [] if ok else ["Classical cutouts: silent or over-flagged cases: " + ", ".join(
        f"{x['name']} seed {x['seed']} {x['size']} (IoU {x['iou']:.3f}, BF {x['boundary_f']:.3f}"
        f", {x['flags'] or 'no flag'})" for x in r["rows"]
        if x["wrong"] != bool(x["flags"]))[:2000], ""]
    return lines, summary, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    seeds, sizes = ((0,), ((360, 270),)) if args.smoke else (FULL_SEEDS, FULL_SIZES)
    started = time.process_time()
    rows = evaluate(seeds, sizes)
    summary = summarise(rows)
    print(f"{len(rows)} cutouts (seeds {list(seeds)}, sizes "
          f"{['x'.join(map(str, s)) for s in sizes]}); wrong = IoU < {WRONG_IOU} or "
          f"BF@2 < {WRONG_BOUNDARY_F}")
    print_table(summary)
    for row in rows:
        if row["wrong"] and not row["flags"]:
            print(f"  SILENT: {row['name']} seed {row['seed']} {row['size']}: IoU "
                  f"{row['iou']:.3f} BF {row['boundary_f']:.3f}")
    data = {"machine": machine(), "smoke": args.smoke, "seeds": list(seeds),
            "sizes": [f"{w}x{h}" for w, h in sizes], "wrong_iou": WRONG_IOU,
            "wrong_boundary_f": WRONG_BOUNDARY_F, "cpu_s": round(time.process_time() - started, 1),
            "summary": summary, "rows": rows}
    out = (RESULTS / "smoke" if args.smoke else RESULTS) / "segment_eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
