"""A layout that holds: figures that never overprint, lines that never split across pages,
totals that keep a line with them, the address in the window of a DIN 5008 envelope, names
that stay on the sheet, and the PDF's metadata."""

from __future__ import annotations

import functools
import io
import re
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations, pairwise

import pytest
from pypdf import PdfReader
from reportlab.lib.units import mm

from integrations.ports import Address
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.pdf import render_invoice_pdf
from tests.invoicing.test_pdf import (
    Word,
    make_document,
    make_image,
    make_seller,
    pages_text,
    words,
)

D = Decimal
PAGE_WIDTH, PAGE_HEIGHT = 595.2756, 841.8898


def with_rows(rows: list[InvoiceRow], **overrides: object) -> InvoiceDocument:
    """A document over `rows` at 19 %, its breakdown and totals added up."""
    net = sum((row.net for row in rows), D(0))
    tax = (net * D("0.19")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    fields: dict[str, object] = {
        "rows": tuple(rows),
        "tax_breakdown": (TaxBreakdownLine(D(19), net, tax, net + tax),),
        "net_total": net,
        "tax_total": tax,
        "gross_total": net + tax,
    }
    return make_document(**{**fields, **overrides})


# --- figures -----------------------------------------------------------------------------------
NUMBER = r"-?[\d,]+(?:\.\d+)?"
# position, description (and SKU), quantity, unit price, VAT rate, amount, as pypdf reads a row
ROW = re.compile(rf"(?:^|(?<=\s))(\d+) (\D.*?) ({NUMBER}) ({NUMBER}) (\d+(?:\.\d+)?%\S*) ({NUMBER})(?=\s|$)")
HEADER = "Pos. Description Qty Unit price VAT Amount"


def printed_rows(data: bytes) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """position -> (quantity, unit price, amount) as printed; a row split over two pages would
    not match (its figures and its position on different pages)."""
    rows = {}
    for page in pages_text(data):
        table = page.split(HEADER, 1)[1].split("VAT rate")[0].split("Carried forward")[0]
        for match in ROW.finditer(table):
            quantity, unit, amount = (D(match[i].replace(",", "")) for i in (3, 4, 6))
            assert int(match[1]) not in rows, f"row {match[1]} printed twice"
            rows[int(match[1])] = (quantity, unit, amount)
    return rows


def test_quantity_times_unit_price_is_the_amount_on_every_line_net_and_gross() -> None:
    gross_rows = [
        # the shop's gross prices: 7 x 4.20 once printed as 29.37, 33 x 0.04 as 1.39
        InvoiceRow(
            "item",
            "Filter coffee",
            D(7),
            D("3.9252"),
            D(7),
            D("27.48"),
            unit_gross=D("4.20"),
            gross=D("29.40"),
        ),
        InvoiceRow(
            "item",
            "Sample sachet",
            D(33),
            D("0.0374"),
            D(7),
            D("1.23"),
            unit_gross=D("0.04"),
            gross=D("1.32"),
        ),
        InvoiceRow(
            "item", "Mug", D(1), D("16.7983"), D(19), D("16.80"), unit_gross=D("19.99"), gross=D("19.99")
        ),
    ]
    net_rows = [
        InvoiceRow(
            "item", f"Article {i}", D(i), D("0.8333") * i, D(19), (D(i) * D("0.8333") * i).quantize(D("0.01"))
        )
        for i in range(1, 30)
    ]
    for document in (with_rows(gross_rows, prices_gross=True), with_rows(net_rows)):
        rows = printed_rows(render_invoice_pdf(document))

        assert len(rows) == len(document.rows)
        for position, (quantity, unit, amount) in rows.items():
            assert (quantity * unit).quantize(D("0.01"), rounding=ROUND_HALF_UP) == amount, position


def test_gross_invoice_prints_gross_unit_prices_and_says_so() -> None:
    row = InvoiceRow(
        "item", "Mug", D(1), D("16.7983"), D(19), D("16.80"), unit_gross=D("19.99"), gross=D("19.99")
    )
    text = " ".join(pages_text(render_invoice_pdf(with_rows([row], prices_gross=True))))

    assert "Prices and amounts incl. VAT, in EUR" in text
    assert "1 Mug 1 19.99 19% 19.99" in text
    assert "16.80" not in text.split("VAT rate")[0]  # the net amount is not in the line table


def overlapping(found: list[Word]) -> list[tuple[str, str]]:
    return [
        (a.text, b.text)
        for a, b in combinations(found, 2)
        if a.page == b.page
        and a.x0 < b.x1 - 0.5
        and b.x0 < a.x1 - 0.5
        and a.top < b.bottom - 0.5
        and b.top < a.bottom - 0.5
    ]


@pytest.mark.parametrize(("currency", "places"), [("JPY", 0), ("EUR", 2), ("KWD", 3)])
def test_amounts_up_to_a_trillion_never_overlap(currency: str, places: int) -> None:
    huge = D(10) ** 12 - D(1).scaleb(-places)  # 999,999,999,999.99 in EUR
    rows = [
        InvoiceRow("item", "Office building", D(1), huge, D(19), huge),
        InvoiceRow(
            "item", "Screws", D("999999"), D("0.0333"), D(19), D("33299.967").quantize(D(1).scaleb(-places))
        ),
    ]
    net = sum((row.net for row in rows), D(0))
    tax = (net * D("0.19")).quantize(D(1).scaleb(-places))
    document = make_document(
        currency=currency,
        rows=tuple(rows),
        tax_breakdown=(TaxBreakdownLine(D(19), net, tax, net + tax),),
        net_total=net,
        tax_total=tax,
        gross_total=net + tax,
        amount_due=net + tax,
    )

    found = words(render_invoice_pdf(document))

    assert not overlapping(found)
    texts = {word.text for word in found}
    figure = f"{huge:,.{places}f}"
    assert figure in texts  # a word of its own: nothing printed over or against it
    assert f"{net + tax:,.{places}f}" in " ".join(texts)


# --- pages -------------------------------------------------------------------------------------
@functools.cache
def sixty_six_lines() -> tuple[bytes, InvoiceDocument]:
    rows = [
        InvoiceRow(
            "item",
            f"Article {i}: " + "roasted coffee beans, " * (i % 5),
            D(1 + i % 4),
            D("2.50"),
            D(19),
            D("2.50") * (1 + i % 4),
            sku=f"ART-{i}",
        )
        for i in range(1, 67)
    ]
    document = with_rows(rows)
    return render_invoice_pdf(document), document


def test_no_line_is_split_across_pages() -> None:
    data, document = sixty_six_lines()
    pages = pages_text(data)

    assert len(pages) > 2
    assert sorted(printed_rows(data)) == list(range(1, 67))  # every row's figures on one line
    for position, row in enumerate(document.rows, start=1):
        holding = [page for page in pages if re.search(rf"SKU: {row.sku}\b", page)]
        assert len(holding) == 1, position  # the description's end, its SKU, on the same page
        assert re.search(rf"\b{position} Article {position}:", holding[0]), position


def test_totals_keep_the_last_line_with_them() -> None:
    data, _document = sixty_six_lines()
    last = pages_text(data)[-1]

    assert "66 Article 66:" in last
    assert "Total net" in last


def test_continued_pages_say_so_and_carry_the_subtotal_forward() -> None:
    data, document = sixty_six_lines()
    pages = pages_text(data)
    running = D(0)
    amounts = [row.net for row in document.rows]

    for number, (page, following) in enumerate(pairwise(pages), start=1):
        carried = re.search(r"Carried forward ([\d,.]+)", page)
        brought = re.search(r"Brought forward ([\d,.]+)", following)
        assert carried and brought, number
        assert carried[1] == brought[1]
        last_row = max(int(p) for p in re.findall(r"(\d+) Article \1:", page))
        running = sum(amounts[:last_row], D(0))
        assert D(carried[1].replace(",", "")) == running
        assert f"Continued on page {number + 1}" in page
        assert f"Continued from page {number}" in following


def test_an_invoice_that_fits_has_no_carried_forward() -> None:
    text = " ".join(pages_text(render_invoice_pdf(make_document())))

    assert "forward" not in text
    assert "Continued" not in text


# --- the address window (DIN 5008 form B) ------------------------------------------------------
def word_box(found: list[Word], text: str) -> Word:
    matches = [word for word in found if word.text == text]
    assert matches, text
    return matches[0]


@pytest.mark.parametrize("tall_letterhead", [False, True])
def test_address_sits_in_the_window_whatever_the_letterhead(tall_letterhead: bool) -> None:
    seller = make_seller()
    if tall_letterhead:
        seller = make_seller(
            logo=make_image("PNG", size=(200, 200)),
            legal_name="Kaffeerösterei Nord GmbH " + "und Söhne " * 8,
            phone="+49 30 1234567 " * 3,
        )
    document = make_document(
        seller=seller,
        billing_address=Address(
            contact_name="Ylva Zander", street="Weg", street_number="1", zip_code="80331", city="Quarzstadt"
        ),
        customer_name="Ylva Zander",
    )

    found = [w for w in words(render_invoice_pdf(document)) if w.page == 1]

    # the window: 20 mm from the left, 45 mm from the top, 85 x 45 mm; the recipient below the
    # 17.7 mm zone for the return address
    for text in ("Ylva", "Quarzstadt"):
        box = word_box(found, text)
        assert 20 * mm < box.x0 and box.x1 < 105 * mm, text
        assert (45 + 17.7) * mm <= box.top and box.bottom <= 90 * mm, text
    sender = [w for w in found if w.text == "Friedrichstraße" and w.top < 90 * mm and w.x0 < 105 * mm]
    assert sender and 45 * mm <= sender[0].top and sender[0].bottom <= (45 + 17.7) * mm


def test_foreign_address_ends_with_the_country_written_out_domestic_has_none() -> None:
    abroad = Address(
        contact_name="Amélie Poulain",
        street="Rue Lepic",
        street_number="15",
        zip_code="75018",
        city="Paris",
        country="FR",
    )
    at_home = Address(
        contact_name="Jürgen Müller",
        street="Hauptstraße",
        street_number="5",
        zip_code="80331",
        city="München",
        country="DE",
    )

    english = pages_text(render_invoice_pdf(make_document(billing_address=abroad)))[0]
    german = pages_text(render_invoice_pdf(make_document(billing_address=abroad, language="de")))[0]
    domestic = pages_text(render_invoice_pdf(make_document(billing_address=at_home)))[0]

    assert "75018 Paris FRANCE" in english
    assert "75018 Paris FRANKREICH" in german
    assert "80331 München Invoice no." in domestic  # the address ends with the city
    assert "GERMANY" not in domestic.upper().split("INVOICE NO.")[0].split("MÜNCHEN")[-1]


def test_buyer_company_and_person_each_printed_once() -> None:
    document = make_document(
        customer_name="Jürgen Müller",
        buyer_legal_name="Müller Kaffeehandel KG",
        billing_address=Address(
            company_name="Müller Kaffeehandel KG",
            contact_name="Herr Jürgen Müller",
            city="München",
            zip_code="80331",
        ),
    )

    text = pages_text(render_invoice_pdf(document))[0]

    assert text.count("Müller Kaffeehandel KG") == 1
    assert text.count("Jürgen Müller") == 1


def test_company_given_only_as_the_legal_name_heads_the_address() -> None:
    document = make_document(customer_name="Jürgen Müller", buyer_legal_name="Müller Kaffeehandel KG")

    text = pages_text(render_invoice_pdf(document))[0]

    assert "Müller Kaffeehandel KG Jürgen Müller Hauptstraße 5 80331 München" in text


def test_long_names_stay_inside_the_printable_area() -> None:
    long = "Internationale Kaffeerösterei und Gastronomiebedarfsgesellschaft mit beschränkter Haftung " * 3
    document = make_document(
        seller=make_seller(legal_name=long, email="rechnungswesen." * 6 + "@example.com"),
        customer_name=long,
        billing_address=Address(
            company_name=long, contact_name=long, street=long, city="Berlin", zip_code="10117"
        ),
        rows=(InvoiceRow("item", long, D(1), D("1.00"), D(19), D("1.00"), sku="S" * 200),),
    )

    found = words(render_invoice_pdf(document))

    margin = 5 * mm
    outside = [
        w.text[:20]
        for w in found
        if w.x0 < margin or w.x1 > PAGE_WIDTH - margin or w.top < margin or w.bottom > PAGE_HEIGHT - margin
    ]
    assert not outside
    window = [w for w in found if w.page == 1 and 45 * mm < w.top < 90 * mm and w.x0 < 105 * mm]
    assert all(w.x1 <= 105 * mm for w in window)  # nothing leaves the window sideways


# --- metadata ----------------------------------------------------------------------------------
def test_metadata_has_the_issue_date_title_author_and_language() -> None:
    reader = PdfReader(io.BytesIO(render_invoice_pdf(make_document(language="de-CH"))))

    assert reader.metadata is not None
    assert reader.metadata.title == "Rechnung RE-2024-000123"
    assert reader.metadata.author == "Kaffeerösterei Nord GmbH"
    assert reader.metadata.creation_date is not None
    assert reader.metadata.creation_date.date().isoformat() == "2024-03-15"  # the issue date, not 2000
    assert str(reader.trailer["/Root"]["/Lang"]) == "de-CH"


@pytest.mark.parametrize("language", ["en", "fr", "de"])
@pytest.mark.parametrize(
    "iban", ["DE89370400440532013000", "FR7630006000011234567890189", "MT84MALT011000012345MTLCAST001S"]
)
def test_iban_is_never_broken_between_two_lines(language: str, iban: str) -> None:
    # Read off the footer and the payment details, one line each: a broken IBAN is misread.
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    document = make_document(language=language, amount_due=Decimal("10.00"), seller=make_seller(iban=iban))

    lines = PdfReader(io.BytesIO(render_invoice_pdf(document))).pages[0].extract_text().splitlines()

    assert len([line for line in lines if grouped in line]) == 2, [line for line in lines if iban[:4] in line]
