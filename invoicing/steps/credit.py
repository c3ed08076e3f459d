"""The steps of a credit note: validation, refund, issue (number), PDF, email, write-back.

Each is safe to run twice, as the invoice's steps are: the refund is recorded before the gateway
is called and an UNKNOWN outcome is resolved by asking the gateway; the number is drawn in the
transaction that issues the credit note; the PDF is stored once; the email is one delivery row.
"""

from __future__ import annotations

from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import PermanentError
from core.money import money_text
from integrations.ports import CREDIT_NOTE_SERIES, CreditNoteRef
from invoicing import events
from invoicing.deliveries import email_deliveries_fail, email_delivery_send, email_outcome
from invoicing.documents import from_json, to_json
from invoicing.models import CreditNote, EmailDelivery, Invoice, PaymentCapture, Refund
from invoicing.steps.base import PipelineOrder, backends_of
from invoicing.steps.einvoice import (
    FORMAT_NAMES,
    EInvoiceRejected,
    einvoice_build,
    einvoice_formats,
    einvoice_validate,
    einvoice_warning,
    rejection_text,
    reports_json,
)
from invoicing.steps.render import pdf_render_and_store


class CreditPipelineOrder(PipelineOrder, Protocol):
    @property
    def credit_note_id(self) -> Any: ...


def credit_note_of(job_order: CreditPipelineOrder) -> CreditNote:
    if job_order.credit_note_id is None:
        raise PermanentError("Internal state error: the pipeline row has no credit note.")
    return CreditNote.objects.select_related("invoice", "tenant").get(pk=job_order.credit_note_id)


def delivery_kind(credit_note: CreditNote) -> str:
    return f"credit-note:{credit_note.pk}"


# --- 1. validation -----------------------------------------------------------------------------------
def credit_note_validate(*, job_order: CreditPipelineOrder) -> str:
    """The invoice is issued and the credit note an e-invoice the official rules accept.

    Before anything is refunded or numbered: a credit note the rules reject fails here, its
    reservation given back (jobs.services), and the console shows the findings.
    """
    credit_note = credit_note_of(job_order)
    if credit_note.status == CreditNote.Status.ISSUED:
        return f"credit note {credit_note.number} issued"
    if credit_note.status == CreditNote.Status.FAILED:
        raise PermanentError(f"The credit note failed before: {credit_note.message}")
    if credit_note.invoice.status != Invoice.Status.ISSUED:
        raise PermanentError("The invoice to credit is not issued.")
    document = from_json(credit_note.document)
    if not credit_note.tenant.einvoice_validation:
        for fmt in einvoice_formats(document):
            einvoice_build(document, fmt)
        return "validated"
    try:
        _xml, reports = einvoice_validate(document)
    except EInvoiceRejected as exc:
        raise PermanentError(f"{exc.message}. Nothing was refunded and no credit note was issued.") from exc
    rejected = rejection_text(reports)
    CreditNote.objects.filter(pk=credit_note.pk, status=CreditNote.Status.DRAFT).update(
        einvoice_report=reports_json(reports), updated_at=timezone.now()
    )
    if rejected:
        raise PermanentError(
            f"The credit note cannot become a valid e-invoice; the official rules reject it: {rejected}. "
            "Nothing was refunded and no credit note was issued."
        )
    return "validated: " + ", ".join(FORMAT_NAMES.get(fmt, fmt) for fmt in reports)


# --- 2. refund ---------------------------------------------------------------------------------------
def refunded_text(refund: Refund) -> str:
    return money_text(refund.amount, refund.currency)


def credit_note_refund(*, job_order: CreditPipelineOrder) -> str:
    """Pay the credited amount back through the gateway, at most once.

    Recorded UNKNOWN before the call: a timeout, or a worker that dies inside the call, leaves it
    UNKNOWN, and the next run asks the gateway for its refunds before it refunds again.
    """
    credit_note = credit_note_of(job_order)
    refund = Refund.objects.get(credit_note=credit_note)
    if refund.status == Refund.Status.NOT_REQUIRED:
        return "no refund: paid back or offset by the merchant"
    if refund.status == Refund.Status.REFUNDED:
        return f"refunded {refunded_text(refund)}"
    if refund.status == Refund.Status.DECLINED:
        raise PermanentError(f"Refund declined: {refund.message or 'no reason given by the gateway'}")
    gateway = backends_of(job_order).payments
    if refund.status == Refund.Status.UNKNOWN:
        found = _refund_at_gateway(refund, gateway.refunds(transaction_id=refund.transaction_id))
        if found is not None:
            _refund_done(refund, found, "resolved: the gateway had refunded it")
            return f"refunded {refunded_text(refund)}"
    else:
        Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.UNKNOWN, updated_at=timezone.now())
    result = gateway.refund(
        transaction_id=refund.transaction_id,
        amount=refund.amount,
        currency=refund.currency,
        capture_id=refund.capture_id,
        idempotency_key=refund.idempotency_key,
    )  # a TransientError leaves it UNKNOWN, which the retry resolves
    if not result.successful:
        Refund.objects.filter(pk=refund.pk).update(
            status=Refund.Status.DECLINED, message=result.message, updated_at=timezone.now()
        )
        events.refund_declined(refund=refund, reason=result.message)
        raise PermanentError(f"Refund declined: {result.message or 'no reason given by the gateway'}")
    _refund_done(refund, result.refund_id, "")
    events.payment_refunded(refund=refund, amount=refunded_text(refund))
    return f"refunded {refunded_text(refund)}"


def _refund_at_gateway(refund: Refund, entries: Any) -> str | None:
    """The gateway's refund of this amount that none of our other refunds accounts for.

    Counted, not matched by id: the Emporix gateway answers a refund without its id. If the
    gateway lists more refunds of this amount on the transaction than we have recorded, one of
    them is this one.
    """
    same_amount = [entry for entry in entries if entry.amount is None or entry.amount == refund.amount]
    recorded = (
        Refund.objects.filter(
            credit_note__tenant_id=refund.credit_note.tenant_id,
            transaction_id=refund.transaction_id,
            status=Refund.Status.REFUNDED,
            amount=refund.amount,
        )
        .exclude(pk=refund.pk)
        .count()
    )
    if len(same_amount) > recorded:
        return str(same_amount[recorded].refund_id)
    return None


def _refund_done(refund: Refund, refund_id: str, message: str) -> None:
    with transaction.atomic():
        moved = (
            Refund.objects.filter(pk=refund.pk)
            .exclude(status=Refund.Status.REFUNDED)
            .update(
                status=Refund.Status.REFUNDED, refund_id=refund_id, message=message, updated_at=timezone.now()
            )
        )
        if moved:
            invoice = refund.credit_note.invoice
            PaymentCapture.objects.filter(tenant_id=invoice.tenant_id, order_id=invoice.order_id).update(
                refunded_amount=F("refunded_amount") + refund.amount, updated_at=timezone.now()
            )


# --- 3. issue ----------------------------------------------------------------------------------------
def credit_note_issue(*, job_order: CreditPipelineOrder) -> str:
    """The number from the tenant's credit-note series and the issue, in one short transaction
    (as invoice_issue: a transactional series is gapless; a remote number is reserved first)."""
    credit_note = credit_note_of(job_order)
    if credit_note.status == CreditNote.Status.ISSUED:
        return f"issued {credit_note.number}"
    refund = Refund.objects.get(credit_note=credit_note)
    if refund.status not in (Refund.Status.REFUNDED, Refund.Status.NOT_REQUIRED):
        raise PermanentError("Internal state error: the refund is not settled; no number was issued.")
    backends = backends_of(job_order)
    site_code = credit_note.invoice.site_code
    now = timezone.now()
    if not backends.numbers.transactional and not credit_note.reserved_number:
        drawn = backends.numbers.next_number(site_code=site_code, at=now, series=CREDIT_NOTE_SERIES)
        CreditNote.objects.filter(pk=credit_note.pk, reserved_number="").update(reserved_number=drawn)
    with transaction.atomic():
        locked = CreditNote.objects.select_for_update().select_related("invoice").get(pk=credit_note.pk)
        if locked.status == CreditNote.Status.ISSUED:
            return f"issued {locked.number}"
        if locked.status != CreditNote.Status.DRAFT:
            raise PermanentError(f"The credit note failed before: {locked.message}")
        document = from_json(locked.document)
        issue_date = now.astimezone(ZoneInfo(document.seller.time_zone)).date()
        number = locked.reserved_number or backends.numbers.next_number(
            site_code=site_code, at=now, series=CREDIT_NOTE_SERIES
        )
        locked.number = number
        locked.status = CreditNote.Status.ISSUED
        locked.issue_date = issue_date
        locked.issued_at = now
        locked.document = to_json(document.with_number(number, issue_date))
        locked.save()
        events.credit_note_issued(credit_note=locked)
        _cancel_if_credited_in_full(locked)
    return f"issued {number}"


def _cancel_if_credited_in_full(credit_note: CreditNote) -> None:
    """Issued credit notes that cover the invoice's whole gross cancel it: its order may be
    invoiced again (the UNIQUE open invoice per order then leaves it out)."""
    invoice = Invoice.objects.select_for_update().get(pk=credit_note.invoice_id)
    issued = sum(
        invoice.credit_notes.filter(status=CreditNote.Status.ISSUED).values_list("gross_total", flat=True),
        start=0,
    )
    if invoice.cancelled_at is None and invoice.gross_total is not None and issued >= invoice.gross_total:
        Invoice.objects.filter(pk=invoice.pk).update(cancelled_at=timezone.now(), updated_at=timezone.now())
        events.invoice_cancelled(credit_note=credit_note)


# --- 4. PDF ------------------------------------------------------------------------------------------
def credit_note_render(*, job_order: CreditPipelineOrder) -> str:
    credit_note = credit_note_of(job_order)
    if credit_note.pdf:
        return "PDF exists"
    if credit_note.status != CreditNote.Status.ISSUED:
        raise PermanentError("Internal state error: the credit note is not issued; no PDF was made.")
    return pdf_render_and_store(credit_note, job_order=job_order)


# --- 5. email ----------------------------------------------------------------------------------------
def credit_note_delivery(credit_note: CreditNote) -> EmailDelivery | None:
    return EmailDelivery.objects.filter(credit_note=credit_note, kind=delivery_kind(credit_note)).first()


def credit_note_email(*, job_order: CreditPipelineOrder) -> str:
    credit_note = credit_note_of(job_order)
    recipient = credit_note.invoice.customer_email
    if not recipient:
        return "no customer email address: not sent"
    delivery, _ = EmailDelivery.objects.get_or_create(
        invoice=credit_note.invoice,
        kind=delivery_kind(credit_note),
        defaults={"recipient": recipient, "credit_note": credit_note},
    )
    return email_delivery_send(delivery=delivery, job_order_id=job_order.pk)


def credit_note_email_give_up(*, job_order: CreditPipelineOrder, reason: str) -> str:
    credit_note = credit_note_of(job_order)
    email_deliveries_fail(
        EmailDelivery.objects.filter(credit_note=credit_note, kind=delivery_kind(credit_note)), error=reason
    )
    return f"email failed: {reason}"


# --- 6. write-back ------------------------------------------------------------------------------------
def credit_note_write_back(*, job_order: CreditPipelineOrder, document_url: Any) -> str:
    """The order learns its invoice's credit notes: every issued one, each time (idempotent)."""
    credit_note = credit_note_of(job_order)
    invoice = credit_note.invoice
    refs = [
        CreditNoteRef(
            number=issued.number or "",
            document_url=document_url(issued),
            gross_amount=issued.gross_total,
            currency=issued.currency,
            issue_date=issued.issue_date or timezone.now().date(),
            cancels_invoice=issued.kind == CreditNote.Kind.FULL,
        )
        for issued in invoice.credit_notes.filter(status=CreditNote.Status.ISSUED).order_by("issued_at", "pk")
    ]
    backends_of(job_order).orders.mark_credited(
        invoice.order_id, invoice_number=invoice.number or "", credit_notes=refs
    )
    return "written back to the order"


# --- what an API client reads ------------------------------------------------------------------------
def credit_note_summary(credit_note: CreditNote) -> str:
    """The SUCCESS message of a credit note."""
    credit_note.refresh_from_db()
    parts = [
        f"Credit note {credit_note.number} issued for invoice {credit_note.invoice.number} "
        f"({money_text(credit_note.gross_total, credit_note.currency)})."
    ]
    refund = Refund.objects.filter(credit_note=credit_note).first()
    if refund is not None and refund.status == Refund.Status.REFUNDED:
        parts.append(f"{refunded_text(refund)} refunded.")
    elif refund is not None and refund.status == Refund.Status.NOT_REQUIRED:
        parts.append("Nothing refunded through the gateway: to be paid back or offset.")
    parts.append(email_outcome(credit_note_delivery(credit_note)))
    if credit_note.invoice.cancelled_at is not None:
        parts.append(f"Invoice {credit_note.invoice.number} is cancelled; the order can be invoiced again.")
    parts.append(einvoice_warning(credit_note.einvoice_report, credit_note=True))
    return " ".join(part for part in parts if part)
