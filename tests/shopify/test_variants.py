"""Shopify variant media (issue 14, item 6): a variant's own media is a source tied to the
variant; an approved output of it goes on the product (gallery rules as for any push) and
then, once READY, onto that variant (productVariantAppendMedia); rollback gives the variant
its media back (productVariantDetachMedia) before our media leaves the product. Real
pipeline, real worker, the emulator's variants; and the emulator's own refusals, which
follow the schema's MediaUserErrorCode."""

from __future__ import annotations

import hashlib
import time

import pytest

from emulators.shopify import state as st
from emulators.shopify.schema import API_VERSION
from integrations.base import MediaStatus, NewImage, variant_target
from integrations.shopify import queries as q
from integrations.shopify.variants import variant_field, variant_gids
from photosync.models import GeneratedImage, GenerationJob, Push, SourceImage
from photosync.services.stores import store_adapter
from tests.conftest import PHOTOS, drain
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)


def _settle(emulator, broker, worker) -> None:
    for _ in range(3):
        emulator.wait_for_webhooks()
        drain(broker, worker, timeout=180)
    emulator.wait_for_webhooks()


def _photos(*names):
    return [(n, (PHOTOS / n).read_bytes(), f"Merchant {n}") for n in names]


def test_a_variant_image_is_generated_and_its_output_goes_to_the_variant(
        emulator, shopify_store, broker, worker, client, operator):
    pid = emulator.create_product(SHOP, title="Variant Watch", product_type="Watches",
                                  images=_photos("mg01-bk-0.jpg", "lt01.jpg"))
    first, grey = [m["id"] for m in emulator.product_media(SHOP, pid)]
    black = emulator.add_variant(SHOP, pid, "Black", notify=False)
    variant = emulator.add_variant(SHOP, pid, "Grey", grey, notify=False)
    emulator.notify(SHOP, "products/create", st.gid_number(pid))
    _settle(emulator, broker, worker)

    number = variant.rsplit("/", 1)[-1]
    sources = {s.remote_id: s.variant_id for s in SourceImage.objects.filter(
        product__store=shopify_store)}
    assert sources == {first: "", grey: number}  # the photo knows its variant
    output = GeneratedImage.objects.filter(source__variant_id=number, kind="framed").first()
    assert output is not None and output.status == "ready"

    client.force_login(operator)
    response = client.post(f"/api/v1/images/{output.pk}/approve", {"alt_text": "Grey, ours"},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    _settle(emulator, broker, worker)
    push = Push.objects.get(image=output)
    assert (push.status, push.error) == ("live", "")
    assert emulator.variant_media(SHOP, variant) == [push.remote_id]  # the variant shows ours
    assert emulator.variant_media(SHOP, black) == []  # the other variant untouched
    gallery = emulator.product_media(SHOP, pid)
    assert [m["id"] for m in gallery] == [first, grey, push.remote_id]  # theirs kept, in order
    assert gallery[2]["alt"] == "Grey, ours"
    assert push.previous_state["variant_media"] == {variant: [grey]}
    jobs = GenerationJob.objects.count()
    emulator.notify(SHOP, "products/update", st.gid_number(pid))  # an echo once more
    _settle(emulator, broker, worker)
    assert GenerationJob.objects.count() == jobs  # the echo generates nothing...
    assert SourceImage.objects.get(remote_id=grey).variant_id == number  # ...nor unties it

    rolled = client.post(f"/api/v1/pushes/{push.pk}/rollback")
    assert rolled.status_code == 200, rolled.content
    _settle(emulator, broker, worker)
    assert emulator.variant_media(SHOP, variant) == [grey]  # their photo is the variant's again
    assert [m["id"] for m in emulator.product_media(SHOP, pid)] == [first, grey]
    assert Push.objects.get(pk=push.pk).status == "rolled_back"


def _gql(emulator, token, document, variables):
    status, body = emulator.graphql(token, API_VERSION, {"query": document.text,
                                                        "variables": variables})
    assert status == 200 and not body.get("errors"), body
    return body["data"]


def _codes(payload) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


def test_the_emulator_refuses_what_shopify_documents_for_variant_media(emulator):
    token = emulator.issue_token(SHOP)
    pid = emulator.create_product(SHOP, title="Refusing", images=_photos("mg01-bk-0.jpg",
                                                                         "lt01.jpg"))
    one, two = [m["id"] for m in emulator.product_media(SHOP, pid)]
    other = emulator.create_product(SHOP, title="Other", images=_photos("ug05-gr-0.jpg"))
    elsewhere = emulator.product_media(SHOP, other)[0]["id"]
    variant = emulator.add_variant(SHOP, pid, "Red", one, notify=False)
    shop = emulator.shops[SHOP]
    with shop.lock:  # a media the store is still processing
        busy = emulator._new_media(shop, "busy.jpg", (PHOTOS / "lt01.jpg").read_bytes(),
                                   "image/jpeg", "", delays=(60, 120))
        shop.products[st.gid_number(pid)].media_ids.append(busy.id)
    busy_gid = st.gid("MediaImage", busy.id)

    def append(media, v=variant):
        return _gql(emulator, token, q.PRODUCT_VARIANT_APPEND_MEDIA, {
            "productId": pid, "variantMedia": [{"variantId": v, "mediaIds": media}]},
        )["productVariantAppendMedia"]

    def detach(media):
        return _gql(emulator, token, q.PRODUCT_VARIANT_DETACH_MEDIA, {
            "productId": pid, "variantMedia": [{"variantId": variant, "mediaIds": media}]},
        )["productVariantDetachMedia"]

    assert _codes(append([two])) == ["PRODUCT_VARIANT_ALREADY_HAS_MEDIA"]
    assert _codes(append([one, two])) == ["TOO_MANY_MEDIA_PER_INPUT_PAIR"]
    assert _codes(detach([two])) == ["MEDIA_IS_NOT_ATTACHED_TO_VARIANT"]
    assert emulator.variant_media(SHOP, variant) == [one]  # nothing applied
    assert _codes(detach([one])) == []
    assert _codes(append([elsewhere])) == ["MEDIA_DOES_NOT_EXIST_ON_PRODUCT"]
    assert _codes(append([busy_gid])) == ["NON_READY_MEDIA"]
    assert _codes(append([two], v="gid://shopify/ProductVariant/1")) == [
        "PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT"]
    assert emulator.variant_media(SHOP, variant) == []
    assert _codes(append([two])) == []
    assert emulator.variant_media(SHOP, variant) == [two]

    read = _gql(emulator, token, q.PRODUCT_VARIANT_MEDIA, {"id": pid, "after": None})
    assert read["product"]["variants"]["nodes"] == [
        {"id": variant, "media": {"nodes": [{"id": two}]}}]
    assert _gql(emulator, token, q.PRODUCT, {"id": pid, "after": None})["product"][
        "hasOnlyDefaultVariant"] is False
    assert _gql(emulator, token, q.PRODUCT, {"id": other, "after": None})["product"][
        "hasOnlyDefaultVariant"] is True
    deleted = _gql(emulator, token, q.FILE_DELETE, {"ids": [two]})["fileDelete"]
    assert deleted["userErrors"] == []
    assert emulator.variant_media(SHOP, variant) == []  # a deleted file leaves the variant


def test_a_photo_several_variants_show_is_one_source_tied_to_all_of_them(
        emulator, shopify_store):
    pid = emulator.create_product(SHOP, title="Shared", images=_photos("mg01-bk-0.jpg",
                                                                       "lt01.jpg"))
    first, grey = [m["id"] for m in emulator.product_media(SHOP, pid)]
    small = emulator.add_variant(SHOP, pid, "Grey / S", grey, notify=False)
    large = emulator.add_variant(SHOP, pid, "Grey / L", grey, notify=False)
    emulator.add_variant(SHOP, pid, "Black / S", notify=False)
    remote = store_adapter(store=shopify_store).get_product(pid)
    tied = {img.remote_id: img.variant_id for img in remote.images}
    assert tied == {first: "", grey: variant_field([small, large])}
    assert variant_gids(tied[grey]) == [small, large]  # the push target names both
    many = [f"gid://shopify/ProductVariant/{7_300_000_000_000 + n}" for n in range(40)]
    assert len(variant_field(many)) <= 255  # as many as SourceImage.variant_id holds

    # An output of that photo goes to both variants, and rollback gives both theirs back.
    adapter = store_adapter(store=shopify_store)
    data = (PHOTOS / "ug05-gr-0.jpg").read_bytes()
    target = variant_target(pid, tied[grey])
    pushed = adapter.push_image(target, NewImage(
        data=data, filename="ours.jpg", content_type="image/jpeg",
        content_hash=hashlib.sha256(data).hexdigest(), alt="Ours"))
    deadline = time.monotonic() + 30
    while (state := adapter.push_status(target, pushed.remote_id)).status \
            is not MediaStatus.LIVE and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state.on_variant is False  # READY on the product, not yet on the variants
    adapter.update_image(target, pushed.remote_id)
    assert adapter.push_status(target, pushed.remote_id).on_variant is True
    assert [emulator.variant_media(SHOP, v) for v in (small, large)] == [
        [pushed.remote_id], [pushed.remote_id]]
    adapter.rollback(target, pushed.remote_id, pushed.previous_state)
    assert [emulator.variant_media(SHOP, v) for v in (small, large)] == [[grey], [grey]]
    assert [m["id"] for m in emulator.product_media(SHOP, pid)] == [first, grey]
