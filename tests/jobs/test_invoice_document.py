"""GET /invoice/{tenant}/invoices/{invoiceNumber}/document: the stable, token-protected PDF URL."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integrations.models import StoredOrder
from jobs.services import job_create_manual
from tests import factories
from tests.api_helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(tenant, run_job):
    factories.orders_store(tenant, factories.INVOICE_ORDER)
    run_job(job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER]))
    return "INV1001"


def test_document_downloads_the_pdf_with_a_token(api, issued):
    response = api.get(f"/invoice/acme/invoices/{issued}/document")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="invoice-INV1001.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")


@pytest.mark.parametrize(
    ("query", "accept"), [("", "application/pdf"), ("?format=pdf", "*/*"), ("", "application/xml")]
)
def test_document_is_served_whatever_accept_and_format_say(api, issued, query, accept):
    # A PDF client's Accept header, or a format parameter, must not be taken for DRF's renderer
    # choice (406, or 404 for an unknown renderer format).
    response = api.get(f"/invoice/acme/invoices/{issued}/document{query}", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def test_document_url_is_written_back_onto_the_order(tenant, issued):
    stored = StoredOrder.objects.get(tenant=tenant, order_id=factories.INVOICE_ORDER)
    assert stored.document["mixins"]["invoice"] == {
        "invoiceNo": "INV1001",
        "invoiceDocument": "http://testserver/invoice/acme/invoices/INV1001/document",
    }


def test_document_read_scope_is_enough(tenant, issued):
    client_, _ = factories.api_client_make(tenant, scopes="invoice.invoice_read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    assert api.get(f"/invoice/acme/invoices/{issued}/document").status_code == 200


def test_document_without_token_is_401(issued):
    assert_error(APIClient().get(f"/invoice/acme/invoices/{issued}/document"), 401, "Authentication")


def test_document_of_another_tenant_is_403(other_tenant, issued):
    client_, _ = factories.api_client_make(other_tenant)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    assert_error(api.get(f"/invoice/acme/invoices/{issued}/document"), 403, "not valid for tenant 'acme'")


def test_document_unknown_number_is_404(api, issued):
    assert_error(api.get("/invoice/acme/invoices/INV9999/document"), 404, "Invoice INV9999 not found")
