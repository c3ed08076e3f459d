"""Periodic tasks, declared in code and kept in step in django-celery-beat's tables."""

from __future__ import annotations

import json

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from tenants.models import Tenant

RECONCILER_NAME = "invoice: re-dispatch stuck orders"
AUTOMATIC_TASK = "invoice.run_automatic_job"
# Once a day at 02:00 in the tenant's time zone; edit (or pause) it in the admin.
DEFAULT_AUTOMATIC_CRONTAB = {
    "minute": "0",
    "hour": "2",
    "day_of_week": "*",
    "day_of_month": "*",
    "month_of_year": "*",
}


def automatic_task_name(tenant_code: str) -> str:
    return f"invoice: automatic job for {tenant_code}"


def automatic_schedule_ensure(tenant: Tenant, *, enabled: bool | None = None) -> PeriodicTask:
    """The tenant's periodic AUTOMATIC run: created when missing (paused), kept in step after.

    In step means: the task, its argument and the crontab's time zone follow the tenant. The
    times and the enabled switch belong to the operators (admin) and are left alone, unless
    `enabled` is given.
    """
    task = PeriodicTask.objects.filter(name=automatic_task_name(tenant.code)).first()
    if task is None:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            **DEFAULT_AUTOMATIC_CRONTAB, timezone=tenant.time_zone
        )
        task = PeriodicTask(
            name=automatic_task_name(tenant.code),
            crontab=crontab,
            enabled=bool(enabled),
            description=(
                f"Creates an AUTOMATIC invoice job for tenant {tenant.code} with its invoiceSettings. "
                "Skipped while the previous one is still in progress."
            ),
        )
    elif task.crontab is not None and str(task.crontab.timezone) != tenant.time_zone:
        fields = {f: getattr(task.crontab, f) for f in DEFAULT_AUTOMATIC_CRONTAB}
        task.crontab, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=tenant.time_zone)
    task.task = AUTOMATIC_TASK
    task.kwargs = json.dumps({"tenant": tenant.code})
    task.args = "[]"
    if enabled is not None:
        task.enabled = enabled
    task.save()
    return task


def automatic_schedule_remove(tenant_code: str) -> None:
    PeriodicTask.objects.filter(name=automatic_task_name(tenant_code)).delete()


def periodic_tasks_sync() -> list[PeriodicTask]:
    """Create or update the service's periodic tasks. Safe to run at every deploy."""
    # Often: a dead worker's orders wait for the next run. A run that finds nothing is a few
    # indexed reads, and runs never overlap (a database lock: jobs.services.job_orders_reconcile).
    every = max(1, settings.INVOICE_RECONCILE_INTERVAL)
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    task, _ = PeriodicTask.objects.update_or_create(
        name=RECONCILER_NAME,
        defaults={
            "task": "invoice.reconcile_stuck_orders",
            "interval": interval,
            "description": (
                "Re-sends the current step of orders held by a dead worker (WORKER_DEAD_AFTER), and of "
                "orders that have not moved for INVOICE_STUCK_AFTER seconds."
            ),
        },
    )
    tasks = [task]
    tasks += [automatic_schedule_ensure(tenant) for tenant in Tenant.objects.order_by("code")]
    return tasks
