"""The ``auto`` segmenter: classical where it is reliable, a model where it is not.

A photo whose border is near-uniform (a studio backdrop) goes to the classical segmenter, which
needs no weights; anything busier goes to the configured model (``auto_model``: a rembg model
name such as ``u2net``, or any segmenter: ``rembg-file:<path>``, ``rembg:<model>``,
``removebg``). When that model cannot run here the photo is segmented classically and a note
says why; the model is tried again for the next photo, so installing it needs no restart.
"""

from __future__ import annotations

import numpy as np

from pipeline.backends import get_segmenter, segmenter_spec
from pipeline.backends.base import Segmentation, Segmenter
from pipeline.backends.classical import border_uniformity
from pipeline.config import PipelineConfig, auto_segmenter
from pipeline.errors import BackendUnavailable

UNIFORMITY = 0.9  # share of near-median border pixels above which classical is used


class AutoSegmenter:
    """Picks classical or the ``auto_model`` segmenter per photo; see the module docstring."""

    name = "auto"

    def __init__(self, *, auto_model: str = PipelineConfig.auto_model, device: str = "cpu",
                 alpha_matting: bool = False) -> None:
        self.model_name = auto_segmenter(auto_model)
        self.device = device
        self.alpha_matting = alpha_matting
        self.classical = get_segmenter("classical", alpha_matting=alpha_matting)

    def segment(self, rgb: np.ndarray) -> Segmentation:
        if border_uniformity(rgb) >= UNIFORMITY:
            return self._classical(rgb)
        try:
            model = self._model()
            segmentation = model.segment(rgb)  # a hosted model can fail here, per photo
        except BackendUnavailable as exc:
            segmentation = self._classical(rgb)
            segmentation.notes.insert(0, f"auto segmenter fell back to classical: {exc.message}")
            return segmentation
        segmentation.segmenter = segmentation.segmenter or model.name
        return segmentation

    def preload(self) -> list[str]:
        try:
            self._model()
        except BackendUnavailable as exc:
            return [f"auto segmenter will fall back to classical: {exc.message}"]
        return []

    def _classical(self, rgb: np.ndarray) -> Segmentation:
        segmentation = self.classical.segment(rgb)
        segmentation.segmenter = self.classical.name
        return segmentation

    def _model(self) -> Segmenter:
        """The model's segmenter; the registry caches it once it loads, so this is cheap."""
        options = {"device": self.device, "alpha_matting": self.alpha_matting}
        spec = segmenter_spec(self.model_name)
        return get_segmenter(self.model_name,
                             **{k: v for k, v in options.items() if k in spec.options})
