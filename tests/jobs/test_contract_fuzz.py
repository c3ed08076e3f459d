"""Fuzzing the published contract with random tenant codes finds no undocumented status code.

For every operation in the contract (shared/spec/invoice-service.openapi.json), requests go out
with generated tenant codes (valid-pattern and malformed ones, plus the existing tenants) and
job ids, each with no token, with a token of another tenant and with a token of the tenant
`acme`. The answer must be a status the contract documents for that operation, with the
documented body. The one addition is 401 for a request without a token: RFC 6750 §3.1 demands
it, and the service's own schema (/api/schema/, which test_openapi_contract keeps a superset
of the contract) documents it for these operations.

Beyond "documented": whatever the code, a token of another tenant gets 403 (so nobody learns
which tenants exist), and no token gets 401.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests import factories
from tests.api_helpers import CONTRACT
from tests.spec_utils import load_spec, validate_against_spec, validate_response_body

pytestmark = pytest.mark.django_db

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SPEC = load_spec(CONTRACT)
OPERATIONS = [(method, path) for path, item in SPEC["paths"].items() for method in METHODS if method in item]
TOKEN_TENANT = "acme"

valid_codes = st.from_regex(r"\A[a-z][a-z0-9]{2,15}\Z")
# Anything that stays one path segment: "/" would address another resource, "." and ".." are
# resolved away by every HTTP client. Surrogates cannot be sent as UTF-8.
any_codes = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda code: "/" not in code and code not in (".", "..")
)
tenant_codes = st.one_of(st.sampled_from([TOKEN_TENANT, "globex", "nosuch"]), valid_codes, any_codes)
job_ids = st.one_of(st.uuids().map(str), any_codes)


def url_for(path: str, *, tenant: str, job_id: str) -> str:
    return path.replace("{tenant}", quote(tenant, safe="")).replace("{jobId}", quote(job_id, safe=""))


@pytest.fixture
def callers(tenant, other_tenant) -> dict[str, tuple[APIClient, str | None]]:
    """name -> (client, its token's tenant)."""
    acme_client, _ = factories.api_client_make(tenant)
    globex_client, _ = factories.api_client_make(other_tenant)
    acme, globex = APIClient(), APIClient()
    acme.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(acme_client)}")
    globex.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(globex_client)}")
    return {"no token": (APIClient(), None), "acme token": (acme, "acme"), "globex token": (globex, "globex")}


@pytest.fixture
def own_schema(db: Any) -> dict[str, Any]:
    return json.loads(Client().get("/api/schema/", {"format": "json"}).content)


def test_the_services_own_schema_documents_401_for_every_contract_operation(own_schema):
    for method, path in OPERATIONS:
        assert "401" in own_schema["paths"][path][method]["responses"], (method, path)


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tenant_code=tenant_codes, job_id=job_ids)
def test_random_tenant_codes_get_only_documented_statuses(callers, tenant_code, job_id):
    for method, path in OPERATIONS:
        documented = set(SPEC["paths"][path][method]["responses"])
        url = url_for(path, tenant=tenant_code, job_id=job_id)
        for name, (client, token_tenant) in callers.items():
            kwargs: dict[str, Any] = {}
            if method == "post":
                kwargs = {"data": {"jobType": "MANUAL", "orderIds": ["FUZZ-1"]}, "format": "json"}
            response = getattr(client, method)(url, **kwargs)
            status = str(response.status_code)
            where = f"{method.upper()} {url} with {name}: {status} {response.content[:300]!r}"

            if token_tenant is None:
                assert status == "401", where
                validate_against_spec(response.json(), CONTRACT, "ErrorResponse")
                continue
            assert status in documented, where
            if tenant_code != token_tenant:
                assert status == "403", where
            validate_response_body(CONTRACT, method, path, status, response.content)
