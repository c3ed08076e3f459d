"""The tenant page: what only administrators may change, "Run an AUTOMATIC job now" (audited), the
logo preview and the write-only Emporix secret."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from integrations.services import configuration_set
from invoicing.models import InvoiceEvent
from jobs.models import InvoiceJob
from tenants.models import Tenant
from tests import factories
from tests.console.helpers import PAGES, SETTINGS, Console, form_data, login, messages_of, run_automatic_url

pytestmark = pytest.mark.django_db


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
    preview = reverse("admin:tenants_tenant_logo", args=[tenant.pk])
    assert f'<img src="{preview}"' in administrator.get(url).content.decode()


def test_tenant_cannot_be_deleted(console: Console) -> None:
    response = login(console.superuser).post(
        reverse("admin:tenants_tenant_delete", args=[console.tenant.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Tenant.objects.filter(pk=console.tenant.pk).exists()


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

    assert response["Location"] == reverse("admin:tenants_tenant_change", args=[console.tenant.pk])
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

    assert response["Location"] == reverse("admin:tenants_tenant_change", args=[console.other_tenant.pk])
    assert InvoiceJob.objects.filter(tenant=console.other_tenant).count() == 1
    assert InvoiceEvent.objects.filter(type="automatic_run_skipped", actor="admin:operator").exists()


def test_tenant_page_shows_run_automatic_button(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["tenant page"](console)).content.decode()

    assert 'id="run-automatic"' in html
    assert f'action="{run_automatic_url(console.tenant)}"' in html


def test_tenant_page_shows_the_logo_preview(console: Console, operator: Client) -> None:
    console.tenant.logo.save("acme.jpg", ContentFile(factories.DEMO_LOGO_BYTES))

    html = operator.get(PAGES["tenant page"](console)).content.decode()

    preview = reverse("admin:tenants_tenant_logo", args=[console.tenant.pk])
    assert re.search(rf'<img src="{re.escape(preview)}" alt="logo"', html)


def test_tenant_page_without_a_logo_says_so(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["tenant page"](console)).content.decode()

    assert "no logo: invoices are printed without one" in html


def test_tenant_logo_preview_image_loads(console: Console, administrator: Client) -> None:
    console.tenant.logo.save("acme.jpg", ContentFile(factories.DEMO_LOGO_BYTES))

    response = administrator.get(reverse("admin:tenants_tenant_logo", args=[console.tenant.pk]))

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


def test_tenant_page_edits_payment_days_and_vat_treatments(console: Console, administrator: Client) -> None:
    url = PAGES["tenant page"](console)
    treatments = {"tax_codes": {"MEDICAL": {"category": "E", "reference": "Art. 132(1)(b) VAT Directive"}}}
    data = {
        **form_data(administrator.get(url)),
        "payment_terms": "",
        "payment_days": "30",
        "vat_treatments": json.dumps(treatments),
    }

    response = administrator.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant = Tenant.objects.get(pk=console.tenant.pk)
    assert (tenant.payment_days, tenant.vat_treatments) == (30, treatments)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "vat_treatments",
            '{"tax_codes": {"MEDICAL": {"category": "X"}}}',
            "The VAT treatments are not valid",
        ),
        ("vat_treatments", "{not json", "Enter a valid JSON."),
        ("payment_days", "400", "less than or equal to 365"),
    ],
)
def test_tenant_page_refuses_bad_payment_days_and_vat_treatments(
    console: Console, administrator: Client, field: str, value: str, message: str
) -> None:
    url = PAGES["tenant page"](console)
    data = {**form_data(administrator.get(url)), "payment_terms": "", field: value}

    response = administrator.post(url, data)

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors.get(field, []))
    assert Tenant.objects.get(pk=console.tenant.pk).payment_days == console.tenant.payment_days
