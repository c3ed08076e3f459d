"""Sentences the PDF and the email share, so both say the same thing in the same words.

Every function translates with Django's gettext, so it is called inside
`invoicing.i18n.language_override(document.language)`; dates and amounts are written by the
`Formats` passed in.

A credit note (EN 16931 BT-3 code 381) is titled with the term each language uses for a
correction of an issued invoice, which in several is a legal requirement (the references are
the ones checked when the texts were written; the catalogues hold the words):

- de "Rechnungskorrektur", for a cancellation of the whole invoice "Stornorechnung". Never
  "Gutschrift": in German VAT law that is self-billing by the buyer (§ 14 Abs. 2 Satz 2 UStG),
  and the BMF (letter of 25 Oct 2013) calls the commercial "Gutschrift" no Gutschrift at all.
- fr "Avoir" (facture d'avoir); es "Factura rectificativa" (Real Decreto 1619/2012, art. 15:
  it names the invoice it corrects); it "Nota di credito" (nota di variazione, art. 26
  DPR 633/1972); nl "Creditnota" (with a reference to the original invoice and its date);
  pl "Faktura korygująca" (art. 106j ust. 2 ustawy o VAT: the words "FAKTURA KORYGUJĄCA", the
  corrected invoice's number and date, the reason); pt "Nota de crédito" (art. 29 n.º 7 CIVA,
  a document rectifying the invoice that names it); cs "Opravný daňový doklad" (§ 45 zákona
  č. 235/2004 Sb.: the original document's number and the reason of the correction); da
  "Kreditnota" (momsloven § 52, stk. 5); sv "Kreditfaktura" (an ändringsfaktura with an
  unambiguous reference to the original invoice, 17 kap. 22 § mervärdesskattelagen).

So the credit note always names the invoice it corrects (number and date, BT-25/BT-26) and the
reason, in every language.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from invoicing.documents import PAY_BACK, REFUNDED, InvoiceDocument
from invoicing.i18n import Formats

__all__ = [
    "cancels_invoice",
    "credit_note_date_label",
    "credit_note_number_label",
    "label",
    "labelled",
    "preceding_invoice_sentence",
    "reason_line",
    "refund_sentence",
    "title",
]

# pgettext context "cancellation of the whole invoice": the texts that differ when a credit note
# cancels the whole invoice. German calls that a "Stornorechnung", a partial credit a
# "Rechnungskorrektur"; the other languages use one word for both (translated alike). Written
# out in each call: xgettext (make messages) only reads a literal context.


def label(text: str) -> str:
    """The label with its colon as the language writes it: French sets a no-break space before
    the colon ("IBAN :"). gettext outside f-strings: xgettext (make messages) does not look
    inside them."""
    return _("%(label)s:") % {"label": text}


def labelled(text: str, value: str) -> str:
    return f"{label(text)} {value}"


def cancels_invoice(document: InvoiceDocument) -> bool:
    """A credit note that cancels the whole invoice (a FULL credit note: its document says so)."""
    return document.is_credit_note and document.cancels_invoice


def title(document: InvoiceDocument, number: str) -> str:
    """ "Invoice RE-1", "Credit note GS-1" (German: "Rechnungskorrektur GS-1" / "Stornorechnung
    GS-1"), or the draft's title while `number` is empty."""
    if not document.is_credit_note:
        return _("Invoice %(number)s") % {"number": number} if number else _("Invoice (draft)")
    if cancels_invoice(document):
        if number:
            return pgettext("cancellation of the whole invoice", "Credit note %(number)s") % {
                "number": number
            }
        return pgettext("cancellation of the whole invoice", "Credit note (draft)")
    return _("Credit note %(number)s") % {"number": number} if number else _("Credit note (draft)")


def credit_note_number_label(document: InvoiceDocument) -> str:
    if cancels_invoice(document):
        return pgettext("cancellation of the whole invoice", "Credit note no.")
    return _("Credit note no.")


def credit_note_date_label(document: InvoiceDocument) -> str:
    if cancels_invoice(document):
        return pgettext("cancellation of the whole invoice", "Credit note date")
    return _("Credit note date")


def preceding_invoice_sentence(document: InvoiceDocument, formats: Formats, number: str) -> str:
    """Which invoice the credit note corrects or cancels (BT-25, BT-26): "This credit note
    corrects invoice RE-1 of 5 Jan 2025." `number` is the invoice number as it is to be printed."""
    values = {"number": number}
    if document.preceding_invoice_date is not None:
        values["date"] = formats.date(document.preceding_invoice_date)
        if cancels_invoice(document):
            return _("This credit note cancels invoice %(number)s of %(date)s.") % values
        return _("This credit note corrects invoice %(number)s of %(date)s.") % values
    if cancels_invoice(document):
        return _("This credit note cancels invoice %(number)s.") % values
    return _("This credit note corrects invoice %(number)s.") % values


def reason_line(reason: str) -> str:
    """ "Reason: Goods returned"; "" without a reason."""
    return labelled(_("Reason"), reason) if reason.strip() else ""


def refund_sentence(document: InvoiceDocument, formats: Formats) -> str:
    """What becomes of a credit note's amount, where an invoice asks for payment: refunded to the
    original payment (REFUNDED), else paid back or offset (PAY_BACK, and a credit note that says
    nothing, as its e-invoice does: it never claims a refund that did not happen). "" for an invoice."""
    if not document.is_credit_note and document.refund not in {REFUNDED, PAY_BACK}:
        return ""
    amount = formats.money(document.gross_total, document.currency)
    if document.refund == REFUNDED:
        return _("The amount of %(amount)s has been refunded to your original payment method.") % {
            "amount": amount
        }
    return _("The amount of %(amount)s will be paid back or offset.") % {"amount": amount}
