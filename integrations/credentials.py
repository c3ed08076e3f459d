"""Credentials of outside services, encrypted at rest.

Fernet (AES-128-CBC + HMAC, from `cryptography`) with keys from the environment:
CREDENTIALS_ENCRYPTION_KEYS is a comma-separated list of Fernet keys, newest first (older
ones still decrypt, so keys can be rotated). Without it, a key is derived from SECRET_KEY,
so changing SECRET_KEY then makes stored secrets unreadable: production sets its own keys.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialError(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    derived = hashlib.sha256(b"invoice-service credentials\x00" + secret_key.encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_secret(plain: str) -> str:
    return _current().encrypt(plain.encode()).decode() if plain else ""


def decrypt_secret(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(
            "The stored client secret cannot be decrypted with the configured keys "
            "(CREDENTIALS_ENCRYPTION_KEYS / SECRET_KEY changed?); set the secret again."
        ) from exc
