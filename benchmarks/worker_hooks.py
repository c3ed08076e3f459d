"""Measurements inside a benchmark worker (loaded by tests/e2e_hooks.py only when
INVOICE_BENCH_STATS=<dir> is set; production code has no such hook).

- Per task: CPU (time.process_time of the pool child, which runs one task at a time), wall time
  and SQL statements, one JSON line per task in <dir>/tasks-<pid>.jsonl.
- Per part of a step (the e-invoice build, its validation, the PDF, the PDF/A-3 embedding): the
  same figures, inside the task's line under "parts".
- The consumer (the worker's main process): the statements it runs when it receives a step
  message (jobs.workers records the holder), one line per message.
- `bench.noop`: the empty task of the Celery floor. bench.noop(key, hops) sends itself on
  `hops` times, like a step sends the next one, then counts `key` up in Redis.
- INVOICE_BENCH_PROFILE=1: cProfile around every task; each process that ran tasks (a prefork
  child, or a solo worker) writes <dir>/profile-<pid>.prof when it stops.
"""

from __future__ import annotations

import cProfile
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import shared_task, signals
from django.db.backends.signals import connection_created
from django.dispatch import receiver

OUT_DIR = os.environ["INVOICE_BENCH_STATS"]
PROFILE = os.environ.get("INVOICE_BENCH_PROFILE", "") == "1"


class _Counter(threading.local):
    def __init__(self) -> None:
        self.queries = 0
        self.connections = 0
        self.parts: dict[str, list[float]] | None = None  # name -> [cpu ms, queries, calls]


_counter = _Counter()
_files: dict[int, Any] = {}
_profiler: cProfile.Profile | None = None


def _out() -> Any:
    pid = os.getpid()
    handle = _files.get(pid)
    if handle is None:
        handle = _files[pid] = open(os.path.join(OUT_DIR, f"tasks-{pid}.jsonl"), "a")  # noqa: SIM115
    return handle


def _write(record: dict[str, Any]) -> None:
    handle = _out()
    handle.write(json.dumps(record) + "\n")
    handle.flush()


def _count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    _counter.queries += 1
    return execute(sql, params, many, context)


@receiver(connection_created)
def _on_connection(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    _counter.connections += 1
    if connection is not None and _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


def _wrap_part(module: Any, attr: str, part: str) -> None:
    original = getattr(module, attr)

    def timed(*args: Any, **kwargs: Any) -> Any:
        parts = _counter.parts
        if parts is None:
            return original(*args, **kwargs)
        cpu, queries = time.process_time(), _counter.queries
        try:
            return original(*args, **kwargs)
        finally:
            entry = parts.setdefault(part, [0.0, 0, 0])
            entry[0] += (time.process_time() - cpu) * 1000
            entry[1] += _counter.queries - queries
            entry[2] += 1

    setattr(module, attr, timed)


def _install_parts() -> None:
    import invoicing.einvoice
    import invoicing.einvoice.pdfa
    import invoicing.einvoice.validation
    import invoicing.pdf

    # looked up at call time by invoicing.steps.einvoice and invoicing.steps.render
    _wrap_part(invoicing.einvoice, "einvoice_xml", "e-invoice XML build")
    _wrap_part(invoicing.einvoice.validation, "validate", "e-invoice validation")
    _wrap_part(invoicing.einvoice.pdfa, "facturx_pdf", "Factur-X PDF/A-3 embedding")
    _wrap_part(invoicing.pdf, "render_invoice_pdf", "PDF render (ReportLab)")


_install_parts()
_started: dict[str, tuple[float, float, int, int]] = {}


@signals.task_prerun.connect
def _on_prerun(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    global _profiler
    _counter.parts = {}
    _started[task_id] = (time.process_time(), time.perf_counter(), _counter.queries, _counter.connections)
    if PROFILE:
        if _profiler is None:
            _profiler = cProfile.Profile(time.process_time)  # CPU, not waits
        _profiler.enable()


@signals.task_postrun.connect
def _on_postrun(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    if PROFILE and _profiler is not None:
        _profiler.disable()
    started = _started.pop(task_id, None)
    if started is None:
        return
    cpu, wall, queries, connections = started
    _write(
        {
            "task": getattr(task, "name", "?"),
            "cpu": (time.process_time() - cpu) * 1000,
            "wall": (time.perf_counter() - wall) * 1000,
            "queries": _counter.queries - queries,
            "connections": _counter.connections - connections,
            "parts": _counter.parts or {},
        }
    )
    _counter.parts = None


@signals.task_received.connect
def _on_received(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    # after jobs.workers' handler (connected first): the statements of recording the holder
    _write(
        {
            "task": "consumer: message received",
            "queries": _counter.queries,
            "connections": _counter.connections,
        }
    )
    _counter.queries = _counter.connections = 0


@signals.worker_process_shutdown.connect  # a prefork child
@signals.worker_shutdown.connect  # the worker itself: a solo or threads pool runs the tasks there
def _on_shutdown(**kwargs: Any) -> None:
    if PROFILE and _profiler is not None:
        _profiler.dump_stats(os.path.join(OUT_DIR, f"profile-{os.getpid()}.prof"))


_redis: Any = None


@shared_task(name="bench.noop", ignore_result=True)
def noop(key: str, hops: int) -> None:
    """The Celery floor: a task that does nothing but send the next one."""
    global _redis
    if hops > 1:
        noop.apply_async(args=(key, hops - 1))
        return
    if _redis is None:
        import redis
        from django.conf import settings

        _redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    _redis.incr(key)
