"""The PDF's cost is bounded whatever a shop sends: long words are cut, huge invoices render.

The time bounds here are generous guards against a return of the superlinear cases (a 200 KB
product name without spaces took 109 s), not measurements: `make bench` prints the real
figures (benchmarks/test_pdf_bounds.py).
"""

from __future__ import annotations

import io
import time
from decimal import Decimal
from typing import Any

from pypdf import PdfReader

from integrations.ports import Address
from invoicing.documents import InvoiceRow
from invoicing.pdf import ELLIPSIS, LIMIT_DESCRIPTION, render_invoice_pdf
from tests.invoicing.test_pdf import make_document, make_long_document, make_seller, pages_text

D = Decimal
HUGE = 200_000  # characters, no space anywhere
GUARD_SECONDS = 5.0  # a render of one page takes ~50 ms; the unbounded one took minutes


def timed_render(document: Any) -> tuple[bytes, float]:
    start = time.perf_counter()
    data = render_invoice_pdf(document)
    return data, time.perf_counter() - start


def text_positions(data: bytes) -> list[tuple[float, float, str]]:
    """(x, y) in points of every text run pypdf finds, with its text."""
    found: list[tuple[float, float, str]] = []
    for page in PdfReader(io.BytesIO(data)).pages:

        def visit(text: str, cm: Any, tm: Any, _font: Any, _size: Any) -> None:
            if text.strip():
                # the text matrix's origin, mapped through the current transformation matrix
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found.append((x, y, text))

        page.extract_text(visitor_text=visit)
    return found


def test_product_name_of_200_kb_without_spaces_is_cut_and_renders_quickly() -> None:
    name = "Kaffeemaschine" + "X" * HUGE
    row = InvoiceRow("item", name, D(1), D("1.00"), D(19), D("1.00"), sku="S" * HUGE)
    document = make_document(rows=(row,))

    data, seconds = timed_render(document)

    assert seconds < GUARD_SECONDS
    pages = pages_text(data)
    assert len(pages) == 1
    text = "".join(pages[0].split())  # the cut name is broken over several lines
    assert "KaffeemaschineXXXX" in text
    assert "X" * (LIMIT_DESCRIPTION - len("Kaffeemaschine") - 1) + ELLIPSIS in text
    assert "X" * LIMIT_DESCRIPTION not in text
    assert "SKU: SSSS" in pages[0] and "S" * 100 not in text
    assert "Total €1,336.39" in pages[0]  # the rest of the invoice is all there
    assert document.rows[0].description == name  # the data keeps the full text


def test_long_words_in_every_shop_and_seller_field_stay_on_the_page() -> None:
    word = "W" * 50_000
    address = Address(
        company_name="Company" + word,
        contact_name="Contact" + word,
        street="Street" + word,
        street_number="1" * 5_000,
        extra_lines=tuple(f"Extra{i}" + word for i in range(30)),
        zip_code="12345",
        city="City" + word,
        country="Country" + word,
    )
    document = make_document(
        number="NO" + "9" * 5_000,
        order_id="ORDER" + word,
        customer_id="CUSTOMER" + word,
        customer_name="Name" + word,
        billing_address=address,
        shipping_address=Address(contact_name="Ship" + word, city="Town" + word),
        payment_note=("Note" + word + "\n") * 200,
        seller=make_seller(
            legal_name="Seller" + word,
            address=address,
            vat_id="VAT" + word,
            tax_number="TAX" + word,
            iban="DE" + "1" * 50_000,
            bic="BIC" + word,
            email="mail" + word,
            phone="+49" + "1" * 50_000,
            website="web" + word,
        ),
    )

    data, seconds = timed_render(document)

    assert seconds < GUARD_SECONDS
    text = "".join(" ".join(pages_text(data)).split())
    for start in ("SellerWWW", "NameWWW", "ORDERWWW", "CUSTOMERWWW", "ShipWWW", "NoteWWW", "VATWWW"):
        assert start in text, start
    assert ELLIPSIS in text
    assert "W" * 1_000 not in text
    positions = text_positions(data)
    width, height = (float(v) for v in PdfReader(io.BytesIO(data)).pages[0].mediabox.upper_right)
    off_page = [(x, y, t[:20]) for x, y, t in positions if not (0 <= x <= width and 5 <= y <= height)]
    assert not off_page


def test_ordinary_footer_is_drawn_at_full_size_where_it_was() -> None:
    """The shrink-to-fit of long seller details leaves an ordinary footer unchanged."""
    positions = text_positions(render_invoice_pdf(make_document()))

    footer = [(x, y) for x, y, text in positions if "Kaffeerösterei Nord GmbH" in text and y < 100]
    assert footer  # the company column of the footer, just under the rule at 24 mm
    assert all(55 < y < 65 for _x, y in footer)


def test_invoice_of_5000_lines_renders_every_row() -> None:
    document = make_long_document(5000)

    pages = pages_text(render_invoice_pdf(document))

    text = " ".join(pages)
    assert text.count("Catalogue article number ") == 5000
    assert "Catalogue article number 5000" in pages[-1]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "Total €59,500.00" in pages[-1]
