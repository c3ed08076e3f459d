"""The two job endpoints of the contract, as an API client sees them: answers and every error."""

from __future__ import annotations

import datetime as dt
import uuid
from unittest import mock

import pytest
from rest_framework.test import APIClient

from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual
from tests import factories
from tests.api_helpers import CONTRACT, JOBS_URL, assert_error, job_url
from tests.spec_utils import validate_against_spec

pytestmark = pytest.mark.django_db

URL = JOBS_URL.format(tenant="acme")


def create(api: APIClient, body: object, url: str = URL):
    return api.post(url, body, format="json")


def create_job(api: APIClient, *order_ids: str) -> str:
    response = create(api, {"jobType": "MANUAL", "orderIds": list(order_ids)})
    assert response.status_code == 201, response.content
    return str(response.json()["jobId"])


# --- creating and reading jobs -----------------------------------------------------------------
def test_create_manual_job_answers_201_with_job_id(api, tenant):
    response = create(api, {"jobType": "MANUAL", "orderIds": ["sampleOrderId1", "sampleOrderId2"]})

    assert response.status_code == 201
    body = response.json()
    validate_against_spec(body, CONTRACT, "JobCreationResponse")
    job = InvoiceJob.objects.get(pk=uuid.UUID(body["jobId"]))
    assert job.tenant == tenant and job.job_type == "MANUAL"


def test_read_new_job_shows_pending_orders_in_request_order(api, tenant):
    job_id = create_job(api, "B-2", "A-1")

    response = api.get(job_url("acme", job_id))

    assert response.status_code == 200
    body = response.json()
    validate_against_spec(body, CONTRACT, "JobStatusResponse")
    assert body["jobStatus"] == body["status"] == "IN_PROGRESS"
    assert body["jobType"] == "MANUAL"
    assert [(o["orderId"], o["orderStatus"]) for o in body["orders"]] == [
        ("B-2", "PENDING"),
        ("A-1", "PENDING"),
    ]
    assert all("invoiceNumber" not in o and "downloadLink" not in o for o in body["orders"])


def test_read_finished_job_shows_invoice_number_link_and_failures(api, tenant, run_job):
    factories.orders_store(tenant, factories.CARD_ORDER)
    job_id = create_job(api, factories.CARD_ORDER, "NO-SUCH-ORDER")
    run_job(InvoiceJob.objects.get(pk=job_id))

    response = api.get(job_url("acme", job_id))

    assert response.status_code == 200
    body = response.json()
    validate_against_spec(body, CONTRACT, "JobStatusResponse")
    assert body["jobStatus"] == body["status"] == "DONE"
    success, failure = body["orders"]
    assert success["orderId"] == factories.CARD_ORDER and success["orderStatus"] == "SUCCESS"
    assert success["invoiceNumber"] == "INV1001"
    assert "Invoice INV1001 created" in success["message"]
    assert success["downloadLink"].startswith("http://testserver/invoices/download/")
    assert failure == {
        "orderId": "NO-SUCH-ORDER",
        "orderStatus": "FAILURE",
        "message": "Order NO-SUCH-ORDER not found.",
    }


def test_create_duplicate_order_ids_are_processed_once(api, tenant):
    job_id = create_job(api, "A-1", "B-2", "A-1", " B-2 ", "A-1")

    body = api.get(job_url("acme", job_id)).json()

    assert [o["orderId"] for o in body["orders"]] == ["A-1", "B-2"]
    assert InvoiceJob.objects.get(pk=job_id).total_count == 2
    assert JobOrder.objects.filter(job_id=job_id).count() == 2


def test_create_order_ids_up_to_the_limit_are_accepted(api, tenant, settings):
    settings.INVOICE_MAX_ORDER_IDS = 3

    response = create(api, {"jobType": "MANUAL", "orderIds": ["A", "B", "C"]})

    assert response.status_code == 201


def test_create_more_order_ids_than_the_limit_is_400(api, tenant, settings):
    settings.INVOICE_MAX_ORDER_IDS = 3

    response = create(api, {"jobType": "MANUAL", "orderIds": ["A", "B", "C", "D"]})

    assert_error(response, 400, "Too many orderIds: 4 given, at most 3 per job.")
    assert not InvoiceJob.objects.exists()


def test_create_default_limit_is_1000_order_ids(api, tenant):
    ids = [f"O-{i}" for i in range(1001)]

    assert_error(create(api, {"jobType": "MANUAL", "orderIds": ids}), 400, "at most 1000 per job")
    assert create(api, {"jobType": "MANUAL", "orderIds": ids[:1000]}).status_code == 201


def test_create_automatic_job_is_400_not_configured(api, tenant):
    response = create(api, {"jobType": "AUTOMATIC"})

    body = assert_error(response, 400, "Automatic jobs are not configured for tenant 'acme'")
    assert "invoiceSettings" in body["message"]
    assert not InvoiceJob.objects.exists()


# --- invalid requests -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "jobType is required."),
        ({"orderIds": ["A"]}, "jobType is required."),
        ({"jobType": "WEEKLY", "orderIds": ["A"]}, "Unknown jobType 'WEEKLY'."),
        ({"jobType": "manual", "orderIds": ["A"]}, "Unknown jobType 'manual'."),
        ({"jobType": "MANUAL"}, "orderIds is required for a MANUAL job."),
        ({"jobType": "MANUAL", "orderIds": "A"}, "orderIds must be an array"),
        ({"jobType": "MANUAL", "orderIds": []}, "orderIds must not be empty."),
        ({"jobType": "MANUAL", "orderIds": [""]}, "Every order id must be a non-empty string"),
        ({"jobType": "MANUAL", "orderIds": ["A", "   "]}, "Every order id must be a non-empty string"),
        ({"jobType": "MANUAL", "orderIds": [17]}, "Every order id must be a non-empty string"),
        ({"jobType": "MANUAL", "orderIds": [None]}, "Every order id must be a non-empty string"),
        ({"jobType": "MANUAL", "orderIds": [["A"]]}, "Every order id must be a non-empty string"),
        ({"jobType": "MANUAL", "orderIds": ["X" * 256]}, "Every order id must be a non-empty string"),
        ({"jobType": "AUTOMATIC", "orderIds": ["A"]}, "orderIds must not be given for an AUTOMATIC job."),
        ({"jobType": "AUTOMATIC", "orderIds": []}, "orderIds must not be given for an AUTOMATIC job."),
        (["MANUAL"], "The request body must be a JSON object."),
        ("MANUAL", "The request body must be a JSON object."),
    ],
)
def test_create_invalid_body_is_400(api, tenant, body, message):
    response = create(api, body)

    assert_error(response, 400, message)
    assert not InvoiceJob.objects.exists()


def test_create_invalid_order_ids_are_named_in_detail(api, tenant):
    response = create(api, {"jobType": "MANUAL", "orderIds": ["A", "", "B", 5]})

    body = assert_error(response, 400, "Every order id must be a non-empty string")
    assert body["detailInfo"] == "Invalid: orderIds[1], orderIds[3]"


def test_create_malformed_json_is_400(api, tenant):
    response = api.post(URL, data='{"jobType": "MANUAL", ', content_type="application/json")

    assert_error(response, 400, "Malformed JSON in the request body.")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("jobType=MANUAL&orderIds=A", "application/x-www-form-urlencoded"),
        ('{"jobType": "MANUAL", "orderIds": ["A"]}', "text/plain"),
    ],
)
def test_create_wrong_content_type_is_415(api, tenant, data, content_type):
    response = api.post(URL, data=data, content_type=content_type)

    body = assert_error(response, 415, "Unsupported media type: send application/json.")
    assert content_type in body["detailInfo"]


@pytest.mark.parametrize("code", ["Acme", "ab", "1acme", "a" * 17, "ac-me", "acme_shop", "ACME"])
def test_malformed_tenant_is_403_naming_the_format(api, tenant, code):
    """Not the token's tenant, like any other code; GET documents no 400 (the contract)."""
    body = assert_error(
        create(api, {"jobType": "MANUAL", "orderIds": ["A"]}, JOBS_URL.format(tenant=code)),
        403,
        f"The access token is not valid for tenant '{code}'.",
    )
    assert "^[a-z][a-z0-9]+$" in body["detailInfo"]
    assert_error(api.get(job_url(code, uuid.uuid4())), 403, "not valid for tenant")
    assert not InvoiceJob.objects.exists()


def test_unknown_tenant_is_the_same_403_as_an_existing_one(api, tenant, other_tenant):
    """An outsider cannot tell which tenant codes exist: same status, same body shape."""
    body = {"jobType": "MANUAL", "orderIds": ["A"]}
    unknown = create(api, body, JOBS_URL.format(tenant="nosuch"))
    existing = create(api, body, JOBS_URL.format(tenant="globex"))

    assert_error(unknown, 403, "The access token is not valid for tenant 'nosuch'.")
    assert_error(existing, 403, "The access token is not valid for tenant 'globex'.")
    assert unknown.json()["detailInfo"] == existing.json()["detailInfo"] == ""
    assert_error(api.get(job_url("nosuch", uuid.uuid4())), 403, "not valid for tenant 'nosuch'")
    assert not InvoiceJob.objects.exists()


def test_inactive_tenant_is_403(api, tenant):
    tenant.active = False
    tenant.save(update_fields=["active"])

    assert_error(create(api, {"jobType": "MANUAL", "orderIds": ["A"]}), 403, "Tenant 'acme' is deactivated.")
    assert_error(api.get(job_url("acme", uuid.uuid4())), 403, "Tenant 'acme' is deactivated.")
    assert not InvoiceJob.objects.exists()


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "12345"])
def test_unknown_job_is_404(api, tenant, job_id):
    assert_error(api.get(job_url("acme", job_id)), 404, f"Job {job_id} not found.")


def test_unknown_path_is_404_error_response(api, tenant):
    assert_error(api.get("/invoice/acme/jobs"), 404, "No such resource: /invoice/acme/jobs")
    assert_error(api.get(URL + "/"), 404, "No such resource")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", URL),
        ("put", URL),
        ("patch", URL),
        ("delete", URL),
        ("post", job_url("acme", uuid.uuid4())),
        ("put", job_url("acme", uuid.uuid4())),
        ("delete", job_url("acme", uuid.uuid4())),
    ],
)
def test_wrong_method_is_405(api, tenant, method, path):
    response = getattr(api, method)(path, {}, format="json")

    assert_error(response, 405, f"Method {method.upper()} is not allowed here.")
    assert response["Allow"]


# --- authentication and scopes (more in test_auth.py) ------------------------------------------
def test_no_token_is_401(tenant):
    client = APIClient()

    response = create(client, {"jobType": "MANUAL", "orderIds": ["A"]})

    assert_error(response, 401, "Authentication required")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get(job_url("acme", uuid.uuid4())), 401, "Authentication required")
    assert not InvoiceJob.objects.exists()


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_invalid_token_is_401(tenant, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(create(client, {"jobType": "MANUAL", "orderIds": ["A"]}), 401, "Authentication required")


def test_expired_token_is_401(tenant, api_client_and_secret):
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client_and_secret[0], expires_in=-1)}"
    )

    body = assert_error(client.get(job_url("acme", uuid.uuid4())), 401, "Authentication required")
    assert body["detailInfo"] == "The access token is invalid or expired."


def test_read_scope_reads_but_cannot_create(tenant, api_client_and_secret):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client_and_secret[0], scopes='invoice.invoice_read')}"
    )

    body = assert_error(create(client, {"jobType": "MANUAL", "orderIds": ["A"]}), 403, "required scope")
    assert "invoice.invoice_manage" in body["detailInfo"]
    assert client.get(job_url("acme", job.pk)).status_code == 200


def test_order_manage_scope_alone_cannot_use_jobs(tenant, api_client_and_secret):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client_and_secret[0], scopes='invoice.order_manage')}"
    )

    assert_error(create(client, {"jobType": "MANUAL", "orderIds": ["A"]}), 403, "required scope")
    assert_error(client.get(job_url("acme", job.pk)), 403, "required scope")


def test_other_tenant_path_is_403(api, tenant, other_tenant):
    response = create(api, {"jobType": "MANUAL", "orderIds": ["A"]}, JOBS_URL.format(tenant="globex"))

    assert_error(response, 403, "The access token is not valid for tenant 'globex'.")
    assert not InvoiceJob.objects.exists()


# --- unhandled errors ---------------------------------------------------------------------------
def test_unhandled_error_reading_is_500_without_details(api, tenant):
    job = job_create_manual(tenant=tenant, order_ids=["A-1"])
    boom = RuntimeError("password=hunter2 at /srv/app/jobs/selectors.py")

    with mock.patch("jobs.api.views.selectors.job_orders_with_invoices", side_effect=boom):
        response = api.get(job_url("acme", job.pk))

    body = assert_error(response, 500, "Internal server error.")
    assert "hunter2" not in response.content.decode() and "selectors.py" not in response.content.decode()
    assert body["detailInfo"] == "The error was logged; no details are given here."


def test_unhandled_error_creating_is_500_without_details(api, tenant):
    with mock.patch("jobs.api.views.job_create_manual", side_effect=ZeroDivisionError("secret-42")):
        response = create(api, {"jobType": "MANUAL", "orderIds": ["A"]})

    assert_error(response, 500, "Internal server error.")
    assert "secret-42" not in response.content.decode()
    assert "ZeroDivisionError" not in response.content.decode()


def test_create_job_with_the_broker_down_still_answers_201_and_keeps_the_job(
    api, tenant, django_capture_on_commit_callbacks, caplog
):
    from kombu.exceptions import OperationalError as BrokerDown

    from jobs.services import stuck_job_orders_redispatch

    with (
        mock.patch("jobs.tasks.start_job.delay", side_effect=BrokerDown("Connection refused")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            JOBS_URL.format(tenant="acme"), {"jobType": "MANUAL", "orderIds": ["A-1"]}, format="json"
        )

    assert response.status_code == 201
    job = InvoiceJob.objects.get(pk=response.json()["jobId"])
    assert job.orders.get().status == "PENDING"
    assert "Connection refused" in caplog.text
    # once the broker is back, the reconciler sends the order that never started
    sent = []
    validate = mock.Mock(apply_async=lambda args, task_id: sent.append((args[0], task_id)))
    with (
        mock.patch.dict("jobs.tasks.STEP_TASKS", {"validate": validate}),
        django_capture_on_commit_callbacks(execute=True),
    ):
        stuck_job_orders_redispatch(older_than=dt.timedelta(seconds=-1))
    row = job.orders.get()
    assert sent == [(row.pk, str(row.dispatch_id))]  # sent as the order's one current message
