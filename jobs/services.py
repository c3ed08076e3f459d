"""Jobs: creation, running one pipeline step of an order, completion by counters, the reconciler.

The steps of an order and what each runs are the table in jobs/pipeline.py; `step_run` runs
the one the row is at and moves it on. The tasks in jobs/tasks.py only call these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Now
from django.utils import timezone

from invoicing import events
from invoicing.credit_notes import credit_note_fail
from invoicing.models import CreditNote, Invoice, Refund
from invoicing.summary import invoice_summary
from jobs.attention import order_attention_clear, order_attention_record
from jobs.models import InvoiceJob, JobOrder, WorkerHeartbeat
from jobs.pipeline import (
    AFTER_ISSUE,
    GiveUp,
    issued_document,
    pipeline_of,
    step_enqueue,
)
from tenants.models import Tenant

logger = logging.getLogger(__name__)

Step = JobOrder.Step


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


def failed_after_issue() -> Q:
    """JobOrder rows that failed after their invoice (or credit note) was issued: to be re-run, not
    retried."""
    return (
        Q(status=JobOrder.Status.FAILURE, step__in=AFTER_ISSUE)
        & (Q(invoice__status=Invoice.Status.ISSUED) | Q(credit_note__status=CreditNote.Status.ISSUED))
    ) | (Q(status=JobOrder.Status.FAILURE, step__in=CREDIT_HELD_STEPS) & credit_note_held())


# A credit note whose refund was made (or may have been: UNKNOWN) and that then failed, at its
# refund or its number, is not given up: the money moved, so it keeps its amount on the invoice
# and is completed by a re-run (the refund is resolved with the gateway, never made twice).
CREDIT_HELD_STEPS = (Step.REFUND, Step.ISSUE)


def credit_note_held() -> Q:
    return Q(
        credit_note__status=CreditNote.Status.DRAFT,
        credit_note__refund__status__in=[Refund.Status.REFUNDED, Refund.Status.UNKNOWN],
    )


def _credit_note_is_held(job_order: JobOrder) -> bool:
    return (
        job_order.credit_note_id is not None
        and JobOrder.objects.filter(credit_note_held(), pk=job_order.pk).exists()
    )


def job_orders_failed_after_issue(
    *, job: InvoiceJob | None = None, invoice: Invoice | None = None
) -> QuerySet[JobOrder]:
    rows = JobOrder.objects.filter(failed_after_issue())
    if job is not None:
        rows = rows.filter(job=job)
    if invoice is not None:
        rows = rows.filter(invoice=invoice)
    return rows.order_by("position")


def job_retry_failed(*, job: InvoiceJob, actor: str) -> InvoiceJob | None:
    """The failed orders of a job, as a new MANUAL job (None when none failed). Audited.

    Orders that failed after their number was issued are left out: a new job would only be
    told the order is invoiced. They are re-run in place (job_order_resume_after_issue).
    """
    if job.job_type == InvoiceJob.Type.CREDIT:
        # a credit note's pipeline: its failed row is not an order to invoice again
        return None
    failed = list(
        JobOrder.objects.filter(job=job, status=JobOrder.Status.FAILURE)
        .exclude(failed_after_issue())
        .order_by("position")
        .values_list("order_id", flat=True)
    )
    if not failed:
        return None
    with transaction.atomic():
        # an operator's retry ends the orders' wait: later AUTOMATIC runs take them again too
        order_attention_clear(tenant=job.tenant, order_ids=failed)
        retry = job_create_manual(tenant=job.tenant, order_ids=failed, requested_by=actor, retry_of=job)
        events.job_retried(
            tenant_id=job.tenant_id, from_job=job.pk, new_job=retry.pk, order_ids=failed, actor=actor
        )
    return retry


def job_start(*, job_id: str | uuid.UUID) -> int:
    """Send every order that has not started into the pipeline. Safe to repeat.

    Only never-started orders: a redelivered start_job must not send a second message for a
    step that is running right now (stuck orders are the reconciler's business).
    """
    not_started = JobOrder.objects.filter(
        job_id=uuid.UUID(str(job_id)), status=JobOrder.Status.PENDING, step=Step.VALIDATE, attempts=0
    ).values_list("pk", flat=True)
    count = 0
    for job_order_id in list(not_started.iterator(chunk_size=500)):
        # attempts=0 again in the UPDATE: an order that started meanwhile keeps its message
        with transaction.atomic():
            count += step_enqueue(
                job_order_id=job_order_id,
                step=Step.VALIDATE,
                match=Q(status=JobOrder.Status.PENDING, step=Step.VALIDATE, attempts=0),
            )
    return count


# --- dispatching a step ------------------------------------------------------------------------
def job_order_mark_received(*, job_order_id: int, dispatch_id: str, hostname: str) -> bool:
    """A worker received the order's current message (also a retry's ETA message it keeps)."""
    return bool(
        JobOrder.objects.filter(pk=job_order_id, dispatch_id=dispatch_id).update(
            held_by=hostname, held_at=Now()
        )
    )


# --- running a step ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepOutcome:
    ran: bool  # False when the row was not at this step any more (a redelivered task)
    next: str | None = None
    note: str = ""


def step_run(
    *, job_order_id: int, step: str, dispatch_id: str | None = None, hostname: str | None = None
) -> StepOutcome:
    """Run `step` for the order if it is still at it; move it on; enqueue the next step on commit.

    `dispatch_id`: the id of the message that asks for it. Unless it is the order's current one
    the message is stale (superseded by a re-dispatch, or a redelivered copy) and nothing runs:
    StepOutcome(ran=False, note="stale"). Checked and claimed in the one UPDATE that counts the
    attempt, so that a step never runs from two messages. None: an in-process call (Celery's
    `apply`, the record_email_sent task), which no broker can deliver twice.
    """
    # The invoice too: each step after validation starts from it (invoicing.steps.base.invoice_of).
    # get(), not first(): no ORDER BY to compile, a third of this read's CPU (make bench).
    try:
        job_order = JobOrder.objects.select_related("job__tenant", "invoice").get(pk=job_order_id)
    except JobOrder.DoesNotExist:
        return StepOutcome(ran=False)
    if job_order.status != JobOrder.Status.PENDING or job_order.step != step:
        return StepOutcome(ran=False)
    claim = Q(pk=job_order.pk, status=JobOrder.Status.PENDING, step=step)
    held: dict[str, Any] = {}
    if dispatch_id is not None:
        # NULL: a row dispatched before dispatch ids existed (messages queued at the upgrade)
        claim &= Q(dispatch_id=dispatch_id) | Q(dispatch_id__isnull=True)
        held = {"held_by": hostname or "", "held_at": Now()}
    claimed = JobOrder.objects.filter(claim).update(
        step_started_at=timezone.now(), attempts=F("attempts") + 1, message="", **held
    )
    if not claimed:
        return StepOutcome(ran=False, note="stale")
    pipeline = pipeline_of(job_order)
    note = pipeline.services[step](job_order)
    following = pipeline.next_step(step)
    if following == Step.DONE:
        job_order_finish(job_order_id=job_order_id, status=JobOrder.Status.SUCCESS, message=note)
        return StepOutcome(ran=True, next=None, note=note)
    step_advance(job_order_id=job_order_id, from_step=step, to_step=following)
    return StepOutcome(ran=True, next=following, note=note)


def step_advance(*, job_order_id: int, from_step: str, to_step: str) -> bool:
    # The move and the next step's dispatch in one UPDATE, which commits on its own (no
    # transaction around it: a BEGIN and a COMMIT less per step); the message goes out once it
    # has committed, or once an enclosing transaction does (step_enqueue's on_commit).
    return step_enqueue(
        job_order_id=job_order_id,
        step=to_step,
        match=Q(status=JobOrder.Status.PENDING, step=from_step),
        changes={"step": to_step, "attempts": 0},
    )


def step_note_retry(*, job_order_id: int, message: str) -> None:
    """Say on the row why it is waiting; it stays PENDING."""
    JobOrder.objects.filter(pk=job_order_id, status=JobOrder.Status.PENDING).update(
        message=message[:2000], step_started_at=timezone.now()
    )


def step_give_up(*, job_order_id: int, step: str, reason: str) -> None:
    """Retries ran out (or a permanent fault, or a time limit): what the step's GiveUp says.

    Before numbering the order simply fails; a new job can try it again. After numbering the
    invoice stands and keeps its number whatever happens (jobs.pipeline.GiveUp): the email's
    failure is recorded and the order carries on (ending SUCCESS, its message saying the email
    failed; the console resends the stored PDF); a missing PDF or write-back fails the order
    with a message that names the number, the failed step and why.
    """
    job_order = JobOrder.objects.select_related("job__tenant").filter(pk=job_order_id).first()
    if job_order is None or job_order.status != JobOrder.Status.PENDING:
        return
    pipeline = pipeline_of(job_order)
    entry = pipeline.steps.get(step)
    has_document = bool(job_order.invoice_id or job_order.credit_note_id)
    if entry is not None and entry.give_up is GiveUp.CARRY_ON and has_document:
        if entry.on_give_up is not None:
            entry.on_give_up(job_order, reason)
        step_advance(job_order_id=job_order_id, from_step=step, to_step=pipeline.next_step(step))
        return
    issued = (
        issued_document(job_order)
        if has_document and entry is not None and entry.give_up is GiveUp.FAIL_AFTER_ISSUE
        else None
    )
    if step in CREDIT_HELD_STEPS and _credit_note_is_held(job_order):
        detail = reason.strip() if reason.strip().endswith((".", "?", "!")) else f"{reason.strip()}."
        reason = (
            f"{detail} The refund was made or may have been, so the credit note keeps its amount on the "
            "invoice and is completed when an administrator re-runs the failed steps from the console "
            "once the cause is fixed; the refund is never made twice."
        )
    elif entry is not None and issued is not None:
        if step == Step.FINISH and job_order.invoice_id:
            invoice = Invoice.objects.get(pk=job_order.invoice_id)
            events.write_back_failed(invoice=invoice, job_order_id=job_order.pk, reason=reason)
        detail = reason.strip() if reason.strip().endswith((".", "?", "!")) else f"{reason.strip()}."
        reason = f"{issued} was issued, but {entry.failed_text}: {detail} {pipeline.rerun_hint}"
    job_order_finish(job_order_id=job_order_id, status=JobOrder.Status.FAILURE, message=reason)


def job_order_resume_after_issue(*, job_order: JobOrder, actor: str) -> bool:
    """Re-run an order that failed after its number was issued, from the step that failed.

    The order goes back to PENDING at that step and its job back to IN_PROGRESS; the steps
    then run as before and each skips what is already done (a stored PDF is not rendered
    again, a sent email not sent again), so the order completes with the same number and the
    payment is not touched. False when the order is not (or no longer) such a failure, e.g.
    a second administrator pressed the button too: the row lock and the compare-and-set on
    the status make sure only one of them resumes it.
    """
    with transaction.atomic():
        locked = JobOrder.objects.select_for_update().filter(pk=job_order.pk).first()
        if locked is None or locked.status != JobOrder.Status.FAILURE:
            return False
        held = locked.step in CREDIT_HELD_STEPS and _credit_note_is_held(locked)
        if locked.step not in AFTER_ISSUE and not held:
            return False
        issued = "The credit note" if held else issued_document(locked)
        if issued is None:
            return False
        step = locked.step
        label = pipeline_of(locked).label(step)
        resumed = step_enqueue(
            job_order_id=locked.pk,
            step=step,
            match=Q(status=JobOrder.Status.FAILURE, step=step),
            changes={
                "status": JobOrder.Status.PENDING,
                "attempts": 0,
                "message": f"{issued}: re-running the failed steps from {label} ({actor}).",
                "updated_at": timezone.now(),
            },
        )
        if not resumed:
            return False
        # The order was counted as failed; it is pending again, so the job is not finished.
        InvoiceJob.objects.filter(pk=locked.job_id).update(
            failure_count=F("failure_count") - 1, status=InvoiceJob.Status.IN_PROGRESS, finished_at=None
        )
        invoice = (
            Invoice.objects.get(pk=locked.invoice_id)
            if locked.invoice_id
            else CreditNote.objects.select_related("invoice").get(job_orders=locked).invoice
        )
        events.steps_rerun(
            invoice=invoice,
            job_id=locked.job_id,
            job_order_id=locked.pk,
            step=step,
            step_label=label,
            actor=actor,
        )
    return True


def job_resume_failed_after_issue(*, job: InvoiceJob, actor: str) -> list[str]:
    """Re-run every order of the job that failed after numbering; the invoice numbers resumed."""
    numbers: list[str] = []
    for row in job_orders_failed_after_issue(job=job).select_related("invoice"):
        if job_order_resume_after_issue(job_order=row, actor=actor):
            numbers.append((row.invoice.number if row.invoice else None) or row.order_id)
    return numbers


def invoice_resume_failed_steps(*, invoice: Invoice, actor: str) -> bool:
    """Re-run the failed steps of the order this invoice belongs to (False: nothing failed)."""
    row = job_orders_failed_after_issue(invoice=invoice).first()
    return row is not None and job_order_resume_after_issue(job_order=row, actor=actor)


def credit_note_resume_failed_steps(*, credit_note: CreditNote, actor: str) -> bool:
    """Re-run the failed steps of an issued credit note (False: nothing failed after its issue)."""
    row = JobOrder.objects.filter(failed_after_issue(), credit_note=credit_note).first()
    return row is not None and job_order_resume_after_issue(job_order=row, actor=actor)


def job_order_messages_refresh(*, invoice: Invoice) -> int:
    """Rebuild the message of the invoice's finished orders after a delivery changed.

    A successful order's message is `invoice_summary`, which names the email's outcome; after a
    resend it must say the invoice was emailed, not that the first email FAILED.
    """
    return JobOrder.objects.filter(invoice=invoice, status=JobOrder.Status.SUCCESS).update(
        message=invoice_summary(invoice)[:4000], updated_at=timezone.now()
    )


# --- completion ----------------------------------------------------------------------------------
def _every_order_counted(*, counting_now: int = 0) -> Q:
    """The job is in progress, looks for no more orders (AUTOMATIC), and its counters reach its
    total with `counting_now` more: SQL evaluates an UPDATE's conditions on the row as it was."""
    return Q(
        status=InvoiceJob.Status.IN_PROGRESS,
        resolving=False,
        total_count=F("success_count") + F("failure_count") + counting_now,
    )


def job_done_if_complete(*, job_pk: Any) -> None:
    """DONE when every order is terminal, and (AUTOMATIC) no more orders are being looked for."""
    InvoiceJob.objects.filter(_every_order_counted(), pk=job_pk).update(
        status=InvoiceJob.Status.DONE, finished_at=timezone.now()
    )


def job_order_count(*, job_pk: Any, success: bool) -> None:
    """Count a finished order on its job and, when it was the last one, mark the job DONE (as
    job_done_if_complete does): one UPDATE."""
    counter = "success_count" if success else "failure_count"
    last = _every_order_counted(counting_now=1)
    InvoiceJob.objects.filter(pk=job_pk).update(
        **{counter: F(counter) + 1},
        status=Case(When(last, then=Value(InvoiceJob.Status.DONE)), default=F("status")),
        finished_at=Case(When(last, then=Value(timezone.now())), default=F("finished_at")),
    )


def job_order_finish(*, job_order_id: int, status: str, message: str) -> bool:
    """Make the row terminal and count it on the job in one transaction; the last one sets DONE."""
    with transaction.atomic():
        # the job read with it (not locked: the counters below change by relative UPDATEs)
        job_order = (
            JobOrder.objects.select_for_update(of=("self",))
            .select_related("job")
            .filter(pk=job_order_id)
            .first()
        )
        if job_order is None or job_order.status != JobOrder.Status.PENDING:
            return False
        job_order.status = status
        job_order.message = message[:4000]
        job_order.step = Step.DONE if status == JobOrder.Status.SUCCESS else job_order.step
        job_order.save(update_fields=["status", "message", "step", "updated_at"])
        if job_order.credit_note_id is not None:
            # a credit note that ends without its number gives its reservation back
            if status == JobOrder.Status.FAILURE:
                _credit_note_failed(job_order, message)
        else:
            # AUTOMATIC runs remember failed orders (and forget them on success): see jobs/attention.py
            order_attention_record(job_order=job_order)
        job_order_count(job_pk=job_order.job_id, success=status == JobOrder.Status.SUCCESS)
        if status == JobOrder.Status.FAILURE and job_order.credit_note_id is None:
            events.order_failed(
                tenant_id=job_order.job.tenant_id,
                order_id=job_order.order_id,
                job_order_id=job_order.pk,
                step=job_order.step,
                message=message,
            )
    return True


def _credit_note_failed(job_order: JobOrder, message: str) -> None:
    credit_note = CreditNote.objects.select_related("invoice").get(job_orders=job_order)
    if _credit_note_is_held(job_order):
        return  # money moved: kept for a re-run (see credit_note_held)
    if credit_note_fail(credit_note_id=credit_note.pk, message=message):
        events.credit_note_failed(credit_note=credit_note, reason=message)


# --- the reconciler ----------------------------------------------------------------------------
# Any fixed 64-bit number shared by all reconcilers; PostgreSQL advisory locks are per database.
RECONCILE_LOCK_KEY = 0x1A5F_0009


def _reconcile_lock() -> bool:
    """Take the reconciler's lock for the current transaction; False if another run holds it.

    PostgreSQL: a transaction-level advisory lock, released at commit or rollback (PostgreSQL
    manual, "Advisory Lock Functions"). SQLite (the embedded `make run`) has one beat and
    serialises writers anyway: the transaction is enough.
    """
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def orphaned_job_orders() -> Q:
    """Pending orders whose current message is held by a worker that is gone.

    - its heartbeat is older than WORKER_DEAD_AFTER (kill -9, OOM, a lost machine);
    - it has started again since it took the message (same node name, e.g. a restarted container):
      the new run does not know the old run's messages;
    - it has no heartbeat row at all (shut down, or already found dead) and took the message
      more than WORKER_DEAD_AFTER ago (a live worker writes its row at least that often).
    """
    dead_after = dt.timedelta(seconds=settings.WORKER_DEAD_AFTER)
    beats = list(WorkerHeartbeat.objects.values_list("hostname", "started_at", "seen_at"))
    stale_hosts = set(
        WorkerHeartbeat.objects.filter(seen_at__lt=Now() - dead_after).values_list("hostname", flat=True)
    )
    orphaned = Q(held_by__in=stale_hosts) | (
        Q(held_at__lt=Now() - dead_after) & ~Q(held_by="") & ~Q(held_by__in=[host for host, _, _ in beats])
    )
    for host, started_at, _ in beats:
        orphaned |= Q(held_by=host, held_at__lt=started_at)
    return Q(status=JobOrder.Status.PENDING) & orphaned


def orphaned_job_orders_redispatch(*, limit: int = 1000) -> int:
    """Re-send at once the steps held by dead workers; forget the dead workers' heartbeats."""
    dead_after = dt.timedelta(seconds=settings.WORKER_DEAD_AFTER)
    rows = list(
        JobOrder.objects.filter(orphaned_job_orders())
        .order_by("held_at")
        .values_list("pk", "step", "dispatch_id", "held_by", "held_at")[:limit]
    )
    count = 0
    for job_order_id, step, old_dispatch, holder, held_at in rows:
        # compare-and-set: a worker that received the old message meanwhile (RabbitMQ
        # redelivers a dead consumer's messages at once) holds it now and keeps it
        count += step_enqueue(
            job_order_id=job_order_id,
            step=step,
            match=Q(status=JobOrder.Status.PENDING, step=step)
            & Q(dispatch_id=old_dispatch, held_by=holder, held_at=held_at),
        )
    count += _unrecorded_messages_of_dead_workers_redispatch(limit=limit)
    WorkerHeartbeat.objects.filter(seen_at__lt=Now() - dead_after).delete()
    if count:
        logger.warning("re-dispatched %d order(s) held by dead workers", count)
    return count


def _unrecorded_messages_of_dead_workers_redispatch(*, limit: int) -> int:
    """Once per dead worker: re-send the steps that no worker has recorded receiving and that
    were sent before it died. A worker killed in the moment between two writes leaves them
    where nobody would look until INVOICE_STUCK_AFTER:

    - it committed a step and died before publishing the next one (the publish runs on commit);
    - its consumer had taken a message off Redis and died before recording it as the holder
      (Redis gives it back only after its visibility timeout, 900 s).

    Those are indistinguishable from messages still waiting in the queue, so these are sent
    again too: the old copy turns stale (a new dispatch id) and costs one no-op when consumed,
    once per worker death. Only messages sent in the INVOICE_STUCK_AFTER before its last
    heartbeat (plus one interval, when it may still have been alive) are concerned: older ones
    are the stuck-order fallback's.
    """
    dead_after = dt.timedelta(seconds=settings.WORKER_DEAD_AFTER)
    alive_for = dt.timedelta(seconds=settings.WORKER_HEARTBEAT_INTERVAL)
    window = dt.timedelta(seconds=settings.INVOICE_STUCK_AFTER)
    count = 0
    for last_seen in WorkerHeartbeat.objects.filter(seen_at__lt=Now() - dead_after).values_list(
        "seen_at", flat=True
    ):
        unrecorded = JobOrder.objects.filter(
            status=JobOrder.Status.PENDING,
            held_by="",
            step_started_at__lt=last_seen + alive_for,
            step_started_at__gte=last_seen - window,
        )
        for job_order_id, step, old_dispatch in unrecorded.order_by("-step_started_at").values_list(
            "pk", "step", "dispatch_id"
        )[:limit]:
            count += step_enqueue(
                job_order_id=job_order_id,
                step=step,
                match=Q(status=JobOrder.Status.PENDING, step=step, held_by="", dispatch_id=old_dispatch),
            )
    return count


def stuck_job_orders_redispatch(*, older_than: dt.timedelta | None = None, limit: int = 1000) -> int:
    """Re-send the current step of orders that have not moved for a while (lost messages).

    The net under the heartbeats: a message the broker lost, or that no worker recorded
    receiving. Safe for a step that is running: a step moves step_started_at when it starts,
    and it cannot run longer than CELERY_TASK_TIME_LIMIT, nor wait for its retry longer than
    INVOICE_RETRY_MAX_DELAY, both below INVOICE_STUCK_AFTER; the old message becomes stale.
    """
    cutoff = timezone.now() - (older_than or dt.timedelta(seconds=settings.INVOICE_STUCK_AFTER))
    stuck = list(
        JobOrder.objects.filter(status=JobOrder.Status.PENDING, step_started_at__lt=cutoff)
        .order_by("step_started_at")
        .values_list("pk", "step", "dispatch_id")[:limit]
    )
    count = 0
    for job_order_id, step, old_dispatch in stuck:
        same_message = Q(dispatch_id=old_dispatch) if old_dispatch else Q(dispatch_id__isnull=True)
        count += step_enqueue(
            job_order_id=job_order_id,
            step=step,
            match=Q(status=JobOrder.Status.PENDING, step=step, step_started_at__lt=cutoff) & same_message,
        )
    if count:
        logger.warning("re-dispatched %d stuck order(s)", count)
    return count


def job_orders_reconcile() -> int | None:
    """One reconciler run: dead workers' orders at once, then lost messages. Publishes on commit.

    None: another run holds the lock (two beats by mistake, or a slow run), so this one skips.
    """
    with transaction.atomic():
        if not _reconcile_lock():
            logger.info("reconciler: another run holds the lock; skipped")
            return None
        return orphaned_job_orders_redispatch() + stuck_job_orders_redispatch()
