"""Renders an `InvoiceDocument` as an A4 PDF with ReportLab platypus, in the document's language.

Page one follows DIN 5008 form B: the letterhead in the top 45 mm; the address in the window
field (45 mm from the top, 20 mm from the left, 85 x 45 mm: 17.7 mm for the return address,
then six lines), wherever the letterhead ends; the information block beside it (125 mm from the
left); fold marks at 105 and 210 mm and the hole mark at 148.5 mm. The body flows below: the
title, the lines, the totals, the notes and the payment details with an EPC QR code. A page
break never cuts a line in two, the totals keep at least the last line with them, and a page
that continues says so and carries the subtotal forward.

A credit note (document_type CREDIT_NOTE, EN 16931 type code 381) is the same layout under its
own title ("Credit note", "Stornorechnung", "Avoir", ...: invoicing.pdf.wording), with its
number and date, the invoice it corrects (BT-25, BT-26) and the reason under the title, the
credited amounts positive, and instead of the payment details a sentence saying whether the
amount was refunded or will be paid back or offset: no due date, no EPC QR code.

Labels are Django gettext (English msgids, translated into the document's language), dates and
numbers are `invoicing.i18n.Formats`. Shop and seller texts in any script are set by
`invoicing.pdf.text`.

A pure function of the document: no database, no clock. The same document renders to the same
bytes (ReportLab's invariant mode fixes the file ID; the PDF's dates are the issue date).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from babel import Locale
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.money import currency_exponent
from integrations.ports import Address
from invoicing import vat
from invoicing.documents import ROW_KINDS, InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.i18n import Formats, language_override, normalize_language
from invoicing.pdf import text, wording
from invoicing.pdf.epc import EpcQrCode, epc_payload
from invoicing.pdf.logo import LogoFlowable, logo_reader

__all__ = ["ELLIPSIS", "LIMIT_DESCRIPTION", "render_invoice_pdf"]

FONT = text.BASE_FONT
FONT_BOLD = text.BASE_FONT_BOLD
_init_lock = threading.Lock()
_initialised = False


def _init_reportlab() -> None:
    """Once per process: parsing the TTFs takes ~25 ms, a whole render should take ~10."""
    global _initialised
    if _initialised:
        return
    with _init_lock:
        if _initialised:
            return
        text.base_face()
        text.base_face(bold=True)
        # Lets <b> in Paragraph markup switch to the bold face; there is no italic face vendored.
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
        text.install()
        # ASCII85 makes binary streams (font subsets, the logo) printable, which no reader needs;
        # without C accelerators it is pure Python (~5 ms a render) and it inflates them by a quarter.
        rl_config.useA85 = 0
        _initialised = True


# --- bounded layout cost ----------------------------------------------------------------------
# A paragraph costs ReportLab more than linear time in its length (a product name without
# spaces: 40 KB 2 s, 100 KB 14 s, 200 KB 109 s in production, as a row spilling over pages).
# So every string a shop or seller supplies is cut to a printable length before it is set (the
# stored invoice keeps the full text), and the few words still wider than their column are
# broken (ReportLab's `splitLongWords`, on in every style; text.TextBlock does the same). With
# both, a render costs at most a few ms per row whatever the data.
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"
LIMIT_DESCRIPTION = 300  # a line's description: up to ~8 lines in its column
LIMIT_NAME = 120  # names and address lines
LIMIT_VALUE = 80  # ids, numbers, contact and bank details
LIMIT_FOOTER = 60  # the footer has room for about five lines per column
LIMIT_NOTE = 1000  # the payment note, all lines together
MAX_ADDRESS_LINES = 8
MAX_NOTE_LINES = 10


def _clip(value: str, limit: int) -> str:
    """`value` stripped, cut to at most `limit` characters; a cut ends with an ellipsis."""
    stripped = value.strip()
    if len(stripped) <= limit:
        return stripped
    return stripped[: limit - 1].rstrip() + ELLIPSIS


# --- geometry (A4, DIN 5008 form B) ------------------------------------------------------------
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_LEFT = 25 * mm  # DIN 5008: the text starts 25 mm from the left, as the address does
MARGIN_RIGHT = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
LETTERHEAD = (10 * mm, 40 * mm)  # from/to, from the top: the letterhead is fitted into it
WINDOW_LEFT, WINDOW_TOP, WINDOW_WIDTH, WINDOW_HEIGHT = 20 * mm, 45 * mm, 85 * mm, 45 * mm
WINDOW_PADDING = 5 * mm  # the address starts 25 mm from the left and keeps 5 mm off the edge
RETURN_ZONE = 17.7 * mm  # the field's top part: endorsements and the return address at its foot
INFO_LEFT, INFO_TOP = 125 * mm, 50 * mm
INFO_WIDTH = PAGE_WIDTH - MARGIN_RIGHT - INFO_LEFT
INFO_MAX_BOTTOM = 150 * mm  # a longer information block (many long values) is scaled to fit
BODY_TOP = 98.5 * mm  # DIN 5008 form B: the first line below the address field
FOLD_MARKS = (105 * mm, 210 * mm)
HOLE_MARK = 148.5 * mm
MARGIN_TOP_LATER = 20 * mm
RUNNING_HEAD_TOP = 11 * mm
MARGIN_BOTTOM = 32 * mm  # room for the footer
FOOTER_RULE_Y = 24 * mm
FOOTER_MIN_Y = 8 * mm  # the footer never reaches below this (printers' unprintable margin)
FOOTER_GUTTER = 3 * mm  # between the footer's columns


def _from_top(distance: float) -> float:
    return PAGE_HEIGHT - distance


# --- styles ------------------------------------------------------------------------------------
INK = colors.HexColor("#1f2328")
MUTED = colors.HexColor("#5f6670")
RULE = colors.HexColor("#c9ced4")
HAIRLINE = colors.HexColor("#e3e6ea")


def _style(name: str, **kw: Any) -> ParagraphStyle:
    # splitLongWords (ReportLab's default, set here so it stays on): a word wider than the line
    # is broken across lines instead of running out of its column or the page.
    base: dict[str, Any] = {
        "fontName": FONT,
        "fontSize": 9,
        "leading": 12,
        "textColor": INK,
        "splitLongWords": 1,
    }
    return ParagraphStyle(name, **{**base, **kw})


STYLES = {
    "muted": _style("muted", fontSize=8, leading=10.5, textColor=MUTED),
    "wordmark": _style("wordmark", fontName=FONT_BOLD, fontSize=15, leading=18),
    "seller_name": _style("seller_name", fontName=FONT_BOLD, fontSize=10, leading=13, alignment=TA_RIGHT),
    "seller": _style("seller", fontSize=8, leading=10.5, textColor=MUTED, alignment=TA_RIGHT),
    "sender_line": _style("sender_line", fontSize=6.5, leading=8, textColor=MUTED),
    "address": _style("address", fontSize=10, leading=12.5),
    "info_label": _style("info_label", fontSize=8.5, leading=11, textColor=MUTED),
    "info_value": _style("info_value", fontSize=8.5, leading=11, alignment=TA_RIGHT),
    "info_heading": _style("info_heading", fontName=FONT_BOLD, fontSize=8.5, leading=11),
    "info_address": _style("info_address", fontSize=8.5, leading=11),
    "title": _style("title", fontName=FONT_BOLD, fontSize=17, leading=21),
    "cell": _style("cell", fontSize=8.5, leading=11),
    "sku": _style("sku", fontSize=7, leading=9, textColor=MUTED),
    "note": _style("note", fontSize=8.5, leading=11.5),
    "heading": _style("heading", fontName=FONT_BOLD, fontSize=9, leading=12),
    "payment": _style("payment", fontSize=8.5, leading=11.5),
    "caption": _style("caption", fontSize=7, leading=8.5, textColor=MUTED),
    "footer": _style("footer", fontSize=6.5, leading=8.5, textColor=MUTED),
}


def _layout_style(*overrides: tuple[Any, ...]) -> TableStyle:
    """For tables that only place blocks side by side: no padding, no lines.

    The font is set although the cells hold paragraphs: a Table otherwise puts an unused,
    unembedded Helvetica into the PDF, which PDF/A checkers reject.
    """
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            *overrides,
        ]
    )


# --- shop and seller text ----------------------------------------------------------------------
def _block(
    lines: Sequence[str], style: ParagraphStyle, limit: int = LIMIT_NAME, bold_first: bool = False
) -> Flowable:
    """Lines of plain text (never markup) as one flowable: a Paragraph when DejaVu Sans sets them
    alone (the fast path), otherwise a text.TextBlock (other scripts, right-to-left)."""
    clipped = [_clip(line, limit) for line in lines]
    if any(text.needs_shaping(line) for line in clipped):
        return text.TextBlock(clipped, style, bold_lines={0} if bold_first and clipped else ())
    # Escaped after the cut, so a cut never splits an entity such as '&amp;'.
    parts = [escape(line) for line in clipped]
    if bold_first and parts:
        parts[0] = f"<b>{parts[0]}</b>"
    return _paragraph("<br/>".join(parts), style)


# --- paragraphs, parsed once and laid out once -------------------------------------------------
# An invoice sets ~30 paragraphs, most of them the same from one invoice to the next (labels, the
# seller's details, the footer, the shop's product names). ReportLab parses a paragraph's markup
# in its constructor (~50 us: an HTML parser), and lays it out again at every wrap (a table
# wraps its cells to size them and again to draw them).
class _Paragraph(Paragraph):
    """A Paragraph that keeps its layout for a second wrap at the same width: a wrap depends on
    the width alone (the available height only matters to split)."""

    _wrapped: tuple[float, tuple[float, float]] | None = None  # (width, the size wrap gave)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._wrapped is not None and self._wrapped[0] == availWidth:
            return self._wrapped[1]
        size = super().wrap(availWidth, availHeight)
        self._wrapped = (availWidth, size)
        return size

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self._wrapped = None  # ReportLab's split lays out again and may change the fragments
        return super().split(availWidth, availHeight)


_PARSED_LIMIT = 2048  # distinct paragraphs kept per process: ~4 MB at most (300-character lines)


@functools.lru_cache(maxsize=_PARSED_LIMIT)
def _parsed(markup: str, style: ParagraphStyle) -> Paragraph:
    """ReportLab's parse of `markup` (text, style and fragments), kept per process and never
    drawn: `_paragraph` gives every use its own copies of the fragments."""
    return Paragraph(markup, style)


def _paragraph(markup: str, style: ParagraphStyle) -> Paragraph:
    """Paragraph(markup, style), parsed once per process: a new paragraph each time (a flowable
    holds its layout and is drawn once), with copies of the parsed fragments, which layout
    treats as its own."""
    parsed = _parsed(markup, style)
    return _Paragraph(
        parsed.text, parsed.style, bulletText=parsed.bulletText, frags=[frag.clone() for frag in parsed.frags]
    )


def _fit(flowable: Flowable, width: float, height: float) -> tuple[float, float, float]:
    """(scale, drawn width, drawn height) of `flowable` fitted into width x height: at full size
    when it fits, else shrunk and set wider by the same factor (so it still fills `width`), until
    it fits. Long seller or buyer details must not leave their box."""
    scale = 1.0
    for _attempt in range(8):
        w, h = flowable.wrap(width / scale, 10 * PAGE_HEIGHT)
        if h * scale <= height or h <= 0:
            return scale, w * scale, h * scale
        scale *= max(0.5, height / (h * scale)) * 0.98
    w, h = flowable.wrap(width / scale, 10 * PAGE_HEIGHT)
    scale = min(scale, height / h)  # give up filling the width: only the height is certain
    return scale, w * scale, h * scale


def _draw_fitted(
    canvas: Canvas, flowable: Flowable, x: float, top: float, width: float, height: float, right: bool = False
) -> float:
    """Draws `flowable` fitted (see _fit) into the box of width x height whose top-left corner
    is (x, top), at its left edge or, with `right`, its right edge; returns the height it took."""
    scale, drawn_width, h = _fit(flowable, width, height)
    canvas.saveState()
    canvas.translate(x + width - drawn_width if right else x, top - h)
    canvas.scale(scale, scale)
    flowable.drawOn(canvas, 0, 0)
    canvas.restoreState()
    return h


# --- formatting --------------------------------------------------------------------------------
def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class _Printer:
    """Numbers, dates and names as the document's language writes them.

    What it writes is kept per process (`_written`): Babel takes ~20 us a number, an invoice
    writes ~40, and the same prices, rates, quantities and dates recur from one invoice to the
    next. Numbers are keyed by their exact text (str of the Decimal), not by value: -0.00 equals
    0.00 but is written "-€0.00"."""

    def __init__(self, document: InvoiceDocument) -> None:
        self.document = document
        self.formats = Formats(document.language)
        self.places = currency_exponent(document.currency)

    def amount(self, value: Decimal) -> str:
        return self.number(value, self.places)

    def money(self, value: Decimal, currency: str | None = None) -> str:
        code = currency or self.document.currency
        return self._written(("money", str(value), code), lambda: self.formats.money(value, code))

    def unit_price(self, value: Decimal) -> str:
        # As many decimals as the price carries (0.8333 net of 1.00 gross): quantity x unit
        # price = amount as printed (the recalculation gives it the decimals that need).
        return self.number(value, min(max(self.places, _decimals(value)), 6))

    def quantity(self, value: Decimal) -> str:
        return self.number(value, min(_decimals(value), 6))

    def percent(self, rate: Decimal) -> str:
        return self._written(("percent", str(rate)), lambda: self.formats.percent(rate))

    def date(self, value: dt.date | None) -> str:
        if not value:
            return ""
        return self._written(("date", value), lambda: self.formats.date(value))

    def number(self, value: Decimal, places: int) -> str:
        return self._written(("number", str(value), places), lambda: self._number(value, places))

    def _number(self, value: Decimal, places: int) -> str:
        written = self.formats.number(value, places)
        # No "-0.00" for a negative amount that rounds to nothing.
        return written.lstrip("-") if Decimal(value).quantize(Decimal(1).scaleb(-places)) == 0 else written

    def country(self, code: str) -> str:
        return self.formats.country(code)

    def _written(self, key: tuple[Any, ...], write: Callable[[], str]) -> str:
        full_key = (self.formats.language, *key)
        found = _WRITTEN.get(full_key)
        if found is None:
            if len(_WRITTEN) >= _WRITTEN_LIMIT:
                _WRITTEN.clear()  # a long-running worker: start afresh rather than grow
            found = _WRITTEN[full_key] = write()
        return found


_WRITTEN: dict[tuple[Any, ...], str] = {}
_WRITTEN_LIMIT = 50_000


# --- addresses ---------------------------------------------------------------------------------
@functools.cache
def _country_codes_by_name() -> dict[str, str]:
    """English (and German) country names to ISO codes, for addresses that give a name."""
    names: dict[str, str] = {}
    for language in ("en", "de"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(name.casefold(), code)
    return names


def _country_code(value: str) -> str:
    value = value.strip()
    if len(value) == 2 and value.isalpha():
        return vat.country_code(value)
    return _country_codes_by_name().get(value.casefold(), "")


def _foreign_country(country: str, home: str, printer: _Printer) -> str:
    """The destination country for an address abroad, written out in capitals as DIN 5008 and the
    UPU ask (in the document's language); "" for an address in the seller's country."""
    if not country.strip():
        return ""
    code, home_code = _country_code(country), _country_code(home)
    if (code and code == home_code) or country.strip().casefold() == home.strip().casefold():
        return ""
    return (printer.country(code) if code else country.strip()).upper()


def _street_lines(address: Address) -> list[str]:
    return [
        " ".join(p for p in (address.street, address.street_number) if p),
        address.street_appendix,
        *address.extra_lines,
        " ".join(p for p in (address.zip_code, address.city) if p),
        address.state,
    ]


def _words(value: str) -> set[str]:
    return set(unicodedata.normalize("NFKC", value).casefold().split())


def _recipient_lines(document: InvoiceDocument, printer: _Printer) -> list[str]:
    """The billing address as it goes into the window: the buyer company, the person, the street
    ... and, last, the country when it is abroad. A name already in the address is not repeated."""
    address = document.billing_address
    lines = [
        line for line in (address.company_name, address.contact_name, *_street_lines(address)) if line.strip()
    ]

    def missing(name: str) -> bool:
        # Present when a line has all its words: "Maximiliane von Hohenzollern" is in "Prof. Dr.
        # Maximiliane Wilhelmine von Hohenzollern", and is not printed again above it.
        wanted = _words(name)
        return bool(wanted) and not any(wanted <= _words(line) for line in lines)

    if missing(document.buyer_legal_name):
        lines.insert(0, document.buyer_legal_name)
    if missing(document.customer_name):
        # The person under the company they buy for; alone, on top.
        company = address.company_name.strip() or document.buyer_legal_name.strip()
        lines.insert(1 if company else 0, document.customer_name)
    country = _foreign_country(address.country, document.seller.address.country, printer)
    lines = lines[: MAX_ADDRESS_LINES - 1 if country else MAX_ADDRESS_LINES] + ([country] if country else [])
    return [_clip(line, LIMIT_NAME) for line in lines]


def _seller_address_lines(document: InvoiceDocument, printer: _Printer) -> list[str]:
    address = document.seller.address
    country = address.country.strip()
    code = _country_code(country)
    written = printer.country(code) if code else country
    return [line for line in [*_street_lines(address), written] if line.strip()]


def _return_address(document: InvoiceDocument, printer: _Printer) -> str:
    """The one-line return address of DIN 5008 letters: it also names the seller where the
    buyer's eye goes first."""
    seller = document.seller
    address = seller.address
    parts = [
        seller.legal_name,
        " ".join(x for x in (address.street, address.street_number) if x),
        " ".join(x for x in (address.zip_code, address.city) if x),
    ]
    if _foreign_country(document.billing_address.country, address.country, printer):
        code = _country_code(address.country)
        parts.append(printer.country(code) if code else address.country)
    return " · ".join(_clip(p, LIMIT_VALUE) for p in parts if p.strip())


# --- labels ------------------------------------------------------------------------------------
# "IBAN:" / French "IBAN :" (shared with the email, invoicing.pdf.wording)
_label = wording.label
_labelled = wording.labelled


# --- page one: letterhead, address window, information block -----------------------------------
def _letterhead(document: InvoiceDocument, printer: _Printer) -> tuple[Flowable, Flowable]:
    seller = document.seller
    logo = logo_reader(seller.logo)
    left: Flowable = LogoFlowable(logo) if logo else _block([seller.legal_name], STYLES["wordmark"])
    contacts = [
        _labelled(label, _clip(value, LIMIT_VALUE))
        for label, value in (
            (_("Phone"), seller.phone),
            (_("Email"), seller.email),
            (_("Web"), seller.website),
        )
        if value.strip()
    ]
    ids = [
        _labelled(label, _clip(value, LIMIT_VALUE))
        for label, value in ((_("VAT ID"), seller.vat_id), (_("Tax no."), seller.tax_number))
        if value.strip()
    ]
    right: list[Flowable] = [_block([seller.legal_name], STYLES["seller_name"])]
    for group in (_seller_address_lines(document, printer), contacts, ids):
        if group:
            right.append(_block(group, STYLES["seller"]))
    table = Table([[right]], colWidths=[CONTENT_WIDTH * 0.55])
    table.setStyle(_layout_style())
    return left, table


def _info_block(document: InvoiceDocument, printer: _Printer) -> Table:
    supply = printer.date(document.delivery_date) if document.delivery_date else _("same as invoice date")
    rows: list[tuple[str, str]]
    if document.is_credit_note:
        # Its own number and date (BT-1, BT-2), then the invoice it corrects (BT-25, BT-26): the
        # supply date "same as invoice date" is that invoice's. Nothing is due: no due date.
        rows = [
            (wording.credit_note_number_label(document), document.number),
            (wording.credit_note_date_label(document), printer.date(document.issue_date)),
            (
                pgettext("the invoice a credit note corrects", "Invoice no."),
                document.preceding_invoice_number,
            ),
            (
                pgettext("the invoice a credit note corrects", "Invoice date"),
                printer.date(document.preceding_invoice_date),
            ),
            (_("Delivery date"), supply),
        ]
    else:
        rows = [
            (_("Invoice no."), document.number),
            (_("Invoice date"), printer.date(document.issue_date)),
            (_("Delivery date"), supply),
            (_("Due date"), printer.date(document.due_date) if not document.paid else ""),
        ]
    rows += [
        (_("Order no."), document.order_id),
        (_("Order date"), printer.date(document.order_date)),
        (_("Customer no."), document.customer_id),
        (_("Your VAT ID"), document.buyer_vat_id),
    ]
    # Labels are ours and short, so plain strings (cheaper than a Paragraph) unless one is longer
    # than its column ("Datum zdanitelného plnění:"); values come from the shop and may be long
    # (UUID order ids), so they wrap.
    labels = [(_label(label), value) for label, value in rows if value.strip()]
    widest = max([_string_width(label, 8.5) for label, _value in labels] or [0])
    label_width = min(widest + 3 * mm, INFO_WIDTH * 0.55)
    data: list[list[Any]] = [
        [
            label
            if _string_width(label, 8.5) + 3 * mm <= label_width
            else _block([label], STYLES["info_label"]),
            _block([value], STYLES["info_value"], LIMIT_VALUE),
        ]
        for label, value in labels
    ]
    styles: list[tuple[Any, ...]] = [
        ("FONTSIZE", (0, 0), (0, -1), 8.5),
        ("LEADING", (0, 0), (0, -1), 11),
        ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
        ("TOPPADDING", (0, 0), (-1, -1), 0.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
    ]
    shipping = document.shipping_address
    if shipping is not None and shipping != document.billing_address:
        lines = [shipping.company_name, shipping.contact_name, *_street_lines(shipping)]
        lines.append(_foreign_country(shipping.country, document.seller.address.country, printer))
        lines = [line for line in lines if line.strip()][:MAX_ADDRESS_LINES]
        if lines:
            first = len(data)
            data.append([_block([_("Delivery address")], STYLES["info_heading"]), ""])
            data.append([_block(lines, STYLES["info_address"]), ""])
            styles += [("SPAN", (0, first), (1, first)), ("SPAN", (0, first + 1), (1, first + 1))]
            styles.append(("TOPPADDING", (0, first), (-1, first), 5))
    table = Table(data or [[""]], colWidths=[label_width, INFO_WIDTH - label_width])
    table.setStyle(_layout_style(*styles))
    return table


def _draw_marks(canvas: Canvas) -> None:
    # Fold marks for a DL window envelope and the hole mark, at the left edge (DIN 5008).
    canvas.saveState()
    canvas.setStrokeColor(MUTED)
    canvas.setLineWidth(0.3)
    for top, length in ((FOLD_MARKS[0], 5 * mm), (HOLE_MARK, 7 * mm), (FOLD_MARKS[1], 5 * mm)):
        canvas.line(3 * mm, _from_top(top), 3 * mm + length, _from_top(top))
    canvas.restoreState()


# --- the line table ----------------------------------------------------------------------------
def _ordered_rows(rows: Sequence[InvoiceRow]) -> list[InvoiceRow]:
    # Stable: items keep their order, then shipping, fees and discounts, whatever order came in.
    rank = {kind: i for i, kind in enumerate(ROW_KINDS)}
    return sorted(rows, key=lambda row: rank.get(row.kind, len(ROW_KINDS)))


_SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"


@dataclass
class _VatNotes:
    """Markers for the VAT categories that need a note (everything but S), numbered in the order
    of the breakdown, and the notes themselves (Art. 226 (11), (11a) VAT Directive)."""

    markers: dict[tuple[str, Decimal], str]
    notes: list[str]

    @classmethod
    def of(cls, document: InvoiceDocument) -> _VatNotes:
        markers: dict[tuple[str, Decimal], str] = {}
        notes: list[str] = []
        for line in _breakdown(document):
            note = vat.legal_note(line.category, document.language, line.reference)
            if not note:
                continue
            if note not in notes:
                notes.append(note)
            index = notes.index(note)
            markers[(line.category, line.rate)] = _SUPERSCRIPTS[index] if index < len(_SUPERSCRIPTS) else "*"
        return cls(markers, notes)

    def marker(self, category: str, rate: Decimal) -> str:
        return self.markers.get((category, rate), "")


def _breakdown(document: InvoiceDocument) -> list[TaxBreakdownLine]:
    return sorted(document.tax_breakdown, key=lambda line: (-line.rate, line.category))


@dataclass
class _Lines:
    """Everything the line table needs, computed once per render and shared by its pages."""

    header: list[str]
    rows: list[list[Any]]  # pos, description flowable(s), quantity, unit price, VAT, amount
    subtotals: list[str]  # the amount column summed up to and including each row, printed
    widths: list[float]
    number_size: float  # the font size of the figures (smaller for very wide ones)
    carried_label: str
    brought_label: str
    heights: list[float] = field(default_factory=list)
    suffix_heights: list[float] = field(default_factory=list)  # [i]: rows i.. together

    PAD = 4  # top and bottom padding of a row
    HEADER_HEIGHT = 10 + 2 * PAD

    def row_heights(self) -> list[float]:
        if not self.heights:
            width = self.widths[1] - 6  # the description column less its padding
            line = self.number_size * 11 / 8.5
            for row in self.rows:
                cell = row[1] if isinstance(row[1], list) else [row[1]]
                height = sum(f.wrap(width, PAGE_HEIGHT)[1] for f in cell)
                self.heights.append(max(height, line) + 2 * self.PAD)
            self.suffix_heights = [0.0] * (len(self.heights) + 1)
            for i in range(len(self.heights) - 1, -1, -1):
                self.suffix_heights[i] = self.suffix_heights[i + 1] + self.heights[i]
        return self.heights

    def rows_height(self, start: int) -> float:
        self.row_heights()
        return self.suffix_heights[start] if self.suffix_heights else 0.0

    def one_line(self) -> float:
        return self.number_size * 11 / 8.5 + 2 * self.PAD

    def table(self, start: int, end: int, brought: str, carried: str) -> Table:
        data: list[list[Any]] = [self.header]
        heights: list[float] = [self.HEADER_HEIGHT]
        if brought:
            data.append(["", self.brought_label, "", "", "", brought])
            heights.append(self.one_line())
        data += self.rows[start:end]
        heights += self.row_heights()[start:end]
        if carried:
            data.append(["", self.carried_label, "", "", "", carried])
            heights.append(self.one_line())
        table = Table(data, colWidths=self.widths, rowHeights=heights)
        size, leading = self.number_size, self.number_size * 11 / 8.5
        commands: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), FONT),
            ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
            ("FONTSIZE", (0, 0), (-1, 0), 8),
            ("LEADING", (0, 0), (-1, 0), 10),
            ("FONTSIZE", (0, 1), (-1, -1), size),
            ("LEADING", (0, 1), (-1, -1), leading),
            ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), self.PAD),
            ("BOTTOMPADDING", (0, 0), (-1, -1), self.PAD),
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
            ("LINEBELOW", (0, 1), (-1, -2), 0.25, HAIRLINE),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8 if not carried else 0.25, INK if not carried else HAIRLINE),
        ]
        for row in ([1] if brought else []) + ([len(data) - 1] if carried else []):
            commands += [
                ("FONTNAME", (0, row), (-1, row), FONT_BOLD),
                ("TEXTCOLOR", (0, row), (-1, row), MUTED),
                ("SPAN", (1, row), (4, row)),
            ]
        table.setStyle(TableStyle(commands))
        return table


class _Continued(Flowable):
    """The note under a table that goes on over the page: "Continued on page 2"."""

    HEIGHT = 12

    def __init__(self, template: str) -> None:
        super().__init__()
        self.template = template  # with %(page)s

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.HEIGHT

    def draw(self) -> None:
        self.canv.setFont(FONT, 7.5)
        self.canv.setFillColor(MUTED)
        label = self.template % {"page": self.canv.getPageNumber() + 1}
        self.canv.drawRightString(self.width, 2, label)


class _LineTable(Flowable):
    """The lines from `start` on, then `tail` (the totals). Splits between lines only, leaves at
    least the last line with the totals, and carries the subtotal over the page break."""

    GAP = 5 * mm  # between the lines and the totals

    def __init__(
        self, lines: _Lines, tail: Flowable, continued: str, start: int = 0, brought: str = ""
    ) -> None:
        super().__init__()
        self.lines = lines
        self.tail = tail
        self.continued = continued
        self.start = start
        self.brought = brought
        self._tail_height = 0.0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        # From the row heights measured once: a table of all remaining rows is built only to be
        # drawn (building one per page tried would cost O(rows^2) on a 5,000-line invoice).
        lines = self.lines
        table_height = lines.HEADER_HEIGHT + lines.rows_height(self.start)
        if self.brought:
            table_height += lines.one_line()
        _w, self._tail_height = self.tail.wrap(available_width, available_height)
        self.width, self.height = available_width, table_height + self.GAP + self._tail_height
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        lines = self.lines
        heights = lines.row_heights()
        room = available_height - lines.HEADER_HEIGHT - lines.one_line() - _Continued.HEIGHT
        if self.brought:
            room -= lines.one_line()
        end = self.start
        # The last line never leaves: it stays with the totals (and goes over with them).
        while end < len(lines.rows) - 1 and heights[end] <= room:
            room -= heights[end]
            end += 1
        if end == self.start:
            return []  # not one line fits: all of it goes to the next page
        carried = lines.subtotals[end - 1]
        return [
            lines.table(self.start, end, self.brought, carried),
            _Continued(self.continued),
            _LineTable(lines, self.tail, self.continued, end, carried),
        ]

    def draw(self) -> None:
        table = self.lines.table(self.start, len(self.lines.rows), self.brought, "")
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, self._tail_height + self.GAP)
        self.tail.drawOn(self.canv, 0, 0)


def _string_width(value: str, size: float, bold: bool = False) -> float:
    return pdfmetrics.stringWidth(value, FONT_BOLD if bold else FONT, size)


MIN_DESCRIPTION_WIDTH = 45 * mm


def _lines(document: InvoiceDocument, printer: _Printer, notes: _VatNotes) -> _Lines:
    gross = document.prices_gross
    header = [_("Pos."), _("Description"), _("Qty"), _("Unit price"), _("VAT"), _("Amount")]
    sku_label = _("SKU")
    rows: list[list[Any]] = []
    subtotals: list[str] = []
    running = Decimal(0)
    for position, row in enumerate(_ordered_rows(document.rows), start=1):
        unit = row.unit_gross if gross and row.unit_gross is not None else row.unit_net
        amount = row.gross if gross and row.gross is not None else row.net
        running += amount
        # Numbers are plain strings: they never wrap, and a Paragraph per cell costs render time.
        # Two flowables rather than one with a <font size> run: mixed-size text takes ReportLab's
        # slow line-breaking path, which costs ~10 ms on an 80-row invoice.
        description: Any = _block([row.description], STYLES["cell"], LIMIT_DESCRIPTION)
        if row.sku.strip():
            description = [
                description,
                _block([_labelled(sku_label, _clip(row.sku, LIMIT_VALUE))], STYLES["sku"]),
            ]
        rows.append(
            [
                str(position),
                description,
                printer.quantity(row.quantity),
                printer.unit_price(unit),
                printer.percent(row.tax_rate) + notes.marker(row.vat_category, row.tax_rate),
                printer.amount(amount),
            ]
        )
        subtotals.append(printer.amount(running))
    # Every figure column as wide as its widest figure (or heading), so none ever overprints
    # its neighbour; the description takes what is left. Figures too wide to leave the
    # description its minimum are set smaller.
    size = 8.5
    columns = [0, 2, 3, 4, 5]
    needed = {}
    for column in columns:
        figures = [row[column] for row in rows] + (subtotals if column == 5 else [])
        needed[column] = max(
            [_string_width(header[column], 8, bold=True)] + [_string_width(f, size) for f in figures]
        ) + (3 if column == 0 else 9)
    figures_width = sum(needed.values())
    if CONTENT_WIDTH - figures_width < MIN_DESCRIPTION_WIDTH:
        scale = (CONTENT_WIDTH - MIN_DESCRIPTION_WIDTH) / figures_width
        size = max(5.0, size * scale)
        needed = {c: w * scale for c, w in needed.items()}
    widths = [
        needed[0],
        CONTENT_WIDTH - sum(needed.values()),
        needed[2],
        needed[3],
        needed[4],
        needed[5],
    ]
    return _Lines(
        header=header,
        rows=rows,
        subtotals=subtotals,
        widths=widths,
        number_size=size,
        carried_label=_("Carried forward"),
        brought_label=_("Brought forward"),
    )


# --- tax breakdown and totals ------------------------------------------------------------------
def _summary(document: InvoiceDocument, printer: _Printer, notes: _VatNotes) -> Table:
    breakdown_rows: list[list[str]] = [
        [_("VAT rate"), _("Net"), _("VAT"), _("Gross")],
        *(
            [
                printer.percent(line.rate) + notes.marker(line.category, line.rate),
                printer.amount(line.net),
                printer.amount(line.tax),
                printer.amount(line.gross),
            ]
            for line in _breakdown(document)
        ),
    ]
    size = 7.5
    breakdown_widths = [
        max(_string_width(row[c], size, bold=i == 0) for i, row in enumerate(breakdown_rows))
        + (3 if c == 0 else 6)
        for c in range(4)
    ]
    tax_table = Table(breakdown_rows, colWidths=breakdown_widths, hAlign="LEFT")
    tax_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), size),
                ("LEADING", (0, 0), (-1, -1), 9.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), MUTED),
                ("ALIGN", (0, 0), (-1, -1), "RIGHT"),
                ("ALIGN", (0, 0), (0, -1), "LEFT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LINEBELOW", (0, 0), (-1, 0), 0.4, RULE),
            ]
        )
    )
    total_rows: list[list[str]] = [
        [_("Total net"), printer.money(document.net_total)],
        [_("Total VAT"), printer.money(document.tax_total)],
        [_("Total"), printer.money(document.gross_total)],
    ]
    if document.is_credit_note:
        pass  # nothing is paid or due on a credit note: its refund sentence says what happens
    elif document.paid:
        total_rows.append([_("Paid"), printer.money(document.gross_total)])
    elif document.amount_due is not None:
        total_rows.append([_("Amount due"), printer.money(document.amount_due)])
    bold_from = 2
    label_width = max(_string_width(row[0], 10.5, bold=True) for row in total_rows) + 8
    value_width = max(_string_width(row[1], 10.5, bold=True) for row in total_rows) + 2
    totals = Table(total_rows, colWidths=[label_width, value_width])
    totals.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("LEADING", (0, 0), (-1, -1), 12),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("FONTNAME", (0, bold_from), (-1, -1), FONT_BOLD),
                ("FONTSIZE", (0, bold_from), (-1, -1), 10.5),
                ("LEADING", (0, bold_from), (-1, -1), 14),
                ("TOPPADDING", (0, bold_from), (-1, bold_from), 5),
                ("LINEABOVE", (0, bold_from), (-1, bold_from), 0.8, INK),
            ]
        )
    )
    totals_width = label_width + value_width
    # No breakdown (a draft without rows) leaves the left side empty rather than a bare header.
    left: Any = tax_table if document.tax_breakdown else ""
    if sum(breakdown_widths) + 8 * mm + totals_width <= CONTENT_WIDTH:
        outer = Table([[left, totals]], colWidths=[CONTENT_WIDTH - totals_width, totals_width])
        outer.setStyle(_layout_style())
    else:  # figures too wide to stand side by side: the totals under the breakdown
        outer = Table([[left], [totals]], colWidths=[CONTENT_WIDTH])
        outer.setStyle(
            _layout_style(("ALIGN", (0, 1), (0, 1), "RIGHT"), ("TOPPADDING", (0, 1), (0, 1), 4 * mm))
        )
    return outer


# --- notes and payment -------------------------------------------------------------------------
def _notes(document: InvoiceDocument, printer: _Printer, notes: _VatNotes) -> list[Flowable]:
    flowables: list[Flowable] = []
    lines = [
        f"{_SUPERSCRIPTS[i] if i < len(_SUPERSCRIPTS) else '*'} {note}" for i, note in enumerate(notes.notes)
    ]
    fx = document.foreign_currency_vat
    if fx is not None:
        # Art. 230 VAT Directive: the VAT in the currency of the member state, with the rate used.
        rate = f"1 {document.currency} = {printer.number(fx.rate, max(4, _decimals(fx.rate)))} {fx.currency}"
        lines.append(
            _("VAT total in %(currency)s: %(amount)s (exchange rate %(rate)s as of %(date)s)")
            % {
                "currency": fx.currency,
                "amount": printer.money(fx.tax_total, fx.currency),
                "rate": rate,
                "date": printer.date(fx.rate_date),
            }
        )
    if lines:
        flowables += [_block(lines, STYLES["note"], LIMIT_NOTE), Spacer(1, 3 * mm)]
    # The payment note already carries the payment terms when something is left to pay (see
    # invoicing.recalculation.payment_note); printing the terms again would tell a customer who
    # paid by card to pay within 14 days.
    note = document.payment_note
    if note.strip():
        note_lines = _clip(note, LIMIT_NOTE).splitlines()[:MAX_NOTE_LINES]
        flowables += [_block(note_lines, STYLES["note"], LIMIT_NOTE), Spacer(1, 3 * mm)]
    return flowables


def _payment(document: InvoiceDocument, printer: _Printer) -> list[Flowable]:
    """Bank details with the EPC QR code, for an amount due by transfer in euro."""
    if document.is_credit_note:
        return _refund(document, printer)
    payload = epc_payload(document)
    if not payload:
        return []
    seller = document.seller
    assert document.amount_due is not None

    def line(label: str, value: str) -> str:
        return _labelled(label, value)

    details = [
        line(_("Account holder"), _clip(seller.legal_name, LIMIT_VALUE)),
        line(_("IBAN"), _group_iban(seller.iban)),
        *([line(_("BIC"), _clip(seller.bic, LIMIT_VALUE))] if seller.bic.strip() else []),
        line(_("Amount due"), printer.money(document.amount_due)),
        line(_("Payment reference"), _clip(document.number, LIMIT_VALUE)),
    ]
    qr_size = 32 * mm
    left = [_block([_("Bank details")], STYLES["heading"]), _block(details, STYLES["payment"], LIMIT_NOTE)]
    right = [EpcQrCode(payload, qr_size), _block([_("Scan to pay with your banking app")], STYLES["caption"])]
    table = Table([[left, right]], colWidths=[CONTENT_WIDTH - qr_size - 4 * mm, qr_size + 4 * mm])
    table.setStyle(_layout_style(("LEFTPADDING", (1, 0), (1, 0), 4 * mm)))
    return [KeepTogether([Spacer(1, 2 * mm), table])]


# --- credit notes ------------------------------------------------------------------------------
def _credit_note_reference(document: InvoiceDocument, printer: _Printer) -> list[Flowable]:
    """Under the title: the invoice it corrects or cancels (BT-25, BT-26), and why."""
    lines = [
        wording.preceding_invoice_sentence(
            document, printer.formats, _clip(document.preceding_invoice_number, LIMIT_VALUE)
        ),
        *[line for line in [wording.reason_line(_clip(document.credit_reason, LIMIT_NOTE))] if line],
    ]
    return [Spacer(1, 3 * mm), _block(lines, STYLES["note"], LIMIT_NOTE + LIMIT_VALUE)]


def _refund(document: InvoiceDocument, printer: _Printer) -> list[Flowable]:
    """Where the payment block of an invoice stands: what becomes of the credited amount.
    Nothing is due on a credit note, so no bank details and no EPC QR code."""
    sentence = wording.refund_sentence(document, printer.formats)
    if not sentence:
        return []
    return [KeepTogether([Spacer(1, 2 * mm), _block([sentence], STYLES["heading"], LIMIT_NOTE)])]


def _group_iban(iban: str) -> str:
    # Printed in groups of four, as banks do, so a person can read it off and type it.
    compact = "".join(iban.split())[:LIMIT_VALUE]
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


# --- page furniture ----------------------------------------------------------------------------
class _InvoiceCanvas(Canvas):
    """Holds the pages back until the end so each can say "Page X of Y"; dates the PDF."""

    def __init__(
        self, *args: Any, page_label: Callable[[int, int], str], dated: dt.date | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._page_label = page_label
        self._page_states: list[dict[str, Any]] = []
        if dated is not None:
            # Invariant mode (a reproducible file ID) would date every PDF 1 January 2000: the
            # creation and modification dates are the issue date instead (ISO 32000-1, 7.9.4).
            stamp = f"D:{dated:%Y%m%d}"
            self.setDateFormatter(lambda *_parts: stamp)

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self.setFont(FONT, 7)
            self.setFillColor(MUTED)
            label = self._page_label(self._pageNumber, pages)
            self.drawRightString(PAGE_WIDTH - MARGIN_RIGHT, FOOTER_RULE_Y + 1.5 * mm, label)
            super().showPage()
        for page in self._doc.Pages.pages:
            # ReportLab gives every page an empty transition dictionary (/Trans << >>); the file
            # is written as it is into the Factur-X PDF/A (invoicing.einvoice.pdfa), so without.
            page.Trans = None
        super().save()


@dataclass
class _PageFurniture:
    document: InvoiceDocument
    printer: _Printer
    footer_columns: list[tuple[float, Flowable]]
    letterhead: tuple[Flowable, Flowable]
    info: Flowable
    running_head: str
    continued_from: str  # with %(page)s

    def first_page(self, canvas: Canvas, _doc: Any) -> None:
        """Before the body, so that the text layer reads letterhead, address, details, body."""
        canvas.saveState()
        top, bottom = LETTERHEAD
        logo, seller = self.letterhead
        _draw_fitted(canvas, logo, MARGIN_LEFT, _from_top(top), CONTENT_WIDTH * 0.4, bottom - top)
        right = CONTENT_WIDTH * 0.55
        _draw_fitted(
            canvas, seller, PAGE_WIDTH - MARGIN_RIGHT - right, _from_top(top), right, bottom - top, right=True
        )
        self._window(canvas)
        _draw_fitted(
            canvas, self.info, INFO_LEFT, _from_top(INFO_TOP), INFO_WIDTH, INFO_MAX_BOTTOM - INFO_TOP
        )
        _draw_marks(canvas)
        canvas.restoreState()

    def _window(self, canvas: Canvas) -> None:
        """The return address and the recipient, inside the window whatever the letterhead holds."""
        x = WINDOW_LEFT + WINDOW_PADDING
        width = WINDOW_WIDTH - 2 * WINDOW_PADDING
        sender = _block([_return_address(self.document, self.printer)], STYLES["sender_line"], LIMIT_NAME * 2)
        # At the foot of the return-address zone, just above the recipient.
        _scale, _w, h = _fit(sender, width, 3 * 8)
        _draw_fitted(canvas, sender, x, _from_top(WINDOW_TOP + RETURN_ZONE) + h + 1, width, 3 * 8)
        address = _block(_recipient_lines(self.document, self.printer), STYLES["address"])
        _draw_fitted(
            canvas, address, x, _from_top(WINDOW_TOP + RETURN_ZONE), width, WINDOW_HEIGHT - RETURN_ZONE
        )

    def later_pages(self, canvas: Canvas, _doc: Any) -> None:
        """The running head: the invoice and the seller on the left, where it continues from."""
        continued = self.continued_from % {"page": canvas.getPageNumber() - 1}
        y = _from_top(RUNNING_HEAD_TOP)
        right = text.text_width(continued, 7.5)
        text.draw_string(canvas, PAGE_WIDTH - MARGIN_RIGHT, y, continued, 7.5, MUTED, right=True)
        head = self.running_head
        room = CONTENT_WIDTH - right - 6 * mm
        while head and text.text_width(head, 7.5) > room:  # an overlong seller name must not run off
            head = head[: max(0, len(head) - max(1, len(head) // 8) - 1)].rstrip() + ELLIPSIS
            if len(head) <= 2:
                head = ""
        text.draw_string(canvas, MARGIN_LEFT, y, head, 7.5, MUTED)

    def footer(self, canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        top = FOOTER_RULE_Y
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_LEFT, top, PAGE_WIDTH - MARGIN_RIGHT, top)
        x = MARGIN_LEFT
        for width, column in self.footer_columns:
            # Long seller details would run off the bottom of the sheet: the column is scaled
            # down to fit instead (ordinary details fit and are drawn at full size).
            _draw_fitted(canvas, column, x, top - 2 * mm, width - FOOTER_GUTTER, top - 2 * mm - FOOTER_MIN_Y)
            x += width
        canvas.restoreState()


def _footer_columns(document: InvoiceDocument, printer: _Printer) -> list[tuple[float, Flowable]]:
    seller = document.seller
    company = [seller.legal_name, *_seller_address_lines(document, printer)[:MAX_ADDRESS_LINES]]
    tax = [
        _labelled(label, _clip(value, LIMIT_FOOTER))
        for label, value in ((_("VAT ID"), seller.vat_id), (_("Tax no."), seller.tax_number))
        if value.strip()
    ]
    contact = [value for value in (seller.email, seller.phone, seller.website) if value.strip()]
    widths = (0.23, 0.21, 0.23, 0.33)
    bank_width = CONTENT_WIDTH * widths[3] - FOOTER_GUTTER
    bank: list[str] = []
    for label, value in ((_("IBAN"), _group_iban(seller.iban)), (_("BIC"), seller.bic)):
        if not value.strip():
            continue
        line = _labelled(label, _clip(value, LIMIT_FOOTER))
        # An IBAN broken between two lines is misread: too long with its label, it gets a line
        # of its own ("IBAN :" / "FR76 3000 6000 0112 3456 7890 189").
        if text.text_width(line, STYLES["footer"].fontSize) > bank_width:
            bank += [_label(label), _clip(value, LIMIT_FOOTER)]
        else:
            bank.append(line)
    blocks = (
        _block(company, STYLES["footer"], LIMIT_FOOTER, bold_first=True),
        _block(tax, STYLES["footer"], LIMIT_FOOTER),
        _block(contact, STYLES["footer"], LIMIT_FOOTER),
        _block(bank, STYLES["footer"], LIMIT_FOOTER),
    )
    return [(CONTENT_WIDTH * w, block) for w, block in zip(widths, blocks, strict=True)]


# --- the document ------------------------------------------------------------------------------
def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice, or the credit note (document_type CREDIT_NOTE), as PDF bytes in the
    document's language. Deterministic: the same document renders to the same bytes.

    A credit note is the invoice's layout with its own title, number and date, the invoice it
    corrects and the reason under the title, and instead of the payment details what becomes of
    the amount (refunded, or paid back or offset): no due date, no EPC QR code."""
    _init_reportlab()
    with language_override(document.language):
        return _render(document)


def _render(document: InvoiceDocument) -> bytes:
    printer = _Printer(document)
    notes = _VatNotes.of(document)
    title = wording.title(document, _clip(document.number, LIMIT_VALUE))
    seller_name = _clip(document.seller.legal_name, LIMIT_NAME)
    subtitle = (
        _("Prices and amounts incl. VAT, in %(currency)s")
        if document.prices_gross
        else _("Prices and amounts net, in %(currency)s")
    ) % {"currency": document.currency}

    info = _info_block(document, printer)
    furniture = _PageFurniture(
        document=document,
        printer=printer,
        footer_columns=_footer_columns(document, printer),
        letterhead=_letterhead(document, printer),
        info=info,
        running_head=f"{title} · {seller_name}" if seller_name else title,
        continued_from=_("Continued from page %(page)s"),
    )
    story: list[Flowable] = [
        _paragraph(escape(title), STYLES["title"]),
        _paragraph(escape(subtitle), STYLES["muted"]),
        *(_credit_note_reference(document, printer) if document.is_credit_note else []),
        Spacer(1, 4 * mm),
        _LineTable(
            _lines(document, printer, notes),
            tail=_summary(document, printer, notes),
            continued=_("Continued on page %(page)s"),
        ),
        Spacer(1, 6 * mm),
        *_notes(document, printer, notes),
        *_payment(document, printer),
    ]

    # Page one's body starts below the address field, or below the information block when that
    # reaches further down (a delivery address, long values).
    _scale, _w, info_height = _fit(info, INFO_WIDTH, INFO_MAX_BOTTOM - INFO_TOP)
    first_top = max(BODY_TOP, INFO_TOP + info_height + 6 * mm)
    # Frames without padding, so paragraphs and full-width tables share one left and right edge.
    first = Frame(
        MARGIN_LEFT, MARGIN_BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - first_top - MARGIN_BOTTOM, 0, 0, 0, 0
    )
    later = Frame(
        MARGIN_LEFT, MARGIN_BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - MARGIN_TOP_LATER - MARGIN_BOTTOM, 0, 0, 0, 0
    )
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_LEFT,
        rightMargin=MARGIN_RIGHT,
        topMargin=MARGIN_TOP_LATER,
        bottomMargin=MARGIN_BOTTOM,
        pageTemplates=[
            PageTemplate(
                "first",
                [first],
                onPage=furniture.first_page,
                onPageEnd=furniture.footer,
                autoNextPageTemplate="later",
            ),
            PageTemplate("later", [later], onPage=furniture.later_pages, onPageEnd=furniture.footer),
        ],
        title=title,
        author=seller_name,
        subject=title,
        creator="Invoice Service",
        # The language the text is in (the catalogue's), for screen readers and hyphenation.
        lang=normalize_language(document.language) or "en",
        # A reproducible file ID: the same document always gives the same bytes.
        invariant=True,
        # Otherwise every page references an unused, unembedded Helvetica.
        initialFontName=FONT,
    )
    page_template = _("Page %(page)s of %(pages)s")
    canvasmaker = functools.partial(
        _InvoiceCanvas,
        page_label=lambda page, pages: page_template % {"page": page, "pages": pages},
        dated=document.issue_date or document.order_date,
    )
    doc.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()
