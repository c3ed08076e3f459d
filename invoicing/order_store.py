"""Writes to the local order store (API PUT, import_orders, the demo seed), guarded by the invoices.

An order that is invoiced may still be updated (its status moves on), but not in what its
issued invoice shows: that rule is the invoice's, so the store's writes go through here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db import transaction

from core.errors import DomainError
from integrations.mapper import OrderDocumentError, sales_order_to_order
from integrations.models import GatewayTransaction, StoredOrder
from integrations.ports import Order
from invoicing.models import Invoice
from tenants.models import Tenant

AUTHORISED_STATUSES = {"AUTHORIZATION_SUCCESS", "AUTHORIZED"}


class OrderAlreadyInvoiced(DomainError):
    """The update would change what an issued invoice shows. Reaching a view: 409."""

    http_status = 409
    detail_info = "An issued invoice is never changed; create a credit note instead."


def invoiced_content(order: Order) -> dict[str, Any]:
    """What an invoice shows of an order; once invoiced, this part may not change."""
    keep = (
        "currency",
        "customer",
        "billing_address",
        "lines",
        "charges",
        "stated_net",
        "stated_tax",
        "stated_gross",
    )
    return {name: dataclasses.asdict(order)[name] for name in keep}


def selection_columns(order: Order) -> dict[str, Any]:
    """What AUTOMATIC jobs select stored orders on, kept in indexed columns."""
    return {
        "status": order.status[:20],
        "extended_status": order.extended_status[:20],
        "delivery_window_date": order.delivery_window_date,
        "delivery_time": order.delivery_time,
    }


def stored_order_upsert(
    *, tenant: Tenant, order_id: str, document: dict[str, Any]
) -> tuple[StoredOrder, bool]:
    """Validate and store a salesOrder; register its authorised payment with the local gateway.

    Raises OrderDocumentError (invalid document) or OrderAlreadyInvoiced (the update would
    change what an issued invoice shows).
    """
    document = {**document, "id": document.get("id") or order_id}
    order = sales_order_to_order(document, order_id=order_id)
    with transaction.atomic():
        stored = StoredOrder.objects.select_for_update().filter(tenant=tenant, order_id=order_id).first()
        if stored is not None:
            invoice = Invoice.objects.filter(
                tenant=tenant, order_id=order_id, status=Invoice.Status.ISSUED
            ).first()
            if invoice is not None:
                try:
                    before: Order | None = sales_order_to_order(stored.document, order_id=order_id)
                except OrderDocumentError:
                    # stored before the current checks: what was invoiced cannot be compared, so
                    # no update can be shown to leave it unchanged
                    before = None
                if before is None or invoiced_content(before) != invoiced_content(order):
                    raise OrderAlreadyInvoiced(
                        f"Order {order_id} is invoiced ({invoice.number}); this update would change what was invoiced."
                    )
                # keep the invoice reference written back onto the stored order
                document.setdefault("mixins", {}).setdefault(
                    "invoice", (stored.document.get("mixins") or {}).get("invoice")
                )
            stored.document = document
            for name, value in selection_columns(order).items():
                setattr(stored, name, value)
            stored.save()
            created = False
        else:
            stored = StoredOrder.objects.create(
                tenant=tenant, order_id=order_id, document=document, **selection_columns(order)
            )
            created = True
        for payment in order.payments:
            if payment.transaction_id and payment.status in AUTHORISED_STATUSES:
                GatewayTransaction.objects.get_or_create(
                    tenant=tenant,
                    transaction_id=payment.transaction_id,
                    defaults={
                        "order_id": order_id,
                        "authorized_amount": payment.authorized_amount
                        if payment.authorized_amount is not None
                        else order.stated_gross,
                        "currency": payment.currency or order.currency,
                    },
                )
    return stored, created
