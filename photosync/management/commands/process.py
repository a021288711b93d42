"""``manage.py process``: run the image pipeline on local files, no store and no database.

The hybrid / on-premise workflow: point it at photos or folders, get the outputs, each image's
segmentation mask (``<name>.mask.png``, source size) and ``report.json`` (per image: outputs,
mask, fidelity metrics, per-stage timings, energy per device and stage with its source, notes,
flags as ``{code, message}``, errors; in the summary the run's Wh, Wh per output and g CO2e at
the grid intensity of PHOTOSYNC_GRID_INTENSITY or its URL, and every flagged output by name).
A bad image is recorded in the report and the run goes on. Files that are not images at all
(``product.json``, notes: no image extension and no image signature) are skipped with a note
and are no failure.

Exit status: 0 every image was processed (flagged outputs included: the summary names them),
1 some images failed and the others were processed, 2 nothing was processed (bad arguments or
settings, no image among the inputs, or every image failed).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from photosync.services.carbon import grid_intensity
from pipeline import (
    FRAME_PRESETS,
    SCENE_PRESETS,
    ConfigError,
    InputError,
    PipelineConfig,
    PipelineError,
    prepare,
    process_image,
)

REPORT = "report.json"
# Anything Pillow can name by its extension is an image to try (and a failure if unreadable).
IMAGE_SUFFIXES = frozenset(Image.registered_extensions()) | {".heic", ".heif", ".avif"}
SOME_FAILED, NOTHING_PROCESSED = 1, 2


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=NOTHING_PROCESSED)


class Command(BaseCommand):
    help = (
        "Process product photos (files or folders) with the image pipeline and write the "
        "outputs, masks and a report.json to --out. Uses no store and no database."
    )

    def add_arguments(self, parser):
        parser.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="image files, or folders whose files are all processed")
        parser.add_argument("--out", required=True, help="output folder (created if missing)")
        parser.add_argument("--preset", default="white-square",
                            help=f"frame preset: {', '.join(FRAME_PRESETS)} or "
                                 "custom:<W>x<H>:<fill>[:<background>]")
        parser.add_argument("--segmenter", default="classical",
                            help="classical, auto, rembg:<model>, rembg-file:[<family>:]<path>, "
                                 "removebg or photoroom (manage.py models lists the models)")
        parser.add_argument("--fallback", default="", metavar="NAMES",
                            help="segmenters tried in order when --segmenter cannot run, "
                                 "comma-separated, such as removebg,classical")
        parser.add_argument("--second-opinion", default=settings.PHOTOSYNC_SECOND_OPINION,
                            metavar="NAME",
                            help="a second segmenter (a model beside classical) whose mask is "
                                 "compared with the first's; disagreement is flagged "
                                 "mask_uncertain (default: PHOTOSYNC_SECOND_OPINION)")
        parser.add_argument("--scenes", type=int, default=1, metavar="N",
                            help="scene variations per scene preset (0: no scenes)")
        parser.add_argument("--scene-preset", action="append", dest="scene_presets",
                            metavar="NAME", help=f"repeatable; one of {', '.join(SCENE_PRESETS)}"
                                                 " (default studio-sweep)")
        parser.add_argument("--prompt", default=None, help="a custom scene prompt")
        parser.add_argument("--shadow", default="auto", choices=("auto", "none", "contact", "drop"),
                            help="auto (default): the preset's own, none on marketplace and a "
                                 "contact shadow elsewhere")
        parser.add_argument("--scene-generator", default="procedural",
                            help="procedural or diffusers:<hub id or local folder>")
        parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
        parser.add_argument("--dtype", default="float32",
                            choices=("float32", "float16", "bfloat16"))
        parser.add_argument("--steps", type=int, default=25)
        parser.add_argument("--format", default="png", choices=("png", "jpeg", "webp"))
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-enhance", action="store_true")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, **options):
        config = _config(options)
        try:
            notes = prepare(config)
        except PipelineError as exc:
            raise usage_error(exc.message) from None
        for note in notes:
            self.stderr.write(note)
        files, skipped = _split_images(_collect(options["inputs"]))
        for entry in skipped:
            self.stderr.write(f"{entry['input']}: skipped, {entry['reason']}")
        if not files:
            raise usage_error("No image files found among the inputs"
                              + (f" ({len(skipped)} other file(s) skipped)." if skipped else "."))
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        images: list[dict] = []
        used_stems: set[str] = set()
        progress = tqdm(files, unit="img", file=sys.stderr, disable=options["no_progress"])
        for path in progress:
            progress.set_postfix_str(path.name[:30])
            stem = _unique_stem(path, used_stems)
            images.append(_process_one(path, stem, out, config))
        progress.close()

        failed = [i for i in images if i["status"] == "error"]
        outputs = sum(len(i["outputs"]) for i in images)
        flagged = [{"file": o["file"], "codes": list(dict.fromkeys(f["code"] for f in o["flags"]))}
                   for i in images for o in i["outputs"] if o["flags"]]
        grid = grid_intensity()
        energy_wh = sum(i["energy"]["wh"] for i in images if i.get("energy"))
        report = {
            "version": 1,
            "config": _config_json(config),
            "summary": {
                "inputs": len(images),
                "succeeded": len(images) - len(failed),
                "failed": len(failed),
                "skipped": len(skipped),
                "outputs": outputs,
                "flagged_outputs": len(flagged),
                "flagged": flagged,
                "segmenter_fallbacks": sum(1 for i in images if i.get("segmenter_fallback")),
                "segmenter_cost_usd": round(sum(i.get("segmenter_cost_usd", 0.0)
                                                for i in images), 6),
                "seconds": round(time.perf_counter() - started, 3),
                "energy_wh": round(energy_wh, 6),
                "wh_per_output": round(energy_wh / outputs, 6) if outputs else None,
                "co2e_g": round(energy_wh / 1000 * grid.g_per_kwh, 6),
                "grid": grid.to_json(),
            },
            "images": images,
            "skipped": skipped,
        }
        (out / REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        for image in failed:
            self.stderr.write(f"{image['input']}: {image['error']['message']}")
        summary = report["summary"]
        self.stdout.write(
            f"Processed {summary['inputs']} image(s): {summary['succeeded']} ok, "
            f"{summary['failed']} failed"
            + (f", {len(skipped)} non-image file(s) skipped" if skipped else "")
            + f"; {outputs} output(s), {summary['flagged_outputs']} "
            f"flagged for review, in {out} ({REPORT}) in {summary['seconds']:.1f} s, "
            f"{summary['energy_wh']:.4f} Wh"
        )
        for item in flagged:
            self.stdout.write(f"Flagged for review: {item['file']} ({', '.join(item['codes'])})")
        if len(failed) == len(images):
            raise usage_error(f"All {len(images)} image(s) failed; see {out / REPORT}.")
        if failed:
            raise CommandError(f"{len(failed)} of {len(images)} image(s) failed; see "
                               f"{out / REPORT}.", returncode=SOME_FAILED)


def _config(options: dict) -> PipelineConfig:
    scenes = options["scenes"]
    if scenes < 0:
        raise usage_error("--scenes must be 0 or more.")
    presets = tuple(options["scene_presets"] or ("studio-sweep",)) if scenes else ()
    try:
        return PipelineConfig(
            segmenter=options["segmenter"],
            segmenter_fallback=tuple(n.strip() for n in options["fallback"].split(",")
                                     if n.strip()),
            second_opinion=options["second_opinion"] or "",
            allow_noncommercial=settings.PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS,
            frame_preset=options["preset"],
            shadow=options["shadow"],
            scene_generator=options["scene_generator"],
            scene_presets=presets,
            custom_prompt=options["prompt"] if scenes else None,
            variations=max(1, scenes),
            seed=options["seed"],
            output_format=options["format"],
            enhance=not options["no_enhance"],
            device=options["device"],
            dtype=options["dtype"],
            steps=options["steps"],
            harmonize=settings.PHOTOSYNC_HARMONIZE,
            cpu_watts_per_core=settings.PHOTOSYNC_CPU_WATTS_PER_CORE,
        )
    except ConfigError as exc:
        raise usage_error(exc.message) from None


def _collect(inputs: list[str]) -> list[Path]:
    """Files as given, and every visible file directly inside each folder (sorted)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and not p.name.startswith(".")))
        elif path.exists():
            files.append(path)
        else:
            raise usage_error(f"Input {item!r} does not exist.")
    return files


def _split_images(files: list[Path]) -> tuple[list[Path], list[dict]]:
    """(images to process, skipped non-images with why). A file is an image to try when its
    extension says so (unreadable ones then fail) or Pillow recognises its first bytes."""
    images, skipped = [], []
    for path in files:
        if path.suffix.lower() in IMAGE_SUFFIXES or _looks_like_an_image(path):
            images.append(path)
        else:
            skipped.append({"input": str(path), "reason": "not an image (no image extension "
                                                          "or signature)"})
    return images, skipped


def _looks_like_an_image(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except Image.DecompressionBombError:
        return True  # an image, too big: the pipeline says so
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, n = path.stem, 2
    while stem in used:
        stem, n = f"{path.stem}-{n}", n + 1
    used.add(stem)
    return stem


def _process_one(path: Path, stem: str, out: Path, config: PipelineConfig) -> dict:
    entry: dict = {"input": str(path), "status": "ok", "error": None, "mask": None,
                   "outputs": [], "timings": {}, "notes": [], "flags": []}
    try:
        result = process_image(path.read_bytes(), config)
    except InputError as exc:
        entry.update(status="error", error={"type": type(exc).__name__, "message": exc.message})
        return entry
    except PipelineError as exc:
        entry.update(status="error", error={"type": type(exc).__name__, "message": exc.message,
                                            "retryable": exc.retryable})
        return entry
    except Exception as exc:  # the job boundary: record it and go on with the next image
        entry.update(status="error", error={"type": type(exc).__name__,
                                            "message": f"Internal error: {exc}"})
        return entry
    # Everything is in memory: files are written only for a complete result.
    mask_name = f"{stem}.mask.png"
    (out / mask_name).write_bytes(result.mask_png)
    for output in result.outputs:
        suffix = output.preset.replace(":", "_").replace("#", "")
        if output.seed is not None:
            suffix += f"-{output.seed}"
        name = f"{stem}.{output.kind}-{suffix}{output.extension}"
        (out / name).write_bytes(output.data)
        entry["outputs"].append({
            "file": name, "kind": output.kind, "preset": output.preset,
            "width": output.width, "height": output.height,
            "content_type": output.content_type, "seed": output.seed,
            "generator": output.generator, "metrics": output.metrics,
            "flags": [flag.to_dict() for flag in output.flags],
            "energy": {"wh": round(sum(d["wh"] for d in output.energy.values()), 6),
                       "devices": {k: {**v, "wh": round(v["wh"], 6)}
                                   for k, v in output.energy.items()}},
        })
    entry.update(mask=mask_name, segmenter=result.segmenter,
                 source_size=list(result.source_size), timings=result.timings,
                 energy=result.energy.to_json(), notes=result.notes,
                 flags=[flag.to_dict() for flag in result.flags])
    first = result.outputs[0].metrics if result.outputs else {}
    if first.get("segmenter_fallback_reason"):
        entry["segmenter_fallback"] = first["segmenter_fallback_reason"]
    if "segmenter_cost_usd" in first:
        entry["segmenter_cost_usd"] = first["segmenter_cost_usd"]
    return entry


def _config_json(config: PipelineConfig) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}
