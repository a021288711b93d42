"""The shape of a model registry row, and the input normalisations of ONNX cutout families."""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("cutout", "scene", "relight")  # relight: reserved, none supported yet
SOURCES = ("builtin", "rembg", "file", "hub", "api")
TIERS = ("cpu", "gpu", "hosted")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Normalization:
    """How an ONNX cutout model wants its input: ``(pixel / max - mean) / std`` at ``size``²,
    and whether its output is logits (``sigmoid``) before the min-max scaling to a mask."""

    family: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int
    sigmoid: bool = False


#: The families ``rembg-file:<family>:<path>`` accepts (rembg's session classes hold the same
#: numbers: u2net_custom, dis_custom, birefnet_general).
FAMILIES: dict[str, Normalization] = {
    "u2net": Normalization("u2net", IMAGENET_MEAN, IMAGENET_STD, 320),
    "isnet": Normalization("isnet", (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), 1024),
    "birefnet": Normalization("birefnet", IMAGENET_MEAN, IMAGENET_STD, 1024, sigmoid=True),
}
#: rembg's custom session names, as earlier PhotoSync versions accepted them.
FAMILY_ALIASES = {"u2net_custom": "u2net", "dis_custom": "isnet", "ben_custom": "isnet"}


@dataclass(frozen=True)
class ModelSpec:
    """One model. ``ref`` is the rembg model name, hub id, file name or API URL (by source)."""

    key: str
    name: str
    task: str  # cutout | scene
    source: str  # builtin | rembg | file | hub | api
    ref: str
    licence: str
    commercial: bool
    native_size: int | None = None
    steps: int | None = None
    guidance: float | None = None
    vram_gb: float | None = None  # estimate at the dtype a GPU worker uses (fp16/bf16)
    normalization: Normalization | None = None
    tier: str = ""  # the tier that uses it by default: cpu | gpu | hosted
    role: str = ""  # what it does there: segmenter | fallback | auto model | scenes
    pipeline: str = ""  # the diffusers pipeline class, for scene models
    price_usd: float | None = None  # list price per call (remove.bg: per credit)
    file_pattern: str = ""  # regex on a local file's path that identifies this model
    note: str = ""

    def __post_init__(self) -> None:
        if self.task not in TASKS or self.source not in SOURCES:
            raise ValueError(f"{self.key}: task {self.task!r} / source {self.source!r}")
        if self.tier and self.tier not in TIERS:
            raise ValueError(f"{self.key}: tier {self.tier!r} is not one of {TIERS}")

    @property
    def backend(self) -> str:
        """The name settings use to select it (``PHOTOSYNC_SEGMENTER=...``)."""
        return {
            "builtin": self.key, "api": self.key, "rembg": f"rembg:{self.ref}",
            "hub": f"diffusers:{self.ref}", "file": "rembg-file:<path>",
        }[self.source]
