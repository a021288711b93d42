"""The model registry (pipeline.models): its facts against rembg's own session classes, the
backend each row names, and the licence gate for every non-commercial model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline import ConfigError, PipelineConfig
from pipeline.backends import SCENE_GENERATORS, scene_generator_spec, segmenter_spec
from pipeline.errors import NonCommercialModel
from pipeline.flags import FLAG_CODES, Flag
from pipeline.models import (
    FAMILIES,
    MODELS,
    family,
    licence_check,
    model,
    model_for,
    model_for_file,
    table,
    tier_defaults,
)

NONCOMMERCIAL = [m for m in MODELS if not m.commercial]


class _Recorder:
    """Stands in for a rembg session's ONNX graph: records the pre-processing it is fed."""

    def __init__(self, size):
        self.size = size

    def get_inputs(self):
        return [type("Input", (), {"name": "input.1"})()]

    def run(self, _outputs, feed):
        (tensor,) = feed.values()
        self.shape = tensor.shape
        return [np.linspace(-3, 3, self.size[0] * self.size[1], dtype=np.float32)
                .reshape(1, 1, self.size[1], self.size[0])]


@pytest.mark.parametrize("spec", [m for m in MODELS if m.source == "rembg"], ids=lambda m: m.key)
def test_rembg_rows_say_what_rembgs_session_classes_do(spec):
    """mean, std, input size and the sigmoid, read by running the class's own predict()."""
    from rembg.sessions import sessions

    cls = sessions[spec.ref]
    session = object.__new__(cls)
    seen = {}

    def normalize(img, mean, std, size, *args, **kwargs):
        seen.update(mean=tuple(mean), std=tuple(std), size=size)
        session.inner_session = _Recorder(size)
        return cls.normalize(session, img, mean, std, size)

    session.normalize = normalize
    session.inner_session = _Recorder((8, 8))
    real_sigmoid = getattr(cls, "sigmoid", None)
    session.sigmoid = lambda x: (seen.__setitem__("sigmoid", True), real_sigmoid(session, x))[1]
    cls.predict(session, Image.new("RGB", (40, 30), (200, 10, 10)))
    norm = spec.normalization
    assert (seen["mean"], seen["std"], seen["size"]) == (norm.mean, norm.std,
                                                         (norm.size, norm.size))
    assert seen.get("sigmoid", False) == norm.sigmoid
    assert spec.native_size == norm.size


def test_every_usable_rembg_model_is_in_the_registry():
    from rembg.sessions import sessions

    from pipeline.backends.rembg_sessions import EXCLUDED

    usable = {name for name, cls in sessions.items()
              if name not in EXCLUDED and cls.is_local() and not cls.requires_credentials()}
    assert usable == {m.ref for m in MODELS if m.source == "rembg"}


def test_each_row_names_a_registered_backend_and_a_known_licence_form():
    for m in MODELS:
        if m.source != "file":
            spec = (segmenter_spec if m.task == "cutout" else scene_generator_spec)(m.backend)
            assert spec.kind == ("segmenter" if m.task == "cutout" else "scene generator")
        assert m.licence.startswith("LicenseRef-") or m.licence in (
            "MIT", "Apache-2.0", "CC-BY-NC-4.0"), m.key
        if m.task == "scene":
            assert m.source == "builtin" or (m.steps and m.guidance is not None and m.pipeline)
        if m.source == "hub":
            assert m.pipeline.endswith("Pipeline") and m.vram_gb and m.native_size % 8 == 0
    assert {m.source for m in MODELS} == {"builtin", "rembg", "file", "hub", "api"}
    assert set(SCENE_GENERATORS) == {"procedural", "diffusers"}


def test_the_scene_families_d2_builds_are_rows_with_their_pipelines():
    import diffusers

    for key, steps in (("sdxl-inpainting", 25), ("flux2-klein-4b", 4), ("z-image-turbo", 8),
                       ("qwen-image-edit", 50)):
        spec = model(key)
        assert spec.commercial and spec.steps == steps
        assert hasattr(diffusers, spec.pipeline), spec.pipeline  # in the pinned diffusers
    assert model("flux2-klein-4b").licence == "Apache-2.0"


def test_tier_defaults_come_from_the_rows():
    assert tier_defaults("gpu") == {
        "segmenter": "rembg:birefnet-general",
        "segmenter_fallback": "rembg:isnet-general-use,classical",
        "scene_generator": "diffusers:diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    }
    assert tier_defaults("hosted") == {"segmenter": "removebg",
                                       "segmenter_fallback": "photoroom,classical"}
    assert tier_defaults("cpu")["segmenter"] == "classical"
    with pytest.raises(ValueError, match="Unknown tier"):
        tier_defaults("tpu")


@pytest.mark.parametrize(("name", "key"), [
    ("rembg:bria-rmbg", "bria-rmbg"), ("u2net", "u2net"), ("removebg", "removebg"),
    ("rembg-file:/m/briaai/RMBG-2.0/onnx/model.onnx", "bria-rmbg"),
    ("rembg-file:/models/BiRefNet_HR-general.onnx", "birefnet-hr"),
    ("rembg-file:/models/birefnet-general-epoch_244.onnx", "birefnet-general"),
    ("rembg-file:/models/rmbg-1.4.onnx", "rmbg-1.4"),
    ("diffusers:black-forest-labs/FLUX.1-dev", "flux1-dev"),
    ("diffusers:/models/huggingface/hub/models--black-forest-labs--FLUX.1-Fill-dev/snapshots/a",
     "flux1-fill-dev"),
    ("diffusers:/srv/models/sdxl-turbo", "sdxl-turbo"),
])
def test_names_files_and_folders_are_identified(name, key):
    assert model_for(name).key == key


def test_unknown_models_are_not_guessed():
    assert model_for("rembg-file:/models/my-own.onnx") is None
    assert model_for("diffusers:/models/my-finetune") is None
    assert model_for_file("/tmp/pytest-of-root/onnx0/tiny-seg.onnx") is None
    assert family("dis_custom") is FAMILIES["isnet"] and family("nope") is None


@pytest.mark.parametrize("spec", NONCOMMERCIAL, ids=lambda m: m.key)
def test_each_noncommercial_model_is_refused_by_default_and_accepted_with_the_opt_in(spec):
    name = spec.backend if spec.source != "file" else f"rembg-file:/models/{spec.key}.onnx"
    field = "segmenter" if spec.task == "cutout" else "scene_generator"
    with pytest.raises(NonCommercialModel) as refused:
        PipelineConfig(**{field: name})
    assert spec.name in refused.value.message and spec.licence in refused.value.message
    assert "PHOTOSYNC_ALLOW_NONCOMMERCIAL_MODELS=true" in refused.value.message
    assert isinstance(refused.value, ConfigError)
    config = PipelineConfig(**{field: name}, allow_noncommercial=True)
    assert getattr(config, field) == name


def test_every_place_a_model_is_named_is_gated():
    with pytest.raises(NonCommercialModel, match="set in segmenter_fallback"):
        PipelineConfig(segmenter_fallback=("rembg:bria-rmbg", "classical"))
    with pytest.raises(NonCommercialModel, match="set in auto_model"):
        PipelineConfig(segmenter="auto", auto_model="bria-rmbg")
    with pytest.raises(NonCommercialModel, match="set in lora"):
        PipelineConfig(lora="black-forest-labs/FLUX.1-dev")
    # commercial models and models the registry does not know pass
    licence_check({"here": ["rembg:birefnet-general", "rembg-file:/x/mine.onnx",
                            "diffusers:black-forest-labs/FLUX.2-klein-4B"]}, allow=False)


def test_the_table_lists_every_model_with_its_licence():
    rows = table()
    assert [r["model"] for r in rows] == [m.key for m in MODELS]
    bria = next(r for r in rows if r["model"] == "bria-rmbg")
    assert (bria["licence"], bria["commercial"], bria["select with"]) == (
        "CC-BY-NC-4.0", "NO", "rembg:bria-rmbg")
    klein = next(r for r in rows if r["model"] == "flux2-klein-4b")
    assert (klein["steps / guidance"], klein["size"], klein["default in"]) == ("4 / 1", "1024²",
                                                                              "")


def test_flags_need_a_known_code():
    flag = Flag("segmenter_fallback", "Background removed by the classical segmenter.")
    assert flag.to_dict() == {"code": "segmenter_fallback",
                              "message": "Background removed by the classical segmenter."}
    assert "segmenter_fallback" in FLAG_CODES
    with pytest.raises(ValueError, match="Unknown flag code 'made_up'"):
        Flag("made_up", "x")
