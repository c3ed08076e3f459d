"""Names in every script: real glyphs from embedded font subsets, and a text layer that gives the
same text back (pypdf and poppler's pdftotext, as copy and paste would)."""

# ruff: noqa: RUF001 -- names in every script, by design

from __future__ import annotations

import io
import struct
import unicodedata
from decimal import Decimal
from typing import cast

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from integrations.ports import Address
from invoicing.documents import InvoiceDocument, InvoiceRow
from invoicing.pdf import render_invoice_pdf, text
from tests.invoicing.test_pdf import make_document, pages_text, poppler_text

D = Decimal

# script: (company, person, city, product)
NAMES = {
    "greek": ("Καφεκοπτεία Παπαδόπουλος", "Αλέξανδρος Παπαδόπουλος", "Αθήνα", "Κόκκοι καφέ"),
    "cyrillic": ("Кофейня Иванов", "Дмитрий Иванов", "Москва", "Кофе в зёрнах"),
    "chinese": ("北京咖啡贸易有限公司", "王小明", "北京市", "意式浓缩咖啡机"),
    "japanese": ("株式会社東京コーヒー", "山田太郎", "東京都", "コーヒー豆"),
    "korean": ("서울커피무역 주식회사", "김민수", "서울특별시", "원두 커피"),
    "arabic": ("شركة النور للتجارة", "محمد العلي", "دبي", "آلة إسبريسو"),
    "hebrew": ("קפה ירושלים", "דוד כהן", "ירושלים", "פולי קפה"),
    "thai": ("บริษัท กาแฟกรุงเทพ จำกัด", "สมชาย ใจดี", "กรุงเทพมหานคร", "เมล็ดกาแฟคั่ว"),
    "devanagari": ("मुंबई कॉफ़ी ट्रेडर्स", "राहुल शर्मा", "मुंबई", "कॉफ़ी बीन्स"),
}


def document_in(script: str) -> InvoiceDocument:
    company, person, city, product = NAMES[script]
    return make_document(
        customer_name=person,
        billing_address=Address(company_name=company, contact_name=person, zip_code="12345", city=city),
        rows=(InvoiceRow("item", product, D(1), D("10.00"), D(19), D("10.00")),),
    )


def nfkc(value: str) -> str:
    """Compared as NFKC: a lam-alef ligature reads back as its presentation form U+FEFB."""
    return " ".join(unicodedata.normalize("NFKC", value).split())


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    return {script: render_invoice_pdf(document_in(script)) for script in NAMES}


THAI_TONE_MARKS = dict.fromkeys(range(0x0E48, 0x0E4C))


@pytest.mark.parametrize("script", NAMES)
def test_names_read_back_from_the_text_layer(script: str, rendered: dict[str, bytes]) -> None:
    data = rendered[script]
    by_pypdf = nfkc(" ".join(pages_text(data)))
    by_poppler = nfkc(poppler_text(data))
    if script == "thai":
        # Poppler places a mark by its glyph's origin and width; a Thai tone mark is drawn left
        # of its origin, which can lie over the next letter, so poppler moves it there
        # ("คั่ว" -> "คัว่"). pypdf reads the marks in the order they were written.
        by_poppler = by_poppler.translate(THAI_TONE_MARKS)

    for name in NAMES[script]:
        assert nfkc(name) in by_pypdf, (script, name)
        expected = nfkc(name).translate(THAI_TONE_MARKS) if script == "thai" else nfkc(name)
        assert expected in by_poppler, (script, name)


MIXED_DIRECTIONS = [
    "آلة إسبريسو 2000 Pro",
    "מכונת אספרסו 2000 Pro",
    "Café שלום 12.5 kg",
    "شركة 3 ABC للتجارة",
]


@pytest.mark.parametrize("name", MIXED_DIRECTIONS)
def test_right_to_left_text_with_digits_and_latin_reads_back_as_typed(name: str) -> None:
    """Readers that follow the content stream (pypdf, screen readers, copy and paste in most
    viewers) get the text as typed: the runs are written in typed order. Readers that order by
    position (poppler's pdftotext) read the runs of a mixed line in the order they stand on the
    page, so of those only every word is checked (README: the invoice in every script)."""
    document = make_document(rows=(InvoiceRow("item", name, D(1), D("10.00"), D(19), D("10.00")),))
    data = render_invoice_pdf(document)

    assert f" {nfkc(name)} " in nfkc(" ".join(pages_text(data)))
    by_poppler = nfkc(poppler_text(data))
    for word in name.split():
        assert nfkc(word) in by_poppler, (word, by_poppler)


@pytest.mark.parametrize("script", NAMES)
def test_glyphs_come_from_embedded_subsets_not_boxes(script: str, rendered: dict[str, bytes]) -> None:
    fonts = embedded_fonts(rendered[script])

    assert all(name.lstrip("/").split("+")[0].isalpha() and "+" in name for name in fonts)  # ABCDEF+Name
    if script not in ("greek", "cyrillic"):  # those are in the base font, DejaVu Sans
        assert any("DejaVu" not in name for name in fonts), fonts
    for name, has_file in fonts.items():
        assert has_file, name  # embedded, not left to the reader's fonts


def embedded_fonts(data: bytes) -> dict[str, bool]:
    """BaseFont -> whether its font file is embedded, over all pages."""
    found = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for font in cast(DictionaryObject, resources["/Font"].get_object()).values():
            font = cast(DictionaryObject, font.get_object())
            descriptor = cast(DictionaryObject, font["/FontDescriptor"].get_object())
            found[str(font["/BaseFont"])] = "/FontFile2" in descriptor
    return found


@pytest.mark.parametrize("script", NAMES)
def test_pdf_widths_are_the_advances_of_the_embedded_glyphs(script: str, rendered: dict[str, bytes]) -> None:
    # PDF/A (ISO 19005-3, 6.2.11.5; veraPDF allows 1/1000 em): a code's /Widths entry is the
    # advance of its glyph in the embedded font program, also for the codes text.py gives
    # another advance than the glyph's own (marks drawn off their origin in Thai, Devanagari).
    checked = 0
    for page in PdfReader(io.BytesIO(rendered[script])).pages:
        resources = cast(DictionaryObject, page["/Resources"].get_object())
        for font in cast(DictionaryObject, resources["/Font"].get_object()).values():
            font = cast(DictionaryObject, font.get_object())
            program = cast(DictionaryObject, font["/FontDescriptor"].get_object())["/FontFile2"].get_object()
            advances = subset_advances(program.get_data())
            first = cast(int, font["/FirstChar"])
            for code, width in enumerate(font["/Widths"], start=first):
                if code in advances:
                    assert abs(float(width) - advances[code]) <= 1, (script, font["/BaseFont"], code)
                    checked += 1
    assert checked > 10


def subset_advances(program: bytes) -> dict[int, float]:
    """Code -> advance (1/1000 em) in a TrueType subset as ReportLab writes it: the codes from
    its cmap (platform 1, encoding 0, format 6), the advances from hmtx."""
    tables = {}
    for i in range(int.from_bytes(program[4:6], "big")):
        tag, _checksum, offset, length = struct.unpack(">4sIII", program[12 + 16 * i : 28 + 16 * i])
        tables[tag] = program[offset : offset + length]
    units_per_em = int.from_bytes(tables[b"head"][18:20], "big")
    long_metrics = int.from_bytes(tables[b"hhea"][34:36], "big")
    hmtx = tables[b"hmtx"]
    cmap = tables[b"cmap"]
    (subtable_offset,) = struct.unpack(">I", cmap[8:12])
    table = cmap[subtable_offset:]
    assert int.from_bytes(table[:2], "big") == 6
    first, count = struct.unpack(">HH", table[6:10])
    advances = {}
    for index in range(count):
        glyph = int.from_bytes(table[10 + 2 * index : 12 + 2 * index], "big")
        metric = min(glyph, long_metrics - 1)  # glyphs past the long metrics share the last advance
        advances[first + index] = (
            int.from_bytes(hmtx[4 * metric : 4 * metric + 2], "big") * 1000 / units_per_em
        )
    return advances


def test_no_character_is_drawn_with_a_font_that_lacks_it() -> None:
    for script, names in NAMES.items():
        for name in names:
            for line in text.layout(name, 500, 10):
                for run in line.runs:
                    assert 0 not in [run.face.rl.face.charToGlyph.get(g.code) for g in run.glyphs], (
                        script,
                        name,
                    )


def test_right_to_left_names_are_laid_out_right_to_left() -> None:
    # logical order: first letter first; drawn: the first letter at the right end
    (line,) = text.layout("דוד כהן", 500, 10)
    (run,) = line.runs
    assert chr(run.glyphs[-1].code) == "ד" and chr(run.glyphs[0].code) == "ן"


def test_digits_and_latin_keep_their_order_inside_right_to_left_text() -> None:
    (line,) = text.layout("שלום 2024 Ltd", 500, 10)

    # the base direction is right to left: "Ltd" on the left, then the number, then the word
    drawn = ["".join(chr(g.code) for g in run.glyphs) for run in line.runs]
    assert drawn[0].strip() == "Ltd"
    assert "2024" in drawn
    assert drawn[-1].strip()[::-1] == "שלום"


def test_arabic_letters_are_joined() -> None:
    (line,) = text.layout("محمد", 500, 10)
    (run,) = line.runs

    # joined forms are other glyphs than the letters' own (isolated) ones
    font = run.face
    own = {font.cmap[ord(c)] for c in "محمد"}
    assert {font.rl.face.charToGlyph[g.code] for g in run.glyphs} - own


def test_one_line_mixes_scripts_with_a_font_for_each() -> None:
    (line,) = text.layout("Kaffee 咖啡 قهوة", 500, 10)

    assert [run.key for run in line.runs if run.glyphs] == ["base", "zh", "base", "arabic"]


def test_a_missing_font_costs_the_glyphs_not_the_invoice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    vendored = text.find_font_file
    text.base_face(), text.base_face(bold=True)
    # The script fonts looked up afresh (and not found); the base faces kept, as ReportLab has
    # them registered.
    monkeypatch.setattr(
        text, "_faces", {key: face for key, face in text._faces.items() if key[0] == text.BASE}
    )
    monkeypatch.setattr(text, "find_font_file", lambda name: vendored(name) if "DejaVu" in name else None)

    data = render_invoice_pdf(document_in("chinese"))

    assert "fonts-droid-fallback" in caplog.text  # says what to install
    assert nfkc("北京咖啡贸易有限公司") in nfkc(" ".join(pages_text(data)))  # the text layer keeps it


def test_latin_invoice_stays_small_with_subsets() -> None:
    assert len(render_invoice_pdf(make_document())) < 64 * 1024


def test_cjk_invoice_embeds_only_the_glyphs_it_uses() -> None:
    # the three CJK fonts are 4-6 MB each
    assert len(render_invoice_pdf(document_in("chinese"))) < 96 * 1024
