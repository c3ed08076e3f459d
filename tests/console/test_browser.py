"""The operations console in a real browser, as an operator uses it.

Headless Chromium (Debian's package, started by Playwright; no browser is ever downloaded:
scripts/ensure-chromium installs the package) logs in, opens the job with a failed order,
retries it, opens an invoice and its PDF. A full-page screenshot of every step is saved under
test-artifacts/console/ so that a person can look at what the console shows.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Page, expect, sync_playwright
from pypdf import PdfReader

from invoicing.models import Invoice
from jobs.models import InvoiceJob, JobOrder
from jobs.roles import OPERATORS, roles_ensure
from jobs.services import job_create_manual
from tests import factories
from tests.pipeline import drive
from tests.workers import REPO

ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "console-test-password"
DECLINED_ORDER = "DEMO-1003"  # card payment, declined by the local gateway below
DECLINE_REASON = "Card expired"


def chromium_path() -> str:
    found = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed: run scripts/ensure-chromium (make test does)")
    return found


@dataclass
class Console:
    job: InvoiceJob
    invoice: Invoice
    published: mock.MagicMock  # Celery messages the test kept from reaching the broker


@pytest.fixture
def console(transactional_db: Any) -> Iterator[Console]:
    """An operator, and a finished job of two orders: one invoiced, one whose capture was declined.

    Replaces the package's `console` here: the live server's thread must see committed rows,
    not the rolled-back module data of tests/console/conftest.py.

    Nothing is published to the broker (no worker runs here): the test drives the job in
    process, and the live server's retry only has to create the new job.
    """
    with mock.patch("celery.app.task.Task.apply_async") as published:
        roles_ensure()
        operator = User.objects.create_user("olga", "olga@acme.example", PASSWORD, is_staff=True)
        operator.groups.add(Group.objects.get(name=OPERATORS))
        tenant = factories.tenant_make("acme")
        factories.orders_store(tenant, factories.CARD_ORDER, DECLINED_ORDER)
        factories.gateway_decline(tenant, DECLINED_ORDER, DECLINE_REASON)
        job = drive(
            job_create_manual(
                tenant=tenant, order_ids=[factories.CARD_ORDER, DECLINED_ORDER], requested_by="api:shop"
            )
        )
        assert (job.status, job.success_count, job.failure_count) == ("DONE", 1, 1)
        invoice = JobOrder.objects.get(job=job, order_id=factories.CARD_ORDER).invoice
        assert invoice is not None and invoice.pdf
        published.reset_mock()
        yield Console(job=job, invoice=invoice, published=published)


@contextlib.contextmanager
def browser_page(base_url: str) -> Iterator[Page]:
    """A page of a fresh headless Chromium. No database queries while it is open: Playwright
    runs an event loop in this thread, and Django would then open a second connection that
    nobody closes (asgiref keys connections by context, not only by thread, under a loop)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            base_url=base_url, viewport={"width": 1366, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_operator_retries_a_failed_order_and_opens_an_invoice(console: Console, live_server: Any):
    job, invoice = console.job, console.invoice
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    job_page = re.compile(r"/admin/jobs/invoicejob/([0-9a-f-]{36})/change/$")

    with browser_page(live_server.url) as page:
        page.goto("/admin/")
        expect(page).to_have_url("/admin/login/?next=/admin/")
        page.fill("#id_username", "olga")
        page.fill("#id_password", PASSWORD)
        screenshot(page, "01-login")
        page.click("input[type=submit]")
        expect(page.locator("#user-tools")).to_contain_text("olga")
        screenshot(page, "02-index")

        page.locator("#jobs-invoicejob").get_by_role("link", name="Invoice jobs").click()
        expect(page).to_have_url(reverse("admin:jobs_invoicejob_changelist"))
        expect(page.locator("#result_list")).to_contain_text("acme")
        screenshot(page, "03-jobs-list")

        page.get_by_role("link", name=str(job.pk)[:8], exact=True).click()
        expect(page).to_have_url(reverse("admin:jobs_invoicejob_change", args=[job.pk]))
        failed_row = page.locator("tr", has_text=DECLINED_ORDER)
        expect(failed_row).to_be_visible()
        expect(failed_row).to_contain_text(DECLINE_REASON)
        expect(page.locator("#retry-failed")).to_contain_text("Retry the 1 failed order")
        screenshot(page, "04-job-with-a-failed-order")

        page.click("#retry-failed")
        page.wait_for_url(lambda url: bool(job_page.search(url)) and str(job.pk) not in url)
        retry_id = job_page.search(page.url).group(1)
        expect(page.locator(".messagelist .success")).to_contain_text(
            f"The failed order is being retried as job {retry_id[:8]}"
        )
        expect(page.locator(".field-retry_trail")).to_contain_text(
            f"retries the failed orders of job {str(job.pk)[:8]}"
        )
        expect(page.locator("#retry-failed")).to_have_count(0)  # nothing has failed in the new job yet
        screenshot(page, "05-retry-started")

        page.goto(reverse("admin:jobs_invoicejob_change", args=[job.pk]))
        page.get_by_role("link", name=invoice.number, exact=True).click()
        expect(page).to_have_url(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
        pdf_frame = page.locator("iframe#invoice-pdf")
        expect(pdf_frame).to_be_visible()
        source = pdf_frame.get_attribute("src")
        assert source == reverse("admin:invoicing_invoice_pdf", args=[invoice.pk])
        answer = page.request.get(source)
        assert answer.ok and answer.headers["content-type"] == "application/pdf"
        assert answer.body().startswith(b"%PDF")
        page.wait_for_load_state("load")  # the page's load event waits for its iframe too
        frame = pdf_frame.element_handle().content_frame()
        pdf_frame_url = frame.url if frame else ""
        screenshot(page, "06-invoice-with-pdf")

        with page.expect_download() as download_info:
            page.click("#download-pdf")
        download = download_info.value
        assert download.suggested_filename == f"invoice-{invoice.number}.pdf"
        saved = ARTIFACTS / download.suggested_filename
        download.save_as(saved)
        assert invoice.number in PdfReader(saved).pages[0].extract_text()

        page.goto(reverse("admin:tenants_tenant_change", args=[job.tenant_id]))
        payment_and_vat = page.locator("fieldset", has_text="Payment and VAT")
        expect(payment_and_vat).to_contain_text("Payment days")
        expect(payment_and_vat).to_contain_text("VAT treatments")
        screenshot(page, "07-tenant-payment-and-vat")

    retry = InvoiceJob.objects.get(pk=retry_id)
    assert (retry.job_type, retry.total_count, retry.requested_by) == ("MANUAL", 1, "admin:olga")
    assert list(retry.orders.values_list("order_id", flat=True)) == [DECLINED_ORDER]
    started = [call.args[0] for call in console.published.call_args_list]
    assert started == [(retry_id,)]  # start_job, on commit; no worker runs here

    # The invoice page frames the PDF (a frame refused by X-Frame-Options shows as chrome-error://).
    assert pdf_frame_url.endswith(source)
