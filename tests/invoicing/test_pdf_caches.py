"""What the renderer keeps per process to spend less CPU per invoice (issue 14), and that keeping
it changes nothing: the same document gives the same bytes however many others were rendered in
between, and every cached path gives what the uncached one gives."""

from __future__ import annotations

import dataclasses
import io
import zlib
from decimal import Decimal

import pikepdf
import pytest
from reportlab.lib import rl_accel
from reportlab.platypus import Paragraph

from invoicing.documents import InvoiceRow
from invoicing.pdf import invoice, render_invoice_pdf, text
from tests.invoicing.test_pdf import make_document, make_long_document, make_seller

D = Decimal


def test_reportlabs_c_accelerators_are_installed() -> None:
    # rl-accel (a runtime dependency): without it ReportLab falls back to pure Python, the same
    # bytes at ~15 % more CPU per invoice.
    assert "fp_str" in rl_accel._c_funcs
    assert "instanceStringWidthTTF" in rl_accel._c_funcs


def test_same_document_same_bytes_whatever_was_rendered_before() -> None:
    first = make_document()
    others = [
        make_long_document(70),  # pages, carried subtotals, a split table
        make_document(language="de", seller=make_seller(legal_name="Ölmühle & Söhne (Nord) GmbH")),
        make_document(customer_name="محمد العلي", language="fr"),  # shaped text, another face
    ]

    before = render_invoice_pdf(first)
    for document in others:
        render_invoice_pdf(document)

    assert render_invoice_pdf(first) == before
    assert render_invoice_pdf(dataclasses.replace(first)) == before


def test_paragraphs_are_parsed_once_and_drawn_as_reportlab_draws_them() -> None:
    style = invoice.STYLES["footer"]
    markup = "<b>Kaffeerösterei Nord GmbH</b><br/>Friedrichstraße 123<br/>10117 Berlin"

    one, two = invoice._paragraph(markup, style), invoice._paragraph(markup, style)
    plain = Paragraph(markup, style)

    assert one is not two and one.frags is not two.frags
    assert all(a is not b for a, b in zip(one.frags, two.frags, strict=True))
    for paragraph in (one, two, plain):
        paragraph.wrap(60, 1000)
    assert one.height == two.height == plain.height
    assert [repr(line.words) for line in one.blPara.lines] == [
        repr(line.words) for line in plain.blPara.lines
    ]


def test_a_paragraph_keeps_its_layout_for_the_same_width_only() -> None:
    paragraph = invoice._paragraph("Espresso machine Barista Pro with a long name", invoice.STYLES["cell"])

    narrow = paragraph.wrap(40, 1000)
    layout = paragraph.blPara
    assert paragraph.wrap(40, 500) == narrow and paragraph.blPara is layout  # kept
    wide = paragraph.wrap(400, 1000)
    assert wide[1] < narrow[1] and paragraph.blPara is not layout  # laid out again
    assert paragraph.wrap(40, 1000) == narrow


@pytest.mark.parametrize(
    ("call", "args", "expected"),
    [
        ("quantity", (D("1.0"),), "1"),
        ("quantity", (D("1.00"),), "1"),
        ("quantity", (D("2.5"),), "2.5"),
        ("amount", (D("-0.001"),), "0.00"),  # no "-0.00"
        ("money", (D("-0.00"),), "-€0.00"),  # not what 0.00 is written as, though equal
        ("money", (D("0.00"),), "€0.00"),
        ("amount", (D("1234.5"),), "1,234.50"),
        ("unit_price", (D("0.8333"),), "0.8333"),
        ("percent", (D("7.70"),), "7.7%"),
        ("money", (D("5"),), "€5.00"),
        ("money", (D("5.000"),), "€5.00"),
    ],
)
def test_written_numbers_are_kept_per_language_and_exact_value(
    call: str, args: tuple[Decimal, ...], expected: str
) -> None:
    english = invoice._Printer(make_document(language="en"))
    german = invoice._Printer(make_document(language="de"))

    assert getattr(english, call)(*args) == expected
    assert getattr(english, call)(*args) == expected  # from _WRITTEN
    assert getattr(german, call)(*args) != expected or call == "quantity"


def test_font_subsets_decode_to_the_font_file_reportlab_made() -> None:
    document = make_document(
        rows=(InvoiceRow("item", "Kaffee · Bohnen \u2013 ganz, 1 kg", D(1), D("10.00"), D(19), D("10.00")),)
    )
    pdf = pikepdf.open(io.BytesIO(render_invoice_pdf(document)))
    face = text.base_face()

    files = [
        font.FontDescriptor.FontFile2
        for font in pdf.pages[0].Resources.Font.values()
        if font.Subtype == "/TrueType"
    ]
    assert files
    for stream in files:
        data = stream.read_bytes()  # pikepdf inflates it: a valid zlib stream
        assert int(stream.Length1) == len(data)
        assert data.startswith(b"\x00\x01\x00\x00")  # a TrueType font file (its sfnt version)
    assert face.rl._flate._kept  # the deflated subsets are kept for the next invoice


def test_subset_flate_deflates_any_font_file_correctly() -> None:
    flate = text.base_face().rl._flate
    subset = text.base_face().rl.face.makeSubset([0, 32, 65, 66, 0x20AC])

    for data in (subset, b"no font at all", b"x" + subset):
        assert zlib.decompress(flate.encode(data)) == data
    assert flate.encode(subset) is flate.encode(subset)  # kept
