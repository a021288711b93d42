"""Installing and authenticating: ID tokens, the embedded entry and its bounce, token exchange,
the authorization-code grant, expiring-token refresh, and shop isolation in the API."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from integrations.errors import AuthRevoked
from integrations.shopify.auth import InvalidIdToken, decode_id_token, query_hmac
from photosync.models import GeneratedImage, GenerationJob, Product, Push, SourceImage, Store
from photosync.services.credentials import store_credentials_get
from photosync.services.shopify.auth import shopify_credentials_fresh, shopify_store_connect
from photosync.services.stores import store_adapter
from tests.shopify.conftest import API_KEY, OTHER_SHOP, PREVIOUS_SECRET, SECRET, SHOP

RETRY = "X-Shopify-Retry-Invalid-Session-Request"


def _claims(shop: str = SHOP, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": API_KEY,
              "sub": "42", "exp": now + 60, "nbf": now, "iat": now, "jti": "j", "sid": "s"}
    claims.update(overrides)
    return claims


def _token(secret: str = SECRET, **overrides) -> str:
    return jwt.encode(_claims(**overrides), secret, algorithm="HS256")


def _decode(token: str):
    return decode_id_token(token, api_key=API_KEY, secrets=[SECRET, PREVIOUS_SECRET])


# --- ID token validation -------------------------------------------------------------------
def test_valid_id_tokens_name_their_shop_with_either_secret_and_leeway():
    assert _decode(_token()).shop == SHOP
    assert _decode(_token(PREVIOUS_SECRET)).user_id == "42"
    now = int(time.time())
    assert _decode(_token(exp=now - 5)).shop == SHOP  # within the 10 s leeway
    assert _decode(_token(nbf=now + 5, iat=now + 5)).shop == SHOP


@pytest.mark.parametrize("why,token", [
    ("expired", lambda: _token(exp=int(time.time()) - 30)),
    ("not valid yet", lambda: _token(nbf=int(time.time()) + 60, iat=int(time.time()) + 60)),
    ("wrong audience", lambda: _token(aud="someone-elses-app")),
    ("bad signature", lambda: _token("not-our-secret-but-long-enough-0123456789")),
    ("dest is not a shop", lambda: _token(dest="https://evil.example")),
    ("iss and dest disagree", lambda: _token(iss=f"https://{OTHER_SHOP}/admin")),
    ("malformed", lambda: jwt.encode(_claims(), SECRET, algorithm="HS512")),
    ("not a JWT", lambda: "garbage"),
    ("malformed", lambda: jwt.encode(_claims(), key=None, algorithm="none")),
])
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_id_tokens_are_refused(why, token):
    with pytest.raises(InvalidIdToken) as caught:
        _decode(token())
    assert str(caught.value).startswith(why)


# --- shop isolation through the JSON API -----------------------------------------------------
def _shop_data(store: Store) -> GeneratedImage:
    product = Product.objects.create(store=store, remote_id=f"gid://shopify/Product/{store.pk}",
                                     title=f"Item of {store.domain}")
    source = SourceImage.objects.create(product=product, remote_id="m", version="1")
    job = GenerationJob.objects.create(store=store, product=product, input_hash="h",
                                       dedupe_key=f"{store.pk}:h")
    return GeneratedImage.objects.create(job=job, product=product, source=source, kind="framed",
                                         preset="p", file="generated/x.png", content_hash="c",
                                         width=1, height=1)


@pytest.mark.django_db
def test_a_shop_a_token_cannot_read_or_act_on_shop_b(client, shopify_settings):
    a = shopify_store_connect(shop=SHOP, credentials={"access_token": "shpat_a"})
    b = shopify_store_connect(shop=OTHER_SHOP, credentials={"access_token": "shpat_b"})
    image_a, image_b = _shop_data(a), _shop_data(b)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_token(shop=SHOP)}"}

    listing = client.get("/api/v1/products/?status=all", **auth)
    assert listing.status_code == 200
    assert [p["id"] for p in listing.json()["results"]] == [image_a.product_id]
    assert client.get(f"/api/v1/products/{image_a.product_id}/", **auth).status_code == 200
    assert client.get(f"/api/v1/products/{image_b.product_id}/", **auth).status_code == 404
    assert [i["id"] for i in client.get("/api/v1/images/", **auth).json()["results"]] == [
        image_a.pk]
    for action in ("approve", "reject"):
        response = client.post(f"/api/v1/images/{image_b.pk}/{action}", {},
                               content_type="application/json", **auth)
        assert response.status_code == 404
    image_b.refresh_from_db()
    assert image_b.status == "ready" and not Push.objects.filter(store=b).exists()
    # Acting on its own shop works, and records which staff member decided.
    response = client.post(f"/api/v1/images/{image_a.pk}/approve", {"alt_text": "A"},
                           content_type="application/json", **auth)
    assert response.status_code == 202
    image_a.refresh_from_db()
    assert image_a.decided_by.username == f"store{a.pk}:42"


@pytest.mark.django_db
@pytest.mark.parametrize("token", [
    lambda: _token(exp=int(time.time()) - 30),
    lambda: _token(aud="other"),
    lambda: _token("wrong-secret-but-long-enough-0123456789abc"),
    lambda: _token(nbf=int(time.time()) + 60, iat=int(time.time()) + 60),
])
def test_a_fetch_with_a_bad_id_token_gets_401_and_the_retry_header(client, shopify_settings,
                                                                   token):
    shopify_store_connect(shop=SHOP, credentials={"access_token": "shpat_a"})
    response = client.get("/api/v1/products/", HTTP_AUTHORIZATION=f"Bearer {token()}")
    assert response.status_code == 401
    assert response[RETRY] == "1"
    # Without any token there is no session to retry: no header.
    assert RETRY not in client.get("/api/v1/products/")


# --- the embedded entry: token exchange, bounce, CSP ------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_first_open_installs_by_token_exchange_and_frames_for_that_shop_only(client, emulator):
    token = emulator.id_token(SHOP)
    response = client.get("/shopify/", {"embedded": "1", "shop": SHOP, "host": "eA",
                                        "id_token": token})
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    )
    assert "X-Frame-Options" not in response
    head = response.content.decode().split("<head>", 1)[1].lstrip()
    assert head.startswith(f'<meta name="shopify-api-key" content="{API_KEY}">')
    assert "https://cdn.shopify.com/shopifycloud/app-bridge.js" in head.split("\n")[1]
    store = Store.objects.get(domain=SHOP)
    credentials = store_credentials_get(store=store)
    assert credentials["refresh_token"] and credentials["expires_at"] > time.time() + 3000
    assert emulator.stats["exchange"] == 1
    # The token works against the shop; a second open does not exchange again.
    assert store_adapter(store=store).client.execute(
        __import__("integrations.shopify.queries", fromlist=["SHOP"]).SHOP
    )["shop"]["myshopifyDomain"] == SHOP
    client.get("/shopify/", {"embedded": "1", "shop": SHOP, "id_token": emulator.id_token(SHOP)})
    assert emulator.stats["exchange"] == 1


@pytest.mark.django_db
def test_a_document_load_without_a_good_token_bounces_for_a_fresh_one(client, shopify_settings):
    stale = _token(exp=int(time.time()) - 60)
    response = client.get("/shopify/", {"embedded": "1", "shop": SHOP, "host": "eA",
                                        "id_token": stale})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == "/shopify/session-token"
    reload_to = parse_qs(target.query)["shopify-reload"][0]
    assert reload_to.startswith("/shopify/?") and "id_token" not in reload_to
    bounce = client.get(response["Location"])
    assert bounce.status_code == 200
    assert bounce["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    )
    assert "app-bridge.js" in bounce.content.decode()
    assert client.get("/shopify/session-token", {"shop": "evil.example"}).status_code == 400
    assert not Store.objects.exists()


@pytest.mark.django_db
def test_shopify_endpoints_say_so_when_not_configured(client, settings):
    settings.SHOPIFY_API_KEY = settings.SHOPIFY_API_SECRET = ""
    for url in ("/shopify/", "/shopify/install?shop=" + SHOP, "/shopify/callback"):
        response = client.get(url)
        assert response.status_code == 503
        assert "SHOPIFY_API_KEY" in response.json()["detail"]
    # Bearer tokens are simply not ours to check: the API answers as for anyone unknown.
    assert client.get("/api/v1/products/", HTTP_AUTHORIZATION="Bearer x.y.z").status_code == 403


# --- the authorization-code grant ------------------------------------------------------------
def _callback_query(emulator, *, shop=SHOP, state, secret=SECRET, timestamp=None, **extra):
    params = {"code": emulator.authorize(shop), "shop": shop, "state": state,
              "timestamp": str(timestamp or int(time.time())), "host": "eA", **extra}
    params["hmac"] = query_hmac(params, secret)
    return params


@pytest.mark.django_db(transaction=True)
def test_auth_code_grant_checks_state_hmac_timestamp_and_shop(client, emulator):
    start = client.get("/shopify/install", {"shop": SHOP.upper()})
    assert start.status_code == 302
    location = urlsplit(start["Location"])
    query = parse_qs(location.query)
    assert location.path == "/admin/oauth/authorize"
    assert query["client_id"] == [API_KEY]
    assert query["redirect_uri"] == ["http://testserver/shopify/callback"]
    state = query["state"][0]

    bad = [
        _callback_query(emulator, state=state, secret="wrong"),
        _callback_query(emulator, state="forged-state"),
        _callback_query(emulator, state=state, timestamp=int(time.time()) - 3600),
    ]
    tampered = _callback_query(emulator, state=state)
    tampered["shop"] = OTHER_SHOP
    bad.append(tampered)
    for params in bad:
        assert client.get("/shopify/callback", params).status_code == 400
    assert not Store.objects.exists()
    assert client.get("/shopify/install", {"shop": "https://evil.example"}).status_code == 400

    good = client.get("/shopify/callback", _callback_query(emulator, state=state))
    assert good.status_code == 302, good.content
    store = Store.objects.get(domain=SHOP)
    assert store.status == Store.Status.ACTIVE
    assert store_credentials_get(store=store)["refresh_token"].startswith("shprt_")


# --- expiring offline tokens ------------------------------------------------------------------
def _expiring_store(emulator) -> Store:
    answer = emulator.oauth({"client_id": API_KEY, "client_secret": SECRET,
                             "code": emulator.authorize(SHOP), "expiring": "1"})[1]
    return shopify_store_connect(shop=SHOP, credentials={
        "access_token": answer["access_token"], "refresh_token": answer["refresh_token"],
        "expires_at": time.time() + 30,  # inside the refresh margin
    })


@pytest.mark.django_db(transaction=True)
def test_refresh_is_serialized_per_shop(emulator):
    store = _expiring_store(emulator)
    stale = store_credentials_get(store=store)
    results: list[str] = []

    def refresh() -> None:
        from django.db import connection

        try:
            fresh = shopify_credentials_fresh(store=Store.objects.get(pk=store.pk),
                                              credentials=stale)
            results.append(fresh["access_token"])
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emulator.stats["refresh"] == 1
    assert len(results) == 6 and len(set(results)) == 1
    assert store_credentials_get(store=Store.objects.get(pk=store.pk))["access_token"] == \
        results[0]


@pytest.mark.django_db(transaction=True)
def test_a_refused_refresh_marks_the_shop_for_reauthorization(emulator):
    store = _expiring_store(emulator)
    emulator.revoke_refresh_tokens(SHOP)
    with pytest.raises(AuthRevoked) as caught:
        store_adapter(store=store)
    assert "re-authorize" in caught.value.message
    assert "shprt_" not in caught.value.message
    store.refresh_from_db()
    assert store.status == Store.Status.NEEDS_REAUTH


@pytest.mark.django_db(transaction=True)
def test_syncd_refreshes_tokens_ahead_of_expiry(emulator, settings):
    from photosync.services.leases import lease_release
    from photosync.syncd import stores_health

    settings.PHOTOSYNC_HEALTH_INTERVAL = 900
    store = _expiring_store(emulator)
    credentials = store_credentials_get(store=store)
    credentials["expires_at"] = time.time() + 600  # fine now, expired before the next pass
    from photosync.services.credentials import store_credentials_set

    store_credentials_set(store=store, credentials=credentials)
    report = stores_health()
    assert report["shopify"] == {store.pk: "refreshed"}
    assert emulator.stats["refresh"] == 1
    fresh = store_credentials_get(store=Store.objects.get(pk=store.pk))
    assert fresh["expires_at"] > time.time() + 1800
    assert stores_health() is None  # the next daemon waits for the interval
    from photosync.models import Lease

    holder = Lease.objects.get(name="health").holder
    lease_release(name="health", holder=holder)
    assert stores_health()["shopify"] == {store.pk: "ok"}
    assert emulator.stats["refresh"] == 1
