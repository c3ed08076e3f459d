"""Correcting invoices in a real browser, as an Administrator does it: the invoice page with its
credit notes, the partial credit form (a refused request keeps its input), the cancel confirmation,
and the credit note's page with its PDF and refund. Screenshots of every step go to
test-artifacts/console-credit-notes/ (or $CONSOLE_SHOTS) for a person to look at.

Uses the browser of tests/console/test_browser.py (Debian's Chromium via Playwright, never downloaded).
No database query runs while the browser is open (see browser_page): the pipelines of the new credit
notes are driven between two browser sessions.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from playwright.sync_api import Page, expect

from invoicing.models import CreditNote, Invoice, Refund
from jobs.credit_notes import CreditLine, credit_note_request
from jobs.models import JobOrder
from jobs.roles import ADMINISTRATORS, roles_ensure
from jobs.services import job_create_manual
from tests import factories
from tests.console.test_browser import PASSWORD, browser_page
from tests.pipeline import drive
from tests.workers import REPO

ARTIFACTS = Path(os.environ.get("CONSOLE_SHOTS") or REPO / "test-artifacts" / "console-credit-notes")
CREDIT_NOTE_PAGE = re.compile(r"/admin/invoicing/creditnote/([0-9a-f-]{36})/change/$")


@dataclass
class Scene:
    invoice: Invoice  # paid by invoice, with an issued partial credit note CN1001 (line 1)
    captured: Invoice  # paid by card, captured: to be cancelled with a refund
    first: CreditNote


def issued(credit_note: CreditNote) -> CreditNote:
    drive(JobOrder.objects.get(credit_note=credit_note).job)
    credit_note.refresh_from_db()
    return credit_note


@pytest.fixture
def scene(transactional_db: Any) -> Iterator[Scene]:
    """An Administrator, two issued invoices and one credit note, committed: the live server's
    thread must see them. Nothing is published to a broker: the test drives the pipelines."""
    with mock.patch("celery.app.task.Task.apply_async"):
        roles_ensure()
        user = User.objects.create_user("ada", "ada@acme.example", PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=ADMINISTRATORS))
        tenant = factories.tenant_make("acme")
        factories.orders_store(tenant, factories.CARD_ORDER, factories.INVOICE_ORDER)
        drive(job_create_manual(tenant=tenant, order_ids=[factories.CARD_ORDER, factories.INVOICE_ORDER]))
        invoice = Invoice.objects.get(tenant=tenant, order_id=factories.INVOICE_ORDER)
        captured = Invoice.objects.get(tenant=tenant, order_id=factories.CARD_ORDER)
        first, _ = credit_note_request(
            tenant=tenant,
            invoice_number=invoice.number or "",
            reason="Damaged in transit",
            lines=[CreditLine(1, Decimal(1))],
            actor="admin:ada",
        )
        yield Scene(invoice=invoice, captured=captured, first=issued(first))


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Page) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("ada")


def test_administrator_credits_part_of_one_invoice_and_cancels_another(
    scene: Scene, live_server: Any
) -> None:
    invoice, captured = scene.invoice, scene.captured
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    invoice_page = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    captured_page = reverse("admin:invoicing_invoice_change", args=[captured.pk])
    first_page = reverse("admin:invoicing_creditnote_change", args=[scene.first.pk])

    with browser_page(live_server.url) as page:
        log_in(page)
        page.goto(invoice_page)
        section = page.locator("fieldset#credit-notes")
        expect(section).to_contain_text("CN1001")
        expect(section).to_contain_text("Damaged in transit")
        expect(page.locator(".field-credited")).to_contain_text("14.00 EUR")
        expect(page.locator(".field-left_to_credit")).to_contain_text("21.69 EUR")
        expect(page.locator(".field-status_label")).to_contain_text("Issued, partly credited")
        screenshot(page, "01-invoice-with-a-credit-note")

        page.click("#partial-credit")
        expect(page.locator("#line-2")).to_contain_text("Faust")
        expect(page.locator("#line-1")).to_contain_text("credited in full")  # CN1001 took it
        expect(page.locator("input[name=line_1]")).to_have_count(0)
        expect(page.locator("#left-to-credit")).to_have_text("21.69 EUR")
        screenshot(page, "02-partial-credit-form")

        page.fill("input[name=line_2]", "5")
        page.fill("textarea[name=reason]", "Two copies returned")
        page.click("#create-credit-note")
        expect(page.locator("#credit-refused")).to_contain_text("5 asked, but only 2 of 2 is left to credit")
        expect(page.locator("input[name=line_2]")).to_have_value("5")
        expect(page.locator("textarea[name=reason]")).to_have_value("Two copies returned")
        screenshot(page, "03-partial-credit-refused")

        page.fill("input[name=line_2]", "2")
        page.click("#create-credit-note")
        page.wait_for_url(CREDIT_NOTE_PAGE)
        partial_id = CREDIT_NOTE_PAGE.search(page.url).group(1)
        expect(page.locator(".messagelist .success")).to_contain_text(
            f"Credit note of invoice {invoice.number} requested: 9.99 EUR"
        )
        expect(page.locator(".field-status_label")).to_contain_text("Being issued")
        screenshot(page, "04-partial-credit-note-being-issued")

        page.goto(captured_page)
        page.click("#cancel-invoice")
        what = page.locator("#what-happens")
        expect(what).to_contain_text("everything left to credit: 179.88 EUR")
        expect(what).to_contain_text("179.88 EUR is paid back to the customer's payment")
        expect(page.locator("input[name=refund]")).to_be_checked()
        screenshot(page, "05-cancel-confirmation")
        page.fill("textarea[name=reason]", "Order cancelled by the customer")
        page.click("#confirm-cancel")
        page.wait_for_url(CREDIT_NOTE_PAGE)
        cancel_id = CREDIT_NOTE_PAGE.search(page.url).group(1)
        expect(page.locator(".messagelist .success")).to_contain_text(
            f"Cancellation of invoice {captured.number} requested: 179.88 EUR"
        )

    partial = issued(CreditNote.objects.get(pk=partial_id))
    cancellation = issued(CreditNote.objects.get(pk=cancel_id))
    assert (partial.number, partial.gross_total, partial.kind) == ("CN1002", Decimal("9.99"), "LINES")
    assert (cancellation.number, cancellation.kind) == ("CN1003", "FULL")
    assert Refund.objects.get(credit_note=cancellation).status == Refund.Status.REFUNDED
    cancellation_page = reverse("admin:invoicing_creditnote_change", args=[cancellation.pk])

    with browser_page(live_server.url) as page:
        log_in(page)
        page.goto(cancellation_page)
        expect(page.locator(".field-refund_state")).to_contain_text("Refunded")
        expect(page.locator(".field-refund_amount")).to_contain_text("179.88 EUR")
        expect(page.locator(".field-pipeline_state")).to_contain_text("Done")
        expect(page.locator("#credit-note-emails")).to_contain_text(captured.customer_email)
        expect(page.locator("#einvoice-facturx")).to_contain_text("valid: no fatal rule broken")
        pdf_frame = page.locator("iframe#credit-note-pdf")
        expect(pdf_frame).to_be_visible()
        page.wait_for_load_state("load")
        frame = pdf_frame.element_handle().content_frame()
        framed = frame.url if frame else ""
        screenshot(page, "06-credit-note-page")
        with page.expect_download() as download_info:
            page.click("#download-pdf")
        assert download_info.value.suggested_filename == "credit-note-CN1003.pdf"

        page.goto(captured_page)
        expect(page.locator(".field-status_label")).to_contain_text("Cancelled")
        expect(page.locator(".field-left_to_credit")).to_contain_text("0.00 EUR")
        expect(page.locator("#cancel-invoice")).to_have_count(0)
        screenshot(page, "07-invoice-cancelled")

        page.goto(first_page)
        expect(page.locator(".field-refund_state")).to_contain_text("Nothing refunded")
        screenshot(page, "08-partial-credit-note-page")

        page.goto(reverse("admin:invoicing_creditnote_changelist"))
        expect(page.locator("#result_list")).to_contain_text("CN1003")
        screenshot(page, "09-credit-note-list")

    # the page frames the PDF (a frame refused by X-Frame-Options shows as chrome-error://)
    assert framed.endswith(reverse("admin:invoicing_creditnote_pdf", args=[cancellation.pk]))
