"""Running a job's pipeline inside the test process (no worker, no broker)."""

from __future__ import annotations

from jobs.models import InvoiceJob, JobOrder


def drive(job: InvoiceJob, *, max_rounds: int = 30) -> InvoiceJob:
    """Run the job's pipeline in this process, step task by step task, until no order is pending.

    Uses the real Celery tasks (`apply`: retries run inline); the next-step messages that
    on_commit would publish are not sent because the test transaction never commits.
    """
    from jobs.tasks import STEP_TASKS

    for _ in range(max_rounds):
        pending = list(JobOrder.objects.filter(job=job, status=JobOrder.Status.PENDING).order_by("position"))
        if not pending:
            break
        for job_order in pending:
            STEP_TASKS[job_order.step].apply(args=[job_order.pk])
    job.refresh_from_db()
    return job
