"""The WordPress companion plugin: valid PHP, and its signed token (minted by the plugin's own
PHP code) traded for a PhotoSync session bound to one store, framed only by that store."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from django.test import Client

from photosync.models import Store
from photosync.services.woocommerce.connect import woocommerce_store_connect
from photosync.views.woocommerce_session import SESSION_KEY
from tests.conftest import REPO

PLUGIN = REPO / "integrations" / "woocommerce" / "wordpress-plugin"
PHP = shutil.which("php")
needs_php = pytest.mark.skipif(PHP is None, reason="needs php-cli (.ci/run installs it)")


@needs_php
def test_the_plugin_is_valid_php():
    files = sorted(PLUGIN.rglob("*.php"))
    assert {f.name for f in files} >= {"token.php", "photosync-woocommerce.php"}
    for path in files:
        result = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def mint(secret: str, store_url: str, store_id: str, *, user: str = "7",
         name: str = "Sam Shopmanager", now: int | None = None, ttl: int = 120) -> str:
    """Run the plugin's photosync_embed_token() with php-cli."""
    code = ("require $argv[1]; echo photosync_embed_token($argv[2], $argv[3], $argv[4], "
            "$argv[5], $argv[6], (int) $argv[7], (int) $argv[8]);")
    result = subprocess.run(
        [PHP, "-r", code, "--", str(PLUGIN / "includes" / "token.php"), secret, store_url,
         store_id, user, name, str(int(time.time()) if now is None else now), str(ttl)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


@pytest.fixture
def connected(woo, woo_options, settings, db):
    """A store connected with the plugin installed: PhotoSync wrote the plugin's options."""
    settings.PHOTOSYNC_PUBLIC_URL = "https://photos.example.com"
    woo.plugin_options = {"photosync_app_url": "", "photosync_store_id": "",
                          "photosync_embed_secret": ""}
    key, secret = woo.add_key()
    store = woocommerce_store_connect(url=woo.url, consumer_key=key, consumer_secret=secret)
    return store, woo.plugin_options


@needs_php
def test_the_plugins_token_opens_a_session_bound_to_the_store(client, woo, connected):
    store, options = connected
    assert options["photosync_app_url"] == "https://photos.example.com"
    assert options["photosync_store_id"] == str(store.pk)
    token = mint(options["photosync_embed_secret"], woo.url, options["photosync_store_id"])

    response = client.get(f"/woocommerce/embed/{store.pk}", {"token": token})
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == f"frame-ancestors {woo.url};"
    assert response["Referrer-Policy"] == "no-referrer"
    html = response.content.decode()
    assert 'data-auth="embed"' in html
    app_token = html.split('data-token="', 1)[1].split('"', 1)[0]
    # Inside the iframe no cookie of ours is sent: the page's token alone opens the API,
    # for this store only.
    api = Client()
    listed = api.get("/api/v1/products/", headers={"Authorization": f"PhotoSync {app_token}"})
    assert listed.status_code == 200, listed.content
    other = Store.objects.create(platform="woocommerce", domain="https://other.example")
    other_product = other.products.create(remote_id="9", title="Not yours")
    denied = api.get(f"/api/v1/products/{other_product.pk}/",
                     headers={"Authorization": f"PhotoSync {app_token}"})
    assert denied.status_code == 404
    forged = api.get("/api/v1/products/", headers={"Authorization": f"PhotoSync {app_token}x"})
    assert forged.status_code in (401, 403)
    assert client.session[SESSION_KEY] == store.pk
    user = response.wsgi_request.user
    assert user.username == f"store{store.pk}:wp7" and not user.is_staff
    assert user.first_name == "Sam Shopmanager" and not user.has_usable_password()

    page = client.get(f"/woocommerce/embed/{store.pk}/home")
    assert page.status_code == 200 and b"Sam Shopmanager" in page.content
    assert page["Content-Security-Policy"] == f"frame-ancestors {woo.url};"
    assert "X-Frame-Options" not in page

    replay = client.get(f"/woocommerce/embed/{store.pk}", {"token": token})
    assert replay.status_code == 403 and b"already used" in replay.content
    assert replay["Content-Security-Policy"] == f"frame-ancestors {woo.url};"


@needs_php
@pytest.mark.parametrize("case", ["tampered", "expired", "other secret", "other store id",
                                  "other origin", "too long-lived", "garbage"])
def test_bad_tokens_open_no_session(client, woo, connected, case):
    store, options = connected
    secret, sid = options["photosync_embed_secret"], options["photosync_store_id"]
    token = {
        "tampered": lambda: mint(secret, woo.url, sid)[:-2] + "AA",
        "expired": lambda: mint(secret, woo.url, sid, now=int(time.time()) - 600),
        "other secret": lambda: mint("x" * 43, woo.url, sid),
        "other store id": lambda: mint(secret, woo.url, str(store.pk + 1)),
        "other origin": lambda: mint(secret, "https://evil.example.com", sid),
        "too long-lived": lambda: mint(secret, woo.url, sid, ttl=3600),
        "garbage": lambda: "not.a-token",
    }[case]()
    response = client.get(f"/woocommerce/embed/{store.pk}", {"token": token})
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
    assert client.get(f"/woocommerce/embed/{store.pk}/home").status_code == 403


@needs_php
def test_a_token_for_one_store_does_not_open_another(client, woo, connected):
    store, options = connected
    other = Store.objects.create(platform="woocommerce", domain="https://other.example.com")
    token = mint(options["photosync_embed_secret"], woo.url, options["photosync_store_id"])
    assert client.get(f"/woocommerce/embed/{other.pk}", {"token": token}).status_code == 403
    assert client.get("/woocommerce/embed/999999", {"token": token}).status_code == 404


# --- issue 13, finding 4: standard JWTs, spent in the database ---------------------------

@needs_php
def test_the_handoff_and_page_tokens_are_standard_hs256_jwts(client, woo, connected):
    import jwt

    store, options = connected
    secret, sid = options["photosync_embed_secret"], options["photosync_store_id"]
    token = mint(secret, woo.url, sid)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, secret, algorithms=["HS256"],
                        audience="photosync:woocommerce-embed", issuer=woo.url)
    assert {"iss", "aud", "sub", "iat", "exp", "jti", "store"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 120 and len(claims["jti"]) == 32

    page = client.get(f"/woocommerce/embed/{store.pk}", {"token": token})
    app_token = page.content.decode().split('data-token="', 1)[1].split('"', 1)[0]
    assert jwt.get_unverified_header(app_token)["alg"] == "HS256"
    page_claims = jwt.decode(app_token, options={"verify_signature": False})
    assert page_claims["aud"] == "photosync:woocommerce-page"
    assert page_claims["iss"] == "https://photos.example.com"
    assert page_claims["store"] == store.pk and page_claims["sub"] == f"store{store.pk}:wp7"
    assert page_claims["exp"] - page_claims["iat"] == 8 * 3600 and page_claims["jti"]

    api = Client()
    forged = jwt.encode({**page_claims, "jti": "x" * 32}, "not-our-key-" * 4, algorithm="HS256")
    assert api.get("/api/v1/products/",
                   headers={"Authorization": f"PhotoSync {forged}"}).status_code in (401, 403)
    unsigned = jwt.encode(page_claims, None, algorithm="none")
    assert api.get("/api/v1/products/",
                   headers={"Authorization": f"PhotoSync {unsigned}"}).status_code in (401, 403)


@needs_php
@pytest.mark.parametrize("case", ["alg none", "wrong audience", "no jti", "no exp"])
def test_jwts_missing_or_changing_a_claim_are_refused(client, woo, connected, case):
    import jwt

    store, options = connected
    secret = options["photosync_embed_secret"]
    claims = jwt.decode(mint(secret, woo.url, options["photosync_store_id"]), secret,
                        algorithms=["HS256"], audience="photosync:woocommerce-embed")
    if case == "alg none":
        token = jwt.encode(claims, None, algorithm="none")
    else:
        changed = dict(claims)
        if case == "wrong audience":
            changed["aud"] = "someone-else"
        else:
            del changed[case.split()[1]]
        token = jwt.encode(changed, secret, algorithm="HS256")
    assert client.get(f"/woocommerce/embed/{store.pk}", {"token": token}).status_code == 403
    assert SESSION_KEY not in client.session


@needs_php
@pytest.mark.django_db(transaction=True)
def test_a_handoff_token_opens_one_session_across_server_processes(woo, connected):
    """Two gunicorn servers get the same token at the same moment: exactly one session."""
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from django.contrib.sessions.models import Session

    from tests.processes import app_servers

    store, options = connected
    token = mint(options["photosync_embed_secret"], woo.url, options["photosync_store_id"])
    with app_servers(2) as bases:
        def open_page(base: str) -> int:
            return requests.get(f"{base}/woocommerce/embed/{store.pk}", params={"token": token},
                                timeout=20).status_code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(open_page, bases))
        assert codes == [200, 403]
        assert sorted(open_page(base) for base in bases) == [403, 403]  # and never again
    bound = [s for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == store.pk]
    assert len(bound) == 1


def test_spent_tokens_are_cleaned_up_once_expired(db):
    from datetime import timedelta

    from django.utils import timezone

    from photosync.models import UsedToken
    from photosync.services.woocommerce.embed import used_tokens_clean

    now = timezone.now()
    UsedToken.objects.create(jti="old", expires_at=now - timedelta(seconds=1))
    UsedToken.objects.create(jti="live", expires_at=now + timedelta(minutes=5))
    assert used_tokens_clean(now=now) == 1
    assert list(UsedToken.objects.values_list("jti", flat=True)) == ["live"]
