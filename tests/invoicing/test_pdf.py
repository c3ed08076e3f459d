"""The invoice PDF, checked as a reader sees it: the text pypdf extracts, page by page.

The renderer is a pure function of the document (no database); its labels are Django gettext,
so the settings are needed (pytest-django provides them). Also the helpers the other
tests/invoicing/test_pdf_*.py use: poppler's view of the page (word boxes, pdftotext, pixels).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import html
import io
import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image as PILImage
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from integrations.ports import Address, Seller
from invoicing import pdf
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.pdf import logo as pdf_logo
from invoicing.pdf import render_invoice_pdf

D = Decimal


# --- factory -----------------------------------------------------------------------------------
def make_seller(**overrides: Any) -> Seller:
    fields: dict[str, Any] = {
        "legal_name": "Kaffeerösterei Nord GmbH",
        "address": Address(
            street="Friedrichstraße", street_number="123", zip_code="10117", city="Berlin", country="Germany"
        ),
        "vat_id": "DE123456789",
        "tax_number": "37/123/45678",
        "iban": "DE89370400440532013000",
        "bic": "COBADEFFXXX",
        "email": "billing@roesterei.example",
        "phone": "+49 30 1234567",
        "website": "roesterei.example",
        "logo": None,
        "payment_terms": "Payable within 14 days without deduction.",
    }
    return Seller(**{**fields, **overrides})


def make_rows() -> tuple[InvoiceRow, ...]:
    # Deliberately out of order: the PDF must list items first, then shipping, fees, discounts.
    return (
        InvoiceRow("discount", "Voucher WELCOME20", D(1), D("-20.00"), D(19), D("-20.00")),
        InvoiceRow(
            "item", "Espresso machine Barista Pro", D(1), D("1099.00"), D(19), D("1099.00"), sku="ESP-1"
        ),
        InvoiceRow("shipping", "Shipping (DHL parcel)", D(1), D("4.90"), D(19), D("4.90")),
        InvoiceRow("item", "Coffee beans, whole, 1 kg", D(3), D("14.50"), D(7), D("43.50")),
    )


def make_document(**overrides: Any) -> InvoiceDocument:
    """19 %: 1,099.00 + 4.90 - 20.00 = 1,083.90 net, 205.94 tax; 7 %: 43.50 net, 3.05 tax."""
    fields: dict[str, Any] = {
        "number": "RE-2024-000123",
        "issue_date": dt.date(2024, 3, 15),
        "order_id": "ORD-98765",
        "order_date": dt.date(2024, 3, 12),
        "delivery_date": dt.date(2024, 3, 14),
        "currency": "EUR",
        "seller": make_seller(),
        "customer_id": "C-4711",
        "customer_name": "Jürgen Müller",
        "customer_email": "juergen@example.com",
        "billing_address": Address(
            contact_name="Jürgen Müller",
            street="Hauptstraße",
            street_number="5",
            zip_code="80331",
            city="München",
        ),
        "shipping_address": None,
        "rows": make_rows(),
        "tax_breakdown": (
            TaxBreakdownLine(D(19), D("1083.90"), D("205.94"), D("1289.84")),
            TaxBreakdownLine(D(7), D("43.50"), D("3.05"), D("46.55")),
        ),
        "net_total": D("1127.40"),
        "tax_total": D("208.99"),
        "gross_total": D("1336.39"),
        "payment_note": "Paid by credit card (Visa ending 4242).",
        "language": "en",
    }
    return InvoiceDocument(**{**fields, **overrides})


def make_long_document(items: int) -> InvoiceDocument:
    rows = tuple(
        InvoiceRow("item", f"Catalogue article number {i}", D(1), D("10.00"), D(19), D("10.00"))
        for i in range(1, items + 1)
    )
    net = D("10.00") * items
    tax = net * D("0.19")
    return make_document(
        rows=rows,
        tax_breakdown=(TaxBreakdownLine(D(19), net, tax, net + tax),),
        net_total=net,
        tax_total=tax,
        gross_total=net + tax,
    )


def make_image(fmt: str, size: tuple[int, int] = (600, 200)) -> bytes:
    image = PILImage.new("RGBA" if fmt == "PNG" else "RGB", size, (30, 110, 200))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def pages_text(data: bytes) -> list[str]:
    """Each page's text with whitespace collapsed, as a reader would read it out."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


@functools.cache
def long_invoice_pages() -> tuple[str, ...]:
    """Rendered once for the tests that read it: 80 rows are the slowest render here."""
    return tuple(pages_text(render_invoice_pdf(make_long_document(80))))


def text_of(document: InvoiceDocument) -> str:
    return " ".join(pages_text(render_invoice_pdf(document)))


def image_count(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


# --- the pages as poppler sees them (scripts/ensure-fonts installs poppler-utils) --------------
@dataclass(frozen=True)
class Word:
    page: int  # from 1
    x0: float  # points from the left edge
    top: float  # points from the top edge
    x1: float
    bottom: float
    text: str


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing (poppler-utils): run scripts/ensure-fonts")
    return path


def _run_on_pdf(data: bytes, *command: str, to_stdout: tuple[str, ...] = ("-",)) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "invoice.pdf"
        path.write_bytes(data)
        return subprocess.run([*command, str(path), *to_stdout], capture_output=True, check=True).stdout


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def words(data: bytes) -> list[Word]:
    """Every word pdftotext finds, with its box."""
    out = _run_on_pdf(data, poppler("pdftotext"), "-bbox").decode()
    found = []
    for number, page in enumerate(out.split("<page ")[1:], start=1):
        for x0, top, x1, bottom, word in _WORD.findall(page):
            found.append(Word(number, float(x0), float(top), float(x1), float(bottom), html.unescape(word)))
    return found


def poppler_text(data: bytes) -> str:
    """pdftotext's reading of the document, without the bidi marks it adds around RTL text."""
    out = _run_on_pdf(data, poppler("pdftotext")).decode()
    return out.translate(dict.fromkeys(map(ord, "\u202a\u202b\u202c\u200e\u200f")))


def page_image(data: bytes, page: int = 1, dpi: int = 150) -> PILImage.Image:
    command = (poppler("pdftoppm"), "-png", "-r", str(dpi), "-f", str(page), "-l", str(page))
    png = _run_on_pdf(data, *command, to_stdout=())  # without an output root it writes to stdout
    return PILImage.open(io.BytesIO(png))


# --- content -----------------------------------------------------------------------------------
def test_render_output_is_a4_pdf_with_metadata() -> None:
    data = render_invoice_pdf(make_document())

    reader = PdfReader(io.BytesIO(data))
    assert data.startswith(b"%PDF-")
    assert reader.metadata is not None
    assert reader.metadata.title == "Invoice RE-2024-000123"
    assert reader.metadata.author == "Kaffeerösterei Nord GmbH"
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_header_shows_number_dates_order_and_customer() -> None:
    text = text_of(make_document())

    assert "Invoice RE-2024-000123" in text
    assert "Invoice no.: RE-2024-000123" in text
    assert "Invoice date: 15 Mar 2024" in text
    assert "Delivery date: 14 Mar 2024" in text
    assert "Order no.: ORD-98765" in text
    assert "Order date: 12 Mar 2024" in text
    assert "Customer no.: C-4711" in text


def test_delivery_date_missing_says_same_as_invoice_date() -> None:
    text = text_of(make_document(delivery_date=None))

    assert "Delivery date: same as invoice date" in text


def test_seller_block_has_address_ids_and_contacts() -> None:
    text = pages_text(render_invoice_pdf(make_document()))[0]

    for expected in (
        "Kaffeerösterei Nord GmbH",
        "Friedrichstraße 123",
        "10117 Berlin",
        "VAT ID: DE123456789",
        "Tax no.: 37/123/45678",
        "Phone: +49 30 1234567",
        "Email: billing@roesterei.example",
        "Web: roesterei.example",
    ):
        assert expected in text


def test_billing_address_printed_with_customer_name_once() -> None:
    document = make_document(
        billing_address=Address(
            company_name="Müller Kaffeehandel KG",
            contact_name="Jürgen Müller",
            street="Hauptstraße",
            street_number="5",
            zip_code="80331",
            city="München",
            country="Germany",
        )
    )

    text = pages_text(render_invoice_pdf(document))[0]

    # a domestic address (the seller is in Germany too) has no country line
    assert "Müller Kaffeehandel KG Jürgen Müller Hauptstraße 5 80331 München Invoice no." in text
    assert text.count("Jürgen Müller") == 1


def test_line_table_lists_each_row_with_numbers_right() -> None:
    text = text_of(make_document())

    assert "Pos. Description Qty Unit price VAT Amount" in text
    assert "1 Espresso machine Barista Pro SKU: ESP-1 1 1,099.00 19% 1,099.00" in text
    assert "2 Coffee beans, whole, 1 kg 3 14.50 7% 43.50" in text
    assert "3 Shipping (DHL parcel) 1 4.90 19% 4.90" in text
    assert "4 Voucher WELCOME20 1 -20.00 19% -20.00" in text


def test_line_table_orders_items_before_shipping_and_discounts() -> None:
    text = text_of(make_document())

    positions = [
        text.index(description)
        for description in ("Espresso machine", "Coffee beans", "Shipping (DHL parcel)", "Voucher WELCOME20")
    ]
    assert positions == sorted(positions)


def test_tax_breakdown_has_a_line_per_rate() -> None:
    text = text_of(make_document())

    assert "VAT rate Net VAT Gross" in text
    assert "19% 1,083.90 205.94 1,289.84" in text
    assert "7% 43.50 3.05 46.55" in text


def test_totals_formatted_with_separators_and_currency() -> None:
    text = text_of(make_document())

    assert "Total net €1,127.40" in text
    assert "Total VAT €208.99" in text
    assert "Total €1,336.39" in text


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("JPY", "Total JP¥1,336"), ("KWD", "Total KWD1,336.390"), ("EUR", "Total €1,336.39")],
)
def test_totals_use_currency_exponent(currency: str, expected: str) -> None:
    assert expected in text_of(make_document(currency=currency, gross_total=D("1336.39")))


def test_unit_price_keeps_precision_beyond_the_currency() -> None:
    row = InvoiceRow("item", "Tea sample", D(12), D("0.8333"), D(7), D("10.00"))

    assert "1 Tea sample 12 0.8333 7% 10.00" in text_of(make_document(rows=(row,)))


def test_payment_note_printed_without_repeating_the_terms() -> None:
    text = text_of(make_document())

    assert "Paid by credit card (Visa ending 4242)." in text
    # a paid invoice must not also ask to be paid; unpaid ones carry the terms in the note
    assert "Payable within 14 days without deduction." not in text


def test_footer_shows_seller_tax_and_bank_details() -> None:
    text = pages_text(render_invoice_pdf(make_document()))[0]

    assert "IBAN: DE89 3704 0044 0532 0130 00" in text
    assert "BIC: COBADEFFXXX" in text
    assert "Page 1 of 1" in text


def test_unicode_names_extractable_as_text() -> None:
    document = make_document(
        customer_name="Дмитрий Иванов",
        billing_address=Address(
            company_name="Zoë Ćwikła",
            contact_name="Αλέξανδρος Παπαδόπουλος",
            street="Jürgen-Müller-Straße",
            street_number="1",
            zip_code="00-238",
            city="Warszawa",
        ),
    )

    text = text_of(document)

    for name in ("Дмитрий Иванов", "Zoë Ćwikła", "Αλέξανδρος Παπαδόπουλος", "Jürgen-Müller-Straße"):
        assert name in text


def test_fonts_embedded_no_base14_fallback() -> None:
    data = render_invoice_pdf(make_document())

    fonts = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for font in cast(DictionaryObject, resources["/Font"].get_object()).values():
            fonts.add(str(cast(DictionaryObject, font.get_object())["/BaseFont"]))
    assert fonts
    assert all("DejaVuSans" in name for name in fonts), fonts


def test_markup_in_shop_text_printed_literally() -> None:
    row = InvoiceRow("item", "<b>Tom & Jerry</b> mug", D(1), D("9.00"), D(19), D("9.00"), sku="<x>")

    assert "<b>Tom & Jerry</b> mug SKU: <x>" in text_of(make_document(rows=(row,)))


def test_draft_without_number_renders() -> None:
    text = text_of(make_document(number="", issue_date=None))

    assert "Invoice (draft)" in text
    assert "Invoice no.:" not in text


# --- languages ---------------------------------------------------------------------------------
def test_language_de_uses_german_labels_and_numbers() -> None:
    text = text_of(make_document(language="de", delivery_date=None))

    assert "Rechnung RE-2024-000123" in text
    assert "Rechnungsdatum: 15.03.2024" in text
    assert "Lieferdatum: entspricht Rechnungsdatum" in text
    assert "19 % 1.083,90 205,94 1.289,84" in text
    assert "Gesamtbetrag 1.336,39 €" in text
    assert "Seite 1 von 1" in text


@pytest.mark.parametrize("language", ["xx", "", "xx-YY"])
def test_language_unknown_falls_back_to_english(language: str) -> None:
    assert "Invoice date: 15 Mar 2024" in text_of(make_document(language=language))


def test_language_region_variant_uses_base_language() -> None:
    assert "Rechnungsdatum: 15.03.2024" in text_of(make_document(language="de-AT"))


# --- pages -------------------------------------------------------------------------------------
def test_long_invoice_flows_onto_three_pages() -> None:
    pages = long_invoice_pages()

    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of 3" in text
        assert "IBAN: DE89 3704 0044 0532 0130 00" in text  # the footer on every page
    assert "Catalogue article number 80" in pages[2]
    assert "Total €952.00" in pages[2]


def test_long_invoice_repeats_table_header_and_running_head() -> None:
    pages = long_invoice_pages()

    assert "Invoice RE-2024-000123 · Kaffeerösterei Nord GmbH" in pages[1]
    assert "Pos. Description Qty Unit price VAT Amount" in pages[1]
    assert "Pos. Description Qty Unit price VAT Amount" in pages[2]


def test_long_description_wraps_and_is_cut_with_an_ellipsis() -> None:
    sentence = "A very long description of an article. "
    row = InvoiceRow("item", sentence * 300 + "THE END", D(1), D("1.00"), D(19), D("1.00"))

    pages = pages_text(render_invoice_pdf(make_document(rows=(row,))))

    assert len(pages) == 1
    text = " ".join(pages)
    assert "A very long description of an article. A very long" in text  # wrapped, in order
    assert "\N{HORIZONTAL ELLIPSIS}" in text
    assert "THE END" not in text  # cut at pdf.LIMIT_DESCRIPTION characters
    assert text.count("of an article.") == pdf.LIMIT_DESCRIPTION // len(sentence)


# --- logo --------------------------------------------------------------------------------------
def test_logo_none_renders_without_image() -> None:
    data = render_invoice_pdf(make_document(seller=make_seller(logo=None)))

    assert image_count(data) == 0
    assert "Kaffeerösterei Nord GmbH" in pages_text(data)[0]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_logo_embedded_as_one_image(fmt: str) -> None:
    data = render_invoice_pdf(make_document(seller=make_seller(logo=make_image(fmt))))

    assert image_count(data) == 1


def test_logo_large_is_downscaled_once_and_cached() -> None:
    logo = make_image("PNG", size=(1500, 500))

    first = pdf_logo.logo_reader(logo)
    second = pdf_logo.logo_reader(bytes(logo))  # equal bytes from elsewhere, e.g. a fresh database read

    assert first is not None
    assert first is second
    assert first.getSize()[0] <= 720


def test_logo_corrupt_still_renders(caplog: pytest.LogCaptureFixture) -> None:
    corrupt = make_image("PNG")[:200]  # a valid header, then nothing

    with caplog.at_level(logging.WARNING, logger="invoicing.pdf"):
        data = render_invoice_pdf(make_document(seller=make_seller(logo=corrupt)))

    assert image_count(data) == 0
    assert "Total €1,336.39" in pages_text(data)[0]
    assert "logo" in caplog.text


def test_logo_not_an_image_still_renders() -> None:
    data = render_invoice_pdf(
        make_document(seller=make_seller(logo=b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
    )

    assert image_count(data) == 0


# --- determinism -------------------------------------------------------------------------------
def test_render_same_document_same_bytes() -> None:
    document = make_document(seller=make_seller(logo=make_image("PNG")))

    assert render_invoice_pdf(document) == render_invoice_pdf(dataclasses.replace(document))
