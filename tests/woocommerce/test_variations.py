"""WooCommerce variation images (issue 14, item 6): a variation's own image is a source, and
an approved output of it becomes that variation's image (the parent's gallery untouched);
rollback gives the variation its image back. Real pipeline, real worker, the emulator's
`/products/<id>/variations/<vid>` with its single `image`."""

from __future__ import annotations

import pytest

from photosync.models import GeneratedImage, Push, SourceImage
from photosync.services.woocommerce.connect import woocommerce_store_connect
from tests.conftest import drain
from tests.woocommerce.conftest import photo_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def settle(woo, broker, worker) -> None:
    for _ in range(3):
        woo.wait_deliveries()
        drain(broker, worker)


def test_a_variation_image_is_generated_and_its_output_goes_back_to_the_variation(
        live_server, settings, media_root, woo_options, woo, client, operator, broker,
        worker):
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    key, secret = woo.add_key()
    store = woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    pid = woo.create_product("Variable Watch", [("mg01-bk-0.jpg", photo_bytes())],
                             kind="variable")
    vid = woo.create_variation(pid, "Variable Watch - Grey")
    theirs = woo.upload("grey.jpg", photo_bytes("lt01.jpg"), alt="Grey strap")
    woo.set_variation_image(vid, theirs)
    settle(woo, broker, worker)
    gallery = woo.gallery(pid)

    sources = {s.remote_id: s.variant_id for s in SourceImage.objects.filter(
        product__store=store)}
    assert sources == {str(gallery[0]): "", str(theirs): str(vid)}
    output = GeneratedImage.objects.filter(source__variant_id=str(vid),
                                           kind="framed").first()
    assert output is not None and output.status == "ready"

    client.force_login(operator)
    response = client.post(f"/api/v1/images/{output.pk}/approve", {"alt_text": "Grey, ours"},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    settle(woo, broker, worker)
    push = Push.objects.get(image=output)
    assert (push.status, push.error) == ("live", "")
    assert woo.gallery(vid) == [int(push.remote_id)]  # the variation's one image is ours
    assert woo.attachments[int(push.remote_id)]["alt"] == "Grey, ours"
    assert woo.gallery(pid) == gallery  # the parent's gallery is as the merchant left it
    assert GeneratedImage.objects.filter(source__variant_id=str(vid)).count() == \
        GeneratedImage.objects.filter(source__variant_id="").count()  # the echo: nothing new

    assert push.previous_state == {"variation_image_id": theirs}
    rolled = client.post(f"/api/v1/pushes/{push.pk}/rollback")
    assert rolled.status_code == 200, rolled.content
    assert woo.gallery(vid) == [theirs]
    assert woo.gallery(pid) == gallery
