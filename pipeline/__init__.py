"""PhotoSync's image pipeline: studio cutouts, framing, shadows and lifestyle scenes.

Pure Python on numpy, Pillow and OpenCV; never imports Django or ``photosync``. Model backends
(rembg/onnxruntime, diffusers/torch) load lazily, once per process, only when a config names
them: ``import pipeline`` and a classical + procedural run import none of them.

    from pipeline import PipelineConfig, process_image
    result = process_image(open("bag.jpg", "rb").read(), PipelineConfig())
"""

from pipeline.backends import known_scene_generators, known_segmenters
from pipeline.config import PipelineConfig
from pipeline.errors import (
    BackendUnavailable,
    ConfigError,
    CorruptImage,
    DeviceUnavailable,
    EmptyFile,
    GenerationError,
    GenerationTimeout,
    ImageTooLarge,
    InputError,
    MaskMismatch,
    ModelNotFound,
    NonCommercialModel,
    NoProductFound,
    NotAnImage,
    OutOfMemory,
    PipelineError,
    ServiceUnavailable,
    UnknownBackend,
    UnsupportedImage,
)
from pipeline.flags import FLAG_CODES, Flag
from pipeline.presets import FRAME_PRESETS, SCENE_PRESETS, FramePreset, ScenePreset
from pipeline.runner import STAGES, Output, PipelineResult, prepare, process_image

__all__ = [
    "FLAG_CODES",
    "FRAME_PRESETS",
    "SCENE_PRESETS",
    "STAGES",
    "BackendUnavailable",
    "ConfigError",
    "CorruptImage",
    "DeviceUnavailable",
    "EmptyFile",
    "Flag",
    "FramePreset",
    "GenerationError",
    "GenerationTimeout",
    "ImageTooLarge",
    "InputError",
    "MaskMismatch",
    "ModelNotFound",
    "NonCommercialModel",
    "NoProductFound",
    "NotAnImage",
    "OutOfMemory",
    "Output",
    "PipelineConfig",
    "PipelineError",
    "PipelineResult",
    "ScenePreset",
    "ServiceUnavailable",
    "UnknownBackend",
    "UnsupportedImage",
    "known_scene_generators",
    "known_segmenters",
    "prepare",
    "process_image",
]
