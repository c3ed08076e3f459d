"""AUTOMATIC runs that learn: orders that failed wait, instead of failing again in every run.

- A permanent failure (a declined capture, invalid data) waits until the order changes (its
  fingerprint, integrations.ports.order_fingerprint) or an operator retries it.
- A transient failure (retries ran out) is taken again after a delay that doubles with every
  failed run (RETRY_BASE_DELAY, then 2x, 4x …); after INVOICE_AUTOMATIC_MAX_ATTEMPTS failed runs
  it waits like a permanent one.

The console lists the waiting orders as "needs attention" (console.admin.jobs.OrderAttentionAdmin).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from invoicing import events
from invoicing.models import Invoice
from jobs.models import AutomaticOrderPick, InvoiceJob, JobOrder, OrderAttention
from tenants.models import Tenant

# The first delay after a transient failure; each further failed run doubles it.
RETRY_BASE_DELAY = dt.timedelta(hours=1)
_UNKNOWN = object()


# --- selectors --------------------------------------------------------------------------------
def waiting_now(now: dt.datetime) -> Q:
    """OrderAttention rows whose order a run must not take yet, if the order is unchanged."""
    return Q(next_attempt_after__isnull=True) | Q(next_attempt_after__gt=now)


def order_attention_waiting_exists(*, fingerprint: Any, now: dt.datetime) -> Exists:
    """For a search over stored orders: EXISTS an attention row that holds the outer order back.

    `fingerprint` is an expression of the outer row's fingerprint; a NULL one (unknown) never
    equals, so such an order is taken. Uses the (tenant, order_id) unique index.
    """
    return Exists(
        OrderAttention.objects.filter(
            waiting_now(now),
            tenant=OuterRef("tenant"),
            order_id=OuterRef("order_id"),
            order_fingerprint=fingerprint,
        )
    )


def order_attention_waiting(
    *, tenant_id: int, fingerprints: Mapping[str, Any], order_ids: Iterable[str], now: dt.datetime
) -> set[str]:
    """Which of these orders wait: unchanged since they failed, and not due for another try.

    An order without a fingerprint from the search counts as unchanged.
    """
    ids = list(order_ids)
    if not ids:
        return set()
    rows = (
        OrderAttention.objects.filter(waiting_now(now), tenant_id=tenant_id, order_id__in=ids)
        .order_by()
        .values_list("order_id", "order_fingerprint")
    )
    waiting = set()
    for order_id, recorded in rows:
        seen = fingerprints.get(order_id, _UNKNOWN)
        if recorded is not None and (seen is _UNKNOWN or seen == recorded):
            waiting.add(order_id)
    return waiting


# --- services ---------------------------------------------------------------------------------
def automatic_picks_record(*, job_orders: Iterable[JobOrder], fingerprints: Mapping[str, Any]) -> None:
    """Remember how the search found each order (inside the transaction that adds them)."""
    AutomaticOrderPick.objects.bulk_create(
        [AutomaticOrderPick(job_order=row, fingerprint=fingerprints.get(row.order_id)) for row in job_orders],
        ignore_conflicts=True,
    )


def _failed_transiently(job_order: JobOrder) -> bool:
    # A step is retried only for transient faults (core.retrying), so a failure on a later
    # attempt of its step means the retries ran out. A permanent fault on the first attempt
    # (a decline, invalid data) or a time limit (not retried) fails on attempt 1.
    return job_order.attempts > 1


def order_attention_record(
    *, job_order: JobOrder, transient: bool | None = None, now: dt.datetime | None = None
) -> OrderAttention | None:
    """Learn from a finished job order. Call it where the order is finished, in that transaction.

    SUCCESS clears the order's row. FAILURE in an AUTOMATIC job records or updates it (a MANUAL
    job is an operator's own try, and an order that failed after its number was issued is
    re-run in place, never searched again). `transient`: how it failed, when the caller knows;
    otherwise told from the step's attempts. Returns the row written, if any.
    """
    # the job (read with the order by job_order_finish); picks exist only for AUTOMATIC jobs, so
    # a MANUAL order (the hot path of every finished order) costs, on success, one DELETE
    tenant_id, job_type = job_order.job.tenant_id, job_order.job.job_type
    automatic = job_type == InvoiceJob.Type.AUTOMATIC
    pick = AutomaticOrderPick.objects.filter(job_order_id=job_order.pk).first() if automatic else None
    if pick is not None:
        pick.delete()
    if job_order.status == JobOrder.Status.SUCCESS:
        OrderAttention.objects.filter(tenant_id=tenant_id, order_id=job_order.order_id).delete()
        return None
    if job_order.status != JobOrder.Status.FAILURE or not automatic:
        return None
    if (
        job_order.invoice_id
        and Invoice.objects.filter(pk=job_order.invoice_id, status=Invoice.Status.ISSUED).exists()
    ):
        return None
    now = now or timezone.now()
    fingerprint = pick.fingerprint if pick is not None else None
    is_transient = _failed_transiently(job_order) if transient is None else transient
    with transaction.atomic():
        row = (
            OrderAttention.objects.select_for_update()
            .filter(tenant_id=tenant_id, order_id=job_order.order_id)
            .first()
        )
        # a changed order starts counting again: its earlier failures were of another order
        attempts = row.attempts + 1 if row is not None and row.order_fingerprint == fingerprint else 1
        if is_transient and attempts < settings.INVOICE_AUTOMATIC_MAX_ATTEMPTS:
            next_attempt_after: dt.datetime | None = now + RETRY_BASE_DELAY * 2 ** (attempts - 1)
        else:
            next_attempt_after = None
        values = {
            "kind": OrderAttention.Kind.TRANSIENT if is_transient else OrderAttention.Kind.PERMANENT,
            "reason": job_order.message,
            "attempts": attempts,
            "next_attempt_after": next_attempt_after,
            "order_fingerprint": fingerprint,
            "last_job_order": job_order,
        }
        if row is None:
            return OrderAttention.objects.create(tenant_id=tenant_id, order_id=job_order.order_id, **values)
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
        return row


def order_attention_clear(*, tenant: Tenant, order_ids: Iterable[str]) -> int:
    """Forget the failures of these orders: the next AUTOMATIC run takes them again."""
    deleted, _ = OrderAttention.objects.filter(tenant=tenant, order_id__in=list(order_ids)).delete()
    return deleted


def order_attention_retry(*, rows: Iterable[OrderAttention], actor: str) -> list[InvoiceJob]:
    """Retry now: clear the rows and start a MANUAL job per tenant with their orders. Audited."""
    from jobs.services import job_create_manual

    by_tenant: dict[int, list[OrderAttention]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    jobs: list[InvoiceJob] = []
    for tenant_id, tenant_rows in by_tenant.items():
        order_ids = [row.order_id for row in tenant_rows]
        with transaction.atomic():
            tenant = Tenant.objects.get(pk=tenant_id)
            order_attention_clear(tenant=tenant, order_ids=order_ids)
            job = job_create_manual(tenant=tenant, order_ids=order_ids, requested_by=actor)
            events.attention_retried(tenant_id=tenant_id, new_job=job.pk, order_ids=order_ids, actor=actor)
        jobs.append(job)
    return jobs
