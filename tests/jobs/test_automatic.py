"""AUTOMATIC jobs: the tenant's invoiceSettings find the orders, on demand and on a schedule."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
import responses
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from integrations.emporix.adapters import EmporixOrderSource, order_query_q
from integrations.emporix.client import EmporixClient, clear_token_cache
from integrations.models import StoredOrder
from integrations.ports import DELIVERY_TIME_MIXIN, DELIVERY_WINDOW_DATE, OrderQuery
from integrations.services import configuration_set
from invoicing.models import Invoice, InvoiceEvent
from invoicing.order_store import stored_order_upsert
from jobs.automatic import (
    InvoiceSettingsError,
    automatic_job_resolve,
    automatic_run_scheduled,
    invoice_settings_parse,
    job_create_automatic,
)
from jobs.models import InvoiceJob, JobOrder
from jobs.schedules import automatic_task_name
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error
from tests.integrations import emporix_payloads as p
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

SETTINGS = {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": "70,75,76"}
BERLIN = "Europe/Berlin"


def store(
    tenant, order_id: str, *, status="CONFIRMED", ext="70", window: str | None = "2026-06-01", time=None
):
    """A demo order with the fields AUTOMATIC jobs select on set as given."""
    document = factories.demo_order("DEMO-1002")  # pay by invoice: no capture needed
    document.update(id=order_id, status=status)
    document["mixins"]["generalAttributes"]["extendedOrderStatus"] = ext
    document.pop("deliveryWindow", None)
    document["mixins"].pop("deliveryTime", None)
    if window:
        document["deliveryWindow"] = {"deliveryDate": window}
    if time:
        document["mixins"]["deliveryTime"] = {"deliveryDate": time}
    stored_order_upsert(tenant=tenant, order_id=order_id, document=document)


def found(tenant, *, now: dt.datetime, page_size: int = 100) -> list[str]:
    """The orders an AUTOMATIC job created at `now` picks (dispatch not needed for that)."""
    with mock.patch("jobs.automatic._dispatch"):
        job = job_create_automatic(tenant=tenant, now=now)
        automatic_job_resolve(job_id=job.pk, page_size=page_size)
    return list(JobOrder.objects.filter(job=job).order_by("position").values_list("order_id", flat=True))


# --- settings ----------------------------------------------------------------------------------
def test_settings_parse_reads_the_emporix_shape():
    parsed = invoice_settings_parse(SETTINGS)
    assert (parsed.threshold_hours, parsed.statuses, parsed.extended_statuses) == (
        24,
        ("CONFIRMED", "SHIPPED"),
        ("70", "75", "76"),
    )
    assert invoice_settings_parse({"threshold": "96h", "status": "CREATED"}).threshold_hours == 96
    assert invoice_settings_parse(json.dumps(SETTINGS)).statuses == ("CONFIRMED", "SHIPPED")


def test_settings_parse_names_every_problem():
    with pytest.raises(InvoiceSettingsError) as caught:
        invoice_settings_parse({"threshold": "a day", "status": "SHIPPED,LOST"})
    assert {e["field"] for e in caught.value.errors} == {"threshold", "status"}
    assert "unknown order status LOST" in caught.value.message


def test_put_invoice_settings_stores_them_in_the_configuration_shape(api, tenant):
    response = api.put(
        "/invoice/acme/configurations/invoiceSettings",
        {"key": "invoiceSettings", "value": SETTINGS},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"key": "invoiceSettings", "value": SETTINGS, "version": 1, "secured": False}
    again = api.put(
        "/invoice/acme/configurations/invoiceSettings",
        {"value": {**SETTINGS, "threshold": "48"}},
        format="json",
    )
    assert again.json()["version"] == 2
    assert api.get("/invoice/acme/configurations/invoiceSettings").json()["value"]["threshold"] == "48"


def test_put_invoice_settings_malformed_is_400_with_the_fields(api, tenant):
    response = api.put(
        "/invoice/acme/configurations/invoiceSettings", {"value": {"status": "NOPE"}}, format="json"
    )
    body = assert_error(response, 400, "invoiceSettings is malformed")
    assert {e["field"] for e in body["errors"]} == {"threshold", "status"}
    assert_error(api.get("/invoice/acme/configurations/invoiceSettings"), 404, "has no invoiceSettings")


def test_put_invoice_settings_needs_the_manage_scope_and_a_local_tenant(tenant):
    reader, _ = factories.api_client_make(tenant, scopes="invoice.invoice_read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(reader)}")
    assert_error(
        api.put("/invoice/acme/configurations/invoiceSettings", {"value": SETTINGS}, format="json"),
        403,
        "scope",
    )
    Tenant.objects.filter(pk=tenant.pk).update(backend="emporix", emporix_client_id="x")
    manager, _ = factories.api_client_make(tenant)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(manager)}")
    assert_error(
        api.put("/invoice/acme/configurations/invoiceSettings", {"value": SETTINGS}, format="json"),
        409,
        "Emporix",
    )


def test_post_automatic_job_answers_201_at_once(api, tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    with mock.patch("jobs.tasks.resolve_automatic_job.delay") as resolve:
        response = api.post("/invoice/acme/jobs/invoices", {"jobType": "AUTOMATIC"}, format="json")
    assert response.status_code == 201
    job = InvoiceJob.objects.get(pk=response.json()["jobId"])
    assert job.job_type == "AUTOMATIC" and job.resolving and job.status == "IN_PROGRESS"
    body = api.get(f"/invoice/acme/jobs/invoices/{job.pk}").json()
    assert body == {"jobStatus": "IN_PROGRESS", "status": "IN_PROGRESS", "jobType": "AUTOMATIC", "orders": []}
    resolve.assert_not_called()  # sent on commit, and the test transaction never commits


def test_post_automatic_job_with_malformed_settings_is_400(api, tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value={"threshold": "-1", "status": "SHIPPED"})
    body = assert_error(
        api.post("/invoice/acme/jobs/invoices", {"jobType": "AUTOMATIC"}, format="json"), 400, "malformed"
    )
    assert body["errors"] == [{"field": "threshold", "message": 'must be a whole number of hours, e.g. "24"'}]
    assert not InvoiceJob.objects.exists()


# --- which orders ---------------------------------------------------------------------------------
NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)


def test_eligible_orders_match_status_extended_status_and_delivery(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "OK-1")
    store(tenant, "OK-2", status="SHIPPED", ext="76")
    store(tenant, "WRONG-STATUS", status="CREATED")
    store(tenant, "WRONG-EXT", ext="10")
    store(tenant, "NO-DELIVERY", window=None)
    store(tenant, "TOO-RECENT", window="2026-07-01")

    assert found(tenant, now=NOW) == ["OK-1", "OK-2"]


def test_empty_extended_status_means_any(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value={"threshold": "0", "status": "CONFIRMED"})
    store(tenant, "A", ext="10")
    store(tenant, "B", ext="")
    assert found(tenant, now=NOW) == ["A", "B"]


def test_invoiced_and_pending_elsewhere_orders_are_skipped(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    for order_id in ("INVOICED", "PENDING", "WRITTEN-BACK", "FREE"):
        store(tenant, order_id)
    drive(job_create_manual(tenant=tenant, order_ids=["INVOICED"]))
    StoredOrder.objects.filter(order_id="INVOICED").update(invoice_number="")  # not yet written back
    job_create_manual(tenant=tenant, order_ids=["PENDING"])  # not yet run
    StoredOrder.objects.filter(order_id="WRITTEN-BACK").update(invoice_number="OLD-1")

    assert found(tenant, now=NOW) == ["FREE"]


def test_no_eligible_order_makes_the_job_done_with_an_empty_list(api, tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    assert found(tenant, now=NOW) == []
    job = InvoiceJob.objects.get()
    assert job.status == "DONE" and job.total_count == 0 and not job.resolving
    assert api.get(f"/invoice/acme/jobs/invoices/{job.pk}").json()["orders"] == []


def test_orders_appear_page_by_page(tenant, django_capture_on_commit_callbacks):
    from integrations.local.adapters import LocalOrderSource

    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    for n in range(5):
        store(tenant, f"O-{n}")
    original = LocalOrderSource.find_orders
    seen_before_each_page = []

    def spy(self, query, *, cursor, page_size):
        seen_before_each_page.append(
            sorted(JobOrder.objects.filter(job=job).values_list("order_id", flat=True))
        )
        return original(self, query, cursor=cursor, page_size=page_size)

    with mock.patch("jobs.automatic._dispatch") as dispatched:
        job = job_create_automatic(tenant=tenant, now=NOW)
        with (
            mock.patch.object(LocalOrderSource, "find_orders", spy),
            django_capture_on_commit_callbacks(execute=True),
        ):
            automatic_job_resolve(job_id=job.pk, page_size=2)

    # before each page, the job already shows (and has sent on) what the earlier pages found
    assert seen_before_each_page == [[], ["O-0", "O-1"], ["O-0", "O-1", "O-2", "O-3"]]
    assert [len(call.args[0]) for call in dispatched.call_args_list] == [2, 2, 1]
    job.refresh_from_db()
    assert (job.total_count, job.resolving) == (5, False)
    assert list(JobOrder.objects.filter(job=job).order_by("position").values_list("position", flat=True)) == [
        0,
        1,
        2,
        3,
        4,
    ]


def search_killed_after_first_page():
    """The search's worker dies when it asks for the second page (as a SIGKILL would do)."""
    from integrations.local.adapters import LocalOrderSource

    original = LocalOrderSource.find_orders
    calls = {"n": 0}

    def find_orders(self, query, *, cursor, page_size):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return original(self, query, cursor=cursor, page_size=page_size)

    return mock.patch.object(LocalOrderSource, "find_orders", find_orders)


def test_job_is_not_done_while_its_orders_are_still_being_found(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "FIRST")
    store(tenant, "SECOND")

    with mock.patch("jobs.automatic._dispatch"):
        job = job_create_automatic(tenant=tenant, now=NOW)
        with search_killed_after_first_page(), pytest.raises(RuntimeError):
            automatic_job_resolve(job_id=job.pk, page_size=1)
    drive(job)  # the order found so far is invoiced ...
    job.refresh_from_db()
    assert job.success_count == 1 and job.status == "IN_PROGRESS"  # ... but the search is not over

    with mock.patch("jobs.automatic._dispatch"):
        automatic_job_resolve(job_id=job.pk, page_size=1)
    job = drive(job)
    assert job.status == "DONE" and (job.total_count, job.success_count) == (2, 2)


def test_redelivered_resolution_carries_on_from_its_cursor_without_duplicates(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    for n in range(4):
        store(tenant, f"O-{n}")

    with mock.patch("jobs.automatic._dispatch"):
        job = job_create_automatic(tenant=tenant, now=NOW)
        with search_killed_after_first_page(), pytest.raises(RuntimeError):
            automatic_job_resolve(job_id=job.pk, page_size=2)
        automatic_job_resolve(job_id=job.pk, page_size=2)  # the redelivered task
        automatic_job_resolve(job_id=job.pk, page_size=2)  # and once more: nothing left to do

    assert sorted(JobOrder.objects.filter(job=job).values_list("order_id", flat=True)) == [
        "O-0",
        "O-1",
        "O-2",
        "O-3",
    ]


# --- threshold boundaries ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "eligible"),
    [
        (dt.datetime(2026, 5, 30, 21, 59, 59, tzinfo=dt.UTC), False),  # 1 s before 24 h after the day began
        (dt.datetime(2026, 5, 30, 22, 0, 0, tzinfo=dt.UTC), True),  # exactly 24 h (00:00 CEST = 22:00 UTC)
        (dt.datetime(2026, 5, 30, 22, 0, 1, tzinfo=dt.UTC), True),
    ],
)
def test_threshold_from_a_delivery_date_counts_from_the_start_of_that_day(tenant, now, eligible):
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=BERLIN)
    tenant.refresh_from_db()
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "O", window="2026-05-30")
    assert found(tenant, now=now) == (["O"] if eligible else [])


@pytest.mark.parametrize(
    ("now", "eligible"),
    [
        (dt.datetime(2026, 6, 2, 10, 29, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 6, 2, 10, 30, 0, tzinfo=dt.UTC), True),
        (dt.datetime(2026, 6, 2, 10, 30, 1, tzinfo=dt.UTC), True),
    ],
)
def test_threshold_from_a_delivery_time(tenant, now, eligible):
    Tenant.objects.filter(pk=tenant.pk).update(delivery_date_source=DELIVERY_TIME_MIXIN)
    tenant.refresh_from_db()
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "O", window=None, time="2026-06-01T10:30:00.000Z")
    assert found(tenant, now=now) == (["O"] if eligible else [])


@pytest.mark.parametrize(
    ("now", "eligible"),
    [
        # Delivered on 25 Oct 2026, the day Berlin goes back from CEST to CET (a 25-hour day).
        # The day starts at 22:00 UTC on the 24th; 24 real hours later is 22:00 UTC on the 25th,
        # which is 23:00 local time, not midnight.
        (dt.datetime(2026, 10, 25, 21, 59, 59, tzinfo=dt.UTC), False),
        (dt.datetime(2026, 10, 25, 22, 0, 0, tzinfo=dt.UTC), True),
    ],
)
def test_threshold_across_the_daylight_saving_change(tenant, now, eligible):
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=BERLIN)
    tenant.refresh_from_db()
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "O", window="2026-10-25")
    assert found(tenant, now=now) == (["O"] if eligible else [])


# --- Emporix ---------------------------------------------------------------------------------------
def query(**changes) -> OrderQuery:
    base = OrderQuery(
        statuses=("CREATED", "CONFIRMED"),
        extended_statuses=("70", "75", "76"),
        delivered_by=dt.datetime(2025, 2, 4, 9, 30, tzinfo=dt.UTC),
        delivery_field=DELIVERY_WINDOW_DATE,
        time_zone=BERLIN,
    )
    return OrderQuery(**{**base.__dict__, **changes})


def test_emporix_q_string_is_built_from_the_settings():
    assert order_query_q(query()) == (
        "status:(CREATED,CONFIRMED) mixins.generalAttributes.extendedOrderStatus:(70,75,76) "
        'deliveryWindow.deliveryDate:<="2025-02-04" mixins.invoice:missing'
    )
    assert order_query_q(
        query(statuses=("SHIPPED",), extended_statuses=(), delivery_field=DELIVERY_TIME_MIXIN)
    ) == (
        'status:SHIPPED mixins.deliveryTime.deliveryDate:<="2025-02-04T09:30:00.000Z" mixins.invoice:missing'
    )
    # the date is the cutoff's day in the tenant's time zone
    late = query(delivered_by=dt.datetime(2025, 2, 4, 23, 30, tzinfo=dt.UTC))
    assert 'deliveryWindow.deliveryDate:<="2025-02-05"' in order_query_q(late)


@pytest.fixture
def emporix_shop(db):
    clear_token_cache()
    return factories.tenant_make(
        "shop",
        backend="emporix",
        emporix_base_url=p.BASE_URL,
        emporix_client_id="c",
        emporix_client_secret="s",
    )


def test_emporix_pages_are_keyed_on_created_and_read_x_total_count(emporix_shop):
    orders = [p.sales_order(f"E-{n}", created=f"2025-01-0{1 + n // 2}T10:00:00.000Z") for n in range(5)]
    seen_params = []

    def answer(request):
        from urllib.parse import parse_qs, urlparse

        params = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        seen_params.append(params)
        since = params["q"].split('created:>="')[1].rstrip('"') if 'created:>="' in params["q"] else ""
        matching = [o for o in orders if o["created"] >= since]
        page, size = int(params["pageNumber"]), int(params["pageSize"])
        body = p.sales_orders(*matching[(page - 1) * size : page * size])
        return 200, {"X-Total-Count": str(len(orders))}, json.dumps(body)

    with responses.RequestsMock() as mock_:
        mock_.post(p.TOKEN.url(), json=p.token())
        mock_.add_callback("GET", p.LIST_ORDERS.url(), callback=answer)
        source = EmporixOrderSource(emporix_shop, EmporixClient(emporix_shop))
        pages, cursor = [], None
        while True:
            page = source.find_orders(query(), cursor=cursor, page_size=2)
            pages.append(page.order_ids)
            cursor = page.cursor
            if cursor is None:
                break

    assert pages[0] == ("E-0", "E-1") and page.total == 5
    assert sorted({oid for ids in pages for oid in ids}) == [f"E-{n}" for n in range(5)]
    assert all(params["sort"] == "created:asc" and params["pageSize"] == "2" for params in seen_params)
    assert seen_params[0]["pageNumber"] == "1" and "created:" not in seen_params[0]["q"]
    assert 'created:>="2025-01-01T10:00:00.000Z"' in seen_params[1]["q"]


def test_emporix_automatic_job_reads_settings_from_the_configuration_service(emporix_shop):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock_:
        mock_.post(p.TOKEN.url(), json=p.token())
        mock_.get(
            p.GET_CONFIGURATION.url(propertyKey="invoiceSettings"),
            status=404,
            json=p.configuration_not_found("invoiceSettings"),
        )
        with pytest.raises(InvoiceSettingsError, match="not configured for tenant 'shop'"):
            job_create_automatic(tenant=emporix_shop)
        mock_.replace(
            responses.GET, p.GET_CONFIGURATION.url(propertyKey="invoiceSettings"), json=p.invoice_settings()
        )
        job = job_create_automatic(tenant=emporix_shop)
    assert job.query["statuses"]


# --- overlap and schedules ---------------------------------------------------------------------------
def test_scheduled_run_is_skipped_and_recorded_while_the_previous_one_runs(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        first = automatic_run_scheduled(tenant_code="acme")
        assert first is not None
        assert automatic_run_scheduled(tenant_code="acme") is None
    skipped = InvoiceEvent.objects.get(type="automatic_run_skipped")
    assert str(first.pk) in skipped.message

    InvoiceJob.objects.filter(pk=first.pk).update(status="DONE")
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        assert automatic_run_scheduled(tenant_code="acme") is not None


def test_manual_jobs_in_progress_do_not_block_a_scheduled_run(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    job_create_manual(tenant=tenant, order_ids=["X"])
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        assert automatic_run_scheduled(tenant_code="acme") is not None


def test_every_tenant_gets_a_paused_daily_run_in_its_time_zone(tenant):
    task = PeriodicTask.objects.get(name=automatic_task_name("acme"))
    assert task.task == "invoice.run_automatic_job" and json.loads(task.kwargs) == {"tenant": "acme"}
    assert not task.enabled
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "2", BERLIN)


def test_schedule_follows_the_tenant_time_zone_but_keeps_the_operators_times(tenant):
    task = PeriodicTask.objects.get(name=automatic_task_name("acme"))
    from django_celery_beat.models import CrontabSchedule

    task.crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="5", day_of_week="1-5", day_of_month="*", month_of_year="*", timezone=BERLIN
    )
    task.enabled = True
    task.save()  # what an operator does in the admin

    tenant.time_zone = "America/New_York"
    tenant.save()

    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "5", "1-5")
    assert str(task.crontab.timezone) == "America/New_York"
    assert task.enabled


def test_deleting_a_tenant_removes_its_schedule(db):
    tenant = factories.tenant_make("gone")
    from integrations.models import NumberSeries

    NumberSeries.objects.filter(tenant=tenant).delete()
    tenant.delete()
    assert not PeriodicTask.objects.filter(name=automatic_task_name("gone")).exists()


def test_run_automatic_job_command_starts_one_now(tenant):
    import io

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not configured"):
        call_command("run_automatic_job", "acme", stdout=io.StringIO())
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    out = io.StringIO()
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        call_command("run_automatic_job", "acme", stdout=out)
    job = InvoiceJob.objects.get(job_type="AUTOMATIC")
    assert f"job {job.pk} started" in out.getvalue()


def test_automatic_job_invoices_what_it_found_end_to_end_in_process(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store(tenant, "A")
    store(tenant, "B", status="CREATED")
    with mock.patch("jobs.automatic._dispatch"):
        job = job_create_automatic(tenant=tenant, now=NOW)
        automatic_job_resolve(job_id=job.pk)
    job = drive(job)
    assert job.status == "DONE" and (job.total_count, job.success_count) == (1, 1)
    assert Invoice.objects.get(order_id="A").status == "ISSUED"


@pytest.mark.django_db(transaction=True)
def test_scheduled_run_without_settings_leaves_a_recorded_failure():
    from jobs.tasks import run_automatic_job

    factories.tenant_make("nosettings")

    result = run_automatic_job.apply(kwargs={"tenant": "nosettings"}).get()

    assert result.startswith("not started: Automatic jobs are not configured for tenant 'nosettings'")
    event = InvoiceEvent.objects.get(type="automatic_run_failed")
    assert "no invoiceSettings" in event.message and event.actor == "schedule"
    assert not InvoiceJob.objects.exists()


def test_admin_refuses_malformed_invoice_settings(client, tenant):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    url = "/admin/integrations/configuration/add/"
    bad = client.post(url, {"tenant": tenant.pk, "key": "invoiceSettings", "value": '{"threshold": "soon"}'})
    assert bad.status_code == 200 and "invoiceSettings is malformed" in bad.content.decode()
    good = client.post(url, {"tenant": tenant.pk, "key": "invoiceSettings", "value": json.dumps(SETTINGS)})
    assert good.status_code == 302
