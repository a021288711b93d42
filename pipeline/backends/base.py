"""Backend protocols shared by the registries: segmenters and scene generators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig
    from pipeline.presets import ScenePreset
    from pipeline.stages.frame import Layer


@dataclass
class Segmentation:
    """A segmenter's answer: soft alpha at the input's size, and anything worth recording.

    ``confident`` is False when the segmenter itself doubts the separation (the runner flags
    the image for review); ``notes`` say why in words. ``segmenter`` names the backend that
    produced it when that differs from the one asked (``auto`` picks one); empty means the one
    asked. ``metrics`` are numbers every output of the image records (a hosted API's cost).
    """

    alpha: np.ndarray  # (H, W) uint8, 255 = product
    notes: list[str] = field(default_factory=list)
    confident: bool = True
    doubt: str = ""  # why it is not confident, in words for the flag ("" = no detail)
    segmenter: str = ""
    metrics: dict = field(default_factory=dict)


class Segmenter(Protocol):
    """Takes an (H, W, 3) uint8 sRGB array, returns its :class:`Segmentation`."""

    name: str

    def segment(self, rgb: np.ndarray) -> Segmentation: ...

    def preload(self) -> list[str]:
        """Load now whatever the first ``segment`` would load (worker boot); return notes on
        anything that will run degraded (e.g. ``auto`` without its model)."""
        ...


class SceneGenerator(Protocol):
    """Paints the background behind a product already placed on the output canvas."""

    name: str

    def generate(self, *, product: Layer, preset: ScenePreset, seeds: list[int],
                 deadline: float | None = None,
                 config: PipelineConfig | None = None) -> list[np.ndarray]:
        """One (H, W, 3) uint8 background per seed at ``product.canvas`` (width, height); the
        runner composites the shadow and the product on top. ``deadline`` is a
        ``time.monotonic()`` value the generator must not run past."""
        ...
