"""The query HMAC and ID-token checks built on Shopify's Python library, and the stricter rules
kept on top of it (pure functions: no database, no network)."""

from __future__ import annotations

import time

import jwt
import pytest
import shopify

from integrations.shopify.auth import (
    InvalidIdToken,
    decode_id_token,
    query_hmac,
    verify_query_hmac,
)
from tests.shopify.conftest import API_KEY, PREVIOUS_SECRET, SECRET, SHOP

# The worked example of Shopify's OAuth documentation (secret "hush").
DOCUMENTED = {"code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com",
              "state": "0.6784241404160823", "timestamp": "1337178173"}
DOCUMENTED_HMAC = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"


def test_the_query_hmac_is_shopifys_documented_one():
    assert query_hmac(DOCUMENTED, "hush") == DOCUMENTED_HMAC
    assert verify_query_hmac({**DOCUMENTED, "hmac": DOCUMENTED_HMAC}, ["hush"])
    assert verify_query_hmac({**DOCUMENTED, "hmac": DOCUMENTED_HMAC.upper()}, ["hush"])


def test_the_query_hmac_refuses_tampering_a_missing_hmac_and_unknown_secrets():
    signed = {**DOCUMENTED, "hmac": DOCUMENTED_HMAC}
    assert not verify_query_hmac({**signed, "shop": "other-shop.myshopify.com"}, ["hush"])
    assert not verify_query_hmac({**signed, "extra": "1"}, ["hush"])
    assert not verify_query_hmac(DOCUMENTED, ["hush"])
    assert not verify_query_hmac({**DOCUMENTED, "hmac": ""}, ["hush"])
    assert not verify_query_hmac(signed, ["not-hush", ""])
    assert not verify_query_hmac(signed, [])


def test_either_secret_verifies_and_the_librarys_global_secret_is_left_alone():
    params = {"shop": SHOP, "timestamp": str(int(time.time())), "host": "eA"}
    by_previous = {**params, "hmac": query_hmac(params, PREVIOUS_SECRET)}
    assert verify_query_hmac(by_previous, [SECRET, PREVIOUS_SECRET])
    assert not verify_query_hmac(by_previous, [SECRET])
    assert shopify.Session.secret is None  # nothing set process-wide


def test_signature_is_never_signed_and_list_parameters_sign_as_shopify_does():
    # `signature` belongs to app-proxy requests; Shopify's Node library drops it like hmac.
    assert query_hmac({**DOCUMENTED, "signature": "x"}, "hush") == DOCUMENTED_HMAC
    one = query_hmac({"shop": SHOP, "ids[]": "7"}, SECRET)
    assert one == query_hmac({"shop": SHOP, "ids[]": ["7"]}, SECRET)
    assert one != query_hmac({"shop": SHOP, "ids[]": ["7", "8"]}, SECRET)


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": f"https://{SHOP}/admin", "dest": f"https://{SHOP}", "aud": API_KEY,
              "sub": "42", "exp": now + 60, "nbf": now, "iat": now, "jti": "j", "sid": "s"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _decode(claims: dict, **kwargs):
    return decode_id_token(jwt.encode(claims, SECRET, algorithm="HS256"), api_key=API_KEY,
                           secrets=[SECRET], **kwargs)


@pytest.mark.parametrize("missing", ["exp", "nbf", "sid", "jti", "sub", "aud"])
def test_an_id_token_without_a_required_claim_is_refused(missing):
    with pytest.raises(InvalidIdToken) as caught:
        _decode(_claims(**{missing: None}))
    assert str(caught.value).startswith("malformed")


def test_the_leeway_can_be_tightened_but_not_widened():
    now = int(time.time())
    token = _claims(exp=now - 5)
    assert _decode(token).session_id == "s"
    with pytest.raises(InvalidIdToken, match="^expired"):
        _decode(token, leeway=2)
    with pytest.raises(InvalidIdToken, match="^not valid yet"):
        _decode(_claims(nbf=now + 5, iat=now), leeway=2)
    with pytest.raises(ValueError):
        _decode(_claims(), leeway=60)


def test_an_issuer_that_is_no_shop_is_named_as_such():
    with pytest.raises(InvalidIdToken, match="^iss is not a shop"):
        _decode(_claims(iss="https://evil.example/admin"))
    with pytest.raises(InvalidIdToken, match="^dest is not a shop"):
        _decode(_claims(dest="http://" + SHOP, iss=f"http://{SHOP}/admin"))
    with pytest.raises(InvalidIdToken, match="^no secret configured"):
        decode_id_token(jwt.encode(_claims(), SECRET, algorithm="HS256"), api_key=API_KEY,
                        secrets=["", ""])
