"""The console's e-invoices: every format for download on the invoice page (the API's XML), the
validation outcome of each format at issue, the list's "e-invoice valid" column, and the
tenant's switch for validation (administrators change it, operators only see it)."""

from __future__ import annotations

import re
from typing import Any

import facturx
import pytest
from django.test import Client
from django.urls import reverse
from lxml import etree

from invoicing.downloads import invoice_einvoice_xml
from invoicing.einvoice import FORMATS
from invoicing.einvoice.validation import Finding, ValidationReport
from invoicing.models import Invoice
from tenants.models import Tenant
from tests.console.helpers import DECLINED, PAGES, Console, form_data, login, rows

pytestmark = pytest.mark.django_db

XML_ROOTS = {
    "facturx": "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice",
    "xrechnung-cii": "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice",
    "xrechnung-ubl": "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
    "peppol-bis": "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
}


def einvoice_url(invoice: Invoice, fmt: str) -> str:
    return reverse("admin:invoicing_invoice_einvoice", args=[invoice.pk, fmt])


def report(fmt: str, *findings: tuple[str, str, str]) -> dict[str, Any]:
    """A stored ValidationReport (Invoice.einvoice_report[fmt]) with (rule, flag, text) findings."""
    return ValidationReport(
        fmt=fmt, findings=tuple(Finding(rule=r, flag=f, text=t, rule_set="test") for r, f, t in findings)
    ).to_json()


REJECTED = {
    "facturx": report(
        "facturx",
        ("BR-CO-10", "fatal", "Sum of Invoice line net amount = Σ Invoice line net amount."),
        (
            "BR-S-08",
            "fatal",
            "For each different value of VAT category rate ... the VAT category taxable amount",
        ),
        ("BR-DE-21", "warning", "A warning that does not block."),
    ),
    "xrechnung-ubl": report("xrechnung-ubl", ("PEPPOL-EN16931-R001", "warning", "Business process missing")),
}


# --- the invoice page -------------------------------------------------------------------------------
def test_invoice_page_offers_every_format_for_download(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["invoice page"](console)).content.decode()

    pdf_url = reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk])
    assert f'href="{pdf_url}?download=1" id="download-facturx-pdf"' in html
    for fmt in FORMATS:
        assert f'href="{einvoice_url(console.invoice, fmt)}" id="download-{fmt}"' in html, fmt
    assert "PDF/A-3 with the Factur-X XML embedded" in html
    for label in (
        "Factur-X / ZUGFeRD",
        "XRechnung 3.0 (CII)",
        "XRechnung 3.0 (UBL)",
        "Peppol BIS Billing 3.0",
    ):
        assert label in html


def test_invoice_page_shows_the_validation_outcome_stored_at_issue(
    console: Console, operator: Client
) -> None:
    stored = console.invoice.einvoice_report
    assert "facturx" in stored, "the issued invoice has no validation report of its Factur-X XML"

    html = operator.get(PAGES["invoice page"](console)).content.decode()

    for fmt in FORMATS:
        row = re.search(rf'<tr id="einvoice-{fmt}">(.*?)</tr>', html, re.S)
        assert row, fmt
        if fmt in stored:
            assert ValidationReport.from_json(stored[fmt]).ok, (fmt, stored[fmt])
            assert "valid: no fatal rule broken" in row.group(1), fmt
        else:
            assert "not validated at issue" in row.group(1), fmt


def test_invoice_page_names_the_fatal_rules_and_counts_warnings(console: Console, operator: Client) -> None:
    Invoice.objects.filter(pk=console.invoice.pk).update(einvoice_report=REJECTED)

    html = operator.get(PAGES["invoice page"](console)).content.decode()

    facturx_row = re.search(r'<tr id="einvoice-facturx">(.*?)</tr>', html, re.S).group(1)
    assert "rejected: 2 fatal rules broken" in facturx_row and "1 warning" in facturx_row
    assert "<code>BR-CO-10</code> Sum of Invoice line net amount = Σ Invoice line net amount." in facturx_row
    assert "<code>BR-S-08</code>" in facturx_row
    assert "BR-DE-21" not in facturx_row  # a warning is counted, not listed
    ubl_row = re.search(r'<tr id="einvoice-xrechnung-ubl">(.*?)</tr>', html, re.S).group(1)
    assert "valid: no fatal rule broken" in ubl_row and "1 warning" in ubl_row
    peppol_row = re.search(r'<tr id="einvoice-peppol-bis">(.*?)</tr>', html, re.S).group(1)
    assert "not validated at issue" in peppol_row


def test_invoice_page_lists_at_most_twenty_fatal_rules(console: Console, operator: Client) -> None:
    many = report("facturx", *((f"BR-{i:02}", "fatal", f"rule {i}") for i in range(25)))
    Invoice.objects.filter(pk=console.invoice.pk).update(einvoice_report={"facturx": many})

    html = operator.get(PAGES["invoice page"](console)).content.decode()

    assert "rejected: 25 fatal rules broken" in html
    assert "<code>BR-19</code>" in html and "<code>BR-20</code>" not in html
    assert "… and 5 more" in html


def test_invoice_page_escapes_rule_texts(console: Console, operator: Client) -> None:
    evil = report("facturx", ("BR-1", "fatal", "<script>alert(1)</script>"))
    Invoice.objects.filter(pk=console.invoice.pk).update(einvoice_report={"facturx": evil})

    html = operator.get(PAGES["invoice page"](console)).content.decode()

    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_draft_page_offers_no_einvoice(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)

    html = operator.get(reverse("admin:invoicing_invoice_change", args=[draft.pk])).content.decode()

    assert 'id="einvoice"' not in html and "download-facturx" not in html


# --- the downloads ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_downloads_the_apis_xml(console: Console, operator: Client, fmt: str) -> None:
    response = operator.get(einvoice_url(console.invoice, fmt))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Content-Disposition"] == f'attachment; filename="{console.invoice.number}-{fmt}.xml"'
    assert response.content == invoice_einvoice_xml(console.invoice, fmt)
    assert etree.fromstring(response.content).tag == XML_ROOTS[fmt]
    assert console.invoice.number.encode() in response.content


def test_the_pdf_download_is_the_factur_x_pdf(console: Console, operator: Client) -> None:
    response = operator.get(reverse("admin:invoicing_invoice_pdf", args=[console.invoice.pk]) + "?download=1")

    assert response["Content-Type"] == "application/pdf"
    name, xml = facturx.get_xml_from_pdf(response.getvalue(), check_xsd=False)
    assert name == "factur-x.xml"
    assert xml == operator.get(einvoice_url(console.invoice, "facturx")).content


def test_unknown_format_is_404(console: Console, operator: Client) -> None:
    assert operator.get(einvoice_url(console.invoice, "zugferd")).status_code == 404


def test_a_drafts_einvoice_is_404(console: Console, operator: Client) -> None:
    draft = Invoice.objects.get(tenant=console.tenant, order_id=DECLINED)

    assert operator.get(einvoice_url(draft, "facturx")).status_code == 404


@pytest.mark.parametrize("user", ["operator", "administrator", "superuser"])
def test_every_role_may_download(console: Console, user: str) -> None:
    response = login(getattr(console, user)).get(einvoice_url(console.invoice, "xrechnung-cii"))

    assert response.status_code == 200


def test_download_refused_for_staff_without_a_role(console: Console) -> None:
    response = login(console.staff_without_role).get(einvoice_url(console.invoice, "facturx"))

    assert response.status_code == 403


def test_download_sends_anonymous_to_login(console: Console) -> None:
    response = Client().get(einvoice_url(console.invoice, "facturx"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


# --- the list ----------------------------------------------------------------------------------------
def test_invoice_list_shows_whether_the_einvoice_is_valid(console: Console, operator: Client) -> None:
    Invoice.objects.filter(pk=console.captured_invoice.pk).update(einvoice_report=REJECTED)
    Invoice.objects.filter(pk=console.invoice.pk).update(einvoice_report={"facturx": report("facturx")})

    response = operator.get(PAGES["invoices"](console), {"status__exact": "ISSUED"})

    html = response.content.decode()
    assert "<span>E-invoice valid</span>" in html
    shown = {invoice.number: invoice for invoice in rows(response)}
    assert {console.invoice.number, console.captured_invoice.number} <= set(shown)

    def cell(number: str) -> str:
        row = re.search(rf"<tr>(?:(?!</tr>).)*>{re.escape(number)}</a>(.*?)</tr>", html, re.S)
        assert row, number
        found = re.search(r'<td class="field-einvoice">(.*?)</td>', row.group(1), re.S)
        assert found, number
        return found.group(1)

    assert 'alt="True"' in cell(console.invoice.number)
    assert 'alt="False"' in cell(console.captured_invoice.number)


# --- the tenant's switch -----------------------------------------------------------------------------
def test_tenant_page_shows_the_validation_switch(console: Console, operator: Client) -> None:
    html = operator.get(PAGES["tenant page"](console)).content.decode()

    section = re.search(r"<h2[^>]*>E-invoices</h2>(.*?)</fieldset>", html, re.S)
    assert section, "no E-invoices section"
    assert "validate e-invoices" in section.group(1).lower()


def test_administrator_switches_validation_off(console: Console, administrator: Client) -> None:
    url = PAGES["tenant page"](console)
    data = form_data(administrator.get(url))
    assert data.pop("einvoice_validation") == "on"  # on by default

    response = administrator.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tenant.objects.get(pk=console.tenant.pk).einvoice_validation is False


def test_operator_cannot_switch_validation_off(console: Console) -> None:
    url = PAGES["tenant page"](console)
    data = form_data(login(console.administrator).get(url))
    data.pop("einvoice_validation")

    response = login(console.operator).post(url, data)

    assert response.status_code == 403
    assert Tenant.objects.get(pk=console.tenant.pk).einvoice_validation is True
