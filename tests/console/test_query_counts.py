"""List pages: the number of queries does not grow with the rows shown."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from oauth2_provider.models import get_application_model

from integrations.models import Configuration, GatewayTransaction, NumberSeries, StoredOrder
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, PaymentCapture
from jobs.models import ApiClient, InvoiceJob, JobOrder
from tenants.models import Tenant
from tests.console.helpers import PAGES, Console, login, rows

pytestmark = pytest.mark.django_db


def more_jobs(c: Console, n: int, tag: str) -> None:
    InvoiceJob.objects.bulk_create(
        InvoiceJob(tenant=c.tenant, job_type="MANUAL", total_count=3, success_count=1, failure_count=1)
        for _ in range(n)
    )


def more_job_orders(c: Console, n: int, tag: str) -> None:
    JobOrder.objects.bulk_create(
        JobOrder(job=c.job, position=100 + i, order_id=f"Q-{tag}-{i}", invoice=c.invoice, status="SUCCESS")
        for i in range(n)
    )


def more_invoices(c: Console, n: int, tag: str) -> None:
    today = timezone.localdate()
    invoices = Invoice.objects.bulk_create(
        Invoice(
            tenant=c.tenant,
            order_id=f"Q-{tag}-{i}",
            status="ISSUED",
            number=f"Q-{tag}-{i}",
            issue_date=today,
            currency="EUR",
            net_total=Decimal("10"),
            tax_total=Decimal("1.9"),
            gross_total=Decimal("11.9"),
            pdf=c.invoice.pdf.name,
        )
        for i in range(n)
    )
    EmailDelivery.objects.bulk_create(
        EmailDelivery(invoice=invoice, kind="invoice", recipient="x@example.com") for invoice in invoices
    )
    more_captures(c, n, tag)


def more_events(c: Console, n: int, tag: str) -> None:
    InvoiceEvent.objects.bulk_create(
        InvoiceEvent(tenant=c.tenant, type="note", invoice=c.invoice, order_id=f"Q-{tag}-{i}", actor="test")
        for i in range(n)
    )


def more_captures(c: Console, n: int, tag: str) -> None:
    PaymentCapture.objects.bulk_create(
        PaymentCapture(
            tenant=c.tenant, order_id=f"Q-{tag}-{i}", idempotency_key=f"q:{tag}:{i}", status="CAPTURED"
        )
        for i in range(n)
    )


def more_deliveries(c: Console, n: int, tag: str) -> None:
    EmailDelivery.objects.bulk_create(
        EmailDelivery(invoice=c.invoice, kind=f"q-{tag}-{i}", recipient="x@example.com") for i in range(n)
    )


def more_stored_orders(c: Console, n: int, tag: str) -> None:
    StoredOrder.objects.bulk_create(
        StoredOrder(tenant=c.tenant, order_id=f"Q-{tag}-{i}", document={"id": f"Q-{tag}-{i}"})
        for i in range(n)
    )


def more_tenants(c: Console, n: int, tag: str) -> list[Tenant]:
    return Tenant.objects.bulk_create(Tenant(code=f"q{tag}x{i}", name=f"Q {i}") for i in range(n))


def more_api_clients(c: Console, n: int, tag: str) -> None:
    Application = get_application_model()
    applications = Application.objects.bulk_create(
        Application(
            name=f"q-{tag}-{i}",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
        for i in range(n)
    )
    ApiClient.objects.bulk_create(
        ApiClient(application=application, tenant=c.tenant, scopes="invoice.invoice_read")
        for application in applications
    )


def more_number_series(c: Console, n: int, tag: str) -> None:
    NumberSeries.objects.bulk_create(NumberSeries(tenant=c.tenant, name=f"q-{tag}-{i}") for i in range(n))


def more_configurations(c: Console, n: int, tag: str) -> None:
    Configuration.objects.bulk_create(
        Configuration(tenant=c.tenant, key=f"q-{tag}-{i}", value={"i": i}) for i in range(n)
    )


def more_gateway_transactions(c: Console, n: int, tag: str) -> None:
    GatewayTransaction.objects.bulk_create(
        GatewayTransaction(
            tenant=c.tenant, transaction_id=f"q-{tag}-{i}", authorized_amount=Decimal("1"), currency="EUR"
        )
        for i in range(n)
    )


def more_periodic_tasks(c: Console, n: int, tag: str) -> None:
    PeriodicTask.objects.bulk_create(
        PeriodicTask(name=f"q-{tag}-{i}", task="x", crontab=c.periodic_task.crontab) for i in range(n)
    )


LIST_ROWS: dict[str, Callable[[Console, int, str], Any]] = {
    "jobs": more_jobs,
    "job orders": more_job_orders,
    "invoices": more_invoices,
    "invoice events": more_events,
    "payment captures": more_captures,
    "email deliveries": more_deliveries,
    "stored orders": more_stored_orders,
    "tenants": more_tenants,
    "api clients": more_api_clients,
    "number series": more_number_series,
    "configurations": more_configurations,
    "gateway transactions": more_gateway_transactions,
    "periodic tasks": more_periodic_tasks,
}


def queries_of(client: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return len(queries), len(rows(response))


@pytest.mark.parametrize("page", list(LIST_ROWS))
def test_list_page_query_count_does_not_grow_with_rows(console: Console, page: str) -> None:
    client = login(console.administrator)
    url = PAGES[page](console)
    n = 5
    LIST_ROWS[page](console, n, "a")
    client.get(url)  # warm caches (content types, site) once

    few, shown_few = queries_of(client, url)
    LIST_ROWS[page](console, 2 * n, "b")
    many, shown_many = queries_of(client, url)

    assert shown_many == shown_few + 2 * n  # all rows on one page both times
    assert many == few, f"{page}: {few} queries with {shown_few} rows, {many} with {shown_many}"


def test_job_page_query_count_does_not_grow_with_orders(console: Console) -> None:
    client = login(console.operator)
    url = PAGES["job page"](console)
    more_job_orders(console, 5, "a")
    client.get(url)

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    more_job_orders(console, 10, "b")
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(many) == len(few)
