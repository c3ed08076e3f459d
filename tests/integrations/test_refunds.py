"""Refunds through the payment gateway port, on both backends (credit notes, issue 13).

Local: GatewayRefund rows under the transaction's row lock (idempotency key, never more than
captured minus refunded). Emporix: POST …/payment/{transactionId}/refund and the REFUND entries
of GET …/transactions/{transactionId}, on `responses` shaped like the Payment Gateway spec.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
import requests
import responses
from django.db import connection

from core.errors import NotFound, TransientError
from integrations.emporix.adapters import EmporixPaymentGateway, site_cache
from integrations.emporix.checks import OPTIONAL_SCOPES, tenant_connection_checks
from integrations.emporix.client import EmporixClient, clear_token_cache
from integrations.local.adapters import LocalPaymentGateway
from integrations.models import GatewayRefund, GatewayTransaction
from integrations.ports import RefundEntry, RefundResult
from tenants.models import Tenant
from tests import factories
from tests.integrations import emporix_payloads as p
from tests.spec_utils import _deref_raw, _patched_spec

pytestmark = pytest.mark.django_db
TXN = "txn-1"


# --- local gateway ------------------------------------------------------------------------------------
def _transaction(
    tenant: Tenant, transaction_id: str = TXN, *, authorized: str = "100.00"
) -> GatewayTransaction:
    return GatewayTransaction.objects.create(
        tenant=tenant,
        transaction_id=transaction_id,
        order_id=f"O-{transaction_id}",
        authorized_amount=Decimal(authorized),
        currency="EUR",
    )


def _captured(tenant: Tenant, transaction_id: str = TXN, amount: str = "100.00") -> str:
    _transaction(tenant, transaction_id)
    result = LocalPaymentGateway(tenant).capture(
        transaction_id=transaction_id,
        amount=Decimal(amount),
        currency="EUR",
        idempotency_key=f"cap-{transaction_id}",
    )
    assert result.successful
    return result.capture_id


def refund(
    tenant: Tenant,
    amount: str,
    key: str,
    *,
    transaction_id: str = TXN,
    currency: str = "EUR",
    capture_id: str = "",
) -> RefundResult:
    return LocalPaymentGateway(tenant).refund(
        transaction_id=transaction_id,
        amount=Decimal(amount),
        currency=currency,
        capture_id=capture_id,
        idempotency_key=key,
    )


def test_local_refund_of_a_captured_payment_is_listed_with_amount_currency_and_time(tenant):
    _captured(tenant)

    result = refund(tenant, "23.80", "k1")

    assert result.successful and result.refund_id and result.message == ""
    [entry] = LocalPaymentGateway(tenant).refunds(transaction_id=TXN)
    assert entry == RefundEntry(
        refund_id=result.refund_id, amount=Decimal("23.800"), currency="EUR", created_at=entry.created_at
    )
    assert entry.created_at is not None and entry.created_at.tzinfo is not None


def test_local_repeated_key_returns_the_first_answer_and_refunds_once(tenant):
    _captured(tenant)
    first = refund(tenant, "30", "k1")

    again = refund(tenant, "30", "k1")
    other_amount = refund(tenant, "99", "k1")  # a key never travels with other parameters

    assert again == first and other_amount == first
    assert GatewayRefund.objects.count() == 1
    assert len(LocalPaymentGateway(tenant).refunds(transaction_id=TXN)) == 1


def test_local_repeated_key_of_a_decline_stays_declined(tenant):
    _captured(tenant)
    GatewayTransaction.objects.filter(transaction_id=TXN).update(refund_decline_reason="Card closed")
    declined = refund(tenant, "10", "k1")
    GatewayTransaction.objects.filter(transaction_id=TXN).update(refund_decline_reason="")

    assert refund(tenant, "10", "k1") == declined == RefundResult(successful=False, message="Card closed")
    assert refund(tenant, "10", "k2").successful  # a new key is a new request


def test_local_partial_refunds_add_up_to_the_capture_and_no_further(tenant):
    _captured(tenant, amount="100.00")

    assert refund(tenant, "60", "k1").successful
    over = refund(tenant, "40.01", "k2")
    rest = refund(tenant, "40", "k3")
    beyond = refund(tenant, "0.01", "k4")

    assert not over.successful and over.refund_id == ""
    assert over.message == (
        "Amount 40.01 EUR exceeds what is left to refund: 40.000 EUR (100.000 captured, 60.000 refunded)."
    )
    assert rest.successful
    assert not beyond.successful and "left to refund: 0.000 EUR" in beyond.message
    refunds = LocalPaymentGateway(tenant).refunds(transaction_id=TXN)
    assert [e.amount for e in refunds] == [Decimal("60"), Decimal("40")]  # oldest first, declines left out


def test_local_refund_without_a_capture_is_declined(tenant):
    _transaction(tenant)
    result = refund(tenant, "10", "k1")
    assert result == RefundResult(
        successful=False, message="The transaction has not been captured: there is nothing to refund."
    )


def test_local_refund_after_a_declined_capture_only_is_declined(tenant):
    _transaction(tenant)
    GatewayTransaction.objects.filter(transaction_id=TXN).update(decline_reason="Card expired")
    assert (
        not LocalPaymentGateway(tenant)
        .capture(transaction_id=TXN, amount=Decimal(10), currency="EUR", idempotency_key="cap")
        .successful
    )
    assert "has not been captured" in refund(tenant, "10", "k1").message


def test_local_refund_in_another_currency_is_declined(tenant):
    _captured(tenant)
    result = refund(tenant, "10", "k1", currency="USD")
    assert not result.successful and result.message == "Currency USD does not match the payment (EUR)."


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_local_refund_of_nothing_is_declined(tenant, amount):
    _captured(tenant)
    result = refund(tenant, amount, "k1")
    assert not result.successful and "must be greater than zero" in result.message


def test_local_refund_decline_reason_declines_every_refund(tenant):
    _captured(tenant)
    GatewayTransaction.objects.filter(transaction_id=TXN).update(refund_decline_reason="Refunds disabled")

    assert refund(tenant, "1", "k1") == RefundResult(successful=False, message="Refunds disabled")
    assert refund(tenant, "2", "k2") == RefundResult(successful=False, message="Refunds disabled")
    assert LocalPaymentGateway(tenant).refunds(transaction_id=TXN) == ()
    assert GatewayRefund.objects.filter(successful=False).count() == 2  # recorded under their keys


def test_local_refund_names_the_capture_when_given(tenant):
    capture_id = _captured(tenant)
    wrong = refund(tenant, "10", "k1", capture_id="not-a-capture")
    assert not wrong.successful
    assert wrong.message == f"Capture not-a-capture is not a successful capture of transaction {TXN}."
    assert refund(tenant, "10", "k2", capture_id=capture_id).successful


def test_local_refund_of_an_unknown_transaction_is_declined_without_a_record(tenant):
    result = refund(tenant, "10", "k1", transaction_id="nope")
    assert result == RefundResult(
        successful=False, message="Payment transaction nope not found at the payment gateway."
    )
    assert not GatewayRefund.objects.exists()


def test_local_refunds_are_the_tenants_own(tenant, other_tenant):
    _captured(tenant)
    assert refund(tenant, "10", "k1").successful
    _captured(other_tenant)  # the same transaction id at another tenant
    assert LocalPaymentGateway(other_tenant).refunds(transaction_id=TXN) == ()
    assert LocalPaymentGateway(tenant).refunds(transaction_id="unknown") == ()


def test_local_capture_still_raises_not_found_for_an_unknown_transaction(tenant):
    with pytest.raises(NotFound):
        LocalPaymentGateway(tenant).capture(
            transaction_id="nope", amount=Decimal(1), currency="EUR", idempotency_key="c"
        )


def _threads(count: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return errors


@pytest.mark.django_db(transaction=True)
def test_local_concurrent_refunds_with_one_key_refund_once_and_answer_alike():
    assert connection.vendor == "postgresql"
    tenant = factories.tenant_make("refundsa")
    _captured(tenant)
    answers: list[RefundResult] = []

    errors = _threads(8, lambda _i: answers.append(refund(tenant, "50", "same-key")))

    assert not errors, errors
    assert len(answers) == 8 and len(set(answers)) == 1 and answers[0].successful
    assert GatewayRefund.objects.filter(transaction__tenant=tenant).count() == 1


@pytest.mark.django_db(transaction=True)
def test_local_concurrent_refunds_never_exceed_the_capture():
    assert connection.vendor == "postgresql"
    tenant = factories.tenant_make("refundsb")
    _captured(tenant, amount="100.00")
    answers: list[RefundResult] = []

    errors = _threads(8, lambda i: answers.append(refund(tenant, "30", f"key-{i}")))

    assert not errors, errors
    assert sum(a.successful for a in answers) == 3  # 3 x 30 of 100; the rest is declined
    refunded = sum(e.amount or 0 for e in LocalPaymentGateway(tenant).refunds(transaction_id=TXN))
    assert refunded == Decimal("90")


# --- Emporix --------------------------------------------------------------------------------------------
SECRET = "s3cr3t-never-logged"
CARD = "DEMO-1001"  # card payment through payment-gateway, 179.88 EUR


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


def gateway(shop) -> EmporixPaymentGateway:
    tenant = Tenant.objects.get(pk=shop.pk)
    return EmporixPaymentGateway(tenant, EmporixClient(tenant))


def emporix_refund(shop, amount: str = "179.88", *, capture_id: str = "") -> RefundResult:
    return gateway(shop).refund(
        transaction_id=p.card_transaction_id(CARD) or "",
        amount=Decimal(amount),
        currency="EUR",
        capture_id=capture_id,
        idempotency_key="credit-refund:shop:x",
    )


def captured(shop, fake) -> str:
    result = gateway(shop).capture(
        transaction_id=p.card_transaction_id(CARD) or "",
        amount=Decimal("179.88"),
        currency="EUR",
        idempotency_key="c",
    )
    assert result.successful
    return result.capture_id


def refund_bodies(fake) -> list[dict]:
    return [
        p.REFUND.check_request(c.request.body) for c in fake.mock.calls if c.request.url.endswith("/refund")
    ]


def test_spec_example_of_the_refund_request_is_what_the_builder_sends():
    spec = _patched_spec(p.PAYMENT_SPEC)
    operation = spec["paths"][p.REFUND.path]["post"]
    [example] = operation["requestBody"]["content"]["application/json"]["examples"].values()
    assert p.refund_request(3.99, "EUR") == example["value"]
    response = _deref_raw(spec, operation["responses"]["200"])
    for named in response["content"]["application/json"]["examples"].values():
        p.REFUND.check_response(200, named["value"])
    assert "payment-gateway.refund_manage" in operation["security"][0]["OAuth2"]


def test_emporix_refund_sends_amount_and_currency_per_the_spec(shop, fake):
    captured(shop, fake)

    result = emporix_refund(shop, "23.80")

    assert result == RefundResult(successful=True, refund_id="", message="Success!")
    assert refund_bodies(fake) == [p.refund_request(23.8, "EUR")]  # no captureId: the gateway picks it
    call = next(c for c in fake.mock.calls if c.request.url.endswith("/refund"))
    assert call.request.url == p.REFUND.url(transactionId=p.card_transaction_id(CARD))


def test_emporix_refund_names_the_capture_when_known(shop, fake):
    capture_id = captured(shop, fake)
    assert emporix_refund(shop, "10", capture_id=capture_id).successful
    assert refund_bodies(fake) == [p.refund_request(10, "EUR", capture_id=capture_id)]


def test_emporix_declined_refund_carries_the_gateways_message(shop, fake):
    captured(shop, fake)
    fake.refund_declines[p.card_transaction_id(CARD) or ""] = "Insufficient merchant balance"
    assert emporix_refund(shop) == RefundResult(successful=False, message="Insufficient merchant balance")


def test_emporix_over_refund_is_declined(shop, fake):
    captured(shop, fake)
    assert emporix_refund(shop, "100").successful
    over = emporix_refund(shop, "79.89")
    assert not over.successful and over.message == "The refund amount exceeds the captured amount."
    assert [e.amount for e in gateway(shop).refunds(transaction_id=p.card_transaction_id(CARD) or "")] == [
        Decimal("100")
    ]


def test_emporix_refund_without_a_capture_is_a_decline_with_the_upstream_4xx_message(shop, fake):
    result = emporix_refund(shop)
    assert not result.successful
    assert result.message == "Emporix Payment Gateway answered 422: The payment has not been captured."


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, p.transaction_not_found(), "answered 404: The resource does not exist."),
        (403, p.missing_scopes("payment-gateway.refund_manage"), "payment-gateway.refund_manage"),
        (422, p.refund_not_supported(), "answered 422: The payment action is not supported."),
    ],
)
def test_emporix_refund_4xx_is_a_decline_not_an_error(shop, status, body, message):
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.post(p.REFUND.url(transactionId="t-1"), status=status, json=body)
        result = gateway(shop).refund(
            transaction_id="t-1", amount=Decimal(5), currency="EUR", capture_id="", idempotency_key="k"
        )
    assert not result.successful and message in result.message


@pytest.mark.parametrize(
    "fault",
    [
        requests.exceptions.ReadTimeout(),
        requests.exceptions.ConnectTimeout(),
        requests.exceptions.ConnectionError(),
        500,
        503,
        429,
        (502, "text/html", "<html>Bad gateway</html>"),
    ],
)
def test_emporix_refund_timeouts_and_5xx_are_transient_unknown(shop, fake, fault):
    captured(shop, fake)
    fake.fail("refund", fault)
    with pytest.raises(TransientError):
        emporix_refund(shop)
    # nothing was refunded: refunds() says so, and the refund can be asked for again
    assert gateway(shop).refunds(transaction_id=p.card_transaction_id(CARD) or "") == ()
    assert emporix_refund(shop).successful


def test_emporix_refund_timing_out_after_it_was_done_is_resolved_by_refunds(shop, fake):
    captured(shop, fake)
    fake.fail("refund", "timeout-after")

    with pytest.raises(TransientError, match="did not answer within"):
        emporix_refund(shop, "50")

    [entry] = gateway(shop).refunds(transaction_id=p.card_transaction_id(CARD) or "")
    assert entry.amount == Decimal("50") and entry.currency == "EUR" and entry.refund_id.startswith("ref-")
    assert entry.created_at is not None and entry.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "raw",
    [
        (200, "text/html", "<html>ok</html>"),
        (200, "application/json", "[]"),
        (200, "application/json", '{"message": "Success!"}'),
    ],
)
def test_emporix_refund_answer_without_an_outcome_is_unknown(shop, fake, raw):
    captured(shop, fake)
    fake.fail("refund", raw)
    with pytest.raises(TransientError):
        emporix_refund(shop)


def test_emporix_refunds_are_the_successful_refund_entries_oldest_first(shop):
    body = p.transaction(
        "t-1",
        captured=True,
        amount=100,
        refunds=[
            {"id": "r-late", "amount": 5, "minutes": 5000},
            {"id": "r-declined", "amount": 7, "successful": False, "minutes": 3000},
            {"id": "r-early", "amount": 12.5, "minutes": 2000},
        ],
    )
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.get(p.GET_TRANSACTION.url(transactionId="t-1"), json=body)
        found = gateway(shop).refunds(transaction_id="t-1")
    assert found == (
        RefundEntry("r-early", Decimal("12.5"), "EUR", dt.datetime(2026, 1, 6, 17, 33, tzinfo=dt.UTC)),
        RefundEntry("r-late", Decimal("5"), "EUR", dt.datetime(2026, 1, 8, 19, 33, tzinfo=dt.UTC)),
    )


def test_emporix_refunds_of_an_unknown_transaction_are_none(shop):
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), json=p.token())
        mock.get(p.GET_TRANSACTION.url(transactionId="t-1"), status=404, json=p.transaction_not_found())
        assert gateway(shop).refunds(transaction_id="t-1") == ()


def test_emporix_refunds_lookup_failing_is_transient(shop, fake):
    fake.fail("get_transaction", 503)
    with pytest.raises(TransientError):
        gateway(shop).refunds(transaction_id=p.card_transaction_id(CARD) or "")


def test_refund_scope_is_granted_by_default_and_checked_as_optional(shop, fake):
    assert "payment-gateway.refund_manage" in p.DEFAULT_SCOPES
    assert "payment-gateway.refund_manage" in OPTIONAL_SCOPES
    checks = {c.name: c for c in tenant_connection_checks(Tenant.objects.get(pk=shop.pk))}
    assert "refund_manage" not in checks["optional scopes"].detail  # (the buyer scopes are not granted)

    clear_token_cache()
    fake.scopes = tuple(s for s in p.DEFAULT_SCOPES if s != "payment-gateway.refund_manage")
    checks = {c.name: c for c in tenant_connection_checks(Tenant.objects.get(pk=shop.pk))}
    assert checks["scopes"].ok  # invoicing is not blocked
    optional = checks["optional scopes"]
    assert not optional.ok and not optional.blocking
    assert (
        "payment-gateway.refund_manage (refund card payments when a credit note is issued)" in optional.detail
    )
