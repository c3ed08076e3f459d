"""The management commands an operator runs: what they print and what they leave behind."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_application_model
from rest_framework.test import APIClient

from integrations.models import GatewayTransaction, StoredOrder
from invoicing.models import Invoice
from jobs.clients import api_client_revoke
from jobs.models import ApiClient
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_tenant_creates_the_tenant_and_its_series():
    output = run(
        "create_tenant", "acme", "--name", "ACME Shop", "--series-prefix", "AC-", "--series-digits", "6"
    )

    tenant = Tenant.objects.get(code="acme")
    assert tenant.name == "ACME Shop" and tenant.backend == "local"
    series = factories.invoice_series(tenant)
    assert (series.pre_text, series.number_of_digits, series.start_value) == ("AC-", 6, 1000)
    assert "AC-001001 onwards" in output


def test_create_tenant_rejects_an_invalid_code():
    with pytest.raises(CommandError, match="code"):
        run("create_tenant", "Bad-Code", "--name", "x")
    assert not Tenant.objects.exists()


def test_create_tenant_refuses_an_existing_code(tenant):
    with pytest.raises(CommandError, match="exists already"):
        run("create_tenant", "acme", "--name", "again")


def test_create_api_client_prints_the_secret_once_and_stores_it_hashed(tenant):
    output = run("create_api_client", "acme", "--scope", "invoice.invoice_read")

    client_id = re.search(r"^client_id: (\S+)$", output, re.M).group(1)
    secret = re.search(r"^client_secret: (\S+)$", output, re.M).group(1)
    application = get_application_model().objects.get(client_id=client_id)
    assert application.client_secret != secret  # hashed
    assert ApiClient.objects.get(application=application).scopes == "invoice.invoice_read"
    token = APIClient().post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert token.status_code == 200
    assert token.json()["scope"] == "invoice.invoice_read tenant=acme"


def test_create_api_client_rejects_unknown_scopes_and_tenants(tenant):
    with pytest.raises(CommandError, match="Unknown scope"):
        run("create_api_client", "acme", "--scope", "invoice.everything")
    with pytest.raises(CommandError, match="not found"):
        run("create_api_client", "nosuch")


def test_import_orders_stores_valid_orders_and_names_the_rejected(tenant, tmp_path):
    bad = factories.demo_order("DEMO-1003")
    del bad["customer"]["email"]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([factories.demo_order("DEMO-1001"), bad]), encoding="utf-8")
    errors = io.StringIO()

    with pytest.raises(CommandError, match="1 order"):
        call_command("import_orders", str(path), "--tenant", "acme", stdout=io.StringIO(), stderr=errors)

    assert list(StoredOrder.objects.values_list("order_id", flat=True)) == ["DEMO-1001"]
    assert "DEMO-1003: " in errors.getvalue() and "customer.email: is required" in errors.getvalue()
    assert GatewayTransaction.objects.filter(order_id="DEMO-1001").exists()  # its authorisation


def demo_token(secret: str = "demo-secret") -> int:
    response = APIClient().post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": secret},
    )
    return response.status_code


def test_seed_demo_leaves_a_revoked_demo_client_revoked():
    run("seed_demo")
    demo_client = ApiClient.objects.get(application__client_id="demo-client")
    api_client_revoke(api_client=demo_client)
    revoked_at = ApiClient.objects.get(pk=demo_client.pk).revoked_at

    run("seed_demo")

    assert ApiClient.objects.get(pk=demo_client.pk).revoked_at == revoked_at
    assert demo_token() == 401


def test_seed_demo_keeps_a_changed_demo_secret_and_what_operators_edited():
    run("seed_demo")
    application = get_application_model().objects.get(client_id="demo-client")
    application.client_secret = "rotated-by-the-operator"
    application.save()
    Tenant.objects.filter(code="demo").update(name="Renamed by the operator")
    edited = StoredOrder.objects.get(order_id="DEMO-1002")
    edited.document = {**edited.document, "status": "CANCELLED"}
    edited.save()
    StoredOrder.objects.filter(order_id="DEMO-1020").delete()

    output = run("seed_demo")

    assert demo_token("demo-secret") == 401 and demo_token("rotated-by-the-operator") == 200
    assert Tenant.objects.get(code="demo").name == "Renamed by the operator"
    assert StoredOrder.objects.get(order_id="DEMO-1002").document["status"] == "CANCELLED"
    assert StoredOrder.objects.filter(order_id="DEMO-1020").exists()  # what is missing is created
    assert "1 demo orders added" in output


def test_seed_demo_twice_keeps_the_data():
    run("seed_demo")
    tenant = Tenant.objects.get(code="demo")
    assert StoredOrder.objects.filter(tenant=tenant).count() == 20
    assert tenant.logo
    drive(job_create_manual(tenant=tenant, order_ids=["DEMO-1001"]))
    invoice = Invoice.objects.get(tenant=tenant, order_id="DEMO-1001")

    output = run("seed_demo")

    assert "demo tenant exists, left as it is: 0 demo orders added" in output
    assert Tenant.objects.filter(code="demo").count() == 1
    assert StoredOrder.objects.filter(tenant=tenant).count() == 20
    assert factories.invoice_series(tenant).counter == 1001  # the series was not reset
    assert Invoice.objects.get(pk=invoice.pk).number == "INV1001"
    stored = StoredOrder.objects.get(tenant=tenant, order_id="DEMO-1001")
    assert stored.document["mixins"]["invoice"]["invoiceNo"] == "INV1001"  # the write-back survives
    assert ApiClient.objects.filter(tenant=tenant).count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1
    token = APIClient().post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
    )
    assert token.status_code == 200
