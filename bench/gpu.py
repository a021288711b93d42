"""GPU time per product for the registry's GPU tier: one cutout and 4 scenes at 1024².

    python bench/gpu.py            # on a CUDA host (bench/gpu_device.sh): a few minutes
    python bench/gpu.py --smoke    # the same code path on the CPU, tiny models (CI, seconds)
    python bench/gpu.py --steps 25 --steps 4 --warm 3
    python bench/gpu.py --scene flux2-klein-4b   # another registry model: its real weights
                                                 # in the HF cache, or bench/configs/<key>.json

The models are the registry's GPU defaults (``pipeline.models.tier_defaults("gpu")``): the
cutout (``rembg:birefnet-general``) and the scene model (SDXL inpainting). Real weights where
this host has them (rembg's home folder, the local Hugging Face cache), else the full-size
architectures built from bench/configs/ with random weights: the same arithmetic, noise for
pictures. Nothing is downloaded. Scenes run through the production generator
(``DiffusersSceneGenerator.generate``: 4 variations in one batch, at --steps, by default the
registry's steps and a 4-step schedule, the cost of a few-step model or LoRA on the same
architecture).

Per product it measures the cutout at 1024², the 4 scenes at 1024², their sum (GPU time: the
process owns the GPU and synchronises around each part), the VRAM peak
(``torch.cuda.max_memory_allocated``: torch's allocations; an ONNX cutout's own memory is not in
it) and the board's energy from NVML (``pipeline.energy.NvmlDevice``). "cold" is the first
product after the models are built (cuDNN autotuning, first allocations), "warm" the median of
the next --warm. Prints a table and writes bench/results/gpu.json (--smoke:
bench/results/smoke/gpu.json). Stops adding warm products after --budget-s so one run stays
within 8 minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import table, write_result  # noqa: E402
from bench.gpu_models import cutout, scene_generator  # noqa: E402

VARIATIONS = 4
TARGET_S = 3.0  # issue 18: GPU time per product on one H100/H200, few-step model


def product_inputs(side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A studio photo (RGB, side²) and its product as RGBA: an ellipse on white."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    shift = 0.02 * (seed % 5)
    alpha = (((xx - 0.5 - shift) / 0.22) ** 2 + ((yy - 0.55) / 0.32) ** 2 <= 1.0)
    rgb = np.full((side, side, 3), 250, np.uint8)
    colour = np.array([40 + 30 * (seed % 4), 80, 200], np.uint8)
    rgb[alpha] = colour
    rgba = np.dstack([rgb, (alpha * 255).astype(np.uint8)])
    return rgb, rgba


class Probe:
    """Synchronised wall time, torch's VRAM peak and NVML energy around one product."""

    def __init__(self, device: str) -> None:
        import torch

        from pipeline.energy import NvmlDevice

        self.torch, self.cuda = torch, device == "cuda"
        self.nvml = NvmlDevice() if self.cuda else None
        self.energy_why = ("CPU run: no GPU counter" if not self.cuda
                           else self.nvml.why if self.nvml.handle is None else "")

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def start(self) -> None:
        self.sync()
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()
        self.mj = self.nvml.read() if self.nvml and self.nvml.handle is not None else None

    def stop(self) -> dict:
        self.sync()
        out = {"vram_peak_gb": None, "energy_wh": None}
        if self.cuda:
            out["vram_peak_gb"] = round(self.torch.cuda.max_memory_allocated() / 2**30, 2)
        if self.mj is not None:
            after = self.nvml.read()
            if after is not None:
                out["energy_wh"] = round((after - self.mj) / 3.6e6, 4)
        return out


def one_product(cut, gen, probe: Probe, *, side: int, steps: int, seed: int) -> dict:
    from pipeline.presets import SCENE_PRESETS
    from pipeline.runner import scene_layer
    from pipeline.stages.frame import crop_product

    rgb, rgba = product_inputs(side, seed)
    preset = SCENE_PRESETS["studio-sweep"]
    layer = scene_layer(crop_product(rgba), (side, side), preset)
    config = SimpleNamespace(steps=steps, guidance=None, strength=1.0, scene_size=side)
    probe.start()
    t0 = time.perf_counter()
    cut.run(rgb)
    probe.sync()
    t1 = time.perf_counter()
    scenes = gen.run.generate(product=layer, preset=preset, config=config,
                              seeds=[seed + i for i in range(VARIATIONS)])
    measured = probe.stop()
    t2 = time.perf_counter()
    assert len(scenes) == VARIATIONS and scenes[0].shape == (side, side, 3)
    return {"cutout_s": round(t1 - t0, 4), "scenes_s": round(t2 - t1, 4),
            "total_s": round(t2 - t0, 4), **measured}


def median_row(rows: list[dict]) -> dict:
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = round(statistics.median(values), 4) if values else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU")
    parser.add_argument("--steps", type=int, action="append",
                        help="denoising steps (repeatable); default: the registry's and 4")
    parser.add_argument("--scene", action="append",
                        help="registry key of a scene model (repeatable); default: the GPU "
                             "tier's")
    parser.add_argument("--warm", type=int, default=None, help="warm products per row (3)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="stop adding warm products after this many seconds")
    args = parser.parse_args()
    started = time.monotonic()
    import diffusers
    import torch
    import transformers

    from pipeline.models import model_for, tier_defaults

    # Random weights and a byte-level tokenizer: their warnings (prompt truncation, dtype
    # casts) say nothing about speed.
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()

    if args.smoke:
        device, dtype, size, side, warm = "cpu", "float32", "tiny", 128, args.warm or 1
        steps_list = args.steps or [2]
    else:
        if not torch.cuda.is_available():
            sys.exit("bench/gpu.py needs a CUDA GPU (torch.cuda.is_available() is False); "
                     "--smoke runs the same code tiny on the CPU")
        device, dtype, size, side, warm = "cuda", "float16", "full", 1024, args.warm or 3
        steps_list = None
    tier = tier_defaults("gpu")
    keys = args.scene or [model_for(tier["scene_generator"]).key]
    probe = Probe(device)
    cut = cutout(tier["segmenter"], device=device, dtype=dtype, size=size)
    rows, table_rows, scenes_built = [], [], []
    for key in keys:
        gen = scene_generator(key, device=device, dtype=dtype, size=size)
        scenes_built.append(gen)
        spec_steps, gen.native_size = gen.run.default_steps, gen.run.native_size
        for steps in steps_list or args.steps or sorted({spec_steps, 4}, reverse=True):
            measure(rows, table_rows, cut, gen, probe, args, started, side=side, steps=steps,
                    warm=warm)
        del gen.run  # free its GPU memory before the next model
        if device == "cuda":
            torch.cuda.empty_cache()
    report(args, started, probe, cut, scenes_built, rows, table_rows, device=device,
           dtype=dtype, side=side)


def measure(rows, table_rows, cut, gen, probe, args, started, *, side, steps, warm) -> None:
    """One row: a cold product, then up to ``warm`` warm ones within the time budget."""
    runs = [one_product(cut, gen, probe, side=side, steps=steps, seed=0)]
    for i in range(warm):
        if time.monotonic() - started > args.budget_s:
            break
        runs.append(one_product(cut, gen, probe, side=side, steps=steps, seed=i + 1))
    cold, warm_rows = runs[0], runs[1:]
    warm_median = median_row(warm_rows) if warm_rows else None
    rows.append({"scene_model": gen.name, "scene_weights": gen.weights, "steps": steps,
                 "cold": cold, "warm": warm_median, "warm_products": len(warm_rows),
                 "runs": runs})
    for label, row in (("cold", cold), ("warm", warm_median)):
        if row is None:
            continue
        table_rows.append([f"{gen.name} ({gen.weights})", steps, label, row["cutout_s"],
                           row["scenes_s"], row["total_s"], row["vram_peak_gb"] or "-",
                           row["energy_wh"] if row["energy_wh"] is not None else "-"])


def report(args, started, probe, cut, scenes_built, rows, table_rows, *, device, dtype,
           side) -> None:
    import torch

    gpu_name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    print(f"\nGPU tier, per product: cutout at {side}² + {VARIATIONS} scenes at {side}² "
          f"in one batch; {gpu_name}, {dtype}")
    print(f"cutout: {cut.name} ({cut.weights}, built in {cut.build_s:.1f} s)")
    for gen in scenes_built:
        print(f"scenes: {gen.name} ({gen.weights}, {gen.params_m:.0f} M parameters, native "
              f"{gen.native_size}², built in {gen.build_s:.1f} s)")
    print(table(table_rows, ["scene model", "steps", "run", "cutout s", "4 scenes s",
                             "GPU s/product", "VRAM peak GB", "energy Wh"]))
    if probe.energy_why:
        print(f"energy: unmeasured ({probe.energy_why})")
    best = min((r["warm"] or r["cold"])["total_s"] for r in rows)
    if not args.smoke:
        verdict = "met" if best <= TARGET_S else "not met"
        print(f"target ≤ {TARGET_S:g} s of GPU time per product: best {best:.2f} s, {verdict}")
    path = write_result("gpu", {
        "smoke": args.smoke, "device": device, "gpu": gpu_name, "dtype": dtype, "side": side,
        "variations": VARIATIONS, "target_s": TARGET_S, "best_s": best,
        "cutout": {"backend": cut.name, "weights": cut.weights, "build_s": round(cut.build_s, 2),
                   "params_m": round(cut.params_m, 1)},
        "scenes": [{"model": g.name, "weights": g.weights, "build_s": round(g.build_s, 2),
                    "params_m": round(g.params_m, 1), "native_size": g.native_size}
                   for g in scenes_built],
        "energy_unmeasured": probe.energy_why or None,
        "rows": rows, "wall_s": round(time.monotonic() - started, 1),
    })
    print(f"wrote {path.relative_to(REPO)} after {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
