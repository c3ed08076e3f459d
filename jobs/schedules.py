"""Periodic tasks, declared in code and kept in step in django-celery-beat's tables."""

from __future__ import annotations

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

RECONCILER_NAME = "invoice: re-dispatch stuck orders"


def periodic_tasks_sync() -> list[PeriodicTask]:
    """Create or update the service's periodic tasks. Safe to run at every deploy."""
    every = max(30, settings.INVOICE_STUCK_AFTER // 4)
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    task, _ = PeriodicTask.objects.update_or_create(
        name=RECONCILER_NAME,
        defaults={
            "task": "invoice.reconcile_stuck_orders",
            "interval": interval,
            "description": "Re-sends the current step of orders that have not moved for INVOICE_STUCK_AFTER seconds.",
        },
    )
    return [task]
