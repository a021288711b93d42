"""The one settings object of the pipeline: a frozen dataclass checked on construction."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.backends import SEGMENTERS, scene_generator_spec, segmenter_spec
from pipeline.energy import DEFAULT_WATTS_PER_CORE
from pipeline.errors import ConfigError
from pipeline.models import licence_check
from pipeline.presets import SCENE_PRESETS, frame_preset
from pipeline.stages.encode import PNG_COMPRESS_LEVEL
from pipeline.stages.harmonize import check_mode as harmonize_check

SHADOWS = ("auto", "none", "contact", "drop")  # auto: the frame preset's own (contact in scenes)
OUTPUT_FORMATS = ("png", "jpeg", "webp")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides what ``process_image`` produces.

    Names are validated here (a bad value raises :class:`~pipeline.errors.ConfigError` naming
    it); whether a named model exists on this host is checked when its backend loads.
    """

    segmenter: str = "classical"  # classical | auto | rembg:<model> | rembg-file:<path> | removebg
    # tried in order when the segmenter cannot run (model missing, GPU gone, API down)
    segmenter_fallback: tuple[str, ...] = ()
    # segmenters known to be unavailable for this run, with why (no GPU worker alive)
    segmenter_unavailable: tuple[tuple[str, str], ...] = ()
    # a second segmenter whose mask is compared with the first's (a model beside classical):
    # where they disagree the output is flagged mask_uncertain. "" = off.
    second_opinion: str = ""
    frame_preset: str = "white-square"  # white-square | transparent | marketplace | custom:...
    shadow: str = "auto"  # auto (the preset's: none on marketplace) | none | contact | drop
    scene_generator: str = "procedural"  # procedural | diffusers:<hub id or local folder>
    scene_presets: tuple[str, ...] = ("studio-sweep",)
    custom_prompt: str | None = None
    variations: int = 1  # per scene preset (and per custom prompt)
    seed: int = 0
    output_format: str = "png"  # png | jpeg | webp for opaque outputs; transparent is png
    max_input_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 50_000_000
    alpha_matting: bool = False
    # segmentation
    auto_model: str = "u2net"  # what "auto" uses on a busy backdrop: a rembg model or a segmenter
    # licences: refuse models whose licence forbids commercial use unless the operator opts in
    allow_noncommercial: bool = False
    # enhancement
    enhance: bool = True
    # safety limit: the mean CIEDE2000 the enhancement may change the product by (a 0.5 EV
    # correction is ~3-8); 0 turns enhancement off. Not an accuracy measure.
    max_enhance_delta_e: float = 12.0
    # scene outputs only: off | grade (a bounded colour/exposure grade toward the scene's
    # light; flagged "relit"); relight:<model> is reserved and refused (not supported yet)
    harmonize: str = "off"
    # encoding
    jpeg_quality: int = 92
    webp_quality: int = 90
    # zlib level of PNG outputs and the mask, 0-9: seconds against bytes, never pixels
    png_compression: int = PNG_COMPRESS_LEVEL
    # scenes
    scene_size: int | None = None  # generation size (long side, multiple of 8); None = native
    device: str = "cpu"  # cpu | cuda
    dtype: str = "float32"  # float32 | float16 | bfloat16
    steps: int | None = None  # None: the model's registry default (few-step models: 4 or 8)
    guidance: float | None = None  # None: the model's registry default
    strength: float = 1.0
    scheduler: str | None = None  # diffusers scheduler class name, e.g. EulerDiscreteScheduler
    lora: str | None = None  # hub id or local path of a few-step LoRA for the inpainting UNet
    lora_scale: float = 1.0
    deadline_s: float | None = None  # wall-clock budget for generation, checked between steps
    # energy accounting (changes no pixel): watts of one busy core, where RAPL is not readable
    cpu_watts_per_core: float = DEFAULT_WATTS_PER_CORE

    def __post_init__(self) -> None:
        # Both raise UnknownBackend (a ConfigError) listing the registered names.
        segmenter_spec(self.segmenter)
        scene_generator_spec(self.scene_generator)
        for name in ("segmenter_fallback", "segmenter_unavailable"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(
                tuple(v) if isinstance(v, list) else v
                for v in ((value,) if isinstance(value, str) else value)))
        for name in self.segmenter_fallback:
            segmenter_spec(name)
        if self.second_opinion:
            segmenter_spec(self.second_opinion)
        if auto_segmenter(self.auto_model) == "auto":
            raise ConfigError("auto_model cannot be 'auto' itself; name a model.")
        segmenter_spec(auto_segmenter(self.auto_model))
        licence_check({
            "segmenter": [self.segmenter],
            "segmenter_fallback": self.segmenter_fallback,
            "second_opinion": [self.second_opinion] if self.second_opinion else [],
            "auto_model": [auto_segmenter(self.auto_model)],
            "scene_generator": [self.scene_generator],
            "lora": [f"diffusers:{self.lora}"] if self.lora else [],
        }, allow=self.allow_noncommercial)
        frame_preset(self.frame_preset)  # raises ConfigError naming the known presets
        harmonize_check(self.harmonize)
        _choice("shadow", self.shadow, SHADOWS)
        if isinstance(self.scene_presets, (str, list)):
            object.__setattr__(
                self,
                "scene_presets",
                (self.scene_presets,) if isinstance(self.scene_presets, str)
                else tuple(self.scene_presets),
            )
        for name in self.scene_presets:
            if name not in SCENE_PRESETS:
                raise ConfigError(
                    f"Unknown scene preset {name!r}; known presets: {', '.join(SCENE_PRESETS)}."
                )
        if self.custom_prompt is not None and not self.custom_prompt.strip():
            raise ConfigError("custom_prompt is empty; leave it unset instead.")
        if not 1 <= self.variations <= 16:
            raise ConfigError(f"variations must be 1..16, got {self.variations}.")
        _choice("output_format", self.output_format, OUTPUT_FORMATS)
        _choice("device", self.device, DEVICES)
        _choice("dtype", self.dtype, DTYPES)
        if self.max_input_bytes <= 0 or self.max_pixels <= 0:
            raise ConfigError("max_input_bytes and max_pixels must be positive.")
        if self.scene_size is not None and (
            self.scene_size % 8 or not 64 <= self.scene_size <= 4096
        ):
            raise ConfigError(
                f"scene_size must be a multiple of 8 between 64 and 4096, got {self.scene_size}."
            )
        if self.steps is not None and not 1 <= self.steps <= 200:
            raise ConfigError(f"steps must be 1..200, got {self.steps}.")
        if not 0.0 < self.strength <= 1.0:
            raise ConfigError(f"strength must be in (0, 1], got {self.strength}.")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ConfigError(f"deadline_s must be positive, got {self.deadline_s}.")
        if not 0 < self.cpu_watts_per_core <= 1000:
            raise ConfigError(
                f"cpu_watts_per_core must be in (0, 1000], got {self.cpu_watts_per_core}.")
        if not 1 <= self.jpeg_quality <= 100 or not 1 <= self.webp_quality <= 100:
            raise ConfigError("jpeg_quality and webp_quality must be 1..100.")
        if not 0 <= self.png_compression <= 9:
            raise ConfigError(f"png_compression must be 0..9, got {self.png_compression}.")

    @property
    def scene_count(self) -> int:
        """How many scene outputs one image produces."""
        return (len(self.scene_presets) + (1 if self.custom_prompt else 0)) * self.variations


def auto_segmenter(auto_model: str) -> str:
    """The segmenter ``auto`` uses on a busy photo: ``auto_model`` as a segmenter name
    (``rembg-file:<path>``, ``removebg``, ...), or a bare rembg model name (``u2net``)."""
    name = auto_model.strip()
    if ":" in name or (name in SEGMENTERS and SEGMENTERS[name].argument is None):
        return name
    return f"rembg:{name}"


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"Unknown {name} {value!r}; choose one of: {', '.join(choices)}.")
