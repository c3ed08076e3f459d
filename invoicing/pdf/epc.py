"""The EPC QR code ("GiroCode"): a SEPA credit transfer a banking app fills in from the invoice.

The payload follows EPC069-12 ("Quick Response Code: Guidelines to Enable Data Capture for the
Initiation of a SEPA Credit Transfer"), version 002: one field a line,

    BCD / 002 / 1 (UTF-8) / SCT / BIC / name / IBAN / EUR<amount> / purpose / structured
    reference / unstructured remittance

with error correction level M and at most 331 bytes (QR version 13). The invoice number goes
into the unstructured remittance (AT-05): it is not an ISO 11649 creditor reference, which is
all the structured field may hold.
"""

from __future__ import annotations

from decimal import Decimal

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.platypus import Flowable

from invoicing.documents import InvoiceDocument

MAX_AMOUNT = Decimal("999999999.99")  # AT-04: 0.01 to 999,999,999.99 euro
MAX_BYTES = 331
NAME_LIMIT = 70  # AT-21
REMITTANCE_LIMIT = 140  # AT-05, unstructured


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _clip_utf8(value: str, limit: int) -> str:
    """At most `limit` characters, on one line (the payload is line-based)."""
    return " ".join(value.split())[:limit]


def epc_payload(document: InvoiceDocument) -> str:
    """The payload for the amount still due by bank transfer in euro; "" when there is none.

    Nothing is due on a paid invoice or a credit note, a draft has no number to quote, and the
    code is defined for euro and an IBAN only.
    """
    seller = document.seller
    amount = document.amount_due
    iban = _compact(seller.iban)
    if (
        document.is_credit_note  # nothing to pay: the seller owes the buyer
        or document.paid
        or amount is None
        or not Decimal("0.01") <= amount <= MAX_AMOUNT
        or document.currency != "EUR"
        or not document.number.strip()
        or not 15 <= len(iban) <= 34
        or not seller.legal_name.strip()
    ):
        return ""
    lines = [
        "BCD",
        "002",  # version 2: the BIC is optional within the EEA
        "1",  # UTF-8
        "SCT",
        _compact(seller.bic)[:11],
        _clip_utf8(seller.legal_name, NAME_LIMIT),
        iban,
        f"EUR{amount.quantize(Decimal('0.01'))}",
        "",  # purpose (AT-44)
        "",  # structured remittance: an ISO 11649 creditor reference only
        _clip_utf8(document.number, REMITTANCE_LIMIT),
    ]
    payload = "\n".join(lines)
    return payload if len(payload.encode("utf-8")) <= MAX_BYTES else ""


QUIET_ZONE = 4  # modules of white around the code (ISO/IEC 18004)


# ISO/IEC 18004:2015 7.8: the mask pattern is written into the format information, so a reader
# undoes any of the eight. Scoring all eight against the penalty rules (7.8.3) is what an encoder
# does to avoid finder-like runs; ReportLab's pure-Python scoring costs ~19 ms, more than the
# whole page. Pattern 0 (checkerboard, (i + j) mod 2) breaks up long runs well, and the tests
# decode every rendered code with a real reader (zxing-cpp).
MASK_PATTERN = 0


def qr_modules(payload: str) -> list[list[bool]]:
    """The QR code's modules, row by row (True = dark), at error correction level M."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    # As bytes: ReportLab would otherwise try its numeric/alphanumeric/Kanji modes first.
    code.addData(qrencoder.QR8bitByte(payload.encode("utf-8")))
    code.version = code.calculate_version()
    code.makeImpl(False, MASK_PATTERN)
    return [[bool(module) for module in row] for row in code.modules]


class EpcQrCode(Flowable):
    """The QR code of `payload`, `size` wide and high including the quiet zone."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        self.payload = payload
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        modules = qr_modules(self.payload)
        module = self.width / (len(modules) + 2 * QUIET_ZONE)
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(colors.black)
        # Drawn in module units (origin at the top left module, y down the rows): one rectangle
        # per run of dark modules, all in one filled path, written as integer operators. Through
        # ReportLab's path object the ~400 rectangles cost more than the rest of the page.
        canvas.translate(QUIET_ZONE * module, self.height - QUIET_ZONE * module)
        canvas.scale(module, -module)
        rects = []
        for r, row in enumerate(modules):
            c = 0
            while c < len(row):
                if row[c]:
                    start = c
                    while c < len(row) and row[c]:
                        c += 1
                    rects.append(f"{start} {r} {c - start} 1 re")
                else:
                    c += 1
        canvas.addLiteral("\n".join([*rects, "f"]))
        canvas.restoreState()
