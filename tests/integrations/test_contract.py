"""The adapter contract battery: the same invariants, through the app (API, outbox, a real
Dramatiq worker), for every store PhotoSync writes to (`conftest.PLATFORMS`).

- concurrent approvals of one product's outputs all land (and the originals keep their order);
- rollback removes only our image: the merchant's later photos, order and featured choice
  stay, and the featured image is restored only where ours is featured now;
- alt text and featured edits of a live image reach the store, with the push's statuses;
- our media that the store failed to process is taken off, with the store's reason, and
  Retry uploads it again (where the platform processes media asynchronously);
- the echo of our writes generates nothing;
- deleting the product on the store stops its pushes: the product leaves the queue (listed
  under "deleted"), a push on its way is cancelled with the reason, and nothing more is
  pushed to it, whether the store's webhook or a reconcile sweep tells us;
- a variant's own image is a source tied to that variant; its approved output ends on that
  variant (the parent's gallery keeps the merchant's photos in order: on Shopify ours is
  added to it, on WooCommerce it is not touched), and rollback gives the variant its image
  back (where the store has variants: not a folder store).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from dramatiq import Worker

from bench.seed import product_outputs_seed
from photosync.models import GeneratedImage, GenerationJob, Push, SourceImage, WebhookEvent
from photosync.services.sync import product_refresh, store_reconcile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def push_worker(broker):
    """A worker with enough threads for pushes to really run at the same time."""
    w = Worker(broker, worker_threads=6, worker_timeout=100)
    w.start()
    yield w
    w.stop()


@pytest.fixture
def api(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def approve(client: Client, image_id: int, alt: str, featured: bool = False) -> dict:
    response = client.post(f"/api/v1/images/{image_id}/approve",
                           {"alt_text": alt, "featured": featured},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    return response.json()


def approve_at_once(operator, approvals: list[tuple[int, str]]) -> list[int]:
    """Every approval from its own thread and session, released together."""
    barrier = threading.Barrier(len(approvals))
    statuses: list[int] = []

    def one(image_id: int, alt: str) -> None:
        client = Client()
        client.force_login(operator)
        barrier.wait()
        try:
            statuses.append(client.post(f"/api/v1/images/{image_id}/approve",
                                        {"alt_text": alt}, content_type="application/json")
                            .status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=a) for a in approvals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def push_of(image_id: int) -> Push:
    return Push.objects.get(image_id=image_id)


def live(harness, broker, worker, *image_ids: int) -> list[Push]:
    harness.settle(broker, worker)
    pushes = [push_of(i) for i in image_ids]
    assert [(p.status, p.error) for p in pushes] == [("live", "")] * len(pushes)
    return pushes


def test_concurrent_approvals_of_one_product_all_land(harness, broker, push_worker, operator):
    count = 6 if harness.store.name.startswith("photosync-b1-") else 35  # the real store: 6
    remote_id, originals = harness.product("Concurrent Watch")
    ids = product_outputs_seed(harness.store, remote_id, count=count)
    alts = {i: f"Watch, view {n}" for n, i in enumerate(ids)}

    assert approve_at_once(operator, list(alts.items())) == [202] * count
    pushes = live(harness, broker, push_worker, *ids)

    gallery = harness.gallery(remote_id)
    ours = [p.remote_id for p in pushes]
    assert gallery[:len(originals)] == originals  # the merchant's photos, in their order
    assert sorted(gallery[len(originals):]) == sorted(ours)  # each of ours, exactly once
    assert len(set(ours)) == count
    shown = harness.alts(remote_id)
    assert {p.image_id: shown[p.remote_id] for p in pushes} == alts


def test_rollback_keeps_the_merchants_later_photo_and_featured_choice(
        harness, broker, push_worker, api):
    remote_id, originals = harness.product("Rollback Watch")
    first, second = product_outputs_seed(harness.store, remote_id, count=2)
    approve(api, first, "Ours, featured", featured=True)
    harness.settle(broker, push_worker)
    approve(api, second, "Ours, second")
    ours, later = live(harness, broker, push_worker, first, second)
    assert harness.gallery(remote_id) == [ours.remote_id, *originals, later.remote_id]

    theirs = []
    if harness.merchant_gallery:  # after our push the merchant adds a photo, featured
        theirs = [harness.merchant_adds_featured(remote_id)]
        assert harness.gallery(remote_id)[0] == theirs[0]
    response = api.post(f"/api/v1/pushes/{ours.pk}/rollback")
    assert response.status_code == 200, response.content
    harness.settle(broker, push_worker)

    # Only our image went: their photo stays featured, everything else where it was.
    assert harness.gallery(remote_id) == [*theirs, *originals, later.remote_id]
    assert push_of(first).status == "rolled_back"
    assert push_of(second).status == "live"


def test_rollback_restores_the_featured_image_only_where_ours_is_featured(
        harness, broker, push_worker, api):
    if not harness.merchant_gallery:
        pytest.skip("a folder store's approved images have no merchant order to keep")
    remote_id, originals = harness.product("Order Watch")
    first, second = product_outputs_seed(harness.store, remote_id, count=2)
    approve(api, first, "Ours, featured", featured=True)
    (ours,) = live(harness, broker, push_worker, first)
    one, two, three = originals
    harness.merchant_orders(remote_id, [ours.remote_id, one, three, two])  # theirs reordered
    assert api.post(f"/api/v1/pushes/{ours.pk}/rollback").status_code == 200
    # Ours was featured: the image featured before it is again; their new order stays.
    assert harness.gallery(remote_id) == [one, three, two]

    approve(api, second, "Ours again, featured", featured=True)
    (again,) = live(harness, broker, push_worker, second)
    harness.merchant_orders(remote_id, [three, again.remote_id, one, two])  # theirs featured
    assert api.post(f"/api/v1/pushes/{again.pk}/rollback").status_code == 200
    # Ours was no longer featured: their featured choice stays.
    assert harness.gallery(remote_id) == [three, one, two]


def test_alt_text_and_featured_edits_of_a_live_image_reach_the_store(
        harness, broker, push_worker, api):
    remote_id, originals = harness.product("Edit Watch")
    (image,) = product_outputs_seed(harness.store, remote_id, count=1)
    approve(api, image, "Before")
    (push,) = live(harness, broker, push_worker, image)
    assert harness.alts(remote_id)[push.remote_id] == "Before"
    assert harness.gallery(remote_id) == [*originals, push.remote_id]

    answer = approve(api, image, "After", featured=True)  # a live image, approved again
    (updated,) = live(harness, broker, push_worker, image)
    assert harness.gallery(remote_id) == [push.remote_id, *originals]
    assert harness.alts(remote_id)[push.remote_id] == "After"
    assert (answer["status"], answer["action"]) == ("queued", "update")
    assert (updated.remote_id, updated.kind, updated.sent_alt) == (push.remote_id, "update",
                                                                     "After")

    approve(api, image, "After", featured=False)  # no longer featured: back behind theirs
    live(harness, broker, push_worker, image)
    assert harness.gallery(remote_id) == [*originals, push.remote_id]
    before = Push.objects.get(pk=push.pk).updated_at
    approve(api, image, "After", featured=False)  # the same again: nothing to send
    assert Push.objects.get(pk=push.pk).updated_at == before


def test_media_the_store_failed_is_taken_off_and_retry_uploads_it_again(
        harness, broker, push_worker, api):
    if not harness.async_media:
        pytest.skip("this platform takes an image in the request or refuses it there")
    remote_id, originals = harness.product("Failing Watch")
    (image,) = product_outputs_seed(harness.store, remote_id, count=1)
    harness.fail_next_media()
    approve(api, image, "Fails once", featured=True)
    harness.settle(broker, push_worker)

    push = push_of(image)
    assert push.status == "failed"
    assert "Image could not be processed" in push.error  # the store's own reason
    assert push.remote_id == ""  # nothing of ours is left on the product...
    assert harness.gallery(remote_id) == originals  # ...and their featured image is back
    assert api.get(f"/api/v1/pushes/?product={push.product_id}").json()["results"][0][
        "can_rollback"] is False

    assert api.post(f"/api/v1/pushes/{push.pk}/retry").status_code == 202
    (again,) = live(harness, broker, push_worker, image)
    assert harness.gallery(remote_id) == [again.remote_id, *originals]


def test_the_echo_of_our_writes_generates_nothing(harness, broker, push_worker, api):
    remote_id, _ = harness.product("Echo Watch")
    first, second = product_outputs_seed(harness.store, remote_id, count=2)
    approve(api, first, "Echo one", featured=True)
    approve(api, second, "Echo two")
    pushes = live(harness, broker, push_worker, first, second)
    approve(api, first, "Echo one, edited", featured=True)
    live(harness, broker, push_worker, first)
    assert api.post(f"/api/v1/pushes/{pushes[1].pk}/rollback").status_code == 200
    harness.settle(broker, push_worker)

    jobs = GenerationJob.objects.count()
    product = pushes[0].product
    assert product_refresh(store_id=harness.store.pk, remote_id=product.remote_id) is None
    harness.settle(broker, push_worker)
    assert GenerationJob.objects.count() == jobs == 1
    events = WebhookEvent.objects.filter(store=harness.store)
    assert {e.status for e in events} <= {"processed", "ignored"}, [  # ignored: stale
        (e.topic, e.status, e.error) for e in events]
    assert GeneratedImage.objects.filter(product=product).count() == 2


# --- Deletions (issue 14 item 5) and variant images (item 6) add their invariants here. ---


def test_deleting_the_product_on_the_store_stops_its_pushes(harness, broker, push_worker, api):
    remote_id, _ = harness.product("Deleted Watch")
    first, second, third = product_outputs_seed(harness.store, remote_id, count=3)
    approve(api, first, "Live before")
    (pushed,) = live(harness, broker, push_worker, first)
    product = pushed.product
    queued = GenerationJob.objects.create(store=harness.store, product=product,
                                          input_hash="x", dedupe_key=f"{product.pk}:waiting")

    push_worker.pause()  # the next approval waits in the outbox while the product goes
    approve(api, second, "On its way")
    harness.merchant_deletes(remote_id)
    if harness.webhooks:  # the store's deletion webhook alone takes it out of the queue
        harness._deliveries()
    else:  # no webhooks: the sweep notices the product is gone
        store_reconcile(store=harness.store, sweep=True)
    push_worker.resume()
    harness.settle(broker, push_worker)

    product.refresh_from_db()
    assert product.deleted_at is not None
    on_its_way = push_of(second)
    assert on_its_way.status == "cancelled", (on_its_way.status, on_its_way.error)
    assert "deleted" in on_its_way.error or "trash" in on_its_way.error
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("cancelled", on_its_way.error)
    assert push_of(first).status == "live"  # what was live stays as it was

    listed = api.get("/api/v1/products/?status=all").json()
    assert product.pk not in [p["id"] for p in listed["results"]]
    deleted = api.get("/api/v1/products/?status=deleted").json()
    assert [p["id"] for p in deleted["results"]] == [product.pk]
    assert deleted["results"][0]["deleted_at"]
    assert listed["counts"]["deleted"] == 1

    approve(api, third, "After the deletion")  # nothing is pushed to a deleted product
    harness.settle(broker, push_worker)
    late = push_of(third)
    assert late.status == "cancelled" and late.remote_id == ""
    assert api.post(f"/api/v1/pushes/{late.pk}/retry").status_code == 409


def variant_output_seed(harness, remote_id: str, variant: str) -> int:
    """One output ready for review of the variant's own photo: the product as ingest leaves
    it (a source per photo the store lists, each tied to its variant as the adapter says)."""
    from photosync.services.stores import store_adapter

    (image,) = product_outputs_seed(harness.store, remote_id, count=1)
    output = GeneratedImage.objects.get(pk=image)
    remote = store_adapter(store=harness.store).get_product(remote_id)
    first = output.source
    for img in remote.images[1:]:
        SourceImage.objects.create(product=output.product, remote_id=img.remote_id,
                                   version=img.version, src=img.src, alt=img.alt,
                                   position=img.position, status="ok", file=first.file.name,
                                   variant_id=img.variant_id)
    SourceImage.objects.filter(pk=first.pk).update(variant_id=remote.images[0].variant_id)
    (tied,) = SourceImage.objects.filter(product=output.product, variant_id=variant)
    GeneratedImage.objects.filter(pk=image).update(source=tied)
    return image


def test_an_output_of_a_variant_image_lands_on_that_variant_and_rollback_gives_it_back(
        harness, broker, push_worker, api):
    if harness.no_variants:
        pytest.skip(harness.no_variants)
    remote_id, variant, theirs, gallery = harness.variant_product("Variant Watch")
    assert harness.variant_shows(variant) == [theirs]
    image = variant_output_seed(harness, remote_id, variant)
    approve(api, image, "Ours, on the variant")
    (push,) = live(harness, broker, push_worker, image)

    assert harness.variant_shows(variant) == [push.remote_id]
    ours = [push.remote_id] if harness.variant_media_in_gallery else []
    assert harness.gallery(remote_id) == [*gallery, *ours]  # theirs first, in their order
    assert GenerationJob.objects.count() == 1  # the echo generated nothing

    assert api.post(f"/api/v1/pushes/{push.pk}/rollback").status_code == 200
    harness.settle(broker, push_worker)
    assert harness.variant_shows(variant) == [theirs]
    assert harness.gallery(remote_id) == gallery
    assert push_of(image).status == "rolled_back"
