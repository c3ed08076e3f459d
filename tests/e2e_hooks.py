"""Loaded only by worker processes of the end-to-end tests (celery worker --include).

INVOICE_TEST_SLOW_STEP=render:8 makes that step sleep 8 s first, so a test can kill the
worker while the step is running. Production code has no such hook.
"""

from __future__ import annotations

import os
import time

from jobs import pipeline

_spec = os.environ.get("INVOICE_TEST_SLOW_STEP", "")
if _spec:
    _step, _, _seconds = _spec.partition(":")
    _original = pipeline.STEP_SERVICES[_step]

    def _slow(job_order, _original=_original):
        marker = os.path.join(
            os.environ.get("INVOICE_TEST_MARKER_DIR", os.environ["VAR_DIR"]), f"slow-{_step}-started"
        )
        with open(marker, "a") as handle:
            handle.write(f"{job_order.pk}\n")
        time.sleep(float(_seconds or 5))
        return _original(job_order)

    pipeline.STEP_SERVICES[_step] = _slow

# INVOICE_TEST_FAKE_EMPORIX=<log file>: this worker talks to a fake Emporix (the HTTP boundary
# mocked with `responses`, as in the in-process tests); every call is logged to that file.
# Run such a worker with --concurrency 1: the fake's state lives in the one child process.
_fake_log = os.environ.get("INVOICE_TEST_FAKE_EMPORIX", "")
if _fake_log:
    import responses

    from tests.integrations.emporix_fake import FakeEmporix

    _mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    _mock.start()
    FAKE_EMPORIX = FakeEmporix(_mock, log_path=_fake_log)

# INVOICE_TEST_SLOW_REFUND=<seconds>: the local gateway's refund returns only after this pause,
# having refunded: a test kills the worker in that moment, after the money moved and before the
# refund step recorded it (the worst moment for "refunded at most once").
_slow_refund = os.environ.get("INVOICE_TEST_SLOW_REFUND", "")
if _slow_refund:
    from integrations.local.adapters import LocalPaymentGateway

    _original_refund = LocalPaymentGateway.refund

    def _refund_then_pause(self, **kwargs):
        result = _original_refund(self, **kwargs)
        marker = os.path.join(os.environ.get("INVOICE_TEST_MARKER_DIR", os.environ["VAR_DIR"]), "refund-done")
        with open(marker, "a") as handle:
            handle.write(f"{kwargs.get('idempotency_key')}\n")
        time.sleep(float(_slow_refund))
        return result

    LocalPaymentGateway.refund = _refund_then_pause  # type: ignore[method-assign]

# INVOICE_BENCH_STATS=<dir>: `make bench` measures this worker (per task CPU, SQL statements,
# the e-invoice and PDF parts) and registers the empty task of the Celery floor
# (benchmarks/worker_hooks.py).
if os.environ.get("INVOICE_BENCH_STATS"):
    import benchmarks.worker_hooks  # noqa: F401
