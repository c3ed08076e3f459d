"""The pipeline steps as services: validate, recalculate, capture, issue, render, email, write back.

Each step takes a JobOrder, reads the persisted state first and skips work already done, so a
redelivered task (worker killed, broker redelivery, reconciler) is harmless. Network I/O never
happens while a row lock is held, except where a comment says why it is safe.

Steps raise `integrations.ports.PermanentError` (the order fails with its message) or
`TransientError` (the task retries with backoff); anything they return is the step's note.
"""

from __future__ import annotations

import hashlib
import logging
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from integrations.ports import Backends, Order, Payment, PermanentError, TransientError
from integrations.registry import backends_for
from invoicing.documents import from_json, to_json
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, InvoiceLine, InvoiceTaxLine, PaymentCapture
from invoicing.money import round_money
from invoicing.recalculation import recalculate
from jobs.models import JobOrder

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
) -> InvoiceEvent:
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


def _backends(job_order: JobOrder) -> Backends:
    return backends_for(job_order.job.tenant)


def invoice_of(job_order: JobOrder) -> Invoice:
    if job_order.invoice_id is None:
        raise PermanentError("Internal state error: the order has no invoice draft; validation did not run.")
    return Invoice.objects.get(pk=job_order.invoice_id)


# --- 1. validation ------------------------------------------------------------------------------
def invoice_claim(*, job_order: JobOrder) -> str:
    """Make sure the order has no invoice yet and take it for this job (as a DRAFT invoice).

    The draft is the claim: UNIQUE(tenant, order_id) means two jobs cannot both hold one.
    A draft left by a finished (failed) job is taken over, with whatever it got done (a
    captured payment stays captured and is not charged again).
    """
    tenant = job_order.job.tenant
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
                if invoice is not None:
                    holder = (
                        JobOrder.objects.filter(invoice=invoice, status=JobOrder.Status.PENDING)
                        .exclude(pk=job_order.pk)
                        .select_related("job")
                        .first()
                    )
                    if holder is not None:
                        raise PermanentError(
                            f"Order {order.order_id} is being invoiced by job {holder.job_id}; "
                            "no second invoice was started."
                        )
                else:
                    invoice = Invoice.objects.create(
                        tenant=tenant, order_id=order.order_id, currency=order.currency
                    )
                JobOrder.objects.filter(pk=job_order.pk).update(invoice=invoice)
                job_order.invoice = invoice
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


def invoice_recalculate(*, job_order: JobOrder) -> str:
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
    if capture is None:
        PaymentCapture.objects.create(
            tenant=invoice.tenant,
            order_id=invoice.order_id,
            idempotency_key=_idempotency_key(invoice, 1),
            **fields,
        )
        return
    if capture.status == PaymentCapture.Status.DECLINED:
        # A new try after a definite decline (e.g. a retry job): a new key, so the gateway
        # does not just answer the old decline again.
        capture.attempt += 1
        capture.idempotency_key = _idempotency_key(invoice, capture.attempt)
    for name, value in fields.items():
        setattr(capture, name, value)
    capture.save()


def _idempotency_key(invoice: Invoice, attempt: int) -> str:
    return f"invoice-capture:{invoice.tenant.code}:{invoice.order_id}:{attempt}"


# --- 3. payment capture -----------------------------------------------------------------------------
def payment_capture(*, job_order: JobOrder) -> str:
    invoice = invoice_of(job_order)
    capture = PaymentCapture.objects.get(tenant=invoice.tenant, order_id=invoice.order_id)
    if capture.status == PaymentCapture.Status.NOT_REQUIRED:
        return "no capture needed"
    if capture.status == PaymentCapture.Status.CAPTURED:
        return f"captured {_money(capture)}"
    if capture.status == PaymentCapture.Status.DECLINED:
        raise PermanentError(f"Payment capture declined: {capture.message}")
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
def invoice_issue(*, job_order: JobOrder) -> str:
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
def invoice_render(*, job_order: JobOrder) -> str:
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


def invoice_email(*, job_order: JobOrder) -> str:
    """The pipeline's email step: the invoice's first delivery."""
    invoice = invoice_of(job_order)
    if not invoice.customer_email:
        return "no customer email address: not sent"
    delivery, _ = EmailDelivery.objects.get_or_create(
        invoice=invoice, kind="invoice", defaults={"recipient": invoice.customer_email}
    )
    return email_delivery_send(delivery=delivery, job_order_id=job_order.pk)


def email_delivery_send(
    *, delivery: EmailDelivery, job_order_id: int | None = None, actor: str = "system"
) -> str:
    """Send one delivery's mail with the stored PDF, at most once.

    The row is claimed (PENDING -> SENDING) before sending. A row found in SENDING means an
    earlier run stopped mid-send: whether the mail left is unknown, and sending again could
    email the customer twice, so it is marked failed for a person to check.
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
        EmailDelivery.objects.filter(pk=delivery.pk).update(
            status=EmailDelivery.Status.PENDING,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            updated_at=timezone.now(),
        )
        raise TransientError(
            f"Email to {delivery.recipient} could not be sent: {type(exc).__name__}: {exc}"
        ) from exc
    message_id = str(
        message.extra_headers.get("Message-ID", "") or getattr(message, "anymail_status", "") or ""
    )
    EmailDelivery.objects.filter(pk=delivery.pk).update(
        status=EmailDelivery.Status.SENT, sent_at=timezone.now(), error="", message_id=message_id[:300]
    )
    event_record(
        tenant_id=invoice.tenant_id,
        type="invoice_emailed",
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        actor=actor,
        message=f"{delivery.kind} to {delivery.recipient}",
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


def email_give_up(*, job_order: JobOrder, reason: str) -> str:
    """Retries ran out: the invoice stands, the email is recorded as failed."""
    invoice = invoice_of(job_order)
    EmailDelivery.objects.filter(invoice=invoice, kind="invoice").exclude(
        status=EmailDelivery.Status.SENT
    ).update(status=EmailDelivery.Status.FAILED, error=reason[:2000], updated_at=timezone.now())
    return f"email to {invoice.customer_email} failed: {reason}"


# --- 7. write back -------------------------------------------------------------------------------------
def invoice_write_back(*, job_order: JobOrder, document_url: str) -> str:
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
    delivery = invoice.deliveries.filter(kind="invoice").first()
    if delivery is None:
        parts.append("No email sent: the order has no customer email address.")
    elif delivery.status == EmailDelivery.Status.SENT:
        parts.append(f"Emailed to {delivery.recipient}.")
    else:
        parts.append(f"Email to {delivery.recipient} FAILED: {delivery.error}")
    return " ".join(parts)
