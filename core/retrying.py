"""One retry policy for every task that talks to something that can fail for a while.

Transient faults (TransientError from an adapter, a lost database connection) are retried
with exponential backoff and jitter, INVOICE_STEP_MAX_RETRIES times; then the task's `give_up`
records an honest reason and the task ends. Anything else is not retried.

A soft time limit (CELERY_TASK_SOFT_TIME_LIMIT) is not transient: the same work on the same
data would run out of time again, and five more attempts would hold a worker for five more
time limits before failing anyway. It fails that attempt for good (`TIME_LIMIT`,
`time_limit_text`); only a task that keeps its place between attempts (the AUTOMATIC search,
with its cursor) retries it, because its next attempt does different work.

A lost database connection (the server restarted or failed over, `pg_terminate_backend`, a
network cut) is transient wherever it happens, including in the bookkeeping around a retry:

- Django does not reconnect by itself inside a task: the broken connection stays in place
  until someone closes it. `db_reconnect` closes it the way `close_old_connections` does, so
  the next query opens a fresh one.
- A retry note is bookkeeping (`best_effort`): if writing it fails, that is logged and the
  retry is scheduled anyway. Before this, such a failure escaped before `task.retry` and Celery
  dropped the message, leaving the order PENDING until the reconciler.
- Giving up is not bookkeeping: it fails the order. `give_up_or_retry_later` reconnects and
  tries it a few times (`persist`); if the database stays away, the task is retried later
  instead of dropped, so the message is never lost.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from core.errors import TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT = (TransientError, OperationalError, InterfaceError)
TIME_LIMIT = (SoftTimeLimitExceeded,)
# What a lost or unusable connection raises (psycopg's OperationalError / InterfaceError,
# wrapped by Django).
DB_LOST = (OperationalError, InterfaceError)
# Short pauses between attempts of a write that must not be skipped (seconds, one per retry):
# long enough for a restarted connection or a failover to come back, short enough to hold a
# worker only briefly. After them the task itself is retried with backoff.
PERSIST_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0)


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


def db_reconnect() -> None:
    """Drop connections that are broken, so that the next query opens a fresh one.

    This is what `django.db.close_old_connections` does per connection
    (`close_if_unusable_or_obsolete`: closed when an error occurred and a ping fails, or when
    CONN_MAX_AGE is over), except that a connection inside an atomic block is left alone:
    closing it there would leave the caller's transaction half-open ("Cannot open a new
    connection in an atomic block"); that block's own exit rolls back and closes it.
    """
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        try:
            conn.close_if_unusable_or_obsolete()
        except DatabaseError:  # closing a dead socket can fail too; what counts is that it is dropped
            logger.warning("closing a broken database connection failed", exc_info=True)
            conn.connection = None


def best_effort(write: Callable[[], T], *, what: str) -> T | None:
    """Run a bookkeeping write; a failure is logged (and a broken connection dropped), never raised.

    For writes that must not decide what happens next: a retry note, an audit event.
    """
    try:
        return write()
    except Exception:
        logger.warning("%s was not recorded", what, exc_info=True)
        db_reconnect()
        return None


def persist(
    write: Callable[[], T],
    *,
    what: str,
    delays: Sequence[float] | None = None,
    retry_on: tuple[type[BaseException], ...] = DB_LOST,
) -> T:
    """Run a write that must happen, reconnecting and retrying it after a lost connection.

    Tries once, then once after each pause in `delays` (PERSIST_DELAYS); the last error is
    raised. Only a caller outside an atomic block gets a fresh connection (see db_reconnect).
    """
    pauses = list(PERSIST_DELAYS if delays is None else delays)
    attempt = 0
    while True:
        try:
            return write()
        except retry_on:
            if attempt >= len(pauses):
                raise
            logger.warning("%s failed (attempt %d); reconnecting", what, attempt + 1, exc_info=True)
            db_reconnect()
            time.sleep(pauses[attempt])
            attempt += 1


def retry_later(task: Task, exc: Exception) -> Exception:
    """A Retry for the task that is always allowed, whatever its retry count: for a database
    that is away. Raise what it returns (`raise retry_later(task, exc) from exc`)."""
    retries = task.request.retries
    return task.retry(countdown=retry_delay(retries), exc=exc, max_retries=retries + 1)


def give_up_or_retry_later(task: Task, give_up: Callable[[], object], *, what: str) -> None:
    """Record a final outcome (the order fails, the delivery fails). A lost connection is
    reconnected and the write tried again a few times; if the database is still away, the task
    is retried later (raises celery's Retry) instead of being dropped with its message. The
    retried task runs its work again, and gives up again if it still has to."""
    try:
        persist(give_up, what=what)
    except DB_LOST as exc:
        logger.warning("%s: the database is unreachable; retrying the task later", what)
        raise retry_later(task, exc) from exc


def retry_or_give_up(
    task: Task,
    exc: Exception,
    *,
    give_up: Callable[[str], object],
    on_retry: Callable[[float, int, str], object] | None = None,
) -> str:
    """Schedule another attempt (raises celery's Retry), or call give_up(reason) when done.

    The note `on_retry` writes is best effort: whatever happens to it, the retry is scheduled.
    """
    if isinstance(exc, DB_LOST):
        db_reconnect()
    retries = task.request.retries
    reason = fault_text(exc)
    if retries >= settings.INVOICE_STEP_MAX_RETRIES:
        text = f"failed after {retries + 1} attempts: {reason}"
        give_up_or_retry_later(task, lambda: give_up(text), what="giving up")
        return "gave up"
    delay = retry_delay(retries)
    if on_retry is not None:
        note = on_retry
        best_effort(lambda: note(delay, retries + 1, reason), what="the retry note")
    raise task.retry(countdown=delay, exc=exc, max_retries=settings.INVOICE_STEP_MAX_RETRIES + 1) from exc
