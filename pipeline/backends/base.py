"""Backend protocols shared by the registries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Segmentation:
    """A segmenter's answer: soft alpha at the input's size, and anything worth recording."""

    alpha: np.ndarray  # (H, W) uint8, 255 = product
    notes: list[str] = field(default_factory=list)


class Segmenter(Protocol):
    """Takes an (H, W, 3) uint8 sRGB array, returns its :class:`Segmentation`."""

    name: str

    def segment(self, rgb: np.ndarray) -> Segmentation: ...
