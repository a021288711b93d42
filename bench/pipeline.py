"""Benchmark the CPU image pipeline: per-stage time, images/s, peak memory, runner overhead,
and energy per image (pipeline.energy: RAPL where readable, else CPU seconds x
PHOTOSYNC_CPU_WATTS_PER_CORE's default), beside the published 2.9 Wh/image average.

    python bench/pipeline.py            # 1 MP and 4 MP, prints a table, writes JSON
    python bench/pipeline.py --smoke    # a few seconds: tiny inputs, one repeat
    python bench/pipeline.py --contact-sheet docs/contact-sheet.png   # the sample photo sheet
    python bench/pipeline.py --photo    # issue 17's case: framed + 4 scenes at 2048², per stage
    python bench/pipeline.py --photo --encode   # ... and what each PNG level / format costs

Runs on one core (OpenCV and BLAS threads pinned to 1) so numbers compare across machines.
"Direct" does the same work (every stage, the mask sanity numbers, the fidelity metrics and the
mask PNG) as plain calls with no runner around them; the overhead is process_image's extra time.
The fidelity line says what measuring fidelity itself costs.
Results go to bench/results/pipeline.json; ``--photo`` writes bench/results/pipeline_photo.json:
one ~1.4 MP sample photo as it is (no resize), the white-square output and 4 procedural scenes at
2048², each stage's wall and CPU seconds (the machine is shared: CPU seconds are the steadier
number), the first photo of a process apart (nothing kept yet: see render_backdrop) and, with
``--encode``, seconds per photo and bytes per output for every PNG zlib level, the Pillow
encoder the pipeline used before, and JPEG or WebP scenes. ``--before FILE`` adds another
checkout's ``--photo`` JSON (the code before a change) beside this one.
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


PHOTO = SAMPLES / "mb01-blue-0.jpg"  # 1080x1340: the "~1.4 MP" product photo
PHOTO_SCENES = ("studio-sweep", "warm-gradient", "marble-counter", "oak-table")


def _stage_cpu() -> dict[str, float]:
    """Make RunContext.timed also add each stage's CPU seconds (this thread's) to the dict
    returned; the runner itself books wall time only."""
    from contextlib import contextmanager

    from pipeline import runner

    cpu: dict[str, float] = {}
    wall_timed = runner.RunContext.timed

    @contextmanager
    def timed(self, stage):
        start = time.thread_time()
        try:
            with wall_timed(self, stage):
                yield
        finally:
            cpu[stage] = cpu.get(stage, 0.0) + time.thread_time() - start

    runner.RunContext.timed = timed
    return cpu


def _forget_backdrops() -> None:
    from pipeline.backends import procedural

    cache = getattr(procedural, "_render", None)  # absent before backdrops were kept
    if cache is not None:
        cache.cache_clear()


def photo_bench(repeats: int, encode_options: bool) -> dict:
    """Issue 17's CPU path per photo; see the module docstring."""
    import cv2

    cv2.setNumThreads(1)
    data = PHOTO.read_bytes()
    config = PipelineConfig(scene_presets=PHOTO_SCENES)
    cpu = _stage_cpu()
    process_image(data, PipelineConfig(scene_presets=()))  # lazy imports, segmenter set-up
    _forget_backdrops()
    cpu.clear()
    start, cpu_start = time.perf_counter(), time.process_time()
    first = process_image(data, config)
    cold = {"seconds": round(time.perf_counter() - start, 4),
            "cpu_seconds": round(time.process_time() - cpu_start, 4),
            "stages_cpu": {k: round(v, 4) for k, v in cpu.items()}}
    runs = []
    for _ in range(repeats):
        cpu.clear()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = process_image(data, config)
        runs.append((time.perf_counter() - start, time.process_time() - cpu_start,
                     result.timings, dict(cpu)))
    width, height = first.source_size
    report = {
        "photo": f"{PHOTO.name}, {width}x{height} ({width * height / 1e6:.2f} MP) JPEG",
        "outputs": [f"{o.kind} {o.preset} {o.width}x{o.height} {o.extension}"
                    for o in result.outputs],
        "repeats": repeats,
        "seconds_median": round(statistics.median(r[0] for r in runs), 4),
        "seconds_min": round(min(r[0] for r in runs), 4),
        "cpu_seconds_median": round(statistics.median(r[1] for r in runs), 4),
        "cpu_seconds_min": round(min(r[1] for r in runs), 4),
        "stages": {s: round(statistics.median(r[2][s] for r in runs), 4) for s in STAGES},
        "stages_cpu": {s: round(statistics.median(r[3].get(s, 0.0) for r in runs), 4)
                       for s in STAGES},
        "bytes": {f"{o.kind} {o.preset}": len(o.data) for o in result.outputs},
        "mask_bytes": len(result.mask_png),
        "first_photo_of_a_process": cold,  # no backdrop kept yet
        "target_seconds": 1.0,
    }
    if encode_options:
        report["encode"] = encode_table([np.asarray(Image.open(io.BytesIO(o.data)).convert("RGB"))
                                         for o in result.outputs])
    return report


def encode_table(images: list[np.ndarray], repeats: int = 3) -> list[dict]:
    """Seconds (CPU, median of ``repeats``) to encode one photo's outputs, and their bytes,
    for each PNG level and the other formats; ``images``: the framed output first."""

    def pillow_png(image, level=1):  # the encoder before: Pillow, every filter on every row
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "PNG", compress_level=level)
        return buffer.getvalue()

    options = [("png (Pillow level 1, adaptive filters: before)", "png", pillow_png, False)]
    options += [(f"png level {level}", "png",
                 lambda image, level=level: encode(image, "png", png_compression=level).data,
                 level == 2) for level in range(10)]
    options += [("scenes jpeg q92 4:4:4 (framed png level 2)", "jpeg",
                 lambda image: encode(image, "jpeg").data, False),
                ("scenes webp q90 (framed png level 2)", "webp",
                 lambda image: encode(image, "webp").data, False)]
    rows = []
    for label, fmt, fn, default in options:
        seconds, sizes = 0.0, []
        for index, image in enumerate(images):
            # The framed output is white-background: it stays PNG whatever the scenes use.
            call = fn if fmt == "png" or index > 0 else (
                lambda image: encode(image, "png", png_compression=2).data)
            times = []
            slow = label in ("png level 7", "png level 8", "png level 9")  # seconds each
            for _ in range(1 if slow else repeats):
                start = time.process_time()
                data = call(image)
                times.append(time.process_time() - start)
            seconds += statistics.median(times)
            sizes.append(len(data))
        rows.append({"option": label, "default": default, "seconds_per_photo": round(seconds, 4),
                     "framed_bytes": sizes[0], "scene_bytes_mean": round(
                         statistics.fmean(sizes[1:])) if len(sizes) > 1 else 0,
                     "total_bytes": sum(sizes)})
    return rows


def print_photo(report: dict, before: dict | None) -> None:
    print(f"CPU path per photo, one core: {report['photo']} → {', '.join(report['outputs'])}; "
          f"median of {report['repeats']}")
    header = f"{'stage':<11}" + (f"{'before wall':>12}{'before CPU':>11}" if before else "") \
        + f"{'wall s':>9}{'CPU s':>8}"
    print(header)
    print("-" * len(header))
    for stage in STAGES:
        row = f"{stage:<11}"
        if before:
            row += f"{before['stages'][stage]:>12.4f}{before['stages_cpu'][stage]:>11.4f}"
        print(row + f"{report['stages'][stage]:>9.4f}{report['stages_cpu'][stage]:>8.4f}")
    print("-" * len(header))
    for name, r in (("before", before), ("now", report)):
        if r:
            cold = r["first_photo_of_a_process"]
            print(f"{name:<7} {r['seconds_median']:.3f} s wall (min {r['seconds_min']:.3f}), "
                  f"{r['cpu_seconds_median']:.3f} CPU s (min {r['cpu_seconds_min']:.3f}); first "
                  f"photo of a process {cold['seconds']:.3f} s, {cold['cpu_seconds']:.3f} CPU s;"
                  f" {sum(r['bytes'].values()) / 2**20:.2f} MiB of outputs; target ≤ 1.0 s")
    for row in report.get("encode", []):
        mark = "  (default)" if row["default"] else ""
        print(f"  {row['option']:<46} {row['seconds_per_photo']:.3f} s/photo  framed "
              f"{row['framed_bytes'] / 1024:,.0f} KiB  scene {row['scene_bytes_mean'] / 1024:,.0f}"
              f" KiB  total {row['total_bytes'] / 2**20:.2f} MiB{mark}")


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
    parser.add_argument("--photo", action="store_true",
                        help="issue 17's case: one 1.4 MP photo, framed + 4 scenes at 2048²")
    parser.add_argument("--encode", action="store_true",
                        help="with --photo: seconds and bytes of each PNG level and format")
    parser.add_argument("--before", type=Path, metavar="JSON",
                        help="with --photo: another checkout's pipeline_photo.json to compare")
    args = parser.parse_args(argv)
    if args.photo:
        from bench.common import write_result

        report = photo_bench(1 if args.smoke else args.repeats, args.encode)
        before = None
        if args.before:
            before = json.loads(args.before.read_text())
            report["before"] = {k: before[k] for k in (
                "seconds_median", "seconds_min", "cpu_seconds_median", "cpu_seconds_min",
                "stages", "stages_cpu", "bytes", "first_photo_of_a_process", "machine")
                if k in before}
        print_photo(report, before)
        path = write_result("pipeline_photo", {"smoke": args.smoke, **report})
        print(f"wrote {path}")
        return 0
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
