"""Load and sanitize: every input mode normalised, every bad input rejected by class."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from pipeline import (
    CorruptImage,
    EmptyFile,
    ImageTooLarge,
    NoProductFound,
    NotAnImage,
    PipelineConfig,
    UnsupportedImage,
    process_image,
)
from pipeline.stages.load import load_image
from tests.pipeline.factories import encode, png_bytes, studio_photo

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 20_000_000}


def _load(data: bytes):
    return load_image(data, **LIMITS)


def test_jpeg_becomes_opaque_rgba():
    loaded = _load(encode(Image.new("RGB", (40, 30), (200, 10, 10)), "JPEG", quality=95))
    assert loaded.rgba.shape == (30, 40, 4)
    assert loaded.rgba.dtype == np.uint8
    assert loaded.format == "JPEG"
    assert loaded.has_alpha is False
    assert (loaded.rgba[..., 3] == 255).all()
    assert np.abs(loaded.rgba[15, 20, :3].astype(int) - [200, 10, 10]).max() <= 3


def test_png_with_alpha_keeps_alpha():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((10, 200, 30, 255), (5, 5, 15, 15))
    loaded = _load(png_bytes(image))
    assert loaded.has_alpha is True
    assert loaded.rgba[0, 0, 3] == 0
    assert loaded.rgba[10, 10].tolist() == [10, 200, 30, 255]


def test_palette_with_transparency_becomes_rgba():
    image = Image.new("P", (16, 16), 0)
    image.putpalette([255, 255, 255, 255, 0, 0] + [0] * 762)
    image.paste(1, (4, 4, 12, 12))
    loaded = _load(png_bytes(image, transparency=0))
    assert loaded.has_alpha is True
    assert loaded.rgba[0, 0, 3] == 0
    assert loaded.rgba[8, 8].tolist() == [255, 0, 0, 255]


def test_greyscale_becomes_rgb():
    loaded = _load(png_bytes(Image.new("L", (12, 12), 77)))
    assert loaded.rgba[3, 3].tolist() == [77, 77, 77, 255]


def test_16_bit_greyscale_is_scaled_not_clipped():
    array = np.full((12, 12), 32896, np.uint16)  # half of 65535 plus a bit: 128 in 8 bits
    loaded = _load(png_bytes(Image.fromarray(array)))
    assert loaded.rgba[0, 0].tolist() == [128, 128, 128, 255]


def test_cmyk_jpeg_becomes_rgb():
    loaded = _load(encode(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=100))
    r, g, b, a = loaded.rgba[8, 8].tolist()
    assert r < 10 and g > 245 and b > 245 and a == 255


def test_embedded_srgb_profile_is_applied_without_shifting_colours():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (16, 16), (120, 60, 200))
    loaded = _load(png_bytes(image, icc_profile=profile))
    assert np.abs(loaded.rgba[8, 8, :3].astype(int) - [120, 60, 200]).max() <= 2


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 10, 20))  # red on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90° clockwise turn
    loaded = _load(encode(image, "JPEG", quality=95, exif=exif.tobytes()))
    assert loaded.size == (20, 40)
    assert loaded.rgba[2, 10, 0] > 200 and loaded.rgba[2, 10, 2] < 60  # red now on top


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    loaded = _load(buffer.getvalue())
    assert loaded.rgba[8, 8, :3].tolist() == [255, 0, 0]
    assert loaded.notes == ["animated GIF with 2 frames: the first frame was used"]


@pytest.mark.parametrize("fmt", ["WEBP", "AVIF"])
def test_modern_formats_load(fmt):
    from PIL import features

    if not features.check(fmt.lower()):
        pytest.skip(f"this Pillow build cannot encode {fmt}")
    data = encode(Image.new("RGB", (32, 32), (30, 160, 90)), fmt, quality=95)
    loaded = _load(data)
    assert loaded.format == fmt
    assert np.abs(loaded.rgba[16, 16, :3].astype(int) - [30, 160, 90]).max() <= 8


# -- bad inputs: one test each, exact class, nothing returned --------------------------------


def test_empty_file_is_rejected():
    with pytest.raises(EmptyFile) as info:
        process_image(b"", PipelineConfig())
    assert info.value.message == "The file is empty (0 bytes)."


def test_text_file_is_not_an_image():
    with pytest.raises(NotAnImage) as info:
        process_image(b"name,price\nbag,20\n", PipelineConfig())
    assert info.value.message == "The file is not an image (it looks like text)."


def test_pdf_is_not_an_image():
    with pytest.raises(NotAnImage) as info:
        process_image(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", PipelineConfig())
    assert info.value.message == "The file is not an image (it looks like a PDF document)."


def test_truncated_jpeg_is_corrupt():
    data = encode(studio_photo(), "JPEG", quality=90)
    with pytest.raises(CorruptImage) as info:
        process_image(data[: len(data) // 2], PipelineConfig())
    assert info.value.message.startswith("The image file is damaged or incomplete")


def test_truncated_png_is_corrupt():
    data = png_bytes(studio_photo())
    with pytest.raises(CorruptImage):
        process_image(data[: len(data) - 200], PipelineConfig())


def test_too_many_bytes_is_rejected_before_decoding():
    data = png_bytes(studio_photo())
    with pytest.raises(ImageTooLarge) as info:
        process_image(data, PipelineConfig(max_input_bytes=len(data) - 1))
    assert "the limit is" in info.value.message


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height, with one tiny (invalid) data chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_too_many_pixels_is_rejected_before_decoding():
    with pytest.raises(ImageTooLarge) as info:
        process_image(_png_header_only(10_000, 6_000), PipelineConfig(max_pixels=50_000_000))
    assert info.value.message == (
        "The image is 10000x6000 (60.0 megapixels); the limit is 50.0 megapixels."
    )


def test_decompression_bomb_is_rejected_before_decoding():
    with pytest.raises(ImageTooLarge) as info:
        process_image(_png_header_only(60_000, 60_000), PipelineConfig(max_pixels=10**10))
    assert "decompression bomb" in info.value.message


def test_tiny_image_is_unsupported():
    with pytest.raises(UnsupportedImage):
        process_image(png_bytes(Image.new("RGB", (4, 4), (0, 0, 0))), PipelineConfig())


def test_blank_photo_has_no_product():
    with pytest.raises(NoProductFound):
        process_image(png_bytes(Image.new("RGB", (64, 64), (255, 255, 255))), PipelineConfig())
