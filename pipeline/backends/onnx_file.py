"""``rembg-file:<path>``: any ONNX segmentation model, run as a rembg session.

rembg's own custom sessions hard-code one input size each (``u2net_custom`` 320²,
``dis_custom`` 1024²), so any other model started and then failed every image with a raw ONNX
shape error. Here the input size and layout come from the model's own input shape, and the
normalisation (mean/std, and whether the output is logits) from its family, found in order:

1. the explicit form ``rembg-file:<family>:<path>``: ``u2net``, ``isnet`` or ``birefnet``
   (rembg's ``u2net_custom``, ``dis_custom`` and ``ben_custom`` are accepted as aliases);
2. the model's metadata: a ``family`` entry in its ``metadata_props``;
3. the model registry: a path that names a known model (``birefnet``, ``isnet``, ``u2net``,
   ``BEN2``, ``RMBG-1.4``, ...) gets that model's normalisation.

Failing all three, loading stops with a :class:`~pipeline.errors.ConfigError` that says what to
add. A model with a symbolic height and width runs at its family's native size. At load time
one run on a blank image proves the graph takes what it will be fed, so a wrong model stops the
worker's start instead of failing jobs. The session is a subclass of rembg's ``BaseSession``
(providers, the warning when CUDA silently falls back, rembg's own pre-processing) that loads
the file directly, so rembg's rule that custom models live in its home folder does not apply.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.backends.rembg_sessions import RembgSegmenter, _import_rembg, _providers
from pipeline.errors import BackendUnavailable, ConfigError, ModelNotFound
from pipeline.models import FAMILIES, Normalization, family, model_for_file

METADATA_KEYS = ("family", "photosync.family")


def load_file_segmenter(spec: str, *, alpha_matting: bool = False,
                        device: str = "cpu") -> RembgSegmenter:
    """The segmenter for the argument of ``rembg-file:`` (``[<family>:]<path>``)."""
    head, colon, rest = spec.partition(":")
    explicit = family(head) if colon and rest else None
    if colon and rest and explicit is None and not Path(spec).expanduser().exists():
        raise ConfigError(
            f"Unknown model family {head!r} in rembg-file:{spec}; known: "
            f"{', '.join(FAMILIES)}."
        )
    path = Path(rest if explicit else spec).expanduser().resolve()
    if not path.is_file():
        raise ModelNotFound(f"ONNX model file {str(path)!r} does not exist.")
    _import_rembg()
    try:
        session = _session_class()(str(path), _providers(device))
    except BackendUnavailable:
        raise
    except Exception as exc:  # onnxruntime raises its own types for a file that is no graph
        raise BackendUnavailable(f"ONNX model {str(path)!r} could not be loaded: {exc}") from exc
    norm, how = explicit, f"the explicit form {head}:"
    if norm is None:
        norm, how = _family_of(session, path)
    notes = session.configure(norm)
    session.check()
    segmenter = RembgSegmenter(f"rembg-file:{path}", session, alpha_matting=alpha_matting)
    segmenter.notes = [f"rembg-file:{path}: {norm.family} normalisation (from {how}), "
                       + notes]
    return segmenter


def _family_of(session, path: Path) -> tuple[Normalization, str]:
    metadata = session.inner_session.get_modelmeta().custom_metadata_map
    for key in METADATA_KEYS:
        if key in metadata:
            norm = family(metadata[key])
            if norm is None:
                raise ConfigError(
                    f"ONNX model {str(path)!r} says {key}={metadata[key]!r} in its metadata; "
                    f"known families: {', '.join(FAMILIES)}."
                )
            return norm, f"its metadata, {key}={metadata[key]}"
    known = model_for_file(str(path))
    if known is not None and known.normalization is not None:
        return known.normalization, f"its name: {known.name}"
    raise ConfigError(
        f"Cannot tell how to prepare images for ONNX model {str(path)!r}: its name matches no "
        "model in the registry and its metadata has no 'family'. Name the family in the "
        f"setting, as rembg-file:<family>:{path} with <family> one of "
        f"{', '.join(FAMILIES)} (U²-Net, IS-Net or BiRefNet pre-processing), or add "
        "metadata family=<family> to the model."
    )


@functools.cache
def _session_class():
    # Lazy: rembg loads onnxruntime (see rembg_sessions._import_rembg, already called).
    import onnxruntime as ort
    from rembg.sessions.base import BaseSession

    class FileSession(BaseSession):
        """A rembg session for one local ONNX file, pre-processing set by ``configure``."""

        def __init__(self, model_path: str, providers: list) -> None:
            self.model_path = model_path
            super().__init__("rembg-file", ort.SessionOptions(), providers=providers,
                             model_path=model_path)

        @classmethod
        def download_models(cls, *args, **kwargs):
            return kwargs["model_path"]  # a local file: nothing to download or validate

        @classmethod
        def name(cls, *args, **kwargs):
            return "rembg-file"

        def configure(self, norm: Normalization) -> str:
            """Fix the input size, layout and dtype from the graph; return them in words."""
            self.norm = norm
            inputs = self.inner_session.get_inputs()
            if len(inputs) != 1:
                raise ConfigError(
                    f"ONNX model {self.model_path!r} has {len(inputs)} inputs; rembg-file "
                    "needs a segmentation model with one image input."
                )
            shape, kind = list(inputs[0].shape), inputs[0].type
            if len(shape) != 4 or kind not in ("tensor(float)", "tensor(float16)"):
                raise ConfigError(
                    f"ONNX model {self.model_path!r} takes a {kind} of shape {shape}; rembg-file "
                    "needs one float image tensor (1, 3, H, W) or (1, H, W, 3)."
                )
            self.dtype = np.float16 if kind == "tensor(float16)" else np.float32
            self.channels_last = shape[1] != 3 and shape[3] == 3
            if not self.channels_last and isinstance(shape[1], int) and shape[1] != 3:
                raise ConfigError(
                    f"ONNX model {self.model_path!r} expects {shape[1]} channels per pixel; "
                    "rembg-file feeds RGB (3)."
                )
            height, width = (shape[1], shape[2]) if self.channels_last else (shape[2], shape[3])
            if _fixed(height) and _fixed(width):
                self.size, origin = (width, height), "read from the model"
            else:
                self.size, origin = (norm.size, norm.size), f"the {norm.family} native size"
            layout = "NHWC" if self.channels_last else "NCHW"
            return f"{self.size[0]}×{self.size[1]} {layout} input ({origin})"

        def check(self) -> None:
            try:
                self.predict(Image.new("RGB", (64, 48), (128, 128, 128)))
            except Exception as exc:  # the graph's own error, in onnxruntime's words
                raise BackendUnavailable(
                    f"ONNX model {self.model_path!r} failed its first run on a "
                    f"{self.size[0]}×{self.size[1]} {self.norm.family} input: {exc}"
                ) from exc

        def predict(self, img, *args, **kwargs):
            feed = self.normalize(img, self.norm.mean, self.norm.std, self.size)
            name, tensor = next(iter(feed.items()))
            if self.channels_last:
                tensor = tensor.transpose(0, 2, 3, 1)
            output = self.inner_session.run(None, {name: tensor.astype(self.dtype)})[0]
            pred = _single_map(np.asarray(output, dtype=np.float32))
            if self.norm.sigmoid:
                pred = 1.0 / (1.0 + np.exp(-pred))
            low, high = float(pred.min()), float(pred.max())
            pred = (pred - low) / max(high - low, 1e-8)
            mask = Image.fromarray((pred * 255).astype(np.uint8), mode="L")
            return [mask.resize(img.size, Image.Resampling.LANCZOS)]

    return FileSession


def _fixed(dim) -> bool:
    return isinstance(dim, int) and dim > 0


def _single_map(output: np.ndarray) -> np.ndarray:
    """The first output's first channel as (H, W), whatever its layout."""
    out = output[0] if output.ndim == 4 or (output.ndim == 3 and output.shape[0] == 1) else output
    if out.ndim == 3:
        out = out[0] if out.shape[0] <= 4 < out.shape[-1] else out[..., 0]
    if out.ndim != 2:
        raise ValueError(f"expected a one-channel map, the model answered shape {output.shape}")
    return out
