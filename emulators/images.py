"""Real image bytes for the emulated stores' catalogues (a merchant's photos, seeded galleries)."""

from __future__ import annotations

import io

from PIL import Image


def tiny_png(seed: int, size: tuple[int, int] = (96, 96)) -> bytes:
    """A solid-colour PNG whose colour (and so its bytes and hash) follows from `seed`."""
    out = io.BytesIO()
    Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256)).save(
        out, format="PNG")
    return out.getvalue()
