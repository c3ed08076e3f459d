"""Jobs: creation, running one pipeline step of an order, completion by counters.

The pipeline of an order is a sequence of steps (JobOrder.Step); `step_run` runs the one the
row is at and moves it on. The tasks in jobs/tasks.py only call these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invoicing import services as steps
from invoicing.models import Tenant
from jobs.models import InvoiceJob, JobOrder

logger = logging.getLogger(__name__)

Step = JobOrder.Step
PIPELINE: tuple[str, ...] = (
    Step.VALIDATE,
    Step.RECALCULATE,
    Step.CAPTURE,
    Step.ISSUE,
    Step.RENDER,
    Step.EMAIL,
    Step.FINISH,
)


def next_step(step: str) -> str:
    index = PIPELINE.index(step)
    return PIPELINE[index + 1] if index + 1 < len(PIPELINE) else Step.DONE


# --- creating jobs -----------------------------------------------------------------------------
def job_create_manual(
    *, tenant: Tenant, order_ids: Sequence[str], requested_by: str = "", retry_of: InvoiceJob | None = None
) -> InvoiceJob:
    """One transaction: the job and a PENDING row per distinct order id; started after commit."""
    from jobs.tasks import start_job

    distinct = list(dict.fromkeys(order_ids))  # duplicates are processed once, order kept
    now = timezone.now()
    with transaction.atomic():
        job = InvoiceJob.objects.create(
            tenant=tenant,
            job_type=InvoiceJob.Type.MANUAL,
            total_count=len(distinct),
            requested_by=requested_by,
            retry_of=retry_of,
            status=InvoiceJob.Status.IN_PROGRESS if distinct else InvoiceJob.Status.DONE,
            finished_at=None if distinct else now,
        )
        JobOrder.objects.bulk_create(
            JobOrder(job=job, position=index, order_id=order_id, step_started_at=now)
            for index, order_id in enumerate(distinct)
        )
        job_id = str(job.pk)
        # robust: if the broker is down the job is still created (and answered with 201); the
        # error is logged and the reconciler sends the orders once INVOICE_STUCK_AFTER passes.
        transaction.on_commit(lambda: start_job.delay(job_id), robust=True)
    return job


def job_retry_failed(*, job: InvoiceJob, actor: str) -> InvoiceJob | None:
    """The failed orders of a job, as a new MANUAL job (None when none failed). Audited."""
    failed = list(
        JobOrder.objects.filter(job=job, status=JobOrder.Status.FAILURE)
        .order_by("position")
        .values_list("order_id", flat=True)
    )
    if not failed:
        return None
    with transaction.atomic():
        retry = job_create_manual(tenant=job.tenant, order_ids=failed, requested_by=actor, retry_of=job)
        steps.event_record(
            tenant_id=job.tenant_id,
            type="job_retried",
            actor=actor,
            message=f"Failed orders of job {job.pk} retried as job {retry.pk}: {', '.join(failed[:20])}"
            + (" …" if len(failed) > 20 else ""),
            data={"from_job": str(job.pk), "new_job": str(retry.pk), "orders": len(failed)},
        )
    return retry


def job_start(*, job_id: str | uuid.UUID) -> int:
    """Send every order that has not started into the pipeline. Safe to repeat.

    Only never-started orders: a redelivered start_job must not send a second message for a
    step that is running right now (stuck orders are the reconciler's business).
    """
    from jobs.tasks import STEP_TASKS

    not_started = JobOrder.objects.filter(
        job_id=uuid.UUID(str(job_id)), status=JobOrder.Status.PENDING, step=Step.VALIDATE, attempts=0
    ).values_list("pk", flat=True)
    count = 0
    for job_order_id in not_started.iterator(chunk_size=500):
        STEP_TASKS[Step.VALIDATE].delay(job_order_id)
        count += 1
    return count


# --- running a step ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepOutcome:
    ran: bool  # False when the row was not at this step any more (a redelivered task)
    next: str | None = None
    note: str = ""


def _run_finish(job_order: JobOrder) -> str:
    from jobs.selectors import invoice_document_url

    invoice = steps.invoice_of(job_order)
    steps.invoice_write_back(job_order=job_order, document_url=invoice_document_url(invoice))
    return steps.invoice_summary(invoice)


STEP_SERVICES: dict[str, Callable[[JobOrder], str]] = {
    Step.VALIDATE: lambda jo: steps.invoice_claim(job_order=jo),
    Step.RECALCULATE: lambda jo: steps.invoice_recalculate(job_order=jo),
    Step.CAPTURE: lambda jo: steps.payment_capture(job_order=jo),
    Step.ISSUE: lambda jo: steps.invoice_issue(job_order=jo),
    Step.RENDER: lambda jo: steps.invoice_render(job_order=jo),
    Step.EMAIL: lambda jo: steps.invoice_email(job_order=jo),
    Step.FINISH: _run_finish,
}


def step_run(*, job_order_id: int, step: str) -> StepOutcome:
    """Run `step` for the order if it is still at it; move it on; enqueue the next step on commit."""
    job_order = JobOrder.objects.select_related("job__tenant").filter(pk=job_order_id).first()
    if job_order is None or job_order.status != JobOrder.Status.PENDING or job_order.step != step:
        return StepOutcome(ran=False)
    JobOrder.objects.filter(pk=job_order.pk).update(
        step_started_at=timezone.now(), attempts=F("attempts") + 1, message=""
    )
    note = STEP_SERVICES[step](job_order)
    following = next_step(step)
    if following == Step.DONE:
        job_order_finish(job_order_id=job_order_id, status=JobOrder.Status.SUCCESS, message=note)
        return StepOutcome(ran=True, next=None, note=note)
    step_advance(job_order_id=job_order_id, from_step=step, to_step=following)
    return StepOutcome(ran=True, next=following, note=note)


def step_advance(*, job_order_id: int, from_step: str, to_step: str) -> bool:
    from jobs.tasks import STEP_TASKS

    with transaction.atomic():
        moved = JobOrder.objects.filter(
            pk=job_order_id, status=JobOrder.Status.PENDING, step=from_step
        ).update(step=to_step, attempts=0, step_started_at=timezone.now())
        if moved:
            # robust: a lost hand-off is logged and left to the reconciler, not raised after commit
            transaction.on_commit(lambda: STEP_TASKS[to_step].delay(job_order_id), robust=True)
    return bool(moved)


def step_note_retry(*, job_order_id: int, message: str) -> None:
    """Say on the row why it is waiting; it stays PENDING."""
    JobOrder.objects.filter(pk=job_order_id, status=JobOrder.Status.PENDING).update(
        message=message[:2000], step_started_at=timezone.now()
    )


def step_give_up(*, job_order_id: int, step: str, reason: str) -> None:
    """Retries ran out (or a permanent fault): fail the order, unless the invoice already stands.

    Once issued (and paid), an invoice is the result: a failed email or write-back is reported
    in the message of a SUCCESS, not turned into a FAILURE that a retry could never fix.
    """
    job_order = JobOrder.objects.select_related("job__tenant").filter(pk=job_order_id).first()
    if job_order is None or job_order.status != JobOrder.Status.PENDING:
        return
    if step == Step.EMAIL and job_order.invoice_id:
        steps.email_give_up(job_order=job_order, reason=reason)
        step_advance(job_order_id=job_order_id, from_step=step, to_step=Step.FINISH)
        return
    if step == Step.FINISH and job_order.invoice_id:
        invoice = steps.invoice_of(job_order)
        steps.event_record(
            tenant_id=invoice.tenant_id,
            type="write_back_failed",
            order_id=invoice.order_id,
            invoice=invoice,
            job_order_id=job_order.pk,
            message=reason,
        )
        message = f"{steps.invoice_summary(invoice)} Writing the invoice back onto the order FAILED: {reason}"
        job_order_finish(job_order_id=job_order_id, status=JobOrder.Status.SUCCESS, message=message)
        return
    job_order_finish(job_order_id=job_order_id, status=JobOrder.Status.FAILURE, message=reason)


# --- completion ----------------------------------------------------------------------------------
def job_done_if_complete(*, job_pk: Any) -> None:
    """DONE when every order is terminal, and (AUTOMATIC) no more orders are being looked for."""
    InvoiceJob.objects.filter(
        pk=job_pk,
        status=InvoiceJob.Status.IN_PROGRESS,
        resolving=False,
        total_count=F("success_count") + F("failure_count"),
    ).update(status=InvoiceJob.Status.DONE, finished_at=timezone.now())


def job_order_finish(*, job_order_id: int, status: str, message: str) -> bool:
    """Make the row terminal and count it on the job in one transaction; the last one sets DONE."""
    with transaction.atomic():
        job_order = JobOrder.objects.select_for_update().filter(pk=job_order_id).first()
        if job_order is None or job_order.status != JobOrder.Status.PENDING:
            return False
        job_order.status = status
        job_order.message = message[:4000]
        job_order.step = Step.DONE if status == JobOrder.Status.SUCCESS else job_order.step
        job_order.save(update_fields=["status", "message", "step", "updated_at"])
        counter = "success_count" if status == JobOrder.Status.SUCCESS else "failure_count"
        InvoiceJob.objects.filter(pk=job_order.job_id).update(**{counter: F(counter) + 1})
        job_done_if_complete(job_pk=job_order.job_id)
        if status == JobOrder.Status.FAILURE:
            tenant_id = InvoiceJob.objects.values_list("tenant_id", flat=True).get(pk=job_order.job_id)
            steps.event_record(
                tenant_id=tenant_id,
                type="order_failed",
                order_id=job_order.order_id,
                job_order_id=job_order.pk,
                message=message[:4000],
                data={"step": job_order.step},
            )
    return True


# --- the reconciler ----------------------------------------------------------------------------
def stuck_job_orders_redispatch(*, older_than: dt.timedelta | None = None, limit: int = 1000) -> int:
    """Re-send the current step of orders that have not moved for a while (lost messages)."""
    from jobs.tasks import STEP_TASKS

    cutoff = timezone.now() - (older_than or dt.timedelta(seconds=settings.INVOICE_STUCK_AFTER))
    stuck = list(
        JobOrder.objects.filter(status=JobOrder.Status.PENDING, step_started_at__lt=cutoff)
        .order_by("step_started_at")
        .values_list("pk", "step")[:limit]
    )
    for job_order_id, step in stuck:
        JobOrder.objects.filter(pk=job_order_id, status=JobOrder.Status.PENDING, step=step).update(
            step_started_at=timezone.now()
        )
        STEP_TASKS[step].delay(job_order_id)
    if stuck:
        logger.warning("re-dispatched %d stuck order(s)", len(stuck))
    return len(stuck)
