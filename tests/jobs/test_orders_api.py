"""PUT /invoice/{tenant}/orders/{orderId}: the local order store as an API client uses it."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations.models import GatewayTransaction, StoredOrder
from jobs.models import InvoiceJob
from tests import factories
from tests.api_helpers import JOBS_URL, assert_error, job_url

pytestmark = pytest.mark.django_db

ORDER = factories.CARD_ORDER


def order_url(order_id: str = ORDER, tenant: str = "acme") -> str:
    return f"/invoice/{tenant}/orders/{order_id}"


def put(api: APIClient, document: object, order_id: str = ORDER):
    return api.put(order_url(order_id), document, format="json")


def invoice_via_api(api: APIClient, run_job, order_id: str = ORDER) -> dict[str, Any]:
    created = api.post(
        JOBS_URL.format(tenant="acme"), {"jobType": "MANUAL", "orderIds": [order_id]}, format="json"
    )
    run_job(InvoiceJob.objects.get(pk=created.json()["jobId"]))
    result: dict[str, Any] = api.get(job_url("acme", created.json()["jobId"])).json()["orders"][0]
    return result


# --- storing orders -------------------------------------------------------------------------------
def test_put_new_order_is_201_and_stored(api, tenant):
    response = put(api, factories.demo_order(ORDER))

    assert response.status_code == 201
    assert response.json() == {"orderId": ORDER, "created": True}
    stored = StoredOrder.objects.get(tenant=tenant, order_id=ORDER)
    assert stored.document["customer"]["email"] == "juergen.mueller@example.com"
    assert GatewayTransaction.objects.filter(tenant=tenant, order_id=ORDER).count() == 1


def test_put_existing_order_is_200_and_updated(api, tenant):
    put(api, factories.demo_order(ORDER))

    response = put(api, factories.demo_order(ORDER, status="SHIPPED"))

    assert response.status_code == 200
    assert response.json() == {"orderId": ORDER, "created": False}
    assert StoredOrder.objects.get(tenant=tenant, order_id=ORDER).document["status"] == "SHIPPED"
    assert StoredOrder.objects.filter(tenant=tenant).count() == 1


def test_put_document_without_id_takes_the_path_id(api, tenant):
    document = factories.demo_order(ORDER)
    del document["id"]

    assert put(api, document).status_code == 201
    assert StoredOrder.objects.get(tenant=tenant, order_id=ORDER).document["id"] == ORDER


def test_put_order_is_then_invoiced_by_a_job(api, tenant, run_job):
    put(api, factories.demo_order(ORDER))

    result = invoice_via_api(api, run_job)

    assert result["orderStatus"] == "SUCCESS", result["message"]
    assert result["invoiceNumber"] == "INV1001"


def test_put_same_order_id_in_two_tenants_is_kept_apart(api, tenant, other_tenant):
    globex_client, _ = factories.api_client_make(other_tenant)
    globex = APIClient()
    globex.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(globex_client)}")
    document = factories.demo_order(factories.INVOICE_ORDER)

    assert put(api, document, factories.INVOICE_ORDER).status_code == 201
    assert (
        globex.put(order_url(factories.INVOICE_ORDER, "globex"), document, format="json").status_code == 201
    )
    assert StoredOrder.objects.filter(order_id=factories.INVOICE_ORDER).count() == 2


# --- invalid documents ----------------------------------------------------------------------------
def test_put_order_without_entries_is_400_naming_the_field(api, tenant):
    document = factories.demo_order(ORDER)
    del document["entries"]

    body = assert_error(put(api, document), 400, "The order document is invalid.")

    assert body["errors"] == [{"field": "entries", "message": "at least one entry is required"}]
    assert body["detailInfo"] == "entries: at least one entry is required"
    assert not StoredOrder.objects.exists()


def test_put_order_with_non_numeric_amount_is_400(api, tenant):
    document = factories.demo_order(ORDER)
    document["entries"][1]["amount"] = "two"

    body = assert_error(put(api, document), 400, "The order document is invalid.")

    assert {"field": "entries[1].amount", "message": "must be a number"} in body["errors"]
    assert "entries[1].amount: must be a number" in body["detailInfo"]


def test_put_order_without_customer_email_is_400(api, tenant):
    document = factories.demo_order(ORDER)
    del document["customer"]["email"]

    body = assert_error(put(api, document), 400, "The order document is invalid.")

    assert body["errors"] == [{"field": "customer.email", "message": "is required"}]


def test_put_order_lists_every_problem_at_once(api, tenant):
    document = factories.demo_order(ORDER, currency=None)
    del document["customer"]["email"]
    document["entries"][0]["amount"] = {"value": 1}

    body = assert_error(put(api, document), 400, "The order document is invalid.")

    fields = {error["field"] for error in body["errors"]}
    assert {"currency", "customer.email", "entries[0].amount"} <= fields
    assert all(field in body["detailInfo"] for field in fields)


def test_put_order_with_other_id_than_the_path_is_400(api, tenant):
    body = assert_error(
        put(api, factories.demo_order(ORDER), "OTHER-1"), 400, "The order document is invalid."
    )

    assert body["errors"] == [{"field": "id", "message": "does not match the order id in the path (OTHER-1)"}]


@pytest.mark.parametrize("document", [[], "order", 42])
def test_put_order_that_is_not_an_object_is_400(api, tenant, document):
    assert_error(put(api, document), 400, "The request body must be a JSON object.")


def test_put_malformed_json_is_400(api, tenant):
    response = api.put(order_url(), data='{"id": "DEMO-1001",', content_type="application/json")

    assert_error(response, 400, "Malformed JSON")


def test_put_form_data_is_415(api, tenant):
    response = api.put(order_url(), data="id=DEMO-1001", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "Unsupported media type")


# --- invoiced orders --------------------------------------------------------------------------------
def test_put_invoiced_order_changing_invoiced_content_is_409(api, tenant, run_job):
    put(api, factories.demo_order(ORDER))
    invoice_via_api(api, run_job)
    document = factories.demo_order(ORDER)
    document["customer"]["email"] = "someone.else@example.com"

    response = put(api, document)

    body = assert_error(response, 409, f"Order {ORDER} is invoiced (INV1001)")
    assert "credit note" in body["detailInfo"]
    stored = StoredOrder.objects.get(tenant=tenant, order_id=ORDER)
    assert stored.document["customer"]["email"] == "juergen.mueller@example.com"


def test_put_invoiced_order_removing_an_entry_is_409(api, tenant, run_job):
    put(api, factories.demo_order(ORDER))
    invoice_via_api(api, run_job)
    document = factories.demo_order(ORDER)
    document["entries"] = document["entries"][:1]

    assert_error(put(api, document), 409, "this update would change what was invoiced")


def test_put_invoiced_order_changing_only_status_is_200(api, tenant, run_job):
    put(api, factories.demo_order(ORDER))
    invoice_via_api(api, run_job)

    response = put(api, factories.demo_order(ORDER, status="COMPLETED"))

    assert response.status_code == 200
    stored = StoredOrder.objects.get(tenant=tenant, order_id=ORDER)
    assert stored.document["status"] == "COMPLETED"
    assert stored.document["mixins"]["invoice"]["invoiceNo"] == "INV1001"  # the write-back is kept


# --- who may write --------------------------------------------------------------------------------
def test_put_without_order_manage_scope_is_403(tenant):
    jobs_client, _ = factories.api_client_make(tenant, scopes="invoice.invoice_manage invoice.invoice_read")
    token = factories.token_make(jobs_client)  # (scopes=... with a space would break the token string)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    body = assert_error(put(client, factories.demo_order(ORDER)), 403, "required scope")

    assert "invoice.order_manage" in body["detailInfo"]
    assert not StoredOrder.objects.exists()


def test_put_without_token_is_401(tenant):
    assert_error(put(APIClient(), factories.demo_order(ORDER)), 401, "Authentication required")


def test_put_into_another_tenant_is_403(api, tenant, other_tenant):
    response = api.put(order_url(tenant="globex"), factories.demo_order(ORDER), format="json")

    assert_error(response, 403, "not valid for tenant 'globex'")
    assert not StoredOrder.objects.exists()


def test_put_for_tenant_on_emporix_backend_is_409(api, tenant):
    tenant.backend = "emporix"
    tenant.save(update_fields=["backend"])

    assert_error(put(api, factories.demo_order(ORDER)), 409, "reads its orders from emporix")


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_orders_wrong_method_is_405(api, tenant, method):
    assert_error(getattr(api, method)(order_url()), 405, f"Method {method.upper()} is not allowed here.")


# --- bounded ids and typed documents ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("path_id", "problem"),
    [
        ("..", "must not be '.' or '..'"),
        ("%2E", "must not be '.' or '..'"),
        ("A%00B", "must not contain control characters"),
        ("A%0AB", "must not contain control characters"),
        ("x" * 256, "must be at most 255 characters"),
    ],
)
def test_put_with_an_unusable_order_id_in_the_path_is_400(api, tenant, path_id, problem):
    document = factories.demo_order(ORDER)
    del document["id"]

    body = assert_error(api.put(order_url(path_id), document, format="json"), 400, "The orderId in the path")

    assert problem in body["message"] and body["detailInfo"].startswith("orderId: ")
    assert not StoredOrder.objects.exists()


def test_put_with_an_order_id_of_255_characters_is_stored(api, tenant):
    document = factories.demo_order(ORDER)
    del document["id"]

    assert api.put(order_url("x" * 255), document, format="json").status_code == 201


@pytest.mark.parametrize("order_id", [".", "..", "A\x00B", "A\nB", "\x7f", "x" * 256])
def test_manual_job_with_an_unusable_order_id_is_400_naming_it(api, tenant, order_id):
    response = api.post(
        JOBS_URL.format(tenant="acme"),
        {"jobType": "MANUAL", "orderIds": ["DEMO-1001", order_id]},
        format="json",
    )

    # (a NUL is refused by the JSON parser already, as not storable; also naming orderIds[1])
    body = assert_error(
        response, 400, "" if "\x00" in order_id else "Every order id must be a non-empty string"
    )
    assert "orderIds[1]" in body["detailInfo"] and "orderIds[0]" not in body["detailInfo"]
    assert not InvoiceJob.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["calculatedPrice"].update(finalPrice="abc"), "calculatedPrice.finalPrice"),
        (
            lambda d: d["calculatedPrice"]["finalPrice"].update(taxAggregate=[1]),
            "calculatedPrice.finalPrice.taxAggregate",
        ),
        (lambda d: d["customer"].update(firstName=5), "customer.firstName"),
        (lambda d: d["entries"][0].update(amount=1e308), "entries[0].amount"),
        (lambda d: d["entries"][0].update(amount=1e20), "entries[0].amount"),
        (lambda d: d.update(currency="XYZ"), "currency"),
        (lambda d: d["customer"].update(email="a@example.com, b@evil.example"), "customer.email"),
    ],
)
def test_put_order_breaking_a_rule_is_400_naming_the_field(api, tenant, change, field):
    """Each of these used to answer 500, or be stored and then charged without an invoice."""
    document = factories.demo_order(ORDER)
    change(document)

    body = assert_error(put(api, document), 400, "The order document is invalid.")

    assert field in {error["field"] for error in body["errors"]}
    assert not StoredOrder.objects.exists()
    assert not GatewayTransaction.objects.exists()


def test_put_order_of_1e308_is_refused_so_the_corrected_order_can_be_invoiced(api, tenant, run_job):
    """The issue's case: 1e308 was captured, numbered, failed in the PDF, and the fix got 409."""
    document = factories.demo_order(ORDER)
    document["entries"][0]["amount"] = 1e308
    assert put(api, document).status_code == 400

    assert put(api, factories.demo_order(ORDER)).status_code == 201
    result = invoice_via_api(api, run_job)

    assert result["orderStatus"] == "SUCCESS", result["message"]
    assert result["invoiceNumber"] == "INV1001"


def test_put_invoiced_order_stored_before_the_checks_is_409_not_400(api, tenant, run_job):
    """What was invoiced cannot be compared when the stored document fails today's checks."""
    put(api, factories.demo_order(ORDER))
    invoice_via_api(api, run_job)
    stored = StoredOrder.objects.get(tenant=tenant, order_id=ORDER)
    stored.document["entries"][0]["product"]["name"] = "x" * 600  # longer than allowed now
    stored.save(update_fields=["document"])

    response = put(api, factories.demo_order(ORDER, status="COMPLETED"))

    assert_error(response, 409, "this update would change what was invoiced")
