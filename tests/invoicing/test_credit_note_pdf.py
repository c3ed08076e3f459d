"""The credit note as the customer reads it (issue 13): its title in the customer's language, the
invoice it corrects and why, positive amounts, and what becomes of the money instead of a
payment request: no due date, no bank details, no EPC QR code."""

# ruff: noqa: RUF001 -- names and reasons in other scripts, by design

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import unicodedata
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from pypdf import PdfReader

from integrations.ports import Address
from invoicing.documents import CREDIT_NOTE, PAY_BACK, REFUNDED, InvoiceDocument, InvoiceRow
from invoicing.i18n import SUPPORTED_LANGUAGES
from invoicing.pdf import render_invoice_pdf
from invoicing.pdf.epc import epc_payload
from tests.invoicing.test_pdf import make_document, make_long_document, page_image, pages_text

D = Decimal


def credit_note(invoice: InvoiceDocument | None = None, **overrides: Any) -> InvoiceDocument:
    """The invoice of tests.invoicing.test_pdf credited as a whole: GS-2024-0001 of 2 Apr 2024
    corrects RE-2024-000123 of 15 Mar 2024, refunded to the card."""
    invoice = invoice or make_document()
    fields: dict[str, Any] = {
        "document_type": CREDIT_NOTE,
        "number": "GS-2024-0001",
        "issue_date": dt.date(2024, 4, 2),
        "preceding_invoice_number": invoice.number,
        "preceding_invoice_date": invoice.issue_date,
        "credit_reason": "Goods returned",
        "refund": REFUNDED,
        "paid": False,
        "amount_due": None,
        "due_date": None,
        "payment_days": None,
        "payment_note": "",
    }
    return dataclasses.replace(invoice, **{**fields, **overrides})


def text_of(document: InvoiceDocument) -> str:
    return " ".join(pages_text(render_invoice_pdf(document)))


# --- English ------------------------------------------------------------------------------------
def test_credit_note_names_itself_the_invoice_it_corrects_and_the_reason() -> None:
    text = text_of(credit_note())

    assert "Credit note GS-2024-0001" in text  # the title
    assert "Credit note no.: GS-2024-0001" in text
    assert "Credit note date: 2 Apr 2024" in text
    # BT-25 / BT-26: the invoice it corrects, in the details and in a sentence under the title
    assert "Invoice no.: RE-2024-000123" in text
    assert "Invoice date: 15 Mar 2024" in text
    assert "This credit note corrects invoice RE-2024-000123 of 15 Mar 2024." in text
    assert "Reason: Goods returned" in text
    assert "Invoice RE-2024-000123" not in text  # it is not the invoice again


def test_credit_note_amounts_are_positive_and_it_says_where_the_money_went() -> None:
    text = text_of(credit_note())

    assert "Espresso machine Barista Pro SKU: ESP-1 1 1,099.00 19% 1,099.00" in text
    assert "Total €1,336.39" in text
    assert "-1,099.00" not in text and "-€" not in text
    assert "Voucher WELCOME20 1 -20.00 19% -20.00" in text  # a credited discount stays negative
    assert "The amount of €1,336.39 has been refunded to your original payment method." in text


def test_credit_note_asks_for_no_payment() -> None:
    # Even a document that (wrongly) carried an amount due gets no payment request.
    document = credit_note(amount_due=D("1336.39"), due_date=dt.date(2024, 4, 16), refund=PAY_BACK)
    data = render_invoice_pdf(document)
    text = " ".join(pages_text(data))

    assert "The amount of €1,336.39 will be paid back or offset." in text
    for words in ("Due date", "Amount due", "Bank details", "Account holder", "Scan to pay", "Paid"):
        assert words not in text
    assert epc_payload(document) == ""
    # what a banking app would scan: nothing on the page
    assert zxingcpp.read_barcodes(page_image(data), formats=zxingcpp.BarcodeFormat.QRCode) == []


def test_the_same_figures_as_an_invoice_do_get_a_qr_code() -> None:
    """The check above can see a QR code: the invoice with that amount due has one."""
    invoice = make_document(amount_due=D("1336.39"), due_date=dt.date(2024, 3, 29))

    (code,) = zxingcpp.read_barcodes(
        page_image(render_invoice_pdf(invoice)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert code.text.endswith("RE-2024-000123")


def test_credit_note_without_a_refund_state_promises_no_refund() -> None:
    text = text_of(credit_note(refund=""))

    assert "will be paid back or offset" in text
    assert "refunded" not in text


def test_pdf_metadata_names_the_credit_note() -> None:
    metadata = PdfReader(io.BytesIO(render_invoice_pdf(credit_note()))).metadata

    assert metadata is not None
    assert metadata.title == "Credit note GS-2024-0001"
    assert metadata.subject == "Credit note GS-2024-0001"


def test_draft_credit_note_is_titled_as_a_draft() -> None:
    assert "Credit note (draft)" in text_of(credit_note(number=""))


def test_long_credit_note_continues_as_a_credit_note() -> None:
    pages = pages_text(render_invoice_pdf(credit_note(make_long_document(80))))

    assert len(pages) > 1
    assert "Credit note GS-2024-0001 · Kaffeerösterei Nord GmbH" in pages[1]  # the running head
    assert "has been refunded to your original payment method" in pages[-1]
    assert "Reason: Goods returned" in pages[0]


def test_long_reason_is_cut_not_the_page() -> None:
    text = text_of(credit_note(credit_reason="Damaged in transit; " * 200))

    assert "Reason: Damaged in transit;" in text
    assert "…" in text
    assert "has been refunded" in text


def test_invoice_is_unchanged() -> None:
    text = text_of(make_document(amount_due=D("1336.39"), due_date=dt.date(2024, 3, 29)))

    assert "Invoice RE-2024-000123" in text and "Invoice no.: RE-2024-000123" in text
    assert "Due date: 29 Mar 2024" in text and "Bank details" in text
    assert "credit note" not in text.lower() and "Reason" not in text


# --- German: Rechnungskorrektur and Stornorechnung -----------------------------------------------
def test_german_partial_credit_note_is_a_rechnungskorrektur() -> None:
    text = text_of(credit_note(language="de", credit_reason="Ware zurückgesendet"))

    assert "Rechnungskorrektur GS-2024-0001" in text
    assert "Korrektur-Nr.: GS-2024-0001" in text
    assert "Korrekturdatum: 02.04.2024" in text
    assert "Rechnungsnr.: RE-2024-000123" in text
    assert "Diese Rechnungskorrektur bezieht sich auf die Rechnung RE-2024-000123 vom 15.03.2024." in text
    assert "Grund: Ware zurückgesendet" in text
    assert "Der Betrag von 1.336,39 € wurde auf Ihr ursprüngliches Zahlungsmittel erstattet." in text
    # "Gutschrift" is self-billing in German VAT law (§ 14 (2) UStG): never the document's name
    assert "Gutschrift" not in text and "Stornorechnung" not in text
    assert "Fälligkeitsdatum" not in text and "Offener Betrag" not in text


def test_german_cancellation_is_a_stornorechnung() -> None:
    text = text_of(credit_note(language="de", cancels_invoice=True, refund=PAY_BACK))

    assert "Stornorechnung GS-2024-0001" in text
    assert "Storno-Nr.: GS-2024-0001" in text
    assert "Stornodatum: 02.04.2024" in text
    assert "Mit dieser Stornorechnung wird die Rechnung RE-2024-000123 vom 15.03.2024 storniert." in text
    assert "Der Betrag von 1.336,39 € wird Ihnen erstattet oder verrechnet." in text
    assert "Rechnungskorrektur" not in text and "Gutschrift" not in text


def test_english_cancellation_says_it_cancels() -> None:
    text = text_of(credit_note(cancels_invoice=True))

    assert "Credit note GS-2024-0001" in text
    assert "This credit note cancels invoice RE-2024-000123 of 15 Mar 2024." in text


# --- French: the colon and the word -------------------------------------------------------------
def test_french_credit_note_is_an_avoir() -> None:
    text = text_of(credit_note(language="fr", credit_reason="Geste commercial"))

    assert "Avoir GS-2024-0001" in text
    assert "N° d'avoir : GS-2024-0001" in text  # no-break space before the colon
    assert "Date de l'avoir : 2 avr. 2024" in text
    assert "Cet avoir rectifie la facture RE-2024-000123 du 15 mars 2024." in text
    assert "Motif : Geste commercial" in text
    assert "Le montant de 1 336,39 € a été remboursé sur votre moyen de paiement d'origine." in text
    assert "Facture RE-2024-000123" not in text and "Montant dû" not in text


# --- every language ------------------------------------------------------------------------------
# The term each language's VAT practice uses for a correction of an issued invoice
# (invoicing/pdf/wording.py gives the references).
TITLES = {
    "en": "Credit note",
    "de": "Rechnungskorrektur",
    "fr": "Avoir",
    "it": "Nota di credito",
    "es": "Factura rectificativa",
    "nl": "Creditnota",
    "pl": "Faktura korygująca",
    "pt": "Nota de crédito",
    "sv": "Kreditfaktura",
    "cs": "Opravný daňový doklad",
    "da": "Kreditnota",
}


def test_every_supported_language_has_a_title() -> None:
    assert set(TITLES) == set(SUPPORTED_LANGUAGES)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("refund", [REFUNDED, PAY_BACK])
def test_credit_note_in_every_language(language: str, refund: str) -> None:
    text = text_of(credit_note(language=language, refund=refund, credit_reason="R-42"))

    assert f"{TITLES[language]} GS-2024-0001" in text
    assert text.count("RE-2024-000123") == 2  # the corrected invoice: in the details and a sentence
    assert ": R-42" in text  # the reason, labelled
    english = (
        "This credit note corrects",
        "Reason:",
        "has been refunded",
        "will be paid back",
        "Credit note",
    )
    if language == "en":
        assert "This credit note corrects invoice" in text and "Reason: R-42" in text
    else:  # the language's own sentences, no English left
        assert [words for words in english if words in text] == []


# --- other scripts --------------------------------------------------------------------------------
def nfkc(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split())


def test_right_to_left_reason_and_buyer_read_back() -> None:
    reason = "تم إرجاع الآلة خلال أربعة عشر يومًا"
    buyer = "شركة النور للتجارة"
    document = credit_note(
        credit_reason=reason,
        customer_name="محمد العلي",
        billing_address=Address(company_name=buyer, contact_name="محمد العلي", zip_code="00000", city="دبي"),
        rows=(InvoiceRow("item", "آلة إسبريسو", D(1), D("10.00"), D(19), D("10.00")),),
    )
    text = nfkc(text_of(document))

    assert nfkc(f"Reason: {reason}") in text
    assert nfkc(buyer) in text
    assert "This credit note corrects invoice RE-2024-000123" in text


def test_chinese_reason_reads_back() -> None:
    reason = "商品已退回，全额退款"
    text = text_of(credit_note(credit_reason=reason))

    assert f"Reason: {reason}" in text
