"""The invoice jobs and job orders pages: what a job shows, the list's search and filters, and
"Retry the failed orders" (a new MANUAL job, audited)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoicing.models import InvoiceEvent
from jobs.models import InvoiceJob
from tests.console.helpers import (
    CAPTURED,
    DECLINED,
    MISSING,
    OTHER_JOB_ORDER,
    PAGES,
    PAID_BY_INVOICE,
    Console,
    messages_of,
    retry_url,
    rows,
)

pytestmark = pytest.mark.django_db


def test_job_page_shows_every_order_with_status_step_message_and_invoice(
    console: Console, operator: Client
) -> None:
    response = operator.get(PAGES["job page"](console))

    html = response.content.decode()
    for order_id in (DECLINED, PAID_BY_INVOICE, MISSING, CAPTURED):
        assert order_id in html
    assert "Payment capture declined: Card expired" in html
    assert f"Order {MISSING} not found." in html
    assert "Payment capture" in html  # the step the declined order stopped at
    invoice_url = reverse("admin:invoicing_invoice_change", args=[console.invoice.pk])
    assert f'<a href="{invoice_url}">{console.invoice.number}</a>' in html
    assert 'id="retry-failed"' in html
    assert f"?job__id__exact={console.job.pk}" in html  # "all orders" link
    inline = response.context["inline_admin_formsets"][0].formset
    statuses = [form.instance.status for form in inline.forms]
    assert statuses[:2] == ["FAILURE", "FAILURE"]  # failures first


def test_job_page_without_failures_has_no_retry_button(console: Console, operator: Client) -> None:
    response = operator.get(reverse("admin:jobs_invoicejob_change", args=[console.clean_job.pk]))

    assert 'id="retry-failed"' not in response.content.decode()


def test_job_list_shows_counts_and_duration(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["jobs"](console))

    html = response.content.decode()
    assert str(console.job.pk)[:8] in html
    assert "running" in html  # the AUTOMATIC job in progress
    assert re.search(r"\d+\.\d s", html)
    assert rows(response)[0].pk == console.clean_job.pk  # newest first


def test_job_orders_list_filtered_by_job_shows_its_orders(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["job orders"](console) + f"?job__id__exact={console.job.pk}")

    assert sorted(row.order_id for row in rows(response)) == sorted(
        [DECLINED, PAID_BY_INVOICE, MISSING, CAPTURED]
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda c: str(c.job.pk), lambda c: [c.job]),
        (lambda c: MISSING, lambda c: [c.job]),
        (lambda c: OTHER_JOB_ORDER, lambda c: [c.clean_job]),
        (lambda c: c.invoice.number, lambda c: [c.job]),
        (lambda c: str(c.job.pk)[:8], lambda c: []),  # exact ids only, no LIKE
        (lambda c: "nothing-like-this", lambda c: []),
    ],
    ids=["job id", "order id", "order id of another job", "invoice number", "job id prefix", "unknown"],
)
def test_job_list_search_finds_exact_ids(
    console: Console, operator: Client, query: Any, expected: Any
) -> None:
    response = operator.get(PAGES["jobs"](console), {"q": query(console)})

    assert [job.pk for job in rows(response)] == [job.pk for job in expected(console)]


def date_range(start: dt.date, *, days: int) -> dict[str, str]:
    """The parameters of the date filter's links (aware midnights, as DateFieldListFilter sends)."""
    midnight = timezone.make_aware(dt.datetime.combine(start, dt.time()))
    return {"created_at__gte": str(midnight), "created_at__lt": str(midnight + dt.timedelta(days=days))}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda c: {"status__exact": "IN_PROGRESS"}, lambda c: [c.automatic_job]),
        (lambda c: {"status__exact": "DONE"}, lambda c: [c.clean_job, c.job]),
        (lambda c: {"job_type__exact": "AUTOMATIC"}, lambda c: [c.automatic_job]),
        (lambda c: {"job_type__exact": "MANUAL"}, lambda c: [c.clean_job, c.job]),
        (lambda c: {"tenant__id__exact": c.other_tenant.pk}, lambda c: [c.automatic_job]),
        (lambda c: date_range(dt.date(2020, 1, 1), days=31), lambda c: [c.automatic_job]),
        (lambda c: date_range(timezone.localdate(), days=1), lambda c: [c.clean_job, c.job]),
    ],
    ids=[
        "status in progress",
        "status done",
        "type automatic",
        "type manual",
        "tenant",
        "old dates",
        "today",
    ],
)
def test_job_list_filters_select_the_right_jobs(
    console: Console, operator: Client, params: Any, expected: Any
) -> None:
    response = operator.get(PAGES["jobs"](console), params(console))

    assert [job.pk for job in rows(response)] == [job.pk for job in expected(console)]


def test_retry_failed_creates_a_manual_job_of_the_failed_orders(console: Console, operator: Client) -> None:
    with mock.patch("jobs.tasks.start_job.delay") as start:
        response = operator.post(retry_url(console.job))

    retry = InvoiceJob.objects.exclude(
        pk__in=[console.job.pk, console.clean_job.pk, console.automatic_job.pk]
    ).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobs_invoicejob_change", args=[retry.pk])
    assert retry.job_type == InvoiceJob.Type.MANUAL and retry.tenant == console.tenant
    assert retry.requested_by == "admin:operator"
    assert list(retry.orders.order_by("position").values_list("order_id", flat=True)) == [DECLINED, MISSING]
    event = InvoiceEvent.objects.get(type="job_retried")
    assert event.actor == "admin:operator" and event.tenant_id == console.tenant.pk
    assert event.data == {"from_job": str(console.job.pk), "new_job": str(retry.pk), "orders": 2}
    assert any("being retried" in m for m in messages_of(response))
    start.assert_not_called()  # started after commit, which a test transaction never reaches


def test_retry_failed_job_is_started_after_commit(
    console: Console, operator: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        mock.patch("jobs.tasks.start_job.delay") as start,
        django_capture_on_commit_callbacks(execute=True),
    ):
        operator.post(retry_url(console.job))

    retry = InvoiceJob.objects.get(requested_by="admin:operator")
    start.assert_called_once_with(str(retry.pk))


def test_retry_failed_on_a_job_without_failures_only_says_so(console: Console, operator: Client) -> None:
    jobs_before = InvoiceJob.objects.count()

    response = operator.post(retry_url(console.clean_job))

    assert response["Location"] == reverse("admin:jobs_invoicejob_change", args=[console.clean_job.pk])
    assert messages_of(response) == ["This job has no failed orders to retry."]
    assert InvoiceJob.objects.count() == jobs_before
    assert not InvoiceEvent.objects.filter(type="job_retried").exists()


def test_retry_failed_answers_post_only(console: Console, operator: Client) -> None:
    assert operator.get(retry_url(console.job)).status_code == 405
