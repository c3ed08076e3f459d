"""The email of an issued credit note, in the document's language (the customer's).

Like the invoice's (invoicing.deliveries.invoice_email_message): the subject and the body
(templates/invoicing/email/credit_note.txt) in the language the credit note was issued in, the
stored PDF attached as "credit-note-<number>.pdf", and for a buyer who asks for XRechnung also
the XRechnung CII XML as "<number>.xml". The sentences the PDF prints too (which invoice it
corrects, the reason, what becomes of the amount) come from invoicing.pdf.wording, so both
say the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from invoicing.documents import InvoiceDocument, from_json
from invoicing.i18n import Formats, language_override
from invoicing.pdf import wording

if TYPE_CHECKING:
    from invoicing.models import CreditNote

__all__ = ["credit_note_email_message"]


def credit_note_email_message(credit_note: CreditNote, *, to: str = "") -> EmailMessage:
    """The credit note's email: subject and body in the document's language, the stored PDF
    (never rendered again) and, for XRechnung buyers, the XRechnung CII XML attached.

    `to` defaults to the invoice's customer email address.
    """
    document = from_json(credit_note.document)
    formats = Formats(document.language)
    invoice = credit_note.invoice
    number = credit_note.number or document.number
    invoice_number = document.preceding_invoice_number or invoice.number or ""
    issue_date = credit_note.issue_date or document.issue_date
    with language_override(document.language):
        values = {
            "number": number,
            "invoice": invoice_number,
            "order": invoice.order_id,
            "date": formats.date(issue_date) if issue_date else "",  # an issued credit note has one
        }
        if wording.cancels_invoice(document):
            subject = pgettext(
                "cancellation of the whole invoice", "Credit note %(number)s for your invoice %(invoice)s"
            )
        else:
            subject = _("Credit note %(number)s for your invoice %(invoice)s")
        context = {
            "credit_note": credit_note,
            "document": document,
            "seller": document.seller,
            "intro": _intro(document, values),
            "reason": wording.reason_line(document.credit_reason),
            "total": formats.money(document.gross_total, document.currency),
            "refund": wording.refund_sentence(document, formats),
        }
        body = render_to_string("invoicing/email/credit_note.txt", context)
    message = EmailMessage(
        subject=subject % values,
        body=body,
        from_email=document.seller.email or settings.DEFAULT_FROM_EMAIL,
        to=[to or invoice.customer_email or document.customer_email],
    )
    # the stored PDF (the Factur-X PDF/A-3 with its CII), the file of the download link
    with credit_note.pdf.open("rb") as handle:
        message.attach(f"credit-note-{number}.pdf", handle.read(), "application/pdf")
    if document.einvoice_format == "xrechnung":
        # The buyer asks for XRechnung: the XRechnung CII of the issued credit note as well
        # (type code 381, the preceding invoice as BT-25), built from the stored document.
        from invoicing.einvoice import einvoice_xml

        message.attach(f"{number}.xml", einvoice_xml(document, "xrechnung-cii"), "application/xml")
    return message


def _intro(document: InvoiceDocument, values: dict[str, str]) -> str:
    """ "Attached is our credit note GS-1 of 5 Jan 2025 for your invoice RE-1 (order O-1) as a PDF." """
    if wording.cancels_invoice(document):
        return (
            pgettext(
                "cancellation of the whole invoice",
                "Attached is our credit note %(number)s of %(date)s for your invoice %(invoice)s "
                "(order %(order)s) as a PDF.",
            )
            % values
        )
    return (
        _(
            "Attached is our credit note %(number)s of %(date)s for your invoice %(invoice)s "
            "(order %(order)s) as a PDF."
        )
        % values
    )
