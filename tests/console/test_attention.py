"""The console's "orders needing attention": the list, its filters, and "Retry now"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoicing.models import InvoiceEvent
from jobs.models import InvoiceJob, JobOrder, OrderAttention
from jobs.roles import OPERATORS

pytestmark = pytest.mark.django_db

LIST = "admin:jobs_orderattention_changelist"


@pytest.fixture
def waiting(tenant) -> tuple[OrderAttention, OrderAttention]:
    job = InvoiceJob.objects.create(tenant=tenant, job_type=InvoiceJob.Type.AUTOMATIC)
    row = JobOrder.objects.create(job=job, order_id="DEMO-1001", status="FAILURE", step="capture")
    declined = OrderAttention.objects.create(
        tenant=tenant,
        order_id="DEMO-1001",
        kind="PERMANENT",
        reason="Payment capture declined: Card expired",
        last_job_order=row,
    )
    later = OrderAttention.objects.create(
        tenant=tenant,
        order_id="DEMO-1002",
        kind="TRANSIENT",
        reason="Validate failed after 4 attempts: Order service: 503",
        next_attempt_after=timezone.now() + dt.timedelta(hours=2),
    )
    return declined, later


def login(username: str, *, group: str | None = None, permissions: tuple[str, ...] = ()) -> Client:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_operators_see_the_orders_needing_attention_with_their_reason(waiting):
    declined, _later = waiting
    html = login("olga", group=OPERATORS).get(reverse(LIST)).content.decode()

    assert "DEMO-1001" in html and "Payment capture declined: Card expired" in html
    assert "Needs attention" in html and "DEMO-1002" in html and "Retried by the first AUTOMATIC run" in html
    link = reverse("admin:jobs_joborder_change", args=[declined.last_job_order_id])
    assert f'href="{link}"' in html
    assert "Retry now" in html


def test_the_list_filters_by_state_and_kind_and_finds_an_order_id(waiting):
    operator = login("olga", group=OPERATORS)

    attention = operator.get(reverse(LIST), {"state": "attention"}).content.decode()
    transient = operator.get(reverse(LIST), {"kind__exact": "TRANSIENT"}).content.decode()
    found = operator.get(reverse(LIST), {"q": "DEMO-1002"}).content.decode()

    assert "DEMO-1001" in attention and "DEMO-1002" not in attention
    assert "DEMO-1002" in transient and "DEMO-1001" not in transient
    assert "DEMO-1002" in found and "DEMO-1001" not in found


def test_retry_now_starts_a_manual_job_clears_the_wait_and_is_audited(waiting, tenant):
    declined, _later = waiting
    operator = login("olga", group=OPERATORS)

    response = operator.post(
        reverse(LIST), {"action": "retry_now", "_selected_action": [declined.pk]}, follow=True
    )

    job = InvoiceJob.objects.get(job_type="MANUAL")
    assert list(job.orders.values_list("order_id", flat=True)) == ["DEMO-1001"]
    assert job.requested_by == "admin:olga"
    assert "being retried as job" in response.content.decode()
    assert list(OrderAttention.objects.values_list("order_id", flat=True)) == ["DEMO-1002"]
    event = InvoiceEvent.objects.get(type="attention_retried")
    assert event.actor == "admin:olga" and "DEMO-1001" in event.message and str(job.pk) in event.message


def test_retry_now_needs_the_retry_permission(waiting):
    viewer = login("vic", permissions=("view_orderattention",))

    page = viewer.get(reverse(LIST))
    viewer.post(reverse(LIST), {"action": "retry_now", "_selected_action": [waiting[0].pk]})

    assert page.status_code == 200 and "Retry now" not in page.content.decode()
    assert OrderAttention.objects.count() == 2
    assert not InvoiceJob.objects.filter(job_type="MANUAL").exists()


def test_the_list_is_read_only(waiting):
    administrator = login("ada", group="Administrators")
    assert administrator.get(reverse("admin:jobs_orderattention_add")).status_code == 403
    response = administrator.post(
        reverse("admin:jobs_orderattention_delete", args=[waiting[0].pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert OrderAttention.objects.count() == 2
