"""The order's EN 16931 e-invoice in the pipeline: checked before capture, checked and embedded at issue.

Two checks (issue 12, "Never issue an e-invoice that the rules reject"):

- **Before capture and numbering** (`einvoice_precheck`, run by the recalculation step once the
  document is built): the e-invoice is built with the placeholder number
  (invoicing.einvoice.PLACEHOLDER_NUMBER) and validated - Factur-X (XSD + EN 16931 CII rules),
  and XRechnung CII (+ the XRechnung CIUS, BR-DE-*) when the buyer asks for XRechnung. A fatal
  finding fails the order there: nothing is captured, no number is drawn, and the message names
  the failing rule ids and texts. The reports are kept on the draft (Invoice.einvoice_report),
  so the console shows why.
- **At issue** (`einvoice_final`, run by the render step on the numbered document): the same
  XML is built again with the real number and date, validated again, the reports are stored
  on the invoice, and the PDF becomes the Factur-X PDF/A-3 carrying the CII as factur-x.xml.

Decision for a fatal finding at issue (it should not happen after the check before capture; only
what differs is the number and the dates): the invoice has been issued, its number is spent and
the payment captured, and a number is never withdrawn (VAT Directive Art. 226 (2), gapless
series). Failing the step would leave the customer without any invoice. So the PDF/A is still
stored and delivered (a correct invoice for people; its XML is the best the data allows), the
reports are stored with the finding, the error is logged and the order's final message says
the e-invoice failed which rules (`einvoice_warning`), so an operator sees it in the console
and can correct it (a credit note and a new invoice). The same happens when the switch is off:
no reports, but every PDF is still a Factur-X PDF/A-3.

Credit notes (issue 13) go through the same functions with their document (document_type
"credit_note"): the same formats (Factur-X always, XRechnung CII for a buyer who asks for it),
the same rules; the messages name the credit note and the invoice it corrects instead of the
order's capture. `einvoice_warning(report, credit_note=True)` words the warning for one.

The tenant's switch: Tenant.einvoice_validation (on by default) turns both checks off; the
e-invoice is still built (a build error fails the order before capture either way).

Validation runs in-process (saxonche): the compiled rules are loaded once per worker process
(invoicing.einvoice.validation.warm_up at worker start).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from invoicing.documents import InvoiceDocument
from invoicing.recalculation import InvoiceContentError

if TYPE_CHECKING:
    from invoicing.einvoice.validation import ValidationReport

logger = logging.getLogger(__name__)

FACTURX = "facturx"
XRECHNUNG_CII = "xrechnung-cii"
FORMAT_NAMES = {
    FACTURX: "Factur-X/ZUGFeRD (EN 16931 CII)",
    XRECHNUNG_CII: "XRechnung (CII)",
    "xrechnung-ubl": "XRechnung (UBL)",
    "peppol-bis": "Peppol BIS Billing 3.0",
}


class EInvoiceRejected(InvoiceContentError):
    """The order cannot become an e-invoice the official rules accept; fails it before capture.

    `reports`: Invoice.einvoice_report of the check ({} when the XML could not be built).
    """

    def __init__(self, message: str, *, reports: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reports: dict[str, Any] = reports or {}


def einvoice_formats(document: InvoiceDocument) -> tuple[str, ...]:
    """The formats an invoice is validated in: Factur-X always (the CII embedded in every PDF),
    XRechnung CII when the buyer asks for XRechnung (it is attached to the email)."""
    return (FACTURX, XRECHNUNG_CII) if document.einvoice_format == "xrechnung" else (FACTURX,)


def _subject(document: InvoiceDocument) -> str:
    """What the messages call the document: "order ORD-1", "credit note GS-1 for invoice RE-1"."""
    if not document.is_credit_note:
        return f"order {document.order_id}"
    number = f" {document.number}" if document.number else ""
    invoice = document.preceding_invoice_number
    return f"credit note{number} for invoice {invoice}" if invoice else f"credit note{number}"


def einvoice_build(document: InvoiceDocument, fmt: str) -> bytes:
    """The e-invoice XML of `document` (the placeholder number while it has none).

    A document the builder cannot express (a ValueError of invoicing.einvoice) is an
    EInvoiceRejected: before capture it fails the order, naming why.
    """
    from invoicing.einvoice import einvoice_xml

    try:
        return einvoice_xml(document, fmt)
    except ValueError as exc:
        raise EInvoiceRejected(
            f"The {FORMAT_NAMES.get(fmt, fmt)} e-invoice of {_subject(document)} cannot be built: {exc}"
        ) from exc


def einvoice_validate(document: InvoiceDocument) -> tuple[dict[str, bytes], dict[str, ValidationReport]]:
    """Build and validate the document in each of its formats: (XML per format, report per format)."""
    from invoicing.einvoice.validation import validate

    xml = {fmt: einvoice_build(document, fmt) for fmt in einvoice_formats(document)}
    return xml, {fmt: validate(data, fmt) for fmt, data in xml.items()}


def reports_json(reports: dict[str, ValidationReport]) -> dict[str, Any]:
    """Invoice.einvoice_report: {format: ValidationReport.to_json()}."""
    return {fmt: report.to_json() for fmt, report in reports.items()}


def rejection_text(reports: dict[str, ValidationReport]) -> str:
    """The failing rules of every rejected format: "Factur-X/…: BR-CO-26: text; …"."""
    text = "; ".join(
        f"{FORMAT_NAMES.get(fmt, fmt)}: {report.message()}" for fmt, report in reports.items() if report.fatal
    )
    return text.rstrip(".")  # the caller ends the sentence


def einvoice_precheck(document: InvoiceDocument, *, validate: bool) -> dict[str, Any]:
    """The check before capture and numbering; what the draft keeps as its einvoice_report.

    Raises EInvoiceRejected (a PermanentError: the order fails, nothing captured, no number)
    when the XML cannot be built or, with `validate`, when the rules reject it. The caller stores
    `EInvoiceRejected.reports` on the draft, so the console can show every finding.
    """
    if not validate:
        for fmt in einvoice_formats(document):
            einvoice_build(document, fmt)  # a document the builder cannot express fails here too
        return {}
    _xml, reports = einvoice_validate(document)
    rejected = rejection_text(reports)
    if rejected and document.is_credit_note:
        raise EInvoiceRejected(
            f"The {_subject(document)} cannot become a valid e-invoice; the official rules reject "
            f"it: {rejected}. No credit note was issued and nothing was refunded; correct the "
            "seller's or the buyer's details and request the credit note again.",
            reports=reports_json(reports),
        )
    if rejected:
        raise EInvoiceRejected(
            f"The order cannot become a valid e-invoice; the official rules reject it: {rejected}. "
            "Nothing was captured and no invoice was issued; correct the order, its buyer or the "
            "seller's details and run the order again.",
            reports=reports_json(reports),
        )
    return reports_json(reports)


def einvoice_final(document: InvoiceDocument, pdf: bytes, *, validate: bool) -> tuple[bytes, dict[str, Any]]:
    """The issued document's Factur-X PDF/A-3 (the PDF with its CII as factur-x.xml) and the
    reports of the check at issue ({} when the tenant validates nothing).

    A fatal finding here does not stop the invoice (see the module's docstring): it is logged
    and stored, and `einvoice_warning` names it in the order's message.
    """
    from invoicing.einvoice.pdfa import facturx_pdf

    if validate:
        xml, reports = einvoice_validate(document)
        cii = xml[FACTURX]
        rejected = rejection_text(reports)
        if rejected:
            logger.error(
                "e-invoice of issued %s %s (order %s) fails the official rules: %s",
                "credit note" if document.is_credit_note else "invoice",
                document.number,
                document.order_id,
                rejected,
            )
        stored = reports_json(reports)
    else:
        cii, stored = einvoice_build(document, FACTURX), {}
    return facturx_pdf(pdf, cii, document=document), stored


def einvoice_warning(report: dict[str, Any], *, credit_note: bool = False) -> str:
    """What the order's (or the credit note's) message says when the issued e-invoice failed the
    rules ("" when not)."""
    if not report:
        return ""
    from invoicing.einvoice.validation import ValidationReport

    reports = {
        fmt: ValidationReport.from_json(data) for fmt, data in report.items() if isinstance(data, dict)
    }
    rejected = rejection_text(reports)
    if not rejected:
        return ""
    if credit_note:
        return (
            f"Attention: the issued credit note's e-invoice fails the official rules: {rejected}. "
            "The PDF/A was stored and sent as it is; check the credit note in the console."
        )
    return (
        f"Attention: the issued e-invoice fails the official rules: {rejected}. The PDF/A was stored "
        "and sent as it is; check the invoice in the console and correct it with a credit note and a "
        "new invoice."
    )
