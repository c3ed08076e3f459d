"""Requesting a credit note (the API's POST …/credit-notes and the console's actions) and what an
API client or an operator reads about it.

A request is one transaction: the credit note with its amounts reserved on the invoice
(invoicing.credit_notes), and its pipeline, a job of type CREDIT with one row, sent to the workers
once it commits. The steps then run as an invoice's do (jobs.pipeline.CREDIT_PIPELINE), with the
same retries, re-dispatch of a dead worker's steps and re-run after issue.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing.credit_notes import (
    CreditAmount,
    CreditLine,
    CreditRefused,
    credit_note_create,
    credit_note_find,
    credit_note_same_request,
    credit_request_data,
)
from invoicing.models import CreditNote, Invoice
from jobs.models import InvoiceJob, JobOrder
from tenants.models import Tenant

__all__ = [
    "CreditAmount",
    "CreditLine",
    "CreditNoteState",
    "CreditRefused",
    "credit_note_request",
    "credit_note_state",
]


def credit_note_request(
    *,
    tenant: Tenant,
    invoice_number: str,
    reason: str,
    lines: Sequence[CreditLine] | None = None,
    amounts: Sequence[CreditAmount] | None = None,
    refund: bool = True,
    idempotency_key: str = "",
    actor: str,
) -> tuple[CreditNote, bool]:
    """Create the credit note and start its pipeline: (the credit note, whether it was created now).

    A repeated Idempotency-Key answers the credit note its first request made (False), also when
    both requests arrive at once (the UNIQUE key decides); a key reused for another request is
    CreditRefused(422). Raises CreditRefused (404, 400, 409) for what cannot be credited.
    """
    asked = credit_request_data(lines=lines, amounts=amounts, refund=refund)
    for _attempt in range(2):
        existing = credit_note_find(tenant=tenant, idempotency_key=idempotency_key)
        if existing is not None:
            if existing.invoice.number != invoice_number or not credit_note_same_request(
                existing, reason=reason, asked=asked
            ):
                raise CreditRefused(
                    f"The Idempotency-Key {idempotency_key!r} was used for another request "
                    f"(credit note {existing.pk}); use a new key for a new credit note.",
                    http_status=422,
                )
            return existing, False
        invoice = Invoice.objects.filter(tenant=tenant, number=invoice_number).first()
        if invoice is None or invoice.status != Invoice.Status.ISSUED:
            raise CreditRefused(f"Invoice {invoice_number} not found.", http_status=404)
        try:
            with transaction.atomic():
                credit_note = credit_note_create(
                    invoice=invoice,
                    reason=reason,
                    lines=lines,
                    amounts=amounts,
                    refund=refund,
                    idempotency_key=idempotency_key,
                    actor=actor,
                )
                _pipeline_start(credit_note, actor=actor)
            return credit_note, True
        except CreditRefused:
            if idempotency_key and credit_note_find(tenant=tenant, idempotency_key=idempotency_key):
                # the same key's first request committed while this one waited for the invoice's
                # lock, and took the amount: the loop's top answers its credit note (or 422)
                continue
            raise
        except IntegrityError as exc:
            if idempotency_key and credit_note_find(tenant=tenant, idempotency_key=idempotency_key):
                continue  # the same key's concurrent request won: answer its credit note
            # the over-credit CHECK: a concurrent credit note took what was left
            raise CreditRefused(
                f"Invoice {invoice_number}: a concurrent credit note took what was left to credit; "
                "nothing was created."
            ) from exc
    raise CreditRefused("The request could not be completed; try again.", http_status=409)


def _pipeline_start(credit_note: CreditNote, *, actor: str) -> None:
    from jobs.tasks import start_job

    job = InvoiceJob.objects.create(
        tenant_id=credit_note.tenant_id,
        job_type=InvoiceJob.Type.CREDIT,
        total_count=1,
        requested_by=actor[:200],
    )
    JobOrder.objects.create(
        job=job,
        order_id=credit_note.invoice.order_id,
        credit_note=credit_note,
        step_started_at=timezone.now(),
    )
    job_id = str(job.pk)
    # robust: a broker that is away leaves the row to the reconciler (INVOICE_STUCK_AFTER)
    transaction.on_commit(lambda: start_job.delay(job_id), robust=True)


@dataclass(frozen=True)
class CreditNoteState:
    status: str  # PENDING, SUCCESS, FAILURE (the pipeline's, as a job order's)
    message: str
    step: str
    job_id: uuid.UUID | None


def credit_note_state(credit_note: CreditNote) -> CreditNoteState:
    row = JobOrder.objects.filter(credit_note=credit_note).order_by("-pk").first()
    if row is None:  # cannot happen through credit_note_request; say what the record says
        failed = credit_note.status == CreditNote.Status.FAILED
        return CreditNoteState("FAILURE" if failed else "PENDING", credit_note.message, "", None)
    return CreditNoteState(row.status, row.message, row.step, row.job_id)
