"""End to end: scheduled AUTOMATIC runs, with a real celery beat and a real worker.

The tenant's periodic task (created by the code when the tenant was) is put on a short interval
and enabled, as an operator could do in the admin. Then celery beat with django-celery-beat's
DatabaseScheduler and a worker run on their own: beat sends "invoice.run_automatic_job", the
worker creates the AUTOMATIC job, finds the eligible orders and invoices them. Later ticks are
skipped while that job is in progress, or find nothing once it is done: no order is invoiced
twice.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from integrations.services import configuration_set
from invoicing.models import Invoice, InvoiceEvent
from jobs.automatic import SETTINGS_KEY
from jobs.models import InvoiceJob, JobOrder
from jobs.schedules import AUTOMATIC_TASK, automatic_task_name
from tests import factories
from tests.workers import REPO, wait_for_job, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EVERY_SECONDS = 2
# The worker's PDF step sleeps this long (tests/e2e_hooks.py), so the first job stays in
# progress over several ticks (3 orders, 2 at a time: at least 2 x RENDER_SECONDS).
RENDER_SECONDS = 2.5
ELIGIBLE = ["DEMO-1001", "DEMO-1002", "DEMO-1004"]  # CONFIRMED/70, SHIPPED/75, SHIPPED/76
NOT_ELIGIBLE = ["DEMO-1009", "DEMO-1012"]  # CREATED; CONFIRMED with extended status 10
SENT = re.compile(r"Sending due task (?P<name>.+?) \((?P<task>[\w.]+)\)")


class BeatProcess:
    """`celery beat` with the DatabaseScheduler, against this test run's database and queue."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "beat.log"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
                "--max-interval", "1",  # look at the schedule every second (default: 5 s)
                "--schedule", str(directory / "celerybeat-schedule"),
                "--pidfile", str(directory / "celerybeat.pid"),
            ],
            cwd=REPO,
            env=worker_env({"LOG_LEVEL": "INFO"}),
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def sent(self, task_name: str) -> int:
        """How many times beat has sent the periodic task of that name so far."""
        return sum(1 for match in SENT.finditer(self.log()) if match["name"] == task_name)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def celery_beat(transactional_db: Any, tmp_path: Path) -> Iterator[Callable[[], BeatProcess]]:
    """Starts beat on demand; stopped before the database is flushed, even when the test fails."""
    beats: list[BeatProcess] = []

    def start() -> BeatProcess:
        assert not beats, "exactly one beat runs"
        beats.append(BeatProcess(tmp_path / "beat"))
        return beats[0]

    yield start
    for beat in beats:
        beat.stop()


def wait_until(condition: Callable[[], Any], *, timeout: float, describe: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s: {describe()}")


def test_e2e_beat_and_worker_run_the_automatic_job_on_schedule(celery_worker_factory, celery_beat, tmp_path):
    tenant = factories.tenant_make("beat")
    factories.orders_store(tenant, *ELIGIBLE, *NOT_ELIGIBLE)
    configuration_set(
        tenant=tenant,
        key=SETTINGS_KEY,
        value={"threshold": "0", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": "70,75,76"},
    )
    # The code created the tenant's periodic task (paused, daily crontab); an operator puts it
    # on a short interval and switches it on in the admin.
    name = automatic_task_name(tenant.code)
    periodic = PeriodicTask.objects.get(name=name)
    assert periodic.task == AUTOMATIC_TASK and periodic.kwargs == '{"tenant": "beat"}'
    assert not periodic.enabled and periodic.crontab is not None
    periodic.interval, _ = IntervalSchedule.objects.get_or_create(
        every=EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    periodic.crontab = None
    periodic.enabled = True
    periodic.save()

    worker = celery_worker_factory(
        "beat-worker",
        extra_env={
            "INVOICE_TEST_SLOW_STEP": f"render:{RENDER_SECONDS}",
            "INVOICE_TEST_MARKER_DIR": str(tmp_path),
        },
    )
    started = time.monotonic()
    beat = celery_beat()

    def automatic_jobs() -> Any:
        return InvoiceJob.objects.filter(tenant=tenant, job_type=InvoiceJob.Type.AUTOMATIC).order_by(
            "created_at"
        )

    def state() -> str:
        jobs = list(automatic_jobs().values_list("pk", "status", "total_count", "resolving"))
        return f"jobs: {jobs}\n--- beat log:\n{beat.log()[-3000:]}\n--- worker log:\n{worker.log()[-3000:]}"

    # beat creates the first AUTOMATIC job on its own, and the worker finishes it
    first = wait_until(lambda: automatic_jobs().first(), timeout=20, describe=state)
    created_after = time.monotonic() - started
    assert first.requested_by == "schedule"
    try:
        first = wait_for_job(first.pk, timeout=40)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{state()}") from None
    done_after = time.monotonic() - started
    rows = list(JobOrder.objects.filter(job=first).order_by("position"))
    assert [row.order_id for row in rows] == ELIGIBLE  # found in store order, the others left out
    assert {row.status for row in rows} == {JobOrder.Status.SUCCESS}, [row.message for row in rows]
    assert first.total_count == first.success_count == len(ELIGIBLE) and not first.resolving

    # Later ticks: skipped while that job was in progress, or a new job that finds nothing.
    # Wait for at least one run after the first job was done, then stop beat.
    wait_until(
        lambda: automatic_jobs().filter(created_at__gt=first.finished_at).exists(),
        timeout=4 * EVERY_SECONDS + 5,
        describe=state,
    )
    beat.stop()
    sent = beat.sent(name)

    def skips() -> Any:
        return InvoiceEvent.objects.filter(tenant=tenant, type="automatic_run_skipped")

    # every tick beat sent is accounted for, once the worker has handled them all
    wait_until(
        lambda: (
            automatic_jobs().count() + skips().count() == sent
            and not automatic_jobs().filter(status=InvoiceJob.Status.IN_PROGRESS).exists()
        ),
        timeout=15,
        describe=lambda: f"sent {sent}, skips {skips().count()}; {state()}",
    )
    jobs = list(automatic_jobs())
    assert jobs[0] == first
    # the first job ran over at least one tick: that run was skipped, and the skip recorded
    assert skips().filter(data__running_job=str(first.pk)).exists(), state()
    for later in jobs[1:]:
        assert later.status == InvoiceJob.Status.DONE and later.total_count == 0, later.pk
        assert later.requested_by == "schedule"
    for skip in skips():
        # skipped only while some AUTOMATIC job was running, and it names that job
        assert skip.data["running_job"] in {str(job.pk) for job in jobs}
        running = next(job for job in jobs if str(job.pk) == skip.data["running_job"])
        assert running.created_at <= skip.created_at <= running.finished_at
    assert Invoice.objects.filter(tenant=tenant).count() == len(ELIGIBLE)  # none invoiced twice
    assert sorted(Invoice.objects.filter(tenant=tenant).values_list("order_id", flat=True)) == ELIGIBLE

    periodic.refresh_from_db()
    assert periodic.total_run_count >= 2 and periodic.last_run_at is not None
    print(
        f"\nbeat: first AUTOMATIC job created {created_after:.1f} s after start, DONE at {done_after:.1f} s;"
        f" {sent} tick(s) sent: {len(jobs)} job(s), {skips().count()} skipped"
    )
