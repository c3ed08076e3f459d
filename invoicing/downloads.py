"""Where an issued invoice's PDF can be fetched: signed, expiring links and the stable address.

And its e-invoice XML in each format, with the outcome of each format's validation at issue:
what the API's GET …/einvoice and the console's downloads answer and show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import facturx
from django.conf import settings
from django.core import signing
from django.urls import reverse

from invoicing.documents import from_json
from invoicing.einvoice import FORMATS, UnknownFormat, einvoice_xml
from invoicing.einvoice.validation import Finding, ValidationReport
from invoicing.models import CreditNote, Invoice
from tenants.models import Tenant

DOWNLOAD_SALT = "invoice-download"


def download_token(invoice: Invoice) -> str:
    return signing.dumps({"t": invoice.tenant_id, "i": invoice.pk}, salt=DOWNLOAD_SALT, compress=True)


def download_link_for(invoice: Invoice, *, base_url: str = "") -> str:
    """Absolute URL that downloads the PDF without a token, until INVOICE_DOWNLOAD_LINK_TTL passes."""
    path = reverse("invoice-download", kwargs={"token": download_token(invoice)})
    base = settings.PUBLIC_BASE_URL or base_url.rstrip("/") or "http://localhost:8000"
    return base + path


def invoice_document_url(invoice: Invoice) -> str:
    """The stable, token-protected address of the PDF, written back onto the order."""
    path = reverse(
        "invoice-document", kwargs={"tenant": invoice.tenant.code, "invoiceNumber": invoice.number}
    )
    return (settings.PUBLIC_BASE_URL or "http://localhost:8000") + path


def issued_invoice(*, tenant: Tenant, number: str) -> Invoice | None:
    return (
        Invoice.objects.filter(tenant=tenant, number=number, status=Invoice.Status.ISSUED)
        .exclude(pdf="")
        .first()
    )


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def _signed_link_data(token: str, *, salt: str) -> Any:
    """What a download link signed, if it is intact and has not expired (LinkInvalid, LinkExpired)."""
    try:
        data = signing.loads(token, salt=salt, max_age=settings.INVOICE_DOWNLOAD_LINK_TTL)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    if not isinstance(data, dict):
        raise LinkInvalid
    return data


def invoice_from_download_token(token: str) -> Invoice:
    data = _signed_link_data(token, salt=DOWNLOAD_SALT)
    invoice = (
        Invoice.objects.filter(pk=data.get("i"), tenant_id=data.get("t"), status=Invoice.Status.ISSUED)
        .exclude(pdf="")
        .first()
    )
    if invoice is None:
        raise LinkInvalid
    return invoice


# --- credit notes: the same kinds of link to their PDFs ------------------------------------------------
CREDIT_NOTE_DOWNLOAD_SALT = "credit-note-download"


def credit_note_download_link_for(credit_note: CreditNote, *, base_url: str = "") -> str:
    """Absolute URL that downloads the credit note's PDF without a token, until it expires."""
    token = signing.dumps(
        {"t": credit_note.tenant_id, "c": str(credit_note.pk)}, salt=CREDIT_NOTE_DOWNLOAD_SALT, compress=True
    )
    path = reverse("credit-note-download", kwargs={"token": token})
    base = settings.PUBLIC_BASE_URL or base_url.rstrip("/") or "http://localhost:8000"
    return base + path


def credit_note_document_url(credit_note: CreditNote) -> str:
    """The stable, token-protected address of the credit note's PDF, written back onto the order."""
    path = reverse("credit-note-document", kwargs={"tenant": credit_note.tenant.code, "pk": credit_note.pk})
    return (settings.PUBLIC_BASE_URL or "http://localhost:8000") + path


def credit_note_from_download_token(token: str) -> CreditNote:
    data = _signed_link_data(token, salt=CREDIT_NOTE_DOWNLOAD_SALT)
    credit_note = (
        CreditNote.objects.filter(pk=data.get("c"), tenant_id=data.get("t"), status=CreditNote.Status.ISSUED)
        .exclude(pdf="")
        .first()
    )
    if credit_note is None:
        raise LinkInvalid
    return credit_note


# --- the e-invoice (EN 16931 XML) of an issued invoice: the API's and the console's downloads ---
EINVOICE_CONTENT_TYPE = "application/xml"
FACTURX_ATTACHMENT = "factur-x.xml"  # the name Factur-X 1.07 / ZUGFeRD 2.3 give the embedded CII

# What each format is, for people (the console's links and validation outcome).
EINVOICE_FORMAT_LABELS = {
    "facturx": "Factur-X / ZUGFeRD XML (EN 16931 CII, as embedded in the PDF)",
    "xrechnung-cii": "XRechnung 3.0 (CII)",
    "xrechnung-ubl": "XRechnung 3.0 (UBL)",
    "peppol-bis": "Peppol BIS Billing 3.0 (UBL)",
}


def einvoice_filename(invoice: Invoice, fmt: str) -> str:
    """`<number>-<format>.xml`; a number's slashes (e.g. "2026/0001") would read as folders."""
    number = re.sub(r"[/\\]", "-", invoice.number or "draft")
    return f"{number}-{fmt}.xml"


def embedded_facturx_xml(invoice: Invoice) -> bytes | None:
    """The factur-x.xml attached to the stored PDF/A-3, or None (a plain PDF issued before e-invoices)."""
    if not invoice.pdf:
        return None
    with invoice.pdf.open("rb") as handle:
        pdf = handle.read()
    _name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False, filenames=[FACTURX_ATTACHMENT])
    return bytes(xml) if xml else None


def invoice_einvoice_xml(invoice: Invoice, fmt: str) -> bytes:
    """The issued invoice as an e-invoice in `fmt` (invoicing.einvoice.FORMATS), UTF-8 XML.

    `facturx` is the XML the customer received inside the PDF, byte for byte, when the PDF carries
    one; otherwise, and for the other syntaxes, the stored document (the one the PDF was rendered
    from, with its number BT-1 and issue date BT-2) is built again: the builders are deterministic.
    Raises UnknownFormat.
    """
    if fmt not in FORMATS:
        raise UnknownFormat(fmt)
    if fmt == "facturx":
        embedded = embedded_facturx_xml(invoice)
        if embedded is not None:
            return embedded
    return einvoice_xml(from_json(invoice.document), fmt)


FATAL_SHOWN = 20  # the console lists the first ones; a broken builder can break hundreds at once


@dataclass(frozen=True)
class EInvoiceOutcome:
    """How one format of an issued invoice fared against the rules when it was issued."""

    fmt: str
    label: str
    report: ValidationReport | None  # None: not validated (validation off, or issued before)

    @property
    def validated(self) -> bool:
        return self.report is not None

    @property
    def ok(self) -> bool | None:
        return None if self.report is None else self.report.ok

    @property
    def fatal(self) -> tuple[Finding, ...]:
        return () if self.report is None else self.report.fatal

    @property
    def fatal_shown(self) -> tuple[Finding, ...]:
        return self.fatal[:FATAL_SHOWN]

    @property
    def fatal_hidden(self) -> int:
        return max(0, len(self.fatal) - FATAL_SHOWN)

    @property
    def warnings(self) -> int:
        if self.report is None:
            return 0
        return sum(1 for finding in self.report.findings if finding.flag.lower() == "warning")


def einvoice_outcomes(invoice: Invoice) -> list[EInvoiceOutcome]:
    """Each format's validation outcome from Invoice.einvoice_report, in the order of FORMATS."""
    stored = invoice.einvoice_report if isinstance(invoice.einvoice_report, dict) else {}
    return [
        EInvoiceOutcome(
            fmt=fmt,
            label=EINVOICE_FORMAT_LABELS.get(fmt, fmt),
            report=ValidationReport.from_json(stored[fmt]) if isinstance(stored.get(fmt), dict) else None,
        )
        for fmt in FORMATS
    ]


def einvoice_valid(invoice: Invoice) -> bool | None:
    """True: every validated format passed; False: one was rejected; None: none was validated."""
    outcomes = [outcome.ok for outcome in einvoice_outcomes(invoice) if outcome.validated]
    return None if not outcomes else all(outcomes)
