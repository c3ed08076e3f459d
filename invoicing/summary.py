"""What an API client reads about a finished order: the invoice, its payment and its email."""

from __future__ import annotations

from core.money import money_text
from invoicing.deliveries import email_outcome
from invoicing.models import EmailDelivery, Invoice, PaymentCapture
from invoicing.steps.capture import captured_text
from invoicing.steps.einvoice import einvoice_warning


def invoice_summary(invoice: Invoice) -> str:
    """The SUCCESS message an API client reads."""
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant_id, order_id=invoice.order_id).first()
    parts = [f"Invoice {invoice.number} created ({money_text(invoice.gross_total or 0, invoice.currency)})."]
    if capture and capture.status == PaymentCapture.Status.CAPTURED:
        parts.append(f"Payment of {captured_text(capture)} captured.")
    # The latest delivery that reached the customer (a resend after a failure), else the first.
    # (the invoice's own deliveries: its credit notes' emails are theirs)
    own = invoice.deliveries.filter(credit_note__isnull=True)
    sent = own.filter(status=EmailDelivery.Status.SENT).order_by("-sent_at", "-pk").first()
    delivery = sent or own.filter(kind="invoice").first()
    parts.append(email_outcome(delivery))
    # an issued e-invoice the rules rejected is named for an operator, also after a resend
    parts.append(einvoice_warning(invoice.einvoice_report))
    return " ".join(part for part in parts if part)
