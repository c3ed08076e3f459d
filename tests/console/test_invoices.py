"""The invoices pages: the PDF (inline and download), the list's search and filters, issued
invoices that nobody can change, and "Resend the invoice email" (audited)."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from unittest import mock

import pytest
from django.contrib.admin.sites import site
from django.core import mail
from django.test import Client
from django.urls import reverse

from invoicing.models import EmailDelivery, Invoice, InvoiceEvent
from invoicing.tasks import send_email_delivery
from tests.console.helpers import (
    CAPTURED,
    DECLINED,
    PAGES,
    Console,
    admin_request,
    has_save_button,
    login,
    messages_of,
    resend_url,
    rows,
)

pytestmark = pytest.mark.django_db


def test_invoice_pdf_inline_and_download(console: Console, operator: Client) -> None:
    url = reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk])
    stored = console.invoice.pdf.open("rb").read()
    console.invoice.pdf.close()

    inline = operator.get(url)
    download = operator.get(url + "?download=1")

    for response in (inline, download):
        assert response["Content-Type"] == "application/pdf"
        assert response.getvalue() == stored
    filename = f'filename="invoice-{console.invoice.number}.pdf"'
    assert inline["Content-Disposition"] == f"inline; {filename}"
    assert download["Content-Disposition"] == f"attachment; {filename}"


def test_invoice_pdf_of_a_draft_is_not_found(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)
    assert draft.status == Invoice.Status.DRAFT

    response = operator.get(reverse("admin:invoicing_invoice_pdf", args=[draft.pk]))

    assert response.status_code == 404


def test_invoice_page_shows_figures_pdf_and_buttons(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["invoice page"](console))

    html = response.content.decode()
    pdf_url = reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk])
    assert re.search(rf'<iframe id="invoice-pdf"[^>]*src="{re.escape(pdf_url)}"', html)
    assert f'href="{pdf_url}?download=1" id="download-pdf"' in html
    assert 'id="resend-email"' in html
    for value in (console.invoice.number, console.invoice.customer_name, "EUR", "not needed", "sent"):
        assert value in html
    assert not has_save_button(response)


def test_invoice_list_shows_capture_and_email_status(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["invoices"](console) + "?status__exact=ISSUED")

    html = response.content.decode()
    by_number = {row.number: row for row in rows(response)}
    assert set(by_number) >= {console.invoice.number, console.captured_invoice.number}
    assert by_number[console.captured_invoice.number].capture_status == "CAPTURED"
    assert by_number[console.invoice.number].email_status == "SENT"
    assert "captured" in html and "not needed" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda c: c.invoice.number, lambda c: [c.invoice]),
        (lambda c: CAPTURED, lambda c: [c.captured_invoice]),
        (lambda c: c.invoice.customer_email, lambda c: [c.invoice]),
        (lambda c: "INV", lambda c: []),
    ],
    ids=["number", "order id", "customer email", "partial number"],
)
def test_invoice_list_search_finds_exact_values(
    console: Console, operator: Client, query: Any, expected: Any
) -> None:
    response = operator.get(PAGES["invoices"](console), {"q": query(console)})

    assert [invoice.pk for invoice in rows(response)] == [invoice.pk for invoice in expected(console)]


def test_invoice_list_filters_by_status_and_tenant(console: Console, operator: Client) -> None:
    drafts = operator.get(PAGES["invoices"](console), {"status__exact": "DRAFT"})
    other = operator.get(PAGES["invoices"](console), {"tenant__id__exact": console.other_tenant.pk})

    assert [invoice.order_id for invoice in rows(drafts)] == [DECLINED]
    assert rows(other) == []


@pytest.mark.parametrize("user", ["operator", "administrator", "superuser"])
def test_issued_invoice_cannot_be_edited_or_deleted_by_anyone(console: Console, user: str) -> None:
    person = getattr(console, user)
    request = admin_request(person)
    invoice_admin = site.get_model_admin(Invoice)
    client = login(person)
    change_url = PAGES["invoice page"](console)

    deleted = client.post(
        reverse("admin:invoicing_invoice_delete", args=[console.invoice.pk]), {"post": "yes"}
    )
    changed = client.post(change_url, {"number": "HACKED", "customer_name": "Nobody"})
    added = client.get(reverse("admin:invoicing_invoice_add"))
    bulk = client.post(
        PAGES["invoices"](console),
        {"action": "delete_selected", "_selected_action": [console.invoice.pk], "post": "yes", "index": 0},
    )

    assert not invoice_admin.has_delete_permission(request, console.invoice)
    assert not invoice_admin.has_change_permission(request, console.invoice)
    assert not invoice_admin.has_add_permission(request)
    assert deleted.status_code == 403 and changed.status_code == 403 and added.status_code == 403
    assert "delete_selected" not in invoice_admin.get_actions(request)
    assert bulk.status_code in (200, 302)
    assert not has_save_button(client.get(change_url))
    invoice = Invoice.objects.get(pk=console.invoice.pk)
    assert (invoice.number, invoice.customer_name) == (console.invoice.number, console.invoice.customer_name)


def test_resend_email_sends_the_stored_pdf_as_a_new_delivery(
    console: Console, operator: Client, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = console.invoice
    pdf_name, pdf_sha = invoice.pdf.name, invoice.pdf_sha256
    stored = invoice.pdf.open("rb").read()
    invoice.pdf.close()

    with (
        mock.patch.object(send_email_delivery, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = operator.post(resend_url(invoice))
    delivery = EmailDelivery.objects.get(invoice=invoice, kind="resend-1")
    delay.assert_called_once_with(delivery.pk)
    assert send_email_delivery.apply(args=[delivery.pk]).get() == f"emailed to {invoice.customer_email}"

    assert response["Location"] == reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    assert any("being sent again" in m for m in messages_of(response))
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT and delivery.recipient == invoice.customer_email
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [invoice.customer_email]
    assert message.attachments[0][0] == f"invoice-{invoice.number}.pdf"
    assert message.attachments[0][1] == stored  # the stored bytes, not a new render
    assert hashlib.sha256(stored).hexdigest() == pdf_sha
    invoice.refresh_from_db()
    assert (invoice.pdf.name, invoice.pdf_sha256) == (pdf_name, pdf_sha)
    event = InvoiceEvent.objects.get(type="email_resend_requested")
    assert event.actor == "admin:operator" and event.invoice_id == invoice.pk
    assert event.order_id == invoice.order_id


def test_resend_email_twice_makes_numbered_deliveries(console: Console, operator: Client) -> None:
    with mock.patch("invoicing.pdf.render_invoice_pdf") as render:
        operator.post(resend_url(console.invoice))
        operator.post(resend_url(console.invoice))

    kinds = list(
        EmailDelivery.objects.filter(invoice=console.invoice).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == ["invoice", "resend-1", "resend-2"]
    assert InvoiceEvent.objects.filter(type="email_resend_requested", actor="admin:operator").count() == 2
    render.assert_not_called()


def test_resend_email_of_a_draft_is_an_error_message(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)

    response = operator.post(resend_url(draft))

    assert response.status_code == 302
    assert messages_of(response) == [f"Invoice of order {DECLINED} is not issued: there is nothing to send."]
    assert not EmailDelivery.objects.filter(invoice=draft).exists()
