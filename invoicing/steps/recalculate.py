"""Step 2, recalculation: the invoice's figures from the order, and the capture they call for."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from invoicing.documents import to_json
from invoicing.models import Invoice, PaymentCapture
from invoicing.recalculation import recalculate
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of
from invoicing.steps.capture import capture_plan, capture_target


def invoice_recalculate(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    if invoice.status == Invoice.Status.ISSUED:
        return "already issued"
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant, order_id=invoice.order_id).first()
    if capture is not None and capture.status in (
        PaymentCapture.Status.CAPTURED,
        PaymentCapture.Status.UNKNOWN,
    ):
        # Money moved (or may have): the figures it moved on stay as they are.
        return "kept the figures of the captured payment"
    backends = backends_of(job_order)
    order = backends.orders.get_order(invoice.order_id)
    seller = backends.seller.get_seller(site_code=order.site_code)
    payment = capture_target(order)
    document = recalculate(order, seller, paid_by_capture=payment is not None)
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
            document=to_json(document),
            currency=document.currency,
            net_total=document.net_total,
            tax_total=document.tax_total,
            gross_total=document.gross_total,
            customer_name=document.customer_name,
            customer_email=document.customer_email,
            order_date=document.order_date,
            site_code=order.site_code,
            updated_at=timezone.now(),
        )
        capture_plan(invoice, payment, document.gross_total, document.currency)
    return f"recalculated: {document.gross_total} {document.currency}"
