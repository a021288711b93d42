"""The review page's API additions (issue 16): a damaged picture answers 422 with its reason
(never a 500 with a traceback)."""

from __future__ import annotations

import pytest
from django.test import Client

from photosync.models import Store
from photosync.services.media import media_save
from tests.review_data import seed_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(media_root):
    return Store.objects.create(platform="local", domain="/tmp/review-api", name="Shop")


def test_a_damaged_original_or_output_answers_422_with_the_reason(client, operator, store):
    product = seed_product(store, title="Lamp", outputs=(("framed", []),))
    source = product.sources.get()
    source.file = media_save(folder=f"sources/{store.pk}", data=b"\x89PNG\r\n\x1a\nbroken",
                             extension="png")
    source.save()
    output = product.generated.get()
    output.file = media_save(folder=f"generated/{store.pk}", data=b"not a picture",
                             extension="png")
    output.save()
    client.force_login(operator)
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    anonymous = Client(raise_request_exception=False)
    for url in (detail["sources"][0]["original"], detail["generated"][0]["thumb"]):
        answer = anonymous.get(url)
        assert answer.status_code == 422, url
        assert answer["Content-Type"].startswith("text/plain")
        assert answer["Cache-Control"] == "no-store"
        text = answer.content.decode()
        assert "not a picture that can be shown" in text and "Traceback" not in text
    # The full-size original is the file itself, as stored (the merchant may download it).
    assert anonymous.get(detail["sources"][0]["original_full"]).status_code == 200
