"""EN 16931 e-invoices of an invoice document, in the formats the service offers.

    einvoice_xml(document, "facturx") -> bytes   # the CII embedded in the Factur-X PDF

The document is the one the PDF prints (`invoicing.documents.InvoiceDocument`): `model` maps it
onto the EN 16931 business terms once, `cii` and `ubl` write them. The formats:

- "facturx": UN/CEFACT CII D16B, Factur-X 1.07 / ZUGFeRD 2.3 profile EN 16931 (COMFORT);
- "xrechnung-cii", "xrechnung-ubl": XRechnung 3.0, the German CIUS, in CII or UBL;
- "peppol-bis": Peppol BIS Billing 3.0, UBL.

`validation.validate(xml, fmt)` checks a result against the official rules of its format.
"""

from __future__ import annotations

from collections.abc import Callable

from invoicing.documents import InvoiceDocument
from invoicing.einvoice.cii import cii_xml
from invoicing.einvoice.model import Invoice, Profile, invoice_model
from invoicing.einvoice.ubl import ubl_xml

FORMATS = ("facturx", "xrechnung-cii", "xrechnung-ubl", "peppol-bis")

# The invoice number (BT-1) of a document validated before it is numbered (before capture).
PLACEHOLDER_NUMBER = "DRAFT"

EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BIS = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_BILLING_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23

_PROFILES: dict[str, Profile] = {
    "facturx": Profile(specification=EN16931),
    "xrechnung-cii": Profile(XRECHNUNG, PEPPOL_BILLING_PROCESS, german_rules="always"),
    "xrechnung-ubl": Profile(XRECHNUNG, PEPPOL_BILLING_PROCESS, german_rules="always"),
    "peppol-bis": Profile(PEPPOL_BIS, PEPPOL_BILLING_PROCESS, german_rules="domestic", peppol_endpoints=True),
}
_WRITERS: dict[str, Callable[[Invoice], bytes]] = {
    "facturx": cii_xml,
    "xrechnung-cii": cii_xml,
    "xrechnung-ubl": ubl_xml,
    "peppol-bis": ubl_xml,
}


class UnknownFormat(ValueError):
    """A format that is not one of FORMATS."""

    def __init__(self, fmt: str) -> None:
        super().__init__(f"Unknown e-invoice format {fmt!r}: use one of {', '.join(FORMATS)}.")
        self.fmt = fmt


def einvoice_invoice(document: InvoiceDocument, fmt: str) -> Invoice:
    """The EN 16931 model of `document` as format `fmt` fills it (UnknownFormat otherwise)."""
    if fmt not in _PROFILES:
        raise UnknownFormat(fmt)
    return invoice_model(document, _PROFILES[fmt], placeholder_number=PLACEHOLDER_NUMBER)


def einvoice_xml(document: InvoiceDocument, fmt: str) -> bytes:
    """The e-invoice of `document` in format `fmt` (one of FORMATS), UTF-8 XML.

    A document without number and issue date (validated before it is numbered) is written with
    PLACEHOLDER_NUMBER and the seller's today.
    """
    invoice = einvoice_invoice(document, fmt)  # UnknownFormat first
    return _WRITERS[fmt](invoice)


__all__ = ["FORMATS", "PLACEHOLDER_NUMBER", "UnknownFormat", "einvoice_invoice", "einvoice_xml"]
