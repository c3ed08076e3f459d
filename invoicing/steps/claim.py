"""Step 1, validation: the order has no invoice yet, and this job takes it (a DRAFT invoice)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction

from core.errors import PermanentError, TransientError
from integrations.ports import Order
from invoicing.models import Invoice
from invoicing.steps.base import PipelineOrder, backends_of
from tenants.models import Tenant


def _cancelled_here(order: Order, tenant: Tenant) -> bool:
    """The order names an invoice of ours that was cancelled (credited in full): after a
    cancellation the order may be invoiced again, though its mixin still names the old number."""
    return Invoice.objects.filter(
        tenant=tenant,
        order_id=order.order_id,
        number=order.existing_invoice_number,
        cancelled_at__isnull=False,
    ).exists()


def invoice_claim(*, job_order: PipelineOrder, take: Callable[[Invoice], None]) -> str:
    """Make sure the order has no invoice yet and take it for this job (as a DRAFT invoice).

    The draft is the claim: UNIQUE(tenant, order_id) means two jobs cannot both hold one.
    A draft left by a finished (failed) job is taken over, with whatever it got done (a
    captured payment stays captured and is not charged again). `take(invoice)` runs inside the
    claim's transaction with the invoice row locked: the pipeline checks there that no other
    unfinished job holds the draft (raising PermanentError if one does) and records its hold.
    """
    tenant = job_order.tenant
    order = backends_of(job_order).orders.get_order(job_order.order_id)  # I/O before any lock
    for _attempt in range(2):
        try:
            with transaction.atomic():
                # the order's open invoice: a cancelled one (credited in full) no longer counts
                invoice = (
                    Invoice.objects.select_for_update()
                    .filter(tenant=tenant, order_id=order.order_id, cancelled_at__isnull=True)
                    .first()
                )
                if invoice is not None and invoice.status == Invoice.Status.ISSUED:
                    raise PermanentError(
                        f"Order {order.order_id} is already invoiced: invoice {invoice.number}. No new invoice was created."
                    )
                if invoice is None and order.existing_invoice_number and not _cancelled_here(order, tenant):
                    raise PermanentError(
                        f"Order {order.order_id} is already invoiced: invoice {order.existing_invoice_number} "
                        "(per the order). No new invoice was created."
                    )
                if invoice is None:
                    invoice = Invoice.objects.create(
                        tenant=tenant, order_id=order.order_id, currency=order.currency
                    )
                take(invoice)
            return "validated"
        except IntegrityError:
            # Another job created the draft between our read and insert: read again, it now exists.
            continue
    raise TransientError(f"Order {job_order.order_id} is being claimed concurrently; trying again.")
