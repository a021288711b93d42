"""Login throttling (issue 13, finding 3): after 10 failures for an account or from an
address within 15 minutes, every attempt, the right password included, gets 429 with
Retry-After until the cool-down ends; the failures live in the database, so separate server
processes count them together."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model

from tests.processes import app_servers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(django_user_model):
    django_user_model.objects.create_user("victim", password="right-password", is_staff=True)
    django_user_model.objects.create_user("other", password="other-password", is_staff=True)


def _login(client, username, password, address="10.0.0.1", **headers):
    return client.post("/login/", {"username": username, "password": password},
                       REMOTE_ADDR=address, headers=headers)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_ten_failures_lock_the_account_and_the_address_even_for_the_right_password(
        client, staff, caplog):
    from axes.models import AccessAttempt

    for n in range(9):
        assert _login(client, "victim", f"guess-{n}").status_code == 200  # the form again
    assert _login(client, "victim", "right-password").status_code == 302  # 9: not yet
    client.logout()
    assert _login(client, "victim", "guess-9").status_code == 429  # the tenth failure locks
    caplog.set_level(logging.WARNING, logger="photosync.views.login")
    locked = _login(client, "victim", "right-password")
    assert locked.status_code == 429
    assert 890 <= int(locked["Retry-After"]) <= 900
    assert b"Too many attempts" in locked.content and not _signed_in(client)
    # The address is locked too, for every account it tries.
    assert _login(client, "other", "other-password").status_code == 429
    assert not _signed_in(client)
    logged = [r.getMessage() for r in caplog.records if r.name == "photosync.views.login"]
    assert logged and "'victim'" in logged[0] and "10.0.0.1" in logged[0]
    assert not any("right-password" in m or "guess-" in m for m in logged)
    stored = " ".join(a.post_data for a in AccessAttempt.objects.all())
    assert "guess-" not in stored and "right-password" not in stored
    # Another address may still sign in to another account.
    assert _login(client, "other", "other-password", address="10.0.0.2").status_code == 302


def test_failures_from_many_addresses_lock_the_account(client, staff):
    for n in range(10):
        assert _login(client, "victim", "wrong", address=f"10.1.0.{n}").status_code in (200, 429)
    fresh = _login(client, "victim", "right-password", address="10.9.9.9")
    assert fresh.status_code == 429 and int(fresh["Retry-After"]) > 0
    assert not _signed_in(client)
    assert _login(client, "other", "other-password", address="10.9.9.9").status_code == 302


def test_the_lock_ends_with_its_cool_down(client, staff, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=3)
    for _ in range(10):
        _login(client, "victim", "wrong")
    refused = _login(client, "victim", "right-password")
    assert refused.status_code == 429 and int(refused["Retry-After"]) <= 3
    time.sleep(int(refused["Retry-After"]) + 0.2)
    assert _login(client, "victim", "right-password").status_code == 302
    assert _signed_in(client)


def test_behind_a_proxy_the_forwarded_address_counts_not_what_the_client_claims(
        client, staff, settings):
    settings.PHOTOSYNC_TRUSTED_PROXIES = 1
    for n in range(10):  # the client forges a new left-most entry each time
        _login(client, "nobody", "wrong", address="10.0.0.254",
               **{"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.7"})
    refused = _login(client, "other", "other-password", address="10.0.0.254",
                     **{"X-Forwarded-For": "203.0.113.99, 198.51.100.7"})
    assert refused.status_code == 429
    other_client = _login(client, "other", "other-password", address="10.0.0.254",
                          **{"X-Forwarded-For": "198.51.100.8"})
    assert other_client.status_code == 302  # same proxy, another client: not locked


def test_separate_server_processes_share_the_failures(staff):
    """Two gunicorn servers on one database: 5 failures on each lock both."""
    assert get_user_model().objects.filter(username="victim").exists()
    with app_servers(2) as bases:
        sessions = [requests.Session() for _ in bases]

        def post(i: int, password: str) -> requests.Response:
            base, session = bases[i], sessions[i]
            form = session.get(f"{base}/login/", timeout=10)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
            return session.post(f"{base}/login/", timeout=10, allow_redirects=False, data={
                "username": "victim", "password": password, "csrfmiddlewaretoken": token})

        codes = [post(n % 2, f"guess-{n}").status_code for n in range(10)]
        assert codes[:9] == [200] * 9 and codes[9] == 429
        for i in (0, 1):
            locked = post(i, "right-password")
            assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 800
            assert "sessionid" not in sessions[i].cookies
