"""The invoice page's e-invoice section in a real browser: every format downloads, the validation
outcome is readable. Screenshots go to test-artifacts/console-einvoice/ for a person to look at.

Uses the browser of tests/console/test_browser.py (Debian's Chromium via Playwright, never downloaded).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from unittest import mock

import facturx
import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from lxml import etree
from playwright.sync_api import expect

from invoicing.einvoice import FORMATS
from invoicing.einvoice.validation import Finding, ValidationReport
from invoicing.models import Invoice
from jobs.models import JobOrder
from jobs.roles import OPERATORS, roles_ensure
from jobs.services import job_create_manual
from tests import factories
from tests.console.test_browser import PASSWORD, browser_page
from tests.pipeline import drive
from tests.workers import REPO

ARTIFACTS = REPO / "test-artifacts" / "console-einvoice"


@pytest.fixture
def issued(transactional_db: Any) -> Iterator[Invoice]:
    """An operator and an issued invoice, committed: the live server's thread must see them."""
    with mock.patch("celery.app.task.Task.apply_async"):
        roles_ensure()
        operator = User.objects.create_user("olga", "olga@acme.example", PASSWORD, is_staff=True)
        operator.groups.add(Group.objects.get(name=OPERATORS))
        tenant = factories.tenant_make("acme")
        factories.orders_store(tenant, factories.INVOICE_ORDER)
        job = drive(job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER]))
        invoice = JobOrder.objects.get(job=job, order_id=factories.INVOICE_ORDER).invoice
        assert invoice is not None and invoice.pdf
        yield invoice


def test_operator_downloads_every_format_and_reads_the_outcome(issued: Invoice, live_server: Any) -> None:
    invoice = issued
    # One format rejected, to see how a failing rule reads (the pipeline stores valid reports).
    rejected = ValidationReport(
        fmt="xrechnung-cii",
        findings=(
            Finding(
                rule="BR-DE-15",
                flag="fatal",
                text="Das Element 'Buyer reference' (BT-10) muss übermittelt werden.",
                rule_set="XRechnung CII",
            ),
            Finding(rule="BR-DE-21", flag="warning", text="A warning.", rule_set="XRechnung CII"),
        ),
    )
    report = {**invoice.einvoice_report, "xrechnung-cii": rejected.to_json()}
    Invoice.objects.filter(pk=invoice.pk).update(einvoice_report=report)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    downloads: dict[str, bytes] = {}

    with browser_page(live_server.url) as page:
        page.goto("/admin/login/")
        page.fill("#id_username", "olga")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.goto(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
        section = page.locator("fieldset#einvoice")
        expect(section).to_be_visible()
        expect(page.locator("#einvoice-facturx")).to_contain_text("valid: no fatal rule broken")
        expect(page.locator("#einvoice-xrechnung-cii")).to_contain_text("rejected: 1 fatal rule broken")
        expect(page.locator("#einvoice-xrechnung-cii")).to_contain_text("BR-DE-15")
        expect(page.locator("#einvoice-peppol-bis")).to_contain_text("not validated at issue")
        section.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "01-invoice-einvoice-section.png"), full_page=True)
        section.screenshot(path=str(ARTIFACTS / "02-einvoice-section.png"))

        for name in ("facturx-pdf", *FORMATS):
            with page.expect_download() as download_info:
                page.click(f"#download-{name}")
            download = download_info.value
            saved = ARTIFACTS / download.suggested_filename
            download.save_as(saved)
            downloads[download.suggested_filename] = saved.read_bytes()

    number = invoice.number
    assert set(downloads) == {f"invoice-{number}.pdf", *(f"{number}-{fmt}.xml" for fmt in FORMATS)}
    _name, embedded = facturx.get_xml_from_pdf(downloads[f"invoice-{number}.pdf"], check_xsd=False)
    assert embedded == downloads[f"{number}-facturx.xml"]
    for fmt in FORMATS:
        root = etree.fromstring(downloads[f"{number}-{fmt}.xml"])
        assert root.tag.endswith(("}CrossIndustryInvoice", "}Invoice")), fmt
