"""The pipeline of an order, in one table: the steps in order, the service each runs, what
happens when a step gives up, and the one way a step is sent to a worker (`step_enqueue`).

A new step is one entry in PIPELINE plus its service (in invoicing.steps); its stored name is a
JobOrder.Step value. Each step runs as its own Celery task (jobs.tasks makes one per entry), so
a slow capture does not hold a PDF render and each step is retried on its own. jobs.services
runs the steps (`step_run`) and fails them (`step_give_up`) by this table.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import PermanentError
from invoicing.downloads import credit_note_document_url, invoice_document_url
from invoicing.models import CreditNote, Invoice
from invoicing.steps import capture, claim, credit, email, issue, recalculate, render, write_back
from invoicing.steps.base import invoice_of
from invoicing.summary import invoice_summary
from jobs.models import JobOrder

Step = JobOrder.Step


class GiveUp(enum.Enum):
    """What a step's failure (retries ran out, a permanent fault, a time limit) does to its order."""

    # The order fails. Before numbering nothing stands: a new job can try the order again.
    FAIL = "fail"
    # After numbering the invoice stands and keeps its number whatever happens (it is never
    # deleted or renumbered). The order fails with a message naming the number, the step and
    # why; an administrator re-runs it from that step (jobs.services.job_order_resume_after_issue).
    FAIL_AFTER_ISSUE = "fail_after_issue"
    # The invoice stands and the order carries on to the next step: its failure is recorded
    # (`PipelineStep.on_give_up`) and named in the order's final message.
    CARRY_ON = "carry_on"


@dataclass(frozen=True)
class PipelineStep:
    name: str  # a JobOrder.Step value: what the row stores, and the task's name
    run: Callable[[JobOrder], str]  # the service; what it returns is the step's note
    give_up: GiveUp = GiveUp.FAIL
    # GiveUp.FAIL_AFTER_ISSUE: what did not happen, for the order's message
    failed_text: str = ""
    # GiveUp.CARRY_ON: records the failure (the order and the reason) before the order moves on
    on_give_up: Callable[[JobOrder, str], object] | None = None

    @property
    def after_issue(self) -> bool:
        return self.give_up is not GiveUp.FAIL


# --- the services each step runs -------------------------------------------------------------------
def _validate(job_order: JobOrder) -> str:
    def take(invoice: Invoice) -> None:
        # inside the claim's transaction, the invoice row locked: one unfinished job at a time
        holder = (
            JobOrder.objects.filter(invoice=invoice, status=JobOrder.Status.PENDING)
            .exclude(pk=job_order.pk)
            .first()
        )
        if holder is not None:
            raise PermanentError(
                f"Order {invoice.order_id} is being invoiced by job {holder.job_id}; "
                "no second invoice was started."
            )
        JobOrder.objects.filter(pk=job_order.pk).update(invoice=invoice)
        job_order.invoice = invoice

    return claim.invoice_claim(job_order=job_order, take=take)


def _finish(job_order: JobOrder) -> str:
    invoice = invoice_of(job_order)
    write_back.invoice_write_back(job_order=job_order, document_url=invoice_document_url(invoice))
    return invoice_summary(invoice)


def _email_failed(job_order: JobOrder, reason: str) -> None:
    if job_order.invoice_id:
        email.email_give_up(job_order=job_order, reason=reason)


PIPELINE: tuple[PipelineStep, ...] = (
    PipelineStep(Step.VALIDATE, _validate),
    PipelineStep(Step.RECALCULATE, lambda jo: recalculate.invoice_recalculate(job_order=jo)),
    PipelineStep(Step.CAPTURE, lambda jo: capture.payment_capture(job_order=jo)),
    PipelineStep(Step.ISSUE, lambda jo: issue.invoice_issue(job_order=jo)),
    PipelineStep(
        Step.RENDER,
        lambda jo: render.invoice_render(job_order=jo),
        GiveUp.FAIL_AFTER_ISSUE,
        failed_text="the PDF could not be created",
    ),
    PipelineStep(
        Step.EMAIL, lambda jo: email.invoice_email(job_order=jo), GiveUp.CARRY_ON, on_give_up=_email_failed
    ),
    PipelineStep(
        Step.FINISH,
        _finish,
        GiveUp.FAIL_AFTER_ISSUE,
        failed_text="writing the invoice back onto the order failed",
    ),
)

STEPS: dict[str, PipelineStep] = {entry.name: entry for entry in PIPELINE}
STEP_NAMES: tuple[str, ...] = tuple(STEPS)
# The service of each step, looked up when the step runs (a test may put a spy in its place).
STEP_SERVICES: dict[str, Callable[[JobOrder], str]] = {entry.name: entry.run for entry in PIPELINE}
# The steps after the number is issued: a failure there is re-run in place, not retried by a new
# job (the order is invoiced: validation would refuse it).
AFTER_ISSUE: tuple[str, ...] = tuple(entry.name for entry in PIPELINE if entry.after_issue)
RERUN_HINT = (
    "An administrator can re-run the failed steps from the console once the cause is fixed; "
    "the invoice keeps its number."
)


# --- the pipeline of a credit note (a row of a CREDIT job: JobOrder.credit_note) -----------------------
def _credit_finish(job_order: JobOrder) -> str:
    credit.credit_note_write_back(job_order=job_order, document_url=credit_note_document_url)
    return credit.credit_note_summary(credit.credit_note_of(job_order))


def _credit_email_failed(job_order: JobOrder, reason: str) -> None:
    credit.credit_note_email_give_up(job_order=job_order, reason=reason)


# The same step names where a step does the same kind of work (the stored step and the task are
# shared; the service is the credit note's), so the reconciler, the re-run after issue and the
# console treat both pipelines alike.
CREDIT_PIPELINE: tuple[PipelineStep, ...] = (
    PipelineStep(Step.VALIDATE, lambda jo: credit.credit_note_validate(job_order=jo)),
    PipelineStep(Step.REFUND, lambda jo: credit.credit_note_refund(job_order=jo)),
    PipelineStep(Step.ISSUE, lambda jo: credit.credit_note_issue(job_order=jo)),
    PipelineStep(
        Step.RENDER,
        lambda jo: credit.credit_note_render(job_order=jo),
        GiveUp.FAIL_AFTER_ISSUE,
        failed_text="the PDF could not be created",
    ),
    PipelineStep(
        Step.EMAIL,
        lambda jo: credit.credit_note_email(job_order=jo),
        GiveUp.CARRY_ON,
        on_give_up=_credit_email_failed,
    ),
    PipelineStep(
        Step.FINISH,
        _credit_finish,
        GiveUp.FAIL_AFTER_ISSUE,
        failed_text="writing the credit note back onto the order failed",
    ),
)
CREDIT_STEPS: dict[str, PipelineStep] = {entry.name: entry for entry in CREDIT_PIPELINE}
CREDIT_STEP_NAMES: tuple[str, ...] = tuple(CREDIT_STEPS)
CREDIT_STEP_SERVICES: dict[str, Callable[[JobOrder], str]] = {
    entry.name: entry.run for entry in CREDIT_PIPELINE
}
CREDIT_RERUN_HINT = (
    "An administrator can re-run the failed steps from the console once the cause is fixed; "
    "the credit note keeps its number."
)
# Every step name of either pipeline: one Celery task each (jobs.tasks).
ALL_STEP_NAMES: tuple[str, ...] = tuple(dict.fromkeys((*STEP_NAMES, *CREDIT_STEP_NAMES)))


@dataclass(frozen=True)
class PipelineOf:
    """The table an order row runs by: its steps, their services, and what its document is."""

    steps: dict[str, PipelineStep]
    names: tuple[str, ...]
    services: dict[str, Callable[[JobOrder], str]]
    rerun_hint: str
    labels: dict[str, str] = dataclasses.field(default_factory=dict)  # where a step's label differs

    def label(self, step: str) -> str:
        return self.labels.get(step) or step_label(step)

    def next_step(self, step: str) -> str:
        index = self.names.index(step)
        return self.names[index + 1] if index + 1 < len(self.names) else Step.DONE


def pipeline_of(job_order: JobOrder) -> PipelineOf:
    if job_order.credit_note_id is not None:
        return PipelineOf(
            CREDIT_STEPS,
            CREDIT_STEP_NAMES,
            CREDIT_STEP_SERVICES,
            CREDIT_RERUN_HINT,
            {Step.ISSUE: "Credit note number", Step.FINISH: "Finishing"},
        )
    return PipelineOf(STEPS, STEP_NAMES, STEP_SERVICES, RERUN_HINT)


def issued_document(job_order: JobOrder) -> str | None:
    """ "Invoice INV1001" or "Credit note CN1001" once the row's document has its number, else None."""
    if job_order.credit_note_id is not None:
        number = (
            CreditNote.objects.filter(pk=job_order.credit_note_id, status=CreditNote.Status.ISSUED)
            .values_list("number", flat=True)
            .first()
        )
        return f"Credit note {number}" if number else None
    if job_order.invoice_id is None:
        return None
    number = (
        Invoice.objects.filter(pk=job_order.invoice_id, status=Invoice.Status.ISSUED)
        .values_list("number", flat=True)
        .first()
    )
    return f"Invoice {number}" if number else None


def next_step(step: str) -> str:
    index = STEP_NAMES.index(step)
    return STEP_NAMES[index + 1] if index + 1 < len(STEP_NAMES) else Step.DONE


def step_label(step: str) -> str:
    return dict(Step.choices).get(step, step)


# --- sending a step to a worker --------------------------------------------------------------------
# Every step message carries a fresh id (its Celery task id) that is stored on the order as
# `dispatch_id`. Only the message with that id may run the step: a copy the broker delivers
# again later (Redis after its visibility timeout, RabbitMQ when a consumer dies), or a
# message superseded by the reconciler's re-dispatch, finds another id and does nothing
# (jobs.services.step_run). `held_by` names the worker that runs the current message (or keeps
# a retry's until due), so that the reconciler can re-send at once the steps of a worker that died.
def step_enqueue(
    *, job_order_id: int, step: str, match: Q | None = None, changes: dict[str, Any] | None = None
) -> bool:
    """Send the order's `step` as a new message, once the current transaction commits.

    One compare-and-set UPDATE: the row must be pending at `step` (or match `match` instead,
    e.g. the step it advances from), and gets `changes`, a new dispatch id (any older message
    of the order becomes stale) and no holder yet. False when the row did not match: nothing
    is sent.
    """
    where = Q(status=JobOrder.Status.PENDING, step=step) if match is None else match
    dispatch_id = uuid.uuid4()
    moved = JobOrder.objects.filter(Q(pk=job_order_id) & where).update(
        step_started_at=timezone.now(),
        dispatch_id=dispatch_id,
        held_by="",
        held_at=None,
        **(changes or {}),
    )
    if moved:
        # jobs.tasks imports the services that import this module: the task table is looked
        # up here, when a message is sent, not when the module loads.
        from jobs.tasks import STEP_TASKS

        # robust: a lost hand-off is logged and left to the reconciler, not raised after commit
        transaction.on_commit(
            lambda: STEP_TASKS[step].apply_async(args=[job_order_id], task_id=str(dispatch_id)),
            robust=True,
        )
    return bool(moved)
