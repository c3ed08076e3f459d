"""Step 3, payment capture: at most once per authorisation and amount, never more than authorised."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.utils import timezone

from core.errors import PermanentError
from core.money import money_text, round_money
from integrations.ports import Order, Payment
from invoicing import events
from invoicing.models import Invoice, PaymentCapture
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of

# Payment methods that are paid outside the gateway: nothing to capture.
NO_CAPTURE_METHODS = {"invoice", "cash", "cash_on_delivery", "cod", "bank_transfer", "prepayment"}


ALREADY_PAID_STATUSES = {"CAPTURE_SUCCESS", "SUCCESS"}


def capture_target(order: Order) -> Payment | None:
    """The payment to capture: an authorised gateway transaction, unless paid otherwise."""
    for payment in order.payments:
        if payment.method.lower() in NO_CAPTURE_METHODS or payment.provider.upper() in {
            "INVOICE",
            "CASH_ON_DELIVERY",
        }:
            continue
        if payment.transaction_id and payment.status not in ALREADY_PAID_STATUSES:
            return payment
    return None


def capture_settles(capture: PaymentCapture, invoice: Invoice) -> bool:
    """Whether the order's capture record is this invoice's. A record from before credit notes
    (invoice NULL) is the order's first invoice's, unless that one was cancelled."""
    if capture.invoice_id is not None:
        return capture.invoice_id == invoice.pk
    return not Invoice.objects.filter(
        tenant_id=capture.tenant_id, order_id=capture.order_id, cancelled_at__isnull=False
    ).exists()


def capture_plan(invoice: Invoice, payment: Payment | None, amount: Decimal, currency: str) -> None:
    """Create or refresh the capture record for what recalculation decided.

    Never more than the authorisation: this is the only place a capture amount is set, so the
    check here keeps an over-authorisation amount from ever reaching the gateway (raised inside
    the caller's transaction, so nothing of this recalculation is kept).
    """
    authorised = payment.authorized_amount if payment else None
    if (
        payment is not None
        and authorised is not None
        and (payment.currency or currency).upper() == currency.upper()
        and amount > authorised
    ):
        # shown in the currency's minor unit unless the order states it finer (then as stated)
        rounded = round_money(authorised, currency)
        shown = rounded if rounded == authorised else authorised
        raise PermanentError(
            f"The invoice total {amount} {currency} exceeds the authorised amount {shown} {currency} "
            f"of payment {payment.transaction_id}; nothing was captured and no invoice was issued."
        )
    capture = (
        PaymentCapture.objects.select_for_update()
        .filter(tenant=invoice.tenant, order_id=invoice.order_id)
        .first()
    )
    if (
        capture is not None
        and capture.status == PaymentCapture.Status.CAPTURED
        and not capture_settles(capture, invoice)
    ):
        # The order's invoice was cancelled and its payment refunded in full: a new invoice needs
        # money again. The refunded authorisation cannot be captured a second time.
        if payment is not None and payment.transaction_id == capture.transaction_id:
            raise PermanentError(
                f"The payment {capture.transaction_id} of order {invoice.order_id} was refunded when its "
                "invoice was cancelled and cannot be captured again. Nothing was captured and no invoice "
                "was issued; the order needs a new payment authorisation (or pay by invoice)."
            )
        capture.attempt += 1
        capture.refunded_amount = Decimal(0)
    fields: dict[str, object] = {
        "invoice": invoice,
        "status": PaymentCapture.Status.PENDING if payment else PaymentCapture.Status.NOT_REQUIRED,
        "transaction_id": payment.transaction_id if payment else "",
        "payment_method": payment.method if payment else "",
        "amount": amount,
        "currency": currency,
        "message": "",
    }
    key = _idempotency_key(invoice, payment, amount, currency)
    if capture is None:
        PaymentCapture.objects.create(
            tenant=invoice.tenant, order_id=invoice.order_id, idempotency_key=key, **fields
        )
        return
    if capture.status == PaymentCapture.Status.DECLINED:
        if capture.idempotency_key == key:
            # The same capture of the same authorisation: the gateway would answer the same
            # decline for the same key, so it is not asked again (payment_capture fails the
            # order with the recorded answer). Runs and retries cannot pile up gateway calls.
            return
        # A new authorisation (or amount) after a definite decline: a new attempt, a new key.
        capture.attempt += 1
    capture.idempotency_key = key
    for name, value in fields.items():
        setattr(capture, name, value)
    capture.save()


def _idempotency_key(invoice: Invoice, payment: Payment | None, amount: Decimal, currency: str) -> str:
    """One key per capture of one authorisation: (tenant, order, transaction, authorised amount,
    amount, currency).

    Derived, never counted: every run, retry job or redelivered task that captures the same
    amount of the same authorisation sends the same key, so the gateway performs it at most once
    and answers a repeat with its first answer (an idempotent request, as Stripe and Adyen
    define it). A key never travels with other parameters: a different amount or currency makes
    a different key. After an UNKNOWN outcome the record keeps its key (recalculation leaves an
    UNKNOWN capture alone) and the gateway is asked before it is called again.
    """
    if payment is None:
        return f"invoice-capture:{invoice.tenant.code}:{invoice.order_id}:none"
    authorised = "none" if payment.authorized_amount is None else _amount_text(payment.authorized_amount)
    what = "|".join((payment.transaction_id, authorised, _amount_text(amount), currency.upper()))
    digest = hashlib.sha256(what.encode()).hexdigest()[:32]
    return f"invoice-capture:{invoice.tenant.code}:{invoice.order_id}:{digest}"


def _amount_text(amount: Decimal) -> str:
    # 179.88 and 179.880 are one amount: the key must not depend on how it was written
    return format(amount.normalize(), "f")


def payment_capture(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    capture = PaymentCapture.objects.get(tenant=invoice.tenant, order_id=invoice.order_id)
    if capture.status == PaymentCapture.Status.NOT_REQUIRED:
        return "no capture needed"
    if capture.status == PaymentCapture.Status.CAPTURED:
        return f"captured {captured_text(capture)}"
    if capture.status == PaymentCapture.Status.DECLINED:
        # declined before, for this very authorisation and amount (_plan_capture): not asked again
        raise PermanentError(
            f"Payment capture declined: {capture.message or 'no reason given by the gateway'} "
            "(the gateway's answer for this authorisation; a capture is tried again once the "
            "order has a new authorisation or amount)"
        )
    gateway = backends_of(job_order).payments
    assert capture.amount is not None
    if capture.status == PaymentCapture.Status.UNKNOWN:
        # An earlier call timed out or its worker died: ask before charging again.
        status = gateway.capture_status(transaction_id=capture.transaction_id)
        if status.captured:
            _capture_done(capture, status.capture_id, "resolved: the gateway had captured it")
            return f"captured {captured_text(capture)}"
    else:
        # Recorded before the call: if we die inside it, the next run sees UNKNOWN and asks.
        PaymentCapture.objects.filter(pk=capture.pk).update(status=PaymentCapture.Status.UNKNOWN)
    result = gateway.capture(
        transaction_id=capture.transaction_id,
        amount=capture.amount,
        currency=capture.currency,
        idempotency_key=capture.idempotency_key,
    )  # a TransientError leaves the record UNKNOWN, which the retry resolves
    if not result.successful:
        PaymentCapture.objects.filter(pk=capture.pk).update(
            status=PaymentCapture.Status.DECLINED, message=result.message, updated_at=timezone.now()
        )
        events.capture_declined(capture=capture, reason=result.message, job_order_id=job_order.pk)
        raise PermanentError(
            f"Payment capture declined: {result.message or 'no reason given by the gateway'}"
        )
    _capture_done(capture, result.capture_id, "")
    events.payment_captured(
        capture=capture,
        capture_id=result.capture_id,
        amount=captured_text(capture),
        job_order_id=job_order.pk,
    )
    return f"captured {captured_text(capture)}"


def captured_text(capture: PaymentCapture) -> str:
    return money_text(capture.amount or 0, capture.currency)


def _capture_done(capture: PaymentCapture, capture_id: str, message: str) -> None:
    PaymentCapture.objects.filter(pk=capture.pk).update(
        status=PaymentCapture.Status.CAPTURED,
        capture_id=capture_id,
        message=message,
        updated_at=timezone.now(),
    )
