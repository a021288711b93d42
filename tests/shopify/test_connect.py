"""`manage.py connect_shopify` for custom-app stores."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from photosync.models import Store
from photosync.services.credentials import store_credentials_get
from tests.shopify.conftest import SHOP

pytestmark = pytest.mark.django_db(transaction=True)


def test_connect_checks_the_token_then_stores_it_encrypted(emulator, capsys):
    token = emulator.issue_token(SHOP)
    with pytest.raises(CommandError, match="reconnect"):
        call_command("connect_shopify", "--shop", SHOP, "--access-token", "shpat_wrong")
    with pytest.raises(CommandError, match="myshopify.com"):
        call_command("connect_shopify", "--shop", "shop.example.com", "--access-token", token)
    assert not Store.objects.exists()

    call_command("connect_shopify", "--shop", SHOP.upper(), "--access-token", token)
    store = Store.objects.get(platform="shopify", domain=SHOP)
    assert store.name == "Alpha-Goods"
    assert token.encode() not in bytes(store.credentials_encrypted)
    assert store_credentials_get(store=store) == {"access_token": token}
    assert token not in capsys.readouterr().out
