"""The two roles across the console: what only administrators may change, records nobody edits,
actions refused without the permission."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from invoicing.models import EmailDelivery, InvoiceEvent, PaymentCapture
from jobs.models import InvoiceJob, JobOrder
from jobs.roles import OPERATORS
from tests.console.helpers import (
    PAGES,
    Console,
    admin_request,
    form_data,
    has_save_button,
    login,
    resend_url,
    retry_url,
    run_automatic_url,
    user_make,
)

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("model", [InvoiceJob, JobOrder, InvoiceEvent, PaymentCapture, EmailDelivery])
def test_records_are_read_only_even_for_a_superuser(console: Console, model: type) -> None:
    request = admin_request(console.superuser)
    model_admin = site.get_model_admin(model)

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


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
