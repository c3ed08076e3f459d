"""The operations console (Django admin): every page, the two roles, the audited actions, list costs.

The data (a tenant, a job in which one order is declined and one does not exist, issued invoices
with PDFs and email deliveries) is built once for the module inside an outer transaction that is
rolled back at the end; every test runs in a savepoint of it, so the tests stay independent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django import forms
from django.contrib.admin.sites import site
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from oauth2_provider.models import get_access_token_model, get_application_model

from integrations.models import Configuration, GatewayTransaction, NumberSeries, StoredOrder
from integrations.services import configuration_set
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, PaymentCapture, Tenant
from invoicing.tasks import send_email_delivery
from jobs.models import ApiClient, InvoiceJob, JobOrder
from jobs.roles import ADMINISTRATORS, OPERATORS
from jobs.schedules import automatic_task_name
from jobs.services import job_create_manual
from tests import factories
from tests.conftest import drive

pytestmark = pytest.mark.django_db

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
        series=NumberSeries.objects.get(tenant=tenant),
        fresh_series=NumberSeries.objects.get(tenant=other),
        api_client=api_client,
        periodic_task=PeriodicTask.objects.get(name=automatic_task_name(tenant.code)),
        operator=user_make("operator", OPERATORS),
        administrator=user_make("administrator", ADMINISTRATORS),
        superuser=user_make("root", is_superuser=True),
        staff_without_role=user_make("staff"),
    )


@pytest.fixture(scope="module")
def console_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Console]:
    """Built once; each test's own transaction is a savepoint inside this one."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield console_build()
        transaction.set_rollback(True)


@pytest.fixture
def console(console_data: Console, db: Any) -> Console:
    for name in (
        "job",
        "clean_job",
        "automatic_job",
        "invoice",
        "captured_invoice",
        "series",
        "fresh_series",
    ):
        getattr(console_data, name).refresh_from_db()
    return console_data


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(console: Console) -> Client:
    return login(console.operator)


@pytest.fixture
def administrator(console: Console) -> Client:
    return login(console.administrator)


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
        elif isinstance(field, forms.JSONField):
            data[name] = field.prepare_value(value)
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


# --- 2. every page ---------------------------------------------------------------------------------
PAGES: dict[str, Callable[[Console], str]] = {
    "index": lambda c: reverse("admin:index"),
    "jobs": lambda c: reverse("admin:jobs_invoicejob_changelist"),
    "job orders": lambda c: reverse("admin:jobs_joborder_changelist"),
    "invoices": lambda c: reverse("admin:invoicing_invoice_changelist"),
    "payment captures": lambda c: reverse("admin:invoicing_paymentcapture_changelist"),
    "email deliveries": lambda c: reverse("admin:invoicing_emaildelivery_changelist"),
    "invoice events": lambda c: reverse("admin:invoicing_invoiceevent_changelist"),
    "tenants": lambda c: reverse("admin:invoicing_tenant_changelist"),
    "api clients": lambda c: reverse("admin:jobs_apiclient_changelist"),
    "number series": lambda c: reverse("admin:integrations_numberseries_changelist"),
    "stored orders": lambda c: reverse("admin:integrations_storedorder_changelist"),
    "configurations": lambda c: reverse("admin:integrations_configuration_changelist"),
    "gateway transactions": lambda c: reverse("admin:integrations_gatewaytransaction_changelist"),
    "periodic tasks": lambda c: reverse("admin:django_celery_beat_periodictask_changelist"),
    "job page": lambda c: reverse("admin:jobs_invoicejob_change", args=[c.job.pk]),
    "invoice page": lambda c: reverse("admin:invoicing_invoice_change", args=[c.invoice.pk]),
    "tenant page": lambda c: reverse("admin:invoicing_tenant_change", args=[c.tenant.pk]),
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


@pytest.mark.parametrize("role", ["operator", "administrator"])
@pytest.mark.parametrize("page", list(PAGES))
def test_console_page_answers_200_for_each_role(console: Console, page: str, role: str) -> None:
    response = login(getattr(console, role)).get(PAGES[page](console))

    assert response.status_code == 200, (page, role, response.status_code)
    if page.startswith("invoice pdf"):
        body = response.getvalue()  # consuming it closes the response
        assert body.startswith(b"%PDF")


@pytest.mark.parametrize("page", list(PAGES))
def test_console_page_redirects_anonymous_to_login(console: Console, page: str) -> None:
    url = PAGES[page](console)

    response = Client().get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=")


@pytest.mark.parametrize("page", ["jobs", "invoices", "tenant page", "invoice pdf"])
def test_console_page_refused_for_staff_without_a_role(console: Console, page: str) -> None:
    response = login(console.staff_without_role).get(PAGES[page](console))

    assert response.status_code == 403


def test_invoice_pdf_inline_and_download(console: Console, operator: Client) -> None:
    url = reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk])
    stored = console.invoice.pdf.open("rb").read()
    console.invoice.pdf.close()

    inline = operator.get(url)
    download = operator.get(url + "?download=1")

    for response in (inline, download):
        assert response["Content-Type"] == "application/pdf"
        assert response.getvalue() == stored
    filename = f'filename="invoice-{console.invoice.number}.pdf"'
    assert inline["Content-Disposition"] == f"inline; {filename}"
    assert download["Content-Disposition"] == f"attachment; {filename}"


def test_invoice_pdf_of_a_draft_is_not_found(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)
    assert draft.status == Invoice.Status.DRAFT

    response = operator.get(reverse("admin:invoicing_invoice_pdf", args=[draft.pk]))

    assert response.status_code == 404


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


def test_invoice_page_shows_figures_pdf_and_buttons(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["invoice page"](console))

    html = response.content.decode()
    pdf_url = reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk])
    assert re.search(rf'<iframe id="invoice-pdf"[^>]*src="{re.escape(pdf_url)}"', html)
    assert f'href="{pdf_url}?download=1" id="download-pdf"' in html
    assert 'id="resend-email"' in html
    for value in (console.invoice.number, console.invoice.customer_name, "EUR", "not needed", "sent"):
        assert value in html
    assert not has_save_button(response)


def test_invoice_list_shows_capture_and_email_status(console: Console, operator: Client) -> None:
    response = operator.get(PAGES["invoices"](console) + "?status__exact=ISSUED")

    html = response.content.decode()
    by_number = {row.number: row for row in rows(response)}
    assert set(by_number) >= {console.invoice.number, console.captured_invoice.number}
    assert by_number[console.captured_invoice.number].capture_status == "CAPTURED"
    assert by_number[console.invoice.number].email_status == "SENT"
    assert "captured" in html and "not needed" in html


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


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda c: c.invoice.number, lambda c: [c.invoice]),
        (lambda c: CAPTURED, lambda c: [c.captured_invoice]),
        (lambda c: c.invoice.customer_email, lambda c: [c.invoice]),
        (lambda c: "INV", lambda c: []),
    ],
    ids=["number", "order id", "customer email", "partial number"],
)
def test_invoice_list_search_finds_exact_values(
    console: Console, operator: Client, query: Any, expected: Any
) -> None:
    response = operator.get(PAGES["invoices"](console), {"q": query(console)})

    assert [invoice.pk for invoice in rows(response)] == [invoice.pk for invoice in expected(console)]


def test_invoice_list_filters_by_status_and_tenant(console: Console, operator: Client) -> None:
    drafts = operator.get(PAGES["invoices"](console), {"status__exact": "DRAFT"})
    other = operator.get(PAGES["invoices"](console), {"tenant__id__exact": console.other_tenant.pk})

    assert [invoice.order_id for invoice in rows(drafts)] == [DECLINED]
    assert rows(other) == []


# --- 3. what only administrators may change ------------------------------------------------------------
ADMIN_ONLY_PAGES = ["tenant page", "number series page", "periodic task page"]


@pytest.mark.parametrize("page", ADMIN_ONLY_PAGES)
def test_admin_only_change_page_is_read_only_for_operators(console: Console, page: str) -> None:
    url = PAGES[page](console)
    data = form_data(login(console.administrator).get(url))
    operator = login(console.operator)

    shown = operator.get(url)
    posted = operator.post(url, data)

    assert shown.status_code == 200 and not has_save_button(shown)
    assert posted.status_code == 403


@pytest.mark.parametrize("page", ADMIN_ONLY_PAGES)
def test_admin_only_change_page_is_editable_for_administrators(
    console: Console, administrator: Client, page: str
) -> None:
    response = administrator.get(PAGES[page](console))

    assert has_save_button(response)


def test_api_client_add_refused_for_operators(console: Console, operator: Client) -> None:
    url = reverse("admin:jobs_apiclient_add")

    shown = operator.get(url)
    posted = operator.post(url, {"tenant": console.tenant.pk, "scopes": "invoice.invoice_read"})

    assert shown.status_code == 403 and posted.status_code == 403
    assert ApiClient.objects.count() == 1


def test_tenant_change_by_operator_changes_nothing(console: Console) -> None:
    url = PAGES["tenant page"](console)
    data = {**form_data(login(console.administrator).get(url)), "name": "Hijacked"}

    response = login(console.operator).post(url, data)

    assert response.status_code == 403
    assert Tenant.objects.get(pk=console.tenant.pk).name == "Acme Shop"


def test_tenant_change_by_administrator_saves_and_uploads_a_logo(
    console: Console, administrator: Client
) -> None:
    url = PAGES["tenant page"](console)
    data = {
        **form_data(administrator.get(url)),
        "name": "Acme Renamed",
        "logo": SimpleUploadedFile("logo.jpg", factories.DEMO_LOGO_BYTES, content_type="image/jpeg"),
    }

    response = administrator.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant = Tenant.objects.get(pk=console.tenant.pk)
    assert tenant.name == "Acme Renamed" and tenant.code == "acme"
    assert tenant.logo.read() == factories.DEMO_LOGO_BYTES
    tenant.logo.close()
    preview = reverse("admin:invoicing_tenant_logo", args=[tenant.pk])
    assert f'<img src="{preview}"' in administrator.get(url).content.decode()


def test_periodic_task_change_by_administrator_saves(console: Console, administrator: Client) -> None:
    url = PAGES["periodic task page"](console)
    data = {**form_data(administrator.get(url)), "enabled": "on"}

    response = administrator.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is True


def test_periodic_task_change_by_operator_is_refused(console: Console, operator: Client) -> None:
    url = PAGES["periodic task page"](console)
    data = {**form_data(login(console.administrator).get(url)), "enabled": "on"}

    response = operator.post(url, data)

    assert response.status_code == 403
    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is False


def test_periodic_task_actions_refused_for_operators(console: Console, operator: Client) -> None:
    operator.post(
        PAGES["periodic tasks"](console),
        {"action": "enable_tasks", "_selected_action": [console.periodic_task.pk], "index": 0},
    )

    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is False


@pytest.mark.parametrize("user", ["operator", "administrator", "superuser"])
def test_issued_invoice_cannot_be_edited_or_deleted_by_anyone(console: Console, user: str) -> None:
    person = getattr(console, user)
    request = admin_request(person)
    invoice_admin = site.get_model_admin(Invoice)
    client = login(person)
    change_url = PAGES["invoice page"](console)

    deleted = client.post(
        reverse("admin:invoicing_invoice_delete", args=[console.invoice.pk]), {"post": "yes"}
    )
    changed = client.post(change_url, {"number": "HACKED", "customer_name": "Nobody"})
    added = client.get(reverse("admin:invoicing_invoice_add"))
    bulk = client.post(
        PAGES["invoices"](console),
        {"action": "delete_selected", "_selected_action": [console.invoice.pk], "post": "yes", "index": 0},
    )

    assert not invoice_admin.has_delete_permission(request, console.invoice)
    assert not invoice_admin.has_change_permission(request, console.invoice)
    assert not invoice_admin.has_add_permission(request)
    assert deleted.status_code == 403 and changed.status_code == 403 and added.status_code == 403
    assert "delete_selected" not in invoice_admin.get_actions(request)
    assert bulk.status_code in (200, 302)
    assert not has_save_button(client.get(change_url))
    invoice = Invoice.objects.get(pk=console.invoice.pk)
    assert (invoice.number, invoice.customer_name) == (console.invoice.number, console.invoice.customer_name)


@pytest.mark.parametrize("model", [InvoiceJob, JobOrder, InvoiceEvent, PaymentCapture, EmailDelivery])
def test_records_are_read_only_even_for_a_superuser(console: Console, model: type) -> None:
    request = admin_request(console.superuser)
    model_admin = site.get_model_admin(model)

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_tenant_cannot_be_deleted(console: Console) -> None:
    response = login(console.superuser).post(
        reverse("admin:invoicing_tenant_delete", args=[console.tenant.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Tenant.objects.filter(pk=console.tenant.pk).exists()


# --- 4. actions, audited ------------------------------------------------------------------------------
def retry_url(job: InvoiceJob) -> str:
    return reverse("admin:jobs_invoicejob_retry_failed", args=[job.pk])


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


def resend_url(invoice: Invoice) -> str:
    return reverse("admin:invoicing_invoice_resend", args=[invoice.pk])


def test_resend_email_sends_the_stored_pdf_as_a_new_delivery(
    console: Console, operator: Client, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = console.invoice
    pdf_name, pdf_sha = invoice.pdf.name, invoice.pdf_sha256
    stored = invoice.pdf.open("rb").read()
    invoice.pdf.close()

    with (
        mock.patch.object(send_email_delivery, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = operator.post(resend_url(invoice))
    delivery = EmailDelivery.objects.get(invoice=invoice, kind="resend-1")
    delay.assert_called_once_with(delivery.pk)
    assert send_email_delivery.apply(args=[delivery.pk]).get() == f"emailed to {invoice.customer_email}"

    assert response["Location"] == reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    assert any("being sent again" in m for m in messages_of(response))
    delivery.refresh_from_db()
    assert delivery.status == EmailDelivery.Status.SENT and delivery.recipient == invoice.customer_email
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [invoice.customer_email]
    assert message.attachments[0][0] == f"invoice-{invoice.number}.pdf"
    assert message.attachments[0][1] == stored  # the stored bytes, not a new render
    assert hashlib.sha256(stored).hexdigest() == pdf_sha
    invoice.refresh_from_db()
    assert (invoice.pdf.name, invoice.pdf_sha256) == (pdf_name, pdf_sha)
    event = InvoiceEvent.objects.get(type="email_resend_requested")
    assert event.actor == "admin:operator" and event.invoice_id == invoice.pk
    assert event.order_id == invoice.order_id


def test_resend_email_twice_makes_numbered_deliveries(console: Console, operator: Client) -> None:
    with mock.patch("invoicing.pdf.render_invoice_pdf") as render:
        operator.post(resend_url(console.invoice))
        operator.post(resend_url(console.invoice))

    kinds = list(
        EmailDelivery.objects.filter(invoice=console.invoice).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == ["invoice", "resend-1", "resend-2"]
    assert InvoiceEvent.objects.filter(type="email_resend_requested", actor="admin:operator").count() == 2
    render.assert_not_called()


def test_resend_email_of_a_draft_is_an_error_message(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)

    response = operator.post(resend_url(draft))

    assert response.status_code == 302
    assert messages_of(response) == [f"Invoice of order {DECLINED} is not issued: there is nothing to send."]
    assert not EmailDelivery.objects.filter(invoice=draft).exists()


def run_automatic_url(tenant: Tenant) -> str:
    return reverse("admin:invoicing_tenant_run_automatic", args=[tenant.pk])


def test_run_automatic_now_creates_a_job_and_audits(
    console: Console, operator: Client, django_capture_on_commit_callbacks: Any
) -> None:
    configuration_set(tenant=console.tenant, key="invoiceSettings", value=SETTINGS)

    with (
        mock.patch("jobs.tasks.resolve_automatic_job.delay") as resolve,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = operator.post(run_automatic_url(console.tenant))

    job = InvoiceJob.objects.get(tenant=console.tenant, job_type=InvoiceJob.Type.AUTOMATIC)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:jobs_invoicejob_change", args=[job.pk])
    assert job.requested_by == "admin:operator" and job.resolving
    resolve.assert_called_once_with(str(job.pk))
    event = InvoiceEvent.objects.get(type="automatic_run_requested")
    assert event.actor == "admin:operator" and event.tenant_id == console.tenant.pk
    assert any(f"AUTOMATIC job {job.pk} started" in m for m in messages_of(response))


def test_run_automatic_now_without_settings_is_an_error(console: Console, operator: Client) -> None:
    with mock.patch("jobs.tasks.resolve_automatic_job.delay") as resolve:
        response = operator.post(run_automatic_url(console.tenant))

    assert response["Location"] == reverse("admin:invoicing_tenant_change", args=[console.tenant.pk])
    (message,) = messages_of(response)
    assert "has no invoiceSettings" in message
    assert not InvoiceJob.objects.filter(tenant=console.tenant, job_type="AUTOMATIC").exists()
    types = set(
        InvoiceEvent.objects.filter(tenant=console.tenant, actor="admin:operator").values_list(
            "type", flat=True
        )
    )
    assert types == {"automatic_run_requested", "automatic_run_failed"}
    resolve.assert_not_called()


def test_run_automatic_now_while_one_is_running_is_skipped(console: Console, operator: Client) -> None:
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        response = operator.post(run_automatic_url(console.other_tenant))

    assert response["Location"] == reverse("admin:invoicing_tenant_change", args=[console.other_tenant.pk])
    assert InvoiceJob.objects.filter(tenant=console.other_tenant).count() == 1
    assert InvoiceEvent.objects.filter(type="automatic_run_skipped", actor="admin:operator").exists()


def test_tenant_page_shows_run_automatic_button(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["tenant page"](console)).content.decode()

    assert 'id="run-automatic"' in html
    assert f'action="{run_automatic_url(console.tenant)}"' in html


@pytest.mark.parametrize("action", ["retry", "resend", "run automatic"])
def test_actions_refused_for_staff_without_a_role(console: Console, action: str) -> None:
    url = {
        "retry": retry_url(console.job),
        "resend": resend_url(console.invoice),
        "run automatic": run_automatic_url(console.other_tenant),
    }[action]
    events_before = InvoiceEvent.objects.count()
    jobs_before = InvoiceJob.objects.count()

    response = login(console.staff_without_role).post(url)

    assert response.status_code == 403
    assert InvoiceEvent.objects.count() == events_before
    assert InvoiceJob.objects.count() == jobs_before
    assert not EmailDelivery.objects.filter(kind__startswith="resend-").exists()


@pytest.mark.parametrize("action", ["retry", "resend", "run automatic"])
def test_actions_refused_for_anonymous(console: Console, action: str) -> None:
    url = {
        "retry": retry_url(console.job),
        "resend": resend_url(console.invoice),
        "run automatic": run_automatic_url(console.other_tenant),
    }[action]

    response = Client().post(url)

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not InvoiceEvent.objects.filter(actor__startswith="admin:").exists()


def test_action_buttons_hidden_without_the_permission(console: Console) -> None:
    """A read-only staff user (view permissions only) sees the pages but not the buttons."""
    viewer = user_make("viewer")
    viewer.user_permissions.set(
        Group.objects.get(name=OPERATORS).permissions.filter(codename__startswith="view_")
    )
    client = login(viewer)

    pages = [
        client.get(PAGES[name](console)).content.decode()
        for name in ("job page", "invoice page", "tenant page")
    ]

    assert 'id="retry-failed"' not in pages[0]
    assert 'id="resend-email"' not in pages[1] and 'id="download-pdf"' in pages[1]
    assert 'id="run-automatic"' not in pages[2]
    assert client.post(retry_url(console.job)).status_code == 403


# --- 5. API clients -------------------------------------------------------------------------------------
def test_api_client_create_shows_the_secret_once_and_stores_it_hashed(
    console: Console, administrator: Client
) -> None:
    response = administrator.post(
        reverse("admin:jobs_apiclient_add"),
        {"tenant": console.tenant.pk, "scopes": "invoice.invoice_read"},
    )

    created = ApiClient.objects.exclude(pk=console.api_client.pk).select_related("application").get()
    assert response.status_code == 302
    (message,) = [m for m in messages_of(response) if "client_secret" in m]
    match = re.search(r"client_id: (\S+)\s+client_secret: (\S+)", message)
    assert match is not None, message
    client_id, secret = match.groups()
    assert client_id == created.application.client_id
    assert created.tenant == console.tenant and created.scopes == "invoice.invoice_read"
    assert created.application.client_secret != secret
    assert check_password(secret, created.application.client_secret)
    first = administrator.get(response["Location"]).content.decode()
    again = administrator.get(reverse("admin:jobs_apiclient_change", args=[created.pk])).content.decode()
    assert first.count(secret) == 1  # in the message, once
    assert secret not in again and created.application.client_secret not in again


def test_api_client_create_with_an_unknown_scope_is_a_form_error(
    console: Console, administrator: Client
) -> None:
    response = administrator.post(
        reverse("admin:jobs_apiclient_add"), {"tenant": console.tenant.pk, "scopes": "everything"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert ApiClient.objects.count() == 1


def test_api_client_revoke_action_revokes_and_audits(console: Console, administrator: Client) -> None:
    token = factories.token_make(console.api_client)

    response = administrator.post(
        PAGES["api clients"](console),
        {"action": "revoke", "_selected_action": [console.api_client.pk], "index": 0},
    )

    assert response.status_code == 302
    console.api_client.refresh_from_db()
    assert console.api_client.revoked_at is not None
    assert not get_access_token_model().objects.filter(token=token).exists()
    event = InvoiceEvent.objects.get(type="api_client_revoked")
    assert event.actor == "admin:administrator" and event.tenant_id == console.tenant.pk
    assert console.api_client.application.client_id in event.message


def test_api_client_revoke_twice_audits_once(console: Console, administrator: Client) -> None:
    for _ in range(2):
        administrator.post(
            PAGES["api clients"](console),
            {"action": "revoke", "_selected_action": [console.api_client.pk], "index": 0},
        )

    assert InvoiceEvent.objects.filter(type="api_client_revoked").count() == 1


def test_api_client_revoke_refused_for_operators(console: Console, operator: Client) -> None:
    operator.post(
        PAGES["api clients"](console),
        {"action": "revoke", "_selected_action": [console.api_client.pk], "index": 0},
    )

    console.api_client.refresh_from_db()
    assert console.api_client.revoked_at is None


def test_api_client_delete_is_not_offered(console: Console, administrator: Client) -> None:
    request = admin_request(console.superuser)
    client_admin = site.get_model_admin(ApiClient)

    page = administrator.get(PAGES["api client page"](console))
    deleted = login(console.superuser).post(
        reverse("admin:jobs_apiclient_delete", args=[console.api_client.pk]), {"post": "yes"}
    )

    assert not client_admin.has_delete_permission(request, console.api_client)
    assert "delete_selected" not in client_admin.get_actions(request)
    assert "revoke" in client_admin.get_actions(request)
    assert 'class="deletelink"' not in page.content.decode()
    assert deleted.status_code == 403
    assert ApiClient.objects.filter(pk=console.api_client.pk).exists()


def test_api_client_page_is_read_only(console: Console, administrator: Client) -> None:
    url = PAGES["api client page"](console)

    administrator.post(url, {"tenant": console.other_tenant.pk, "scopes": "invoice.invoice_read"})

    api_client = ApiClient.objects.get(pk=console.api_client.pk)
    assert api_client.tenant_id == console.tenant.pk and api_client.scopes == console.api_client.scopes


# --- 6. number series guard --------------------------------------------------------------------------
def test_number_series_with_a_counter_is_read_only_except_max_value(
    console: Console, administrator: Client
) -> None:
    assert console.series.counter is not None
    url = PAGES["number series page"](console)

    form = administrator.get(url).context["adminform"].form

    assert set(form.fields) == {"max_value"}


def test_number_series_max_value_cannot_go_below_the_counter(console: Console, administrator: Client) -> None:
    url = PAGES["number series page"](console)
    counter = console.series.counter

    too_low = administrator.post(url, {"max_value": counter - 1, "pre_text": "X"})
    raised = administrator.post(url, {"max_value": counter + 5000, "pre_text": "X", "start_value": 0})

    assert too_low.status_code == 200
    assert "cannot go below" in str(too_low.context["adminform"].form.errors["max_value"])
    assert raised.status_code == 302
    series = NumberSeries.objects.get(pk=console.series.pk)
    assert series.max_value == counter + 5000
    assert (series.pre_text, series.start_value, series.counter) == ("INV", 1000, counter)


def test_number_series_without_a_counter_is_all_editable(console: Console, administrator: Client) -> None:
    url = reverse("admin:integrations_numberseries_change", args=[console.fresh_series.pk])
    response = administrator.get(url)
    data = {**form_data(response), "pre_text": "GX-", "number_of_digits": 6, "start_value": 5}

    saved = administrator.post(url, data)

    assert set(response.context["adminform"].form.fields) == {
        "tenant", "name", "pre_text", "post_text", "number_of_digits", "start_value", "max_value",
    }  # fmt: skip
    assert saved.status_code == 302
    series = NumberSeries.objects.get(pk=console.fresh_series.pk)
    assert (series.pre_text, series.number_of_digits, series.start_value, series.counter) == (
        "GX-",
        6,
        5,
        None,
    )


def test_number_series_with_a_counter_cannot_be_deleted(console: Console, administrator: Client) -> None:
    single = administrator.post(
        reverse("admin:integrations_numberseries_delete", args=[console.series.pk]), {"post": "yes"}
    )
    bulk = administrator.post(
        PAGES["number series"](console),
        {"action": "delete_selected", "_selected_action": [console.series.pk], "post": "yes", "index": 0},
    )

    assert single.status_code == 403
    assert bulk.status_code == 403  # delete_selected: "permission needed" for that series
    assert NumberSeries.objects.filter(pk=console.series.pk).exists()


def test_number_series_save_keeps_a_counter_moved_meanwhile(console: Console, administrator: Client) -> None:
    url = PAGES["number series page"](console)
    counter = console.series.counter

    def issue_meanwhile(self: Any) -> int:
        # what LocalNumberSequence.next_number does in another transaction while the form is saved
        NumberSeries.objects.filter(pk=console.series.pk).update(counter=counter + 1)
        return int(self.cleaned_data["max_value"])

    with mock.patch("integrations.admin.NumberSeriesForm.clean_max_value", issue_meanwhile):
        response = administrator.post(url, {"max_value": counter + 5000})

    assert response.status_code == 302
    assert NumberSeries.objects.get(pk=console.series.pk).counter == counter + 1


# --- 7. list pages: queries do not grow with rows -------------------------------------------------------
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


# --- 8. tenant page: logo preview, write-only secret ---------------------------------------------------
def test_tenant_page_shows_the_logo_preview(console: Console, operator: Client) -> None:
    console.tenant.logo.save("acme.jpg", ContentFile(factories.DEMO_LOGO_BYTES))

    html = operator.get(PAGES["tenant page"](console)).content.decode()

    preview = reverse("admin:invoicing_tenant_logo", args=[console.tenant.pk])
    assert re.search(rf'<img src="{re.escape(preview)}" alt="logo"', html)


def test_tenant_page_without_a_logo_says_so(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["tenant page"](console)).content.decode()

    assert "no logo: invoices are printed without one" in html


def test_tenant_logo_preview_image_loads(console: Console, administrator: Client) -> None:
    console.tenant.logo.save("acme.jpg", ContentFile(factories.DEMO_LOGO_BYTES))

    response = administrator.get(reverse("admin:invoicing_tenant_logo", args=[console.tenant.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.DEMO_LOGO_BYTES  # type: ignore[attr-defined]
    # media itself is not served publicly: invoice PDFs live there too
    assert Client().get(console.tenant.logo.url).status_code == 404


SECRET = "emporix-secret-" + uuid.uuid4().hex


def test_tenant_page_never_shows_the_emporix_secret(console: Console, administrator: Client) -> None:
    console.tenant.set_emporix_client_secret(SECRET)
    console.tenant.save()

    response = administrator.get(PAGES["tenant page"](console))

    html = response.content.decode()
    field = re.search(r"<input[^>]*name=\"emporix_client_secret\"[^>]*>", html)
    assert field is not None
    assert 'type="password"' in field.group(0)
    assert "value=" not in field.group(0)
    assert "(stored)" in field.group(0)
    assert SECRET not in html
    assert console.tenant.emporix_client_secret_encrypted not in html
    assert "emporix_client_secret_encrypted" not in html


def test_tenant_page_never_shows_the_secret_to_operators(console: Console, operator: Client) -> None:
    console.tenant.set_emporix_client_secret(SECRET)
    console.tenant.save()

    html = operator.get(PAGES["tenant page"](console)).content.decode()

    assert SECRET not in html and console.tenant.emporix_client_secret_encrypted not in html


def test_tenant_secret_is_write_only(console: Console, administrator: Client) -> None:
    console.tenant.set_emporix_client_secret(SECRET)
    console.tenant.save()
    url = PAGES["tenant page"](console)
    data = form_data(administrator.get(url))
    assert data["emporix_client_secret"] == ""

    kept = administrator.post(url, data)
    after_keep = Tenant.objects.get(pk=console.tenant.pk).decrypted_emporix_client_secret()
    replaced = administrator.post(url, {**data, "emporix_client_secret": "new-secret"})

    assert kept.status_code == 302 and replaced.status_code == 302
    assert after_keep == SECRET
    assert Tenant.objects.get(pk=console.tenant.pk).decrypted_emporix_client_secret() == "new-secret"


def test_tenant_emporix_backend_requires_a_secret(console: Console, administrator: Client) -> None:
    url = PAGES["tenant page"](console)
    data = {**form_data(administrator.get(url)), "backend": "emporix", "emporix_client_id": "cid"}

    response = administrator.post(url, data)

    assert response.status_code == 200
    assert "Required for the Emporix backend." in str(response.context["adminform"].form.errors)
