"""The credit note's email (issue 13): subject and body in the customer's language, the stored
PDF attached as credit-note-<number>.pdf, and the XRechnung XML for buyers who ask for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.utils import translation

from invoicing.credit_note_mail import credit_note_email_message
from invoicing.documents import PAY_BACK, InvoiceDocument, to_json
from invoicing.i18n import base_language
from invoicing.models import CreditNote, Invoice
from tests.invoicing.test_credit_note_pdf import credit_note
from tests.invoicing.test_pdf import make_document

D = Decimal
NBSP, NNBSP = "\u00a0", "\u202f"
PDF = b"%PDF-1.7\n% the stored credit note\n"


@pytest.fixture
def stored_pdf() -> Iterator[str]:
    name = default_storage.save("credit-notes/test-credit-note.pdf", ContentFile(PDF))
    yield name
    default_storage.delete(name)


def credit_note_row(document: InvoiceDocument, pdf: str) -> CreditNote:
    """A credit note as the pipeline leaves it (not saved: the email reads no other row)."""
    invoice = Invoice(
        order_id=document.order_id,
        number=document.preceding_invoice_number,
        issue_date=document.preceding_invoice_date,
        customer_email="juergen@example.com",
        status=Invoice.Status.ISSUED,
    )
    return CreditNote(
        invoice=invoice,
        kind=CreditNote.Kind.FULL if document.cancels_invoice else CreditNote.Kind.LINES,
        status=CreditNote.Status.ISSUED,
        reason=document.credit_reason,
        number=document.number,
        issue_date=document.issue_date,
        currency=document.currency,
        net_total=document.net_total,
        tax_total=document.tax_total,
        gross_total=document.gross_total,
        document=to_json(document),
        pdf=pdf,
    )


def email_for(pdf: str, **overrides: Any) -> EmailMessage:
    document = credit_note(**{"credit_reason": "R-42", **overrides})
    return credit_note_email_message(credit_note_row(document, pdf))


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "en",
            "Credit note GS-2024-0001 for your invoice RE-2024-000123",
            [
                "Hello Jürgen Müller,",
                "Attached is our credit note GS-2024-0001 of 2 Apr 2024 for your invoice RE-2024-000123 "
                "(order ORD-98765) as a PDF.",
                "Reason: R-42",
                "Amount credited: €1,336.39",
                "The amount of €1,336.39 has been refunded to your original payment method.",
                "Kind regards",
                "Kaffeerösterei Nord GmbH",
            ],
        ),
        (
            "de",
            "Rechnungskorrektur GS-2024-0001 zu Ihrer Rechnung RE-2024-000123",
            [
                "Guten Tag Jürgen Müller,",
                "anbei erhalten Sie unsere Rechnungskorrektur GS-2024-0001 vom 02.04.2024 zu Ihrer Rechnung "
                "RE-2024-000123 (Bestellung ORD-98765) als PDF.",
                "Grund: R-42",
                f"Gutgeschriebener Betrag: 1.336,39{NBSP}€",
                f"Der Betrag von 1.336,39{NBSP}€ wurde auf Ihr ursprüngliches Zahlungsmittel erstattet.",
                "Mit freundlichen Grüßen",
            ],
        ),
        (
            "fr",
            "Avoir GS-2024-0001 sur votre facture RE-2024-000123",
            [
                "Bonjour Jürgen Müller,",
                "notre avoir GS-2024-0001 du 2 avr. 2024 relatif à votre facture RE-2024-000123",
                f"Motif{NBSP}: R-42",
                f"Montant de l'avoir{NBSP}: 1{NNBSP}336,39{NBSP}€",
                "Cordialement",
            ],
        ),
        (
            "it",
            "Nota di credito GS-2024-0001 relativa alla vostra fattura RE-2024-000123",
            ["Gentile Jürgen Müller,", "Motivo: R-42", "Cordiali saluti"],
        ),
        (
            "es",
            "Factura rectificativa GS-2024-0001 de su factura RE-2024-000123",
            ["Hola, Jürgen Müller:", "la factura rectificativa GS-2024-0001", "Motivo: R-42"],
        ),
        (
            "nl",
            "Creditnota GS-2024-0001 voor uw factuur RE-2024-000123",
            ["Beste Jürgen Müller,", "Reden: R-42", "Met vriendelijke groet"],
        ),
        (
            "pl",
            "Faktura korygująca GS-2024-0001 do faktury RE-2024-000123",
            ["Dzień dobry, Jürgen Müller!", "fakturę korygującą GS-2024-0001", "Przyczyna korekty: R-42"],
        ),
        (
            "pt",
            "Nota de crédito GS-2024-0001 relativa à sua fatura RE-2024-000123",
            ["Olá, Jürgen Müller,", "Motivo: R-42", "de 02/04/2024"],
        ),
        (
            "sv",
            "Kreditfaktura GS-2024-0001 för din faktura RE-2024-000123",
            ["Hej Jürgen Müller,", "Orsak: R-42", "Med vänliga hälsningar"],
        ),
        (
            "cs",
            "Opravný daňový doklad GS-2024-0001 k vaší faktuře RE-2024-000123",
            ["Dobrý den, Jürgen Müller,", "Důvod opravy: R-42", "S pozdravem"],
        ),
        (
            "da",
            "Kreditnota GS-2024-0001 for din faktura RE-2024-000123",
            ["Kære Jürgen Müller,", "Årsag: R-42", "Med venlig hilsen"],
        ),
        ("xx", "Credit note GS-2024-0001 for your invoice RE-2024-000123", ["Hello Jürgen Müller,"]),
    ],
)
def test_email_in_the_documents_language(
    stored_pdf: str, language: str, subject: str, phrases: list[str]
) -> None:
    message = email_for(stored_pdf, language=language)

    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body
    if base_language(language) not in {"en", ""}:
        english = ("Attached is", "Reason:", "Amount credited", "The amount of", "Kind regards", "Hello")
        assert [words for words in english if words in message.body] == []
    assert message.to == ["juergen@example.com"]
    assert message.from_email == "billing@roesterei.example"
    assert translation.get_language() == "en"  # the block did not leak its language


def test_attachment_is_the_stored_pdf(stored_pdf: str) -> None:
    message = email_for(stored_pdf)

    assert message.attachments == [("credit-note-GS-2024-0001.pdf", PDF, "application/pdf")]


def test_german_cancellation_email_names_the_stornorechnung(stored_pdf: str) -> None:
    message = email_for(stored_pdf, language="de", cancels_invoice=True, refund=PAY_BACK)

    assert message.subject == "Stornorechnung GS-2024-0001 zu Ihrer Rechnung RE-2024-000123"
    assert "anbei erhalten Sie unsere Stornorechnung GS-2024-0001 vom 02.04.2024" in message.body
    assert f"Der Betrag von 1.336,39{NBSP}€ wird Ihnen erstattet oder verrechnet." in message.body
    assert "Rechnungskorrektur" not in message.body and "Gutschrift" not in message.body


def test_pay_back_email_promises_no_refund(stored_pdf: str) -> None:
    body = email_for(stored_pdf, refund=PAY_BACK).body

    assert "The amount of €1,336.39 will be paid back or offset." in body
    assert "refunded" not in body


def test_email_without_customer_name_or_reason(stored_pdf: str) -> None:
    body = email_for(stored_pdf, customer_name="", credit_reason="", language="de").body

    assert body.startswith("Guten Tag,\n\nanbei erhalten Sie")
    assert "Grund" not in body


def test_recipient_can_be_given(stored_pdf: str) -> None:
    document = credit_note(credit_reason="R-42")
    message = credit_note_email_message(credit_note_row(document, stored_pdf), to="accounts@example.com")

    assert message.to == ["accounts@example.com"]


def test_xrechnung_buyer_also_gets_the_credit_note_xml(stored_pdf: str) -> None:
    message = email_for(stored_pdf, einvoice_format="xrechnung", buyer_reference="04011000-12345-03")

    (pdf, xml) = message.attachments
    assert pdf[0] == "credit-note-GS-2024-0001.pdf"
    name, content, mimetype = xml
    assert (name, mimetype) == ("GS-2024-0001.xml", "application/xml")
    assert b"<ram:TypeCode>381</ram:TypeCode>" in content  # BT-3: a credit note
    assert b"RE-2024-000123" in content  # BT-25: the invoice it corrects


def test_other_buyers_get_no_xml(stored_pdf: str) -> None:
    assert len(email_for(stored_pdf).attachments) == 1


# --- with the rows the pipeline writes --------------------------------------------------------------
def test_email_of_a_stored_credit_note(tenant: Any, stored_pdf: str) -> None:
    invoice_document = make_document(number="RE-2024-000123", issue_date=dt.date(2024, 3, 15))
    invoice = Invoice.objects.create(
        tenant=tenant,
        order_id="ORD-98765",
        status=Invoice.Status.ISSUED,
        number="RE-2024-000123",
        issue_date=dt.date(2024, 3, 15),
        currency="EUR",
        net_total=D("1127.40"),
        tax_total=D("208.99"),
        gross_total=D("1336.39"),
        customer_email="juergen@example.com",
        document=to_json(invoice_document),
    )
    document = credit_note(invoice_document, language="de", cancels_invoice=True, credit_reason="Storniert")
    stored = CreditNote.objects.create(
        tenant=tenant,
        invoice=invoice,
        kind=CreditNote.Kind.FULL,
        status=CreditNote.Status.ISSUED,
        reason="Storniert",
        number="GS-2024-0001",
        issue_date=dt.date(2024, 4, 2),
        currency="EUR",
        net_total=D("1127.40"),
        tax_total=D("208.99"),
        gross_total=D("1336.39"),
        document=to_json(document),
        pdf=stored_pdf,
    )

    message = credit_note_email_message(CreditNote.objects.get(pk=stored.pk))

    assert message.subject == "Stornorechnung GS-2024-0001 zu Ihrer Rechnung RE-2024-000123"
    assert "Grund: Storniert" in message.body
    assert message.to == ["juergen@example.com"]
    assert message.attachments == [("credit-note-GS-2024-0001.pdf", PDF, "application/pdf")]
