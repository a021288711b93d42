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
        # session, user, 4 for the fingerprint; the queue's 2 for its delay banner
        with django_assert_max_num_queries(8 if "?" in url else 6):
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


def test_a_reject_is_undone_without_regenerating_or_using_quota(client, operator, store):
    from photosync.models import GenerationJob
    from photosync.selectors import store_usage

    product = seed_product(store, title="Lamp")
    scene = product.generated.get(kind="scene")
    client.force_login(operator)
    used = store_usage(store=store)["used"]
    assert client.post(f"/api/v1/images/{scene.pk}/reject").status_code == 200
    reopened = client.post(f"/api/v1/images/{scene.pk}/reopen")
    assert reopened.status_code == 200 and reopened.json()["status"] == "ready"
    scene.refresh_from_db()
    assert scene.status == "ready" and scene.decided_by is None and scene.decided_at is None
    assert GenerationJob.objects.filter(product=product).count() == 1  # nothing made again
    assert store_usage(store=store)["used"] == used
    # Only a rejected output can be reopened; then it can be approved as any other.
    again = client.post(f"/api/v1/images/{scene.pk}/reopen")
    assert again.status_code == 409 and "Only a rejected image" in again.json()["detail"]
    assert client.post(f"/api/v1/images/{scene.pk}/approve", {"alt_text": "x"},
                       content_type="application/json").status_code == 202


def test_an_approve_is_undone_only_until_its_push_starts(client, operator, store):
    from photosync.models import Push

    product = seed_product(store, title="Lamp")
    framed, scene = product.generated.get(kind="framed"), product.generated.get(kind="scene")
    client.force_login(operator)
    for image in (framed, scene):
        assert client.post(f"/api/v1/images/{image.pk}/approve", {"featured": True},
                           content_type="application/json").status_code == 202
    # Not started (no worker in this test): taken back, the outbox row goes.
    undone = client.post(f"/api/v1/images/{framed.pk}/unapprove")
    assert undone.status_code == 200 and undone.json()["status"] == "ready"
    assert not Push.objects.filter(image=framed).exists()
    framed.refresh_from_db()
    assert framed.status == "ready" and not framed.featured
    # Started: the store may have it already; Roll back is the way.
    Push.objects.filter(image=scene).update(status="uploading", attempts=1)
    refused = client.post(f"/api/v1/images/{scene.pk}/unapprove")
    assert refused.status_code == 409 and "roll it back" in refused.json()["detail"]
    assert Push.objects.filter(image=scene).exists()
    scene.refresh_from_db()
    assert scene.status == "approved"
    # A message already sent for the deleted row finds nothing to do.
    from photosync.services.pushes import push_send

    assert push_send(push_id=999999) is None


def test_the_prompt_field_says_what_the_scene_generator_does_with_a_prompt(
        client, operator, store, settings):
    from pipeline.presets import SCENE_PRESETS, custom_scene

    client.force_login(operator)
    guidance = client.get(f"/api/v1/settings/?store={store.pk}").json()["choices"][
        "custom_prompt"]
    assert guidance["generator"] == "procedural"
    assert "does not read sentences" in guidance["summary"]
    assert "none of them: Studio sweep" in guidance["summary"]
    # Each word listed really picks its style's backdrop (the pipeline's own rule), and a
    # prompt with none of them gets the default.
    assert guidance["keywords"], "no keywords listed"
    listed = set()
    for entry in guidance["keywords"]:
        for word in entry["words"]:
            listed.add(word)
            assert custom_scene(f"a lamp, {word}").backdrop is (
                SCENE_PRESETS[entry["preset"]].backdrop), word
    assert listed == {w for p in SCENE_PRESETS.values() for w in p.tags}  # every word it knows
    assert custom_scene("a sentence it cannot read").backdrop is (
        SCENE_PRESETS[guidance["default"]].backdrop)

    settings.PHOTOSYNC_SCENE_GENERATOR = "diffusers:stabilityai/sdxl-turbo"
    guidance = client.get(f"/api/v1/settings/?store={store.pk}").json()["choices"][
        "custom_prompt"]
    assert guidance["generator"] == "diffusers"
    assert "stabilityai/sdxl-turbo" in guidance["summary"]


def test_a_single_approve_waits_out_its_undo_window_and_a_bulk_approve_does_not(
        client, operator, store, settings, broker, django_capture_on_commit_callbacks):
    """The Undo the page shows after an approve must be able to work: the push starts only
    after PHOTOSYNC_APPROVE_UNDO_SECONDS (the message is sent delayed, its stamp is when it
    falls due); a bulk approve, which offers no Undo, pushes at once."""
    from django.utils import timezone

    from photosync.models import Push
    from photosync.queueing import Queues, queue_depth

    settings.PHOTOSYNC_APPROVE_UNDO_SECONDS = 10
    held = seed_product(store, title="Lamp").generated.get(kind="framed")
    bulk = seed_product(store, title="Vase", remote_id="vase", seed=2)
    client.force_login(operator)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/images/{held.pk}/approve", {},
                           content_type="application/json").status_code == 202
        assert client.post("/api/v1/images/bulk-approve", {"products": [bulk.pk]},
                           content_type="application/json").status_code == 202
    due = (Push.objects.get(image=held).sent_at - before).total_seconds()
    assert 9.0 <= due <= 12.0
    assert Push.objects.filter(product=bulk).exists()
    for push in Push.objects.filter(product=bulk):
        assert (push.sent_at - before).total_seconds() < 3.0
    assert queue_depth(Queues.PUSH) == 1 + Push.objects.filter(product=bulk).count()
    # Within the window, Undo takes it back; the delayed message then finds nothing to do.
    assert client.post(f"/api/v1/images/{held.pk}/unapprove").status_code == 200
    assert not Push.objects.filter(image=held).exists()
