"""Step 5, the PDF: rendered once from the issued invoice and stored with its checksum.

The PDF is the Factur-X PDF/A-3: the issued document's EN 16931 CII is validated again (when the
tenant validates e-invoices), embedded as factur-x.xml, and the reports are stored on the
invoice in the same transaction as the PDF (invoicing.steps.einvoice.einvoice_final).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from core.errors import PermanentError
from invoicing.documents import from_json
from invoicing.models import CreditNote, Invoice
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of
from invoicing.steps.einvoice import einvoice_final


def invoice_render(*, job_order: PipelineOrder) -> str:
    invoice = invoice_of(job_order)
    if invoice.pdf:
        return "PDF exists"
    if invoice.status != Invoice.Status.ISSUED:
        raise PermanentError("Internal state error: the invoice is not issued; no PDF was made.")
    return pdf_render_and_store(invoice, job_order=job_order)


def pdf_render_and_store(issued: Invoice | CreditNote, *, job_order: PipelineOrder) -> str:
    """Render an issued invoice's or credit note's Factur-X PDF/A-3 and store it once, with its
    checksum and the e-invoice reports of the check at issue."""
    from invoicing.pdf import render_invoice_pdf  # ReportLab is loaded only where PDFs are made

    site_code = issued.site_code if isinstance(issued, Invoice) else issued.invoice.site_code
    seller = backends_of(job_order).seller.get_seller(site_code=site_code)
    document = from_json(issued.document, logo=seller.logo)
    pdf, report = einvoice_final(
        document, render_invoice_pdf(document), validate=issued.tenant.einvoice_validation
    )
    name = f"{issued.tenant.code}/{issued.number}.pdf"
    with transaction.atomic():
        pk: Any = issued.pk
        locked = type(issued).objects.select_for_update().get(pk=pk)
        if locked.pdf:  # a concurrent run stored it first
            return "PDF exists"
        locked.pdf.save(name, ContentFile(pdf), save=False)
        locked.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        locked.einvoice_report = report
        locked.save(update_fields=["pdf", "pdf_sha256", "einvoice_report", "updated_at"])
    return f"Factur-X PDF {len(pdf)} bytes"
