"""Step 2, recalculation: the invoice's figures from the order, and the capture they call for.

Everything the invoice must state is settled here, before any capture (step 3) or number
(step 4): the buyer (the order's legal entity, its VAT ID checked for form), the VAT treatment
of every row (the tenant's `vat_treatments`), the customer's language, and for an invoice in a
foreign currency the exchange rate. What is missing fails the order here, with nothing charged.

The order's e-invoice is built and validated here too, with the placeholder number, when the
tenant validates e-invoices (invoicing.steps.einvoice): an order the official rules reject
fails here, naming the rules, before any capture or number.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.errors import PermanentError
from core.money import money_text
from invoicing.documents import to_json
from invoicing.i18n import resolve_language
from invoicing.models import Invoice, PaymentCapture
from invoicing.recalculation import recalculate
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of
from invoicing.steps.capture import capture_plan, capture_settles, capture_target
from invoicing.steps.einvoice import EInvoiceRejected, einvoice_precheck
from invoicing.vat import VatTreatments
from tenants.models import Tenant

RATE_SOURCES: dict[str, str] = {
    Tenant.Backend.EMPORIX.value: "Emporix currency service",
    Tenant.Backend.LOCAL.value: "exchange rates kept in the console",
}


def invoice_recalculate(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    if invoice.status == Invoice.Status.ISSUED:
        return "already issued"
    capture = PaymentCapture.objects.filter(tenant=invoice.tenant, order_id=invoice.order_id).first()
    settles = capture is not None and capture_settles(capture, invoice)
    if (
        capture is not None
        and settles
        and capture.status
        in (
            PaymentCapture.Status.CAPTURED,
            PaymentCapture.Status.UNKNOWN,
        )
    ):
        # Money moved (or may have): the figures it moved on stay as they are.
        return "kept the figures of the captured payment"
    # After a cancellation: what the capture of the cancelled invoice still holds (not refunded)
    # pays the order's new invoice ("cancel and re-issue" keeps the customer's payment).
    carried = (
        capture
        if capture is not None and not settles and capture.status == PaymentCapture.Status.CAPTURED
        else None
    )
    held = (carried.amount or 0) - carried.refunded_amount if carried is not None else 0
    tenant = invoice.tenant
    backends = backends_of(job_order)
    order = backends.orders.get_order(invoice.order_id)
    seller = backends.seller.get_seller(site_code=order.site_code)
    buyer = backends.customers.get_legal_entity(order.legal_entity_id) if order.legal_entity_id else None
    profile = backends.customers.get_customer(order.customer.customer_id)
    payment = capture_target(order)
    document = recalculate(
        order,
        seller,
        paid_by_capture=payment is not None or held > 0,
        buyer=buyer,
        # the customer's language, else the site's, else the tenant's (issue 11)
        language=resolve_language(
            profile.preferred_language if profile else "", seller.language, tenant.default_language
        ),
        fallback_language=tenant.default_language,
        # validated when saved (Tenant.clean); a value written around it fails the order here
        treatments=VatTreatments.from_json(tenant.vat_treatments),
        payment_days=tenant.payment_days,
        rates=backends.rates,
        rates_source=RATE_SOURCES.get(str(tenant.backend), ""),
    )
    if carried is not None and held > 0 and held != document.gross_total:
        raise PermanentError(
            f"The order's payment still holds {money_text(held, carried.currency)} from its cancelled "
            f"invoice, but the new invoice totals {money_text(document.gross_total, document.currency)}. "
            "Nothing was captured and no invoice was issued. Refund the rest with a credit note of the "
            "cancelled invoice, or cancel it with a refund and authorise a new payment."
        )
    try:
        # before capture and numbering: an e-invoice the rules reject never costs money or a number
        report = einvoice_precheck(document, validate=tenant.einvoice_validation)
    except EInvoiceRejected as exc:
        # the draft keeps the findings (the console shows them); nothing else of it changes
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
            einvoice_report=exc.reports, updated_at=timezone.now()
        )
        raise
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
            document=to_json(document),
            einvoice_report=report,
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
        if carried is not None and held > 0:
            # settled by the payment held since the cancelled invoice: no new capture
            PaymentCapture.objects.filter(pk=carried.pk).update(invoice=invoice, updated_at=timezone.now())
        else:
            capture_plan(invoice, payment, document.gross_total, document.currency)
    return f"recalculated: {document.gross_total} {document.currency}"
