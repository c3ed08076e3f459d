"""GET /invoice/{tenant}/invoices/{invoiceNumber}/einvoice?format=F: an issued invoice as EN 16931 XML.

Same scopes, tenant check and 404 as the PDF document endpoint (tests/jobs/test_invoice_document.py);
`facturx` is byte for byte the factur-x.xml inside the PDF the customer received.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import facturx
import pytest
from django.db import transaction
from django.test import Client
from lxml import etree
from rest_framework.test import APIClient

from invoicing.documents import from_json
from invoicing.einvoice import FORMATS, einvoice_xml
from invoicing.models import Invoice
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.api_helpers import assert_error
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

MANAGE, READ, ORDERS = "invoice.invoice_manage", "invoice.invoice_read", "invoice.order_manage"
PATH = "/invoice/{tenant}/invoices/{invoiceNumber}/einvoice"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
EN16931 = "urn:cen.eu:en16931:2017"
# BT-24, the specification identifier of each syntax (root element, where BT-1 and BT-24 are)
EXPECTED: dict[str, tuple[str, str, str, str]] = {
    "facturx": (
        f"{{{RSM}}}CrossIndustryInvoice",
        "rsm:ExchangedDocument/ram:ID",
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        EN16931,
    ),
    "xrechnung-cii": (
        f"{{{RSM}}}CrossIndustryInvoice",
        "rsm:ExchangedDocument/ram:ID",
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        f"{EN16931}#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    ),
    "xrechnung-ubl": (
        f"{{{UBL}}}Invoice",
        "cbc:ID",
        "cbc:CustomizationID",
        f"{EN16931}#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    ),
    "peppol-bis": (
        f"{{{UBL}}}Invoice",
        "cbc:ID",
        "cbc:CustomizationID",
        f"{EN16931}#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
    ),
}
NAMESPACES = {"rsm": RSM, "ram": RAM, "cbc": CBC}


def url(number: str = "INV1001", tenant: str = "acme") -> str:
    return PATH.format(tenant=tenant, invoiceNumber=number)


def bearer(tenant: Any, scopes: str | None = None) -> APIClient:
    api_client, _ = (
        factories.api_client_make(tenant) if scopes is None else factories.api_client_make(tenant, scopes)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(api_client)}")
    return client


@dataclass
class Issued:
    tenant: Tenant
    other_tenant: Tenant  # has no invoices
    invoice: Invoice  # INV1001 of acme


@pytest.fixture(scope="module")
def issued_data(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Issued]:
    """One issued invoice for the module (a job with validation takes a while), built inside an
    outer transaction rolled back at the end; each test runs in a savepoint of it."""
    with django_db_blocker.unblock(), transaction.atomic():
        tenant, other = factories.tenant_make("acme"), factories.tenant_make("globex")
        factories.orders_store(tenant, factories.INVOICE_ORDER)
        drive(job_create_manual(tenant=tenant, order_ids=[factories.INVOICE_ORDER]))
        invoice = Invoice.objects.get(tenant=tenant, order_id=factories.INVOICE_ORDER)
        assert (invoice.status, invoice.number) == (Invoice.Status.ISSUED, "INV1001")
        yield Issued(tenant=tenant, other_tenant=other, invoice=invoice)
        transaction.set_rollback(True)


@pytest.fixture
def tenant(issued_data: Issued, db: Any) -> Tenant:  # the root conftest's `api` and `token` use it
    return issued_data.tenant


@pytest.fixture
def other_tenant(issued_data: Issued, db: Any) -> Tenant:
    return issued_data.other_tenant


@pytest.fixture
def issued(issued_data: Issued, db: Any) -> Invoice:
    issued_data.invoice.refresh_from_db()
    return issued_data.invoice


def stored_pdf(invoice: Invoice) -> bytes:
    with invoice.pdf.open("rb") as handle:
        return handle.read()


# --- each format ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_answers_its_xml(api: APIClient, issued: Invoice, fmt: str) -> None:
    response = api.get(url(), {"format": fmt})

    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == f'attachment; filename="INV1001-{fmt}.xml"'
    root = etree.fromstring(response.content)
    root_tag, number_path, specification_path, specification = EXPECTED[fmt]
    assert root.tag == root_tag
    assert root.findtext(number_path, namespaces=NAMESPACES) == "INV1001"  # BT-1
    assert root.findtext(specification_path, namespaces=NAMESPACES) == specification  # BT-24
    assert response.content.startswith(b"<?xml")


def test_the_formats_are_the_four_of_the_issue() -> None:
    assert tuple(FORMATS) == ("facturx", "xrechnung-cii", "xrechnung-ubl", "peppol-bis")


def test_facturx_is_the_xml_embedded_in_the_pdf(api: APIClient, issued: Invoice) -> None:
    name, embedded = facturx.get_xml_from_pdf(stored_pdf(issued), check_xsd=False)

    response = api.get(url(), {"format": "facturx"})

    assert name == "factur-x.xml", "the stored PDF carries no factur-x.xml"
    assert response.content == embedded
    # and building it again from the stored document gives the same bytes (deterministic)
    assert einvoice_xml(from_json(issued.document), "facturx") == embedded


def test_an_accept_header_for_xml_is_served(api: APIClient, issued: Invoice) -> None:
    response = api.get(url(), {"format": "peppol-bis"}, HTTP_ACCEPT="application/xml")

    assert response.status_code == 200 and response["Content-Type"] == "application/xml"


def test_head_answers_the_headers(issued: Invoice, tenant: Any) -> None:
    response = bearer(tenant, READ).head(url() + "?format=xrechnung-ubl")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="INV1001-xrechnung-ubl.xml"'


# --- 400: the format ---------------------------------------------------------------------------------
def test_missing_format_is_400(api: APIClient, issued: Invoice) -> None:
    body = assert_error(api.get(url()), 400, "The query parameter format is required.")
    assert body["detailInfo"] == "format must be one of: facturx, xrechnung-cii, xrechnung-ubl, peppol-bis."


@pytest.mark.parametrize("value", ["pdf", "FACTURX", "xrechnung", "", " facturx", "zugferd"])
def test_unknown_format_is_400(api: APIClient, issued: Invoice, value: str) -> None:
    body = assert_error(api.get(url(), {"format": value}), 400, "Unknown e-invoice format")
    assert repr(value) in body["message"]
    assert "facturx, xrechnung-cii, xrechnung-ubl, peppol-bis" in body["detailInfo"]


def test_a_long_format_is_400_without_being_echoed(api: APIClient, issued: Invoice) -> None:
    value = "x" * 5000

    response = api.get(url(), {"format": value})

    body = assert_error(response, 400, "Unknown e-invoice format given.")
    assert value not in response.content.decode() and len(response.content) < 500, body


def test_a_format_with_control_characters_is_not_echoed(api: APIClient, issued: Invoice) -> None:
    assert_error(api.get(url(), {"format": "facturx\n"}), 400, "Unknown e-invoice format given.")


def test_format_given_twice_is_400(api: APIClient, issued: Invoice) -> None:
    response = api.get(url() + "?format=facturx&format=peppol-bis")

    assert_error(response, 400, "more than once")


def test_the_format_is_checked_before_the_invoice(api: APIClient, tenant: Any) -> None:
    assert_error(api.get(url("INV9999"), {"format": "nope"}), 400, "Unknown e-invoice format")


# --- 404: the invoice --------------------------------------------------------------------------------
def test_unknown_number_is_404(api: APIClient, issued: Invoice) -> None:
    assert_error(api.get(url("INV9999"), {"format": "facturx"}), 404, "Invoice INV9999 not found")


@pytest.mark.parametrize("number", ["x" * 101, "..", "INV\x001001"])
def test_impossible_numbers_are_404(api: APIClient, issued: Invoice, number: str) -> None:
    assert_error(api.get(url(number), {"format": "facturx"}), 404, "Invoice not found.")


def test_a_draft_is_404(api: APIClient, issued: Invoice) -> None:
    Invoice.objects.filter(pk=issued.pk).update(status=Invoice.Status.DRAFT)  # numbered, not issued

    assert_error(api.get(url(), {"format": "facturx"}), 404, "Invoice INV1001 not found")


def test_another_tenants_invoice_is_404_for_its_own_path(issued: Invoice, other_tenant: Any) -> None:
    globex = bearer(other_tenant)

    assert_error(globex.get(url(tenant="globex"), {"format": "facturx"}), 404, "Invoice INV1001 not found")


# --- auth and scopes, as the PDF document endpoint --------------------------------------------------
def test_the_read_scope_is_enough(issued: Invoice, tenant: Any) -> None:
    assert bearer(tenant, READ).get(url(), {"format": "facturx"}).status_code == 200
    assert bearer(tenant, MANAGE).get(url(), {"format": "facturx"}).status_code == 200


def test_the_order_scope_alone_is_403(issued: Invoice, tenant: Any) -> None:
    response = bearer(tenant, ORDERS).get(url(), {"format": "facturx"})

    body = assert_error(response, 403, "required scope")
    assert body["detailInfo"] == f"Needs one of: {MANAGE}, {READ}."
    assert "Content-Disposition" not in response


def test_head_needs_the_get_scopes(issued: Invoice, tenant: Any) -> None:
    response = bearer(tenant, ORDERS).head(url() + "?format=facturx")

    assert response.status_code == 403 and "Content-Disposition" not in response


def test_without_token_is_401(issued: Invoice) -> None:
    assert_error(APIClient().get(url(), {"format": "facturx"}), 401, "Authentication")


def test_a_token_in_the_query_is_401(issued: Invoice, token: str) -> None:
    response = APIClient().get(url(), {"format": "facturx", "access_token": token})

    assert_error(response, 401, "Authentication required")


def test_another_tenants_path_is_403(issued: Invoice, other_tenant: Any) -> None:
    globex = bearer(other_tenant)

    assert_error(globex.get(url(), {"format": "facturx"}), 403, "not valid for tenant 'acme'")


def test_post_is_405(api: APIClient, issued: Invoice) -> None:
    assert_error(api.post(url() + "?format=facturx"), 405, "Method POST is not allowed")


# --- the OpenAPI the service serves ------------------------------------------------------------------
@pytest.fixture
def schema(db: Any) -> dict[str, Any]:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def deref(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_schema_documents_the_endpoint(schema: dict[str, Any]) -> None:
    operation = schema["paths"][PATH]["get"]
    parameters = {p["name"]: p for p in (deref(schema, p) for p in operation["parameters"])}

    assert operation["operationId"] == "GET-invoice-einvoice"
    assert set(schema["paths"][PATH]) == {"get"}
    assert parameters["format"]["in"] == "query" and parameters["format"]["required"] is True
    assert parameters["format"]["schema"]["enum"] == list(FORMATS)
    assert parameters["invoiceNumber"]["in"] == "path"
    assert parameters["tenant"]["schema"]["pattern"] == "^[a-z][a-z0-9]+$"
    ok = operation["responses"]["200"]["content"]
    assert list(ok) == ["application/xml"] and ok["application/xml"]["schema"]["type"] == "string"
    for status in ("400", "401", "403", "404"):
        content = operation["responses"][status]["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorResponse"}, status
    assert operation["security"] == [{"oauth2": [MANAGE]}, {"oauth2": [READ]}]


def test_schema_documents_it_with_the_scopes_of_the_pdf_endpoint(schema: dict[str, Any]) -> None:
    pdf = schema["paths"]["/invoice/{tenant}/invoices/{invoiceNumber}/document"]["get"]

    assert schema["paths"][PATH]["get"]["security"] == pdf["security"]
    assert schema["paths"][PATH]["get"]["tags"] == pdf["tags"]
