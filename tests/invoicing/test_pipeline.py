"""The pipeline of one order, step by step: what a user of the API and an operator would notice."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail

from core.errors import TransientError
from integrations.local.adapters import LocalPaymentGateway
from integrations.models import GatewayCapture, NumberSeries, StoredOrder
from integrations.ports import CaptureStatus
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, PaymentCapture
from invoicing.order_store import stored_order_upsert
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual
from jobs.tasks import STEP_TASKS
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db


def job_for(tenant, *order_ids):
    return job_create_manual(tenant=tenant, order_ids=list(order_ids))


def result(job: InvoiceJob, order_id: str) -> JobOrder:
    return JobOrder.objects.select_related("invoice").get(job=job, order_id=order_id)


def test_pipeline_card_order_is_captured_numbered_rendered_and_emailed(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)

    job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert job.status == "DONE" and (job.success_count, job.failure_count) == (1, 0)
    assert row.status == "SUCCESS", row.message
    invoice = row.invoice
    assert invoice.number == "INV1001"
    assert invoice.gross_total == Decimal("179.88")
    assert "Invoice INV1001 created (179.88 EUR)" in row.message
    assert "Payment of 179.88 EUR captured" in row.message
    capture = PaymentCapture.objects.get(tenant=tenant, order_id=factories.CARD_ORDER)
    assert capture.status == "CAPTURED" and capture.amount == Decimal("179.88")
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    assert invoice.pdf.read().startswith(b"%PDF")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [invoice.customer_email]
    assert message.attachments[0][0] == "invoice-INV1001.pdf"
    assert message.attachments[0][2] == "application/pdf"
    invoice.pdf.open("rb")
    assert message.attachments[0][1] == invoice.pdf.read()  # the stored bytes, not a new render
    stored = StoredOrder.objects.get(tenant=tenant, order_id=factories.CARD_ORDER)
    assert stored.invoice_number == "INV1001"
    assert stored.document["mixins"]["invoice"]["invoiceNo"] == "INV1001"
    assert invoice.lines.count() == 3 and invoice.tax_lines.count() == 1


def test_pipeline_invoice_payment_needs_no_capture(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)

    job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "SUCCESS", row.message
    assert "captured" not in row.message
    assert PaymentCapture.objects.get(order_id=factories.INVOICE_ORDER).status == "NOT_REQUIRED"
    assert not GatewayCapture.objects.exists()


def test_validation_unknown_order_fails_without_number_or_charge(tenant):
    job = drive(job_for(tenant, "NO-SUCH-ORDER"))

    row = result(job, "NO-SUCH-ORDER")
    assert job.status == "DONE" and job.failure_count == 1
    assert row.status == "FAILURE" and row.message == "Order NO-SUCH-ORDER not found."
    assert factories.invoice_series(tenant).counter is None


def test_validation_second_job_for_invoiced_order_names_the_invoice(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    drive(job_for(tenant, factories.CARD_ORDER))

    second = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(second, factories.CARD_ORDER)
    assert row.status == "FAILURE"
    assert "already invoiced: invoice INV1001" in row.message
    assert Invoice.objects.filter(tenant=tenant).count() == 1
    assert factories.invoice_series(tenant).counter == 1001  # no second number
    assert GatewayCapture.objects.count() == 1  # nothing charged again
    assert len(mail.outbox) == 1


def test_validation_order_marked_invoiced_elsewhere_fails(tenant):
    document = factories.demo_order(factories.INVOICE_ORDER)
    document["mixins"]["invoice"] = {"invoiceNo": "LEGACY-7", "invoiceDocument": "https://old.example/7.pdf"}
    from invoicing.order_store import stored_order_upsert

    stored_order_upsert(tenant=tenant, order_id=factories.INVOICE_ORDER, document=document)

    job = drive(job_for(tenant, factories.INVOICE_ORDER))

    assert "already invoiced: invoice LEGACY-7" in result(job, factories.INVOICE_ORDER).message


def test_validation_order_pending_in_another_job_is_not_started_twice(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    first = job_for(tenant, factories.CARD_ORDER)
    STEP_TASKS["validate"].apply(args=[result(first, factories.CARD_ORDER).pk])  # first job holds the order

    second = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(second, factories.CARD_ORDER)
    assert row.status == "FAILURE"
    assert f"being invoiced by job {first.pk}" in row.message
    drive(first)
    assert result(first, factories.CARD_ORDER).status == "SUCCESS"
    assert GatewayCapture.objects.count() == 1


def test_recalculation_mismatch_fails_before_capture_with_both_figures(tenant):
    document = factories.demo_order(factories.CARD_ORDER)
    document["calculatedPrice"]["finalPrice"]["grossValue"] = 199.88
    from invoicing.order_store import stored_order_upsert

    stored_order_upsert(tenant=tenant, order_id=factories.CARD_ORDER, document=document)

    job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert row.status == "FAILURE"
    assert "gross total 179.88 EUR recalculated, order says 199.88 EUR" in row.message
    assert not GatewayCapture.objects.exists()
    assert factories.invoice_series(tenant).counter is None


def test_capture_declined_fails_the_order_and_burns_no_number(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    factories.gateway_decline(tenant, factories.CARD_ORDER, "Insufficient funds")

    job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert row.status == "FAILURE"
    assert row.message == "Payment capture declined: Insufficient funds"
    assert row.step == "capture"
    assert factories.invoice_series(tenant).counter is None
    assert not mail.outbox
    assert InvoiceEvent.objects.filter(type="capture_declined").exists()


def test_capture_retry_after_decline_needs_a_new_authorisation_and_then_captures_with_a_new_key(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    factories.gateway_decline(tenant, factories.CARD_ORDER, "Insufficient funds")
    drive(job_for(tenant, factories.CARD_ORDER))
    factories.gateway_decline(tenant, factories.CARD_ORDER, "")

    # the same authorisation: the key is the same, the gateway is not asked again (no pile-up)
    same = drive(job_for(tenant, factories.CARD_ORDER))
    assert result(same, factories.CARD_ORDER).status == "FAILURE"
    assert GatewayCapture.objects.count() == 1

    # the shop obtains a new authorisation (a new transaction): a new key, and the capture goes through
    document = factories.demo_order(factories.CARD_ORDER)
    document["payments"][0]["transactionId"] = f"{tenant.code}-reauthorised"
    stored_order_upsert(tenant=tenant, order_id=factories.CARD_ORDER, document=document)
    retry = drive(job_for(tenant, factories.CARD_ORDER))

    assert result(retry, factories.CARD_ORDER).status == "SUCCESS"
    capture = PaymentCapture.objects.get(order_id=factories.CARD_ORDER)
    assert capture.attempt >= 2 and capture.transaction_id == f"{tenant.code}-reauthorised"
    assert GatewayCapture.objects.filter(successful=True).count() == 1


def test_capture_timeout_then_gateway_says_captured_is_not_charged_again(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    real_capture = LocalPaymentGateway.capture
    calls = {"n": 0}

    def capture_then_time_out(self, **kwargs):
        calls["n"] += 1
        real_capture(self, **kwargs)
        if calls["n"] == 1:
            raise TransientError("Payment gateway timed out")  # it was done, but the answer was lost
        raise AssertionError("captured a second time")

    with mock.patch.object(LocalPaymentGateway, "capture", capture_then_time_out):
        job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert row.status == "SUCCESS", row.message
    assert calls["n"] == 1  # the retry asked the gateway instead of capturing again
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    capture = PaymentCapture.objects.get(order_id=factories.CARD_ORDER)
    assert capture.status == "CAPTURED" and capture.message.startswith("resolved")


def test_capture_timeout_then_gateway_says_not_captured_captures_once(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    calls = {"n": 0}
    real_capture = LocalPaymentGateway.capture

    def flaky(self, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("Payment gateway timed out")  # never reached the gateway
        return real_capture(self, **kwargs)

    statuses = []
    real_status = LocalPaymentGateway.capture_status

    def spy_status(self, **kwargs):
        answer: CaptureStatus = real_status(self, **kwargs)
        statuses.append(answer.captured)
        return answer

    with (
        mock.patch.object(LocalPaymentGateway, "capture", flaky),
        mock.patch.object(LocalPaymentGateway, "capture_status", spy_status),
    ):
        job = drive(job_for(tenant, factories.CARD_ORDER))

    assert result(job, factories.CARD_ORDER).status == "SUCCESS"
    assert statuses == [False]  # asked once, before capturing again
    assert calls["n"] == 2
    assert GatewayCapture.objects.filter(successful=True).count() == 1


def test_transient_fault_retries_then_fails_with_an_honest_message(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch(
        "integrations.local.adapters.LocalOrderSource.get_order",
        side_effect=TransientError("Order service: 503"),
    ):
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "FAILURE"
    assert row.message == "Validation failed after 4 attempts: Order service: 503"
    assert job.status == "DONE"


def test_unexpected_error_fails_the_order_without_leaking_details(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch(
        "invoicing.steps.recalculate.recalculate", side_effect=ZeroDivisionError("secret internals")
    ):
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "FAILURE"
    assert "Recalculation failed: internal error (ZeroDivisionError)" in row.message
    assert "secret internals" not in row.message


def test_series_used_up_fails_after_capture_and_keeps_the_capture(tenant):
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(
        start_value=1000, max_value=1001, counter=1001
    )
    factories.orders_store(tenant, factories.CARD_ORDER)

    job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert row.status == "FAILURE"
    assert "is used up (maxValue 1001 reached)" in row.message
    assert PaymentCapture.objects.get(order_id=factories.CARD_ORDER).status == "CAPTURED"

    # once the series is extended, a retry job finishes the order without charging again
    NumberSeries.objects.filter(tenant=tenant, name="invoiceNoSequence").update(max_value=9999)
    retry = drive(job_for(tenant, factories.CARD_ORDER))
    assert result(retry, factories.CARD_ORDER).invoice.number == "INV1002"
    assert GatewayCapture.objects.filter(successful=True).count() == 1


def test_email_failure_keeps_the_invoice_and_reports_the_email(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("SMTP down")):
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "SUCCESS"
    assert "Invoice INV1001 created" in row.message
    assert "FAILED" in row.message and "SMTP down" in row.message
    delivery = EmailDelivery.objects.get(invoice=row.invoice)
    assert delivery.status == "FAILED" and delivery.attempts == 4


def test_email_step_redelivered_after_send_does_not_send_again(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = job_for(tenant, factories.INVOICE_ORDER)
    row = result(job, factories.INVOICE_ORDER)
    for step in ("validate", "recalculate", "capture", "issue", "render", "email"):
        STEP_TASKS[step].apply(args=[row.pk])
    STEP_TASKS["email"].apply(args=[row.pk])  # a redelivered message
    STEP_TASKS["render"].apply(args=[row.pk])

    drive(job)

    assert len(mail.outbox) == 1
    assert result(job, factories.INVOICE_ORDER).status == "SUCCESS"


def test_email_interrupted_mid_send_is_not_repeated(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = job_for(tenant, factories.INVOICE_ORDER)
    row = result(job, factories.INVOICE_ORDER)
    for step in ("validate", "recalculate", "capture", "issue", "render"):
        STEP_TASKS[step].apply(args=[row.pk])
    # the worker died after claiming the delivery, possibly after handing the mail over
    invoice = Invoice.objects.get(pk=result(job, factories.INVOICE_ORDER).invoice_id)
    EmailDelivery.objects.create(
        invoice=invoice, kind="invoice", recipient=invoice.customer_email, status="SENDING"
    )

    drive(job)

    assert not mail.outbox
    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "SUCCESS"
    assert "outcome unknown" in row.message


def test_every_step_is_reentrant(tenant):
    from invoicing.steps import capture, email, issue, recalculate, render

    factories.orders_store(tenant, factories.CARD_ORDER)
    job = drive(job_for(tenant, factories.CARD_ORDER))
    row = result(job, factories.CARD_ORDER)
    before = (
        factories.invoice_series(tenant).counter,
        GatewayCapture.objects.count(),
        len(mail.outbox),
    )

    # validation (claim) of a finished order is a new job's business (tested above)
    for service in (
        recalculate.invoice_recalculate,
        capture.payment_capture,
        issue.invoice_issue,
        render.invoice_render,
        email.invoice_email,
    ):
        service(job_order=row)

    assert (
        factories.invoice_series(tenant).counter,
        GatewayCapture.objects.count(),
        len(mail.outbox),
    ) == before
    assert Invoice.objects.get(pk=row.invoice_id).number == "INV1001"


def test_duplicate_order_ids_in_one_job_are_processed_once(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)

    job = drive(job_for(tenant, factories.INVOICE_ORDER, factories.INVOICE_ORDER))

    assert job.total_count == 1
    assert JobOrder.objects.filter(job=job).count() == 1
    assert len(mail.outbox) == 1


def test_failed_orders_do_not_consume_numbers_gapless_series(tenant):
    factories.orders_store(tenant, "DEMO-1001", "DEMO-1002", "DEMO-1003")
    factories.gateway_decline(tenant, "DEMO-1001")

    job = drive(job_for(tenant, "DEMO-1001", "MISSING", "DEMO-1002", "DEMO-1003"))

    numbers = sorted(Invoice.objects.filter(tenant=tenant, status="ISSUED").values_list("number", flat=True))
    assert numbers == ["INV1001", "INV1002"]
    assert (job.success_count, job.failure_count, job.status) == (2, 2, "DONE")


def test_reconciler_redispatches_orders_whose_step_stopped_moving(tenant, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    from jobs.services import stuck_job_orders_redispatch

    factories.orders_store(tenant, factories.INVOICE_ORDER, "DEMO-1003")
    job = job_for(tenant, factories.INVOICE_ORDER, "DEMO-1003")
    stuck = result(job, factories.INVOICE_ORDER)
    JobOrder.objects.filter(pk=stuck.pk).update(
        step="capture", step_started_at=timezone.now() - dt.timedelta(hours=1)
    )
    sent = []
    capture = mock.Mock(apply_async=lambda args, task_id: sent.append(args[0]))
    with mock.patch.dict(STEP_TASKS, {"capture": capture}), django_capture_on_commit_callbacks(execute=True):
        count = stuck_job_orders_redispatch(older_than=dt.timedelta(minutes=10))

    assert count == 1 and sent == [stuck.pk]  # the fresh one is left alone
    stuck.refresh_from_db()
    assert stuck.step_started_at > timezone.now() - dt.timedelta(minutes=1)  # not re-sent on every sweep


def test_sender_address_comes_from_the_configuration_key_when_set(tenant):
    from integrations.models import Configuration

    Configuration.objects.create(tenant=tenant, key="cust.notification.email.from", value="shop@acme.example")
    factories.orders_store(tenant, factories.INVOICE_ORDER)

    drive(job_for(tenant, factories.INVOICE_ORDER))

    assert mail.outbox[0].from_email == "shop@acme.example"


def test_sender_address_falls_back_to_the_tenant(tenant):
    factories.orders_store(tenant, factories.INVOICE_ORDER)

    drive(job_for(tenant, factories.INVOICE_ORDER))

    assert mail.outbox[0].from_email == "billing@acme.example"


def test_start_job_repeated_sends_only_orders_that_never_started(tenant, django_capture_on_commit_callbacks):
    from jobs.services import job_start

    factories.orders_store(tenant, factories.INVOICE_ORDER, "DEMO-1003")
    job = job_for(tenant, factories.INVOICE_ORDER, "DEMO-1003")
    STEP_TASKS["validate"].apply(args=[result(job, factories.INVOICE_ORDER).pk])  # now at recalculate
    sent = []
    spies = {
        step: mock.Mock(apply_async=lambda args, task_id, step=step: sent.append((step, args[0])))
        for step in STEP_TASKS
    }
    with mock.patch.dict(STEP_TASKS, spies), django_capture_on_commit_callbacks(execute=True):
        job_start(job_id=job.pk)  # a redelivered start_job

    assert sent == [("validate", result(job, "DEMO-1003").pk)]  # the started one is left alone


@pytest.mark.django_db(transaction=True)
def test_local_gateway_concurrent_captures_with_one_key_charge_once():
    import threading

    from django.db import connection

    tenant = factories.tenant_make("racing")
    factories.orders_store(tenant, factories.CARD_ORDER)
    from integrations.models import GatewayTransaction

    transaction_id = GatewayTransaction.objects.get(tenant=tenant).transaction_id
    answers = []
    barrier = threading.Barrier(4)

    def capture() -> None:
        try:
            barrier.wait()
            answers.append(
                LocalPaymentGateway(tenant).capture(
                    transaction_id=transaction_id,
                    amount=Decimal("179.88"),
                    currency="EUR",
                    idempotency_key="k-1",
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=capture) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(answers) == 4
    assert {a.successful for a in answers} == {True}
    assert len({a.capture_id for a in answers}) == 1
    assert GatewayCapture.objects.count() == 1


def test_resend_with_the_mail_server_down_retries_then_marks_the_delivery_failed(tenant):
    from invoicing.deliveries import invoice_email_resend
    from invoicing.tasks import send_email_delivery

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    invoice = result(drive(job_for(tenant, factories.INVOICE_ORDER)), factories.INVOICE_ORDER).invoice
    delivery = invoice_email_resend(invoice=invoice, actor="test")

    with mock.patch(
        "django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("SMTP down")
    ) as send:
        send_email_delivery.apply(args=[delivery.pk])

    delivery.refresh_from_db()
    assert send.call_count == 4  # the first try and three retries (INVOICE_STEP_MAX_RETRIES in tests)
    assert delivery.status == "FAILED"
    assert delivery.error.startswith("Email failed after 4 attempts: Email to")
    assert "SMTP down" in delivery.error
    assert len(mail.outbox) == 1  # only the pipeline's own email went out


# --- failures after numbering, re-run from the console -----------------------------------------
def test_render_failure_after_numbering_keeps_the_invoice_and_a_rerun_completes_it(tenant):
    from jobs.services import job_order_resume_after_issue

    factories.orders_store(tenant, factories.CARD_ORDER)
    with mock.patch("invoicing.pdf.render_invoice_pdf", side_effect=OSError(28, "No space left on device")):
        job = drive(job_for(tenant, factories.CARD_ORDER))

    row = result(job, factories.CARD_ORDER)
    assert (job.status, job.failure_count) == ("DONE", 1)  # polling ends
    assert row.status == "FAILURE" and row.step == "render"
    assert row.message.startswith("Invoice INV1001 was issued, but the PDF could not be created:")
    assert "internal error (OSError)" in row.message
    assert "An administrator can re-run the failed steps" in row.message
    invoice = Invoice.objects.get(pk=row.invoice_id)
    assert (invoice.status, invoice.number, bool(invoice.pdf)) == ("ISSUED", "INV1001", False)
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    assert not mail.outbox
    assert StoredOrder.objects.get(tenant=tenant, order_id=factories.CARD_ORDER).invoice_number in ("", None)
    # a retry job cannot finish it (the order is invoiced), so it is not offered one
    from jobs.services import job_retry_failed

    assert job_retry_failed(job=job, actor="test") is None

    # the disk has room again: an administrator re-runs the failed steps
    assert job_order_resume_after_issue(job_order=row, actor="admin:root") is True
    job.refresh_from_db()
    assert (job.status, job.failure_count, job.finished_at) == ("IN_PROGRESS", 0, None)
    assert job_order_resume_after_issue(job_order=row, actor="admin:other") is False  # once only
    job = drive(job)

    row = result(job, factories.CARD_ORDER)
    assert (job.status, job.success_count, job.failure_count) == ("DONE", 1, 0)
    assert row.status == "SUCCESS", row.message
    assert "Invoice INV1001 created (179.88 EUR)" in row.message
    invoice.refresh_from_db()
    assert invoice.number == "INV1001" and invoice.pdf.read().startswith(b"%PDF")
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][0] == "invoice-INV1001.pdf"
    assert GatewayCapture.objects.filter(successful=True).count() == 1  # not charged again
    assert factories.invoice_series(tenant).counter == 1001  # no second number
    assert StoredOrder.objects.get(tenant=tenant, order_id=factories.CARD_ORDER).invoice_number == "INV1001"
    event = InvoiceEvent.objects.get(type="steps_rerun")
    assert event.actor == "admin:root" and event.invoice_id == invoice.pk and event.data["step"] == "render"


def test_write_back_failure_fails_the_order_and_a_rerun_writes_back_without_a_second_email(tenant):
    from core.errors import PermanentError
    from jobs.services import job_order_resume_after_issue

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch(
        "integrations.local.adapters.LocalOrderSource.mark_invoiced",
        side_effect=PermanentError("Order service answered 403: missing scope order.order_update"),
    ):
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "FAILURE" and row.step == "finish"
    assert row.message.startswith(
        "Invoice INV1001 was issued, but writing the invoice back onto the order failed: "
        "Order service answered 403: missing scope order.order_update."
    )
    assert InvoiceEvent.objects.filter(type="write_back_failed", order_id=factories.INVOICE_ORDER).exists()
    assert len(mail.outbox) == 1  # the invoice was emailed before the write-back

    assert job_order_resume_after_issue(job_order=row, actor="admin:root")
    job = drive(job)

    row = result(job, factories.INVOICE_ORDER)
    assert row.status == "SUCCESS", row.message
    assert row.invoice.number == "INV1001"
    assert len(mail.outbox) == 1  # not emailed twice
    stored = StoredOrder.objects.get(tenant=tenant, order_id=factories.INVOICE_ORDER)
    assert stored.document["mixins"]["invoice"]["invoiceNo"] == "INV1001"


def test_resume_refuses_orders_that_did_not_fail_after_numbering(tenant):
    from jobs.services import job_order_resume_after_issue

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    job = drive(job_for(tenant, factories.INVOICE_ORDER, "NO-SUCH-ORDER"))

    for order_id in (factories.INVOICE_ORDER, "NO-SUCH-ORDER"):  # a success; a failure before numbering
        assert job_order_resume_after_issue(job_order=result(job, order_id), actor="admin:root") is False
    job.refresh_from_db()
    assert (job.status, job.success_count, job.failure_count) == ("DONE", 1, 1)
    assert not InvoiceEvent.objects.filter(type="steps_rerun").exists()


# --- time limits ---------------------------------------------------------------------------------
def test_soft_time_limit_before_numbering_fails_the_order_after_one_attempt(tenant, settings):
    from celery.exceptions import SoftTimeLimitExceeded

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch("invoicing.steps.recalculate.recalculate", side_effect=SoftTimeLimitExceeded()) as recalc:
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert recalc.call_count == 1  # not retried
    assert row.status == "FAILURE" and job.status == "DONE"
    assert row.message == (
        f"Recalculation exceeded its time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped. "
        "It is not retried: the same work would run out of time again."
    )
    assert factories.invoice_series(tenant).counter is None


def test_soft_time_limit_while_rendering_keeps_the_number_and_says_so(tenant, settings):
    from celery.exceptions import SoftTimeLimitExceeded

    factories.orders_store(tenant, factories.INVOICE_ORDER)
    with mock.patch("invoicing.pdf.render_invoice_pdf", side_effect=SoftTimeLimitExceeded()) as render:
        job = drive(job_for(tenant, factories.INVOICE_ORDER))

    row = result(job, factories.INVOICE_ORDER)
    assert render.call_count == 1
    assert row.status == "FAILURE" and row.step == "render"
    assert row.message.startswith(
        "Invoice INV1001 was issued, but the PDF could not be created: PDF creation exceeded its time "
        f"limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s"
    )
    assert row.invoice.status == "ISSUED"
