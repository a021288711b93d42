"""A burst of products/create deliveries (a catalog import) through the Shopify emulator:
the events are drained in groups, the products re-read by id in a few `nodes(ids:)` calls,
and every product is ingested once. Points come from the emulator's own cost accounting
(emulators/shopify/cost.py charges `nodes` per id, so batching is not flattered)."""

from __future__ import annotations

import math

import pytest

from integrations.shopify.adapter import IDS_PER_CALL
from photosync.models import GenerationJob, Product, WebhookEvent
from photosync.services.stores import store_adapter
from photosync.services.sync import product_refresh
from tests.conftest import PHOTOS, drain_webhooks
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)

N = 120


def _points(emulator) -> tuple[int, int, int]:
    return emulator.stats["requested"], emulator.stats["cost"], emulator.stats["graphql"]


def test_a_burst_is_read_in_few_calls_and_every_product_is_ingested_once(
    emulator, shopify_store, broker, media_root
):
    photo = (PHOTOS / "luma-yoga-brick.jpg").read_bytes()
    # A product PhotoSync already holds, which the merchant edits and then deletes while the
    # burst waits: its products/update finds it gone and it is marked deleted.
    held = emulator.create_product(SHOP, title="Held", images=[("held.jpg", photo, "")])
    product_refresh(store_id=shopify_store.pk, remote_id=held)
    GenerationJob.objects.all().delete()

    gids = [emulator.create_product(SHOP, title=f"Burst {i}", product_type="Demo",
                                    images=[(f"burst{i}.jpg", photo, "")], notify=True)
            for i in range(N)]
    emulator.edit_product(SHOP, gids[3], title="Burst 3, renamed")  # a repeat of one product
    emulator.edit_product(SHOP, held, title="Held, edited")
    emulator.wait_for_webhooks()
    emulator.delete_product(SHOP, held)
    emulator.wait_for_webhooks()
    assert WebhookEvent.objects.filter(status="received").count() == N + 3

    emulator.stats.update(requested=0, cost=0, graphql=0)
    emulator.op_counts.clear()
    drain_webhooks(broker)
    batch_requested, batch_actual, batch_calls = _points(emulator)

    events = WebhookEvent.objects.all()
    assert sorted({(e.status, e.error) for e in events}) == [("processed", "")]
    assert WebhookEvent.objects.filter(claimed_by__isnull=False).count() == 0
    # Every product once: one row, one job each; the repeat read the latest state.
    products = Product.objects.filter(store=shopify_store, remote_id__in=gids)
    assert products.count() == N
    jobs = list(GenerationJob.objects.values_list("product__remote_id", flat=True))
    assert sorted(jobs) == sorted(gids)
    assert products.get(remote_id=gids[3]).title == "Burst 3, renamed"
    assert Product.objects.get(remote_id=held).deleted_at is not None
    # A few nodes(ids:) calls instead of one read per product.
    reads = emulator.op_counts.get("ProductsById", 0) + emulator.op_counts.get("Product", 0)
    assert emulator.op_counts.get("ProductsById", 0) >= 1
    assert reads <= math.ceil(N / IDS_PER_CALL) + 12, emulator.op_counts

    # The baseline: the same products re-read one call each, as before.
    emulator.stats.update(requested=0, cost=0, graphql=0)
    adapter = store_adapter(store=shopify_store)
    for gid in gids:
        adapter.get_product(gid)
    single_requested, single_actual, single_calls = _points(emulator)
    assert single_calls == N
    assert batch_requested * 3 < single_requested, (batch_requested, single_requested)
    # Shopify charges each object it returns: a batch spends no more than single reads.
    assert batch_actual <= single_actual * 1.05, (batch_actual, single_actual)
    print(f"\n{N} products: batch {batch_calls} calls, {batch_requested} requested / "
          f"{batch_actual} actual points; single {single_calls} calls, {single_requested} / "
          f"{single_actual}")


def test_a_batch_answers_null_for_a_deleted_product_as_a_single_read_raises_gone(
    emulator, shopify_store
):
    photo = (PHOTOS / "luma-yoga-brick.jpg").read_bytes()
    gids = [emulator.create_product(SHOP, title=f"P{i}", images=[(f"p{i}.jpg", photo, "")])
            for i in range(3)]
    emulator.delete_product(SHOP, gids[1])
    adapter = store_adapter(store=shopify_store)
    found = adapter.fetch_products([*gids, gids[0]])
    assert found[gids[1]] is None
    assert [found[g].title for g in (gids[0], gids[2])] == ["P0", "P2"]
    assert found[gids[0]] == adapter.get_product(gids[0])  # the same product as one read
    assert emulator.op_counts["ProductsById"] == 1
