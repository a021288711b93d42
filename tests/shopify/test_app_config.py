"""deploy/shopify.app.toml agrees with the code: scopes, API version, every handled topic
(compliance ones included) and the URLs the app actually serves."""

from __future__ import annotations

import tomllib
from urllib.parse import urlsplit

from django.urls import resolve

from integrations.shopify.webhooks import COMPLIANCE_TOPICS, KNOWN_TOPICS
from tests.conftest import REPO


def test_app_toml_matches_the_app():
    from photosync import settings as defaults

    config = tomllib.loads((REPO / "deploy" / "shopify.app.toml").read_text())
    assert config["embedded"] is True
    assert config["access_scopes"]["scopes"] == defaults.SHOPIFY_SCOPES
    assert config["access_scopes"]["use_legacy_install_flow"] is False
    assert config["webhooks"]["api_version"] == defaults.SHOPIFY_API_VERSION
    subscriptions = config["webhooks"]["subscriptions"]
    topics = {t for s in subscriptions for t in s.get("topics", [])}
    compliance = {t for s in subscriptions for t in s.get("compliance_topics", [])}
    assert compliance == COMPLIANCE_TOPICS
    assert topics | compliance == KNOWN_TOPICS
    for subscription in subscriptions:
        assert resolve(urlsplit(subscription["uri"]).path).url_name == "shopify-webhook"
    assert resolve(urlsplit(config["application_url"]).path).url_name == "shopify-app"
    for url in config["auth"]["redirect_urls"]:
        assert resolve(urlsplit(url).path).url_name == "shopify-callback"
