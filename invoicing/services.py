"""The pipeline steps as services: validate, recalculate, capture, issue, render, email, write back.

Each step takes the order in the pipeline (`PipelineOrder`; jobs.JobOrder is one), reads the
persisted state first and skips work already done, so a redelivered task (worker killed, broker
redelivery, reconciler) is harmless. Network I/O never
happens while a row lock is held, except where a comment says why it is safe.

Steps raise `integrations.ports.PermanentError` (the order fails with its message) or
`TransientError` (the task retries with backoff); anything they return is the step's note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import DatabaseError, IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core.errors import PermanentError, TransientError
from core.money import round_money
from core.retrying import best_effort, persist
from integrations.ports import Backends, Order, Payment
from integrations.registry import backends_for
from invoicing import signals
from invoicing.documents import from_json, to_json
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, InvoiceLine, InvoiceTaxLine, PaymentCapture
from invoicing.recalculation import recalculate
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Payment methods that are paid outside the gateway: nothing to capture.
NO_CAPTURE_METHODS = {"invoice", "cash", "cash_on_delivery", "cod", "bank_transfer", "prepayment"}
ALREADY_PAID_STATUSES = {"CAPTURE_SUCCESS", "SUCCESS"}


def event_record(
    *,
    tenant_id: int,
    type: str,
    message: str = "",
    order_id: str = "",
    invoice: Invoice | None = None,
    job_order_id: int | None = None,
    actor: str = "system",
    data: dict[str, object] | None = None,
) -> InvoiceEvent | None:
    """Append to the audit trail.

    Inside a transaction the event commits or rolls back with the change it records. On its
    own it is bookkeeping, written best effort: a failure (a lost connection) is logged and
    does not fail, or retry, the work that has already been done (core.retrying.best_effort).
    """

    def write() -> InvoiceEvent:
        return InvoiceEvent.objects.create(
            tenant_id=tenant_id,
            type=type,
            message=message,
            order_id=order_id,
            invoice=invoice,
            job_order_id=job_order_id,
            actor=actor,
            data=data or {},
        )

    if transaction.get_connection().in_atomic_block:
        return write()
    return best_effort(write, what=f"event {type}")


class PipelineOrder(Protocol):
    """The order a step works on, as the pipeline hands it over (jobs.JobOrder is one).

    Declared here, by the steps, so that they need nothing of the pipeline's own model.
    """

    @property
    def pk(self) -> Any: ...  # names the order in the audit trail

    @property
    def order_id(self) -> str: ...

    @property
    def invoice_id(self) -> int | None: ...  # set by validation (invoice_claim's `take`)

    @property
    def tenant(self) -> Tenant: ...


def _backends(job_order: PipelineOrder) -> Backends:
    return backends_for(job_order.tenant)


def invoice_of(job_order: PipelineOrder) -> Invoice:
    if job_order.invoice_id is None:
        raise PermanentError("Internal state error: the order has no invoice draft; validation did not run.")
    return Invoice.objects.get(pk=job_order.invoice_id)


# --- 1. validation ------------------------------------------------------------------------------
def invoice_claim(*, job_order: PipelineOrder, take: Callable[[Invoice], None]) -> str:
    """Make sure the order has no invoice yet and take it for this job (as a DRAFT invoice).

    The draft is the claim: UNIQUE(tenant, order_id) means two jobs cannot both hold one.
    A draft left by a finished (failed) job is taken over, with whatever it got done (a
    captured payment stays captured and is not charged again). `take(invoice)` runs inside the
    claim's transaction with the invoice row locked: the pipeline checks there that no other
    unfinished job holds the draft (raising PermanentError if one does) and records its hold.
    """
    tenant = job_order.tenant
    order = _backends(job_order).orders.get_order(job_order.order_id)  # I/O before any lock
    for _attempt in range(2):
        try:
            with transaction.atomic():
                invoice = (
                    Invoice.objects.select_for_update().filter(tenant=tenant, order_id=order.order_id).first()
                )
                if invoice is not None and invoice.status == Invoice.Status.ISSUED:
                    raise PermanentError(
                        f"Order {order.order_id} is already invoiced: invoice {invoice.number}. No new invoice was created."
                    )
                if invoice is None and order.existing_invoice_number:
                    raise PermanentError(
                        f"Order {order.order_id} is already invoiced: invoice {order.existing_invoice_number} "
                        "(per the order). No new invoice was created."
                    )
                if invoice is None:
                    invoice = Invoice.objects.create(
                        tenant=tenant, order_id=order.order_id, currency=order.currency
                    )
                take(invoice)
            return "validated"
        except IntegrityError:
            # Another job created the draft between our read and insert: read again, it now exists.
            continue
    raise TransientError(f"Order {job_order.order_id} is being claimed concurrently; trying again.")


# --- 2. recalculation ------------------------------------------------------------------------------
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


def invoice_recalculate(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    if invoice.status == Invoice.Status.ISSUED:
        return "already issued"
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant, order_id=invoice.order_id).first()
    if capture is not None and capture.status in (
        PaymentCapture.Status.CAPTURED,
        PaymentCapture.Status.UNKNOWN,
    ):
        # Money moved (or may have): the figures it moved on stay as they are.
        return "kept the figures of the captured payment"
    backends = _backends(job_order)
    order = backends.orders.get_order(invoice.order_id)
    seller = backends.seller.get_seller(site_code=order.site_code)
    payment = capture_target(order)
    document = recalculate(order, seller, paid_by_capture=payment is not None)
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
            document=to_json(document),
            currency=document.currency,
            net_total=document.net_total,
            tax_total=document.tax_total,
            gross_total=document.gross_total,
            customer_name=document.customer_name,
            customer_email=document.customer_email,
            order_date=document.order_date,
            site_code=order.site_code,
            updated_at=timezone.now(),
        )
        _plan_capture(invoice, payment, document.gross_total, document.currency)
    return f"recalculated: {document.gross_total} {document.currency}"


def _plan_capture(invoice: Invoice, payment: Payment | None, amount: Decimal, currency: str) -> None:
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
    fields = {
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


# --- 3. payment capture -----------------------------------------------------------------------------
def payment_capture(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    capture = PaymentCapture.objects.get(tenant=invoice.tenant, order_id=invoice.order_id)
    if capture.status == PaymentCapture.Status.NOT_REQUIRED:
        return "no capture needed"
    if capture.status == PaymentCapture.Status.CAPTURED:
        return f"captured {_money(capture)}"
    if capture.status == PaymentCapture.Status.DECLINED:
        # declined before, for this very authorisation and amount (_plan_capture): not asked again
        raise PermanentError(
            f"Payment capture declined: {capture.message or 'no reason given by the gateway'} "
            "(the gateway's answer for this authorisation; a capture is tried again once the "
            "order has a new authorisation or amount)"
        )
    gateway = _backends(job_order).payments
    assert capture.amount is not None
    if capture.status == PaymentCapture.Status.UNKNOWN:
        # An earlier call timed out or its worker died: ask before charging again.
        status = gateway.capture_status(transaction_id=capture.transaction_id)
        if status.captured:
            _capture_done(capture, status.capture_id, "resolved: the gateway had captured it")
            return f"captured {_money(capture)}"
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
        event_record(
            tenant_id=invoice.tenant_id,
            type="capture_declined",
            order_id=invoice.order_id,
            job_order_id=job_order.pk,
            message=result.message,
        )
        raise PermanentError(
            f"Payment capture declined: {result.message or 'no reason given by the gateway'}"
        )
    _capture_done(capture, result.capture_id, "")
    event_record(
        tenant_id=invoice.tenant_id,
        type="payment_captured",
        order_id=invoice.order_id,
        job_order_id=job_order.pk,
        message=_money(capture),
        data={"capture_id": result.capture_id, "transaction_id": capture.transaction_id},
    )
    return f"captured {_money(capture)}"


def _money(capture: PaymentCapture) -> str:
    return f"{round_money(capture.amount or 0, capture.currency)} {capture.currency}"


def _capture_done(capture: PaymentCapture, capture_id: str, message: str) -> None:
    PaymentCapture.objects.filter(pk=capture.pk).update(
        status=PaymentCapture.Status.CAPTURED,
        capture_id=capture_id,
        message=message,
        updated_at=timezone.now(),
    )


# --- 4. invoice number ------------------------------------------------------------------------------
def invoice_issue(*, job_order: PipelineOrder) -> str:
    """Allocate the number and issue the invoice in one short transaction.

    The local series' row lock is held only for this transaction, which does no network I/O,
    so numbers stay gapless: a number exists exactly when an issued invoice carries it.
    """
    invoice = invoice_of(job_order)
    if invoice.status == Invoice.Status.ISSUED:
        return f"issued {invoice.number}"
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant, order_id=invoice.order_id).first()
    if capture is None or capture.status not in (
        PaymentCapture.Status.CAPTURED,
        PaymentCapture.Status.NOT_REQUIRED,
    ):
        raise PermanentError("Internal state error: the payment is not settled; no number was issued.")
    backends = _backends(job_order)
    tenant = invoice.tenant
    now = timezone.now()
    if not backends.numbers.transactional and not invoice.reserved_number:
        # A remote sequence: draw the number outside any lock and keep it on the invoice at once,
        # so a retry of this step issues the same number instead of drawing another.
        drawn = backends.numbers.next_number(site_code=invoice.site_code, at=now)
        Invoice.objects.filter(pk=invoice.pk, reserved_number="").update(reserved_number=drawn)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status == Invoice.Status.ISSUED:
            return f"issued {locked.number}"
        document = from_json(locked.document)
        issue_date = now.astimezone(ZoneInfo(document.seller.time_zone)).date()
        number = locked.reserved_number or backends.numbers.next_number(site_code=locked.site_code, at=now)
        document = document.with_number(number, issue_date)
        locked.number = number
        locked.status = Invoice.Status.ISSUED
        locked.issue_date = issue_date
        locked.issued_at = now
        locked.document = to_json(document)
        locked.save()
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=locked,
                position=index,
                kind=row.kind,
                description=row.description[:500],
                sku=row.sku[:100],
                quantity=row.quantity,
                unit_net=row.unit_net,
                tax_rate=row.tax_rate,
                net=row.net,
            )
            for index, row in enumerate(document.rows, start=1)
        )
        InvoiceTaxLine.objects.bulk_create(
            InvoiceTaxLine(invoice=locked, rate=t.rate, net=t.net, tax=t.tax, gross=t.gross)
            for t in document.tax_breakdown
        )
        event_record(
            tenant_id=tenant.pk,
            type="invoice_issued",
            order_id=locked.order_id,
            invoice=locked,
            job_order_id=job_order.pk,
            message=f"Invoice {number} issued",
        )
    return f"issued {number}"


# --- 5. PDF ---------------------------------------------------------------------------------------------
def invoice_render(*, job_order: PipelineOrder) -> str:
    from invoicing.pdf import render_invoice_pdf  # ReportLab is loaded only where PDFs are made

    invoice = invoice_of(job_order)
    if invoice.pdf:
        return "PDF exists"
    if invoice.status != Invoice.Status.ISSUED:
        raise PermanentError("Internal state error: the invoice is not issued; no PDF was made.")
    seller = _backends(job_order).seller.get_seller(site_code=invoice.site_code)
    document = from_json(invoice.document, logo=seller.logo)
    pdf = render_invoice_pdf(document)
    name = f"{invoice.tenant.code}/{invoice.number}.pdf"
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.pdf:  # a concurrent run stored it first
            return "PDF exists"
        locked.pdf.save(name, ContentFile(pdf), save=False)
        locked.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        locked.save(update_fields=["pdf", "pdf_sha256", "updated_at"])
    return f"PDF {len(pdf)} bytes"


# --- 6. email ---------------------------------------------------------------------------------------------
def invoice_email_message(invoice: Invoice, *, to: str = "") -> EmailMessage:
    document = from_json(invoice.document)
    context = {"invoice": invoice, "document": document, "seller": document.seller}
    subject = f"Invoice {invoice.number} for your order {invoice.order_id}"
    body = render_to_string("invoicing/email/invoice.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=document.seller.email or settings.DEFAULT_FROM_EMAIL,
        to=[to or invoice.customer_email],
    )
    with invoice.pdf.open("rb") as handle:
        message.attach(f"invoice-{invoice.number}.pdf", handle.read(), "application/pdf")
    return message


def invoice_email(*, job_order: PipelineOrder) -> str:
    """The pipeline's email step: the invoice's first delivery."""
    invoice = invoice_of(job_order)
    if not invoice.customer_email:
        return "no customer email address: not sent"
    delivery, _ = EmailDelivery.objects.get_or_create(
        invoice=invoice, kind="invoice", defaults={"recipient": invoice.customer_email}
    )
    return email_delivery_send(delivery=delivery, job_order_id=job_order.pk)


class EmailSentUnrecorded(TransientError):
    """The mail server accepted the mail, but the database would not record it (it is away).

    Carries what is needed to record it later without sending again
    (invoicing.tasks.email_sent_record_later).
    """

    def __init__(self, *, delivery_id: int, message_id: str, sent_at: str) -> None:
        super().__init__(f"Email of delivery {delivery_id} was sent, but recording it failed.")
        self.delivery_id = delivery_id
        self.message_id = message_id
        self.sent_at = sent_at


def email_delivery_record_sent(*, delivery_id: int, message_id: str, sent_at: dt.datetime) -> bool:
    """Record that the mail server accepted the delivery's mail.

    From SENDING, and also from FAILED: the reconciler or a redelivered step may have called the
    outcome unknown meanwhile, but acceptance is a fact and this record is what an operator
    trusts before resending. False when there was nothing to change (already SENT, or gone).
    """
    return bool(
        EmailDelivery.objects.filter(
            pk=delivery_id, status__in=[EmailDelivery.Status.SENDING, EmailDelivery.Status.FAILED]
        ).update(
            status=EmailDelivery.Status.SENT,
            sent_at=sent_at,
            error="",
            message_id=message_id[:300],
            updated_at=timezone.now(),
        )
    )


def email_delivery_sent(*, delivery_id: int, job_order_id: int | None = None, actor: str = "system") -> None:
    """After the SENT record: the audit event, and the signal that tells the layers above.

    Both are bookkeeping (best effort): the mail has left and its record is written.
    """
    delivery = EmailDelivery.objects.select_related("invoice").get(pk=delivery_id)
    invoice = delivery.invoice
    event_record(
        tenant_id=invoice.tenant_id,
        type="invoice_emailed",
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        actor=actor,
        message=f"{delivery.kind} to {delivery.recipient}",
    )
    # e.g. the orders of a resent invoice say it was emailed now (jobs.receivers)
    best_effort(
        lambda: signals.email_delivery_sent.send(sender=EmailDelivery, delivery=delivery),
        what="the email's followers",
    )


def email_delivery_send(
    *, delivery: EmailDelivery, job_order_id: int | None = None, actor: str = "system"
) -> str:
    """Send one delivery's mail with the stored PDF, at most once.

    The row is claimed (PENDING -> SENDING) before sending. A row found in SENDING means an
    earlier run stopped mid-send: whether the mail left is unknown, and sending again could
    email the customer twice, so it is marked failed for a person to check.

    Once the mail server has accepted the mail, the SENT record is written with retries and a
    fresh connection (core.retrying.persist), so a dropped connection does not leave the row
    SENDING for the next run to call "unknown". If the database stays away, EmailSentUnrecorded
    carries the fact to a task that records it later and never sends again.
    """
    invoice = delivery.invoice
    if delivery.status == EmailDelivery.Status.SENT:
        return f"emailed to {delivery.recipient}"
    if delivery.status == EmailDelivery.Status.FAILED:
        return f"email to {delivery.recipient} failed: {delivery.error}"
    claimed = EmailDelivery.objects.filter(pk=delivery.pk, status=EmailDelivery.Status.PENDING).update(
        status=EmailDelivery.Status.SENDING, attempts=delivery.attempts + 1, updated_at=timezone.now()
    )
    if not claimed:
        error = (
            "delivery outcome unknown (the worker stopped while sending); check the mail log before resending"
        )
        EmailDelivery.objects.filter(pk=delivery.pk, status=EmailDelivery.Status.SENDING).update(
            status=EmailDelivery.Status.FAILED, error=error, updated_at=timezone.now()
        )
        return f"email to {delivery.recipient} failed: {error}"
    try:
        message = invoice_email_message(invoice, to=delivery.recipient)
        message.send(fail_silently=False)
    except Exception as exc:  # the ESP or SMTP refused or was unreachable: nothing was sent
        error = f"{type(exc).__name__}: {exc}"[:2000]
        # Back to PENDING, so the retry sends (a row left SENDING would count as "unknown").
        persist(
            lambda: EmailDelivery.objects.filter(pk=delivery.pk).update(
                status=EmailDelivery.Status.PENDING, error=error, updated_at=timezone.now()
            ),
            what=f"releasing email delivery {delivery.pk}",
        )
        raise TransientError(
            f"Email to {delivery.recipient} could not be sent: {type(exc).__name__}: {exc}"
        ) from exc
    message_id = str(
        message.extra_headers.get("Message-ID", "") or getattr(message, "anymail_status", "") or ""
    )
    sent_at = timezone.now()
    try:
        # Any database error, not only a lost connection: the mail has left whatever the
        # database says, and writing the record again is harmless.
        persist(
            lambda: email_delivery_record_sent(
                delivery_id=delivery.pk, message_id=message_id, sent_at=sent_at
            ),
            what=f"recording email delivery {delivery.pk} as sent",
            retry_on=(DatabaseError,),
        )
    except DatabaseError as exc:
        raise EmailSentUnrecorded(
            delivery_id=delivery.pk, message_id=message_id, sent_at=sent_at.isoformat()
        ) from exc
    best_effort(
        lambda: email_delivery_sent(delivery_id=delivery.pk, job_order_id=job_order_id, actor=actor),
        what="the email's event",
    )
    return f"emailed to {delivery.recipient}"


def invoice_email_resend(*, invoice: Invoice, actor: str, recipient: str = "") -> EmailDelivery:
    """A new delivery row for an issued invoice (the stored PDF, never re-rendered), sent by a task."""
    from invoicing.tasks import send_email_delivery

    if invoice.status != Invoice.Status.ISSUED or not invoice.pdf:
        raise PermanentError(f"Invoice of order {invoice.order_id} is not issued: there is nothing to send.")
    to = recipient or invoice.customer_email
    if not to:
        raise PermanentError(f"Invoice {invoice.number} has no customer email address.")
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice.pk).first()  # numbers the resends in order
        count = EmailDelivery.objects.filter(invoice=invoice, kind__startswith="resend-").count()
        delivery = EmailDelivery.objects.create(invoice=invoice, kind=f"resend-{count + 1}", recipient=to)
        event_record(
            tenant_id=invoice.tenant_id,
            type="email_resend_requested",
            order_id=invoice.order_id,
            invoice=invoice,
            actor=actor,
            message=f"Resend of invoice {invoice.number} to {to} requested ({delivery.kind}).",
        )
        delivery_id = delivery.pk
        transaction.on_commit(lambda: send_email_delivery.delay(delivery_id), robust=True)
    return delivery


def email_give_up(*, job_order: PipelineOrder, reason: str) -> str:
    """Retries ran out: the invoice stands, the email is recorded as failed."""
    invoice = invoice_of(job_order)
    EmailDelivery.objects.filter(invoice=invoice, kind="invoice").exclude(
        status=EmailDelivery.Status.SENT
    ).update(status=EmailDelivery.Status.FAILED, error=reason[:2000], updated_at=timezone.now())
    return f"email to {invoice.customer_email} failed: {reason}"


# --- 7. write back -------------------------------------------------------------------------------------
def invoice_write_back(*, job_order: PipelineOrder, document_url: str) -> str:
    invoice = invoice_of(job_order)
    _backends(job_order).orders.mark_invoiced(
        invoice.order_id, invoice_number=invoice.number or "", document_url=document_url
    )
    return "written back to the order"


def invoice_summary(invoice: Invoice) -> str:
    """The SUCCESS message an API client reads."""
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant_id, order_id=invoice.order_id).first()
    gross = round_money(invoice.gross_total or 0, invoice.currency or "EUR")
    parts = [f"Invoice {invoice.number} created ({gross} {invoice.currency})."]
    if capture and capture.status == PaymentCapture.Status.CAPTURED:
        parts.append(f"Payment of {_money(capture)} captured.")
    # The latest delivery that reached the customer (a resend after a failure), else the first.
    sent = invoice.deliveries.filter(status=EmailDelivery.Status.SENT).order_by("-sent_at", "-pk").first()
    delivery = sent or invoice.deliveries.filter(kind="invoice").first()
    if delivery is None:
        parts.append("No email sent: the order has no customer email address.")
    elif delivery.status == EmailDelivery.Status.SENT:
        parts.append(f"Emailed to {delivery.recipient}.")
    else:
        parts.append(f"Email to {delivery.recipient} FAILED: {delivery.error}")
    return " ".join(parts)
