"""Review data for the admin page's tests: products with an original and generated outputs,
as the pipeline leaves them (small real PNG files in MEDIA_ROOT, fidelity numbers, flags),
without running the pipeline."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageDraw

from photosync.models import GeneratedImage, GenerationJob, Product, SourceImage, Store
from photosync.services.media import media_save

CLEAN = {"product_pixels_compared": 5210, "product_max_abs_diff": 0,
         "product_mean_abs_diff": 0.0, "background_purity": 0.9991,
         "background_purity_outside_shadow": 1.0, "fill_ratio": 0.8, "mask_area_fraction": 0.31,
         "mask_components": 1, "mask_border_contact": 0.0}
FLAG = {"code": "colour_drift",
        "message": "The product's colours drifted from the original (mean ΔE 4.2)."}


def png(seed: int, size: tuple[int, int] = (256, 256), scene: bool = False) -> bytes:
    """A small picture: a coloured product shape on white (framed) or on a tinted floor."""
    background = (236, 232, 224) if scene else (255, 255, 255)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    w, h = size
    colour = ((seed * 67) % 200 + 20, (seed * 131) % 200 + 20, (seed * 29) % 200 + 30)
    if scene:
        draw.rectangle([0, int(h * 0.68), w, h], fill=(214, 206, 196))
    draw.rounded_rectangle([w * 0.3, h * 0.18, w * 0.7, h * 0.78], radius=w // 10, fill=colour)
    draw.ellipse([w * 0.38, h * 0.3, w * 0.62, h * 0.54], fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def seed_product(
    store: Store,
    *,
    title: str,
    remote_id: str | None = None,
    outputs: tuple[tuple[str, list[str]], ...] = (("framed", []), ("scene", [])),
    seed: int = 1,
    source_remote_id: str = "front.jpg",
    source_version: str = "1",
) -> Product:
    """A product of `store` with one original and `outputs` ((kind, flags), ...) waiting."""
    product = Product.objects.create(store=store, remote_id=remote_id or f"p-{seed}",
                                     title=title, product_type="Demo", input_hash=f"h{seed}")
    data = png(seed)
    source = SourceImage.objects.create(
        product=product, remote_id=source_remote_id, version=source_version, status="ok",
        alt=title, file=media_save(folder=f"sources/{store.pk}", data=data, extension="png"),
        content_hash=hashlib.sha256(data).hexdigest(), width=256, height=256,
    )
    job = GenerationJob.objects.create(
        store=store, product=product, input_hash=product.input_hash,
        dedupe_key=f"{product.pk}:{product.input_hash}", status="succeeded",
        config={"frame_preset": "white-square", "scene_presets": ["studio-sweep"],
                "variations": 1, "shadow": "contact"},
    )
    for n, (kind, flags) in enumerate(outputs):
        out = png(seed * 10 + n, scene=kind == "scene")
        GeneratedImage.objects.create(
            job=job, product=product, source=source, kind=kind,
            preset="white-square" if kind == "framed" else "studio-sweep",
            generator="classical" if kind == "framed" else "procedural",
            seed=None if kind == "framed" else 1000 + n,
            file=media_save(folder=f"generated/{store.pk}", data=out, extension="png"),
            content_hash=hashlib.sha256(out).hexdigest(), width=256, height=256,
            metrics=dict(CLEAN, delta_e_mean=4.2) if flags else dict(CLEAN), flags=list(flags),
            alt_text=f"{title}, {kind}",
        )
    return product
