"""A job is DONE once its last order is counted, also when its last orders finish at once."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from jobs import services
from jobs.models import InvoiceJob, JobOrder
from jobs.services import job_create_manual, job_order_finish
from tests import factories


@pytest.mark.django_db(transaction=True)
def test_the_last_two_orders_finishing_at_once_count_both_and_make_the_job_done():
    tenant = factories.tenant_make("racing")
    factories.orders_store(tenant, factories.CARD_ORDER, factories.INVOICE_ORDER)
    job = job_create_manual(tenant=tenant, order_ids=[factories.CARD_ORDER, factories.INVOICE_ORDER])
    first, second = JobOrder.objects.filter(job=job).order_by("position")

    # both inside their transactions before either counts itself on the job
    both_inside = threading.Barrier(2, timeout=20)
    record = services.order_attention_record

    def record_then_wait(**kwargs: Any) -> Any:
        result = record(**kwargs)
        both_inside.wait()
        return result

    errors: list[BaseException] = []

    def finish(row: JobOrder, status: str) -> None:
        try:
            job_order_finish(job_order_id=row.pk, status=status, message=status.lower())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    with mock.patch.object(services, "order_attention_record", record_then_wait):
        threads = [
            threading.Thread(target=finish, args=(first, JobOrder.Status.SUCCESS)),
            threading.Thread(target=finish, args=(second, JobOrder.Status.FAILURE)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    job = InvoiceJob.objects.get(pk=job.pk)
    assert (job.success_count, job.failure_count) == (1, 1)
    assert job.status == InvoiceJob.Status.DONE and job.finished_at is not None


@pytest.mark.django_db
def test_a_job_with_orders_left_stays_in_progress(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER, factories.INVOICE_ORDER)
    job = job_create_manual(tenant=tenant, order_ids=[factories.CARD_ORDER, factories.INVOICE_ORDER])
    first = JobOrder.objects.filter(job=job).order_by("position").first()
    assert first is not None

    job_order_finish(job_order_id=first.pk, status=JobOrder.Status.SUCCESS, message="ok")

    job.refresh_from_db()
    assert (job.success_count, job.failure_count, job.status) == (1, 0, InvoiceJob.Status.IN_PROGRESS)
    assert job.finished_at is None
