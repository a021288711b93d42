"""Seeding for push throughput runs (bench/shopify_push.py and the tests that measure or drive
the outbox): products on the emulated shop, each with one merchant photo, and approved
generated images in the outbox. Needs Django set up: it writes the app's models."""

from __future__ import annotations

import hashlib
import time

from emulators.images import tiny_png
from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage, Store
from photosync.services.media import media_save


def seed_outbox(emulator, store: Store, *, products: int, per_product: int) -> list[int]:
    """Create `products` × `per_product` approved images; return their ids (not yet queued)."""
    ids = []
    for n in range(products):
        gid = emulator.create_product(store.domain, title=f"Product {n}", product_type="Demo",
                                      images=[(f"p{n}.png", tiny_png(10_000 + n), f"P{n}")])
        ids += product_outputs_seed(store, gid, count=per_product, seed=n * 100)
    return ids


def product_outputs_seed(store: Store, remote_id: str, *, count: int, seed: int = 0,
                         title: str = "") -> list[int]:
    """Record a store's product as PhotoSync knows it after one generation job: the product
    (with its current input hash, so the echo of a push generates nothing), its first
    original, a finished job and `count` generated outputs ready for review (distinct
    128 px PNGs). Returns the outputs' ids."""
    from photosync.services.products import product_input_hash
    from photosync.services.stores import store_adapter

    remote = store_adapter(store=store).get_product(remote_id)
    input_hash = product_input_hash(remote=remote, own_image_ids=set())
    product = Product.objects.create(store=store, remote_id=remote.remote_id,
                                     title=remote.title, product_type=remote.product_type,
                                     input_hash=input_hash, remote_updated_at=remote.updated_at)
    original = remote.images[0]
    data = tiny_png(10_000 + seed)
    source = SourceImage.objects.create(
        product=product, remote_id=original.remote_id, version=original.version,
        src=original.src, status="ok",
        file=media_save(folder=f"sources/{store.pk}/{product.pk}", data=data, extension="png"),
        content_hash=hashlib.sha256(data).hexdigest(),
    )
    job = GenerationJob.objects.create(store=store, product=product, input_hash=input_hash,
                                       dedupe_key=f"{product.pk}:{input_hash}",
                                       status="succeeded")
    ids = []
    for k in range(count):
        out = tiny_png(seed + k + 1, size=(128, 128))
        image = GeneratedImage.objects.create(
            job=job, product=product, source=source, kind="framed", preset="white-square",
            file=media_save(folder=f"generated/{store.pk}", data=out, extension="png"),
            content_hash=hashlib.sha256(out).hexdigest(), width=128, height=128,
            alt_text=f"{title or remote.title}, view {k}",
        )
        ids.append(image.pk)
    return ids


def approve_all(image_ids: list[int]) -> None:
    from photosync.services.review import image_approve

    for image in GeneratedImage.objects.filter(pk__in=image_ids):
        image_approve(image=image)


def wait_pushed(count: int, timeout: float) -> float:
    """Seconds until `count` pushes are finished (live or failed)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        done = Push.objects.filter(status__in=[Push.Status.LIVE, Push.Status.FAILED]).count()
        if done >= count:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"pushes did not finish in {timeout} s")
