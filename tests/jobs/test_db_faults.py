"""A lost database connection in a step, a retry note or a give-up is met with a fresh
connection and a retry; the task's message is never dropped (issue 9).

The connection is cut for real where it matters: `pg_terminate_backend` of the test's own
backend from a second connection, as the drills do to the workers. Those tests need
`transactional_db`: inside the test case's transaction a broken connection cannot be replaced.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection, connections

from core.errors import PermanentError, TransientError
from integrations.local.adapters import LocalOrderSource
from jobs import services
from jobs.models import JobOrder
from jobs.services import job_create_manual
from jobs.tasks import STEP_TASKS
from tests import factories


def kill_my_connection() -> None:
    """Terminate this test's database backend from another connection, as a failover would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def order_row(tenant: Any, order_id: str = factories.INVOICE_ORDER) -> JobOrder:
    factories.orders_store(tenant, order_id)
    job = job_create_manual(tenant=tenant, order_ids=[order_id])
    return JobOrder.objects.get(job=job, order_id=order_id)


@pytest.mark.django_db
def test_a_failing_retry_note_does_not_stop_the_retry(tenant):
    row = order_row(tenant)
    real_get_order = LocalOrderSource.get_order
    calls: list[str] = []

    def flaky(self, order_id):
        calls.append(order_id)
        if len(calls) == 1:
            raise TransientError("Order service: 503")
        return real_get_order(self, order_id)

    with (
        mock.patch.object(LocalOrderSource, "get_order", flaky),
        mock.patch.object(
            services, "step_note_retry", side_effect=OperationalError("connection lost")
        ) as note,
    ):
        result = STEP_TASKS["validate"].apply(args=[row.pk])

    assert note.called  # the note was attempted and failed ...
    assert result.successful(), result.traceback  # ... and the retry ran all the same
    assert len(calls) == 2
    row.refresh_from_db()
    assert (row.status, row.step) == ("PENDING", "recalculate")


@pytest.mark.django_db(transaction=True)
def test_a_retry_note_on_a_dead_connection_reconnects_and_retries(tenant):
    row = order_row(tenant)
    real_step_run = services.step_run
    calls: list[int] = []

    def cut_then_work(*, job_order_id, step):
        calls.append(job_order_id)
        if len(calls) == 1:  # the connection dies while the step waits for a slow service
            kill_my_connection()
            raise TransientError("Order service: timeout")
        return real_step_run(job_order_id=job_order_id, step=step)

    with (
        mock.patch.object(services, "step_run", cut_then_work),
        mock.patch("celery.app.task.Task.apply_async"),
    ):
        result = STEP_TASKS["validate"].apply(args=[row.pk])

    assert result.successful(), result.traceback
    assert len(calls) == 2
    row.refresh_from_db()
    assert (row.status, row.step) == ("PENDING", "recalculate")


@pytest.mark.django_db(transaction=True)
def test_give_up_on_a_dead_connection_reconnects_and_fails_the_order(tenant):
    row = order_row(tenant)

    def cut_then_refuse(*, job_order_id, step):
        kill_my_connection()
        raise PermanentError("Order DEMO-1002 was cancelled.")

    with (
        mock.patch.object(services, "step_run", cut_then_refuse),
        mock.patch("celery.app.task.Task.apply_async"),
    ):
        result = STEP_TASKS["validate"].apply(args=[row.pk])

    assert result.successful(), result.traceback
    row.refresh_from_db()
    assert row.status == "FAILURE"
    assert row.message == "Order DEMO-1002 was cancelled."
    assert row.job.status == "DONE" and row.job.failure_count == 1


@pytest.mark.django_db
def test_give_up_while_the_database_stays_away_retries_the_task_instead_of_dropping_it(tenant, no_pauses):
    row = order_row(tenant)
    real_give_up = services.step_give_up
    attempts: list[str] = []

    def database_away_three_times(**kwargs):
        attempts.append(kwargs["reason"])
        if len(attempts) <= 3:  # the first run and its two reconnects
            raise OperationalError("server closed the connection unexpectedly")
        return real_give_up(**kwargs)

    with (
        mock.patch.object(services, "step_run", side_effect=PermanentError("Order was cancelled.")) as step,
        mock.patch.object(services, "step_give_up", database_away_three_times),
    ):
        result = STEP_TASKS["validate"].apply(args=[row.pk])

    assert result.successful(), result.traceback
    assert step.call_count == 2  # the task ran again after the database came back
    assert len(attempts) == 4
    row.refresh_from_db()
    assert (row.status, row.message) == ("FAILURE", "Order was cancelled.")


@pytest.mark.django_db
def test_retries_exhausted_and_the_give_up_fails_once_still_fails_the_order(tenant, no_pauses):
    row = order_row(tenant)
    real_give_up = services.step_give_up
    attempts: list[str] = []

    def give_up_once_lost(**kwargs):
        attempts.append(kwargs["reason"])
        if len(attempts) == 1:
            raise OperationalError("terminating connection due to administrator command")
        return real_give_up(**kwargs)

    with (
        mock.patch.object(LocalOrderSource, "get_order", side_effect=TransientError("Order service: 503")),
        mock.patch.object(services, "step_give_up", give_up_once_lost),
    ):
        result = STEP_TASKS["validate"].apply(args=[row.pk])

    assert result.successful(), result.traceback
    row.refresh_from_db()
    assert row.status == "FAILURE"
    assert row.message == "Validation failed after 4 attempts: Order service: 503"
