"""Celery tasks: thin. Each takes ids, calls one service, and owns its retry policy.

Every pipeline step is its own task (one per entry of jobs.pipeline.PIPELINE). Transient
faults retry with exponential backoff and full jitter; when the retries run out, on a
permanent fault or when a step runs out of time, the order fails as the step's entry says
(jobs.pipeline.GiveUp, applied by services.step_give_up).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from core.errors import PermanentError
from core.retrying import (
    TIME_LIMIT,
    TRANSIENT,
    db_reconnect,
    give_up_or_retry_later,
    retry_later,
    retry_or_give_up,
    time_limit_text,
)
from invoicing.deliveries import EmailSentUnrecorded
from invoicing.tasks import email_sent_record_later
from jobs import services
from jobs.pipeline import ALL_STEP_NAMES, step_label

logger = logging.getLogger(__name__)


def _run_step(task: Task, job_order_id: int, step: str) -> str:
    label = step_label(step)

    def fail(reason: str) -> str:
        # failing the order is a write too: a lost connection re-queues the task (core.retrying)
        give_up_or_retry_later(
            task,
            lambda: services.step_give_up(job_order_id=job_order_id, step=step, reason=reason),
            what=f"failing job order {job_order_id}",
        )
        return "failed"

    try:
        outcome = services.step_run(job_order_id=job_order_id, step=step, **_message_of(task))
    except PermanentError as exc:
        return fail(exc.message)
    except EmailSentUnrecorded as exc:
        # The mail left but the database would not record it: hand the fact to a task that
        # writes it, never sending again, and then moves the order on (invoicing.tasks).
        email_sent_record_later(exc, job_order_id=job_order_id)
        # Said at WARNING: Celery's own line with the task's result is off at INFO (config/settings.py).
        logger.warning(
            "job order %s: the email left but could not be recorded as sent; recording it when the "
            "database is back (invoice.record_email_sent)",
            job_order_id,
        )
        return "emailed; recording it when the database is back"
    except TRANSIENT as exc:
        return retry_or_give_up(
            task,
            exc,
            give_up=lambda reason: services.step_give_up(
                job_order_id=job_order_id, step=step, reason=f"{label} {reason}"
            ),
            on_retry=lambda delay, attempt, reason: services.step_note_retry(
                job_order_id=job_order_id,
                message=f"{label}: temporary problem, retrying in {delay:.0f} s (attempt {attempt}): {reason}",
            ),
        )
    except TIME_LIMIT:
        # One attempt, then a permanent failure: see core.retrying.
        logger.warning("step %s of job order %s exceeded its soft time limit", step, job_order_id)
        return fail(f"{label} {time_limit_text(task)}")
    except Exception as exc:  # a bug or bad data (integrity errors too): retrying would not help
        logger.exception("step %s of job order %s failed unexpectedly", step, job_order_id)
        return fail(
            f"{label} failed: internal error ({type(exc).__name__}); the operators can see the details in the logs."
        )
    return outcome.note if outcome.ran else (outcome.note or "skipped")


def _message_of(task: Task) -> dict[str, Any]:
    """Which message asks for the step, and which worker runs it (see services.step_run).

    An eager call (`apply`) is no broker message: nothing can deliver it twice.
    """
    if task.request.is_eager:
        return {}
    return {"dispatch_id": task.request.id, "hostname": task.request.hostname}


def _step_task(step: str) -> Any:
    @shared_task(bind=True, name=f"invoice.step.{step}", max_retries=None)
    def run(self: Task, job_order_id: int) -> str:
        return _run_step(self, job_order_id, step)

    return run


# One task per step name of the pipeline tables (invoices and credit notes), named invoice.step.<step>.
STEP_TASKS: dict[str, Any] = {name: _step_task(name) for name in ALL_STEP_NAMES}


@shared_task(bind=True, name="invoice.start_job", max_retries=None)
def start_job(self: Task, job_id: str) -> int:
    try:
        return services.job_start(job_id=job_id)
    except TRANSIENT as exc:
        # A lost connection here would otherwise strand every order of the job until the
        # reconciler's fallback (INVOICE_STUCK_AFTER); job_start is safe to repeat.
        db_reconnect()
        raise retry_later(self, exc) from exc


@shared_task(bind=True, name="invoice.resolve_automatic_job", max_retries=None)
def resolve_automatic_job(self: Task, job_id: str) -> int:
    from jobs import automatic

    try:
        return automatic.automatic_job_resolve(job_id=job_id)
    except (*TRANSIENT, *TIME_LIMIT) as exc:
        # A time limit is retried here, unlike in a step: the search keeps its place in the
        # job's cursor, so the next attempt goes on with the next pages instead of redoing these.
        retry_or_give_up(
            self, exc, give_up=lambda reason: automatic.automatic_job_give_up(job_id=job_id, reason=reason)
        )
        return 0
    except PermanentError as exc:
        automatic.automatic_job_give_up(job_id=job_id, reason=exc.message)
        return 0


@shared_task(name="invoice.run_automatic_job")
def run_automatic_job(tenant: str) -> str:
    from jobs import automatic

    try:
        job = automatic.automatic_run_scheduled(tenant_code=tenant)
    except automatic.InvoiceSettingsError as exc:
        return f"not started: {exc.message}"
    return f"job {job.pk}" if job else "skipped"


@shared_task(name="invoice.reconcile_stuck_orders")
def reconcile_stuck_orders() -> str:
    count = services.job_orders_reconcile()
    return "skipped: another reconciler is running" if count is None else f"{count} re-dispatched"
