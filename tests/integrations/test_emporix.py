"""A tenant on the Emporix backend: every call, every failure mapping, whole jobs.

The HTTP boundary is `responses` (tests.integrations.emporix_fake); request bodies are checked
against the published specs and answers are built from them.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
import requests
import responses
from django.core import mail

from core.errors import NotFound, PermanentError, TransientError
from integrations.emporix.adapters import (
    EmporixNumberSequence,
    EmporixOrderSource,
    EmporixPaymentGateway,
    EmporixSellerSettings,
    site_cache,
)
from integrations.emporix.client import EmporixClient, UpstreamError, clear_token_cache
from integrations.numbering import SeriesExhausted
from invoicing.models import Invoice, PaymentCapture
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.integrations import emporix_payloads as p
from tests.pipeline import drive

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-never-logged"
CARD = "DEMO-1001"  # card payment through payment-gateway, 179.88 EUR
BY_INVOICE = "DEMO-1002"


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_token_cache()
    site_cache.clear()
    yield
    clear_token_cache()
    site_cache.clear()


@pytest.fixture
def shop(db):
    return factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=p.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret=SECRET,
        emporix_number_placeholders={"__num__": ""},
    )


def client(shop) -> EmporixClient:
    return EmporixClient(Tenant.objects.get(pk=shop.pk))


def job(shop, *order_ids: str):
    return drive(job_create_manual(tenant=shop, order_ids=list(order_ids)))


def row(job_, order_id: str) -> JobOrder:
    return JobOrder.objects.select_related("invoice").get(job=job_, order_id=order_id)


# --- credentials -----------------------------------------------------------------------------------
def test_client_secret_is_stored_encrypted(shop):
    stored = Tenant.objects.get(pk=shop.pk)
    assert SECRET not in stored.emporix_client_secret_encrypted
    assert stored.decrypted_emporix_client_secret() == SECRET
    assert SECRET not in repr(EmporixClient(stored))


# --- the client: tokens, faults, logging ---------------------------------------------------------------
def test_token_is_fetched_once_with_form_credentials_and_reused(shop, fake):
    api = client(shop)
    api.request("GET", f"/order-v2/shop/salesorders/{CARD}")
    api.request("GET", f"/order-v2/shop/salesorders/{CARD}")

    assert fake.count("token") == 1
    token_call = next(c for c in fake.mock.calls if c.request.url.endswith("/oauth/token"))
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = p.TOKEN.check_request(token_call.request.body)
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "invoice-service",
        "client_secret": SECRET,
    }


def test_token_is_renewed_shortly_before_it_expires(shop, fake, settings):
    settings.EMPORIX_TOKEN_MARGIN = 14399  # every token counts as about to expire
    api = client(shop)
    api.request("GET", f"/order-v2/shop/salesorders/{CARD}")
    api.request("GET", f"/order-v2/shop/salesorders/{CARD}")
    assert fake.count("token") == 2


def test_expired_token_is_replaced_once_and_the_call_repeated(shop, fake):
    api = client(shop)
    api.request("GET", f"/order-v2/shop/salesorders/{CARD}")
    fake.expire_tokens()

    response = api.request("GET", f"/order-v2/shop/salesorders/{CARD}")

    assert response.status_code == 200
    assert fake.count("token") == 2
    auth = [c.request.headers.get("Authorization") for c in fake.mock.calls if "salesorders" in c.request.url]
    assert auth[-2] != auth[-1]  # the repeat carried the new token


def test_second_401_is_a_permanent_error(shop, fake):
    fake.fail("get_order", 401, times=2)
    with pytest.raises(PermanentError, match="rejected a fresh access token"):
        client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")


def test_wrong_credentials_are_a_clear_permanent_error(shop, fake):
    fake.fail("token", 401)
    with pytest.raises(PermanentError, match="refused the client credentials of tenant shop"):
        client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (requests.exceptions.ConnectTimeout(), "did not answer within"),
        (requests.exceptions.ReadTimeout(), "did not answer within"),
        (requests.exceptions.ConnectionError(), "could not be reached"),
        (503, "answered 503"),
        (429, "answered 429"),
    ],
)
def test_timeouts_connection_errors_and_5xx_are_transient(shop, fake, fault, message):
    fake.fail("get_order", fault)
    with pytest.raises(TransientError, match=message):
        client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")


def test_4xx_is_permanent_with_the_upstream_message(shop, fake):
    with pytest.raises(UpstreamError, match="answered 404: The requested resource was not found") as caught:
        client(shop).request("GET", "/order-v2/shop/salesorders/NOPE")
    assert caught.value.status == 404


def test_every_request_has_timeouts_and_a_request_id(shop, fake, settings):
    settings.EMPORIX_CONNECT_TIMEOUT, settings.EMPORIX_READ_TIMEOUT = 3, 7
    seen = {}
    original = requests.Session.request

    def spy(self, method, url, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        seen["request_id"] = kwargs["headers"].get("X-Request-ID")
        return original(self, method, url, **kwargs)

    from unittest import mock

    with mock.patch.object(requests.Session, "request", spy):
        client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")
    assert seen["timeout"] == (3, 7)
    assert len(seen["request_id"]) == 32


def test_requests_are_logged_with_latency_but_never_secrets_or_tokens(shop, fake, caplog):
    caplog.set_level(logging.INFO, logger="integrations.emporix")
    client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")

    assert "GET /order-v2/shop/salesorders/DEMO-1001 -> 200 in" in caplog.text
    assert "request " in caplog.text and "upstream up-" in caplog.text
    assert SECRET not in caplog.text
    assert not any(token in caplog.text for token in fake.tokens)


# --- orders ----------------------------------------------------------------------------------------------
def test_get_order_maps_the_sales_order(shop, fake):
    order = EmporixOrderSource(shop, client(shop)).get_order(CARD)
    assert order.order_id == CARD and order.stated_gross == Decimal("179.88")
    assert order.payments[0].transaction_id == p.card_transaction_id(CARD)


def test_get_unknown_order_is_not_found(shop, fake):
    with pytest.raises(NotFound, match="Order NOPE not found"):
        EmporixOrderSource(shop, client(shop)).get_order("NOPE")


def test_write_back_patches_the_invoice_mixin_with_the_order_version(shop, fake, settings):
    settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL = p.INVOICE_MIXIN_SCHEMA_URL
    EmporixOrderSource(shop, client(shop)).mark_invoiced(
        CARD, invoice_number="INV1001", document_url="https://x/1"
    )

    [patch] = fake.patches
    assert patch == {"orderId": CARD, **p.order_invoice_patch("INV1001", "https://x/1", version=1)}
    assert fake.orders[CARD]["mixins"]["invoice"]["invoiceNo"] == "INV1001"


def test_write_back_version_conflict_reads_again_and_retries(shop, fake):
    fake.concurrent_updates = 1

    EmporixOrderSource(shop, client(shop)).mark_invoiced(
        CARD, invoice_number="INV1001", document_url="https://x/1"
    )

    assert [patch["metadata"]["version"] for patch in fake.patches] == [1, 2]  # 409, then the fresh version
    assert fake.orders[CARD]["mixins"]["invoice"]["invoiceNo"] == "INV1001"


def test_write_back_that_keeps_conflicting_is_transient(shop, fake):
    fake.concurrent_updates = 5
    with pytest.raises(TransientError, match="kept changing"):
        EmporixOrderSource(shop, client(shop)).mark_invoiced(
            CARD, invoice_number="INV1", document_url="https://x/1"
        )


def test_write_back_done_already_sends_nothing(shop, fake):
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV1001")
    EmporixOrderSource(shop, client(shop)).mark_invoiced(
        CARD, invoice_number="INV1001", document_url="https://x/1"
    )
    assert fake.patches == []


# --- invoice numbers -------------------------------------------------------------------------------------
def test_next_id_sends_site_code_and_placeholders(shop, fake):
    number = EmporixNumberSequence(shop, client(shop)).next_number(site_code="main", at=None)

    assert number == "INV1001"
    call = next(c for c in fake.mock.calls if "nextId" in c.request.url)
    assert call.request.url.endswith("/nextId?siteCode=main")
    assert p.NEXT_ID.check_request(call.request.body) == {"placeholders": {"__num__": ""}}


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (404, p.sequence_not_found(), PermanentError, "No active invoiceNoSequence schema"),
        (409, p.sequence_exhausted(), SeriesExhausted, "is used up"),
        (400, p.placeholder_missing(), PermanentError, "check the schema's placeholders"),
    ],
)
def test_next_id_failures_are_clear(shop, status, body, error, message):
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.post(p.NEXT_ID.url(schemaType="invoiceNoSequence"), status=status, json=body)
        with pytest.raises(error, match=message):
            EmporixNumberSequence(shop, client(shop)).next_number(site_code="", at=None)


# --- seller ------------------------------------------------------------------------------------------------
def test_seller_comes_from_the_site_and_its_mixins(shop, fake):
    seller = EmporixSellerSettings(shop, client(shop)).get_seller(site_code="main")

    assert seller.legal_name == "Nordlicht Handels GmbH"
    assert (seller.vat_id, seller.iban, seller.bic) == (
        "DE123456789",
        "DE89370400440532013000",
        "COBADEFFXXX",
    )
    assert seller.time_zone == "Europe/Berlin" and seller.language == "en"
    assert seller.email == "invoices@nordlicht.example"  # cust.notification.email.from
    assert seller.logo and seller.logo[:2] == b"\xff\xd8"


def test_seller_without_site_code_uses_the_default_site_and_caches_it(shop, fake):
    settings_source = EmporixSellerSettings(shop, client(shop))
    settings_source.get_seller(site_code="")
    settings_source.get_seller(site_code="")

    assert fake.count("list_sites") == 1
    assert fake.count("get_site") == 1
    assert fake.count("logo") == 1


def test_seller_logo_unreachable_or_too_large_is_left_out(shop, fake, settings):
    fake.fail("logo", 500)
    assert EmporixSellerSettings(shop, client(shop)).get_seller(site_code="main").logo is None
    site_cache.clear()
    settings.EMPORIX_LOGO_MAX_BYTES = 100
    assert EmporixSellerSettings(shop, client(shop)).get_seller(site_code="main").logo is None


def test_seller_sender_falls_back_to_the_tenant_without_the_configuration_key(shop, fake):
    fake.sender = ""
    assert (
        EmporixSellerSettings(shop, client(shop)).get_seller(site_code="main").email == "billing@shop.example"
    )


# --- payments ---------------------------------------------------------------------------------------------
def test_capture_sends_amount_and_currency(shop, fake):
    txn = p.card_transaction_id(CARD)
    result = EmporixPaymentGateway(shop, client(shop)).capture(
        transaction_id=txn, amount=Decimal("179.88"), currency="EUR", idempotency_key="k"
    )
    assert result.successful and result.capture_id
    assert fake.captures[txn] == [{"id": result.capture_id, "amount": 179.88, "currency": "EUR"}]


def test_capture_status_reads_the_transaction(shop, fake):
    gateway = EmporixPaymentGateway(shop, client(shop))
    txn = p.card_transaction_id(CARD)
    assert gateway.capture_status(transaction_id=txn).captured is False
    gateway.capture(transaction_id=txn, amount=Decimal("179.88"), currency="EUR", idempotency_key="k")
    status = gateway.capture_status(transaction_id=txn)
    assert status.captured and status.amount == Decimal("179.88")


# --- whole jobs for an Emporix tenant ------------------------------------------------------------------------
def test_job_card_order_end_to_end_on_emporix(shop, fake):
    done = job(shop, CARD, BY_INVOICE)

    card, by_invoice = row(done, CARD), row(done, BY_INVOICE)
    assert (card.status, by_invoice.status) == ("SUCCESS", "SUCCESS"), (card.message, by_invoice.message)
    assert {card.invoice.number, by_invoice.invoice.number} == {"INV1001", "INV1002"}  # Emporix's numbers
    assert fake.captures[p.card_transaction_id(CARD)] == [
        {"id": fake.captures[p.card_transaction_id(CARD)][0]["id"], "amount": 179.88, "currency": "EUR"}
    ]
    assert fake.count("capture") == 1 and fake.count("next_id") == 2
    written = {patch["orderId"]: patch["mixins"]["invoice"] for patch in fake.patches}
    assert written[CARD] == {
        "invoiceNo": card.invoice.number,
        "invoiceDocument": f"http://testserver/invoice/shop/invoices/{card.invoice.number}/document",
    }
    assert mail.outbox[0].from_email == "invoices@nordlicht.example"
    assert (
        Invoice.objects.get(pk=card.invoice_id).document["seller"]["legal_name"] == "Nordlicht Handels GmbH"
    )


def test_job_order_invoiced_per_its_mixin_fails_without_number_or_charge(shop, fake):
    fake.orders[CARD] = p.sales_order(CARD, invoice_no="INV0999")

    done = job(shop, CARD)

    assert "already invoiced: invoice INV0999" in row(done, CARD).message
    assert fake.count("capture") == 0 and fake.count("next_id") == 0


def test_job_unknown_order_fails_with_order_not_found(shop, fake):
    assert row(job(shop, "NOPE"), "NOPE").message == "Order NOPE not found."


def test_job_declined_capture_fails_with_the_gateways_message_and_draws_no_number(shop, fake):
    fake.declines[p.card_transaction_id(CARD)] = "Card expired"

    failed = row(job(shop, CARD), CARD)

    assert failed.status == "FAILURE" and failed.message.startswith("Payment capture declined: Card expired")
    assert fake.count("next_id") == 0


def test_job_capture_rejected_with_4xx_fails_with_the_upstream_message(shop, fake):
    fake.fail("capture", 422)
    failed = row(job(shop, CARD), CARD)
    assert failed.status == "FAILURE" and "answered 422" in failed.message
    assert fake.count("next_id") == 0


def test_job_capture_timeout_resolved_as_captured_is_not_charged_again(shop, fake):
    fake.fail("capture", "timeout-after")  # the gateway captured, the answer was lost

    done = job(shop, CARD)

    assert row(done, CARD).status == "SUCCESS", row(done, CARD).message
    assert fake.count("capture") == 1
    assert fake.count("get_transaction") == 1
    assert len(fake.captures[p.card_transaction_id(CARD)]) == 1


def test_job_capture_timeout_resolved_as_not_captured_captures_once(shop, fake):
    fake.fail("capture", requests.exceptions.ReadTimeout())  # lost before the gateway acted

    done = job(shop, CARD)

    assert row(done, CARD).status == "SUCCESS", row(done, CARD).message
    assert fake.count("get_transaction") == 1 and fake.count("capture") == 2
    assert len(fake.captures[p.card_transaction_id(CARD)]) == 1


def test_job_5xx_then_success_retries_and_finishes(shop, fake):
    fake.fail("get_order", 503, times=2)
    done = job(shop, BY_INVOICE)
    assert row(done, BY_INVOICE).status == "SUCCESS"


def test_job_5xx_that_persists_fails_with_an_honest_message(shop, fake):
    fake.fail("get_order", 503, times=10)
    failed = row(job(shop, BY_INVOICE), BY_INVOICE)
    assert failed.status == "FAILURE"
    assert failed.message.startswith("Validation failed after 4 attempts: Emporix Order service answered 503")


def test_job_token_expiring_mid_job_is_renewed(shop, fake):
    done = drive(job_create_manual(tenant=shop, order_ids=[BY_INVOICE]), max_rounds=2)  # part of the way
    fake.expire_tokens()
    done = drive(done)
    assert row(done, BY_INVOICE).status == "SUCCESS"
    assert fake.count("token") == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda fake: setattr(fake, "schema_active", False), "No active invoiceNoSequence schema"),
        (lambda fake: fake.fail("next_id", 409), "is used up"),
    ],
)
def test_job_number_failures_keep_the_capture_and_say_why(shop, fake, setup, message):
    setup(fake)
    failed = row(job(shop, CARD), CARD)
    assert failed.status == "FAILURE" and message in failed.message
    assert PaymentCapture.objects.get(order_id=CARD).status == "CAPTURED"


def test_job_number_drawn_is_reused_when_the_issue_step_is_retried(shop, fake):
    from unittest import mock

    from django.db import OperationalError

    from invoicing.models import InvoiceLine

    real = InvoiceLine.objects.bulk_create
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("connection lost")  # after the number was drawn
        return real(*args, **kwargs)

    with mock.patch.object(InvoiceLine.objects, "bulk_create", flaky):
        done = job(shop, BY_INVOICE)

    assert row(done, BY_INVOICE).invoice.number == "INV1001"
    assert fake.count("next_id") == 1


def test_job_write_back_failing_for_good_reports_it_on_the_issued_invoice(shop, fake):
    from invoicing.models import InvoiceEvent

    fake.fail("patch_order", 403)

    result = row(job(shop, BY_INVOICE), BY_INVOICE)

    # the invoice exists and stays with its number; the order says what did not happen and how to finish it
    assert result.status == "FAILURE" and result.invoice.number == "INV1001"
    assert result.message.startswith(
        "Invoice INV1001 was issued, but writing the invoice back onto the order failed:"
    )
    assert "answered 403" in result.message
    assert "An administrator can re-run the failed steps" in result.message
    assert InvoiceEvent.objects.filter(type="write_back_failed", order_id=BY_INVOICE).exists()


def test_seller_sender_unreadable_for_lack_of_scope_falls_back_and_invoicing_goes_on(shop, fake):
    fake.fail("get_configuration", 403)
    seller = EmporixSellerSettings(shop, client(shop)).get_seller(site_code="main")
    assert seller.email == "billing@shop.example"


# --- what is quoted from upstream errors ------------------------------------------------------------
HTML_ERROR_PAGE = (
    "<html><body><h1>502 Bad Gateway</h1><pre>Traceback (most recent call last):\n"
    '  File "/srv/gateway/app.py", line 12, in proxy to internal-db.corp:5432</pre></body></html>'
)


def test_job_quotes_no_html_error_page_only_the_status(shop, fake):
    fake.fail("get_order", (400, "text/html", HTML_ERROR_PAGE))

    failed = row(job(shop, CARD), CARD)

    assert failed.status == "FAILURE"
    assert "answered 400: HTTP 400 without a JSON message" in failed.message
    assert (
        "<html" not in failed.message
        and "Traceback" not in failed.message
        and "internal-db" not in failed.message
    )


def test_5xx_with_a_non_json_body_names_only_the_status(shop, fake):
    fake.fail("get_order", (502, "text/plain", "upstream connect error: " + "stack frame\n" * 500))
    with pytest.raises(TransientError) as caught:
        client(shop).request("GET", f"/order-v2/shop/salesorders/{CARD}")
    assert caught.value.message == "Emporix Order service answered 502: HTTP 502 without a JSON message"


def test_a_huge_json_message_is_shortened_and_cleaned_of_control_characters(shop, fake):
    message = "Amount\r\n\x1b[31minvalid\u202e " + "x" * 10_000
    body = {"message": message, "code": 422, "trace": "at com.emporix.payment.Gateway.capture"}
    fake.fail("capture", (422, "application/json", json.dumps(body)))

    failed = row(job(shop, CARD), CARD)

    assert failed.status == "FAILURE"
    assert "answered 422: Amount [31minvalid " + "x" * 150 in failed.message
    assert "x" * 200 not in failed.message  # shortened to 200 characters
    assert not any(ch in failed.message for ch in "\r\n\x1b\u202e")
    assert "com.emporix" not in failed.message  # only the message field is quoted


# --- ids in paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("order_id", "segment"),
    [
        ("../../oauth/token", "..%2F..%2Foauth%2Ftoken"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("50% off", "50%25%20off"),
        ("%2e%2e", "%252e%252e"),
    ],
)
def test_order_ids_are_percent_encoded_as_one_path_segment(shop, fake, order_id, segment):
    with pytest.raises(NotFound):
        EmporixOrderSource(shop, client(shop)).get_order(order_id)
    assert fake.mock.calls[-1].request.url == f"{p.BASE_URL}/order-v2/shop/salesorders/{segment}"
    assert fake.count("token") == 1  # nothing was sent to /oauth/token by the id


@pytest.mark.parametrize("order_id", ["..", ".", ""])
def test_order_ids_that_would_walk_the_path_are_refused_without_a_call(shop, fake, order_id):
    with pytest.raises(PermanentError, match="cannot be sent to Emporix as an id"):
        EmporixOrderSource(shop, client(shop)).get_order(order_id)
    assert fake.calls == []


def test_transaction_ids_and_site_codes_that_would_walk_the_path_are_refused(shop, fake):
    with pytest.raises(PermanentError, match=r"'\.\.' cannot be sent to Emporix"):
        EmporixPaymentGateway(shop, client(shop)).capture(
            transaction_id="..", amount=Decimal("1.00"), currency="EUR", idempotency_key="k"
        )
    with pytest.raises(PermanentError, match=r"'\.\.' cannot be sent to Emporix"):
        EmporixSellerSettings(shop, client(shop)).get_seller(site_code="..")
    assert fake.count("capture") == 0 and fake.count("get_site") == 0


def test_transaction_id_with_slashes_stays_one_segment(shop, fake):
    EmporixPaymentGateway(shop, client(shop)).capture_status(transaction_id="../../../x")
    assert (
        fake.mock.calls[-1].request.url == f"{p.BASE_URL}/payment-gateway/shop/transactions/..%2F..%2F..%2Fx"
    )
