"""Figures for POST /oauth/token (`make bench` prints them).

- checking one client secret: the keyed fast hash of today, and a legacy PBKDF2 hash
- the whole endpoint: a good secret, a wrong secret for a known client id, an unknown client id

The one threshold: checking a secret stays well under a millisecond (the issue's promise).
"""

from __future__ import annotations

import statistics
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import make_password
from django.test import override_settings
from rest_framework.test import APIClient

from benchmarks.timing import samples_ms
from jobs.api.hashers import client_secret_check, client_secret_hash
from jobs.clients import api_client_create
from tests import factories

PRODUCTION_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "jobs.api.hashers.ClientSecretHasher",
]


def _show(label: str, samples: list[float]) -> float:
    median = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    print(f"\n{label}: median {median:.3f} ms, p95 {p95:.3f} ms")
    return median


@override_settings(PASSWORD_HASHERS=PRODUCTION_HASHERS)
def test_bench_client_secret_check():
    secret = "s" * 43
    fast = client_secret_hash(secret)
    legacy = make_password(secret, hasher="pbkdf2_sha256")

    fast_ms = _show(
        "secret check, keyed fast hash",
        samples_ms(lambda: client_secret_check(secret=secret, stored=fast), 2000),
    )
    _show(
        "secret check, legacy PBKDF2",
        samples_ms(lambda: client_secret_check(secret=secret, stored=legacy), 5),
    )

    assert fast_ms < 1.0


@pytest.mark.django_db
@override_settings(
    PASSWORD_HASHERS=PRODUCTION_HASHERS,
    TOKEN_FAILURE_LIMIT_PER_CLIENT=10**6,
    TOKEN_FAILURE_LIMIT_PER_ADDRESS=10**6,
)
def test_bench_token_endpoint_known_and_unknown_client_ids():
    tenant = factories.tenant_make("benchtoken")
    api_client, secret = api_client_create(tenant=tenant, scopes="invoice.invoice_read")
    client_id = api_client.application.client_id

    def request(cid: str, sec: str, expected: int) -> None:
        form = {"grant_type": "client_credentials", "client_id": cid, "client_secret": sec}
        response = APIClient().post(
            "/oauth/token", data=urlencode(form), content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == expected

    rounds = 200
    _show("token, good secret", samples_ms(lambda: request(client_id, secret, 200), rounds))
    _show("token, known id, wrong secret", samples_ms(lambda: request(client_id, "wrong", 401), rounds))
    _show("token, unknown id", samples_ms(lambda: request("no-such-client", "wrong", 401), rounds))
