"""Step 7, the write-back: the shop's order learns its invoice number and document."""

from __future__ import annotations

from invoicing.steps.base import PipelineOrder, backends_of, invoice_of


def invoice_write_back(*, job_order: PipelineOrder, document_url: str) -> str:
    invoice = invoice_of(job_order)
    backends_of(job_order).orders.mark_invoiced(
        invoice.order_id, invoice_number=invoice.number or "", document_url=document_url
    )
    return "written back to the order"
