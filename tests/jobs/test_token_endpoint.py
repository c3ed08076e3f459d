"""POST /oauth/token under attack: the secret check is cheap and tells nothing, failures are throttled.

The test settings list MD5 first for speed (admin passwords); the tests that are about hashing
set the production hashers (PBKDF2 first) so that they check what production does.
"""

from __future__ import annotations

import base64
import datetime as dt
import statistics
import threading
import time
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model
from oauthlib.common import Request as OAuthlibRequest
from rest_framework.test import APIClient

from jobs.api.hashers import ALGORITHM, ClientSecretHasher, client_secret_check
from jobs.api.oauth import TenantOAuth2Validator
from jobs.api.throttling import token_failure_record
from jobs.clients import api_client_create
from jobs.models import TokenFailureCounter
from tests.api_helpers import assert_error

pytestmark = pytest.mark.django_db

TOKEN_URL = "/oauth/token"
READ = "invoice.invoice_read"
PRODUCTION_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "jobs.api.hashers.ClientSecretHasher",
]
LIMITS = {
    "TOKEN_FAILURE_LIMIT_PER_CLIENT": 3,
    "TOKEN_FAILURE_LIMIT_PER_ADDRESS": 5,
    "TOKEN_FAILURE_WINDOW": 300,
}


def token_request(client_id: str, secret: str, *, address: str = "10.0.0.1", **headers: str):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return APIClient().post(
        TOKEN_URL,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR=address,
        **headers,
    )


def stored_secret(api_client) -> str:
    return str(get_application_model().objects.get(pk=api_client.application_id).client_secret)


# --- the stored hash ----------------------------------------------------------------------------
@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_new_secret_is_stored_with_the_keyed_fast_hash_not_pbkdf2(tenant):
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)

    stored = stored_secret(api_client)

    assert stored.startswith(f"{ALGORITHM}$") and secret not in stored
    assert client_secret_check(secret=secret, stored=stored).ok
    assert not client_secret_check(secret=secret + "x", stored=stored).ok
    assert token_request(api_client.application.client_id, secret).status_code == 200


def test_hash_depends_on_the_secret_key(tenant, settings):
    """A stolen database alone does not allow checking a guess: the key is not in it."""
    hasher = ClientSecretHasher()
    encoded = hasher.encode("the-secret", "salt1234")

    assert hasher.verify("the-secret", encoded)
    settings.SECRET_KEY = "another-installation-" + "k" * 40
    assert not hasher.verify("the-secret", encoded)


def test_rotated_secret_key_still_verifies_and_is_rehashed_with_the_new_one(tenant, settings):
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)
    old_hash = stored_secret(api_client)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "rotated-" + "n" * 50

    assert token_request(api_client.application.client_id, secret).status_code == 200

    new_hash = stored_secret(api_client)
    assert new_hash != old_hash and new_hash.startswith(f"{ALGORITHM}$")
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone: the new hash alone must do
    assert token_request(api_client.application.client_id, secret).status_code == 200


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_legacy_pbkdf2_secret_still_works_and_is_upgraded_on_success(tenant):
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)
    legacy = make_password(secret, hasher="pbkdf2_sha256")
    get_application_model().objects.filter(pk=api_client.application_id).update(client_secret=legacy)

    response = token_request(api_client.application.client_id, secret)

    assert response.status_code == 200, response.content
    upgraded = stored_secret(api_client)
    assert upgraded.startswith(f"{ALGORITHM}$")
    assert client_secret_check(secret=secret, stored=upgraded).ok
    assert token_request(api_client.application.client_id, secret).status_code == 200


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_legacy_pbkdf2_secret_is_not_touched_by_a_wrong_secret(tenant):
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)
    legacy = make_password(secret, hasher="pbkdf2_sha256")
    get_application_model().objects.filter(pk=api_client.application_id).update(client_secret=legacy)

    assert_error(
        token_request(api_client.application.client_id, "wrong"), 401, "Client authentication failed"
    )

    assert stored_secret(api_client) == legacy


def test_saving_the_application_again_keeps_the_hash(tenant):
    """django-oauth-toolkit hashes on save unless it recognises a hash: it must recognise ours."""
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)
    application = get_application_model().objects.get(pk=api_client.application_id)
    before = application.client_secret

    application.name = "renamed"
    application.save()

    assert stored_secret(api_client) == before
    assert token_request(api_client.application.client_id, secret).status_code == 200


# --- known and unknown client ids cost the same -------------------------------------------------
def _median_ms(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _authenticate(client_id: str, secret: str) -> bool:
    request = OAuthlibRequest(
        "https://testserver/oauth/token",
        http_method="POST",
        body=urlencode({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    request.client = None
    return TenantOAuth2Validator().authenticate_client(request)


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_wrong_secret_of_a_known_client_costs_the_same_as_an_unknown_client(tenant):
    """Relative only (no absolute figure; those are in benchmarks/): medians of interleaved runs."""
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)
    known = api_client.application.client_id
    assert _authenticate(known, secret) is True
    known_samples, unknown_samples = [], []
    for _ in range(15):
        known_samples.append(_median_ms(lambda: _authenticate(known, "wrong-secret"), 3))
        unknown_samples.append(_median_ms(lambda: _authenticate("no-such-client", "wrong-secret"), 3))
    known_ms, unknown_ms = statistics.median(known_samples), statistics.median(unknown_samples)

    assert max(known_ms, unknown_ms) / min(known_ms, unknown_ms) < 3, (known_ms, unknown_ms)


def test_unknown_client_id_compares_a_dummy_secret(tenant, monkeypatch):
    calls = []
    original = ClientSecretHasher.verify

    def spy(self, password, encoded):
        calls.append(password)
        return original(self, password, encoded)

    monkeypatch.setattr(ClientSecretHasher, "verify", spy)

    assert _authenticate("no-such-client", "guess") is False
    assert calls == ["guess"]


# --- throttling -----------------------------------------------------------------------------------
@override_settings(**LIMITS)
def test_failures_for_one_client_id_are_throttled_with_429_and_retry_after(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    client_id = api_client.application.client_id
    for attempt in range(3):
        assert_error(token_request(client_id, f"wrong-{attempt}", address=f"10.0.0.{attempt}"), 401, "Client")

    # from yet another address, and even with the right secret: the client id is blocked
    response = token_request(client_id, secret, address="10.0.0.99")

    body = assert_error(response, 429, "Too many failed token requests.")
    assert "client id" in body["detailInfo"]
    assert 0 < int(response["Retry-After"]) <= 300
    assert f"{response['Retry-After']} seconds" in body["detailInfo"]
    assert not get_access_token_model().objects.exists()


@override_settings(**LIMITS)
def test_failures_from_one_address_are_throttled_across_client_ids(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    for attempt in range(5):
        assert token_request(f"guess-{attempt}", "x", address="192.0.2.7").status_code == 401

    assert_error(token_request("guess-99", "x", address="192.0.2.7"), 429, "Too many failed")
    # the real client from another address is not affected
    assert token_request(api_client.application.client_id, secret, address="198.51.100.1").status_code == 200


@override_settings(**LIMITS)
def test_throttled_requests_are_not_checked_and_not_counted_again(tenant, api_client_and_secret, monkeypatch):
    api_client, _ = api_client_and_secret
    client_id = api_client.application.client_id
    for attempt in range(3):
        token_request(client_id, "wrong", address=f"10.1.0.{attempt}")
    checked = []

    def check_secret(self, provided: str, stored: str) -> bool:
        checked.append(provided)
        return False

    monkeypatch.setattr(TenantOAuth2Validator, "_check_secret", check_secret)

    for _ in range(5):
        assert token_request(client_id, "wrong", address="10.1.0.50").status_code == 429

    assert checked == []
    assert TokenFailureCounter.objects.get(key=f"client:{client_id}").failures == 3


@override_settings(**LIMITS)
def test_basic_auth_and_form_client_ids_both_count(tenant, api_client_and_secret):
    """The server tries HTTP Basic, then the form: rotating the Basic id must not shield the form id."""
    api_client, _ = api_client_and_secret
    target = api_client.application.client_id
    for attempt in range(3):
        basic = base64.b64encode(f"decoy-{attempt}:x".encode()).decode()
        response = token_request(
            target, "wrong", address=f"10.2.0.{attempt}", HTTP_AUTHORIZATION=f"Basic {basic}"
        )
        assert response.status_code == 401

    assert_error(token_request(target, "wrong", address="10.2.0.99"), 429, "Too many failed")


@override_settings(**LIMITS)
def test_successful_requests_do_not_count(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    client_id = api_client.application.client_id
    for _ in range(10):
        assert token_request(client_id, secret).status_code == 200

    assert not TokenFailureCounter.objects.exists()
    assert token_request(client_id, "wrong").status_code == 401
    assert token_request(client_id, secret).status_code == 200


@override_settings(**LIMITS)
def test_throttle_ends_with_its_window(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    client_id = api_client.application.client_id
    for attempt in range(3):
        token_request(client_id, "wrong", address=f"10.3.0.{attempt}")
    assert token_request(client_id, secret).status_code == 429

    # five minutes later
    TokenFailureCounter.objects.update(window_started_at=timezone.now() - dt.timedelta(seconds=301))

    assert token_request(client_id, secret).status_code == 200
    assert token_request(client_id, "wrong").status_code == 401
    assert TokenFailureCounter.objects.get(key=f"client:{client_id}").failures == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted():
    """Several worker processes count into the same row: no lost update."""
    assert connection.vendor == "postgresql"
    threads, per_thread = 8, 5
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def fail() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                token_failure_record(client_ids=["shared-client"], address="203.0.113.5")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=fail) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    counts = dict(TokenFailureCounter.objects.values_list("key", "failures"))
    assert counts == {
        "client:shared-client": threads * per_thread,
        "address:203.0.113.5": threads * per_thread,
    }


@pytest.mark.parametrize("client_id", ["acme\x00client", "x" * 5000, "ünïcødé-客户"])
def test_odd_client_ids_are_401_and_counted(tenant, client_id):
    body = assert_error(
        token_request(client_id, "s\x00cret", address="10.4.0.1"), 401, "Client authentication failed"
    )

    assert body["error"] == "invalid_client"
    assert TokenFailureCounter.objects.get(key="address:10.4.0.1").failures == 1
    assert TokenFailureCounter.objects.filter(key__startswith="client:").count() == 1
