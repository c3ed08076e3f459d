"""Client secrets are hashed with a keyed fast hash (HMAC-SHA256), not a password hash.

Why not PBKDF2: a slow hash protects low-entropy passwords against offline guessing. Client
secrets are `secrets.token_urlsafe(32)` (256 random bits, jobs/clients.py): nobody can guess
them, offline or not, so the slowness buys nothing and lets anyone burn a worker's CPU for
hundreds of milliseconds per `POST /oauth/token`. An HMAC costs microseconds.

Why keyed: a stolen database alone then does not even allow checking a guess. The key is derived
from `SECRET_KEY` with `django.utils.crypto.salted_hmac` (its own key salt, so it is not the key
that signs anything else). `SECRET_KEY` is per installation (never a constant in the source).
Rotation: put the old key into `SECRET_KEY_FALLBACKS`; secrets still verify against it and are
re-hashed with the new key on their next successful use.

Hashes written by the previous default (PBKDF2) keep verifying through Django's
`check_password` and are re-hashed with this hasher on the next successful use
(`client_secret_check` says so; jobs/api/oauth.py stores it).

The hasher is a Django password hasher so that django-oauth-toolkit hashes with it
(`OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"]`) and recognises its hashes (`identify_hasher`): it must
be listed in `PASSWORD_HASHERS`, after the one for user passwords.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, check_password, identify_hasher
from django.utils.crypto import constant_time_compare, get_random_string, salted_hmac

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

ALGORITHM = "client_hmac_sha256"
# salted_hmac's key salt: separates this key from every other use of SECRET_KEY.
_KEY_SALT = "jobs.api.hashers.ClientSecretHasher"


def _digest(secret: str, salt: str, key: str | bytes) -> str:
    mac = salted_hmac(_KEY_SALT, f"{salt}${secret}", secret=key, algorithm="sha256")
    return base64.b64encode(mac.digest()).decode("ascii")


def _keys() -> list[str | bytes]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


class ClientSecretHasher(BasePasswordHasher):
    """`client_hmac_sha256$<salt>$<base64 HMAC-SHA256(key, salt$secret)>`."""

    algorithm = ALGORITHM

    def salt(self) -> str:
        return get_random_string(16)

    def encode(self, password: str, salt: str) -> str:
        if not salt or "$" in salt:
            raise ValueError("The salt must be non-empty and must not contain '$'.")
        return f"{self.algorithm}${salt}${_digest(password, salt, settings.SECRET_KEY)}"

    def decode(self, encoded: str) -> dict[str, Any]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        return self.matching_key(password, encoded) is not None

    def matching_key(self, password: str, encoded: str) -> int | None:
        """Index of the key (0: SECRET_KEY, then the fallbacks) the hash was made with, or None.

        Every key is tried even after a match, so the time does not depend on which one matched.
        """
        try:
            decoded = self.decode(encoded)
        except ValueError:  # a damaged stored value matches nothing
            return None
        found = None
        for index, key in enumerate(_keys()):
            if constant_time_compare(_digest(password, decoded["salt"], key), decoded["hash"]):
                found = index if found is None else found
        return found

    def safe_summary(self, encoded: str) -> dict[str | _StrPromise, Any]:
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": decoded["salt"][:4] + "…", "hash": "…"}

    def must_update(self, encoded: str) -> bool:
        return False  # a rotated key is detected in client_secret_check, which knows the secret

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # no work factor to equalise


@dataclass(frozen=True)
class SecretVerdict:
    ok: bool
    # The stored value should be replaced by client_secret_hash(secret): a legacy (PBKDF2) hash
    # or one made with a rotated-out key.
    rehash: bool = False


def client_secret_hash(secret: str) -> str:
    hasher = ClientSecretHasher()
    return hasher.encode(secret, hasher.salt())


def client_secret_check(*, secret: str, stored: str) -> SecretVerdict:
    """Compare a presented client secret with the stored value (hashed or, if so configured, plain)."""
    if stored.startswith(f"{ALGORITHM}$"):
        key_index = ClientSecretHasher().matching_key(secret, stored)
        return SecretVerdict(ok=key_index is not None, rehash=bool(key_index))
    try:
        identify_hasher(stored)
    except ValueError:
        # An application created with hash_client_secret=False keeps its plain secret
        # (django-oauth-toolkit's own behaviour); never created by this service.
        return SecretVerdict(ok=constant_time_compare(secret, stored))
    ok = check_password(secret, stored)
    return SecretVerdict(ok=ok, rehash=ok)


@functools.cache
def _dummy_hash() -> str:
    return client_secret_hash("dummy client secret, compared when the client id is unknown")


def client_secret_dummy_check(*, secret: str) -> None:
    """The same work as checking a real secret: an unknown client id must not answer faster."""
    ClientSecretHasher().verify(secret, _dummy_hash())
