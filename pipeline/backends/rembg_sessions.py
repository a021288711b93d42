"""rembg segmenters: one explicit ONNX session per model and process.

* ``rembg:<model>`` — a rembg model by name (``u2net``, ``u2netp``, ``isnet-general-use``,
  ``birefnet-general``, ...). The weights must already be in rembg's home folder
  (``U2NET_HOME``, else ``REMBG_HOME``, else its default): nothing is downloaded at run time,
  and a missing model is a :class:`~pipeline.errors.ModelNotFound` naming the file and folder.
* ``rembg-file:<path>`` — any local ONNX segmentation model, in ``onnx_file.py``: the same
  wrapper around a session that reads its input size and pre-processing from the model.

The session is always passed explicitly: rembg's own default model (``bria-rmbg``) is
non-commercial and would be a new session per call.
"""

from __future__ import annotations

import importlib.util
import threading

import numpy as np
from PIL import Image

from pipeline.backends.base import Segmentation
from pipeline.backends.matting import refine_alpha
from pipeline.errors import BackendUnavailable, ConfigError, DeviceUnavailable, ModelNotFound

CUSTOM_SESSIONS = ("u2net_custom", "dis_custom", "ben_custom")
#: Sessions that need prompts, credentials or a remote service: not usable as a segmenter here.
EXCLUDED = ("sam", "u2net_cloth_seg", *CUSTOM_SESSIONS)


def _import_rembg():
    # Lazy: rembg loads onnxruntime (hundreds of MB), which web and CPU-only processes never
    # need. `import rembg` calls sys.exit() when onnxruntime is missing: check first.
    if importlib.util.find_spec("onnxruntime") is None:
        raise BackendUnavailable(
            "rembg segmenters need onnxruntime: install rembg[cpu] (or rembg[gpu])."
        )
    if importlib.util.find_spec("rembg") is None:
        raise BackendUnavailable("rembg segmenters need the rembg package: install rembg[cpu].")
    import rembg
    import rembg.sessions

    return rembg


def _providers(device: str) -> list:
    import onnxruntime as ort  # lazy: only once _import_rembg found it (see there)

    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceUnavailable(
                "device=cuda was configured but onnxruntime has no CUDA provider on this host "
                "(install onnxruntime-gpu / rembg[gpu] and check the GPU)."
            )
        return [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
                "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class RembgSegmenter:
    """A rembg session wrapped as a :class:`~pipeline.backends.base.Segmenter`."""

    def __init__(self, name: str, session, *, alpha_matting: bool = False) -> None:
        self.name = name
        self.session = session
        self.alpha_matting = alpha_matting
        self.notes: list[str] = []  # how it was set up, for the worker's start-up log
        self._lock = threading.Lock()  # one ONNX run at a time per session keeps memory flat

    @classmethod
    def named(cls, model: str, *, alpha_matting: bool = False,
              device: str = "cpu") -> RembgSegmenter:
        rembg = _import_rembg()
        sessions = rembg.sessions.sessions
        usable = sorted(
            name for name, sc in sessions.items()
            if name not in EXCLUDED and sc.is_local() and not sc.requires_credentials()
        )
        if model not in usable:
            raise ConfigError(
                f"Unknown rembg model {model!r}; known models: {', '.join(usable)} "
                "(use rembg-file:<path> for a local ONNX file)."
            )
        session_class = sessions[model]
        fname = f"{model}.onnx"
        if session_class.resolve_existing(fname) is None:
            raise ModelNotFound(
                f"rembg model {model!r} is not installed: {fname} was not found in "
                f"{session_class.model_dir()} or {session_class.legacy_home()}. Weights are "
                "never downloaded at run time; pre-fetch them when building the image "
                "(U2NET_HOME / REMBG_HOME choose the folder)."
            )
        session = rembg.new_session(model, providers=_providers(device))
        return cls(f"rembg:{model}", session, alpha_matting=alpha_matting)

    def segment(self, rgb: np.ndarray) -> Segmentation:
        image = Image.fromarray(rgb, "RGB")
        with self._lock:
            masks = self.session.predict(image)
        mask = masks[0].convert("L")
        if mask.size != image.size:
            mask = mask.resize(image.size, Image.Resampling.BILINEAR)
        alpha = np.asarray(mask).copy()
        if self.alpha_matting:
            alpha = refine_alpha(rgb, alpha)
        return Segmentation(alpha=alpha)

    def preload(self) -> list[str]:
        return list(self.notes)  # the session was created with this object
