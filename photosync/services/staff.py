"""Store staff accounts: the passwordless Django users behind embedded sessions (a Shopify
staff member from an ID token, a WordPress user from the companion plugin's handoff).

The username ties the account to its store (`store<pk>:<remote user>`), so erasing the store
erases it too, and selectors.stores_for_user scopes it to that one store."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from photosync.models import Store


def store_staff_username(*, store: Store, remote_user_id: str) -> str:
    """The Django username of a store's staff member who signed in through the platform."""
    return f"{_prefix(store)}{remote_user_id}"[:150]


def store_staff_of(*, store: Store, username: str) -> bool:
    """Whether `username` is one of the store's staff accounts."""
    return username.startswith(_prefix(store))


def store_staff_user(*, store: Store, remote_user_id: str, name: str = ""):
    """The account of a store's staff member, created on first use with no password: it
    signs in only through the store's platform."""
    user, created = get_user_model().objects.get_or_create(
        username=store_staff_username(store=store, remote_user_id=remote_user_id),
        defaults={"first_name": name[:150]},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def store_staff_delete(*, store: Store) -> int:
    """Delete every staff account of the store (erasure); return how many there were."""
    staff = get_user_model().objects.filter(username__startswith=_prefix(store))
    count = staff.count()
    staff.delete()
    return count


def _prefix(store: Store) -> str:
    return f"store{store.pk}:"
