"""Download the model weights PhotoSync is configured to use, so no job ever downloads any.

Run at image build time (deploy/Dockerfile) or once against a mounted model cache
(`deploy/entrypoint.sh prefetch-models`). Takes backend names exactly as the settings spell
them. With no arguments it fetches what a GPU worker uses: PHOTOSYNC_GPU_SEGMENTER,
PHOTOSYNC_SCENE_GENERATOR and each link of PHOTOSYNC_SEGMENTER_FALLBACK, each defaulting to the
model registry's GPU tier (pipeline/models, `manage.py models`) when unset.

    rembg:<model>            rembg.new_session(model) downloads <model>.onnx into U2NET_HOME
    auto                     the rembg model the pipeline's `auto` segmenter tries
    diffusers:<owner/name>   diffusers' DiffusionPipeline.download() into the Hugging Face cache
                             (HF_HOME, or --cache-dir)
    classical, procedural, rembg-file:<path>, diffusers:<local folder>, removebg, photoroom
                             nothing to download (no weights, weights you mount yourself, or
                             a hosted API)

After downloading, each model is checked the way a worker will look for it, offline: a rembg
model through the pipeline's own segmenter registry (which refuses to download), a hub pipeline
with `local_files_only=True`. Exit status 0 only when every model is in place.

The pipeline package deliberately has no downloader (workers must never fetch weights), which
is why this script lives in deploy/.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

DEFAULT_AUTO_MODEL = "u2net"


@dataclass(frozen=True)
class Fetch:
    """One model to download: `kind` is "rembg" or "diffusers", `name` the model or hub id."""

    kind: str
    name: str


def auto_model() -> str:
    """The rembg model the pipeline's `auto` segmenter uses (the pipeline's own default)."""
    try:
        from pipeline.config import PipelineConfig
    except ImportError:
        return DEFAULT_AUTO_MODEL
    return PipelineConfig().auto_model


def gpu_specs(environ=None) -> list[str]:
    """The backend names a GPU worker uses: its settings, else the registry's GPU tier."""
    environ = os.environ if environ is None else environ
    from pipeline.models import tier_defaults

    tier = tier_defaults("gpu")
    chain = environ.get("PHOTOSYNC_SEGMENTER_FALLBACK") or tier["segmenter_fallback"]
    links = [] if chain.strip().lower() == "none" else chain.split(",")
    return [
        environ.get("PHOTOSYNC_GPU_SEGMENTER") or tier["segmenter"],
        environ.get("PHOTOSYNC_SCENE_GENERATOR") or tier["scene_generator"],
        *links,
    ]


def plan(specs: list[str]) -> list[Fetch]:
    """What the backend names in `specs` need downloaded, in order, without duplicates."""
    wanted: list[Fetch] = []
    for raw in specs:
        spec = raw.strip()
        if not spec:
            continue
        kind, _, arg = spec.partition(":")
        if spec in ("classical", "procedural", "removebg", "photoroom") or kind == "rembg-file":
            continue  # no weights, hosted APIs, or a file the operator mounts
        if spec == "auto":
            fetch = Fetch("rembg", auto_model())
        elif kind == "rembg" and arg:
            fetch = Fetch("rembg", arg)
        elif kind == "diffusers" and arg:
            if arg.startswith(("/", ".", "~")) or arg.count("/") != 1:
                continue  # a local folder: mounted, not downloaded
            fetch = Fetch("diffusers", arg)
        else:
            raise SystemExit(
                f"prefetch: unknown backend {spec!r}; expected classical, auto, rembg:<model>, "
                "rembg-file:<path>, removebg, photoroom, procedural or "
                "diffusers:<owner/name or folder>"
            )
        if fetch not in wanted:
            wanted.append(fetch)
    return wanted


def fetch_rembg(model: str) -> str:
    """Download one rembg model into U2NET_HOME, then load it as a worker would."""
    import rembg

    # CPU provider: the build machine has no GPU; the file is the same for every provider.
    rembg.new_session(model, providers=["CPUExecutionProvider"])
    from pipeline.backends import get_segmenter

    get_segmenter(f"rembg:{model}")  # raises ModelNotFound if a worker would not find it
    return os.environ.get("U2NET_HOME") or os.environ.get("REMBG_HOME") or "rembg's default"


def fetch_diffusers(repo_id: str, cache_dir: str | None) -> str:
    """Download one hub pipeline into the Hugging Face cache, then resolve it offline."""
    from diffusers import DiffusionPipeline

    DiffusionPipeline.download(repo_id, cache_dir=cache_dir)
    return DiffusionPipeline.download(repo_id, cache_dir=cache_dir, local_files_only=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "specs", nargs="*",
        help="backend names; default: what a GPU worker uses ($PHOTOSYNC_GPU_SEGMENTER, "
             "$PHOTOSYNC_SCENE_GENERATOR, $PHOTOSYNC_SEGMENTER_FALLBACK; the registry's GPU "
             "tier where unset)",
    )
    parser.add_argument("--cache-dir", default=None,
                        help="Hugging Face cache folder (default: HF_HOME's hub folder)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan only")
    args = parser.parse_args(argv)
    specs = args.specs or gpu_specs()
    todo = plan(specs)
    if not todo:
        print("prefetch: nothing to download for " + ", ".join(specs))
        return 0
    for item in todo:
        print(f"prefetch: {item.kind} {item.name}", flush=True)
        if args.dry_run:
            continue
        if item.kind == "rembg":
            where = fetch_rembg(item.name)
        else:
            where = fetch_diffusers(item.name, args.cache_dir)
        print(f"prefetch: {item.kind} {item.name} ready in {where}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
