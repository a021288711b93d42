"""Connecting a store: the wc-auth flow against the emulator, forged callbacks, the command."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from photosync.models import Store, WooCommerceAuthRequest
from photosync.queueing import Queues
from photosync.services.credentials import store_credentials_get
from tests.conftest import drain, queue_size

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(live_server, settings, woo_options):
    """The app on a real port, so the emulator can call it back."""
    settings.PHOTOSYNC_PUBLIC_URL = live_server.url
    return live_server.url


def start(client, operator, woo) -> str:
    client.force_login(operator)
    response = client.get("/woocommerce/connect", {"store": woo.url + "/"})
    assert response.status_code == 302, response.content
    return response["Location"]


def test_the_wc_auth_flow_connects_a_store_with_a_verified_key(app, client, operator, woo,
                                                               broker, worker):
    authorize = start(client, operator, woo)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{woo.url}/wc-auth/v1/authorize?")
    assert query["scope"] == ["read_write"] and query["app_name"] == ["PhotoSync"]
    assert query["callback_url"] == [f"{app}/woocommerce/callback"]
    assert query["return_url"] == [f"{app}/woocommerce/return"]
    state = query["user_id"][0]
    assert WooCommerceAuthRequest.objects.get(state=state).status == "pending"

    landed = woo.approve(authorize)  # the store posts the key to our callback, then redirects
    assert woo.callbacks[0]["status"] == 200  # exactly 200, or the store deletes the key
    assert landed.status_code == 302
    assert landed.headers["Location"] == f"{app}/woocommerce/return?success=1&user_id={state}"
    drain(broker, worker)
    woo.wait_deliveries()

    auth = WooCommerceAuthRequest.objects.get(state=state)
    assert auth.status == "verified" and auth.credentials_encrypted in (b"", memoryview(b""))
    store = Store.objects.get()
    assert (store.platform, store.domain, store.status) == ("woocommerce", woo.url, "active")
    assert auth.store == store
    credentials = store_credentials_get(store=store)
    key = woo.callbacks[0]["key"]
    assert credentials["consumer_key"] == key and key in woo.keys
    assert credentials["consumer_secret"] == woo.keys[key]["secret"]
    secret = credentials["webhook_secret"]
    assert len(secret) >= 32 and secret.isalnum()
    assert key.encode() not in bytes(store.credentials_encrypted)  # encrypted at rest

    hooks = sorted(woo.webhooks.values(), key=lambda h: h["topic"])
    assert [(h["topic"], h["status"], h["secret"]) for h in hooks] == [
        ("product.created", "active", secret), ("product.deleted", "active", secret),
        ("product.restored", "active", secret), ("product.updated", "active", secret)
    ]
    assert {h["delivery_url"] for h in hooks} == {f"{app}/webhooks/woocommerce/{store.pk}"}
    pings = [d for d in woo.deliveries if d["kind"] == "ping"]
    assert [d["status"] for d in pings] == [200] * 4

    page = client.get(landed.headers["Location"].replace(app, ""))
    assert page.status_code == 200 and b"is connected" in page.content

    # The state was single-use: the same callback again is refused and changes nothing.
    replay = client.post("/woocommerce/callback", data=json.dumps({
        "key_id": 9, "user_id": state, "consumer_key": "ck_" + "1" * 40,
        "consumer_secret": "cs_" + "2" * 40, "key_permissions": "read_write"}),
        content_type="application/json")
    assert replay.status_code == 400
    assert store_credentials_get(store=Store.objects.get())["consumer_key"] == key


def test_a_callback_for_an_unknown_state_stores_nothing(client, broker):
    payload = {"key_id": 1, "user_id": "x" * 43, "consumer_key": "ck_" + "1" * 40,
               "consumer_secret": "cs_" + "2" * 40, "key_permissions": "read_write"}
    response = client.post("/woocommerce/callback", data=json.dumps(payload),
                           content_type="application/json")
    assert response.status_code == 400
    assert not WooCommerceAuthRequest.objects.exists() and not Store.objects.exists()
    assert queue_size(broker, Queues.WEBHOOKS) == 0
    for bad in (b"not json", b"[]", json.dumps({"user_id": 5}).encode()):
        assert client.post("/woocommerce/callback", data=bad,
                           content_type="application/json").status_code == 400
    assert client.get("/woocommerce/callback").status_code == 405


def test_a_forged_key_is_refused_after_verification(app, client, operator, woo, broker,
                                                    worker):
    authorize = start(client, operator, woo)
    state = parse_qs(urlsplit(authorize).query)["user_id"][0]
    forged = {"key_id": 1, "user_id": state, "consumer_key": "ck_" + "f" * 40,
              "consumer_secret": "cs_" + "f" * 40, "key_permissions": "read_write"}
    response = client.post("/woocommerce/callback", data=json.dumps(forged),
                           content_type="application/json")
    assert response.status_code == 200  # taken for verification, not trusted
    drain(broker, worker)
    auth = WooCommerceAuthRequest.objects.get(state=state)
    assert auth.status == "failed"
    assert "refused PhotoSync's API key" in auth.error
    assert bytes(auth.credentials_encrypted) == b""
    assert not Store.objects.exists() and not woo.webhooks
    assert "ck_" not in auth.error and "cs_" not in auth.error
    page = client.get(f"/woocommerce/return?success=1&user_id={state}")
    assert b"refused" in page.content


def test_an_expired_or_read_only_callback_is_refused(client, operator, woo, woo_options):
    client.force_login(operator)
    client.get("/woocommerce/connect", {"store": woo.url})
    auth = WooCommerceAuthRequest.objects.get()
    payload = {"key_id": 1, "user_id": auth.state, "consumer_key": "ck_" + "1" * 40,
               "consumer_secret": "cs_" + "2" * 40, "key_permissions": "read"}
    assert client.post("/woocommerce/callback", data=json.dumps(payload),
                       content_type="application/json").status_code == 400
    auth.refresh_from_db()
    assert auth.status == "failed" and "read and write" in auth.error

    client.get("/woocommerce/connect", {"store": woo.url})
    late = WooCommerceAuthRequest.objects.filter(status="pending").get()
    WooCommerceAuthRequest.objects.filter(pk=late.pk).update(
        created_at=timezone.now() - timedelta(hours=1))
    payload.update(user_id=late.state, key_permissions="read_write")
    assert client.post("/woocommerce/callback", data=json.dumps(payload),
                       content_type="application/json").status_code == 400
    assert WooCommerceAuthRequest.objects.get(pk=late.pk).status == "pending"
    assert not Store.objects.exists()


def test_declining_on_the_store_is_shown(app, client, operator, woo):
    authorize = start(client, operator, woo)
    landed = woo.deny(authorize)
    page = client.get(landed.headers["Location"].replace(app, ""))
    assert b"declined" in page.content
    assert WooCommerceAuthRequest.objects.get().status == "declined"
    assert not woo.keys


def test_connect_needs_an_operator_and_a_public_store_address(client, operator,
                                                              django_user_model, settings):
    assert client.get("/woocommerce/connect?store=https://shop.example.com").status_code == 302
    merchant = django_user_model.objects.create_user("m", password="pw")
    client.force_login(merchant)
    assert client.get("/woocommerce/connect?store=https://shop.example.com").status_code == 403
    client.force_login(operator)
    assert client.get("/woocommerce/connect").status_code == 200  # the form
    for bad in ("ftp://shop.example.com", "https://user:pw@shop.example.com",
                "http://127.0.0.1:8080", "http://10.0.0.5", "https://shop.example.com/?x=1"):
        response = client.get("/woocommerce/connect", {"store": bad})
        assert response.status_code == 400, bad
    assert not WooCommerceAuthRequest.objects.exists()


def test_the_operator_command_verifies_the_key(woo, woo_options, settings):
    settings.PHOTOSYNC_PUBLIC_URL = "https://photos.example.com"
    key, secret = woo.add_key()
    with pytest.raises(CommandError, match="refused PhotoSync's API key"):
        call_command("connect_woocommerce", "--url", woo.url, "--key", key,
                     "--secret", "cs_" + "0" * 40)
    assert not Store.objects.exists()
    call_command("connect_woocommerce", "--url", woo.url, "--key", key, "--secret", secret)
    store = Store.objects.get()
    assert store_credentials_get(store=store)["consumer_secret"] == secret
    assert sorted(h["topic"] for h in woo.webhooks.values()) == [
        "product.created", "product.deleted", "product.restored", "product.updated"]
    assert {h["delivery_url"] for h in woo.webhooks.values()} == {
        f"https://photos.example.com/webhooks/woocommerce/{store.pk}"}
    # Connecting again keeps the store and its webhook secret, and adds no webhooks.
    first_secret = store_credentials_get(store=store)["webhook_secret"]
    call_command("connect_woocommerce", "--url", woo.url + "/", "--key", key, "--secret", secret)
    assert Store.objects.get().pk == store.pk
    assert store_credentials_get(store=store)["webhook_secret"] == first_secret
    assert len(woo.webhooks) == 4
