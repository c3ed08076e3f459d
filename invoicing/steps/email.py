"""Step 6, the email: the invoice's first delivery to the customer (invoicing.deliveries sends it)."""

from __future__ import annotations

from invoicing.deliveries import (
    email_deliveries_fail,
    email_delivery_send,
)
from invoicing.models import EmailDelivery
from invoicing.steps.base import PipelineOrder, invoice_of


def invoice_email(*, job_order: PipelineOrder) -> str:
    """The pipeline's email step: the invoice's first delivery."""
    invoice = invoice_of(job_order)
    if not invoice.customer_email:
        return "no customer email address: not sent"
    delivery, _ = EmailDelivery.objects.get_or_create(
        invoice=invoice, kind="invoice", defaults={"recipient": invoice.customer_email}
    )
    return email_delivery_send(delivery=delivery, job_order_id=job_order.pk)


def email_give_up(*, job_order: PipelineOrder, reason: str) -> str:
    """Retries ran out: the invoice stands, the email is recorded as failed."""
    invoice = invoice_of(job_order)
    email_deliveries_fail(EmailDelivery.objects.filter(invoice=invoice, kind="invoice"), error=reason)
    return f"email to {invoice.customer_email} failed: {reason}"
