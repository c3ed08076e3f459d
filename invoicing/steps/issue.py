"""Step 4, numbering: the number is allocated and the invoice issued in one short transaction."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from core.errors import PermanentError
from invoicing import events
from invoicing.documents import from_json, to_json
from invoicing.models import Invoice, InvoiceLine, InvoiceTaxLine, PaymentCapture
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of


def invoice_issue(*, job_order: PipelineOrder) -> str:
    """Allocate the number and issue the invoice in one short transaction.

    The local series' row lock is held only for this transaction, which does no network I/O,
    so numbers stay gapless: a number exists exactly when an issued invoice carries it.
    """
    invoice = invoice_of(job_order)
    if invoice.status == Invoice.Status.ISSUED:
        return f"issued {invoice.number}"
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant, order_id=invoice.order_id).first()
    if capture is None or capture.status not in (
        PaymentCapture.Status.CAPTURED,
        PaymentCapture.Status.NOT_REQUIRED,
    ):
        raise PermanentError("Internal state error: the payment is not settled; no number was issued.")
    backends = backends_of(job_order)
    now = timezone.now()
    if not backends.numbers.transactional and not invoice.reserved_number:
        # A remote sequence: draw the number outside any lock and keep it on the invoice at once,
        # so a retry of this step issues the same number instead of drawing another.
        drawn = backends.numbers.next_number(site_code=invoice.site_code, at=now)
        Invoice.objects.filter(pk=invoice.pk, reserved_number="").update(reserved_number=drawn)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status == Invoice.Status.ISSUED:
            return f"issued {locked.number}"
        document = from_json(locked.document)
        issue_date = now.astimezone(ZoneInfo(document.seller.time_zone)).date()
        number = locked.reserved_number or backends.numbers.next_number(site_code=locked.site_code, at=now)
        document = document.with_number(number, issue_date)
        locked.number = number
        locked.status = Invoice.Status.ISSUED
        locked.issue_date = issue_date
        locked.issued_at = now
        locked.document = to_json(document)
        locked.save()
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=locked,
                position=index,
                kind=row.kind,
                description=row.description[:500],
                sku=row.sku[:100],
                quantity=row.quantity,
                unit_net=row.unit_net,
                tax_rate=row.tax_rate,
                net=row.net,
                vat_category=row.vat_category,
            )
            for index, row in enumerate(document.rows, start=1)
        )
        InvoiceTaxLine.objects.bulk_create(
            InvoiceTaxLine(
                invoice=locked, rate=t.rate, net=t.net, tax=t.tax, gross=t.gross, category=t.category
            )
            for t in document.tax_breakdown
        )
        events.invoice_issued(invoice=locked, job_order_id=job_order.pk)
    return f"issued {number}"
