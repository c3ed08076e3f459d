"""What an invoice must say (EU VAT Directive Art. 226, 230), in the customer's language: the
VAT IDs, a note for every VAT treatment but the standard one, the dates, what is due."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils.translation import gettext

from integrations.ports import Address
from invoicing import vat
from invoicing.documents import ForeignCurrencyVat, InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.i18n import SUPPORTED_LANGUAGES, Formats, language_override
from invoicing.pdf import render_invoice_pdf
from tests.invoicing.test_pdf import make_document, make_seller, pages_text

D = Decimal
FRENCH_BUYER = Address(
    company_name="Café de la Gare SARL",
    street="Rue Lepic",
    street_number="15",
    zip_code="75018",
    city="Paris",
    country="FR",
)


def text_of(document: InvoiceDocument) -> str:
    return " ".join(pages_text(render_invoice_pdf(document)))


def zero_rated(category: str, **overrides: object) -> InvoiceDocument:
    """A B2B invoice to a French company at 0 % under `category`."""
    fields: dict[str, object] = {
        "rows": (
            InvoiceRow(
                "item", "Coffee beans, 1 kg", D(40), D("13.20"), D(0), D("528.00"), vat_category=category
            ),
        ),
        "tax_breakdown": (TaxBreakdownLine(D(0), D("528.00"), D(0), D("528.00"), category),),
        "net_total": D("528.00"),
        "tax_total": D(0),
        "gross_total": D("528.00"),
        "billing_address": FRENCH_BUYER,
        "customer_name": "",
        "buyer_legal_name": "Café de la Gare SARL",
        "buyer_vat_id": "FR40303265045",
        "buyer_country": "FR",
    }
    return make_document(**{**fields, **overrides})


# --- VAT treatment -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("category", "words"),
    [
        ("Z", "Zero-rated"),
        ("E", "Exempt"),
        ("AE", "Reverse charge"),
        ("K", "Art. 138"),
        ("G", "Art. 146"),
        ("O", "Not subject"),
    ],
)
def test_every_treatment_but_standard_prints_its_note_and_both_vat_ids(category: str, words: str) -> None:
    text = text_of(zero_rated(category))

    note = vat.legal_note(category, "en")
    assert words in note
    assert f"¹ {note}" in text  # under the totals, marked ...
    assert "0%¹" in text  # ... on the line and in the breakdown
    assert "Your VAT ID: FR40303265045" in text  # Art. 226 (4)
    assert "VAT ID: DE123456789" in text  # Art. 226 (3), the seller's


def test_standard_rate_has_no_note_and_no_marker() -> None:
    text = text_of(make_document())

    assert "¹" not in text
    assert "Your VAT ID" not in text  # a consumer has none


def test_notes_are_in_the_documents_language() -> None:
    text = text_of(zero_rated("AE", language="de"))
    with language_override("de"):
        buyer_vat_id = gettext("Your VAT ID")

    assert "Steuerschuldnerschaft des Leistungsempfängers" in vat.legal_note("AE", "de")
    assert vat.legal_note("AE", "de") in text
    assert f"{buyer_vat_id}: FR40303265045" in text and buyer_vat_id != "Your VAT ID"


def test_two_treatments_get_two_markers() -> None:
    rows = (
        InvoiceRow("item", "Beans", D(1), D("10.00"), D(0), D("10.00"), vat_category="K"),
        InvoiceRow("item", "Barista course", D(1), D("50.00"), D(0), D("50.00"), vat_category="AE"),
    )
    breakdown = (
        TaxBreakdownLine(D(0), D("10.00"), D(0), D("10.00"), "K"),
        TaxBreakdownLine(D(0), D("50.00"), D(0), D("50.00"), "AE"),
    )
    text = text_of(zero_rated("K", rows=rows, tax_breakdown=breakdown, net_total=D(60), gross_total=D(60)))

    # numbered in the breakdown's order (by rate, then category)
    assert "Barista course 1 50.00 0%¹" in text
    assert "Beans 1 10.00 0%²" in text
    assert f"¹ {vat.legal_note('AE', 'en')}" in text
    assert f"² {vat.legal_note('K', 'en')}" in text


# --- dates and what is due ---------------------------------------------------------------------
def test_unpaid_invoice_gives_the_due_date_and_the_amount_due() -> None:
    text = text_of(make_document(due_date=dt.date(2024, 3, 29), amount_due=D("1336.39")))

    assert "Due date: 29 Mar 2024" in text
    assert "Amount due €1,336.39" in text
    assert "Delivery date: 14 Mar 2024" in text  # the supply date, Art. 226 (7)


def test_paid_invoice_says_paid_and_asks_for_nothing() -> None:
    text = text_of(make_document(paid=True, amount_due=D(0), due_date=None))

    assert "Paid €1,336.39" in text
    assert "Amount due" not in text
    assert "Due date" not in text


def test_foreign_currency_invoice_states_the_vat_in_the_sellers_currency() -> None:
    fx = ForeignCurrencyVat("EUR", D("0.9234"), dt.date(2024, 3, 14), D("192.98"), "ECB")

    text = text_of(make_document(currency="USD", foreign_currency_vat=fx))

    # Art. 230: the VAT in the member state's currency, with the rate used
    assert "VAT total in EUR: €192.98 (exchange rate 1 USD = 0.9234 EUR as of 14 Mar 2024)" in text


# --- languages ---------------------------------------------------------------------------------
@pytest.mark.parametrize("language", [*SUPPORTED_LANGUAGES, "de-CH"])
def test_labels_dates_and_amounts_follow_the_language(language: str) -> None:
    document = make_document(language=language, amount_due=D("1336.39"))
    formats = Formats(language)
    with language_override(language):
        title = gettext("Invoice %(number)s") % {"number": "RE-2024-000123"}
        total = gettext("Total")

    text = text_of(document)

    assert title in text
    assert formats.date(dt.date(2024, 3, 15)) in text
    assert " ".join(f"{total} {formats.money(D('1336.39'), 'EUR')}".split()) in text
    if language != "en":
        assert not title.startswith("Invoice"), language  # a catalogue, not the English fallback


def test_french_sets_a_space_before_every_colon() -> None:
    # French typography: a (no-break) space before ":" in every label, in the letterhead, the
    # information block, the payment details and the footer alike.
    document = make_document(
        language="fr", amount_due=D("1336.39"), seller=make_seller(website="shop.example")
    )

    text = text_of(document)

    assert "IBAN : DE89" in text and "N° de facture : RE-2024-000123" in text
    assert re.findall(r"[^\s/]+:(?!//)", text) == []


def test_swiss_german_groups_thousands_the_swiss_way() -> None:
    text = text_of(make_document(language="de-CH", currency="CHF", gross_total=D("1336.39")))

    assert "1'099.00" in text  # the line table
    assert "1'336.39" in text
