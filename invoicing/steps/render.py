"""Step 5, the PDF: rendered once from the issued invoice and stored with its checksum.

The PDF is the Factur-X PDF/A-3: the issued document's EN 16931 CII is validated again (when the
tenant validates e-invoices), embedded as factur-x.xml, and the reports are stored on the
invoice in the same transaction as the PDF (invoicing.steps.einvoice.einvoice_final).
"""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction

from core.errors import PermanentError
from invoicing.documents import from_json
from invoicing.models import Invoice
from invoicing.steps.base import PipelineOrder, backends_of, invoice_of
from invoicing.steps.einvoice import einvoice_final


def invoice_render(*, job_order: PipelineOrder) -> str:
    from invoicing.pdf import render_invoice_pdf  # ReportLab is loaded only where PDFs are made

    invoice = invoice_of(job_order)
    if invoice.pdf:
        return "PDF exists"
    if invoice.status != Invoice.Status.ISSUED:
        raise PermanentError("Internal state error: the invoice is not issued; no PDF was made.")
    seller = backends_of(job_order).seller.get_seller(site_code=invoice.site_code)
    document = from_json(invoice.document, logo=seller.logo)
    pdf, report = einvoice_final(
        document, render_invoice_pdf(document), validate=invoice.tenant.einvoice_validation
    )
    name = f"{invoice.tenant.code}/{invoice.number}.pdf"
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.pdf:  # a concurrent run stored it first
            return "PDF exists"
        locked.pdf.save(name, ContentFile(pdf), save=False)
        locked.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        locked.einvoice_report = report
        locked.save(update_fields=["pdf", "pdf_sha256", "einvoice_report", "updated_at"])
    return f"Factur-X PDF {len(pdf)} bytes"
