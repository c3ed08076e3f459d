"""One retry policy for every task that talks to something that can fail for a while.

Transient faults (TransientError from an adapter, a lost database connection, a soft time
limit) are retried with exponential backoff and jitter, INVOICE_STEP_MAX_RETRIES times; then
the task's `give_up` records an honest reason and the task ends. Anything else is not retried.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from integrations.ports import TransientError

TRANSIENT = (TransientError, OperationalError, InterfaceError, SoftTimeLimitExceeded)


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
