"""AUTOMATIC jobs: the tenant's invoiceSettings find the orders, page by page.

invoiceSettings has the Emporix Configuration shape and meaning:
    {"threshold": "24", "status": "CREATED,CONFIRMED", "extendedOrderStatus": "70,75,76"}
threshold: hours after the delivery date; status / extendedOrderStatus: comma-separated lists
(an empty extendedOrderStatus means any). An order is eligible when its status and extended
status are listed, its delivery date (the tenant's chosen field) is at least `threshold` hours
past, it is not invoiced and no other job holds it.

The query (with the cutoff moment) is fixed when the job is created and stored on it; the
resolution task pages through the orders from a cursor stored on the job, so a redelivered
task carries on where the last one stopped. Orders are added to the job (and sent into the
pipeline) page by page, so an API client sees them appear while the search goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError
from integrations.ports import OrderQuery
from integrations.registry import backends_for
from invoicing import events
from invoicing.models import Invoice
from jobs.attention import automatic_picks_record, order_attention_waiting, order_attention_waiting_exists
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_done_if_complete
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SETTINGS_KEY = "invoiceSettings"
ORDER_STATUSES = ("IN_CHECKOUT", "CREATED", "CONFIRMED", "SHIPPED", "COMPLETED", "DECLINED")


class InvoiceSettingsError(DomainError, ValueError):
    """The settings are missing or malformed; `errors` say what, field by field.

    Reaching a view (an AUTOMATIC job, PUT of the settings): 400 with the fields.
    """

    http_status = 400

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, errors=errors)


@dataclass(frozen=True)
class InvoiceSettings:
    threshold_hours: int
    statuses: tuple[str, ...]
    extended_statuses: tuple[str, ...]


def _csv(value: object) -> tuple[str, ...]:
    items = [str(v) for v in value] if isinstance(value, list) else str(value or "").split(",")
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def invoice_settings_parse(value: object) -> InvoiceSettings:
    """Read an invoiceSettings value; raise InvoiceSettingsError naming every problem."""
    if isinstance(value, str):  # the Configuration service may hold objects as JSON strings
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise InvoiceSettingsError("invoiceSettings is not a JSON object.") from None
    if not isinstance(value, dict):
        raise InvoiceSettingsError(
            "invoiceSettings must be an object with threshold, status and extendedOrderStatus."
        )
    errors: list[dict[str, str]] = []
    threshold_text = str(value.get("threshold", "")).strip().lower().removesuffix("h").strip()
    if not re.fullmatch(r"\d{1,5}", threshold_text):
        errors.append({"field": "threshold", "message": 'must be a whole number of hours, e.g. "24"'})
    statuses = _csv(value.get("status"))
    unknown = [s for s in statuses if s not in ORDER_STATUSES]
    if not statuses:
        errors.append(
            {"field": "status", "message": 'must list at least one order status, e.g. "CONFIRMED,SHIPPED"'}
        )
    elif unknown:
        errors.append(
            {
                "field": "status",
                "message": f"unknown order status {', '.join(unknown)}; known: {', '.join(ORDER_STATUSES)}",
            }
        )
    extended = _csv(value.get("extendedOrderStatus"))
    if any(len(s) > 20 for s in extended):
        errors.append({"field": "extendedOrderStatus", "message": "values are short codes such as 70,75,76"})
    if errors:
        raise InvoiceSettingsError(
            "invoiceSettings is malformed: " + "; ".join(f"{e['field']} {e['message']}" for e in errors),
            errors,
        )
    return InvoiceSettings(threshold_hours=int(threshold_text), statuses=statuses, extended_statuses=extended)


def invoice_settings_for(tenant: Tenant) -> InvoiceSettings:
    value = backends_for(tenant).configuration.get_configuration(SETTINGS_KEY)
    if value is None:
        raise InvoiceSettingsError(
            f"Automatic jobs are not configured for tenant '{tenant.code}': it has no invoiceSettings "
            '(e.g. {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": "70,75,76"}).'
        )
    return invoice_settings_parse(value)


def order_query_for(tenant: Tenant, invoice_settings: InvoiceSettings, *, now: dt.datetime) -> OrderQuery:
    return OrderQuery(
        statuses=invoice_settings.statuses,
        extended_statuses=invoice_settings.extended_statuses,
        delivered_by=now - dt.timedelta(hours=invoice_settings.threshold_hours),
        delivery_field=tenant.delivery_date_source,
        time_zone=tenant.time_zone or "UTC",
        held_back=order_attention_waiting_exists,
    )


def _query_to_json(query: OrderQuery) -> dict[str, Any]:
    data = dataclasses.asdict(query)
    data["delivered_by"] = query.delivered_by.isoformat()
    del data["held_back"]  # code, not data: given again when the query is read back
    return data


def _query_from_json(data: dict[str, Any]) -> OrderQuery:
    return OrderQuery(
        statuses=tuple(data["statuses"]),
        extended_statuses=tuple(data["extended_statuses"]),
        delivered_by=dt.datetime.fromisoformat(data["delivered_by"]),
        delivery_field=data["delivery_field"],
        time_zone=data["time_zone"],
        held_back=order_attention_waiting_exists,
    )


# --- creating ------------------------------------------------------------------------------------
def job_create_automatic(
    *, tenant: Tenant, requested_by: str = "", now: dt.datetime | None = None
) -> InvoiceJob:
    """Check the settings (InvoiceSettingsError), create the job, find its orders after commit."""
    query = order_query_for(tenant, invoice_settings_for(tenant), now=now or timezone.now())
    return _job_create(tenant=tenant, query=query, requested_by=requested_by)


def _job_create(*, tenant: Tenant, query: OrderQuery, requested_by: str) -> InvoiceJob:
    from jobs.tasks import resolve_automatic_job

    with transaction.atomic():
        job = InvoiceJob.objects.create(
            tenant=tenant,
            job_type=InvoiceJob.Type.AUTOMATIC,
            requested_by=requested_by,
            resolving=True,
            query=_query_to_json(query),
        )
        job_id = str(job.pk)
        transaction.on_commit(lambda: resolve_automatic_job.delay(job_id), robust=True)
    return job


def automatic_run_scheduled(*, tenant_code: str, requested_by: str = "schedule") -> InvoiceJob | None:
    """A scheduled (or on-demand) run: skipped, and recorded, while the last one is in progress."""
    tenant = Tenant.objects.filter(code=tenant_code, active=True).first()
    if tenant is None:
        logger.warning("automatic run for unknown or inactive tenant %s", tenant_code)
        return None
    try:
        # read before any lock is taken (for Emporix tenants an HTTP call), and the failure
        # recorded outside any transaction, so that it is not rolled back with it
        query = order_query_for(tenant, invoice_settings_for(tenant), now=timezone.now())
    except InvoiceSettingsError as exc:
        events.automatic_run_failed(tenant=tenant, reason=exc.message, actor=requested_by)
        raise
    with transaction.atomic():
        # the tenant row is the lock: two runs at once (beat and a manual one) see each other
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        running = (
            InvoiceJob.objects.filter(
                tenant=tenant, job_type=InvoiceJob.Type.AUTOMATIC, status=InvoiceJob.Status.IN_PROGRESS
            )
            .order_by("created_at")
            .first()
        )
        if running is not None:
            events.automatic_run_skipped(tenant=tenant, running_job=running.pk, actor=requested_by)
            return None
        return _job_create(tenant=tenant, query=query, requested_by=requested_by)


def automatic_run_now(*, tenant: Tenant, actor: str) -> InvoiceJob | None:
    """An operator's "Run now": audited as asked for, then a run like a scheduled one."""
    events.automatic_run_requested(tenant=tenant, actor=actor)
    return automatic_run_scheduled(tenant_code=tenant.code, requested_by=actor)


# --- finding the orders -------------------------------------------------------------------------------
def automatic_job_resolve(*, job_id: str, page_size: int | None = None) -> int:
    """Page through the job's orders from its cursor; returns how many orders were added."""
    size = page_size or settings.INVOICE_AUTOMATIC_PAGE_SIZE
    job = InvoiceJob.objects.select_related("tenant").get(pk=job_id)
    if not job.resolving:
        return 0
    query = _query_from_json(job.query or {})
    source = backends_for(job.tenant).orders
    added_total = 0
    while True:
        page = source.find_orders(query, cursor=job.resolution_cursor, page_size=size)  # I/O, no lock held
        with transaction.atomic():
            locked = InvoiceJob.objects.select_for_update().get(pk=job.pk)
            if not locked.resolving or locked.resolution_cursor != job.resolution_cursor:
                return added_total  # another delivery of this task got here first
            now = timezone.now()
            new_ids = _eligible(locked, page.order_ids, fingerprints=page.fingerprints, now=now)
            created = JobOrder.objects.bulk_create(
                JobOrder(job=locked, position=locked.total_count + i, order_id=order_id, step_started_at=now)
                for i, order_id in enumerate(new_ids)
            )
            automatic_picks_record(job_orders=created, fingerprints=page.fingerprints)
            locked.total_count = F("total_count") + len(created)
            locked.resolution_cursor = page.cursor
            locked.resolving = page.cursor is not None
            locked.save(update_fields=["total_count", "resolution_cursor", "resolving"])
            if not locked.resolving:
                job_done_if_complete(job_pk=locked.pk)
            transaction.on_commit(partial(_dispatch, [row.pk for row in created]), robust=True)
        added_total += len(created)
        job.resolution_cursor = page.cursor
        if page.cursor is None:
            logger.info("AUTOMATIC job %s: %d order(s) found", job.pk, added_total)
            return added_total


def _dispatch(job_order_ids: list[int]) -> None:
    from jobs.pipeline import step_enqueue

    for job_order_id in job_order_ids:
        step_enqueue(job_order_id=job_order_id, step=JobOrder.Step.VALIDATE)


def _eligible(
    job: InvoiceJob, order_ids: tuple[str, ...], *, fingerprints: Mapping[str, Any], now: dt.datetime
) -> list[str]:
    """Drop orders already in this job, invoiced by us, held by another unfinished job, or
    waiting after a failure in an earlier run (unchanged since, and not due again)."""
    if not order_ids:
        return []
    # .order_by() everywhere: the default ordering would add a sort (and, before, a join)
    taken = set(
        JobOrder.objects.filter(job=job, order_id__in=order_ids).order_by().values_list("order_id", flat=True)
    )
    taken |= set(
        Invoice.objects.filter(tenant=job.tenant_id, order_id__in=order_ids, status=Invoice.Status.ISSUED)
        .order_by()
        .values_list("order_id", flat=True)
    )
    taken |= set(
        JobOrder.objects.filter(
            job__tenant=job.tenant_id, order_id__in=order_ids, status=JobOrder.Status.PENDING
        )
        .exclude(job=job)
        .order_by()
        .values_list("order_id", flat=True)
    )
    taken |= order_attention_waiting(
        tenant_id=job.tenant_id, fingerprints=fingerprints, order_ids=set(order_ids) - taken, now=now
    )
    return [order_id for order_id in dict.fromkeys(order_ids) if order_id not in taken]


def automatic_job_give_up(*, job_id: str, reason: str) -> None:
    """The search failed for good: the job keeps what it found and says why in the event log."""
    with transaction.atomic():
        job = InvoiceJob.objects.select_for_update().filter(pk=job_id, resolving=True).first()
        if job is None:
            return
        job.resolving = False
        job.save(update_fields=["resolving"])
        events.automatic_resolution_failed(
            tenant_id=job.tenant_id, job_id=job.pk, reason=reason, cursor=job.resolution_cursor
        )
        job_done_if_complete(job_pk=job.pk)
