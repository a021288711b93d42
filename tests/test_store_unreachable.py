"""503 with Retry-After whenever a store cannot be reached during a request (issue 13,
finding 8), on every view path that calls a store synchronously: token exchange (the API,
the embedded entry), the OAuth callback, WooCommerce connect, rollback from the API. Nothing
is stored by the failed request."""

from __future__ import annotations

import socket
import time

import jwt
import pytest
from django.test import RequestFactory

from integrations.errors import Throttled, Unavailable
from photosync.middleware import STORE_RETRY_AFTER, StoreUnavailable
from photosync.models import Push, Store, WooCommerceAuthRequest
from photosync.services.shopify.auth import shopify_store_connect
from tests.review_data import seed_product
from tests.shopify.conftest import API_KEY, SECRET, SHOP

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shopify_away(settings):
    """The app is configured, and Shopify (its token endpoint included) does not answer."""
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = SECRET
    settings.SHOPIFY_API_VERSION = "2026-10"
    settings.SHOPIFY_API_ORIGIN = f"http://127.0.0.1:{_closed_port()}"
    settings.PHOTOSYNC_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the closed port is on loopback
    return settings


def _id_token(shop: str = SHOP) -> str:
    now = int(time.time())
    return jwt.encode({"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": API_KEY,
                       "sub": "42", "exp": now + 60, "nbf": now, "iat": now, "jti": "j",
                       "sid": "s"}, SECRET, algorithm="HS256")


def _unavailable(response, retry_after: int = STORE_RETRY_AFTER) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(retry_after)


def test_an_id_token_for_a_new_shop_while_shopify_is_away_is_503_not_500(client,
                                                                         shopify_away):
    """DRF's base APIException answered 500: token exchange could not reach Shopify."""
    response = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {_id_token()}")
    _unavailable(response)
    assert "could not be reached" in response.json()["detail"]
    assert "X-Shopify-Retry-Invalid-Session-Request" not in response  # a new token won't help
    assert not Store.objects.exists()


def test_the_embedded_entry_while_shopify_is_away_is_503(client, shopify_away):
    response = client.get("/shopify/", {"shop": SHOP, "embedded": "1",
                                           "id_token": _id_token()})
    _unavailable(response)
    assert not Store.objects.exists()


def test_the_oauth_callback_while_shopify_is_away_is_503(client, shopify_away):
    from urllib.parse import parse_qs, urlsplit

    from integrations.shopify.auth import query_hmac

    start = client.get("/shopify/install", {"shop": SHOP})
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    params = {"code": "a-code", "shop": SHOP, "state": state, "host": "",
              "timestamp": str(int(time.time()))}
    params["hmac"] = query_hmac(params, SECRET)
    _unavailable(client.get("/shopify/callback", params))
    assert not Store.objects.exists()


def test_connecting_a_store_whose_name_does_not_resolve_is_503(client, operator):
    client.force_login(operator)
    response = client.get("/woocommerce/connect", {"store": "https://photosync-test.invalid"})
    _unavailable(response)
    assert "could not be resolved" in response.content.decode()
    assert not WooCommerceAuthRequest.objects.exists()


def test_a_rollback_while_the_store_is_away_is_503(client, operator, shopify_away, media_root):
    store = shopify_store_connect(shop=SHOP, credentials={
        "access_token": "shpat_old", "refresh_token": "shprt_x", "expires_at": 1.0})
    product = seed_product(store, title="Watch", remote_id="gid://shopify/Product/1")
    push = Push.objects.create(store=store, product=product, image=product.generated.first(),
                               content_hash="c", status=Push.Status.LIVE,
                               remote_id="gid://shopify/MediaImage/9")
    client.force_login(operator)
    _unavailable(client.post(f"/api/v1/pushes/{push.pk}/rollback"))
    push.refresh_from_db()
    assert push.status == Push.Status.LIVE


@pytest.mark.parametrize(("error", "retry_after"), [
    (Unavailable("The store could not be reached."), STORE_RETRY_AFTER),
    (Throttled("Slow down.", retry_after=2.2), 3),
])
def test_any_store_error_a_view_lets_through_is_503_with_retry_after(error, retry_after):
    request = RequestFactory().get("/somewhere")
    response = StoreUnavailable(lambda r: None).process_exception(request, error)
    _unavailable(response, retry_after)
    assert StoreUnavailable(lambda r: None).process_exception(request, ValueError()) is None
