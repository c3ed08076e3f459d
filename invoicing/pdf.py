"""Renders an `InvoiceDocument` as an A4 PDF with ReportLab platypus.

A pure function of the document: no database, no Django, no clock (the PDF is built in
ReportLab's invariant mode, so the same document always gives the same bytes). Text is set in
the vendored DejaVu Sans so any name a shop sends (Latin, Cyrillic, Greek, ...) is embedded as
real, extractable text rather than depending on fonts installed on the machine.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypedDict
from xml.sax.saxutils import escape

from PIL import Image as PILImage
from PIL import ImageOps
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.money import currency_exponent
from invoicing.documents import ROW_KINDS, InvoiceDocument, InvoiceRow

log = logging.getLogger(__name__)

__all__ = ["LABELS", "Labels", "render_invoice_pdf"]


# --- labels ------------------------------------------------------------------------------------
class Labels(TypedDict):
    """Everything language-dependent on the invoice. A new language is one more `LABELS` entry."""

    invoice: str
    draft: str
    invoice_number: str
    invoice_date: str
    delivery_date: str
    same_as_invoice_date: str
    order_number: str
    order_date: str
    customer_number: str
    shipping_address: str
    position: str
    description: str
    sku: str
    quantity: str
    unit_price: str
    tax_rate: str
    net_amount: str
    tax_rate_long: str
    net_base: str
    tax: str
    gross: str
    net_total: str
    tax_total: str
    gross_total: str
    vat_id: str
    tax_number: str
    phone: str
    email: str
    website: str
    iban: str
    bic: str
    page: str  # format string with {page} and {pages}
    amounts_in: str  # format string with {currency}
    percent: str  # format string with {rate}
    decimal_separator: str
    thousands_separator: str
    date_format: str  # format string with {day}, {month}, {month_name}, {year}
    month_names: tuple[str, ...]


LABELS: dict[str, Labels] = {
    "en": {
        "invoice": "Invoice",
        "draft": "Invoice (draft)",
        "invoice_number": "Invoice no.",
        "invoice_date": "Invoice date",
        "delivery_date": "Delivery date",
        "same_as_invoice_date": "same as invoice date",
        "order_number": "Order no.",
        "order_date": "Order date",
        "customer_number": "Customer no.",
        "shipping_address": "Delivery address",
        "position": "Pos.",
        "description": "Description",
        "sku": "SKU",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "tax_rate": "VAT",
        "net_amount": "Amount",
        "tax_rate_long": "VAT rate",
        "net_base": "Net",
        "tax": "VAT",
        "gross": "Gross",
        "net_total": "Total net",
        "tax_total": "Total VAT",
        "gross_total": "Total",
        "vat_id": "VAT ID",
        "tax_number": "Tax no.",
        "phone": "Phone",
        "email": "Email",
        "website": "Web",
        "iban": "IBAN",
        "bic": "BIC",
        "page": "Page {page} of {pages}",
        "amounts_in": "Prices and amounts net, in {currency}",
        "percent": "{rate}%",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "date_format": "{day} {month_name} {year}",
        "month_names": (
            "January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December",
        ),
    },
    "de": {
        "invoice": "Rechnung",
        "draft": "Rechnung (Entwurf)",
        "invoice_number": "Rechnungsnr.",
        "invoice_date": "Rechnungsdatum",
        "delivery_date": "Lieferdatum",
        "same_as_invoice_date": "entspricht Rechnungsdatum",
        "order_number": "Bestellnr.",
        "order_date": "Bestelldatum",
        "customer_number": "Kundennr.",
        "shipping_address": "Lieferanschrift",
        "position": "Pos.",
        "description": "Bezeichnung",
        "sku": "Art.-Nr.",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "tax_rate": "USt.",
        "net_amount": "Betrag",
        "tax_rate_long": "USt.-Satz",
        "net_base": "Netto",
        "tax": "USt.",
        "gross": "Brutto",
        "net_total": "Summe netto",
        "tax_total": "Summe USt.",
        "gross_total": "Gesamtbetrag",
        "vat_id": "USt-IdNr.",
        "tax_number": "Steuernr.",
        "phone": "Tel.",
        "email": "E-Mail",
        "website": "Web",
        "iban": "IBAN",
        "bic": "BIC",
        "page": "Seite {page} von {pages}",
        "amounts_in": "Preise und Beträge netto, in {currency}",
        "percent": "{rate} %",
        "decimal_separator": ",",
        "thousands_separator": ".",
        "date_format": "{day:02d}.{month:02d}.{year}",
        "month_names": (
            "Januar", "Februar", "März", "April", "Mai", "Juni",
            "Juli", "August", "September", "Oktober", "November", "Dezember",
        ),
    },
}  # fmt: skip


def _language(requested: str) -> str:
    """The `LABELS` key to use: "de-AT" and "de_DE" find "de", anything unknown is English."""
    code = (requested or "").lower().replace("_", "-")
    for candidate in (code, code.split("-")[0]):
        if candidate in LABELS:
            return candidate
    return "en"


# --- fonts -------------------------------------------------------------------------------------
_FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "InvoiceDejaVuSans"
FONT_BOLD = "InvoiceDejaVuSans-Bold"
_init_lock = threading.Lock()
_initialised = False


def _init_reportlab() -> None:
    """Once per process: parsing the TTFs takes ~40 ms, a whole render should take ~10."""
    global _initialised
    if _initialised:
        return
    with _init_lock:
        if _initialised:
            return
        pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
        # Lets <b> in Paragraph markup switch to the bold face; there is no italic face vendored.
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
        # ASCII85 makes binary streams (font subsets, the logo) printable, which no reader needs;
        # without C accelerators it is pure Python (~5 ms a render) and it inflates them by a quarter.
        rl_config.useA85 = 0
        _initialised = True


# --- logo --------------------------------------------------------------------------------------
LOGO_BOX = (55 * mm, 22 * mm)  # the logo is scaled to fit, keeping its aspect ratio
# ~330 dpi at the largest size the logo is drawn: sharp in print, small in the PDF, fast to hash.
_LOGO_MAX_PIXELS = (720, 288)
_LOGO_SOURCE_PIXEL_LIMIT = 40_000_000  # refuse to decode absurd images (decompression bombs)
_LOGO_CACHE_SIZE = 32


class _LogoReader(ImageReader):
    """A logo ready to embed, shared by all renders in the process (and their threads).

    ReportLab embeds JPEG bytes as they are but zlib-compresses the raw pixels of any other
    format on every render (~40 ms for a typical PNG logo), so every logo is turned into a
    small JPEG once. `canvas.drawImage` also hashes the decoded pixels on every render to name
    the image; decoding them here, once, keeps that to a hash.
    """

    def __init__(self, jpeg: bytes) -> None:
        image = PILImage.open(io.BytesIO(jpeg))
        image.load()
        super().__init__(image)
        self._jpeg = jpeg
        self.getSize()
        self.getRGBData()

    def jpeg_fh(self) -> io.BytesIO:
        # A new handle per call: two renders in two threads must not share a file position.
        return io.BytesIO(self._jpeg)


class _LogoFlowable(Flowable):
    def __init__(self, reader: _LogoReader) -> None:
        super().__init__()
        pixels_w, pixels_h = reader.getSize()
        box_w, box_h = LOGO_BOX
        scale = min(box_w / pixels_w, box_h / pixels_h)
        self.reader = reader
        self.width, self.height = pixels_w * scale, pixels_h * scale

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(self.reader, 0, 0, self.width, self.height)


_logo_cache: OrderedDict[bytes, _LogoReader | None] = OrderedDict()
_logo_cache_lock = threading.Lock()


def _prepare_logo(data: bytes) -> _LogoReader:
    with PILImage.open(io.BytesIO(data)) as source:
        if source.width * source.height > _LOGO_SOURCE_PIXEL_LIMIT:
            raise ValueError(f"logo too large: {source.width}x{source.height} pixels")
        image = ImageOps.exif_transpose(source)  # a loaded copy, upright as the uploader saw it
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if transparent else "RGB")
    image.thumbnail(_LOGO_MAX_PIXELS, PILImage.Resampling.LANCZOS)
    if transparent:
        # JPEG has no alpha: flatten onto white, which is what the page is.
        flat = PILImage.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    # 4:4:4 chroma keeps the edges of coloured lettering crisp, which logos are mostly made of.
    image.save(out, format="JPEG", quality=90, subsampling=0, optimize=True)
    return _LogoReader(out.getvalue())


def _logo(data: bytes | None) -> _LogoReader | None:
    if not data:
        return None
    key = hashlib.sha256(data).digest()
    with _logo_cache_lock:
        if key in _logo_cache:
            _logo_cache.move_to_end(key)
            return _logo_cache[key]
    logo: _LogoReader | None
    try:
        logo = _prepare_logo(data)
    except Exception:
        # Pillow raises a zoo of types for bad input (OSError, SyntaxError, ValueError,
        # DecompressionBombError, ...). A broken logo must never cost the customer the invoice.
        log.warning("invoice logo cannot be decoded, rendering without it", exc_info=True)
        logo = None
    with _logo_cache_lock:
        _logo_cache[key] = logo  # failures too, so a bad upload is not decoded on every render
        while len(_logo_cache) > _LOGO_CACHE_SIZE:
            _logo_cache.popitem(last=False)
    return logo


# --- formatting --------------------------------------------------------------------------------
def _number(value: Decimal, places: int, labels: Labels) -> str:
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if value == 0:
        value = abs(value)  # no "-0.00"
    text = f"{value:,.{places}f}"
    return text.translate({ord(","): labels["thousands_separator"], ord("."): labels["decimal_separator"]})


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _money(value: Decimal, currency: str, labels: Labels) -> str:
    return _number(value, currency_exponent(currency), labels)


def _unit_price(value: Decimal, currency: str, labels: Labels) -> str:
    # Unit prices may carry more precision than the currency (e.g. 0.8333 net of 1.00 gross);
    # show it rather than a rounded figure that does not multiply out to the row amount.
    exponent = currency_exponent(currency)
    return _number(value, min(max(exponent, _decimals(value)), max(exponent, 4)), labels)


def _quantity(value: Decimal, labels: Labels) -> str:
    return _number(value, min(_decimals(value), 3), labels)


def _percent(rate: Decimal, labels: Labels) -> str:
    return labels["percent"].format(rate=_number(rate, min(_decimals(rate), 2), labels))


def _date(value: dt.date | None, labels: Labels) -> str:
    if value is None:
        return "\N{EN DASH}"
    return labels["date_format"].format(
        day=value.day, month=value.month, month_name=labels["month_names"][value.month - 1], year=value.year
    )


# --- bounded layout cost ----------------------------------------------------------------------
# A paragraph costs ReportLab more than linear time in its length (a product name without
# spaces: 40 KB 2 s, 100 KB 14 s, 200 KB 109 s in production, as a row spilling over pages).
# So every string a shop or seller supplies is cut to a printable length before it reaches a
# Paragraph (the stored invoice keeps the full text), and the few words still wider than their
# column are broken by ReportLab's `splitLongWords` (on in every style, see `_style`). With
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
    text = value.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def _text(value: str, limit: int = LIMIT_NAME) -> str:
    """Shop data as Paragraph markup: cut to `limit`, then escaped, so '<' or '&' in a product
    name cannot break it (cut first: a cut must not split an entity such as '&amp;')."""
    return escape(_clip(value, limit))


def _address_lines(lines: Sequence[str]) -> list[str]:
    return [_clip(line, LIMIT_NAME) for line in lines[:MAX_ADDRESS_LINES]]


# --- styles ------------------------------------------------------------------------------------
INK = colors.HexColor("#1f2328")
MUTED = colors.HexColor("#5f6670")
RULE = colors.HexColor("#c9ced4")
HAIRLINE = colors.HexColor("#e3e6ea")

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 18 * mm
MARGIN_BOTTOM = 32 * mm  # room for the footer
FOOTER_RULE_Y = 24 * mm
FOOTER_MIN_Y = 8 * mm  # the footer never reaches below this (printers' unprintable margin)
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X


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
    "address": _style("address", fontSize=10, leading=13.5),
    "address_name": _style("address_name", fontName=FONT_BOLD, fontSize=10, leading=13.5),
    "meta_value": _style("meta_value", fontSize=8.5, leading=12, alignment=TA_RIGHT),
    "meta_heading": _style("meta_heading", fontName=FONT_BOLD, fontSize=8.5, leading=12),
    "meta_address": _style("meta_address", fontSize=8.5, leading=11),
    "title": _style("title", fontName=FONT_BOLD, fontSize=17, leading=21),
    "cell": _style("cell", fontSize=8.5, leading=11),
    "sku": _style("sku", fontSize=7, leading=9, textColor=MUTED),
    "note": _style("note", fontSize=9, leading=12.5),
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


# --- page furniture ----------------------------------------------------------------------------
class _NumberedCanvas(Canvas):
    """Holds the pages back until the end so each can say "Page X of Y"."""

    def __init__(self, *args: Any, page_format: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_format = page_format
        self._page_states: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._page_states.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._page_states)
        for state in self._page_states:
            self.__dict__.update(state)
            self.setFont(FONT, 7)
            self.setFillColor(MUTED)
            text = self._page_format.format(page=self._pageNumber, pages=pages)
            self.drawRightString(PAGE_WIDTH - MARGIN_X, FOOTER_RULE_Y + 1.5 * mm, text)
            super().showPage()
        super().save()


@dataclass
class _PageFurniture:
    footer_columns: list[tuple[float, Paragraph]]
    title: str
    seller_name: str

    def first_page(self, canvas: Canvas, _doc: Any) -> None:
        self._footer(canvas)

    def later_pages(self, canvas: Canvas, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        head = f"{self.title} · {self.seller_name}" if self.seller_name.strip() else self.title
        if pdfmetrics.stringWidth(head, FONT, 7.5) > CONTENT_WIDTH:
            head = self.title  # an overlong seller name must not run off the page
        canvas.drawString(MARGIN_X, PAGE_HEIGHT - 11 * mm, head)
        canvas.restoreState()
        self._footer(canvas)

    def _footer(self, canvas: Canvas) -> None:
        canvas.saveState()
        top = FOOTER_RULE_Y
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN_X, top, PAGE_WIDTH - MARGIN_X, top)
        x = MARGIN_X
        available = top - 2 * mm - FOOTER_MIN_Y
        for width, paragraph in self.footer_columns:
            _, height = paragraph.wrap(width - 3 * mm, top)
            canvas.saveState()
            canvas.translate(x, top - 2 * mm)
            if height > available:
                # Long seller details would run off the bottom of the sheet: the column is
                # scaled down to fit instead (ordinary details fit and are drawn at full size).
                scale = available / height
                canvas.scale(scale, scale)
            paragraph.drawOn(canvas, 0, -height)
            canvas.restoreState()
            x += width
        canvas.restoreState()


def _footer_columns(document: InvoiceDocument, labels: Labels) -> list[tuple[float, Paragraph]]:
    seller = document.seller
    company = [
        f"<b>{_text(seller.legal_name, LIMIT_FOOTER)}</b>",
        *(_text(line, LIMIT_FOOTER) for line in seller.address.lines()[:MAX_ADDRESS_LINES]),
    ]
    tax = [
        f"{label}: {_text(value, LIMIT_FOOTER)}"
        for label, value in ((labels["vat_id"], seller.vat_id), (labels["tax_number"], seller.tax_number))
        if value.strip()
    ]
    contact = [
        _text(value, LIMIT_FOOTER) for value in (seller.email, seller.phone, seller.website) if value.strip()
    ]
    bank = [
        f"{label}: {_text(value, LIMIT_FOOTER)}"
        for label, value in ((labels["iban"], _group_iban(seller.iban)), (labels["bic"], seller.bic))
        if value.strip()
    ]
    widths = (0.27, 0.22, 0.23, 0.28)
    columns = (company, tax, contact, bank)
    return [
        (CONTENT_WIDTH * w, Paragraph("<br/>".join(lines), STYLES["footer"]))
        for w, lines in zip(widths, columns, strict=True)
    ]


def _group_iban(iban: str) -> str:
    # Printed in groups of four, as banks do, so a person can read it off and type it.
    compact = "".join(iban.split())[:LIMIT_VALUE]
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


# --- the blocks of page one --------------------------------------------------------------------
def _header(document: InvoiceDocument, labels: Labels) -> Table:
    seller = document.seller
    logo = _logo(seller.logo)
    left: Flowable = _LogoFlowable(logo) if logo else Paragraph(_text(seller.legal_name), STYLES["wordmark"])
    details = [Paragraph(_text(seller.legal_name), STYLES["seller_name"])]
    lines = [escape(line) for line in _address_lines(seller.address.lines())]
    contacts = [
        f"{label}: {_text(value, LIMIT_VALUE)}"
        for label, value in (
            (labels["phone"], seller.phone),
            (labels["email"], seller.email),
            (labels["website"], seller.website),
        )
        if value.strip()
    ]
    ids = [
        f"{label}: {_text(value, LIMIT_VALUE)}"
        for label, value in ((labels["vat_id"], seller.vat_id), (labels["tax_number"], seller.tax_number))
        if value.strip()
    ]
    for group in (lines, contacts, ids):
        if group:
            details.append(Paragraph("<br/>".join(group), STYLES["seller"]))
    table = Table([[left, details]], colWidths=[CONTENT_WIDTH * 0.5, CONTENT_WIDTH * 0.5])
    table.setStyle(_layout_style())
    return table


def _addressee(document: InvoiceDocument) -> list[Flowable]:
    seller = document.seller
    address = seller.address
    # The one-line return address of DIN 5008 letters: it also names the seller where the
    # buyer's eye goes first.
    sender = " · ".join(
        _clip(p, LIMIT_VALUE)
        for p in (
            seller.legal_name,
            " ".join(x for x in (address.street, address.street_number) if x),
            " ".join(x for x in (address.zip_code, address.city) if x),
        )
        if p.strip()
    )
    lines = document.billing_address.lines()
    name = document.customer_name.strip()
    # B2C addresses usually repeat the customer's name as the contact; print it once.
    if name and name not in lines:
        lines.insert(0, name)
    lines = _address_lines(lines)
    flowables: list[Flowable] = [Paragraph(escape(sender), STYLES["sender_line"]), Spacer(1, 2 * mm)]
    if lines:
        flowables.append(Paragraph(escape(lines[0]), STYLES["address_name"]))
        flowables.append(Paragraph("<br/>".join(escape(line) for line in lines[1:]), STYLES["address"]))
    return flowables


def _meta(document: InvoiceDocument, labels: Labels) -> list[Flowable]:
    delivery = (
        _date(document.delivery_date, labels)
        if document.delivery_date is not None
        else labels["same_as_invoice_date"]
    )
    rows = [
        (labels["invoice_number"], document.number),
        (labels["invoice_date"], _date(document.issue_date, labels)),
        (labels["delivery_date"], delivery),
        (labels["order_number"], document.order_id),
        (labels["order_date"], _date(document.order_date, labels) if document.order_date else ""),
        (labels["customer_number"], document.customer_id),
    ]
    # Labels are ours and short, so plain strings (cheaper than a Paragraph); values come from
    # the shop and may be long (UUID order ids), so they wrap.
    data = [
        [f"{label}:", Paragraph(_text(value, LIMIT_VALUE), STYLES["meta_value"])]
        for label, value in rows
        if value.strip()
    ]
    table = Table(data, colWidths=[32 * mm, 48 * mm])
    table.setStyle(
        _layout_style(
            ("FONTSIZE", (0, 0), (0, -1), 8.5),
            ("LEADING", (0, 0), (0, -1), 12),
            ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
            ("TOPPADDING", (0, 0), (-1, -1), 0.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
        )
    )
    flowables: list[Flowable] = [table]
    shipping = document.shipping_address
    if shipping is not None and shipping.lines() and shipping != document.billing_address:
        block = Table(
            [
                [Paragraph(escape(labels["shipping_address"]), STYLES["meta_heading"])],
                [
                    Paragraph(
                        "<br/>".join(escape(line) for line in _address_lines(shipping.lines())),
                        STYLES["meta_address"],
                    )
                ],
            ],
            colWidths=[80 * mm],
        )
        block.setStyle(_layout_style(("TOPPADDING", (0, 0), (-1, -1), 3)))
        flowables.append(block)
    return flowables


def _address_row(document: InvoiceDocument, labels: Labels) -> Table:
    table = Table(
        [[_addressee(document), _meta(document, labels)]],
        colWidths=[CONTENT_WIDTH - 80 * mm, 80 * mm],
    )
    table.setStyle(_layout_style())
    return table


# --- the line table ----------------------------------------------------------------------------
_LINE_COLUMNS = (10 * mm, None, 16 * mm, 26 * mm, 14 * mm, 27 * mm)


def _ordered_rows(rows: Sequence[InvoiceRow]) -> list[InvoiceRow]:
    # Stable: items keep their order, then shipping, fees and discounts, whatever order came in.
    rank = {kind: i for i, kind in enumerate(ROW_KINDS)}
    return sorted(rows, key=lambda row: rank.get(row.kind, len(ROW_KINDS)))


def _line_table(document: InvoiceDocument, labels: Labels) -> Table:
    currency = document.currency
    header = [
        labels["position"],
        labels["description"],
        labels["quantity"],
        labels["unit_price"],
        labels["tax_rate"],
        labels["net_amount"],
    ]
    data: list[list[Any]] = [header]
    sku_label = escape(labels["sku"])
    for position, row in enumerate(_ordered_rows(document.rows), start=1):
        # Numbers are plain strings: they never wrap, and a Paragraph per cell costs render time.
        # Two paragraphs rather than one with a <font size> run: mixed-size text takes ReportLab's
        # slow line-breaking path, which costs ~10 ms on an 80-row invoice.
        description: Any = Paragraph(_text(row.description, LIMIT_DESCRIPTION), STYLES["cell"])
        if row.sku.strip():
            description = [
                description,
                Paragraph(f"{sku_label}: {_text(row.sku, LIMIT_VALUE)}", STYLES["sku"]),
            ]
        data.append(
            [
                str(position),
                description,
                _quantity(row.quantity, labels),
                _unit_price(row.unit_net, currency, labels),
                _percent(row.tax_rate, labels),
                _money(row.net, currency, labels),
            ]
        )
    fixed = sum(w for w in _LINE_COLUMNS if w is not None)
    widths = [w if w is not None else CONTENT_WIDTH - fixed for w in _LINE_COLUMNS]
    # A row taller than a page would otherwise abort the render. Descriptions are cut (see
    # LIMIT_DESCRIPTION), so this is a safeguard for whatever a future cell holds.
    # ReportLab splits inside a row only when not one whole row fits in the space left, which
    # for this table (it starts high on page one, then at the top of each page) means only such
    # rows; ordinary rows still move whole to the next page. A minimum split height would
    # reintroduce the failure for an unlucky remainder, so it is 1 pt.
    table = Table(data, colWidths=widths, repeatRows=1, splitInRow=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, 0), 8),
                ("LEADING", (0, 0), (-1, 0), 10),
                ("FONTSIZE", (0, 1), (-1, -1), 8.5),
                ("LEADING", (0, 1), (-1, -1), 11),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                ("LINEBELOW", (0, 1), (-1, -2), 0.25, HAIRLINE),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, INK),
            ]
        )
    )
    return table


# --- tax breakdown and totals ------------------------------------------------------------------
def _summary(document: InvoiceDocument, labels: Labels) -> Table:
    currency = document.currency
    breakdown: list[list[str]] = [
        [labels["tax_rate_long"], labels["net_base"], labels["tax"], labels["gross"]],
        *(
            [
                _percent(line.rate, labels),
                _money(line.net, currency, labels),
                _money(line.tax, currency, labels),
                _money(line.gross, currency, labels),
            ]
            for line in sorted(document.tax_breakdown, key=lambda line: line.rate, reverse=True)
        ),
    ]
    tax_table = Table(breakdown, colWidths=[18 * mm, 22 * mm, 20 * mm, 22 * mm], hAlign="LEFT")
    tax_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
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
    totals = Table(
        [
            [labels["net_total"], f"{_money(document.net_total, currency, labels)} {currency}"],
            [labels["tax_total"], f"{_money(document.tax_total, currency, labels)} {currency}"],
            [labels["gross_total"], f"{_money(document.gross_total, currency, labels)} {currency}"],
        ],
        colWidths=[30 * mm, 45 * mm],
    )
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
                ("FONTNAME", (0, -1), (-1, -1), FONT_BOLD),
                ("FONTSIZE", (0, -1), (-1, -1), 10.5),
                ("LEADING", (0, -1), (-1, -1), 14),
                ("TOPPADDING", (0, -1), (-1, -1), 5),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, INK),
            ]
        )
    )
    # No breakdown (a draft without rows) leaves the left side empty rather than a bare header.
    left = tax_table if document.tax_breakdown else ""
    outer = Table([[left, totals]], colWidths=[CONTENT_WIDTH - 75 * mm, 75 * mm])
    outer.setStyle(_layout_style())
    return outer


def _notes(document: InvoiceDocument) -> list[Flowable]:
    # The payment note already carries the payment terms when something is left to pay (see
    # invoicing.recalculation.payment_note); printing the terms again would tell a customer who
    # paid by card to pay within 14 days.
    flowables: list[Flowable] = []
    for note in (document.payment_note,):
        if note.strip():
            lines = _clip(note, LIMIT_NOTE).splitlines()[:MAX_NOTE_LINES]
            paragraphs = "<br/>".join(_text(line, LIMIT_NOTE) for line in lines)
            flowables += [Paragraph(paragraphs, STYLES["note"]), Spacer(1, 2 * mm)]
    return flowables


# --- the document ------------------------------------------------------------------------------
def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The invoice as PDF bytes. Deterministic: the same document renders to the same bytes."""
    _init_reportlab()
    language = _language(document.language)
    labels = LABELS[language]
    number = _clip(document.number, LIMIT_VALUE)
    title = f"{labels['invoice']} {number}" if number else labels["draft"]
    seller_name = _clip(document.seller.legal_name, LIMIT_NAME)

    furniture = _PageFurniture(
        footer_columns=_footer_columns(document, labels),
        title=title,
        seller_name=seller_name,
    )
    story: list[Flowable] = [
        _header(document, labels),
        Spacer(1, 12 * mm),
        _address_row(document, labels),
        Spacer(1, 10 * mm),
        Paragraph(_text(title), STYLES["title"]),
        Paragraph(escape(labels["amounts_in"].format(currency=document.currency)), STYLES["muted"]),
        Spacer(1, 4 * mm),
        _line_table(document, labels),
        Spacer(1, 5 * mm),
        _summary(document, labels),
        Spacer(1, 8 * mm),
        *_notes(document),
    ]

    buffer = io.BytesIO()
    # Frames without padding, so paragraphs and full-width tables share one left and right edge.
    frame = Frame(
        MARGIN_X, MARGIN_BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM, 0, 0, 0, 0
    )
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        pageTemplates=[
            PageTemplate("first", [frame], onPageEnd=furniture.first_page, autoNextPageTemplate="later"),
            PageTemplate("later", [frame], onPageEnd=furniture.later_pages),
        ],
        title=title,
        author=seller_name,
        subject=title,
        creator="Invoice Service",
        lang=language,  # the language the text is in, for screen readers and hyphenation
        # Fixed timestamps and document ID: the same document always gives the same bytes.
        invariant=True,
        # Otherwise every page references an unused, unembedded Helvetica.
        initialFontName=FONT,
    )
    canvasmaker: Callable[..., Canvas] = functools.partial(_NumberedCanvas, page_format=labels["page"])
    doc.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()
