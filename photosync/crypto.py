"""Encryption of store credentials at rest (Fernet; several keys allow rotation)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in settings.PHOTOSYNC_ENCRYPTION_KEYS])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "PHOTOSYNC_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(generate one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from None


def encrypt_json(value: dict) -> bytes:
    return _fernet().encrypt(json.dumps(value, separators=(",", ":")).encode())


def decrypt_json(token: bytes) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(bytes(token)))
    except InvalidToken:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with PHOTOSYNC_ENCRYPTION_KEY; "
            "keep the old key in the list while rotating."
        ) from None


def generate_key() -> str:
    return Fernet.generate_key().decode()
