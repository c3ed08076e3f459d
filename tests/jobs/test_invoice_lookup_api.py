"""GET /invoice/{tenant}/invoices/{invoiceNumber} and GET /invoice/{tenant}/invoices: issued invoices,
what their credit notes credited and what is left, the list's filters, pages and X-Total-Count.

The module's invoices (acme), issued once and rolled back at the end; each test runs in a savepoint:

| number  | order     | issued     | what happened                                                      |
|---------|-----------|------------|--------------------------------------------------------------------|
| INV1001 | DEMO-1002 | 2026-01-10 | 35.69 EUR; a credit of 5.00 requested (pending)                     |
| INV1002 | DEMO-1001 | 2026-01-20 | 179.88 EUR, card payment                                           |
| INV1003 | ORDER-3   | 2026-02-01 | 35.69 EUR, cancelled by credit note CN1001                         |
| INV1004 | ORDER-3   | 2026-02-15 | the same order invoiced again after the cancellation                |

plus a draft of acme (never listed) and globex's own INV1001.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from jsonschema import Draft7Validator
from rest_framework.test import APIClient

from integrations.services import credit_note_series_ensure
from invoicing.models import CreditNote, Invoice
from jobs.credit_notes import CreditLine, credit_note_request
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error
from tests.pipeline import drive
from tests.spec_utils import _to_json_schema

pytestmark = pytest.mark.django_db

MANAGE, READ, ORDERS = "invoice.invoice_manage", "invoice.invoice_read", "invoice.order_manage"
LIST = "/invoice/{tenant}/invoices"
DETAIL = "/invoice/{tenant}/invoices/{invoiceNumber}"
ISSUED_ON = {
    "INV1001": dt.date(2026, 1, 10),
    "INV1002": dt.date(2026, 1, 20),
    "INV1003": dt.date(2026, 2, 1),
    "INV1004": dt.date(2026, 2, 15),
}
NEWEST_FIRST = ["INV1004", "INV1003", "INV1002", "INV1001"]


@dataclass
class Invoices:
    tenant: Tenant
    other_tenant: Tenant
    pending: CreditNote  # on INV1001
    cancellation: CreditNote  # of INV1003


def _issue(tenant: Tenant, order_id: str) -> None:
    drive(job_create_manual(tenant=tenant, order_ids=[order_id]))


def _credit(credit_note: CreditNote) -> None:
    drive(JobOrder.objects.get(credit_note=credit_note).job)


@pytest.fixture(scope="module")
def invoices_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Invoices]:
    with django_db_blocker.unblock(), transaction.atomic():
        tenant, other = factories.tenant_make("acme"), factories.tenant_make("globex")
        Tenant.objects.update(einvoice_validation=False)
        for each in (tenant, other):
            each.refresh_from_db()
            credit_note_series_ensure(tenant=each)
        factories.orders_store(tenant, factories.INVOICE_ORDER, factories.CARD_ORDER)
        factories.orders_store(tenant, factories.INVOICE_ORDER, rename={factories.INVOICE_ORDER: "ORDER-3"})
        factories.orders_store(other, factories.INVOICE_ORDER)
        for order_id in (factories.INVOICE_ORDER, factories.CARD_ORDER, "ORDER-3"):
            _issue(tenant, order_id)
        _issue(other, factories.INVOICE_ORDER)
        cancellation, _ = credit_note_request(
            tenant=tenant, invoice_number="INV1003", reason="Order cancelled", actor="test"
        )
        _credit(cancellation)
        _issue(tenant, "ORDER-3")  # invoiced again: INV1004
        pending, _ = credit_note_request(
            tenant=tenant,
            invoice_number="INV1001",
            reason="One book was damaged",
            lines=[CreditLine(position=2, quantity=Decimal(1))],
            actor="test",
        )
        Invoice.objects.create(tenant=tenant, order_id="DRAFT-1")
        tz = dt.timezone(dt.timedelta(hours=1))
        for number, day in ISSUED_ON.items():
            Invoice.objects.filter(tenant=tenant, number=number).update(
                issue_date=day, issued_at=dt.datetime.combine(day, dt.time(10), tz)
            )
        numbers = dict(Invoice.objects.filter(tenant=tenant).values_list("number", "order_id"))
        assert numbers == {
            "INV1001": factories.INVOICE_ORDER,
            "INV1002": factories.CARD_ORDER,
            "INV1003": "ORDER-3",
            "INV1004": "ORDER-3",
            None: "DRAFT-1",
        }, numbers
        yield Invoices(tenant=tenant, other_tenant=other, pending=pending, cancellation=cancellation)
        transaction.set_rollback(True)


@pytest.fixture
def data(invoices_data: Invoices, db: Any) -> Invoices:
    return invoices_data


@pytest.fixture
def tenant(data: Invoices) -> Tenant:  # the root conftest's `api` and `token` use it
    return data.tenant


@pytest.fixture
def other_tenant(data: Invoices) -> Tenant:
    return data.other_tenant


def bearer(tenant: Tenant, scopes: str | None = None) -> APIClient:
    api_client, _ = (
        factories.api_client_make(tenant) if scopes is None else factories.api_client_make(tenant, scopes)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client)}")
    return client


def listed(api: APIClient, **query: Any) -> tuple[list[str], int]:
    response = api.get(LIST.format(tenant="acme"), query)
    assert response.status_code == 200, response.content[:500]
    return [invoice["invoiceNumber"] for invoice in response.json()], int(response["X-Total-Count"])


def detail(api: APIClient, number: str, tenant: str = "acme") -> Any:
    return api.get(DETAIL.format(tenant=tenant, invoiceNumber=number))


@pytest.fixture(scope="module")
def served_schema(django_db_setup: Any, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(json.loads(response.content))


def schema_errors(schema: dict[str, Any], body: Any, component: str, *, many: bool = False) -> list[str]:
    node: dict[str, Any] = {"$ref": f"#/components/schemas/{component}"}
    root = {
        **({"type": "array", "items": node} if many else node),
        "components": _to_json_schema(schema["components"]),
    }
    return sorted(error.message for error in Draft7Validator(root).iter_errors(body))


# --- GET one invoice ---------------------------------------------------------------------------------
def test_an_invoice_with_a_pending_credit_note(api, data, served_schema):
    response = detail(api, "INV1001")

    assert response.status_code == 200
    body = response.json()
    assert schema_errors(served_schema, body, "InvoiceResponse") == []
    link = body.pop("downloadLink")
    assert link.startswith("http://testserver/invoices/download/")
    assert body == {
        "invoiceNumber": "INV1001",
        "orderId": factories.INVOICE_ORDER,
        "status": "ISSUED",
        "issueDate": "2026-01-10",
        "currency": "EUR",
        "netAmount": 32.91,
        "taxAmount": 2.78,
        "grossAmount": 35.69,
        "creditedAmount": 0.0,
        "pendingAmount": 5.0,
        "remainingAmount": 30.69,
        "creditNotes": [
            {
                "id": str(data.pending.pk),
                "creditNoteNumber": None,
                "status": "PENDING",
                "type": "LINES",
                "grossAmount": 5.0,
                "reason": "One book was damaged",
                "issueDate": None,
            }
        ],
    }
    download = Client().get(link)
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download.getvalue().startswith(b"%PDF")


def test_a_cancelled_invoice(api, data):
    body = detail(api, "INV1003").json()

    assert body["status"] == "CANCELLED"
    assert (body["grossAmount"], body["creditedAmount"], body["pendingAmount"], body["remainingAmount"]) == (
        35.69,
        35.69,
        0.0,
        0.0,
    )
    cancellation = data.cancellation
    cancellation.refresh_from_db()
    assert body["creditNotes"] == [
        {
            "id": str(cancellation.pk),
            "creditNoteNumber": "CN1001",
            "status": "SUCCESS",
            "type": "CANCELLATION",
            "grossAmount": 35.69,
            "reason": "Order cancelled",
            "issueDate": cancellation.issue_date.isoformat(),
        }
    ]


def test_the_new_invoice_of_a_cancelled_order_is_open(api, data):
    body = detail(api, "INV1004").json()

    assert (body["orderId"], body["status"], body["creditNotes"], body["remainingAmount"]) == (
        "ORDER-3",
        "ISSUED",
        [],
        35.69,
    )


def test_a_failed_credit_note_is_listed_and_gives_its_amount_back(api, data):
    CreditNote.objects.filter(pk=data.pending.pk).update(status=CreditNote.Status.FAILED, message="Declined")
    JobOrder.objects.filter(credit_note=data.pending).update(status="FAILURE", message="Refund declined")

    body = detail(api, "INV1001").json()

    assert (body["pendingAmount"], body["remainingAmount"]) == (0.0, 35.69)
    assert [(note["status"], note["creditNoteNumber"]) for note in body["creditNotes"]] == [("FAILURE", None)]


def test_amounts_are_rounded_to_the_currency(api, data):
    Invoice.objects.create(
        tenant=data.tenant,
        order_id="JPY-1",
        status=Invoice.Status.ISSUED,
        number="JPY1",
        issue_date=dt.date(2026, 3, 1),
        issued_at=timezone.now(),
        currency="JPY",
        net_total=Decimal("1000.000"),
        tax_total=Decimal("100.000"),
        gross_total=Decimal("1100.000"),
    )

    body = detail(api, "JPY1").json()

    assert (body["netAmount"], body["grossAmount"], body["remainingAmount"]) == (1000, 1100, 1100)
    assert body["downloadLink"] is None  # no PDF (yet)
    assert '"grossAmount":1100.0' in detail(api, "JPY1").content.decode()


def test_an_unknown_invoice_is_404(api, data):
    assert_error(detail(api, "INV9999"), 404, "Invoice INV9999 not found.")


def test_a_draft_is_404(api, data):
    Invoice.objects.filter(tenant=data.tenant, number="INV1002").update(status=Invoice.Status.DRAFT)

    assert_error(detail(api, "INV1002"), 404, "Invoice INV1002 not found.")


@pytest.mark.parametrize("number", ["x" * 101, "..", "INV\x001001", "INV%0A1001"])
def test_impossible_numbers_are_404(api, data, number):
    assert_error(detail(api, number), 404, "Invoice not found.")


def test_another_tenants_invoice_is_404_in_its_own_path(data, other_tenant):
    globex = bearer(other_tenant)

    assert_error(detail(globex, "INV1002", tenant="globex"), 404, "Invoice INV1002 not found.")
    assert detail(globex, "INV1001", tenant="globex").json()["grossAmount"] == 35.69  # its own


def test_the_invoice_needs_a_scope_of_manage_or_read(data, tenant, other_tenant):
    assert detail(bearer(tenant, READ), "INV1001").status_code == 200
    assert detail(bearer(tenant, MANAGE), "INV1001").status_code == 200
    body = assert_error(detail(bearer(tenant, ORDERS), "INV1001"), 403, "required scope")
    assert body["detailInfo"] == f"Needs one of: {MANAGE}, {READ}."
    assert_error(detail(APIClient(), "INV1001"), 401, "Authentication required")
    assert_error(detail(bearer(other_tenant), "INV1001"), 403, "not valid for tenant 'acme'")
    assert_error(
        bearer(tenant).post(DETAIL.format(tenant="acme", invoiceNumber="INV1001")), 405, "Method POST"
    )


def test_the_invoice_path_takes_none_of_the_paths_below_it(api, data):
    """invoices/{number} must not swallow …/document, …/einvoice or …/credit-notes."""
    document = api.get("/invoice/acme/invoices/INV1001/document")
    einvoice = api.get("/invoice/acme/invoices/INV1001/einvoice", {"format": "facturx"})
    credit_notes = api.get("/invoice/acme/invoices/INV1001/credit-notes")

    assert document.status_code == 200 and document["Content-Type"] == "application/pdf"
    assert einvoice.status_code == 200 and einvoice["Content-Type"] == "application/xml"
    assert_error(credit_notes, 405, "Method GET is not allowed here.")  # the POST-only collection
    # and the words themselves are no invoice numbers
    assert_error(api.get("/invoice/acme/invoices/document"), 404, "Invoice document not found.")
    assert_error(api.get("/invoice/acme/invoices/credit-notes"), 404, "Invoice credit-notes not found.")
    assert_error(api.get("/invoice/acme/invoices/INV1001/nothing"), 404, "No such resource")


# --- the list ----------------------------------------------------------------------------------------
def test_the_list_has_the_issued_invoices_newest_first(api, data, served_schema):
    response = api.get(LIST.format(tenant="acme"))

    assert response.status_code == 200
    body = response.json()
    assert schema_errors(served_schema, body, "InvoiceResponse", many=True) == []
    assert [invoice["invoiceNumber"] for invoice in body] == NEWEST_FIRST  # no draft, nothing of globex
    assert response["X-Total-Count"] == "4"
    assert [invoice["status"] for invoice in body] == ["ISSUED", "CANCELLED", "ISSUED", "ISSUED"]
    # each item is the invoice as GET …/invoices/{number} answers it (the links are signed anew)
    for item in body:
        one = detail(api, item["invoiceNumber"]).json()
        assert {**item, "downloadLink": ""} == {**one, "downloadLink": ""}


def test_the_same_time_of_issue_is_ordered_by_id_newest_first(api, data):
    same = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    Invoice.objects.filter(tenant=data.tenant, number__in=["INV1001", "INV1002"]).update(issued_at=same)

    numbers, _ = listed(api)

    assert numbers == ["INV1002", "INV1001", "INV1004", "INV1003"]


def test_the_order_filter_lists_the_orders_invoices(api, data):
    assert listed(api, orderId="ORDER-3") == (["INV1004", "INV1003"], 2)
    assert listed(api, orderId=factories.CARD_ORDER) == (["INV1002"], 1)
    assert listed(api, orderId="NO-SUCH-ORDER") == ([], 0)
    assert listed(api, orderId="DRAFT-1") == ([], 0)  # drafts are never listed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"issuedFrom": "2026-01-20"}, ["INV1004", "INV1003", "INV1002"]),
        ({"issuedTo": "2026-01-20"}, ["INV1002", "INV1001"]),
        ({"issuedFrom": "2026-01-11", "issuedTo": "2026-02-01"}, ["INV1003", "INV1002"]),
        ({"issuedFrom": "2026-02-01", "issuedTo": "2026-02-01"}, ["INV1003"]),
        ({"issuedFrom": "2027-01-01"}, []),
        ({"issuedFrom": "2026-01-01", "orderId": "ORDER-3", "issuedTo": "2026-02-10"}, ["INV1003"]),
    ],
)
def test_the_date_filters_are_inclusive_days_of_issue(api, data, query, expected):
    assert listed(api, **query) == (expected, len(expected))


def test_pages(api, data):
    assert listed(api, pageSize=3) == (NEWEST_FIRST[:3], 4)
    assert listed(api, pageSize=3, pageNumber=2) == (NEWEST_FIRST[3:], 4)
    assert listed(api, pageSize=2, pageNumber=2) == (NEWEST_FIRST[2:], 4)
    assert listed(api, pageSize=2, pageNumber=3) == ([], 4)  # past the last page: empty, with the total
    assert listed(api, pageSize=1, pageNumber=4, issuedTo="2026-01-31") == ([], 2)


def test_the_default_page_is_20_and_the_largest_100(api, data):
    now = timezone.now()
    Invoice.objects.bulk_create(
        Invoice(
            tenant=data.tenant,
            order_id=f"BULK-{index}",
            status=Invoice.Status.ISSUED,
            number=f"BULK{index:04d}",
            issue_date=dt.date(2026, 3, 1),
            issued_at=now + dt.timedelta(seconds=index),
            currency="EUR",
            net_total=Decimal(10),
            tax_total=Decimal("1.90"),
            gross_total=Decimal("11.90"),
        )
        for index in range(120)
    )

    default, total = listed(api)
    largest, _ = listed(api, pageSize=100)
    last, _ = listed(api, pageSize=100, pageNumber=2)

    assert total == 124 and len(default) == 20 and default[0] == "BULK0119"
    assert len(largest) == 100 and largest[:20] == default
    assert last == [f"BULK{index:04d}" for index in range(19, -1, -1)] + NEWEST_FIRST


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"issuedFrom": "2026-1-5"}, "The query parameter issuedFrom is not a date: '2026-1-5'."),
        ({"issuedFrom": "20260105"}, "The query parameter issuedFrom is not a date: '20260105'."),
        ({"issuedTo": "2026-02-30"}, "The query parameter issuedTo is not a date: '2026-02-30'."),
        ({"issuedTo": "2026-01-05T10:00"}, "The query parameter issuedTo is not a date"),
        ({"issuedTo": "yesterday"}, "The query parameter issuedTo is not a date: 'yesterday'."),
        ({"issuedTo": ""}, "The query parameter issuedTo is not a date: ''."),
        ({"issuedFrom": "2026-02-02", "issuedTo": "2026-02-01"}, "issuedFrom is after issuedTo."),
        ({"pageNumber": "0"}, "The query parameter pageNumber is out of range: 0."),
        ({"pageNumber": "-1"}, "The query parameter pageNumber is not a whole number: '-1'."),
        ({"pageNumber": "1.5"}, "The query parameter pageNumber is not a whole number: '1.5'."),
        ({"pageNumber": "one"}, "The query parameter pageNumber is not a whole number: 'one'."),
        ({"pageNumber": "9" * 10}, "The query parameter pageNumber is not a whole number"),
        (
            {"pageNumber": "\u0661"},
            "The query parameter pageNumber is not a whole number",
        ),  # an Arabic-Indic 1
        ({"pageSize": "0"}, "The query parameter pageSize is out of range: 0."),
        ({"pageSize": "101"}, "The query parameter pageSize is out of range: 101."),
        ({"pageSize": ""}, "The query parameter pageSize is not a whole number: ''."),
        ({"orderId": ".."}, "The query parameter orderId must not be '.' or '..'."),
        ({"orderId": "A\x00B"}, "The query parameter orderId must not contain control characters"),
        ({"orderId": "x" * 256}, "The query parameter orderId must be at most 255 characters."),
        ({"orderId": " "}, "The query parameter orderId must not be empty."),
    ],
)
def test_a_malformed_query_is_400(api, data, query, message):
    assert_error(api.get(LIST.format(tenant="acme"), query), 400, message)


def test_the_range_is_named_in_the_detail(api, data):
    body = assert_error(api.get(LIST.format(tenant="acme"), {"pageSize": "500"}), 400, "out of range")

    assert body["detailInfo"] == "pageSize: an integer from 1 to 100."


@pytest.mark.parametrize("name", ["orderId", "issuedFrom", "issuedTo", "pageNumber", "pageSize"])
def test_a_parameter_given_twice_is_400(api, data, name):
    response = api.get(f"{LIST.format(tenant='acme')}?{name}=1&{name}=2")

    assert_error(response, 400, f"The query parameter {name} is given more than once.")


def test_a_long_value_is_not_echoed(api, data):
    value = "2026-01-01" + "x" * 5000

    response = api.get(LIST.format(tenant="acme"), {"issuedFrom": value})

    assert_error(response, 400, "The query parameter issuedFrom is not a date: given.")
    assert value not in response.content.decode() and len(response.content) < 500


def test_unknown_query_parameters_are_ignored(api, data):
    assert listed(api, sort="oldest", page=5) == (NEWEST_FIRST, 4)


def test_the_list_needs_a_scope_of_manage_or_read(data, tenant, other_tenant):
    url = LIST.format(tenant="acme")

    assert bearer(tenant, READ).get(url).status_code == 200
    assert_error(bearer(tenant, ORDERS).get(url), 403, "required scope")
    assert_error(APIClient().get(url), 401, "Authentication required")
    assert_error(bearer(other_tenant).get(url), 403, "not valid for tenant 'acme'")
    assert_error(bearer(tenant).post(url, {}, format="json"), 405, "Method POST is not allowed here.")
    globex = bearer(other_tenant).get(LIST.format(tenant="globex"))
    assert [invoice["invoiceNumber"] for invoice in globex.json()] == ["INV1001"]
    assert globex["X-Total-Count"] == "1"


# --- the OpenAPI ---------------------------------------------------------------------------------------
def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_the_schema_documents_both_operations(served_schema):
    schema = served_schema
    one = schema["paths"][DETAIL]["get"]
    many = schema["paths"][LIST]["get"]
    parameters = {p["name"]: p for p in (deref(schema, p) for p in many["parameters"])}

    assert (one["operationId"], many["operationId"]) == (
        "GET-invoice-retrieve-invoice",
        "GET-invoice-list-invoices",
    )
    assert set(schema["paths"][DETAIL]) == set(schema["paths"][LIST]) == {"get"}
    assert one["tags"] == many["tags"] == schema["paths"][f"{DETAIL}/document"]["get"]["tags"] == ["Invoices"]
    assert one["security"] == many["security"] == [{"oauth2": [MANAGE]}, {"oauth2": [READ]}]
    assert {name: p["in"] for name, p in parameters.items()} == {
        "tenant": "path",
        "orderId": "query",
        "issuedFrom": "query",
        "issuedTo": "query",
        "pageNumber": "query",
        "pageSize": "query",
    }
    assert parameters["pageSize"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert parameters["issuedFrom"]["schema"]["format"] == "date"
    assert "X-Total-Count" in many["responses"]["200"]["headers"]
    items = many["responses"]["200"]["content"]["application/json"]["schema"]
    assert items["type"] == "array" and items["items"] == {"$ref": "#/components/schemas/InvoiceResponse"}
    status = deref(schema, items["items"])["properties"]["status"]
    assert deref(schema, status["allOf"][0])["enum"] == ["ISSUED", "CANCELLED"]
