"""One retry policy for every task that talks to something that can fail for a while.

Transient faults (TransientError from an adapter, a lost database connection) are retried
with exponential backoff and jitter, INVOICE_STEP_MAX_RETRIES times; then the task's `give_up`
records an honest reason and the task ends. Anything else is not retried.

A soft time limit (CELERY_TASK_SOFT_TIME_LIMIT) is not transient: the same work on the same
data would run out of time again, and five more attempts would hold a worker for five more
time limits before failing anyway. It fails that attempt for good (`TIME_LIMIT`,
`time_limit_text`); only a task that keeps its place between attempts (the AUTOMATIC search,
with its cursor) retries it, because its next attempt does different work.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from integrations.ports import TransientError

TRANSIENT = (TransientError, OperationalError, InterfaceError)
TIME_LIMIT = (SoftTimeLimitExceeded,)


def time_limit_text(task: Task) -> str:
    """Why an attempt stopped at its soft time limit, for the order's message."""
    limit = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
    return (
        f"exceeded its time limit of {limit} s and was stopped. It is not retried: "
        "the same work would run out of time again."
    )


def retry_delay(retries: int) -> float:
    """Exponential backoff with full jitter, capped."""
    base = settings.INVOICE_RETRY_BASE_DELAY
    ceiling = min(settings.INVOICE_RETRY_MAX_DELAY, base * (2**retries))
    return random.uniform(base / 2, max(base / 2, ceiling))


def fault_text(exc: BaseException) -> str:
    return exc.message if isinstance(exc, TransientError) else f"{type(exc).__name__}: {exc}"


def retry_or_give_up(
    task: Task,
    exc: Exception,
    *,
    give_up: Callable[[str], object],
    on_retry: Callable[[float, int, str], object] | None = None,
) -> str:
    """Schedule another attempt (raises celery's Retry), or call give_up(reason) when done."""
    retries = task.request.retries
    reason = fault_text(exc)
    if retries >= settings.INVOICE_STEP_MAX_RETRIES:
        give_up(f"failed after {retries + 1} attempts: {reason}")
        return "gave up"
    delay = retry_delay(retries)
    if on_retry is not None:
        on_retry(delay, retries + 1, reason)
    raise task.retry(countdown=delay, exc=exc, max_retries=settings.INVOICE_STEP_MAX_RETRIES + 1) from exc
