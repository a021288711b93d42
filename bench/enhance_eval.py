"""Enhancement measured against the truth: the sample photos are good studio photos, so each is
its own ground truth. Every photo is degraded in linear light (warm and cool casts of ±12%,
exposure of ±0.5 EV), segmented and enhanced as the pipeline would, and the product (classical
mask of the truth photo, alpha > 200) is compared with the truth in CIEDE2000: mean ΔE before
and after enhancement, per condition.

    python bench/enhance_eval.py            # 15 photos at 800 px long side, prints a table
    python bench/enhance_eval.py --smoke    # 4 photos at 400 px (seconds)
    python bench/enhance_eval.py --timing   # + enhance CPU time at ~1.4 MP (1320 px)

Acceptance (issue 15): good photos ≤ 1.0; casts after ≤ 0.6× before; ±0.5 EV reduced.
Results go to bench/results/enhance_eval.json (smoke: bench/results/smoke/).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from pipeline.backends import get_segmenter  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.stages.color import delta_e_2000, srgb_to_lab  # noqa: E402
from pipeline.stages.enhance import enhance  # noqa: E402

SAMPLES = REPO.parent / "shared" / "data" / "products"
if not SAMPLES.is_dir():  # the same 15 photos ship with the demo store
    SAMPLES = REPO / "photosync" / "demo" / "products"
RESULTS = REPO / "bench" / "results"
SMOKE_PHOTOS = ("mb01-blue-0.jpg", "mg01-bk-0.jpg", "luma-yoga-brick.jpg",
                "gift-card-physical-custom.jpg")

# name -> linear-light gains (R, G, B) applied to the truth photo, then clipped to [0, 1]
CONDITIONS: dict[str, tuple[float, float, float]] = {
    "good": (1.0, 1.0, 1.0),
    "warm +12%": (1.12, 1.0, 0.88),
    "cool +12%": (0.88, 1.0, 1.12),
    "+0.5 EV": (2**0.5,) * 3,
    "-0.5 EV": (2**-0.5,) * 3,
}

_CODES = np.arange(256, dtype=np.float64) / 255.0
_LINEAR = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4)


def degrade(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    """``rgb`` with per-channel ``gains`` applied in linear light (clipped, back to sRGB uint8)."""
    out = np.empty_like(rgb)
    for c, gain in enumerate(gains):
        lin = np.clip(_LINEAR * gain, 0.0, 1.0)
        code = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
        out[..., c] = np.round(code * 255.0).astype(np.uint8)[rgb[..., c]]
    return out


def truth(path: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo at ``size`` px long side and the classical mask of it."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    rgb = np.ascontiguousarray(np.asarray(image))
    return rgb, get_segmenter("classical").segment(rgb).alpha


def product_delta_e(a: np.ndarray, b: np.ndarray, alpha: np.ndarray) -> float:
    """Mean CIEDE2000 between ``a`` and ``b`` inside the product (alpha > 200)."""
    inside = alpha > 200
    return float(delta_e_2000(srgb_to_lab(a[inside]), srgb_to_lab(b[inside])).mean())


def evaluate(rgb: np.ndarray, alpha: np.ndarray, max_delta_e: float) -> dict[str, dict]:
    """Per condition: ΔE to the truth before and after enhancement, and what enhance did.

    The enhance stage gets the mask the pipeline would give it (the classical segmenter run on
    the degraded photo); ΔE is measured inside the truth's mask ``alpha``."""
    rows = {}
    segmenter = get_segmenter("classical")
    for name, gains in CONDITIONS.items():
        degraded = degrade(rgb, gains)
        own = alpha if name == "good" else segmenter.segment(degraded).alpha
        enhanced, report = enhance(degraded, own, max_delta_e=max_delta_e)
        rows[name] = {"before": product_delta_e(degraded, rgb, alpha),
                      "after": product_delta_e(enhanced, rgb, alpha),
                      "ev": report.ev, "evidence": report.evidence,
                      "gains": [round(g, 3) for g in report.gains]}
    return rows


def _timing(size: int) -> dict[str, float]:
    """CPU seconds of one enhance call on the sample bag photo at ``size`` px long side."""
    rgb, alpha = truth(SAMPLES / "mb01-blue-0.jpg", size)
    limit = PipelineConfig().max_enhance_delta_e
    times = {}
    for name in ("good", "warm +12%"):
        degraded = degrade(rgb, CONDITIONS[name])
        enhance(degraded, alpha, max_delta_e=limit)
        runs = []
        for _ in range(5):
            start = time.process_time()
            enhance(degraded, alpha, max_delta_e=limit)
            runs.append(time.process_time() - start)
        times[name] = min(runs)
    return {"megapixels": round(rgb.shape[0] * rgb.shape[1] / 1e6, 2),
            **{f"cpu_s_{k}": round(v, 4) for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    names = SMOKE_PHOTOS if args.smoke else sorted(p.name for p in SAMPLES.glob("*.jpg"))
    size = 400 if args.smoke else args.size
    limit = PipelineConfig().max_enhance_delta_e
    per_photo = {}
    for name in names:
        rgb, alpha = truth(SAMPLES / name, size)
        per_photo[name] = evaluate(rgb, alpha, limit)
    print(f"{len(names)} photos at {size} px; mean ΔE2000 to the truth inside the product")
    print(f"{'condition':<11} {'before':>7} {'after':>7} {'ratio':>6} {'worst after':>12}")
    summary = {}
    for cond in CONDITIONS:
        before = float(np.mean([p[cond]["before"] for p in per_photo.values()]))
        after = float(np.mean([p[cond]["after"] for p in per_photo.values()]))
        worst = max(per_photo, key=lambda n, c=cond: per_photo[n][c]["after"])
        ratio = after / before if before > 0 else float("nan")
        summary[cond] = {"before": round(before, 3), "after": round(after, 3),
                         "ratio": round(ratio, 3), "worst": worst,
                         "worst_after": round(per_photo[worst][cond]["after"], 3)}
        print(f"{cond:<11} {before:7.2f} {after:7.2f} {ratio:6.2f} "
              f"{per_photo[worst][cond]['after']:6.2f} {worst}")
    data = {"machine": machine(), "smoke": args.smoke, "size": size, "summary": summary,
            "photos": per_photo}
    if args.timing:
        data["timing"] = _timing(1320 if not args.smoke else 400)  # 1320 px: ~1.4 MP
        print("enhance CPU s:", data["timing"])
    out = (RESULTS / "smoke" if args.smoke else RESULTS) / "enhance_eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
