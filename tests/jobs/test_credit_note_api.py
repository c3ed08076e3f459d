"""Credit notes through the API, as a client sees them.

POST /invoice/{tenant}/invoices/{invoiceNumber}/credit-notes, GET /invoice/{tenant}/credit-notes/{id},
its PDF (…/document, and the signed downloadLink), every error, the OpenAPI the service serves, and
what must hold when requests race: parallel credits never credit more than the invoice, and a
retried request with the same Idempotency-Key creates one credit note.

The invoice of most tests is INV1001 of order DEMO-1002 (pay by invoice, nothing captured):
lines 1-3 at 7 % (13.08, 2 x 4.67, 6.54 net), line 4 shipping at 19 % (3.95 net); per rate gross
30.99 (7 %) and 4.70 (19 %), 35.69 in all.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from jsonschema import Draft7Validator
from rest_framework.test import APIClient

from integrations.services import credit_note_series_ensure
from invoicing.models import CreditNote, Invoice, InvoiceEvent, PaymentCapture, Refund
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error, job_url
from tests.pipeline import drive
from tests.spec_utils import _to_json_schema

pytestmark = pytest.mark.django_db

MANAGE, READ, ORDERS = "invoice.invoice_manage", "invoice.invoice_read", "invoice.order_manage"
POST_PATH = "/invoice/{tenant}/invoices/{invoiceNumber}/credit-notes"
GET_PATH = "/invoice/{tenant}/credit-notes/{id}"
DOCUMENT_PATH = "/invoice/{tenant}/credit-notes/{id}/document"
REASON = "Cancelled by the customer"
GROSS = Decimal("35.69")


# --- fixtures and helpers ----------------------------------------------------------------------------
@pytest.fixture
def tenant(db: Any) -> Tenant:
    """acme with its credit note series (CN1001 next to INV1001); e-invoice validation off for speed
    (one test below runs the credit note through the official rules)."""
    tenant = factories.tenant_make("acme")
    Tenant.objects.filter(pk=tenant.pk).update(einvoice_validation=False)
    tenant.refresh_from_db()
    credit_note_series_ensure(tenant=tenant)
    return tenant


def issue_invoice(tenant: Tenant, order_id: str) -> Invoice:
    factories.orders_store(tenant, order_id)
    drive(job_create_manual(tenant=tenant, order_ids=[order_id]))
    invoice = Invoice.objects.get(tenant=tenant, order_id=order_id)
    assert invoice.status == Invoice.Status.ISSUED, invoice
    return invoice


@pytest.fixture
def issued(tenant: Tenant) -> Invoice:
    invoice = issue_invoice(tenant, factories.INVOICE_ORDER)
    assert (invoice.number, invoice.gross_total) == ("INV1001", GROSS)
    return invoice


@pytest.fixture
def card_invoice(tenant: Tenant) -> Invoice:
    """The card order's invoice: its payment was captured (179.88 EUR, all at 19 %)."""
    return issue_invoice(tenant, factories.CARD_ORDER)


def bearer(tenant: Tenant, scopes: str | None = None) -> APIClient:
    api_client, _ = (
        factories.api_client_make(tenant) if scopes is None else factories.api_client_make(tenant, scopes)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client)}")
    return client


def post(
    api: APIClient,
    body: Any = None,
    *,
    number: str = "INV1001",
    key: str | None = None,
    tenant: str = "acme",
    **headers: str,
) -> Any:
    extra = {**headers, **({} if key is None else {"HTTP_IDEMPOTENCY_KEY": key})}
    return api.post(
        POST_PATH.format(tenant=tenant, invoiceNumber=number),
        {"reason": REASON} if body is None else body,
        format="json",
        **extra,
    )


def created(response: Any) -> CreditNote:
    assert response.status_code == 202, response.content[:1000]
    return CreditNote.objects.get(pk=response.json()["id"])


def credit_url(credit_note: Any, tenant: str = "acme") -> str:
    return GET_PATH.format(tenant=tenant, id=getattr(credit_note, "pk", credit_note))


def document_url(credit_note: Any, tenant: str = "acme") -> str:
    return DOCUMENT_PATH.format(tenant=tenant, id=getattr(credit_note, "pk", credit_note))


def run_pipeline(credit_note: CreditNote) -> CreditNote:
    """Its pipeline, in this process (as tests.pipeline.drive runs an invoice job)."""
    drive(JobOrder.objects.get(credit_note=credit_note).job)
    credit_note.refresh_from_db()
    return credit_note


def content(response: Any) -> bytes:
    return b"".join(response.streaming_content)  # the test client closes it at the end


def nothing_credited(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    assert not CreditNote.objects.exists()
    assert invoice.credited_gross == 0 and invoice.cancelled_at is None
    assert not InvoiceJob.objects.filter(job_type=InvoiceJob.Type.CREDIT).exists()


# --- the OpenAPI the service serves, as a JSON Schema validator of its answers ------------------------
@cache
def served_schema() -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(json.loads(response.content))


def assert_matches_schema(body: Any, component: str) -> None:
    components = _to_json_schema(served_schema()["components"])
    validator = Draft7Validator({"$ref": f"#/components/schemas/{component}", "components": components})
    errors = sorted(error.message for error in validator.iter_errors(body))
    assert errors == [], errors


# --- POST: what is created -----------------------------------------------------------------------------
def test_a_cancellation_answers_202_with_the_id_and_location(api, issued, api_client_and_secret):
    response = post(api)

    credit_note = created(response)
    assert response.json() == {"id": str(credit_note.pk), "status": "PENDING"}
    assert_matches_schema(response.json(), "CreditNoteCreationResponse")
    assert response["Location"] == f"http://testserver/invoice/acme/credit-notes/{credit_note.pk}"
    assert credit_note.kind == CreditNote.Kind.FULL and credit_note.status == CreditNote.Status.DRAFT
    assert (credit_note.gross_total, credit_note.reason, credit_note.invoice_id) == (GROSS, REASON, issued.pk)
    issued.refresh_from_db()
    assert issued.credited_gross == GROSS  # reserved at once
    # the actor of the audit is the API client, as a job's requested_by
    actor = f"api-client:{api_client_and_secret[0].application.client_id}"
    assert credit_note.requested_by == actor
    assert InvoiceEvent.objects.filter(type="credit_note_requested", actor=actor).exists()


def test_lines_credit_those_positions_and_quantities(api, issued):
    credit_note = created(
        post(api, {"reason": "One book was damaged", "lines": [{"position": 2, "quantity": 1}]})
    )

    assert credit_note.kind == CreditNote.Kind.LINES
    # 1 of 2 x 4.67 at 7 %: 4.67 net, 0.33 VAT
    assert (credit_note.net_total, credit_note.tax_total, credit_note.gross_total) == (
        Decimal("4.67"),
        Decimal("0.33"),
        Decimal("5.00"),
    )


def test_amounts_credit_a_gross_amount_per_rate(api, issued):
    body = {"reason": "Goodwill", "amounts": [{"taxRate": 7, "grossAmount": 10.70}], "refund": False}

    credit_note = created(post(api, body))

    assert credit_note.kind == CreditNote.Kind.AMOUNTS and credit_note.refund_requested is False
    assert (credit_note.net_total, credit_note.tax_total, credit_note.gross_total) == (
        Decimal("10.00"),
        Decimal("0.70"),
        Decimal("10.70"),
    )


def test_fields_the_contract_does_not_name_are_ignored_as_the_job_post_does(api, issued):
    credit_note = created(
        post(api, {"reason": REASON, "note": "x", "lines": [{"position": 1, "quantity": 1, "x": 1}]})
    )

    assert credit_note.kind == CreditNote.Kind.LINES


def test_quantities_with_three_decimals_and_an_idempotency_key_of_255_characters_are_accepted(api, issued):
    body = {"reason": REASON, "lines": [{"position": 2, "quantity": 1.125}]}

    credit_note = created(post(api, body, key="k" * 255))

    assert credit_note.idempotency_key == "k" * 255


# --- POST: the Idempotency-Key ---------------------------------------------------------------------------
def test_a_retried_request_with_the_same_key_answers_the_same_credit_note(api, issued):
    body = {"reason": REASON, "lines": [{"position": 1, "quantity": 1}]}

    first = post(api, body, key="order-42-return")
    again = post(api, body, key="order-42-return")

    credit_note = created(first)
    assert again.status_code == 202 and again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert CreditNote.objects.count() == 1
    issued.refresh_from_db()
    assert issued.credited_gross == credit_note.gross_total  # reserved once


def test_a_retry_after_the_credit_note_was_issued_answers_its_status_now(api, issued):
    credit_note = created(post(api, key="storno-1"))
    run_pipeline(credit_note)

    again = post(api, key="storno-1")  # the invoice is cancelled now, and still: the first answer

    assert again.status_code == 202
    assert again.json() == {"id": str(credit_note.pk), "status": "SUCCESS"}
    assert CreditNote.objects.count() == 1


def test_without_a_key_every_request_is_a_new_credit_note(api, issued):
    body = {"reason": REASON, "lines": [{"position": 1, "quantity": 1}]}
    created(post(api, body))

    assert_error(post(api, body), 409, "only 0 of 1 is left to credit")
    created(post(api, {"reason": REASON, "lines": [{"position": 3, "quantity": 1}]}))
    assert CreditNote.objects.count() == 2


@pytest.mark.parametrize(
    "second",
    [
        {"reason": REASON, "lines": [{"position": 1, "quantity": 2}]},  # another quantity
        {"reason": REASON, "lines": [{"position": 3, "quantity": 1}]},  # another line
        {"reason": "Another reason", "lines": [{"position": 1, "quantity": 1}]},
        {"reason": REASON, "lines": [{"position": 1, "quantity": 1}], "refund": False},
        {"reason": REASON},  # a cancellation
    ],
)
def test_the_same_key_for_another_request_is_422(api, issued, second):
    first = created(post(api, {"reason": REASON, "lines": [{"position": 1, "quantity": 1}]}, key="k-1"))

    body = assert_error(
        post(api, second, key="k-1"), 422, "The Idempotency-Key 'k-1' was used for another request"
    )

    assert str(first.pk) in body["message"]
    assert CreditNote.objects.count() == 1


def test_the_same_key_for_another_invoice_is_422(api, issued, card_invoice):
    created(post(api, key="k-2"))

    assert_error(post(api, number=card_invoice.number, key="k-2"), 422, "was used for another request")


def test_keys_are_per_tenant(api, issued, other_tenant):
    credit_note_series_ensure(tenant=other_tenant)
    issue_invoice(other_tenant, factories.INVOICE_ORDER)
    created(post(api, key="shared-key"))

    theirs = created(post(bearer(other_tenant), key="shared-key", tenant="globex"))

    assert theirs.tenant == other_tenant and CreditNote.objects.count() == 2


@pytest.mark.parametrize("key", ["", "k" * 256, "schlüssel", "a\tb", "line\nbreak", "\x7f"])
def test_an_invalid_idempotency_key_is_400_and_not_echoed(api, issued, key):
    response = post(api, key=key)

    body = assert_error(response, 400, "The Idempotency-Key header is invalid.")
    assert body["detailInfo"] == "Idempotency-Key: 1 to 255 printable ASCII characters."
    assert body["errors"] == [
        {"field": "Idempotency-Key", "message": "must be 1 to 255 printable ASCII characters"}
    ]
    nothing_credited(issued)


# --- POST: 400, the body -----------------------------------------------------------------------------------
LINE = {"position": 1, "quantity": 1}
AMOUNT = {"taxRate": 7, "grossAmount": 1}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "reason", "is required"),
        ({"reason": None}, "reason", "is required"),
        ({"reason": ""}, "reason", "must not be blank"),
        ({"reason": " \n\t "}, "reason", "must not be blank"),
        ({"reason": 5}, "reason", "must be a string"),
        ({"reason": ["x"]}, "reason", "must be a string"),
        ({"reason": "x" * 501}, "reason", "must be at most 500 characters"),
        (
            {"reason": REASON, "lines": [LINE], "amounts": [AMOUNT]},
            "lines",
            "give either lines or amounts, not both (neither cancels the invoice)",
        ),
        ({"reason": REASON, "lines": {"position": 1}}, "lines", "must be an array of {position, quantity}"),
        ({"reason": REASON, "lines": None}, "lines", "must be an array of {position, quantity}"),
        ({"reason": REASON, "lines": []}, "lines", "must not be empty (leave it out to cancel the invoice)"),
        ({"reason": REASON, "lines": [LINE] * 5001}, "lines", "must have at most 5000 entries"),
        ({"reason": REASON, "lines": [5]}, "lines[0]", "must be an object {position, quantity}"),
        ({"reason": REASON, "lines": [{"quantity": 1}]}, "lines[0].position", "is required"),
        (
            {"reason": REASON, "lines": [{"position": "1", "quantity": 1}]},
            "lines[0].position",
            "must be an integer",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1.0, "quantity": 1}]},
            "lines[0].position",
            "must be an integer",
        ),
        (
            {"reason": REASON, "lines": [{"position": True, "quantity": 1}]},
            "lines[0].position",
            "must be an integer",
        ),
        (
            {"reason": REASON, "lines": [{"position": 0, "quantity": 1}]},
            "lines[0].position",
            "must be at least 1",
        ),
        (
            {"reason": REASON, "lines": [{"position": -2, "quantity": 1}]},
            "lines[0].position",
            "must be at least 1",
        ),
        ({"reason": REASON, "lines": [{"position": 1}]}, "lines[0].quantity", "is required"),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": "1"}]},
            "lines[0].quantity",
            "must be a number",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": None}]},
            "lines[0].quantity",
            "must be a number",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": False}]},
            "lines[0].quantity",
            "must be a number",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": 0}]},
            "lines[0].quantity",
            "must be above 0",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": -1}]},
            "lines[0].quantity",
            "must be above 0",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": 0.0001}]},
            "lines[0].quantity",
            "must have at most 3 decimals",
        ),
        (
            {"reason": REASON, "lines": [LINE, {"position": 2, "quantity": 1.2345}]},
            "lines[1].quantity",
            "must have at most 3 decimals",
        ),
        (
            {"reason": REASON, "lines": [{"position": 1, "quantity": 1e10}]},
            "lines[0].quantity",
            "must be at most 1,000,000,000",
        ),
        ({"reason": REASON, "amounts": "7"}, "amounts", "must be an array of {taxRate, grossAmount}"),
        (
            {"reason": REASON, "amounts": []},
            "amounts",
            "must not be empty (leave it out to cancel the invoice)",
        ),
        ({"reason": REASON, "amounts": [AMOUNT] * 101}, "amounts", "must have at most 100 entries"),
        ({"reason": REASON, "amounts": [[7, 1]]}, "amounts[0]", "must be an object {taxRate, grossAmount}"),
        ({"reason": REASON, "amounts": [{"grossAmount": 1}]}, "amounts[0].taxRate", "is required"),
        (
            {"reason": REASON, "amounts": [{"taxRate": "7", "grossAmount": 1}]},
            "amounts[0].taxRate",
            "must be a number",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": -1, "grossAmount": 1}]},
            "amounts[0].taxRate",
            "must be from 0 to 100",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": 100.5, "grossAmount": 1}]},
            "amounts[0].taxRate",
            "must be from 0 to 100",
        ),
        ({"reason": REASON, "amounts": [{"taxRate": 7}]}, "amounts[0].grossAmount", "is required"),
        (
            {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": "1.00"}]},
            "amounts[0].grossAmount",
            "must be a number",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 0}]},
            "amounts[0].grossAmount",
            "must be above 0",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": -5}]},
            "amounts[0].grossAmount",
            "must be above 0",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 1e13}]},
            "amounts[0].grossAmount",
            "must be at most 1,000,000,000,000",
        ),
        ({"reason": REASON, "refund": "no"}, "refund", "must be true or false"),
        ({"reason": REASON, "refund": 0}, "refund", "must be true or false"),
        ({"reason": REASON, "refund": None}, "refund", "must be true or false"),
    ],
)
def test_an_invalid_body_is_400_naming_the_field(api, issued, body, field, message):
    response = post(api, body)

    error = assert_error(response, 400, "The credit note request is invalid.")
    assert {"field": field, "message": message} in error["errors"], error["errors"]
    assert f"{field}: {message}" in error["detailInfo"]
    nothing_credited(issued)


def test_every_wrong_field_is_named_at_once(api, issued):
    response = post(api, {"lines": [{"position": 0, "quantity": 0}, {"position": 2}], "refund": "yes"})

    error = assert_error(response, 400, "The credit note request is invalid.")
    assert [e["field"] for e in error["errors"]] == [
        "reason",
        "lines[0].position",
        "lines[0].quantity",
        "lines[1].quantity",
        "refund",
    ]


@pytest.mark.parametrize("body", [["reason"], "Storno", 5, None])
def test_a_body_that_is_no_object_is_400(api, issued, body):
    response = api.post(
        POST_PATH.format(tenant="acme", invoiceNumber="INV1001"),
        json.dumps(body),
        content_type="application/json",
    )

    assert_error(response, 400, "The request body must be a JSON object.")
    nothing_credited(issued)


def test_malformed_json_is_400(api, issued):
    response = api.post(
        POST_PATH.format(tenant="acme", invoiceNumber="INV1001"),
        '{"reason": ',
        content_type="application/json",
    )

    assert_error(response, 400, "Malformed JSON in the request body.")


def test_nan_and_huge_numbers_are_400(api, issued):
    for raw in ('{"reason": "r", "amounts": [{"taxRate": 7, "grossAmount": 1e400}]}',
                '{"reason": "r", "amounts": [{"taxRate": NaN, "grossAmount": 1}]}'):  # fmt: skip
        response = api.post(
            POST_PATH.format(tenant="acme", invoiceNumber="INV1001"), raw, content_type="application/json"
        )
        assert response.status_code == 400, response.content
        assert_error(response, 400, "")
    nothing_credited(issued)


def test_a_form_body_is_415(api, issued):
    response = api.post(
        POST_PATH.format(tenant="acme", invoiceNumber="INV1001"),
        "reason=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 415, "Unsupported media type: send application/json.")


def test_a_body_over_the_limit_is_413(api, issued, settings):
    settings.INVOICE_MAX_BODY_BYTES = 1000

    response = post(api, {"reason": "x" * 2000})

    assert_error(response, 413, "The request body is too large.")
    nothing_credited(issued)


def test_the_body_is_checked_before_the_invoice(api, tenant):
    assert_error(post(api, {"reason": ""}, number="INV9999"), 400, "The credit note request is invalid.")
    assert_error(post(api, key=""), 400, "The Idempotency-Key header is invalid.")


# --- POST: what only the invoice can tell (the service's CreditRefused) -------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"reason": REASON, "lines": [{"position": 9, "quantity": 1}]},
            "The invoice has no line 9 (it has lines 1 to 4).",
        ),
        ({"reason": REASON, "lines": [LINE, LINE]}, "Line 1 is named twice."),
        (
            {"reason": REASON, "amounts": [{"taxRate": 16, "grossAmount": 1}]},
            "The invoice has no VAT rate 16 %",
        ),
        ({"reason": REASON, "amounts": [AMOUNT, AMOUNT]}, "The VAT rate 7 % is named twice."),
        (
            {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 1.234}]},
            "have at most the decimals of EUR",
        ),
    ],
)
def test_what_the_invoice_does_not_have_is_400(api, issued, body, message):
    assert_error(post(api, body), 400, message)
    nothing_credited(issued)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"reason": REASON, "lines": [{"position": 2, "quantity": 3}]},
            "3 asked, but only 2 of 2 is left to credit",
        ),
        (
            {"reason": REASON, "amounts": [{"taxRate": 19, "grossAmount": 4.71}]},
            "4.71 EUR at 19 % is more than the 4.70 EUR left to credit at that rate.",
        ),
    ],
)
def test_more_than_the_invoice_has_is_409(api, issued, body, message):
    assert_error(post(api, body), 409, message)
    nothing_credited(issued)


def test_beyond_what_is_left_after_earlier_credits_is_409(api, issued):
    created(post(api, {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 30}]}))

    assert_error(
        post(api, {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 1}]}), 409, "0.99 EUR left"
    )
    # what is left can still be credited; then nothing
    created(post(api, {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 0.99}]}))
    created(post(api))  # the cancellation of the rest: 4.70 at 19 %
    assert_error(post(api), 409, "Nothing to credit: the invoice is credited in full already.")
    issued.refresh_from_db()
    assert issued.credited_gross == GROSS


def test_a_cancelled_invoice_is_409(api, issued):
    run_pipeline(created(post(api)))
    issued.refresh_from_db()
    assert issued.cancelled_at is not None

    assert_error(post(api, {"reason": REASON, "lines": [LINE]}), 409, "Invoice INV1001 is cancelled")


def test_a_refund_larger_than_the_captured_payment_holds_is_409(api, card_invoice):
    # say 170.00 of the 179.88 captured were paid back another way: 9.88 can still be refunded
    PaymentCapture.objects.filter(order_id=card_invoice.order_id).update(refunded_amount=Decimal("170.00"))
    body = {"reason": REASON, "amounts": [{"taxRate": 19, "grossAmount": 11.90}]}

    refused = post(api, body, number=card_invoice.number)

    assert_error(refused, 409, "holds 9.88 EUR that can still be refunded, less than the 11.90 EUR to credit")
    nothing_credited(card_invoice)
    # without a refund it is credited (to be paid back or offset by the merchant)
    credit_note = created(post(api, {**body, "refund": False}, number=card_invoice.number))
    assert Refund.objects.get(credit_note=credit_note).status == Refund.Status.NOT_REQUIRED


def test_an_unknown_invoice_is_404(api, issued):
    assert_error(post(api, number="INV9999"), 404, "Invoice INV9999 not found.")


def test_a_draft_is_404(api, issued):
    Invoice.objects.filter(pk=issued.pk).update(status=Invoice.Status.DRAFT)  # numbered, not issued

    assert_error(post(api), 404, "Invoice INV1001 not found.")
    assert not CreditNote.objects.exists()


@pytest.mark.parametrize("number", ["x" * 101, "..", "INV\x001001", "INV%0A1001"])
def test_impossible_numbers_are_404(api, issued, number):
    assert_error(post(api, number=number), 404, "Invoice not found.")


def test_another_tenants_invoice_is_404_in_its_own_path(issued, other_tenant):
    assert_error(post(bearer(other_tenant), tenant="globex"), 404, "Invoice INV1001 not found.")
    nothing_credited(issued)


# --- POST: tokens, tenants, scopes -----------------------------------------------------------------------
def test_post_without_a_token_is_401(issued):
    assert_error(post(APIClient()), 401, "Authentication required")
    nothing_credited(issued)


def test_post_to_another_tenants_path_is_403(issued, other_tenant):
    assert_error(post(bearer(other_tenant)), 403, "The access token is not valid for tenant 'acme'.")
    nothing_credited(issued)


@pytest.mark.parametrize("scopes", [READ, ORDERS])
def test_post_needs_the_manage_scope(issued, tenant, scopes):
    body = assert_error(
        post(bearer(tenant, scopes)), 403, "The access token does not have the required scope."
    )

    assert body["detailInfo"] == f"Needs one of: {MANAGE}."
    nothing_credited(issued)


def test_get_on_the_collection_is_405(api, issued):
    response = api.get(POST_PATH.format(tenant="acme", invoiceNumber="INV1001"))

    assert_error(response, 405, "Method GET is not allowed here.")


def test_a_failing_service_is_500_without_details(api, issued):
    with mock.patch("jobs.api.credit_notes.credit_note_request", side_effect=ZeroDivisionError("secret-42")):
        response = post(api)

    assert_error(response, 500, "Internal server error.")
    assert "secret-42" not in response.content.decode()


# --- GET the credit note -------------------------------------------------------------------------------
def test_a_requested_credit_note_reads_pending_with_its_amounts(api, issued):
    credit_note = created(
        post(api, {"reason": "One book was damaged", "lines": [{"position": 2, "quantity": 1}]})
    )

    response = api.get(credit_url(credit_note))

    assert response.status_code == 200
    body = response.json()
    assert_matches_schema(body, "CreditNoteResponse")
    assert body == {
        "id": str(credit_note.pk),
        "invoiceNumber": "INV1001",
        "orderId": factories.INVOICE_ORDER,
        "type": "LINES",
        "status": "PENDING",
        "message": "",
        "creditNoteNumber": None,
        "issueDate": None,
        "reason": "One book was damaged",
        "currency": "EUR",
        "netAmount": 4.67,
        "taxAmount": 0.33,
        "grossAmount": 5.0,
        "taxes": [
            {"taxRate": 7.0, "category": "S", "netAmount": 4.67, "taxAmount": 0.33, "grossAmount": 5.0}
        ],
        "lines": [
            {
                "position": 2,
                "description": "Faust. Der Tragödie erster Teil (Reclam)",
                "quantity": 1.0,
                "netAmount": 4.67,
            }
        ],
        "refund": {"status": "NOT_REQUIRED", "amount": 5.0, "currency": "EUR", "refundId": ""},
        "downloadLink": None,
        "createdAt": credit_note.created_at.isoformat(),
    }


def test_an_amounts_credit_note_has_a_row_per_rate_without_position(api, issued):
    credit_note = created(
        post(api, {"reason": "Goodwill", "amounts": [{"taxRate": 19, "grossAmount": 2.38}]})
    )

    body = api.get(credit_url(credit_note)).json()

    assert body["type"] == "AMOUNTS"
    assert body["lines"] == [{"position": None, "description": "Goodwill", "quantity": 1.0, "netAmount": 2.0}]
    assert body["taxes"] == [
        {"taxRate": 19.0, "category": "S", "netAmount": 2.0, "taxAmount": 0.38, "grossAmount": 2.38}
    ]


def test_full_cancellation_end_to_end(api, issued, tenant):
    """Cancel INV1001; its credit note runs through the official e-invoice rules, is numbered,
    rendered and emailed; the invoice reads CANCELLED, and the PDF downloads both ways."""
    Tenant.objects.filter(pk=tenant.pk).update(einvoice_validation=True)
    credit_note = created(post(api, {"reason": "Order cancelled"}, key="cancel-INV1001"))

    credit_note = run_pipeline(credit_note)

    assert credit_note.status == CreditNote.Status.ISSUED and credit_note.number == "CN1001"
    body = api.get(credit_url(credit_note)).json()
    assert_matches_schema(body, "CreditNoteResponse")
    assert body["status"] == "SUCCESS", body["message"]
    assert (body["type"], body["creditNoteNumber"], body["issueDate"]) == (
        "CANCELLATION",
        "CN1001",
        credit_note.issue_date.isoformat(),
    )
    assert "Credit note CN1001 issued for invoice INV1001" in body["message"]
    assert (body["netAmount"], body["taxAmount"], body["grossAmount"]) == (32.91, 2.78, 35.69)
    assert [line["position"] for line in body["lines"]] == [1, 2, 3, 4]  # it mirrors the invoice
    assert [(t["taxRate"], t["grossAmount"]) for t in body["taxes"]] == [(19.0, 4.7), (7.0, 30.99)]
    assert body["refund"]["status"] == "NOT_REQUIRED"  # paid by invoice: nothing was captured
    # the signed link downloads the PDF without a token
    link = body["downloadLink"]
    assert link.startswith("http://testserver/invoices/credit-notes/download/")
    download = Client().get(link)
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == 'attachment; filename="credit-note-CN1001.pdf"'
    pdf = content(download)
    with credit_note.pdf.open("rb") as handle:
        assert pdf == handle.read() and pdf.startswith(b"%PDF")
    # the stable address, with a token
    document = api.get(document_url(credit_note))
    assert document.status_code == 200 and content(document) == pdf
    # the invoice
    invoice = api.get("/invoice/acme/invoices/INV1001").json()
    assert invoice["status"] == "CANCELLED"
    assert (
        invoice["grossAmount"],
        invoice["creditedAmount"],
        invoice["pendingAmount"],
        invoice["remainingAmount"],
    ) == (
        35.69,
        35.69,
        0.0,
        0.0,
    )
    assert invoice["creditNotes"] == [
        {
            "id": str(credit_note.pk),
            "creditNoteNumber": "CN1001",
            "status": "SUCCESS",
            "type": "CANCELLATION",
            "grossAmount": 35.69,
            "reason": "Order cancelled",
            "issueDate": credit_note.issue_date.isoformat(),
        }
    ]
    # the pipeline's job is no invoice job of the API
    job = JobOrder.objects.get(credit_note=credit_note).job
    assert job.job_type == InvoiceJob.Type.CREDIT
    assert_error(api.get(job_url("acme", job.pk)), 404, f"Job {job.pk} not found.")


def test_a_card_payment_is_refunded_and_without_refund_it_is_not(api, card_invoice):
    number = card_invoice.number
    refunded = created(
        post(api, {"reason": "Returned", "amounts": [{"taxRate": 19, "grossAmount": 11.90}]}, number=number)
    )
    kept = created(
        post(
            api,
            {"reason": "Offset", "amounts": [{"taxRate": 19, "grossAmount": 1.19}], "refund": False},
            number=number,
        )
    )

    pending = api.get(credit_url(refunded)).json()["refund"]
    run_pipeline(refunded)
    run_pipeline(kept)

    assert pending == {"status": "PENDING", "amount": 11.9, "currency": "EUR", "refundId": ""}
    done = api.get(credit_url(refunded)).json()
    assert done["status"] == "SUCCESS", done["message"]
    assert done["refund"]["status"] == "REFUNDED" and done["refund"]["amount"] == 11.9
    assert done["refund"]["refundId"] == Refund.objects.get(credit_note=refunded).refund_id != ""
    not_refunded = api.get(credit_url(kept)).json()
    assert not_refunded["refund"] == {
        "status": "NOT_REQUIRED",
        "amount": 1.19,
        "currency": "EUR",
        "refundId": "",
    }
    invoice = api.get(f"/invoice/acme/invoices/{number}").json()
    assert (invoice["status"], invoice["creditedAmount"], invoice["remainingAmount"]) == (
        "ISSUED",
        13.09,
        166.79,
    )


def test_a_declined_refund_fails_the_credit_note_and_gives_its_amount_back(api, card_invoice):
    from integrations.models import GatewayTransaction

    GatewayTransaction.objects.filter(order_id=card_invoice.order_id).update(
        refund_decline_reason="Refunds blocked"
    )
    body = {"reason": "Returned", "amounts": [{"taxRate": 19, "grossAmount": 11.90}]}
    credit_note = run_pipeline(created(post(api, body, number=card_invoice.number)))

    read = api.get(credit_url(credit_note)).json()

    assert credit_note.status == CreditNote.Status.FAILED
    assert read["status"] == "FAILURE" and "Refunds blocked" in read["message"], read["message"]
    assert (read["creditNoteNumber"], read["issueDate"], read["downloadLink"]) == (None, None, None)
    assert read["refund"]["status"] == "DECLINED"
    invoice = api.get(f"/invoice/acme/invoices/{card_invoice.number}").json()
    assert (invoice["creditedAmount"], invoice["pendingAmount"], invoice["remainingAmount"]) == (
        0.0,
        0.0,
        179.88,
    )
    assert [note["status"] for note in invoice["creditNotes"]] == ["FAILURE"]
    # its reservation was given back: the same amount can be credited again (without a refund)
    created(post(api, {**body, "refund": False}, number=card_invoice.number))


def test_the_location_uses_public_base_url_or_the_request_host(api, issued, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "invoices.shop.example"]
    from_host = post(api, {"reason": REASON, "lines": [LINE]}, HTTP_HOST="invoices.shop.example")
    settings.PUBLIC_BASE_URL = "https://billing.example.com"
    from_setting = post(api, {"reason": REASON, "lines": [{"position": 3, "quantity": 1}]})

    assert (
        from_host["Location"]
        == f"http://invoices.shop.example/invoice/acme/credit-notes/{created(from_host).pk}"
    )
    assert (
        from_setting["Location"]
        == f"https://billing.example.com/invoice/acme/credit-notes/{created(from_setting).pk}"
    )


@pytest.mark.parametrize("pk", ["nope", "1", str(uuid.uuid4()), "x" * 300])
def test_an_unknown_or_malformed_id_is_404(api, issued, pk):
    assert_error(api.get(credit_url(pk)), 404, "not found.")
    assert_error(api.get(document_url(pk)), 404, "not found.")


def test_another_tenants_credit_note_is_404_in_its_own_path(api, issued, other_tenant):
    credit_note = created(post(api))
    globex = bearer(other_tenant)

    assert_error(
        globex.get(credit_url(credit_note, "globex")), 404, f"Credit note {credit_note.pk} not found."
    )
    assert_error(globex.get(document_url(credit_note, "globex")), 404, "not found.")


def test_get_to_another_tenants_path_is_403(api, issued, other_tenant):
    credit_note = created(post(api))

    assert_error(bearer(other_tenant).get(credit_url(credit_note)), 403, "not valid for tenant 'acme'")
    assert_error(bearer(other_tenant).get(document_url(credit_note)), 403, "not valid for tenant 'acme'")


def test_get_needs_a_token_and_a_scope_of_manage_or_read(api, issued, tenant):
    credit_note = created(post(api))

    assert bearer(tenant, READ).get(credit_url(credit_note)).status_code == 200
    assert bearer(tenant, MANAGE).get(credit_url(credit_note)).status_code == 200
    assert_error(APIClient().get(credit_url(credit_note)), 401, "Authentication required")
    body = assert_error(bearer(tenant, ORDERS).get(credit_url(credit_note)), 403, "required scope")
    assert body["detailInfo"] == f"Needs one of: {MANAGE}, {READ}."
    assert_error(
        api.post(credit_url(credit_note), {}, format="json"), 405, "Method POST is not allowed here."
    )


# --- the PDF: …/document and the signed downloadLink -----------------------------------------------------
@pytest.fixture
def issued_credit_note(api, issued) -> CreditNote:
    return run_pipeline(created(post(api, {"reason": REASON, "lines": [{"position": 1, "quantity": 1}]})))


def test_no_pdf_before_it_is_issued(api, issued):
    credit_note = created(post(api))

    assert_error(api.get(document_url(credit_note)), 404, f"Credit note {credit_note.pk} has no PDF yet.")
    assert api.get(credit_url(credit_note)).json()["downloadLink"] is None


@pytest.mark.parametrize(("query", "accept"), [("", "application/pdf"), ("?format=pdf", "*/*")])
def test_the_document_is_served_whatever_accept_and_format_say(api, issued_credit_note, query, accept):
    response = api.get(document_url(issued_credit_note) + query, HTTP_ACCEPT=accept)

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="credit-note-CN1001.pdf"'
    assert content(response).startswith(b"%PDF")


def test_the_document_url_is_written_back_onto_the_order(tenant, issued_credit_note):
    from integrations.models import StoredOrder

    stored = StoredOrder.objects.get(tenant=tenant, order_id=factories.INVOICE_ORDER)
    notes = stored.document["mixins"]["invoice"]["creditNotes"]
    assert [note["creditNoteDocument"] for note in notes] == [
        f"http://testserver/invoice/acme/credit-notes/{issued_credit_note.pk}/document"
    ]


def test_the_document_needs_a_scope_of_manage_or_read(tenant, issued_credit_note):
    assert bearer(tenant, READ).get(document_url(issued_credit_note)).status_code == 200
    response = bearer(tenant, ORDERS).get(document_url(issued_credit_note))
    assert_error(response, 403, "required scope")
    assert "Content-Disposition" not in response
    assert bearer(tenant, ORDERS).head(document_url(issued_credit_note)).status_code == 403
    assert_error(APIClient().get(document_url(issued_credit_note)), 401, "Authentication required")


def later(seconds: float) -> Any:
    """Time travel for django.core.signing only: its clock reads `seconds` ahead."""
    clock = mock.patch("django.core.signing.time")
    fake = clock.start()
    fake.time.return_value = time.time() + seconds
    return clock


def test_the_download_link_expires_and_reading_again_gives_a_fresh_one(api, issued_credit_note, settings):
    link = api.get(credit_url(issued_credit_note)).json()["downloadLink"]
    clock = later(settings.INVOICE_DOWNLOAD_LINK_TTL + 60)
    try:
        fresh = api.get(credit_url(issued_credit_note)).json()["downloadLink"]
        expired, renewed = Client().get(link), Client().get(fresh)
    finally:
        clock.stop()

    body = assert_error(expired, 410, "This download link has expired.")
    assert body["detailInfo"] == "Read the credit note again for a fresh link."
    assert renewed.status_code == 200
    content(renewed)


def test_a_tampered_or_foreign_download_token_is_403(api, issued_credit_note):
    link = api.get(credit_url(issued_credit_note)).json()["downloadLink"]
    invoice_link = api.get("/invoice/acme/invoices/INV1001").json()["downloadLink"]
    invoice_token = invoice_link.rsplit("/", 1)[1]

    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert_error(Client().get(tampered), 403, "This download link is not valid.")
    # an invoice's token is no credit note's (another salt), and the other way round
    assert_error(Client().get(f"/invoices/credit-notes/download/{invoice_token}"), 403, "not valid")
    assert_error(Client().get(f"/invoices/download/{link.rsplit('/', 1)[1]}"), 403, "not valid")
    assert_error(Client().post(link), 405, "Method POST is not allowed here.")


# --- the OpenAPI ---------------------------------------------------------------------------------------
def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def parameters_of(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in (deref(schema, p) for p in operation["parameters"])}


def test_the_schema_documents_the_post(db):
    schema = served_schema()
    operation = schema["paths"][POST_PATH]["post"]
    parameters = parameters_of(schema, operation)

    assert set(schema["paths"][POST_PATH]) == {"post"}
    assert operation["operationId"] == "POST-invoice-create-credit-note"
    assert operation["tags"] == ["Credit notes"]
    assert operation["security"] == [{"oauth2": [MANAGE]}]
    assert parameters["Idempotency-Key"]["in"] == "header"
    assert parameters["Idempotency-Key"]["schema"]["maxLength"] == 255
    assert parameters["invoiceNumber"]["in"] == "path"
    assert parameters["tenant"]["schema"]["pattern"] == "^[a-z][a-z0-9]+$"
    assert "Location" in operation["responses"]["202"]["headers"]
    for status in ("400", "401", "403", "404", "409", "415", "422"):
        content_schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert content_schema == {"$ref": "#/components/schemas/ErrorResponse"}, status
    request = deref(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert request["required"] == ["reason"]
    assert set(request["properties"]) == {"reason", "lines", "amounts", "refund"}
    assert request["properties"]["reason"]["maxLength"] == 500
    line = deref(schema, request["properties"]["lines"]["items"])
    assert line["properties"]["position"]["minimum"] == 1


def test_the_schema_documents_the_gets(db):
    schema = served_schema()

    detail = schema["paths"][GET_PATH]["get"]
    document = schema["paths"][DOCUMENT_PATH]["get"]

    assert (detail["operationId"], document["operationId"]) == (
        "GET-invoice-retrieve-credit-note",
        "GET-invoice-credit-note-document",
    )
    assert detail["tags"] == document["tags"] == ["Credit notes"]
    assert detail["security"] == document["security"] == [{"oauth2": [MANAGE]}, {"oauth2": [READ]}]
    assert parameters_of(schema, detail)["id"]["schema"] == {"type": "string", "format": "uuid"}
    assert list(document["responses"]["200"]["content"]) == ["application/pdf"]
    assert set(schema["paths"][GET_PATH]) == {"get"}


# --- racing requests (own connections: PostgreSQL decides) ------------------------------------------------
def in_parallel(count: int, request: Callable[[int], Any]) -> list[Any]:
    """`request(i)` in `count` threads at once, each with its own database connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(30)
            results[index] = request(index)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    return results


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def no_broker():
    """Nothing is published: the test drives the pipelines itself, or not at all."""
    with mock.patch("celery.app.task.Task.apply_async") as apply_async:
        yield apply_async


def assert_never_over_credited(invoice: Invoice) -> Decimal:
    invoice.refresh_from_db()
    standing = sum(
        invoice.credit_notes.exclude(status=CreditNote.Status.FAILED).values_list("gross_total", flat=True),
        Decimal(0),
    )
    assert invoice.credited_gross == standing <= invoice.gross_total
    return standing


OVER_HALF = {  # each credits more than half of INV1001's 35.69
    "cancellation": {"reason": REASON},
    "amounts": {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 18}]},
    "lines": {"reason": REASON, "lines": [{"position": 1, "quantity": 1}, {"position": 2, "quantity": 2}]},
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(OVER_HALF))
def test_parallel_credits_of_more_than_half_never_over_credit(issued, token, no_broker, kind):
    threads = 8

    responses = in_parallel(threads, lambda _: post(token_client(token), OVER_HALF[kind]))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] + [409] * (threads - 1), [r.content[:300] for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "")
    assert CreditNote.objects.count() == 1
    assert assert_never_over_credited(issued) > GROSS / 2


@pytest.mark.django_db(transaction=True)
def test_parallel_credits_take_exactly_what_fits(issued, token, no_broker):
    threads = 8  # each 10.00 at 7 %, of 30.99: three fit
    body = {"reason": REASON, "amounts": [{"taxRate": 7, "grossAmount": 10}]}

    responses = in_parallel(threads, lambda _: post(token_client(token), body))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * 3 + [409] * 5, [r.content[:300] for r in responses]
    assert assert_never_over_credited(issued) == Decimal("30.00")
    # all three are issued, each with its own number
    for credit_note in CreditNote.objects.all():
        run_pipeline(credit_note)
    assert sorted(CreditNote.objects.values_list("number", flat=True)) == ["CN1001", "CN1002", "CN1003"]
    invoice = token_client(token).get("/invoice/acme/invoices/INV1001").json()
    assert (invoice["creditedAmount"], invoice["remainingAmount"], invoice["status"]) == (
        30.0,
        5.69,
        "ISSUED",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "body",
    [
        {"reason": REASON, "lines": [{"position": 2, "quantity": 1}]},  # small: a second one would fit
        {"reason": REASON},  # a cancellation: a second one would not
        OVER_HALF["amounts"],
    ],
    ids=["small", "cancellation", "over-half"],
)
def test_parallel_retries_with_the_same_key_create_one_credit_note(issued, token, no_broker, body):
    threads = 6

    responses = in_parallel(threads, lambda _: post(token_client(token), body, key="retry-me"))

    assert [response.status_code for response in responses] == [202] * threads, [
        r.content[:300] for r in responses
    ]
    assert len({response.json()["id"] for response in responses}) == 1
    assert CreditNote.objects.count() == 1
    assert_never_over_credited(issued)
