"""What every step works on: the order in the pipeline, its invoice and its tenant's backends."""

from __future__ import annotations

from typing import Any, Protocol

from core.errors import PermanentError
from integrations.ports import Backends
from integrations.registry import backends_for
from invoicing.models import Invoice
from tenants.models import Tenant


class PipelineOrder(Protocol):
    """The order a step works on, as the pipeline hands it over (jobs.JobOrder is one).

    Declared here, by the steps, so that they need nothing of the pipeline's own model.
    """

    @property
    def pk(self) -> Any: ...  # names the order in the audit trail

    @property
    def order_id(self) -> str: ...

    @property
    def invoice_id(self) -> int | None: ...  # set by validation (invoice_claim's `take`)

    @property
    def invoice(self) -> Invoice | None: ...  # read with the order where the step starts

    @property
    def tenant(self) -> Tenant: ...


def backends_of(job_order: PipelineOrder) -> Backends:
    return backends_for(job_order.tenant)


def invoice_of(job_order: PipelineOrder) -> Invoice:
    if job_order.invoice_id is None:
        raise PermanentError("Internal state error: the order has no invoice draft; validation did not run.")
    # Read with the order when the step started (jobs.services.step_run joins it; Django reads
    # it otherwise), not again: one statement less per step. A step that changes the invoice
    # locks and reads it anew.
    invoice = job_order.invoice or Invoice.objects.get(pk=job_order.invoice_id)
    tenant = job_order.tenant
    if invoice.tenant_id == tenant.pk:
        invoice.tenant = tenant  # read with the order when the step started: not fetched again
    return invoice
