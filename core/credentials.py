"""Credentials of outside services, encrypted at rest.

Fernet (AES-128-CBC + HMAC, from `cryptography`) with the keys in CREDENTIALS_ENCRYPTION_KEYS:
a comma-separated list of Fernet keys, newest first (older ones still decrypt, so keys can be
rotated). Production must set them (the settings refuse to start otherwise); the embedded
defaults generate one under VAR_DIR. The key is never derived from SECRET_KEY, so rotating
SECRET_KEY leaves stored secrets readable and knowing one does not reveal the other.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialError(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "CREDENTIALS_ENCRYPTION_KEYS is empty: no key to encrypt credentials with."
        )
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS))


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
            "(CREDENTIALS_ENCRYPTION_KEYS changed?); set the secret again."
        ) from exc
