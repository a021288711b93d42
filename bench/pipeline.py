"""Benchmark the CPU image pipeline: per-stage time, images/s, peak memory, runner overhead,
and energy per image (pipeline.energy: RAPL where readable, else CPU seconds x
PHOTOSYNC_CPU_WATTS_PER_CORE's default), beside the published 2.9 Wh/image average.

    python bench/pipeline.py            # 1 MP and 4 MP, prints a table, writes JSON
    python bench/pipeline.py --smoke    # a few seconds: tiny inputs, one repeat
    python bench/pipeline.py --contact-sheet docs/contact-sheet.png   # the sample photo sheet

Runs on one core (OpenCV and BLAS threads pinned to 1) so numbers compare across machines.
"Direct" does the same work (every stage, the mask sanity numbers, the fidelity metrics and the
mask PNG) as plain calls with no runner around them; the overhead is process_image's extra time.
The fidelity line says what measuring fidelity itself costs.
Results go to bench/results/pipeline.json.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import STAGES, PipelineConfig, process_image  # noqa: E402
from pipeline.backends import get_scene_generator, get_segmenter  # noqa: E402
from pipeline.presets import FRAME_PRESETS, SCENE_PRESETS  # noqa: E402
from pipeline.runner import scene_layer  # noqa: E402
from pipeline.stages.composite import composite, solid_canvas  # noqa: E402
from pipeline.stages.cutout import decontaminate, snap_alpha  # noqa: E402
from pipeline.stages.encode import decode_rgb, encode, encode_mask  # noqa: E402
from pipeline.stages.enhance import enhance  # noqa: E402
from pipeline.stages.fidelity import (  # noqa: E402
    mask_metrics,
    product_fidelity,
    white_background_metrics,
)
from pipeline.stages.frame import crop_product, frame_layer  # noqa: E402
from pipeline.stages.load import load_image  # noqa: E402
from pipeline.stages.shadow import make_shadow  # noqa: E402

SAMPLES = REPO.parent / "shared" / "data" / "products"
if not SAMPLES.is_dir():  # the same 15 photos ship with the demo store
    SAMPLES = REPO / "photosync" / "demo" / "products"
SOURCE = SAMPLES / "mb01-blue-0.jpg"
RESULTS = REPO / "bench" / "results" / "pipeline.json"
# Luccioni, Jernite & Strubell 2024, "Power Hungry Processing": image generation, mean over
# the models measured (1,000 inferences each), 2.9 Wh per image.
PUBLISHED_WH_PER_IMAGE = 2.9
FULL_PATH = PipelineConfig(scene_presets=())  # classical → enhance → white-square PNG
WITH_SCENE = PipelineConfig()  # + one procedural studio-sweep scene


def _input(megapixels: float) -> bytes:
    """The sample bag photo resized to ``megapixels`` and saved as JPEG (q 92)."""
    if SOURCE.is_file():
        image = Image.open(SOURCE).convert("RGB")
    else:  # no shared/ beside the repo: a drawn studio photo
        image = Image.new("RGB", (1080, 1340), (250, 250, 250))
        ImageDraw.Draw(image).ellipse((200, 300, 880, 1100), fill=(30, 50, 150))
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    image = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _direct(data: bytes, config: PipelineConfig, *, scene: bool) -> dict[str, float]:
    """The same work as process_image, as plain calls; seconds per stage."""
    times: dict[str, float] = {}

    def timed(stage, fn, *args, **kwargs):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        times[stage] = times.get(stage, 0.0) + time.perf_counter() - start
        return value

    loaded = timed("load", load_image, data, max_bytes=config.max_input_bytes,
                   max_pixels=config.max_pixels)
    rgb = np.ascontiguousarray(loaded.rgba[..., :3])
    alpha = timed("segment", get_segmenter("classical").segment, rgb).alpha
    alpha, _ = timed("segment", snap_alpha, alpha)
    timed("fidelity", mask_metrics, alpha)
    enhanced, _ = timed("enhance", enhance, rgb, alpha, max_delta_e=config.max_enhance_delta_e)
    enhanced = timed("enhance", decontaminate, enhanced, alpha)
    cutout = np.dstack([enhanced, alpha])
    preset = FRAME_PRESETS[config.frame_preset]
    layer = timed("frame", frame_layer, cutout, preset)
    shadow = timed("shadow", make_shadow, layer, preset.shadow_for(config.shadow))
    image = timed("composite", composite, solid_canvas(layer.canvas, preset.background), layer,
                  shadow)
    timed("fidelity", product_fidelity, image, layer)
    written = timed("encode", encode, image, "png")
    timed("fidelity", white_background_metrics, timed("fidelity", decode_rgb, written.data),
          layer, shadow)
    if scene:
        sweep = SCENE_PRESETS["studio-sweep"]
        placed = timed("frame", scene_layer, crop_product(cutout), layer.canvas, sweep)
        (backdrop,) = timed("scene", get_scene_generator("procedural").generate,
                            product=placed, preset=sweep, seeds=[0])
        scene_shadow = timed("shadow", make_shadow, placed,
                             "contact" if config.shadow == "auto" else config.shadow,
                             colour=sweep.backdrop.shadow_colour)
        picture = timed("composite", composite, backdrop, placed, scene_shadow)
        timed("fidelity", product_fidelity, picture, placed)
        timed("encode", encode, picture, "png")
    timed("encode", encode_mask, alpha)
    return times


def _measure(data: bytes, config: PipelineConfig, repeats: int, scene: bool) -> dict:
    process_image(data, config)  # warm caches and lazy imports
    _direct(data, config, scene=scene)
    runs, direct_runs, stage_runs, fidelity_runs, energies = [], [], [], [], []
    for _ in range(repeats):  # interleaved so drift hits both equally
        start = time.perf_counter()
        result = process_image(data, config)
        runs.append(time.perf_counter() - start)
        stage_runs.append(result.timings)
        energies.append((result.energy, len(result.outputs)))
        start = time.perf_counter()
        direct = _direct(data, config, scene=scene)
        direct_runs.append(time.perf_counter() - start)
        fidelity_runs.append(direct["fidelity"])
    tracemalloc.start()
    process_image(data, config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pipeline_s = statistics.median(runs)
    direct_s = statistics.median(direct_runs)
    stages = {s: statistics.median(r[s] for r in stage_runs) for s in STAGES}
    return {
        "seconds": round(pipeline_s, 4),
        "images_per_s": round(1 / pipeline_s, 3),
        "direct_seconds": round(direct_s, 4),
        "overhead_pct": round((pipeline_s - direct_s) / direct_s * 100, 2),
        "fidelity_seconds": round(statistics.median(fidelity_runs), 4),
        "stages": {s: round(v, 4) for s, v in stages.items()},
        "peak_traced_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "energy": _energy(energies),
    }


def _energy(runs: list) -> dict:
    """Median Wh per source image and per output, with the source of the number."""
    cpu = runs[0][0].devices["cpu"]
    return {
        "source": cpu["source"],
        "watts_per_core": cpu.get("watts_per_core"),
        "cpu_seconds": round(statistics.median(e.cpu_seconds for e, _ in runs), 4),
        "wh_per_image": round(statistics.median(e.wh for e, _ in runs), 7),
        "wh_per_output": round(statistics.median(e.wh / n for e, n in runs), 7),
        "outputs": runs[0][1],
        "published_wh_per_image": PUBLISHED_WH_PER_IMAGE,
    }


def run_bench(sizes: list[float], repeats: int) -> dict:
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass
    report: dict = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor()
                    or platform.machine(), "cores_used": 1},
        "source": SOURCE.name if SOURCE.is_file() else "drawn",
        "repeats": repeats,
        "sizes": {},
    }
    for mp in sizes:
        data = _input(mp)
        width, height = Image.open(io.BytesIO(data)).size
        report["sizes"][f"{mp:g}MP"] = {
            "input": f"{width}x{height} JPEG, {len(data) / 1024:.0f} KiB",
            "full_path": _measure(data, FULL_PATH, repeats, scene=False),
            "with_scene": _measure(data, WITH_SCENE, repeats, scene=True),
        }
    return report


def print_table(report: dict) -> None:
    sizes = list(report["sizes"])
    print(f"PhotoSync pipeline on one core ({report['machine']['cpu']}), "
          f"median of {report['repeats']}; white-square 2048² PNG + one procedural scene")
    header = f"{'stage':<12}" + "".join(f"{s + ' s':>12}{s + ' img/s':>14}" for s in sizes)
    print(header)
    print("-" * len(header))
    for stage in STAGES:
        row = f"{stage:<12}"
        for size in sizes:
            seconds = report["sizes"][size]["with_scene"]["stages"][stage]
            rate = f"{1 / seconds:.1f}" if seconds > 0 else "-"
            row += f"{seconds:>12.4f}{rate:>14}"
        print(row)
    print("-" * len(header))
    for key, label in (("full_path", "full CPU path (framed only)"),
                       ("with_scene", "with one scene")):
        for size in sizes:
            m = report["sizes"][size][key]
            print(f"{label:<28} {size:>5}: {m['seconds']:.3f} s ({m['images_per_s']:.2f} img/s)"
                  f"  direct {m['direct_seconds']:.3f} s  overhead {m['overhead_pct']:+.1f}%  "
                  f"(fidelity {m['fidelity_seconds'] * 1000:.0f} ms)  "
                  f"peak traced {m['peak_traced_mb']:.0f} MB  max RSS {m['max_rss_mb']:.0f} MB")
            e = m["energy"]
            print(f"{'':<28} {'':>5}  energy {e['wh_per_image']:.5f} Wh/image "
                  f"({e['wh_per_output']:.5f} Wh/output, {e['source']}, "
                  f"{e['cpu_seconds']:.2f} CPU s); published average {PUBLISHED_WH_PER_IMAGE} "
                  f"Wh/image is {PUBLISHED_WH_PER_IMAGE / e['wh_per_output']:,.0f}x")


def contact_sheet(out: Path, tile: int = 160) -> list[dict]:
    """source | mask | white-square | white-square + contact shadow | scene, one row each.

    The scene column cycles through the procedural presets so the sheet shows all of them.
    """
    photos = sorted(SAMPLES.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no sample photos in {SAMPLES}")
    label_h = 14
    sheet = Image.new("RGB", (5 * tile, len(photos) * (tile + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    summary = []
    scenes = list(SCENE_PRESETS)
    for row, path in enumerate(photos):
        data = path.read_bytes()
        plain = process_image(data, PipelineConfig(shadow="none", scene_presets=()))
        shaded = process_image(data, PipelineConfig(
            shadow="contact", scene_presets=(scenes[row % len(scenes)],)))
        cells = [Image.open(path).convert("RGB"),
                 Image.open(io.BytesIO(plain.mask_png)).convert("RGB"),
                 Image.open(io.BytesIO(plain.outputs[0].data)).convert("RGB"),
                 Image.open(io.BytesIO(shaded.outputs[0].data)).convert("RGB"),
                 Image.open(io.BytesIO(shaded.outputs[1].data)).convert("RGB")]
        top = row * (tile + label_h)
        for col, cell in enumerate(cells):
            cell.thumbnail((tile - 4, tile - 4), Image.Resampling.LANCZOS)
            frame = Image.new("RGB", (tile - 4, tile - 4), (128, 128, 128) if col == 1
                              else (255, 255, 255))
            frame.paste(cell, ((frame.width - cell.width) // 2, (frame.height - cell.height) // 2))
            sheet.paste(frame, (col * tile + 2, top + label_h))
        flags = sorted({flag.code for flag in plain.flags})
        draw.text((4, top + 1), f"{path.name}  {'; '.join(flags)[:110]}", fill=(0, 0, 0))
        summary.append({"photo": path.name, "flags": flags,
                        "mask_area": plain.outputs[0].metrics["mask_area_fraction"],
                        "components": plain.outputs[0].metrics["mask_components"],
                        "border_contact": plain.outputs[0].metrics["mask_border_contact"]})
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, "PNG", optimize=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny inputs, one repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--contact-sheet", type=Path, metavar="PNG",
                        help="render the sample-photo contact sheet instead of benchmarking")
    args = parser.parse_args(argv)
    if args.contact_sheet:
        for line in contact_sheet(args.contact_sheet):
            print(json.dumps(line))
        print(f"wrote {args.contact_sheet} ({args.contact_sheet.stat().st_size / 2**20:.2f} MB)")
        return 0
    sizes, repeats = ([0.1], 1) if args.smoke else ([1.0, 4.0], args.repeats)
    report = run_bench(sizes, repeats)
    print_table(report)
    if not args.smoke:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
