"""Worker heartbeats and who holds which step message: what the reconciler needs to recover fast.

Every Celery worker (its main process, the consumer; prefork children need nothing) writes a
`WorkerHeartbeat` row at start, then every WORKER_HEARTBEAT_INTERVAL seconds from a daemon
thread, and deletes it on a clean shutdown. A worker records itself as the holder of an
order's current message (`JobOrder.held_by`) when the step starts (jobs.services.step_run), and
when it receives a retry's message it keeps until due (below). A worker killed
with -9, or lost with its machine, stops writing; once its row is WORKER_DEAD_AFTER seconds
old, the reconciler re-sends the steps it held (jobs.services.job_orders_reconcile).

A thread rather than the consumer's timer: a slow or unreachable database then delays only
the heartbeat, never the consumer's event loop (and with it the broker connection's own
heartbeats). Everything here is best effort: a database error is logged and the next tick
tries again on a fresh connection.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import signals
from django.db import close_old_connections, connection
from django.db.models.functions import Now

logger = logging.getLogger(__name__)

STEP_TASK_PREFIX = "invoice.step."


# --- services ---------------------------------------------------------------------------------
def worker_heartbeat_write(*, hostname: str, starting: bool = False) -> None:
    """Upsert the worker's row (database clock). `starting`: a new run of the worker begins."""
    from django.db import IntegrityError

    from jobs.models import WorkerHeartbeat

    fields: dict[str, Any] = {"seen_at": Now()}
    if starting:
        fields["started_at"] = Now()
    if WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields):
        return
    # no row yet, or the reconciler found this worker dead and removed it (it was too slow to
    # write): a new row, as for a new run, since its held steps have been re-sent meanwhile
    try:
        WorkerHeartbeat.objects.create(hostname=hostname, started_at=Now(), seen_at=Now())
    except IntegrityError:  # a concurrent write created it
        WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields)


def worker_heartbeat_remove(*, hostname: str) -> None:
    from jobs.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


# --- the worker side --------------------------------------------------------------------------
class Heartbeat:
    def __init__(self, hostname: str, interval: float) -> None:
        self.hostname = hostname
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="invoice-heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            beat(self.hostname)
        connection.close()  # this thread's own connection


def beat(hostname: str, *, starting: bool = False) -> bool:
    try:
        close_old_connections()
        worker_heartbeat_write(hostname=hostname, starting=starting)
        return True
    except Exception:
        logger.exception("worker heartbeat of %s could not be written; trying again next time", hostname)
        connection.close()  # a fresh connection next tick
        return False


_heartbeat: Heartbeat | None = None


@signals.worker_init.connect
def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    # Before the worker consumes anything: a message this run receives is never older than
    # its started_at, so that messages of a previous run under the same name count as orphaned.
    beat(sender.hostname, starting=True)
    connection.close()  # not handed down to the prefork children


@signals.worker_ready.connect
def _on_worker_ready(sender: Any = None, **kwargs: Any) -> None:
    global _heartbeat
    from django.conf import settings

    # After the pool has forked its children, so no child inherits a running thread.
    _heartbeat = Heartbeat(sender.hostname, settings.WORKER_HEARTBEAT_INTERVAL)
    _heartbeat.start()
    if not _forks_children(sender):
        # a solo (or threads) pool runs the steps in this process: no child warms the rules up
        _warm_up_in_background()


def _forks_children(consumer: Any) -> bool:
    from celery.concurrency.prefork import TaskPool

    return isinstance(getattr(consumer, "pool", None), TaskPool)


@signals.worker_process_init.connect
def _on_worker_process_init(**kwargs: Any) -> None:
    # Each prefork child compiles the e-invoice rules every order is checked against (EN 16931
    # CII and the Factur-X schema, ~1 s) once, off the start-up path: Celery kills a child that
    # takes longer than worker_proc_alive_timeout to start. A step that validates meanwhile waits
    # on the validation module's lock. The XRechnung/Peppol rules compile on first use.
    _warm_up_in_background()


def _warm_up_in_background() -> None:
    threading.Thread(target=_warm_up_einvoice_rules, name="einvoice-warm-up", daemon=True).start()


def _warm_up_einvoice_rules() -> None:
    try:
        from invoicing.einvoice.validation import warm_up

        warm_up(["facturx"])
    except Exception:  # best effort: the rules then compile on first use
        logger.exception("e-invoice rules could not be compiled at worker start")


@signals.worker_shutdown.connect
def _on_worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
    try:
        close_old_connections()
        worker_heartbeat_remove(hostname=sender.hostname)
    except Exception:
        # the reconciler finds the row stale instead
        logger.exception("worker heartbeat of %s could not be removed", sender.hostname)


# --- database connections kept across tasks ---------------------------------------------------------
# Celery's Django fixup closes every connection before and after each task unless
# CELERY_DB_REUSE_MAX is set (config/settings.py sets it): a new PostgreSQL connection per step
# cost more CPU than many a step itself. Instead, as Django does around a request, each task
# starts and ends by dropping only what is broken or older than CONN_MAX_AGE; CONN_HEALTH_CHECKS
# then pings a kept connection before its first query in the next task, so a connection the
# server closed meanwhile (a restart, pg_terminate_backend) is replaced instead of failing the
# step. A connection lost during a step is a transient fault as before (core.retrying).
@signals.task_prerun.connect
def _on_task_prerun(sender: Any = None, **kwargs: Any) -> None:
    _connections_check(sender)


@signals.task_postrun.connect
def _on_task_postrun(sender: Any = None, **kwargs: Any) -> None:
    _connections_check(sender)


def _connections_check(task: Any) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # an in-process call runs inside its caller's connection handling
    from core.retrying import db_reconnect

    db_reconnect()


@signals.task_received.connect
def _on_task_received(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """Record this worker as the holder of a retry's step message it keeps until it is due.

    Runs in the consumer for every message it takes from the broker. A message with an ETA (a
    retry's countdown) waits here for up to INVOICE_RETRY_MAX_DELAY: one UPDATE by primary key
    names the holder, so that the reconciler re-sends it within seconds if this worker dies.
    A message to run now is not written here (it was, one UPDATE per step, in the one process
    that feeds the pool): the step records its holder when it claims the order a moment later
    (services.step_run), and a worker that dies in between leaves the order with no holder, which
    the reconciler re-sends once per dead worker (services._unrecorded_messages_of_dead_workers_redispatch).
    Best effort: without it the order is still recovered, by the fallback after INVOICE_STUCK_AFTER.
    """
    if request is None or not str(request.name).startswith(STEP_TASK_PREFIX):
        return
    if getattr(request, "eta", None) is None:
        return
    try:
        (job_order_id,) = request.args
        from jobs.services import job_order_mark_received

        job_order_mark_received(
            job_order_id=int(job_order_id), dispatch_id=request.id, hostname=sender.hostname
        )
    except Exception:
        logger.exception("could not record that %s holds step message %s", sender.hostname, request.id)
        try:
            connection.close()
        except Exception:
            logger.debug("closing the connection failed too", exc_info=True)
