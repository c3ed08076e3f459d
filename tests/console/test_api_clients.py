"""The API clients page: the secret shown once and stored hashed, revoking (audited), nothing
deleted or edited."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.hashers import check_password
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model

from invoicing.models import InvoiceEvent
from jobs.models import ApiClient
from tests import factories
from tests.console.helpers import PAGES, Console, admin_request, login, messages_of

pytestmark = pytest.mark.django_db


def test_api_client_add_refused_for_operators(console: Console, operator: Client) -> None:
    url = reverse("admin:jobs_apiclient_add")

    shown = operator.get(url)
    posted = operator.post(url, {"tenant": console.tenant.pk, "scopes": "invoice.invoice_read"})

    assert shown.status_code == 403 and posted.status_code == 403
    assert ApiClient.objects.count() == 1


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
