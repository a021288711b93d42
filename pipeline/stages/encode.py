"""Encode: arrays to PNG, JPEG or WebP bytes (transparent images are always PNG).

PNG goes through OpenCV's libpng with one fixed row filter (Up) rather than Pillow's: Pillow
tries every PNG filter on every row and keeps the best, which on the pipeline's 2048² outputs
costs more than the deflate itself. Up alone, at zlib level 2, gives files no larger than
Pillow's level 1 (smooth backdrops and flat white predict well from the row above) in about
half the time; ``bench/pipeline.py --encode`` measures every level. PNG is lossless whatever
the level: the level trades seconds for bytes only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
# zlib level of PNG outputs (PHOTOSYNC_PNG_COMPRESSION). Measured on the framed output and 4
# scenes at 2048² (bench/pipeline.py --encode, one core): level 2 ≈ 0.06 s an output; 1 is no
# faster and 2 % larger; 3 to 6 cost 1.5 to 3.5× the time for 5 to 14 % smaller files.
PNG_COMPRESS_LEVEL = 2
_PNG_FILTER = cv2.IMWRITE_PNG_FILTER_UP


@dataclass
class Encoded:
    data: bytes
    format: str
    content_type: str
    extension: str


def encode(image: np.ndarray, fmt: str, *, jpeg_quality: int = 92,
           webp_quality: int = 90, png_compression: int = PNG_COMPRESS_LEVEL) -> Encoded:
    """Encode an (H, W, 3) or (H, W, 4) uint8 array; RGBA forces PNG."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown output format {fmt!r}; use png, jpeg or webp")
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError("encode expects an (H, W, 3|4) uint8 array")
    if image.shape[2] == 4:
        fmt = "png"
    if fmt == "png":
        order = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        data = encode_png(cv2.cvtColor(image, order), png_compression)
        return Encoded(data, fmt, CONTENT_TYPES[fmt], EXTENSIONS[fmt])
    pil = Image.fromarray(image, "RGB")
    buffer = io.BytesIO()
    if fmt == "jpeg":
        pil.save(buffer, "JPEG", quality=jpeg_quality, optimize=False, subsampling=0)
    else:
        pil.save(buffer, "WEBP", quality=webp_quality, method=4)
    return Encoded(buffer.getvalue(), fmt, CONTENT_TYPES[fmt], EXTENSIONS[fmt])


def encode_png(pixels: np.ndarray, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """PNG bytes of an OpenCV-ordered array ((H, W) grey, BGR or BGRA uint8) at zlib
    ``level`` 0–9, rows filtered with Up (see the module docstring)."""
    if not 0 <= level <= 9:
        raise ValueError(f"PNG compression level must be 0..9, got {level}")
    ok, data = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, level,
                                             cv2.IMWRITE_PNG_STRATEGY,
                                             cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
                                             cv2.IMWRITE_PNG_FILTER, _PNG_FILTER])
    if not ok:  # pragma: no cover - libpng refuses only arrays the checks above exclude
        raise ValueError("PNG encoding failed")
    return data.tobytes()


def decode_rgb(data: bytes) -> np.ndarray:
    """The colour pixels of an encoded file as a reader sees them ((H, W, 3) uint8, BGR order:
    for checks that do not care, such as pure white)."""
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def encode_mask(alpha: np.ndarray, png_compression: int = PNG_COMPRESS_LEVEL) -> bytes:
    """An L-mode (8-bit grey) PNG of a (H, W) uint8 mask."""
    return encode_png(np.ascontiguousarray(alpha), png_compression)
