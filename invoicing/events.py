"""The audit trail: what happened to an order's invoice, and who did it (InvoiceEvent).

Every kind of event is an EventType and has one creator below, which says what the event
records; callers never write a type or a message of their own. The ids of jobs are plain
values here (this layer does not know jobs).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import models, transaction

from core.retrying import best_effort
from invoicing.models import CreditNote, EmailDelivery, Invoice, InvoiceEvent, PaymentCapture, Refund
from tenants.models import Tenant


class EventType(models.TextChoices):
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    PAYMENT_CAPTURED = "payment_captured", "Payment captured"
    CAPTURE_DECLINED = "capture_declined", "Payment capture declined"
    INVOICE_EMAILED = "invoice_emailed", "Invoice emailed"
    EMAIL_RESEND_REQUESTED = "email_resend_requested", "Email resend requested"
    WRITE_BACK_FAILED = "write_back_failed", "Write-back onto the order failed"
    ORDER_FAILED = "order_failed", "Order failed"
    JOB_RETRIED = "job_retried", "Failed orders retried"
    STEPS_RERUN = "steps_rerun", "Failed steps re-run"
    ATTENTION_RETRIED = "attention_retried", "Orders needing attention retried"
    AUTOMATIC_RUN_REQUESTED = "automatic_run_requested", "AUTOMATIC run requested"
    AUTOMATIC_RUN_SKIPPED = "automatic_run_skipped", "AUTOMATIC run skipped"
    AUTOMATIC_RUN_FAILED = "automatic_run_failed", "AUTOMATIC run not started"
    AUTOMATIC_RESOLUTION_FAILED = "automatic_resolution_failed", "Finding AUTOMATIC orders stopped"
    API_CLIENT_REVOKED = "api_client_revoked", "API client revoked"
    CREDIT_NOTE_REQUESTED = "credit_note_requested", "Credit note requested"
    CREDIT_NOTE_ISSUED = "credit_note_issued", "Credit note issued"
    CREDIT_NOTE_FAILED = "credit_note_failed", "Credit note failed"
    PAYMENT_REFUNDED = "payment_refunded", "Payment refunded"
    REFUND_DECLINED = "refund_declined", "Refund declined"
    INVOICE_CANCELLED = "invoice_cancelled", "Invoice cancelled"


def _record(
    *,
    tenant_id: int,
    type: EventType,
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


def _first_ids(ids: Sequence[str]) -> str:
    # a message names at most 20 orders; the data says how many there were
    return ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")


# --- the invoice and its money -----------------------------------------------------------------
def invoice_issued(*, invoice: Invoice, job_order_id: int | None) -> InvoiceEvent | None:
    return _record(
        tenant_id=invoice.tenant_id,
        type=EventType.INVOICE_ISSUED,
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        message=f"Invoice {invoice.number} issued",
    )


def payment_captured(
    *, capture: PaymentCapture, capture_id: str, amount: str, job_order_id: int | None
) -> InvoiceEvent | None:
    return _record(
        tenant_id=capture.tenant_id,
        type=EventType.PAYMENT_CAPTURED,
        order_id=capture.order_id,
        job_order_id=job_order_id,
        message=amount,
        data={"capture_id": capture_id, "transaction_id": capture.transaction_id},
    )


def capture_declined(
    *, capture: PaymentCapture, reason: str, job_order_id: int | None
) -> InvoiceEvent | None:
    return _record(
        tenant_id=capture.tenant_id,
        type=EventType.CAPTURE_DECLINED,
        order_id=capture.order_id,
        job_order_id=job_order_id,
        message=reason,
    )


def write_back_failed(*, invoice: Invoice, job_order_id: int | None, reason: str) -> InvoiceEvent | None:
    return _record(
        tenant_id=invoice.tenant_id,
        type=EventType.WRITE_BACK_FAILED,
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        message=reason,
    )


# --- email -------------------------------------------------------------------------------------
def invoice_emailed(*, delivery: EmailDelivery, job_order_id: int | None, actor: str) -> InvoiceEvent | None:
    invoice = delivery.invoice
    return _record(
        tenant_id=invoice.tenant_id,
        type=EventType.INVOICE_EMAILED,
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        actor=actor,
        message=(
            f"credit note {delivery.credit_note.number} to {delivery.recipient}"
            if delivery.credit_note is not None
            else f"{delivery.kind} to {delivery.recipient}"
        ),
    )


def email_resend_requested(*, delivery: EmailDelivery, actor: str) -> InvoiceEvent | None:
    invoice = delivery.invoice
    return _record(
        tenant_id=invoice.tenant_id,
        type=EventType.EMAIL_RESEND_REQUESTED,
        order_id=invoice.order_id,
        invoice=invoice,
        actor=actor,
        message=f"Resend of invoice {invoice.number} to {delivery.recipient} requested ({delivery.kind}).",
    )


# --- orders and jobs ---------------------------------------------------------------------------
def order_failed(
    *, tenant_id: int, order_id: str, job_order_id: int, step: str, message: str
) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant_id,
        type=EventType.ORDER_FAILED,
        order_id=order_id,
        job_order_id=job_order_id,
        message=message[:4000],
        data={"step": step},
    )


def job_retried(
    *, tenant_id: int, from_job: uuid.UUID, new_job: uuid.UUID, order_ids: Sequence[str], actor: str
) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant_id,
        type=EventType.JOB_RETRIED,
        actor=actor,
        message=f"Failed orders of job {from_job} retried as job {new_job}: {_first_ids(order_ids)}",
        data={"from_job": str(from_job), "new_job": str(new_job), "orders": len(order_ids)},
    )


def steps_rerun(
    *, invoice: Invoice, job_id: uuid.UUID, job_order_id: int, step: str, step_label: str, actor: str
) -> InvoiceEvent | None:
    return _record(
        tenant_id=invoice.tenant_id,
        type=EventType.STEPS_RERUN,
        order_id=invoice.order_id,
        invoice=invoice,
        job_order_id=job_order_id,
        actor=actor,
        message=f"Failed steps of invoice {invoice.number} re-run from {step_label} (job {job_id}).",
        data={"job": str(job_id), "step": step},
    )


def attention_retried(
    *, tenant_id: int, new_job: uuid.UUID, order_ids: Sequence[str], actor: str
) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant_id,
        type=EventType.ATTENTION_RETRIED,
        actor=actor,
        message=f"Orders needing attention retried as job {new_job}: {_first_ids(order_ids)}",
        data={"new_job": str(new_job), "orders": list(order_ids[:100])},
    )


# --- AUTOMATIC runs ----------------------------------------------------------------------------
def automatic_run_requested(*, tenant: Tenant, actor: str) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant.pk, type=EventType.AUTOMATIC_RUN_REQUESTED, actor=actor, message="Run now requested"
    )


def automatic_run_skipped(*, tenant: Tenant, running_job: uuid.UUID, actor: str) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant.pk,
        type=EventType.AUTOMATIC_RUN_SKIPPED,
        actor=actor,
        message=f"Skipped: the previous AUTOMATIC job {running_job} is still in progress.",
        data={"running_job": str(running_job)},
    )


def automatic_run_failed(*, tenant: Tenant, reason: str, actor: str) -> InvoiceEvent | None:
    return _record(tenant_id=tenant.pk, type=EventType.AUTOMATIC_RUN_FAILED, actor=actor, message=reason)


def automatic_resolution_failed(
    *, tenant_id: int, job_id: uuid.UUID, reason: str, cursor: object
) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant_id,
        type=EventType.AUTOMATIC_RESOLUTION_FAILED,
        message=f"Finding the orders of AUTOMATIC job {job_id} stopped: {reason}",
        data={"job": str(job_id), "cursor": cursor},
    )


# --- access ------------------------------------------------------------------------------------
def api_client_revoked(*, tenant_id: int, client_id: str, actor: str) -> InvoiceEvent | None:
    return _record(
        tenant_id=tenant_id,
        type=EventType.API_CLIENT_REVOKED,
        actor=actor,
        message=f"API client {client_id} revoked",
    )


# --- credit notes --------------------------------------------------------------------------------
def _credit_note_event(
    credit_note: CreditNote, type: EventType, message: str, *, actor: str = "system", **data: object
) -> InvoiceEvent | None:
    return _record(
        tenant_id=credit_note.tenant_id,
        type=type,
        order_id=credit_note.invoice.order_id,
        invoice=credit_note.invoice,
        actor=actor,
        message=message,
        data={"credit_note": str(credit_note.pk), **data},
    )


def credit_note_requested(*, credit_note: CreditNote, actor: str) -> InvoiceEvent | None:
    what = {"FULL": "Cancellation", "LINES": "Credit of lines", "AMOUNTS": "Credit of amounts"}[
        credit_note.kind
    ]
    return _credit_note_event(
        credit_note,
        EventType.CREDIT_NOTE_REQUESTED,
        f"{what} of invoice {credit_note.invoice.number} requested: {credit_note.gross_total} "
        f"{credit_note.currency}. Reason: {credit_note.reason}",
        actor=actor,
        kind=credit_note.kind,
        gross=str(credit_note.gross_total),
    )


def credit_note_issued(*, credit_note: CreditNote) -> InvoiceEvent | None:
    return _credit_note_event(
        credit_note,
        EventType.CREDIT_NOTE_ISSUED,
        f"Credit note {credit_note.number} issued for invoice {credit_note.invoice.number}",
        number=credit_note.number,
    )


def credit_note_failed(*, credit_note: CreditNote, reason: str) -> InvoiceEvent | None:
    return _credit_note_event(credit_note, EventType.CREDIT_NOTE_FAILED, reason)


def invoice_cancelled(*, credit_note: CreditNote) -> InvoiceEvent | None:
    return _credit_note_event(
        credit_note,
        EventType.INVOICE_CANCELLED,
        f"Invoice {credit_note.invoice.number} is credited in full (credit note {credit_note.number}); "
        "the order can be invoiced again",
    )


def payment_refunded(*, refund: Refund, amount: str) -> InvoiceEvent | None:
    return _credit_note_event(
        refund.credit_note,
        EventType.PAYMENT_REFUNDED,
        amount,
        refund_id=refund.refund_id,
        transaction_id=refund.transaction_id,
    )


def refund_declined(*, refund: Refund, reason: str) -> InvoiceEvent | None:
    return _credit_note_event(
        refund.credit_note, EventType.REFUND_DECLINED, reason, transaction_id=refund.transaction_id
    )
