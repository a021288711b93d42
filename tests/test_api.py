import pytest

from photosync.models import Store


@pytest.mark.django_db
def test_api_needs_an_authenticated_operator(client):
    assert client.get("/api/v1/").status_code == 403
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_api_root_lists_resources(client, operator):
    client.force_login(operator)
    store = Store.objects.create(platform="local", domain="/tmp/x", name="X")
    body = client.get("/api/v1/").json()
    assert set(body) == {"stores", "products", "images", "pushes", "settings", "usage", "schema"}
    assert body["stores"] == [{"id": store.pk, "name": "X", "platform": "local",
                               "domain": "/tmp/x", "status": "active"}]
    assert body["products"] == "http://testserver/api/v1/products/"


@pytest.mark.django_db
def test_non_staff_users_see_no_store_data(client, django_user_model):
    store = Store.objects.create(platform="local", domain="/tmp/x")
    product = store.products.create(remote_id="p1", title="P1")
    user = django_user_model.objects.create_user("merchant", password="pw")
    client.force_login(user)
    assert client.get(f"/api/v1/products/{product.pk}/").status_code == 404
    assert client.get("/api/v1/products/").json()["count"] == 0


@pytest.mark.django_db
def test_approve_of_unknown_image_is_404(client, operator):
    client.force_login(operator)
    response = client.post("/api/v1/images/999/approve", {}, content_type="application/json")
    assert response.status_code == 404
