"""Who may run an order's step: one current message per order, and recovery from dead workers.

Each step message carries a dispatch id (its task id); only the current one runs the step. A
worker records itself as the holder of the messages it receives; the reconciler re-sends the
steps held by workers whose heartbeat stopped, exactly once, and never those of a live worker.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import pipeline, services, workers
from jobs.models import JobOrder, WorkerHeartbeat
from jobs.pipeline import step_enqueue
from jobs.services import job_create_manual, job_orders_reconcile
from jobs.tasks import STEP_TASKS, reconcile_stuck_orders
from tests import factories

LIVE = "live@host"
DEAD = "dead@host"


def an_order(tenant: Any, order_id: str = factories.INVOICE_ORDER) -> JobOrder:
    factories.orders_store(tenant, order_id)
    job = job_create_manual(tenant=tenant, order_ids=[order_id])
    return JobOrder.objects.get(job=job)


def deliver(step: str, job_order_id: int, *, message_id: str, hostname: str = LIVE) -> str:
    """Run the step task as a worker runs a message from the broker (not eagerly)."""
    task = STEP_TASKS[step]
    task.push_request(id=message_id, hostname=hostname, is_eager=False, retries=0, args=[job_order_id])
    try:
        return task.run(job_order_id)
    finally:
        task.pop_request()


def receive(job_order_id: int, *, message_id: str, hostname: str, eta: dt.datetime | None = None) -> None:
    """What the worker's consumer does when it takes a step message from the broker; `eta`: a
    retry's message, kept until then."""
    request = SimpleNamespace(name="invoice.step.validate", args=[job_order_id], id=message_id, eta=eta)
    workers._on_task_received(sender=SimpleNamespace(hostname=hostname), request=request)


def heartbeat(hostname: str, *, seen_ago: float = 0, started_ago: float = 3600) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "seen_at": now - dt.timedelta(seconds=seen_ago),
            "started_at": now - dt.timedelta(seconds=started_ago),
        },
    )


def held(row: JobOrder, hostname: str, *, ago: float = 5) -> uuid.UUID:
    """The order's current message, received by `hostname` `ago` seconds ago."""
    dispatch_id = uuid.uuid4()
    JobOrder.objects.filter(pk=row.pk).update(
        dispatch_id=dispatch_id,
        held_by=hostname,
        held_at=timezone.now() - dt.timedelta(seconds=ago),
        step_started_at=timezone.now() - dt.timedelta(seconds=ago),
    )
    return dispatch_id


@pytest.fixture
def reconcile(django_capture_on_commit_callbacks: Any) -> Any:
    """One reconciler run, its messages published as on commit."""

    def run() -> int | None:
        with django_capture_on_commit_callbacks(execute=True):
            return job_orders_reconcile()

    return run


@pytest.fixture
def published() -> Any:
    """The step messages published (Task.apply_async), as (task name, args, task id)."""
    sent: list[tuple[str, list[Any], str]] = []

    def keep(
        task: Any, args: Any = None, kwargs: Any = None, task_id: str | None = None, **options: Any
    ) -> None:
        sent.append((task.name, list(args or []), str(task_id)))

    with mock.patch("celery.app.task.Task.apply_async", autospec=True, side_effect=keep):
        yield sent


# --- one current message per order ------------------------------------------------------------
def test_step_enqueue_sets_a_new_dispatch_id_and_publishes_it_only_on_commit(
    tenant, published, django_capture_on_commit_callbacks
):
    row = an_order(tenant)
    old = held(row, LIVE)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert step_enqueue(job_order_id=row.pk, step="validate")
        row.refresh_from_db()
        assert published == []  # nothing leaves before the transaction commits

    assert row.dispatch_id not in (None, old) and row.held_by == "" and row.held_at is None
    for callback in callbacks:
        callback()
    assert published == [("invoice.step.validate", [row.pk], str(row.dispatch_id))]


def test_step_enqueue_of_an_order_not_at_that_step_publishes_nothing(
    tenant, published, django_capture_on_commit_callbacks
):
    row = an_order(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        assert not step_enqueue(job_order_id=row.pk, step="capture")
    assert published == []


def test_a_stale_message_does_nothing_and_the_current_one_runs_the_step(
    tenant, published, django_capture_on_commit_callbacks
):
    row = an_order(tenant)
    current = held(row, "")

    assert deliver("validate", row.pk, message_id=str(uuid.uuid4())) == "stale"  # superseded copy
    row.refresh_from_db()
    assert (row.step, row.attempts, row.held_by) == ("validate", 0, "")

    with django_capture_on_commit_callbacks(execute=True):
        deliver("validate", row.pk, message_id=str(current), hostname=LIVE)
    row.refresh_from_db()
    assert row.step == "recalculate" and row.status == "PENDING"
    # the next step went out as a new current message, not yet held by anyone
    assert published == [("invoice.step.recalculate", [row.pk], str(row.dispatch_id))]
    assert row.dispatch_id != current and row.held_by == ""


def test_the_worker_running_a_step_holds_it(tenant):
    row = an_order(tenant)
    current = held(row, "")

    def run_and_look(job_order: JobOrder) -> str:
        seen.append(JobOrder.objects.values_list("held_by", "attempts").get(pk=job_order.pk))
        return "looked"

    seen: list[tuple[str, int]] = []
    with (
        mock.patch.dict(pipeline.STEP_SERVICES, {"validate": run_and_look}),
        mock.patch("celery.app.task.Task.apply_async"),
    ):
        deliver("validate", row.pk, message_id=str(current), hostname="runner@host")
    assert seen == [("runner@host", 1)]


def test_receiving_the_current_retry_message_records_the_holder_and_an_old_copy_does_not(tenant):
    row = an_order(tenant)
    current = held(row, "")
    due = timezone.now() + dt.timedelta(seconds=30)

    receive(row.pk, message_id=str(uuid.uuid4()), hostname="other@host", eta=due)  # a stale copy
    row.refresh_from_db()
    assert row.held_by == ""

    receive(row.pk, message_id=str(current), hostname=LIVE, eta=due)
    row.refresh_from_db()
    assert row.held_by == LIVE and row.held_at is not None


def test_a_message_to_run_now_costs_the_consumer_no_write_its_step_records_the_holder(tenant):
    row = an_order(tenant)
    current = held(row, "")

    with CaptureQueriesContext(connection) as receipt:
        receive(row.pk, message_id=str(current), hostname=LIVE)
    assert len(receipt.captured_queries) == 0
    row.refresh_from_db()
    assert row.held_by == ""
    # the step records it when it starts: test_the_worker_running_a_step_holds_it


def test_a_database_error_on_receipt_is_logged_not_raised(tenant, caplog):
    row = an_order(tenant)
    with mock.patch.object(
        services, "job_order_mark_received", side_effect=OperationalError("server closed")
    ):
        receive(row.pk, message_id=str(uuid.uuid4()), hostname=LIVE, eta=timezone.now())
    assert "could not record that live@host holds step message" in caplog.text


def test_a_repeated_start_job_supersedes_only_orders_that_never_started(
    tenant, published, django_capture_on_commit_callbacks
):
    row = an_order(tenant)
    first = held(row, "")
    deliver("validate", row.pk, message_id=str(first))  # ran: now at recalculate
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.job_start(job_id=row.job_id) == 0
    assert published == []


# --- the reconciler ------------------------------------------------------------------------------
def test_a_step_held_by_a_live_worker_is_never_re_dispatched(tenant, published, reconcile):
    row = an_order(tenant)
    current = held(row, LIVE, ago=120)  # e.g. a retry's ETA message the worker keeps
    heartbeat(LIVE, seen_ago=1)

    for _ in range(3):
        assert reconcile() == 0

    row.refresh_from_db()
    assert published == [] and row.dispatch_id == current and row.held_by == LIVE


def test_orders_held_by_a_dead_worker_are_re_dispatched_once_and_the_old_message_is_stale(
    tenant, published, reconcile
):
    running = an_order(tenant, factories.INVOICE_ORDER)
    prefetched = an_order(tenant, factories.CARD_ORDER)
    other = an_order(tenant, "DEMO-1003")
    old_running, old_prefetched = held(running, DEAD), held(prefetched, DEAD)
    held(other, LIVE)
    heartbeat(DEAD, seen_ago=60)
    heartbeat(LIVE, seen_ago=1)

    assert reconcile() == 2
    assert reconcile() == 0  # once

    running.refresh_from_db()
    prefetched.refresh_from_db()
    assert sorted(published) == sorted(
        [
            ("invoice.step.validate", [running.pk], str(running.dispatch_id)),
            ("invoice.step.validate", [prefetched.pk], str(prefetched.dispatch_id)),
        ]
    )
    assert running.dispatch_id != old_running and prefetched.dispatch_id != old_prefetched
    assert not WorkerHeartbeat.objects.filter(hostname=DEAD).exists()  # forgotten
    # Redis restores the killed worker's message after its visibility timeout: it does nothing
    assert deliver("validate", running.pk, message_id=str(old_running)) == "stale"
    running.refresh_from_db()
    assert running.attempts == 0 and running.step == "validate"


def sent(row: JobOrder, *, ago: float) -> uuid.UUID:
    """The order's current message, sent `ago` seconds ago and recorded by no worker yet."""
    dispatch_id = uuid.uuid4()
    JobOrder.objects.filter(pk=row.pk).update(
        dispatch_id=dispatch_id,
        held_by="",
        held_at=None,
        step_started_at=timezone.now() - dt.timedelta(seconds=ago),
    )
    return dispatch_id


def test_messages_no_one_recorded_before_a_worker_died_are_sent_again_once(tenant, published, reconcile):
    """A worker killed between committing a step and publishing the next, or between taking a
    message off Redis and recording it, leaves an order nobody holds: sent again at once."""
    unpublished = an_order(tenant, factories.INVOICE_ORDER)
    sent_after_death = an_order(tenant, factories.CARD_ORDER)
    taken_by_the_living = an_order(tenant, "DEMO-1003")
    lost = sent(unpublished, ago=62)  # the dead worker was last seen 60 s ago
    fresh = sent(sent_after_death, ago=20)
    held(taken_by_the_living, LIVE, ago=62)
    heartbeat(DEAD, seen_ago=60)
    heartbeat(LIVE, seen_ago=1)

    assert reconcile() == 1
    assert reconcile() == 0  # once: the dead worker is forgotten

    unpublished.refresh_from_db()
    sent_after_death.refresh_from_db()
    assert published == [("invoice.step.validate", [unpublished.pk], str(unpublished.dispatch_id))]
    assert unpublished.dispatch_id != lost and sent_after_death.dispatch_id == fresh
    assert deliver("validate", unpublished.pk, message_id=str(lost)) == "stale"  # if it turns up


def test_a_message_another_worker_took_over_meanwhile_is_left_to_it(tenant, published, reconcile):
    """RabbitMQ redelivers a dead consumer's messages at once: the new holder keeps it (a retry's
    message it keeps until due; one to run now it holds once its step starts, as above)."""
    row = an_order(tenant)
    current = held(row, DEAD)
    heartbeat(DEAD, seen_ago=60)
    heartbeat(LIVE, seen_ago=1)
    receive(row.pk, message_id=str(current), hostname=LIVE, eta=timezone.now() + dt.timedelta(seconds=30))

    assert reconcile() == 0
    row.refresh_from_db()
    assert published == [] and row.held_by == LIVE and row.dispatch_id == current


def test_a_redelivered_message_whose_step_has_not_started_is_sent_again_and_the_copy_does_nothing(
    tenant, published, reconcile
):
    row = an_order(tenant)
    current = held(row, DEAD)
    heartbeat(DEAD, seen_ago=60)
    heartbeat(LIVE, seen_ago=1)
    receive(row.pk, message_id=str(current), hostname=LIVE)  # taken, its step not started yet

    assert reconcile() == 1
    row.refresh_from_db()
    assert row.dispatch_id != current and len(published) == 1
    # the copy LIVE took starts late and finds a newer message: it does nothing
    assert deliver("validate", row.pk, message_id=str(current), hostname=LIVE) == "stale"


def test_orders_of_a_worker_restarted_under_the_same_name_are_re_dispatched(tenant, published, reconcile):
    row = an_order(tenant)
    held(row, LIVE, ago=30)
    heartbeat(LIVE, seen_ago=1, started_ago=10)  # the new run started after it took the message

    assert reconcile() == 1
    assert len(published) == 1


def test_orders_of_a_worker_without_heartbeat_wait_until_it_could_have_written_one(
    tenant, published, reconcile, settings
):
    settings.WORKER_DEAD_AFTER = 15
    recent = an_order(tenant, factories.INVOICE_ORDER)
    old = an_order(tenant, factories.CARD_ORDER)
    held(recent, "gone@host", ago=2)
    held(old, "gone@host", ago=30)

    assert reconcile() == 1
    old.refresh_from_db()
    assert published == [("invoice.step.validate", [old.pk], str(old.dispatch_id))]


def test_the_fallback_still_re_sends_a_message_the_broker_lost(
    tenant, published, settings, django_capture_on_commit_callbacks
):
    settings.INVOICE_STUCK_AFTER = 600
    row = an_order(tenant)
    JobOrder.objects.filter(pk=row.pk).update(step_started_at=timezone.now() - dt.timedelta(minutes=11))

    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_stuck_orders.apply().get() == "1 re-dispatched"
    row.refresh_from_db()
    assert published == [("invoice.step.validate", [row.pk], str(row.dispatch_id))]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_reconcilers_re_dispatch_once_and_the_second_skips(published):
    tenant = factories.tenant_make("racing")
    row = an_order(tenant)
    held(row, DEAD)
    heartbeat(DEAD, seen_ago=60)

    first_holds_lock = threading.Event()
    second_done = threading.Event()
    results: dict[str, int | None] = {}
    errors: list[BaseException] = []
    original = services.orphaned_job_orders_redispatch

    def slow_redispatch(**kwargs: Any) -> int:
        count = original(**kwargs)
        first_holds_lock.set()
        assert second_done.wait(20)  # keep the lock until the other run has tried
        return count

    def run(name: str) -> None:
        try:
            results[name] = job_orders_reconcile()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    with mock.patch.object(services, "orphaned_job_orders_redispatch", slow_redispatch):
        first = threading.Thread(target=run, args=("first",))
        first.start()
        assert first_holds_lock.wait(20)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    second.join(20)
    second_done.set()
    first.join(20)

    assert errors == []
    assert results == {"first": 1, "second": None}
    row.refresh_from_db()
    steps_sent = [message for message in published if message[0].startswith("invoice.step.")]
    assert steps_sent == [("invoice.step.validate", [row.pk], str(row.dispatch_id))]


# --- heartbeats ---------------------------------------------------------------------------------
# The heartbeat thread closes and reopens its connection: no test transaction around it.
@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_its_heartbeat_and_removes_it_on_shutdown():
    assert workers.beat("w1@host", starting=True)
    first = WorkerHeartbeat.objects.get(hostname="w1@host")
    assert workers.beat("w1@host")
    again = WorkerHeartbeat.objects.get(hostname="w1@host")
    assert again.started_at == first.started_at and again.seen_at >= first.seen_at

    workers._on_worker_shutdown(sender=SimpleNamespace(hostname="w1@host"))
    assert not WorkerHeartbeat.objects.filter(hostname="w1@host").exists()


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_the_database_refuses_is_logged_and_tried_again(caplog):
    with mock.patch.object(
        workers, "worker_heartbeat_write", side_effect=OperationalError("terminating connection")
    ):
        assert not workers.beat("w1@host")
    assert "worker heartbeat of w1@host could not be written" in caplog.text
    assert workers.beat("w1@host")  # the next tick, on a fresh connection
    assert WorkerHeartbeat.objects.filter(hostname="w1@host").exists()
