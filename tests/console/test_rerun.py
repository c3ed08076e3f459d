"""The console's "Re-run the failed steps": Administrators only, for invoices issued before a later
step failed. The order then completes with the same number, charged and emailed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from integrations.models import GatewayCapture, StoredOrder
from invoicing.models import Invoice, InvoiceEvent
from jobs.models import InvoiceJob, JobOrder
from jobs.roles import ADMINISTRATORS, OPERATORS
from jobs.services import job_create_manual
from jobs.tasks import STEP_TASKS
from tests import factories
from tests.console.helpers import messages_of, user_make
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

BROKEN = factories.CARD_ORDER  # its PDF could not be written: the disk was full
MISSING = "NO-SUCH-ORDER"  # fails at validation, before any number


@dataclass
class Scene:
    job: InvoiceJob
    row: JobOrder  # BROKEN's
    invoice: Invoice  # BROKEN's, ISSUED without a PDF


def login(username: str, *groups: str, **fields: Any) -> Client:
    client = Client()
    client.force_login(user_make(username, *groups, **fields))
    return client


@pytest.fixture
def scene(tenant: Any) -> Scene:
    factories.orders_store(tenant, BROKEN)
    with mock.patch("invoicing.pdf.render_invoice_pdf", side_effect=OSError(28, "No space left on device")):
        job = drive(job_create_manual(tenant=tenant, order_ids=[BROKEN, MISSING]))
    row = JobOrder.objects.get(job=job, order_id=BROKEN)
    assert row.status == "FAILURE" and row.step == "render", row.message
    return Scene(job=job, row=row, invoice=Invoice.objects.get(pk=row.invoice_id))


def job_page(scene: Scene) -> str:
    return reverse("admin:jobs_invoicejob_change", args=[scene.job.pk])


def invoice_page(scene: Scene) -> str:
    return reverse("admin:invoicing_invoice_change", args=[scene.invoice.pk])


def job_rerun_url(scene: Scene) -> str:
    return reverse("admin:jobs_invoicejob_rerun", args=[scene.job.pk])


def invoice_rerun_url(scene: Scene) -> str:
    return reverse("admin:invoicing_invoice_rerun", args=[scene.invoice.pk])


def assert_completed_once(scene: Scene, tenant: Any) -> None:
    job = drive(scene.job)
    row = JobOrder.objects.get(pk=scene.row.pk)
    assert row.status == "SUCCESS", row.message
    assert (job.status, job.success_count, job.failure_count) == ("DONE", 1, 1)  # MISSING still failed
    invoice = Invoice.objects.get(pk=scene.invoice.pk)
    assert invoice.number == scene.invoice.number == "INV1001"
    assert invoice.pdf.read().startswith(b"%PDF")
    assert [m.attachments[0][0] for m in mail.outbox] == ["invoice-INV1001.pdf"]
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    assert StoredOrder.objects.get(tenant=tenant, order_id=BROKEN).invoice_number == "INV1001"


@pytest.mark.parametrize("page", [job_page, invoice_page])
def test_administrator_sees_the_rerun_button(scene: Scene, page: Any) -> None:
    html = login("administrator", ADMINISTRATORS).get(page(scene)).content.decode()

    assert 'id="rerun-failed-steps"' in html
    assert "Re-run the failed steps" in html


@pytest.mark.parametrize("page", [job_page, invoice_page])
def test_operator_does_not_see_the_rerun_button(scene: Scene, page: Any) -> None:
    response = login("operator", OPERATORS).get(page(scene))

    assert response.status_code == 200
    assert 'id="rerun-failed-steps"' not in response.content.decode()


@pytest.mark.parametrize("url", [job_rerun_url, invoice_rerun_url])
def test_operator_cannot_rerun(scene: Scene, url: Any) -> None:
    response = login("operator", OPERATORS).post(url(scene))

    assert response.status_code == 403
    assert JobOrder.objects.get(pk=scene.row.pk).status == "FAILURE"
    assert not InvoiceEvent.objects.filter(type="steps_rerun").exists()


def test_administrator_reruns_from_the_job_page_and_the_order_completes(scene: Scene, tenant: Any) -> None:
    client = login("administrator", ADMINISTRATORS)

    response = client.post(job_rerun_url(scene))

    assert response.status_code == 302 and response["Location"] == job_page(scene)
    assert messages_of(response) == [
        "The failed steps are being run again for invoice INV1001, with the same number. "
        "Reload this page to follow it."
    ]
    row = JobOrder.objects.get(pk=scene.row.pk)
    assert (row.status, row.step) == ("PENDING", "render")
    assert InvoiceJob.objects.get(pk=scene.job.pk).status == "IN_PROGRESS"
    event = InvoiceEvent.objects.get(type="steps_rerun")
    assert event.actor == "admin:administrator" and event.invoice_id == scene.invoice.pk
    assert_completed_once(scene, tenant)
    # nothing is left to re-run: the button is gone and a second press only says so
    assert 'id="rerun-failed-steps"' not in client.get(job_page(scene)).content.decode()
    again = client.post(job_rerun_url(scene))
    assert messages_of(again) == ["This job has no orders whose steps after numbering failed."]


def test_administrator_reruns_from_the_invoice_page(scene: Scene, tenant: Any) -> None:
    response = login("root", is_superuser=True).post(invoice_rerun_url(scene))

    assert response.status_code == 302 and response["Location"] == invoice_page(scene)
    assert messages_of(response) == [
        "The failed steps of invoice INV1001 are being run again. Reload this page to follow it."
    ]
    assert_completed_once(scene, tenant)


def test_rerun_enqueues_the_failed_step_after_commit(
    scene: Scene, django_capture_on_commit_callbacks: Any
) -> None:
    client = login("administrator", ADMINISTRATORS)
    with (
        mock.patch.object(STEP_TASKS["render"], "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(job_rerun_url(scene))

    scene.row.refresh_from_db()
    publish.assert_called_once_with(args=[scene.row.pk], task_id=str(scene.row.dispatch_id))


def test_retry_button_counts_only_the_orders_a_new_job_can_finish(scene: Scene) -> None:
    """The issued invoice is re-run in place; a retry job would only be told it is invoiced."""
    client = login("administrator", ADMINISTRATORS)

    html = client.get(job_page(scene)).content.decode()
    client.post(reverse("admin:jobs_invoicejob_retry_failed", args=[scene.job.pk]))

    assert "Retry the 1 failed order (new MANUAL job)" in html
    assert "Re-run the failed steps (1 issued invoice)" in html
    retry = InvoiceJob.objects.get(retry_of=scene.job)
    assert list(retry.orders.values_list("order_id", flat=True)) == [MISSING]
