"""The admin page's API (/api/v1/): store scoping, CSRF, review actions, pushes with retry
and rollback, settings, the OpenAPI schema, and bounded queries for a big catalog."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client
from PIL import Image

from photosync.models import GeneratedImage, GenerationJob, Product, Push, Store
from photosync.selectors import stores_for_user
from photosync.services.pushes import push_send
from photosync.services.review import image_approve
from photosync.services.staff import store_staff_username
from photosync.services.stores import store_connect_local
from tests.conftest import REPO, queue_size
from tests.review_data import FLAG, seed_product

pytestmark = pytest.mark.django_db


def _staff(django_user_model, store: Store, remote: str = "wp7"):
    """A store's staff member as the Shopify and WooCommerce sign-ins create them."""
    username = store_staff_username(store=store, remote_user_id=remote)
    return django_user_model.objects.create_user(username, first_name="Sam")


@pytest.fixture
def two_stores(media_root):
    a = Store.objects.create(platform="woocommerce", domain="https://a.example.com", name="A")
    b = Store.objects.create(platform="woocommerce", domain="https://b.example.com", name="B")
    pa = seed_product(a, title="Alpha lamp", seed=1,
                      outputs=(("framed", []), ("scene", [FLAG])))
    pb = seed_product(b, title="Bravo chair", seed=2)
    return a, b, pa, pb


# --- who sees what ---------------------------------------------------------------------------
def test_a_stores_staff_member_sees_exactly_that_store(django_user_model, two_stores):
    a, b, _, _ = two_stores
    assert list(stores_for_user(user=_staff(django_user_model, a))) == [a]
    assert list(stores_for_user(user=_staff(django_user_model, b, "42"))) == [b]
    stranger = django_user_model.objects.create_user("store:x")
    assert not stores_for_user(user=stranger).exists()
    Store.objects.filter(pk=a.pk).update(status=Store.Status.UNINSTALLED)
    assert not stores_for_user(user=django_user_model.objects.get(username=f"store{a.pk}:wp7"))
    operator = django_user_model.objects.create_user("op", is_staff=True)
    assert set(stores_for_user(user=operator)) == {a, b}


def test_another_stores_ids_answer_404_everywhere(client, django_user_model, two_stores):
    a, b, pa, pb = two_stores
    image_b = pb.generated.first()
    push_b = image_approve(image=image_b)
    client.force_login(_staff(django_user_model, a))

    listing = client.get("/api/v1/products/?status=all").json()
    assert [p["title"] for p in listing["results"]] == ["Alpha lamp"]
    assert listing["counts"] == {"waiting": 1, "approved": 0, "pushed": 0, "failed": 0,
                                 "flagged": 1, "all": 1, "deleted": 0}
    assert {i["product"] for i in client.get("/api/v1/images/").json()["results"]} == {pa.pk}
    assert client.get("/api/v1/pushes/").json()["results"] == []
    root = client.get("/api/v1/").json()
    assert [s["id"] for s in root["stores"]] == [a.pk]

    gets = [f"/api/v1/products/{pb.pk}/", f"/api/v1/settings/?store={b.pk}",
            f"/api/v1/usage/?store={b.pk}"]
    posts = [f"/api/v1/images/{image_b.pk}/approve", f"/api/v1/images/{image_b.pk}/reject",
             f"/api/v1/products/{pb.pk}/regenerate", f"/api/v1/pushes/{push_b.pk}/retry",
             f"/api/v1/pushes/{push_b.pk}/rollback"]
    for url in gets:
        assert client.get(url).status_code == 404, url
    for url in posts:
        response = client.post(url, {}, content_type="application/json")
        assert response.status_code == 404, url
        assert set(response.json()) == {"detail"}  # nothing about the other store
    bulk = client.post("/api/v1/images/bulk-approve", {"images": [image_b.pk]},
                       content_type="application/json")
    assert bulk.status_code == 404
    assert client.patch(f"/api/v1/settings/?store={b.pk}", {"variations": 3},
                        content_type="application/json").status_code == 404
    # Nothing happened to store B.
    image_b.refresh_from_db()
    assert image_b.status == "approved" and Push.objects.get(pk=push_b.pk).status == "queued"
    assert GenerationJob.objects.filter(store=b).count() == 1
    assert Store.objects.get(pk=b.pk).settings == {}


def test_cookie_sessions_need_the_csrf_token(django_user_model, two_stores):
    a, _, pa, _ = two_stores
    client = Client(enforce_csrf_checks=True)
    client.force_login(_staff(django_user_model, a))
    image = pa.generated.get(flags=[])
    refused = client.post(f"/api/v1/images/{image.pk}/approve", {},
                          content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    image.refresh_from_db()
    assert image.status == "ready" and not Push.objects.exists()
    # The page hands its script the token; with it the same request goes through.
    operator_page = Client(enforce_csrf_checks=True)
    operator = django_user_model.objects.create_user("op", password="pw", is_staff=True)
    operator_page.force_login(operator)
    html = operator_page.get("/").content.decode()
    token = html.split('data-csrf="', 1)[1].split('"', 1)[0]
    accepted = operator_page.post(f"/api/v1/images/{image.pk}/approve", {"alt_text": "Lamp"},
                                  content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 202
    assert Push.objects.get().image_id == image.pk


# --- review actions --------------------------------------------------------------------------
def test_bulk_approve_across_products_skips_flagged_outputs(client, operator, media_root):
    store = Store.objects.create(platform="local", domain="/tmp/bulk", name="Bulk")
    products = [seed_product(store, title=f"P{n}", seed=n,
                             outputs=(("framed", []), ("scene", [FLAG]))) for n in range(3)]
    client.force_login(operator)
    response = client.post("/api/v1/images/bulk-approve",
                           {"products": [p.pk for p in products[:2]]},
                           content_type="application/json")
    assert response.status_code == 202
    body = response.json()
    clean = [p.generated.get(flags=[]).pk for p in products[:2]]
    flagged = [p.generated.exclude(flags=[]).get().pk for p in products[:2]]
    assert sorted(body["approved"]) == sorted(clean)
    assert sorted(s["id"] for s in body["skipped"]) == sorted(flagged)
    assert {s["reason"] for s in body["skipped"]} == {"flagged"}
    assert set(Push.objects.values_list("image_id", flat=True)) == set(clean)
    assert set(GeneratedImage.objects.filter(pk__in=flagged).values_list("status", flat=True)) \
        == {"ready"}
    assert products[2].generated.filter(status="ready").count() == 2  # not asked: untouched
    # A flagged image named by id is skipped as well: every flagged one needs a look.
    again = client.post("/api/v1/images/bulk-approve", {"images": flagged[:1]},
                        content_type="application/json").json()
    assert again["approved"] == [] and again["skipped"] == [{"id": flagged[0],
                                                             "reason": "flagged"}]
    assert client.post("/api/v1/images/bulk-approve", {},
                       content_type="application/json").status_code == 400


def test_approve_with_alt_text_and_featured_then_reject_the_rest(client, operator, two_stores):
    _, _, pa, _ = two_stores
    client.force_login(operator)
    framed, scene = pa.generated.order_by("pk")
    response = client.post(f"/api/v1/images/{framed.pk}/approve",
                           {"alt_text": " Alpha lamp on white ", "featured": True},
                           content_type="application/json")
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["featured"] is True
    framed.refresh_from_db()
    assert (framed.status, framed.alt_text, framed.featured) == ("approved",
                                                                 "Alpha lamp on white", True)
    assert framed.decided_by == operator
    rejected = client.post(f"/api/v1/images/{scene.pk}/reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = client.post(f"/api/v1/images/{scene.pk}/reject")
    assert again.status_code == 409 and "already rejected" in again.json()["detail"]


def test_regenerate_queues_a_job_with_the_merchants_overrides(client, operator, two_stores):
    _, _, pa, _ = two_stores
    client.force_login(operator)
    body = {"scene_presets": ["studio-sweep", "studio-sweep"], "custom_prompt": "on oak",
            "variations": 3, "frame_preset": "marketplace", "shadow": "drop"}
    response = client.post(f"/api/v1/products/{pa.pk}/regenerate", body,
                           content_type="application/json")
    assert response.status_code == 202, response.content
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.reason == "regenerate" and job.product_id == pa.pk
    assert {k: job.config[k] for k in body} == {**body, "scene_presets": ["studio-sweep"]}
    for bad in ({"scene_presets": ["moon-base"]}, {"variations": 9}, {"shadow": "neon"},
                {"frame_preset": "poster"}):
        refused = client.post(f"/api/v1/products/{pa.pk}/regenerate", bad,
                              content_type="application/json")
        assert refused.status_code == 400 and set(refused.json()) == set(bad), bad
    assert GenerationJob.objects.filter(product=pa).count() == 2


# --- pushes: status, retry, rollback ---------------------------------------------------------
def test_push_history_retry_and_rollback_on_a_local_store(client, operator, store_dir,
                                                          media_root, broker,
                                                          django_capture_on_commit_callbacks):
    store = store_connect_local(path=store_dir, name="Folder")
    product = seed_product(store, title="Aim Analog Watch", remote_id="mg01-bk-0")
    image = product.generated.get(kind="framed")
    push = image_approve(image=image, user=operator, alt_text="Watch", featured=True)
    push_send(push_id=push.pk)
    manifest = store_dir / "mg01-bk-0" / "approved" / "manifest.json"
    assert [e["alt"] for e in json.loads(manifest.read_text())["images"]] == ["Watch"]
    client.force_login(operator)

    history = client.get(f"/api/v1/pushes/?product={product.pk}").json()["results"]
    assert len(history) == 1
    entry = history[0]
    assert (entry["status"], entry["requested_by"], entry["preset"], entry["kind"]) == (
        "live", "operator", "white-square", "framed")
    assert entry["can_rollback"] and not entry["can_retry"] and entry["pushed_at"]
    detail = client.get(f"/api/v1/products/{product.pk}/").json()
    assert [p["id"] for p in detail["pushes"]] == [push.pk]
    assert detail["generated"][0]["status"] == "pushed"

    rolled = client.post(f"/api/v1/pushes/{push.pk}/rollback")
    assert rolled.status_code == 200 and rolled.json()["status"] == "rolled_back"
    assert json.loads(manifest.read_text())["images"] == []  # the gallery as it was
    image.refresh_from_db()
    assert image.status == "approved"  # the decision stands; the image is off the store
    assert client.post(f"/api/v1/pushes/{push.pk}/rollback").status_code == 200  # no-op

    with django_capture_on_commit_callbacks(execute=True):
        retried = client.post(f"/api/v1/pushes/{push.pk}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    assert queue_size(broker, "push") == 1
    refused = client.post(f"/api/v1/pushes/{push.pk}/retry")
    assert refused.status_code == 409 and "queued" in refused.json()["detail"]
    in_flight = client.post(f"/api/v1/pushes/{push.pk}/rollback")
    assert in_flight.status_code == 409 and "once it has finished" in in_flight.json()["detail"]
    Push.objects.filter(pk=push.pk).update(remote_id="", status="failed", error="Store said no")
    failed = client.get("/api/v1/pushes/?status=failed").json()["results"]
    assert [(p["error"], p["can_retry"], p["can_rollback"]) for p in failed] == [
        ("Store said no", True, False)]
    never_sent = client.post(f"/api/v1/pushes/{push.pk}/rollback")
    assert never_sent.status_code == 409 and "never reached" in never_sent.json()["detail"]


# --- settings and usage ----------------------------------------------------------------------
def test_settings_read_validate_and_save(client, django_user_model, two_stores):
    a, _, _, _ = two_stores
    client.force_login(_staff(django_user_model, a))
    answer = client.get("/api/v1/settings/").json()
    assert answer["store"]["id"] == a.pk
    assert answer["settings"]["auto_approve"] == "never"
    assert "studio-sweep" in [s["name"] for s in answer["choices"]["scene_presets"]]
    assert answer["usage"]["limit"] == a.monthly_generation_limit
    assert answer["can_change_limit"] is False

    changes = {"variations": 2, "auto_approve": "framed", "offpeak": "01:00-06:00",
               "scene_presets": ["studio-sweep"], "shadow": "drop"}
    saved = client.patch("/api/v1/settings/", changes, content_type="application/json")
    assert saved.status_code == 200, saved.content
    assert {k: saved.json()["settings"][k] for k in changes} == changes
    a.refresh_from_db()
    assert {k: a.settings[k] for k in changes} == changes

    for bad, field in (({"offpeak": "late"}, "offpeak"), ({"variations": 0}, "variations"),
                       ({"colour": "red"}, "colour"),
                       ({"monthly_generation_limit": 10 ** 6}, "monthly_generation_limit")):
        refused = client.patch("/api/v1/settings/", bad, content_type="application/json")
        assert refused.status_code == 400 and list(refused.json()) == [field], bad
    a.refresh_from_db()
    assert {k: a.settings[k] for k in changes} == changes and a.monthly_generation_limit == 1000
    usage = client.get("/api/v1/usage/").json()
    assert set(usage) == {"month", "used", "limit", "remaining", "held", "resets_on",
                          "held_by_reason", "clean_grid_note", "images", "energy_wh", "co2e_g"}


def test_operators_name_the_store_and_may_change_the_limit(client, operator, two_stores):
    a, b, _, _ = two_stores
    client.force_login(operator)
    assert client.get("/api/v1/settings/").status_code == 400  # two stores: which one?
    assert client.get("/api/v1/settings/?store=999999").status_code == 404
    response = client.patch(f"/api/v1/settings/?store={b.pk}",
                            {"monthly_generation_limit": 50}, content_type="application/json")
    assert response.status_code == 200 and response.json()["usage"]["limit"] == 50
    assert Store.objects.get(pk=b.pk).monthly_generation_limit == 50
    assert Store.objects.get(pk=a.pk).monthly_generation_limit == 1000


# --- the schema, the pages, the thumbnails ---------------------------------------------------
def test_the_openapi_schema_describes_the_api(client, tmp_path):
    from django.core.management import call_command

    # Valid OpenAPI, and every view described (no guessing left to drf-spectacular).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file",
                 str(tmp_path / "schema.yaml"))
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/", "/api/v1/products/", "/api/v1/products/{id}/",
            "/api/v1/products/{id}/regenerate", "/api/v1/images/{id}/approve",
            "/api/v1/images/bulk-approve", "/api/v1/pushes/", "/api/v1/pushes/{id}/retry",
            "/api/v1/pushes/{id}/rollback", "/api/v1/settings/", "/api/v1/usage/"} <= set(
        schema["paths"])
    assert set(schema["paths"]["/api/v1/settings/"]) == {"get", "patch"}
    assert "shopifyIdToken" in schema["components"]["securitySchemes"]


def test_thumbnails_come_at_display_size_and_are_cached(client, operator, two_stores):
    _, _, pa, _ = two_stores
    client.force_login(operator)
    detail = client.get(f"/api/v1/products/{pa.pk}/").json()
    output = detail["generated"][0]
    anonymous = Client()  # the Shopify iframe sends no cookies: these links need none
    for url, size in ((output["thumb"], 320), (output["thumb_2x"], 640)):
        response = anonymous.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/webp"
        assert response["Cache-Control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
        assert max(image.size) <= size
    original = anonymous.get(detail["sources"][0]["original"])
    assert original.status_code == 200 and original["Cache-Control"].startswith("private")
    assert max(Image.open(io.BytesIO(b"".join(original.streaming_content))).size) <= 640
    queue = client.get("/api/v1/products/?status=waiting").json()["results"]
    assert queue[0]["thumb"].startswith("/thumbs/160/generated/")


def test_the_pages_serve_the_admin_page_to_each_way_in(client, operator, django_user_model,
                                                       two_stores):
    a, _, pa, pb = two_stores
    assert client.get("/").status_code == 302  # operators log in first
    client.force_login(operator)
    page = client.get(f"/products/{pa.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-auth="session"' in html
    assert f'data-initial="#/products/{pa.pk}"' in html
    assert '<script type="module" src="/static/photosync/admin/main.js">' in html
    assert client.get("/products/999999/").status_code == 404

    from photosync.views.woocommerce_session import SESSION_KEY

    woo = Client()
    woo.force_login(_staff(django_user_model, a))
    session = woo.session
    session[SESSION_KEY] = a.pk
    session.save()
    embedded = woo.get(f"/woocommerce/embed/{a.pk}/home")
    assert embedded.status_code == 200
    assert embedded["Content-Security-Policy"] == "frame-ancestors https://a.example.com;"
    assert 'data-auth="session"' in embedded.content.decode()
    assert woo.get(f"/products/{pb.pk}/").status_code == 404


def test_the_admin_script_is_es_modules_served_as_javascript_and_all_preloaded(client, operator):
    """No build step: the browser loads the files as they are. Each is served with a
    JavaScript type (module scripts refuse any other), imports only files that exist (no
    package names: nothing is installed at runtime), and the page preloads every one."""
    static = REPO / "photosync" / "static"
    modules = {p.relative_to(static).as_posix() for p in (static / "photosync/admin").rglob("*.js")}
    assert "photosync/admin/main.js" in modules and len(modules) > 5
    client.force_login(operator)
    html = client.get("/").content.decode()
    preloaded = re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html)
    assert sorted(preloaded) == sorted(modules)
    for module in modules:
        source = (static / module).read_text()
        imports = re.findall(r'\bfrom "([^"]+)";', source)
        assert all(spec.startswith(("./", "../")) for spec in imports), (module, imports)
        for spec in imports:
            assert ((static / module).parent / spec).resolve().is_file(), (module, spec)
        response = client.get(f"/static/{module}")
        assert response.status_code == 200, module
        assert response["Content-Type"].split(";")[0] == "text/javascript", module
        assert b"".join(response.streaming_content).decode() == source


# --- fast pages ------------------------------------------------------------------------------
def test_the_queue_of_a_store_with_1000_products_takes_a_bounded_number_of_queries(
        client, operator, media_root, django_assert_max_num_queries):
    store = Store.objects.create(platform="local", domain="/tmp/big", name="Big")
    seed_product(store, title="Template", seed=1)
    template = Product.objects.get()
    source, job = template.sources.get(), template.jobs.get()
    outputs = list(template.generated.all())
    products = Product.objects.bulk_create(
        Product(store=store, remote_id=f"big-{n}", title=f"Product {n}", input_hash="h")
        for n in range(999))
    GeneratedImage.objects.bulk_create(
        GeneratedImage(job=job, product=p, source=source, kind=o.kind, preset=o.preset,
                       file=o.file.name, content_hash=f"{p.pk}-{o.pk}", width=256, height=256,
                       flags=[FLAG] if n % 10 == 0 and o.kind == "scene" else [])
        for n, p in enumerate(products) for o in outputs)
    client.force_login(operator)

    # 6 for the answer, 4 for its ETag (views/live.py), 1 for `generating` and 2 for `delay`
    # (services.delay, taken with the ETag).
    with django_assert_max_num_queries(13) as captured:
        body = client.get("/api/v1/products/?status=waiting").json()
    assert body["count"] == 1000 and len(body["results"]) == 50
    assert body["counts"] == {"waiting": 1000, "approved": 0, "pushed": 0, "failed": 0,
                              "flagged": 100, "all": 1000, "deleted": 0}
    assert all(r["thumb"] and r["waiting"] == 2 for r in body["results"])
    print(f"queue API, 1000 products: {len(captured)} queries")
    with django_assert_max_num_queries(13):
        assert client.get("/api/v1/products/?status=flagged&page=2").json()["count"] == 100
    with django_assert_max_num_queries(3) as captured:
        assert client.get("/").status_code == 200
    print(f"queue page, 1000 products: {len(captured)} queries")
    with django_assert_max_num_queries(12):
        assert client.get(f"/api/v1/products/{products[0].pk}/").status_code == 200
