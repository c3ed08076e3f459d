"""Records that tell the truth (issue 9): a mail the server accepted is recorded SENT even when
the first write of that fact fails, and an order's message reflects its latest delivery.

The SENT write is made to fail by PostgreSQL itself: `fail_sent_writes(n)` installs a trigger
that rejects the first n updates of an email delivery to SENT (a sequence counts them, because
a sequence is not rolled back with the failing transaction). These tests use
`transactional_db`, as a worker does: each write is its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.db import connection

from invoicing.models import EmailDelivery, Invoice, InvoiceEvent
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual
from jobs.tasks import STEP_TASKS
from tests import factories
from tests.pipeline import drive

TRIGGER_SQL = """
CREATE SEQUENCE test_sent_write_failures;
CREATE FUNCTION test_fail_sent_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'SENT' AND OLD.status <> 'SENT' AND nextval('test_sent_write_failures') <= {n} THEN
        -- class 08, connection exception: what a dropped connection reports
        RAISE EXCEPTION 'drill: the SENT write of delivery % fails', OLD.id USING ERRCODE = '08006';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_fail_sent_write BEFORE UPDATE ON invoicing_emaildelivery
    FOR EACH ROW EXECUTE FUNCTION test_fail_sent_write();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS test_fail_sent_write ON invoicing_emaildelivery;
DROP FUNCTION IF EXISTS test_fail_sent_write();
DROP SEQUENCE IF EXISTS test_sent_write_failures;
"""


def sent_write_failures_install(n: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(DROP_SQL)
        cursor.execute(TRIGGER_SQL.format(n=int(n)))


def sent_write_failures_remove() -> None:
    with connection.cursor() as cursor:
        cursor.execute(DROP_SQL)


def sent_write_failures_used() -> int:
    """How many SENT writes the trigger has seen (rejected or let through)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value, is_called FROM test_sent_write_failures")
        last_value, is_called = cursor.fetchone()
    return int(last_value) if is_called else 0


@pytest.fixture
def fail_sent_writes(transactional_db: Any) -> Iterator[Callable[[int], None]]:
    yield sent_write_failures_install
    sent_write_failures_remove()  # the flush after the test keeps the schema: leave nothing behind


@pytest.fixture
def published() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Messages the code publishes to the broker, kept here instead (no worker runs them)."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def keep(task: Any, args: Any = None, kwargs: Any = None, **options: Any) -> None:
        sent.append((task.name, tuple(args or ())))

    with mock.patch("celery.app.task.Task.apply_async", autospec=True, side_effect=keep):
        yield sent


def row_of(job: InvoiceJob) -> JobOrder:
    return JobOrder.objects.select_related("invoice").get(job=job)


def run_until_email(tenant: Any) -> JobOrder:
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER])
    row = row_of(job)
    for step in ("validate", "recalculate", "capture", "issue", "render"):
        STEP_TASKS[step].apply(args=[row.pk])
    return row_of(job)


def test_sent_write_failing_once_is_retried_and_the_delivery_ends_sent(tenant, fail_sent_writes, published):
    fail_sent_writes(1)
    row = run_until_email(tenant)

    STEP_TASKS["email"].apply(args=[row.pk])
    job = drive(row.job)

    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get(invoice=row.invoice_id)
    assert delivery.status == "SENT" and delivery.error == "" and delivery.sent_at is not None
    assert sent_write_failures_used() == 2  # rejected once, written on the retry
    row = row_of(job)
    assert row.status == "SUCCESS"
    assert f"Emailed to {delivery.recipient}." in row.message and "FAILED" not in row.message
    assert InvoiceEvent.objects.filter(type="invoice_emailed", invoice=row.invoice_id).count() == 1


def test_sent_write_failing_every_time_is_recorded_later_without_sending_again(
    tenant, fail_sent_writes, published, no_pauses
):
    fail_sent_writes(3)  # the first write and both retries in the task: the database is "away"
    row = run_until_email(tenant)

    result = STEP_TASKS["email"].apply(args=[row.pk])

    assert result.successful(), result.traceback
    assert len(mail.outbox) == 1
    delivery = EmailDelivery.objects.get(invoice=row.invoice_id)
    assert delivery.status == "SENDING"  # not recorded yet, and not called "unknown" either
    handed_off = [args for name, args in published if name == "invoice.record_email_sent"]
    assert len(handed_off) == 1
    assert handed_off[0][0] == delivery.pk and handed_off[0][3] == row.pk

    # a redelivered email step meanwhile does not send again
    STEP_TASKS["email"].apply(args=[row.pk])
    assert len(mail.outbox) == 1

    # the database is back: the hand-off records SENT and moves the order on, without sending
    from invoicing.tasks import record_email_sent

    record = record_email_sent.apply(args=handed_off[0])
    assert record.successful(), record.traceback
    job = drive(row.job)

    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == "SENT" and delivery.error == ""
    row = row_of(job)
    assert row.status == "SUCCESS", row.message
    assert f"Emailed to {delivery.recipient}." in row.message and "FAILED" not in row.message


def test_record_later_retries_until_the_database_takes_the_write(
    tenant, fail_sent_writes, published, no_pauses
):
    from invoicing.tasks import record_email_sent

    fail_sent_writes(3)
    row = run_until_email(tenant)
    STEP_TASKS["email"].apply(args=[row.pk])
    handed_off = next(args for name, args in published if name == "invoice.record_email_sent")
    fail_sent_writes(4)  # still away for the hand-off's first attempt (3 writes) and one more

    record = record_email_sent.apply(args=handed_off)

    assert record.successful(), record.traceback
    assert sent_write_failures_used() == 5  # 4 rejected, then written on the task's retry
    assert EmailDelivery.objects.get(invoice=row.invoice_id).status == "SENT"
    assert len(mail.outbox) == 1


def test_resend_that_hits_a_failing_sent_write_ends_sent_and_mails_once(tenant, fail_sent_writes, published):
    from invoicing.deliveries import invoice_email_resend
    from invoicing.tasks import send_email_delivery

    row = run_until_email(tenant)
    drive(row.job)
    invoice = Invoice.objects.get(pk=row.invoice_id)
    delivery = invoice_email_resend(invoice=invoice, actor="admin:test")
    fail_sent_writes(1)

    result = send_email_delivery.apply(args=[delivery.pk])

    assert result.successful(), result.traceback
    delivery.refresh_from_db()
    assert delivery.status == "SENT"
    assert len(mail.outbox) == 2  # the pipeline's email and this one resend


@pytest.mark.django_db
def test_resend_after_a_failed_email_updates_the_order_message(tenant):
    from invoicing.deliveries import invoice_email_resend
    from invoicing.tasks import send_email_delivery

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER])
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("SMTP down")):
        drive(job)
    row = row_of(job)
    assert row.status == "SUCCESS" and "FAILED" in row.message
    invoice = Invoice.objects.get(pk=row.invoice_id)

    delivery = invoice_email_resend(invoice=invoice, actor="admin:test")
    send_email_delivery.apply(args=[delivery.pk])

    row = row_of(job)
    assert len(mail.outbox) == 1
    assert row.message.startswith(f"Invoice {invoice.number} created (")  # the rest of the summary stays
    assert f"Emailed to {invoice.customer_email}." in row.message
    assert "FAILED" not in row.message and "SMTP down" not in row.message
    assert EmailDelivery.objects.get(invoice=invoice, kind="invoice").status == "FAILED"  # history kept


@pytest.mark.django_db
def test_a_failed_resend_does_not_change_the_order_message(tenant):
    from invoicing.deliveries import invoice_email_resend
    from invoicing.tasks import send_email_delivery

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = drive(job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER]))
    before = row_of(job).message
    assert "Emailed to" in before
    delivery = invoice_email_resend(
        invoice=Invoice.objects.get(pk=row_of(job).invoice_id), actor="admin:test"
    )

    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("SMTP down")):
        send_email_delivery.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert delivery.status == "FAILED"
    assert row_of(job).message == before  # the customer did get the first email
