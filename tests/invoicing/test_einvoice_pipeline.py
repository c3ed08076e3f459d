"""Every invoice is also an EN 16931 e-invoice: checked before capture, checked again and embedded at issue.

Through the real pipeline (tests.pipeline.drive) on PostgreSQL, with the official rule sets
(invoicing.einvoice.validation) and the local payment gateway's fake (GatewayCapture rows):

- an order the rules reject fails before capture, naming the rule, with no number spent and
  nothing captured; the tenant's switch lets it through;
- a good order's stored PDF is the Factur-X PDF/A-3 with factur-x.xml, its reports are stored;
- the email carries that very PDF, and for a buyer who asks for XRechnung also the XRechnung XML;
- a rejection at issue (after the number) keeps the invoice and says so in the order's message.
"""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import facturx
import pikepdf
import pytest
from django.core import mail
from lxml import etree

from integrations.models import GatewayCapture
from integrations.services import stored_legal_entity_upsert
from invoicing.documents import from_json
from invoicing.einvoice import validation
from invoicing.einvoice.validation import Finding, ValidationReport
from invoicing.models import Invoice, PaymentCapture
from invoicing.order_store import stored_order_upsert
from invoicing.summary import invoice_summary
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

BUYER = "BUND-1"
LEITWEG_ID = "04011000-1234512345-06"
XRECHNUNG_ID = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"


def run(tenant: Tenant, order_id: str) -> JobOrder:
    job = drive(job_create_manual(tenant=tenant, order_ids=[order_id]))
    return JobOrder.objects.select_related("invoice").get(job=job, order_id=order_id)


def without_seller_tax_ids(tenant: Tenant) -> Tenant:
    """A merchant who never entered a VAT ID or tax number: an invoice with VAT cannot be an
    EN 16931 e-invoice (BR-S-02: a standard-rated line needs the seller's VAT ID or tax number;
    BR-CO-26: the seller must be identifiable). The recalculation itself lets it through."""
    Tenant.objects.filter(pk=tenant.pk).update(vat_id="", tax_number="")
    return Tenant.objects.get(pk=tenant.pk)


def public_buyer_order(tenant: Tenant, **routing: Any) -> str:
    """The pay-by-invoice demo order, placed for a German public buyer with a Leitweg-ID."""
    stored_legal_entity_upsert(
        tenant=tenant,
        legal_entity_id=BUYER,
        document={
            "id": BUYER,
            "name": "Beschaffungsamt",
            "legalInfo": {
                "legalName": "Beschaffungsamt des BMI",
                "taxRegistrationNumber": "DE136695976",
                "countryOfRegistration": "DE",
            },
            "mixins": {"eInvoicing": {"buyerReference": LEITWEG_ID, **routing}},
        },
    )
    document = factories.demo_order(factories.INVOICE_ORDER, legalEntityId=BUYER)
    stored_order_upsert(tenant=tenant, order_id=factories.INVOICE_ORDER, document=document)
    return factories.INVOICE_ORDER


def stored_pdf(invoice: Invoice) -> bytes:
    with invoice.pdf.open("rb") as handle:
        return handle.read()


# --- before capture ---------------------------------------------------------------------------------
def test_order_the_rules_reject_fails_before_capture_naming_the_rule(tenant):
    tenant = without_seller_tax_ids(tenant)
    factories.orders_store(tenant, factories.CARD_ORDER)

    row = run(tenant, factories.CARD_ORDER)

    assert row.status == "FAILURE"
    assert row.message.startswith("The order cannot become a valid e-invoice; the official rules reject it")
    assert "BR-S-02" in row.message or "BR-CO-26" in row.message, row.message
    assert "Nothing was captured and no invoice was issued" in row.message
    assert not GatewayCapture.objects.exists()  # the gateway was never called
    assert not PaymentCapture.objects.filter(order_id=factories.CARD_ORDER).exists()
    assert factories.invoice_series(tenant).counter is None  # no number spent
    invoice = Invoice.objects.get(tenant=tenant, order_id=factories.CARD_ORDER)
    assert invoice.status == Invoice.Status.DRAFT and invoice.number is None
    report = ValidationReport.from_json(invoice.einvoice_report["facturx"])  # the console shows why
    assert not report.ok and {f.rule for f in report.fatal} & {"BR-S-02", "BR-CO-26"}
    assert len(mail.outbox) == 0


def test_the_switch_off_lets_such_an_order_through_still_as_factur_x(tenant):
    tenant = without_seller_tax_ids(tenant)
    Tenant.objects.filter(pk=tenant.pk).update(einvoice_validation=False)
    factories.orders_store(tenant, factories.CARD_ORDER)

    with mock.patch.object(validation, "validate", wraps=validation.validate) as validate:
        row = run(tenant, factories.CARD_ORDER)

    assert row.status == "SUCCESS", row.message
    assert validate.call_count == 0  # nothing validated
    invoice = row.invoice
    assert invoice.einvoice_report == {}
    filename, xml = facturx.get_xml_from_pdf(stored_pdf(invoice), check_xsd=False)
    assert filename == "factur-x.xml" and invoice.number.encode() in xml


def test_a_rejected_order_succeeds_once_corrected_with_the_same_draft(tenant):
    without_seller_tax_ids(tenant)
    factories.orders_store(tenant, factories.CARD_ORDER)
    assert run(tenant, factories.CARD_ORDER).status == "FAILURE"
    Tenant.objects.filter(pk=tenant.pk).update(vat_id="DE999999999")

    row = run(Tenant.objects.get(pk=tenant.pk), factories.CARD_ORDER)

    assert row.status == "SUCCESS", row.message
    assert row.invoice.number == "INV1001"
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    assert ValidationReport.from_json(row.invoice.einvoice_report["facturx"]).ok


# --- at issue ---------------------------------------------------------------------------------------
def test_good_order_is_stored_and_emailed_as_factur_x_pdf_a3_with_ok_reports(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)

    row = run(tenant, factories.CARD_ORDER)

    assert row.status == "SUCCESS", row.message
    assert "Attention" not in row.message
    invoice = row.invoice
    pdf = stored_pdf(invoice)
    with pikepdf.open(io.BytesIO(pdf)) as carrier:
        with carrier.open_metadata() as xmp:
            assert xmp.get("pdfaid:part") == "3"
            assert xmp.get("pdfaid:conformance") == "B"
        assert "/OutputIntents" in carrier.Root
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    # BT-1: the issued number, not the placeholder the check before capture used
    assert etree.fromstring(xml).findtext(f"{{{RSM}}}ExchangedDocument/{{{RAM}}}ID") == invoice.number
    assert set(invoice.einvoice_report) == {"facturx"}
    assert ValidationReport.from_json(invoice.einvoice_report["facturx"]).ok
    document = from_json(invoice.document)
    assert (document.payment_means, document.buyer_reference, document.einvoice_format) == ("card", "", "")
    assert (document.buyer_electronic_scheme, document.buyer_electronic_address) == (
        "EM",
        invoice.customer_email,
    )
    (message,) = mail.outbox
    assert [(name, kind) for name, _content, kind in message.attachments] == [
        ("invoice-INV1001.pdf", "application/pdf")
    ]
    assert message.attachments[0][1] == pdf  # the stored Factur-X file, the download link's file


def test_buyer_with_a_leitweg_id_gets_the_xrechnung_xml_too(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(phone="+49 30 1234567")  # XRechnung: seller contact phone
    tenant = Tenant.objects.get(pk=tenant.pk)
    order_id = public_buyer_order(tenant)

    row = run(tenant, order_id)

    assert row.status == "SUCCESS", row.message
    invoice = row.invoice
    document = from_json(invoice.document)
    assert (document.buyer_reference, document.einvoice_format) == (LEITWEG_ID, "xrechnung")
    assert (document.buyer_electronic_scheme, document.buyer_electronic_address) == (
        "EM",
        "zoe.cwikla@example.org",
    )
    assert document.payment_means == "transfer"
    assert set(invoice.einvoice_report) == {"facturx", "xrechnung-cii"}
    assert all(ValidationReport.from_json(r).ok for r in invoice.einvoice_report.values())
    (message,) = mail.outbox
    names = [(name, kind) for name, _content, kind in message.attachments]
    assert names == [("invoice-INV1001.pdf", "application/pdf"), ("INV1001.xml", "application/xml")]
    xml = message.attachments[1][1]
    xml = xml if isinstance(xml, bytes) else xml.encode()
    assert XRECHNUNG_ID.encode() in xml and LEITWEG_ID.encode() in xml
    assert validation.validate(xml, "xrechnung-cii").ok
    assert message.attachments[0][1] == stored_pdf(invoice)


def test_buyer_with_a_peppol_id_is_addressed_by_it(tenant):
    Tenant.objects.filter(pk=tenant.pk).update(phone="+49 30 1234567")
    tenant = Tenant.objects.get(pk=tenant.pk)
    order_id = public_buyer_order(tenant, peppolParticipantId="0204:991-33333TEST-33", format="xrechnung")

    row = run(tenant, order_id)

    assert row.status == "SUCCESS", row.message
    document = from_json(row.invoice.document)
    assert (document.buyer_electronic_scheme, document.buyer_electronic_address) == (
        "0204",
        "991-33333TEST-33",
    )
    _name, xml = facturx.get_xml_from_pdf(stored_pdf(row.invoice), check_xsd=False)
    assert b"991-33333TEST-33" in xml


def test_xrechnung_wish_without_the_sellers_phone_fails_before_capture(tenant):
    """XRechnung needs the seller's contact telephone (BR-DE-6): a tenant without one cannot
    serve a public buyer; the order fails before anything happens, naming the XRechnung rule."""
    order_id = public_buyer_order(tenant)

    row = run(tenant, order_id)

    assert row.status == "FAILURE"
    assert "XRechnung (CII): BR-DE-6:" in row.message, row.message
    assert "Factur-X" not in row.message  # the Factur-X itself is fine
    assert not GatewayCapture.objects.exists()
    assert factories.invoice_series(tenant).counter is None


def test_rejection_at_issue_keeps_the_invoice_and_says_so(tenant):
    """The check after numbering rejects (it should not, after the check before capture): the
    number stands, the PDF/A is stored and sent, the report is kept and the message says it."""
    factories.orders_store(tenant, factories.CARD_ORDER)
    real = validation.validate
    finding = Finding(rule="BR-DE-99", flag="fatal", text="Made up for the test.", rule_set="test")

    def reject_issued(xml: bytes, fmt: str) -> ValidationReport:
        report = real(xml, fmt)
        if b"INV1001" in xml:
            return ValidationReport(fmt=report.fmt, findings=(*report.findings, finding))
        return report

    with mock.patch.object(validation, "validate", reject_issued):
        row = run(tenant, factories.CARD_ORDER)

    assert row.status == "SUCCESS", row.message
    assert row.invoice.number == "INV1001" and row.invoice.pdf
    assert "Invoice INV1001 created" in row.message
    assert "Attention: the issued e-invoice fails the official rules" in row.message
    assert "BR-DE-99: Made up for the test." in row.message
    assert not ValidationReport.from_json(row.invoice.einvoice_report["facturx"]).ok
    assert len(mail.outbox) == 1
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    # the message an operator's resend rebuilds (invoice_summary) still says it
    assert "BR-DE-99: Made up for the test." in invoice_summary(row.invoice)


def test_three_decimal_amounts_fail_before_capture_naming_the_decimals_rule(tenant):
    """EN 16931 allows two decimals on amounts (BR-DEC-*): a KWD order priced in fils cannot be an
    e-invoice the rules accept. With validation on it fails before capture; such a tenant
    switches validation off (tests/invoicing/test_order_rounding.py then invoices it)."""
    from tests.invoicing.test_order_rounding import invoice_order, rate_kept, sales_order

    rate_kept(tenant, "KWD", "2.95")

    row = invoice_order(tenant, sales_order("KWD-1", [("10.003", "19")] * 3, per_line=True, currency="KWD"))

    assert row.status == "FAILURE"
    assert "BR-DEC-" in row.message, row.message
    assert not GatewayCapture.objects.exists()
    assert factories.invoice_series(tenant).counter is None


@pytest.mark.parametrize(
    ("method", "provider", "means"),
    [("cash_on_delivery", "CASH_ON_DELIVERY", "cash"), ("invoice", "INVOICE", "transfer")],
)
def test_payment_means_follow_how_the_order_is_paid(tenant, method, provider, means):
    document = factories.demo_order(factories.INVOICE_ORDER)
    for payment in document["payments"]:
        payment.update(method=method, provider=provider)
    stored_order_upsert(tenant=tenant, order_id=factories.INVOICE_ORDER, document=document)

    row = run(tenant, factories.INVOICE_ORDER)

    assert row.status == "SUCCESS", row.message
    assert from_json(row.invoice.document).payment_means == means
    assert ValidationReport.from_json(row.invoice.einvoice_report["facturx"]).ok
