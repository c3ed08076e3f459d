"""The token endpoint (client credentials, Emporix answer shape), scopes, expiry, revocation and
tenant isolation."""

from __future__ import annotations

import base64
import hashlib
import uuid
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework.test import APIClient

from jobs.clients import api_client_create, api_client_revoke
from jobs.models import InvoiceJob
from jobs.services import job_create_manual
from tests import factories
from tests.api_helpers import JOBS_URL, assert_error, job_url

pytestmark = pytest.mark.django_db

TOKEN_URL = "/oauth/token"
MANAGE, READ, ORDERS = "invoice.invoice_manage", "invoice.invoice_read", "invoice.order_manage"


def post_form(data: dict[str, str], **headers: str):
    return APIClient().post(
        TOKEN_URL, data=urlencode(data), content_type="application/x-www-form-urlencoded", **headers
    )


def credentials(api_client, secret: str, **fields: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": api_client.application.client_id,
        "client_secret": secret,
        **fields,
    }


def bearer(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


# --- the token endpoint -----------------------------------------------------------------------
def test_token_answer_has_the_emporix_shape(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret

    response = post_form(credentials(api_client, secret))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"]
    assert body["refresh_token"] == ""
    assert body["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert body["scope"].split() == [MANAGE, READ, ORDERS, "tenant=acme"]
    assert response["Cache-Control"] == "no-store"


def test_token_from_the_endpoint_works_on_the_job_api(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    access_token = post_form(credentials(api_client, secret)).json()["access_token"]
    client = bearer(access_token)

    created = client.post(
        JOBS_URL.format(tenant="acme"), {"jobType": "MANUAL", "orderIds": ["A-1"]}, format="json"
    )
    assert created.status_code == 201
    read = client.get(job_url("acme", created.json()["jobId"]))

    assert read.status_code == 200 and read.json()["orders"][0]["orderId"] == "A-1"
    assert InvoiceJob.objects.get().requested_by == f"api-client:{api_client.application.client_id}"


def test_token_with_http_basic_client_authentication(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    basic = base64.b64encode(f"{api_client.application.client_id}:{secret}".encode()).decode()

    response = post_form({"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}")

    assert response.status_code == 200, response.content
    assert response.json()["scope"].endswith("tenant=acme")


def test_token_tenant_marker_names_the_clients_tenant(tenant, other_tenant):
    api_client, secret = factories.api_client_make(other_tenant, scopes=READ)

    body = post_form(credentials(api_client, secret)).json()

    assert body["scope"] == f"{READ} tenant=globex"


def test_token_requested_scope_is_granted(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret

    body = post_form(credentials(api_client, secret, scope=READ)).json()

    assert body["scope"] == f"{READ} tenant=acme"
    client = bearer(body["access_token"])
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])
    assert client.get(job_url("acme", job.pk)).status_code == 200
    assert_error(
        client.post(JOBS_URL.format(tenant="acme"), {"jobType": "MANUAL", "orderIds": ["A"]}, format="json"),
        403,
        "required scope",
    )


def test_token_scope_the_client_lacks_is_left_out(tenant):
    api_client, secret = factories.api_client_make(tenant, scopes=READ)

    body = post_form(credentials(api_client, secret, scope=f"{MANAGE} {READ} {ORDERS}")).json()

    assert body["scope"] == f"{READ} tenant=acme"
    checksum = hashlib.sha256(body["access_token"].encode()).hexdigest()
    assert get_access_token_model().objects.get(token_checksum=checksum).scope == READ


def test_token_is_stored_only_as_a_checksum(tenant, api_client_and_secret):
    """RFC 9700 token storage: a copy of the database holds no usable bearer token."""
    api_client, secret = api_client_and_secret

    body = post_form(credentials(api_client, secret)).json()

    stored = get_access_token_model().objects.get()
    assert (
        stored.token == ""
        and stored.token_checksum == hashlib.sha256(body["access_token"].encode()).hexdigest()
    )
    # and the token still works
    response = APIClient().get(
        "/invoice/acme/configurations/invoiceSettings", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}"
    )
    assert response.status_code in (200, 404)


def test_token_unknown_scope_is_left_out(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret

    body = post_form(credentials(api_client, secret, scope=f"{READ} admin.everything")).json()

    assert body["scope"] == f"{READ} tenant=acme"


@pytest.mark.parametrize("scope", [MANAGE, f"{MANAGE} {ORDERS}", "admin.everything"])
def test_token_only_scopes_the_client_lacks_is_400(tenant, scope):
    api_client, secret = factories.api_client_make(tenant, scopes=READ)

    response = post_form(credentials(api_client, secret, scope=scope))

    body = assert_error(response, 400, "None of the requested scopes is allowed for this client.")
    assert body["error"] == "invalid_scope"
    assert not get_access_token_model().objects.exists()


def test_token_wrong_secret_is_401(tenant, api_client_and_secret):
    api_client, _ = api_client_and_secret

    response = post_form(credentials(api_client, "wrong-secret"))

    body = assert_error(response, 401, "Client authentication failed")
    assert body["error"] == "invalid_client"
    assert not get_access_token_model().objects.exists()


def test_token_unknown_client_is_401(tenant):
    response = post_form({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})

    assert assert_error(response, 401, "Client authentication failed")["error"] == "invalid_client"


def test_token_missing_client_credentials_is_401(tenant):
    response = post_form({"grant_type": "client_credentials"})

    assert assert_error(response, 401, "Client authentication failed")["error"] == "invalid_client"


def test_token_revoked_client_is_401(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    api_client_revoke(api_client=api_client)

    response = post_form(credentials(api_client, secret))

    assert assert_error(response, 401, "Client authentication failed")["error"] == "invalid_client"


def test_token_client_of_inactive_tenant_is_401(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    tenant.active = False
    tenant.save(update_fields=["active"])

    assert_error(post_form(credentials(api_client, secret)), 401, "Client authentication failed")


def test_token_oauth_application_without_api_client_is_401(tenant):
    Application = get_application_model()
    Application.objects.create(
        name="bare",
        client_id="bare-app",
        client_secret="bare-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )

    response = post_form(
        {"grant_type": "client_credentials", "client_id": "bare-app", "client_secret": "bare-secret"}
    )

    assert_error(response, 401, "Client authentication failed")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "magic", ""])
def test_token_wrong_grant_type_is_400(tenant, api_client_and_secret, grant_type):
    api_client, secret = api_client_and_secret

    response = post_form(credentials(api_client, secret, grant_type=grant_type, username="u", password="p"))

    body = assert_error(response, 400, "Unsupported grant_type: use client_credentials.")
    assert body["error"] == "unsupported_grant_type"
    assert body["detailInfo"] == f"grant_type {grant_type!r} is not supported."
    assert not get_access_token_model().objects.exists()


def test_token_request_as_json_is_400_asking_for_a_form(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret

    response = APIClient().post(TOKEN_URL, credentials(api_client, secret), format="json")

    body = assert_error(response, 400, "Unsupported grant_type")
    assert "application/x-www-form-urlencoded" in body["detailInfo"]


def test_token_endpoint_get_is_405(tenant):
    assert_error(APIClient().get(TOKEN_URL), 405, "Method GET is not allowed here.")


def test_client_secret_is_stored_hashed(tenant):
    api_client, secret = api_client_create(tenant=tenant, scopes=READ)

    stored = get_application_model().objects.get(pk=api_client.application_id).client_secret

    assert stored != secret and secret not in stored
    assert check_password(secret, stored)


# --- expiry and revocation ----------------------------------------------------------------------
def test_expired_token_is_401(tenant, api_client_and_secret):
    client = bearer(factories.token_make(api_client_and_secret[0], expires_in=-1))

    body = assert_error(client.get(job_url("acme", uuid.uuid4())), 401, "Authentication required")
    assert "expired" in body["detailInfo"]


def test_revoked_client_token_stops_working(tenant, api_client_and_secret):
    api_client, secret = api_client_and_secret
    access_token = post_form(credentials(api_client, secret)).json()["access_token"]
    client = bearer(access_token)
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])
    assert client.get(job_url("acme", job.pk)).status_code == 200

    api_client_revoke(api_client=api_client)

    assert_error(client.get(job_url("acme", job.pk)), 401, "Authentication required")


def test_revoked_client_token_left_in_database_is_refused(tenant, api_client_and_secret):
    """Even if a token row survived the revocation, the revoked client is checked on every call."""
    api_client, _ = api_client_and_secret
    api_client_revoke(api_client=api_client)
    access_token = factories.token_make(api_client)

    body = assert_error(
        bearer(access_token).get(job_url("acme", uuid.uuid4())), 401, "Authentication required"
    )
    assert body["detailInfo"] == "The API client of this token has been revoked."


# --- tenant isolation ---------------------------------------------------------------------------
@pytest.fixture
def globex_job(other_tenant):
    return job_create_manual(tenant=other_tenant, order_ids=["G-1"])


def test_isolation_other_tenants_path_is_403(api, tenant, globex_job):
    response = api.get(job_url("globex", globex_job.pk))

    body = assert_error(response, 403, "The access token is not valid for tenant 'globex'.")
    assert "G-1" not in response.content.decode() and body["detailInfo"] == ""


def test_isolation_other_tenants_job_on_own_path_is_404(api, tenant, globex_job):
    response = api.get(job_url("acme", globex_job.pk))

    assert_error(response, 404, f"Job {globex_job.pk} not found.")
    assert "G-1" not in response.content.decode()


def test_isolation_cannot_create_jobs_for_another_tenant(api, tenant, other_tenant):
    response = api.post(
        JOBS_URL.format(tenant="globex"), {"jobType": "MANUAL", "orderIds": ["A"]}, format="json"
    )

    assert_error(response, 403, "not valid for tenant 'globex'")
    assert not InvoiceJob.objects.filter(tenant=other_tenant).exists()


def test_isolation_each_tenant_reads_its_own_job(api, tenant, other_tenant, globex_job):
    globex_client, secret = factories.api_client_make(other_tenant, scopes=READ)
    globex = bearer(post_form(credentials(globex_client, secret)).json()["access_token"])
    acme_job = job_create_manual(tenant=tenant, order_ids=["A-1"])

    assert globex.get(job_url("globex", globex_job.pk)).json()["orders"][0]["orderId"] == "G-1"
    assert api.get(job_url("acme", acme_job.pk)).json()["orders"][0]["orderId"] == "A-1"
    assert_error(globex.get(job_url("globex", acme_job.pk)), 404, "not found")
    assert_error(globex.get(job_url("acme", acme_job.pk)), 403, "not valid for tenant 'acme'")


def test_isolation_token_of_another_tenant_gets_403_whether_or_not_the_tenant_exists(tenant, other_tenant):
    globex_client, _ = factories.api_client_make(other_tenant)
    globex = bearer(factories.token_make(globex_client))

    for code in ("acme", "nosuch", "zz9"):
        response = globex.post(
            JOBS_URL.format(tenant=code), {"jobType": "MANUAL", "orderIds": ["A"]}, format="json"
        )
        body = assert_error(response, 403, f"The access token is not valid for tenant '{code}'.")
        assert body["detailInfo"] == ""
        assert_error(globex.get(job_url(code, uuid.uuid4())), 403, f"not valid for tenant '{code}'")
    assert not InvoiceJob.objects.exists()


# --- every method is scope-checked ------------------------------------------------------------
@pytest.fixture
def issued_invoice(tenant, run_job) -> str:
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    run_job(job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER]))
    return "/invoice/acme/invoices/INV1001/document"


def scoped(tenant, scopes: str) -> APIClient:
    api_client, _ = factories.api_client_make(tenant, scopes=scopes)
    return bearer(factories.token_make(api_client))


def test_head_of_the_document_needs_the_get_scopes(tenant, issued_invoice):
    response = scoped(tenant, ORDERS).head(issued_invoice)

    # A HEAD answer has no body (RFC 9110 §9.3.2); what it must not show is the file's headers.
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert "Content-Disposition" not in response
    assert (
        scoped(tenant, ORDERS).get(issued_invoice).json()["detailInfo"] == f"Needs one of: {MANAGE}, {READ}."
    )


def test_head_of_the_document_with_the_read_scope_answers_like_get(tenant, issued_invoice):
    response = scoped(tenant, READ).head(issued_invoice)

    assert response.status_code == 200
    assert 'filename="invoice-INV1001.pdf"' in response["Content-Disposition"]


def test_head_of_a_job_needs_the_get_scopes(tenant):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])

    assert scoped(tenant, ORDERS).head(job_url("acme", job.pk)).status_code == 403
    assert scoped(tenant, READ).head(job_url("acme", job.pk)).status_code == 200


@pytest.mark.parametrize(
    ("path", "lacking", "having"),
    [
        ("/invoice/acme/invoices/INV1001/document", ORDERS, READ),
        (JOBS_URL.format(tenant="acme"), f"{READ} {ORDERS}", MANAGE),
        ("/invoice/acme/orders/A-1", f"{MANAGE} {READ}", ORDERS),
    ],
)
def test_options_needs_one_of_the_views_scopes(tenant, path, lacking, having):
    body = assert_error(scoped(tenant, lacking).options(path), 403, "required scope")
    assert body["detailInfo"].startswith("Needs one of:")

    assert scoped(tenant, having).options(path).status_code == 200


def test_options_without_a_token_is_401(tenant):
    assert_error(APIClient().options(JOBS_URL.format(tenant="acme")), 401, "Authentication required")


def test_unsupported_method_needs_a_scope_of_the_view_before_it_is_405(tenant):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])

    assert_error(scoped(tenant, ORDERS).delete(job_url("acme", job.pk)), 403, "required scope")
    assert_error(scoped(tenant, READ).delete(job_url("acme", job.pk)), 405, "Method DELETE is not allowed")
    assert InvoiceJob.objects.filter(pk=job.pk).exists()


# --- the access token only in the Authorization header ----------------------------------------
def test_access_token_in_the_query_is_401(tenant, token):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])

    response = APIClient().get(job_url("acme", job.pk), {"access_token": token})

    body = assert_error(response, 401, "Authentication required")
    assert "Authorization header" in body["detailInfo"]
    assert "A-1" not in response.content.decode()


def test_access_token_in_the_query_is_401_even_next_to_a_valid_header(tenant, api, token):
    response = api.post(
        JOBS_URL.format(tenant="acme") + f"?access_token={token}",
        {"jobType": "MANUAL", "orderIds": ["A-1"]},
        format="json",
    )

    assert "Authorization header" in assert_error(response, 401, "Authentication required")["detailInfo"]
    assert not InvoiceJob.objects.exists()


def test_access_token_in_the_query_with_a_bogus_value_is_401(tenant):
    response = APIClient().get(job_url("acme", uuid.uuid4()) + "?access_token=")

    assert "Authorization header" in assert_error(response, 401, "Authentication required")["detailInfo"]
