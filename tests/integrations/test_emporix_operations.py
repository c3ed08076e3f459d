"""Connecting a tenant to Emporix as an operator does it: the command, the admin, check_tenant."""

from __future__ import annotations

import io

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from integrations.emporix.adapters import site_cache
from integrations.emporix.client import clear_token_cache
from tenants.models import Tenant
from tests.integrations import emporix_payloads as p
from tests.integrations.emporix_fake import FakeEmporix
from tests.integrations.test_emporix import SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_token_cache()
    site_cache.clear()


def create_shop(**extra: str) -> str:
    out = io.StringIO()
    call_command(
        "create_tenant", "shop", "--name", "Shop", "--backend", "emporix", "--emporix-url", p.BASE_URL,
        "--client-id", "invoice-service", "--client-secret", SECRET, stdout=out, **extra,
    )  # fmt: skip
    return out.getvalue()


def check(code: str = "shop") -> tuple[str, str | None]:
    out = io.StringIO()
    try:
        call_command("check_tenant", code, stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def test_create_tenant_with_the_emporix_backend_stores_the_secret_encrypted():
    output = create_shop()

    tenant = Tenant.objects.get(code="shop")
    assert tenant.backend == "emporix" and tenant.emporix_client_id == "invoice-service"
    assert tenant.decrypted_emporix_client_secret() == SECRET
    assert SECRET not in tenant.emporix_client_secret_encrypted
    assert SECRET not in output and "check_tenant shop" in output
    assert not tenant.number_series.exists()  # numbers come from Emporix


def test_create_tenant_emporix_without_credentials_is_refused():
    with pytest.raises(CommandError, match="needs --client-id and --client-secret"):
        call_command("create_tenant", "shop", "--name", "Shop", "--backend", "emporix", stdout=io.StringIO())
    assert not Tenant.objects.exists()


def test_check_tenant_reports_a_ready_connection():
    create_shop()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeEmporix(mock)
        mock.get(
            p.BASE_URL + "/sequential-id/shop/schemas/types/invoiceNoSequence",
            json=[{"name": "invoiceNoSequence", "active": True, "preText": "INV", "numberOfDigits": 4,
                   "startValue": 1000, "maxValue": 999999999, "counter": 1017}],
        )  # fmt: skip
        mock.get(p.GET_CONFIGURATION.url(propertyKey="invoiceSettings"), json=p.invoice_settings())
        output, error = check()

    assert error is None, output
    assert "[ok  ] token" in output and "[ok  ] scopes: all needed scopes granted" in output
    assert "[ok  ] site: main" in output and "[ok  ] logo" in output
    assert "active invoiceNoSequence schema 'invoiceNoSequence'" in output and "counter 1017" in output
    assert "ready to invoice" in output
    assert SECRET not in output


def test_check_tenant_names_missing_scopes_and_schema_and_fails():
    create_shop()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeEmporix(mock).scopes = ("order.order_read",)
        mock.get(p.BASE_URL + "/sequential-id/shop/schemas/types/invoiceNoSequence", json=[])
        output, error = check()

    assert error and "problem(s) block invoicing" in error
    assert "[FAIL] scopes: missing: order.order_update" in output
    assert "payment-gateway.capture_manage (capture payments)" in output
    assert "[FAIL] invoice numbers: no active invoiceNoSequence schema" in output
    assert "[warn] invoiceSettings: not configured" in output


def test_check_tenant_with_wrong_credentials_fails_at_the_token():
    create_shop()
    with responses.RequestsMock() as mock:
        mock.post(p.TOKEN.url(), status=401, json={"error": "invalid_client"})
        output, error = check()
    assert error
    assert "[FAIL] token: Emporix OAuth refused the client credentials of tenant shop" in output


def test_admin_secret_is_write_only_and_kept_when_left_empty(client):
    create_shop()
    admin = get_user_model().objects.create_superuser("root", "", "pw")
    client.force_login(admin)
    tenant = Tenant.objects.get(code="shop")
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"

    page = client.get(url).content.decode()
    assert SECRET not in page and tenant.emporix_client_secret_encrypted not in page
    assert "(stored)" in page

    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(tenant).items() if v is not None and k != "logo"}
    data["emporix_number_placeholders"] = "{}"
    data["emporix_client_secret"] = ""
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Tenant.objects.get(pk=tenant.pk).decrypted_emporix_client_secret() == SECRET  # kept

    data["emporix_client_secret"] = "new-secret"
    client.post(url, data)
    assert Tenant.objects.get(pk=tenant.pk).decrypted_emporix_client_secret() == "new-secret"


def test_check_tenant_flags_a_required_placeholder_the_tenant_does_not_send():
    create_shop()
    schema = {"name": "invoiceNoSequence", "active": True, "preText": "INV__num__", "numberOfDigits": 4,
              "placeholders": {"__num__": {"required": True}}}  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeEmporix(mock)
        mock.get(p.BASE_URL + "/sequential-id/shop/schemas/types/invoiceNoSequence", json=[schema])
        output, error = check()
    assert error
    assert "[FAIL] number placeholders: the schema requires __num__" in output

    Tenant.objects.filter(code="shop").update(emporix_number_placeholders={"__num__": ""})
    clear_token_cache()
    site_cache.clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeEmporix(mock)
        mock.get(p.BASE_URL + "/sequential-id/shop/schemas/types/invoiceNoSequence", json=[schema])
        output, _ = check()
    assert "number placeholders" not in output


# --- the base URL must be public https (SSRF) --------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://api.emporix.io", "must use https"),
        ("https://10.0.0.5", "points to a private address (10.0.0.5)"),
        ("https://169.254.169.254/latest", "points to a link-local address (169.254.169.254)"),
        ("https://[::1]:8443", "points to a loopback address (::1)"),
        ("https://[::ffff:127.0.0.1]", "points to a loopback address (::ffff:127.0.0.1)"),
        ("https://user:pw@api.emporix.io", "must not contain a user name or password"),
        ("https://api.emporix.io/?tenant=x", "must not have a query or fragment"),
    ],
)
def test_create_tenant_refuses_an_emporix_url_that_is_not_public_https(settings, url, problem):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(CommandError) as caught:
        call_command(
            "create_tenant", "shop", "--name", "Shop", "--backend", "emporix", "--emporix-url", url,
            "--client-id", "invoice-service", "--client-secret", SECRET, stdout=io.StringIO(),
        )  # fmt: skip
    assert str(caught.value) == f"emporix_base_url: The Emporix base URL {problem}."
    assert not Tenant.objects.exists()


def test_create_tenant_accepts_a_local_http_emporix_only_with_the_flag(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    call_command(
        "create_tenant", "shop", "--name", "Shop", "--backend", "emporix", "--emporix-url", "http://127.0.0.1:9000",
        "--client-id", "invoice-service", "--client-secret", SECRET, stdout=io.StringIO(),
    )  # fmt: skip
    assert Tenant.objects.get(code="shop").emporix_base_url == "http://127.0.0.1:9000"


def test_admin_refuses_an_http_emporix_url(client, settings):
    create_shop()
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    client.force_login(get_user_model().objects.create_superuser("root", "", "pw"))
    tenant = Tenant.objects.get(code="shop")
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"

    from django.forms.models import model_to_dict

    data = {k: v for k, v in model_to_dict(tenant).items() if v is not None and k != "logo"}
    data.update(
        emporix_number_placeholders="{}", emporix_client_secret="", emporix_base_url="http://api.emporix.io"
    )
    response = client.post(url, data)

    assert response.status_code == 200
    assert "The Emporix base URL must use https." in response.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).emporix_base_url == p.BASE_URL
