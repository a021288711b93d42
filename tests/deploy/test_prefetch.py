"""deploy/prefetch_models.py: which weights a configuration needs. Nothing is downloaded here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "deploy" / "prefetch_models.py"


def load():
    spec = importlib.util.spec_from_file_location("prefetch_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_plan_follows_the_backend_names_settings_use():
    prefetch = load()
    Fetch = prefetch.Fetch
    assert prefetch.plan(["classical", "procedural"]) == []
    assert prefetch.plan(["rembg:birefnet-general", "diffusers:org/inpaint"]) == [
        Fetch("rembg", "birefnet-general"), Fetch("diffusers", "org/inpaint")
    ]
    assert prefetch.plan(["rembg-file:/models/mine.onnx", "diffusers:/models/sdxl"]) == []
    assert prefetch.plan(["removebg", "photoroom"]) == []  # hosted: nothing to download
    assert prefetch.plan(["rembg:u2net", "rembg:u2net", ""]) == [Fetch("rembg", "u2net")]


def test_auto_fetches_the_model_the_pipeline_tries():
    from pipeline.config import PipelineConfig

    prefetch = load()
    assert prefetch.plan(["auto"]) == [prefetch.Fetch("rembg", PipelineConfig().auto_model)]


def test_every_segmenter_kind_the_pipeline_knows_is_planned():
    """A new segmenter kind in the pipeline must be taught to the prefetch script."""
    from pipeline.backends import SCENE_GENERATORS, SEGMENTERS

    prefetch = load()
    assert set(SEGMENTERS) == {"classical", "rembg", "rembg-file", "auto", "removebg",
                               "photoroom"}
    assert set(SCENE_GENERATORS) == {"procedural", "diffusers"}
    for spec in [*SEGMENTERS.values(), *SCENE_GENERATORS.values()]:
        prefetch.plan([f"{spec.name}:a/b" if spec.argument else spec.name])  # no SystemExit


def test_unknown_names_stop_the_build():
    with pytest.raises(SystemExit, match="unknown backend 'rembgg:u2net'"):
        load().plan(["rembgg:u2net"])


def test_dry_run_from_the_settings_variables():
    """No arguments: what a GPU worker uses (its segmenter, scene model, fallback chain)."""
    env = {"PATH": "/usr/bin:/bin", "PHOTOSYNC_SEGMENTER": "rembg:silueta",
           "PHOTOSYNC_GPU_SEGMENTER": "auto", "PHOTOSYNC_SEGMENTER_FALLBACK": "classical",
           "PHOTOSYNC_SCENE_GENERATOR": "diffusers:org/inpaint"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run"], cwd="/", env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "prefetch: rembg u2net", "prefetch: diffusers org/inpaint"
    ]
