"""What the console tests share: the data every page is shown with (built by `console_build`),
the console's URLs and how to read an admin response."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from integrations.models import NumberSeries
from integrations.services import configuration_set
from invoicing.models import Invoice
from jobs.models import ApiClient, InvoiceJob
from jobs.roles import ADMINISTRATORS, OPERATORS
from jobs.schedules import automatic_task_name
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.pipeline import drive

DECLINED = factories.CARD_ORDER  # DEMO-1001, card: the gateway declines its capture
PAID_BY_INVOICE = factories.INVOICE_ORDER  # DEMO-1002: issued, no capture needed
CAPTURED = "DEMO-1003"  # card, captured
MISSING = "NO-SUCH-ORDER"
OTHER_JOB_ORDER = "DEMO-1004"  # the only order of a second job, which has no failures
SETTINGS = {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": ""}


@dataclass
class Console:
    tenant: Tenant
    other_tenant: Tenant  # no issued numbers yet
    job: InvoiceJob  # DECLINED and MISSING failed, PAID_BY_INVOICE and CAPTURED succeeded
    clean_job: InvoiceJob  # OTHER_JOB_ORDER succeeded
    automatic_job: InvoiceJob  # of other_tenant, in progress, created on 2020-01-15
    invoice: Invoice  # PAID_BY_INVOICE's
    captured_invoice: Invoice
    series: NumberSeries  # the tenant's, with a counter
    fresh_series: NumberSeries  # other_tenant's, no counter yet
    api_client: ApiClient
    periodic_task: PeriodicTask
    operator: User
    administrator: User
    superuser: User
    staff_without_role: User


def user_make(username: str, *groups: str, **fields: Any) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True, **fields)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def console_build() -> Console:
    tenant = factories.tenant_make("acme")
    other = factories.tenant_make("globex")
    factories.orders_store(tenant, DECLINED, PAID_BY_INVOICE, CAPTURED, OTHER_JOB_ORDER)
    factories.gateway_decline(tenant, DECLINED)
    job = drive(job_create_manual(tenant=tenant, order_ids=[DECLINED, PAID_BY_INVOICE, MISSING, CAPTURED]))
    assert (job.success_count, job.failure_count) == (2, 2)
    clean_job = drive(job_create_manual(tenant=tenant, order_ids=[OTHER_JOB_ORDER]))
    assert clean_job.success_count == 1
    automatic_job = InvoiceJob.objects.create(tenant=other, job_type=InvoiceJob.Type.AUTOMATIC)
    InvoiceJob.objects.filter(pk=automatic_job.pk).update(
        created_at=dt.datetime(2020, 1, 15, 12, tzinfo=dt.UTC)
    )
    configuration_set(tenant=other, key="invoiceSettings", value=SETTINGS)
    api_client, _secret = factories.api_client_make(tenant)
    return Console(
        tenant=tenant,
        other_tenant=other,
        job=job,
        clean_job=clean_job,
        automatic_job=automatic_job,
        invoice=Invoice.objects.get(tenant=tenant, order_id=PAID_BY_INVOICE),
        captured_invoice=Invoice.objects.get(tenant=tenant, order_id=CAPTURED),
        series=factories.invoice_series(tenant),
        fresh_series=factories.invoice_series(other),
        api_client=api_client,
        periodic_task=PeriodicTask.objects.get(name=automatic_task_name(tenant.code)),
        operator=user_make("operator", OPERATORS),
        administrator=user_make("administrator", ADMINISTRATORS),
        superuser=user_make("root", is_superuser=True),
        staff_without_role=user_make("staff"),
    )


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def rows(response: Any) -> list[Any]:
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


def form_data(response: Any) -> dict[str, Any]:
    """The POST data of an admin change form as shown (what pressing Save unchanged sends)."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.FileField):
            continue
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(field, forms.MultiValueField):
            parts = field.widget.decompress(value) if value else [None] * len(field.fields)
            for index, part in enumerate(parts):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        else:
            data[name] = "" if value is None else value
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


def admin_request(user: User) -> Any:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def has_save_button(response: Any) -> bool:
    return 'name="_save"' in response.content.decode()


PAGES: dict[str, Callable[[Console], str]] = {
    "index": lambda c: reverse("admin:index"),
    "jobs": lambda c: reverse("admin:jobs_invoicejob_changelist"),
    "job orders": lambda c: reverse("admin:jobs_joborder_changelist"),
    "invoices": lambda c: reverse("admin:invoicing_invoice_changelist"),
    "payment captures": lambda c: reverse("admin:invoicing_paymentcapture_changelist"),
    "email deliveries": lambda c: reverse("admin:invoicing_emaildelivery_changelist"),
    "invoice events": lambda c: reverse("admin:invoicing_invoiceevent_changelist"),
    "tenants": lambda c: reverse("admin:tenants_tenant_changelist"),
    "api clients": lambda c: reverse("admin:jobs_apiclient_changelist"),
    "number series": lambda c: reverse("admin:integrations_numberseries_changelist"),
    "stored orders": lambda c: reverse("admin:integrations_storedorder_changelist"),
    "configurations": lambda c: reverse("admin:integrations_configuration_changelist"),
    "gateway transactions": lambda c: reverse("admin:integrations_gatewaytransaction_changelist"),
    "periodic tasks": lambda c: reverse("admin:django_celery_beat_periodictask_changelist"),
    "job page": lambda c: reverse("admin:jobs_invoicejob_change", args=[c.job.pk]),
    "invoice page": lambda c: reverse("admin:invoicing_invoice_change", args=[c.invoice.pk]),
    "tenant page": lambda c: reverse("admin:tenants_tenant_change", args=[c.tenant.pk]),
    "number series page": lambda c: reverse("admin:integrations_numberseries_change", args=[c.series.pk]),
    "api client page": lambda c: reverse("admin:jobs_apiclient_change", args=[c.api_client.pk]),
    "periodic task page": lambda c: reverse(
        "admin:django_celery_beat_periodictask_change", args=[c.periodic_task.pk]
    ),
    "invoice pdf": lambda c: reverse("admin:invoicing_invoice_pdf", args=[c.invoice.pk]),
    "invoice pdf download": lambda c: (
        reverse("admin:invoicing_invoice_pdf", args=[c.invoice.pk]) + "?download=1"
    ),
}


def retry_url(job: InvoiceJob) -> str:
    return reverse("admin:jobs_invoicejob_retry_failed", args=[job.pk])


def resend_url(invoice: Invoice) -> str:
    return reverse("admin:invoicing_invoice_resend", args=[invoice.pk])


def run_automatic_url(tenant: Tenant) -> str:
    return reverse("admin:tenants_tenant_run_automatic", args=[tenant.pk])
