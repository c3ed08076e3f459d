"""Reads for the API: a tenant's jobs and their orders (download links: invoicing.downloads)."""

from __future__ import annotations

from jobs.models import InvoiceJob, JobOrder
from tenants.models import Tenant


def job_for_tenant(*, tenant: Tenant, job_id: str) -> InvoiceJob | None:
    return InvoiceJob.objects.filter(tenant=tenant, pk=job_id).first()


def job_orders_with_invoices(job: InvoiceJob) -> list[JobOrder]:
    return list(
        JobOrder.objects.filter(job=job)
        .select_related("invoice")
        .only(
            "order_id",
            "status",
            "message",
            "position",
            "invoice__number",
            "invoice__pdf",
            "invoice__tenant_id",
        )
        .order_by("position")
    )
