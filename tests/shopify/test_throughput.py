"""200 pushes under emulated Standard-plan throttling: cost-based leaky bucket of 1,000
points; restore rate scaled up 10× (1,000 points/s) to keep the test short. The real-rate run
(100 points/s) is bench/shopify_push.py, which reports time against the rate-limit floor."""

from __future__ import annotations

import pytest

from bench.seed import approve_all, seed_outbox, wait_pushed
from photosync.models import GeneratedImage, GenerationJob, Push
from tests.conftest import drain
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTS, PER_PRODUCT = 50, 4


def test_two_hundred_pushes_finish_without_errors_and_rarely_throttled(
    emulator, shopify_store, broker, worker, media_root
):
    emulator.shops[SHOP].bucket.restore_rate = 1000.0
    emulator.media_delays = (0.05, 0.1)
    image_ids = seed_outbox(emulator, shopify_store, products=PRODUCTS, per_product=PER_PRODUCT)
    emulator.stats.update(graphql=0, throttled=0, cost=0)

    approve_all(image_ids)
    elapsed = wait_pushed(PRODUCTS * PER_PRODUCT, timeout=240)
    emulator.wait_for_webhooks()
    drain(broker, worker, timeout=120)

    pushes = list(Push.objects.all())
    assert len(pushes) == 200
    assert [p.error for p in pushes if p.status != Push.Status.LIVE] == []
    assert GeneratedImage.objects.filter(status="pushed").count() == 200
    calls, throttled = emulator.stats["graphql"], emulator.stats["throttled"]
    assert throttled <= 0.02 * calls, (throttled, calls)
    # Each product: the merchant's photo first, then our four, all processed, alt text set.
    for product in shopify_store.products.all():
        media = emulator.product_media(SHOP, product.remote_id)
        assert len(media) == 1 + PER_PRODUCT
        assert all(m["status"] == "READY" for m in media)
        assert sorted(m["alt"] for m in media[1:]) == sorted(
            product.generated.values_list("alt_text", flat=True))
    # The 200 echoes of our pushes generated nothing.
    assert GenerationJob.objects.count() == PRODUCTS
    print(f"\n200 pushes in {elapsed:.1f} s; {calls} GraphQL calls, {throttled} throttled, "
          f"{emulator.stats['cost']} points")
