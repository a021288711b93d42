"""Load and sanitize: untrusted bytes in, an sRGB RGBA array out, or an InputError.

Limits are checked before any pixel is decoded: the byte count first, then the pixel count from
the header (decompression bombs), then the decode itself. Orientation (EXIF), ICC profiles,
CMYK, palette, greyscale, 16-bit and alpha inputs are all normalised to 8-bit sRGB RGBA.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from pipeline.errors import (
    CorruptImage,
    EmptyFile,
    ImageTooLarge,
    NotAnImage,
    UnsupportedImage,
)

try:  # Pillow registers AVIF itself when built with libavif (Pillow >= 11.3 wheels).
    from PIL import AvifImagePlugin  # noqa: F401
except ImportError:  # pragma: no cover - depends on the Pillow build
    pass

_SRGB = ImageCms.createProfile("sRGB")
_MIN_SIDE = 8


@dataclass
class LoadedImage:
    """A decoded, upright, 8-bit sRGB image with straight (not premultiplied) alpha."""

    rgba: np.ndarray  # (H, W, 4) uint8
    format: str  # the container format Pillow detected, e.g. "JPEG"
    has_alpha: bool  # the source carried real transparency (some alpha < 255)
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.rgba.shape[1], self.rgba.shape[0]


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> LoadedImage:
    """Decode ``data`` into a :class:`LoadedImage`.

    Raises :class:`EmptyFile`, :class:`ImageTooLarge` (bytes, pixels or decompression bomb,
    all before decoding), :class:`NotAnImage`, :class:`CorruptImage` (truncated or damaged) or
    :class:`UnsupportedImage`. Never returns a partial image.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"load_image expects bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise EmptyFile("The file is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"The file is {_mb(len(data))}; the limit is {_mb(max_bytes)}."
        )
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))
    except UnidentifiedImageError:
        raise NotAnImage(f"The file is not an image ({_describe(bytes(data[:512]))}).") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(
            "The image declares an enormous pixel size (a decompression bomb); it was not opened."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage("The image file is damaged and cannot be read.") from exc

    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"The image is {width}x{height} ({width * height / 1e6:.1f} megapixels); the limit is "
            f"{max_pixels / 1e6:.1f} megapixels."
        )
    if width < _MIN_SIDE or height < _MIN_SIDE:
        raise UnsupportedImage(
            f"The image is only {width}x{height} pixels; at least {_MIN_SIDE}x{_MIN_SIDE} is "
            "needed."
        )
    fmt = image.format or "unknown"
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        notes.append(f"animated {fmt} with {frames} frames: the first frame was used")

    try:
        image.seek(0)
        _strict_load(image)
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptImage(
            "The image file is damaged or incomplete and cannot be read."
        ) from exc
    except MemoryError:
        raise ImageTooLarge("The image is too large to decode on this server.") from None

    rgba, had_alpha, cms_note = _to_srgb_rgba(image)
    if cms_note:
        notes.append(cms_note)
    return LoadedImage(rgba=rgba, format=fmt, has_alpha=had_alpha, notes=notes)


def _strict_load(image: Image.Image) -> None:
    """Decode all pixels, refusing truncated data (Pillow's global may have been relaxed)."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _to_srgb_rgba(image: Image.Image) -> tuple[np.ndarray, bool, str | None]:
    """Convert any Pillow mode to 8-bit sRGB RGBA; returns (array, had_alpha, note)."""
    mode = image.mode
    icc = image.info.get("icc_profile")
    alpha: np.ndarray | None = None

    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        if mode == "F":
            top = 1.0 if array.max() <= 1.0 else 255.0
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, "L")
        mode = "L"
        icc = None  # a 16-bit profile does not describe the 8-bit data we just made
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    ):
        rgba_image = image.convert("RGBA")
        alpha = np.asarray(rgba_image.getchannel("A"))
        colour = rgba_image.convert("RGB")
        if mode in ("LA", "La", "L") or (mode == "P" and image.palette.mode == "L"):
            colour_mode = "L"
        else:
            colour_mode = "RGB"
        base = image.convert(colour_mode) if colour_mode == "L" else colour
    elif mode == "CMYK":
        base = image
    elif mode in ("L", "1"):
        base = image.convert("L")
    elif mode == "P":
        base = image.convert("RGB")
    elif mode in ("RGB", "YCbCr", "LAB", "HSV"):
        base = image if mode == "RGB" else image.convert("RGB")
        if mode != "RGB":
            icc = None
    else:
        raise UnsupportedImage(f"Images in colour mode {mode} are not supported.")

    note = None
    rgb: Image.Image | None = None
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            rgb = ImageCms.profileToProfile(
                base,
                source,
                _SRGB,
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
            description = ImageCms.getProfileDescription(source).strip()
            if "srgb" not in description.lower():
                note = f"colour profile {description!r} converted to sRGB"
        except (ImageCms.PyCMSError, OSError, ValueError):
            rgb = None
            note = "embedded colour profile is unreadable; colours taken as sRGB"
    if rgb is None:
        rgb = base.convert("RGB")

    out = np.empty((rgb.height, rgb.width, 4), dtype=np.uint8)
    out[..., :3] = np.asarray(rgb)
    if alpha is None:
        out[..., 3] = 255
        had_alpha = False
    else:
        out[..., 3] = alpha
        had_alpha = bool(alpha.min() < 255)
    return out, had_alpha, note


def _describe(head: bytes) -> str:
    """A merchant-readable guess of what a non-image file is."""
    signatures = (
        (b"%PDF", "it looks like a PDF document"),
        (b"PK\x03\x04", "it looks like a ZIP archive or Office document"),
        (b"\x1f\x8b", "it looks like a compressed gzip archive"),
        (b"Rar!", "it looks like a RAR archive"),
        (b"7z\xbc\xaf", "it looks like a 7-Zip archive"),
        (b"ID3", "it looks like an MP3 audio file"),
        (b"\x00\x00\x00\x18ftypmp4", "it looks like a video"),
        (b"\x00\x00\x00\x1cftyp", "it looks like a video or an unsupported HEIC photo"),
        (b"\x00\x00\x00 ftyp", "it looks like a video or an unsupported HEIC photo"),
        (b"MZ", "it looks like a program"),
        (b"\x7fELF", "it looks like a program"),
    )
    for magic, text in signatures:
        if head.startswith(magic):
            return text
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<svg", b"<?xml")) and b"<svg" in stripped:
        return "it looks like an SVG drawing; upload a PNG or JPEG export instead"
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "it looks like a web page"
    text = ""
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    else:
        return "the format is not recognised"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "it looks like text"
    return "the format is not recognised"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
