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


def test_the_queue_and_product_answer_304_while_nothing_changed(
        client, operator, store, django_assert_max_num_queries):
    product = seed_product(store, title="Lamp")
    client.force_login(operator)
    for url in ("/api/v1/products/?status=waiting", f"/api/v1/products/{product.pk}/"):
        first = client.get(url)
        assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
        tag = first["ETag"]
        with django_assert_max_num_queries(6):  # session, user, 4 for the fingerprint
            again = client.get(url, HTTP_IF_NONE_MATCH=tag)
        assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag
        # Another filter or page is another answer.
        assert client.get(url + "&q=x" if "?" in url else url + "?x=1",
                          HTTP_IF_NONE_MATCH=tag).status_code == 200
    list_tag = client.get("/api/v1/products/?status=waiting")["ETag"]
    detail_tag = client.get(f"/api/v1/products/{product.pk}/")["ETag"]

    # A decision, a new output, a push: each is a new answer.
    scene = product.generated.get(kind="scene")
    assert client.post(f"/api/v1/images/{scene.pk}/reject").status_code == 200
    for url, tag in (("/api/v1/products/?status=waiting", list_tag),
                     (f"/api/v1/products/{product.pk}/", detail_tag)):
        changed = client.get(url, HTTP_IF_NONE_MATCH=tag)
        assert changed.status_code == 200 and changed["ETag"] != tag
    # Another operator never gets this one's 304.
    other = type(operator).objects.create_user("other", password="pw", is_staff=True)
    tag = client.get(f"/api/v1/products/{product.pk}/")["ETag"]
    client.force_login(other)
    assert client.get(f"/api/v1/products/{product.pk}/",
                      HTTP_IF_NONE_MATCH=tag).status_code == 200


def test_the_queue_says_how_many_products_are_being_generated(client, operator, store):
    product = seed_product(store, title="Lamp")
    client.force_login(operator)
    assert client.get("/api/v1/products/?status=waiting").json()["generating"] == 0
    product.jobs.update(status="running")
    assert client.get("/api/v1/products/?status=waiting").json()["generating"] == 1
