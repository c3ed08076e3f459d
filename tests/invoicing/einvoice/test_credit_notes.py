"""Credit notes as EN 16931 e-invoices (issue 13): BT-3 381, the corrected invoice as BG-3, the
reason as a note, positive amounts, no payment request; in every format the service offers
(Factur-X CII in the PDF/A-3, XRechnung CII and UBL, Peppol BIS) and with zero fatal findings
against the same official rules as invoices.

The credit-note documents are built the way the contract of issue 13 describes them: the issued
invoice's document (tests/invoicing/einvoice/cases.py, through the real recalculation) with
`dataclasses.replace`: the credit note's number and date, `document_type="credit_note"`, the
invoice as BT-25/BT-26, the rows that are credited (positive; a credited discount negative, as
on the invoice), their VAT breakdown and totals, nothing due and no payment terms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import io
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

import facturx
import pikepdf
import pytest
from lxml import etree

from invoicing.documents import (
    CREDIT_NOTE,
    PAY_BACK,
    REFUNDED,
    InvoiceDocument,
    InvoiceRow,
    TaxBreakdownLine,
)
from invoicing.einvoice import FORMATS, PLACEHOLDER_NUMBER, einvoice_invoice, einvoice_xml
from invoicing.einvoice.pdfa import facturx_pdf
from invoicing.einvoice.validation import ValidationReport, validate, warm_up
from invoicing.i18n import Formats, language_override
from invoicing.pdf import render_invoice_pdf, wording
from invoicing.steps.einvoice import (
    EInvoiceRejected,
    einvoice_final,
    einvoice_formats,
    einvoice_precheck,
    einvoice_warning,
)
from tests.invoicing.einvoice import cases
from tests.invoicing.einvoice.cases import ABROAD, ALL, CASES, CONSUMER

D = Decimal
CENT = D("0.01")
CREDITED_ON = dt.date(2025, 6, 24)
CREDIT_NUMBER = "GS-2025-000007"
EXAMPLES = cases.__file__.rsplit("/", 1)[0] + "/examples"

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement/"
_SUM = _SETTLEMENT + "ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
# Where each business term of a credit note is, per syntax.
TERMS = {
    "cii": {
        "BT-1": "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
        "BT-3": "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode",
        "BT-9": _SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
        "BT-20": _SETTLEMENT + "ram:SpecifiedTradePaymentTerms/ram:Description",
        "BT-21": "//rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode",
        "BT-22": "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content",
        "BT-25": _SETTLEMENT + "ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
        "BT-26": _SETTLEMENT + "ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString",
        "BT-6": _SETTLEMENT + "ram:TaxCurrencyCode",
        "BT-10": "//ram:BuyerReference",
        "BT-48": "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']",
        "BT-81": _SETTLEMENT + "ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode",
        "BT-83": _SETTLEMENT + "ram:PaymentReference",
        "BT-84": _SETTLEMENT + "ram:SpecifiedTradeSettlementPaymentMeans//ram:IBANID",
        "BT-109": _SUM + "ram:TaxBasisTotalAmount",
        "BT-110": _SUM + "ram:TaxTotalAmount[@currencyID=//ram:InvoiceCurrencyCode]",
        "BT-111": _SUM + "ram:TaxTotalAmount[@currencyID=//ram:TaxCurrencyCode]",
        "BT-112": _SUM + "ram:GrandTotalAmount",
        "BT-113": _SUM + "ram:TotalPrepaidAmount",
        "BT-115": _SUM + "ram:DuePayableAmount",
        "BT-118": _SETTLEMENT + "ram:ApplicableTradeTax/ram:CategoryCode",
        "BT-129": "//ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
        "BT-131": "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
    },
    "ubl": {
        "BT-1": "/cn:CreditNote/cbc:ID",
        "BT-3": "/cn:CreditNote/cbc:CreditNoteTypeCode",
        "BT-9": "//cbc:PaymentDueDate | /*/cbc:DueDate",
        "BT-20": "/cn:CreditNote/cac:PaymentTerms/cbc:Note",
        "BT-22": "/cn:CreditNote/cbc:Note",
        "BT-25": "/cn:CreditNote/cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
        "BT-26": "/cn:CreditNote/cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate",
        "BT-6": "/cn:CreditNote/cbc:TaxCurrencyCode",
        "BT-10": "/cn:CreditNote/cbc:BuyerReference",
        "BT-48": "//cac:AccountingCustomerParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        "BT-81": "/cn:CreditNote/cac:PaymentMeans/cbc:PaymentMeansCode",
        "BT-83": "/cn:CreditNote/cac:PaymentMeans/cbc:PaymentID",
        "BT-84": "/cn:CreditNote/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
        "BT-109": "//cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
        "BT-110": "/cn:CreditNote/cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount",
        "BT-111": "/cn:CreditNote/cac:TaxTotal[not(cac:TaxSubtotal)]/cbc:TaxAmount",
        "BT-112": "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
        "BT-113": "//cac:LegalMonetaryTotal/cbc:PrepaidAmount",
        "BT-115": "//cac:LegalMonetaryTotal/cbc:PayableAmount",
        "BT-118": "/cn:CreditNote/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID",
        "BT-129": "//cac:CreditNoteLine/cbc:CreditedQuantity",
        "BT-131": "//cac:CreditNoteLine/cbc:LineExtensionAmount",
    },
}


def syntax_of(fmt: str) -> str:
    return "cii" if fmt in ("facturx", "xrechnung-cii") else "ubl"


def terms(xml: bytes, fmt: str, term: str) -> list[str]:
    root = etree.fromstring(xml)
    return [str(e.text or "") for e in root.xpath(TERMS[syntax_of(fmt)][term], namespaces=NS)]


def term(xml: bytes, fmt: str, name: str) -> str:
    values = terms(xml, fmt, name)
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def amount(xml: bytes, fmt: str, name: str) -> Decimal:
    return D(term(xml, fmt, name))


def date_text(value: dt.date, fmt: str) -> str:
    return value.strftime("%Y%m%d") if syntax_of(fmt) == "cii" else value.isoformat()


# --- building credit notes as the contract describes them ------------------------------------------
def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _breakdown(invoice: InvoiceDocument, rows: tuple[InvoiceRow, ...]) -> tuple[TaxBreakdownLine, ...]:
    """The VAT of the credited rows, per rate and category, as the invoice computes it: from the
    nets (B2B) or from the grosses (gross-priced B2C); the invoice's provision per category."""
    groups: dict[tuple[Decimal, str], list[InvoiceRow]] = {}
    for row in rows:
        groups.setdefault((row.tax_rate, row.vat_category), []).append(row)
    out = []
    for (rate, category), members in groups.items():
        reference = next(
            (t.reference for t in invoice.tax_breakdown if (t.rate, t.category) == (rate, category)), ""
        )
        if invoice.prices_gross:
            gross = sum((r.gross if r.gross is not None else r.net for r in members), D(0))
            tax = _round(gross * rate / (100 + rate))
            net = gross - tax
        else:
            net = sum((r.net for r in members), D(0))
            tax = _round(net * rate / 100)
            gross = net + tax
        out.append(TaxBreakdownLine(rate, net, tax, gross, category, reference))
    return tuple(out)


def credit_note(
    invoice: InvoiceDocument,
    rows: tuple[InvoiceRow, ...] | None = None,
    *,
    refund: str | None = None,
    reason: str = "Goods returned",
    number: str = CREDIT_NUMBER,
) -> InvoiceDocument:
    """The credit note of `invoice`: the whole invoice (a cancellation) when `rows` is None, else
    the rows given. Refunded to the card when the invoice was paid by card, else paid back."""
    cancellation = rows is None
    if rows is None:
        rows, breakdown = invoice.rows, invoice.tax_breakdown
        net, tax, gross = invoice.net_total, invoice.tax_total, invoice.gross_total
        foreign = invoice.foreign_currency_vat
    else:
        breakdown = _breakdown(invoice, rows)
        net = sum((t.net for t in breakdown), D(0))
        tax = sum((t.tax for t in breakdown), D(0))
        gross = net + tax
        foreign = invoice.foreign_currency_vat
        if foreign is not None:  # Art. 230: the credited VAT in the seller's currency, same rate
            foreign = dataclasses.replace(foreign, tax_total=_round(tax * foreign.rate))
    return dataclasses.replace(
        invoice,
        number=number,
        issue_date=CREDITED_ON if number else None,
        document_type=CREDIT_NOTE,
        preceding_invoice_number=invoice.number,
        preceding_invoice_date=invoice.issue_date,
        credit_reason=reason,
        refund=refund if refund is not None else (REFUNDED if invoice.paid else PAY_BACK),
        cancels_invoice=cancellation,
        rows=rows,
        tax_breakdown=breakdown,
        net_total=net,
        tax_total=tax,
        gross_total=gross,
        foreign_currency_vat=foreign,
        paid=False,
        amount_due=None,
        due_date=None,
        payment_days=None,
        payment_note="",
    )


def part(row: InvoiceRow, quantity: str, *, prices_gross: bool) -> InvoiceRow:
    """`quantity` of an invoice row, priced as on the invoice."""
    q = D(quantity)
    if prices_gross:
        assert row.unit_gross is not None
        gross = _round(row.unit_gross * q)
        net = gross - _round(gross * row.tax_rate / (100 + row.tax_rate))
        return dataclasses.replace(row, quantity=q, net=net, gross=gross)
    return dataclasses.replace(row, quantity=q, net=_round(row.unit_net * q))


def goodwill(invoice: InvoiceDocument, amounts: dict[str, str]) -> tuple[InvoiceRow, ...]:
    """A goodwill credit: a gross amount per VAT rate of the invoice, one row per rate."""
    rows = []
    for rate_text, gross_text in amounts.items():
        rate, gross = D(rate_text), D(gross_text)
        line = next(t for t in invoice.tax_breakdown if t.rate == rate)
        net = gross - _round(gross * rate / (100 + rate))
        rows.append(
            InvoiceRow(
                "item", f"Goodwill credit {rate_text} %", D(1), net, rate, net,
                unit_gross=gross if invoice.prices_gross else None,
                gross=gross if invoice.prices_gross else None, vat_category=line.category,
            )
        )  # fmt: skip
    return tuple(rows)


def items(invoice: InvoiceDocument) -> list[InvoiceRow]:
    return [row for row in invoice.rows if row.kind == "item"]


# --- the situations of the issue ------------------------------------------------------------------------
def full_cancellation() -> InvoiceDocument:
    """A German business's bank-transfer invoice cancelled whole ("Storno"): paid back or offset."""
    return credit_note(cases.b2b_de(), reason="Order cancelled by the customer")


def full_cancellation_card() -> InvoiceDocument:
    """A consumer's card-paid, gross-priced invoice cancelled whole: refunded to the card."""
    return credit_note(cases.b2c_de_19(), reason="Withdrawal within 14 days")


def cancellation_with_discounts_and_charges() -> InvoiceDocument:
    """Shipping and fees credited as charges, the credited voucher (negative) as an allowance."""
    return credit_note(cases.discounts_shipping_fees())


def partial_lines() -> InvoiceDocument:
    """3 of the 10 toner cartridges returned."""
    invoice = cases.b2b_de()
    return credit_note(
        invoice, (part(items(invoice)[0], "3", prices_gross=False),), reason="3 cartridges returned"
    )


def goodwill_per_rate() -> InvoiceDocument:
    """A goodwill credit of 11.90 at 19 % on a card-paid invoice: refunded to the card."""
    invoice = cases.b2b_de_card()
    return credit_note(invoice, goodwill(invoice, {"19": "11.90"}), reason="Late delivery, goodwill")


def goodwill_two_rates() -> InvoiceDocument:
    """11.90 at 19 % and 5.35 at 7 % on a bank-transfer invoice: paid back or offset."""
    invoice = cases.b2b_de()
    return credit_note(invoice, goodwill(invoice, {"19": "11.90", "7": "5.35"}), reason="Goodwill")


def reverse_charge() -> InvoiceDocument:
    """Services to a French business (AE, its VAT ID): 3 of 8 hours credited."""
    invoice = cases.eu_fr_services()
    return credit_note(
        invoice, (part(items(invoice)[0], "3", prices_gross=False),), reason="Hours billed twice"
    )


def reverse_charge_cancelled() -> InvoiceDocument:
    return credit_note(cases.eu_fr_services(), reason="Project cancelled")


def gross_priced_b2c() -> InvoiceDocument:
    """A consumer's gross-priced 7 % invoice, paid by transfer: one bag of coffee beans back."""
    invoice = cases.b2c_de_7()
    return credit_note(invoice, (part(items(invoice)[0], "1", prices_gross=True),), reason="Damaged bag")


def gross_priced_b2c_goodwill() -> InvoiceDocument:
    invoice = cases.b2c_de_19()
    return credit_note(invoice, goodwill(invoice, {"19": "50.00"}), reason="Scratch on the machine")


def foreign_currency() -> InvoiceDocument:
    """A CHF invoice with the Art. 230 VAT in EUR, cancelled: the credited VAT in EUR too (BT-111)."""
    return credit_note(cases.chf(), reason="Wrong delivery address")


def foreign_currency_partial() -> InvoiceDocument:
    invoice = cases.chf()
    return credit_note(invoice, (part(items(invoice)[1], "1", prices_gross=False),), reason="One returned")


def foreign_currency_b2c() -> InvoiceDocument:
    """A USD gross-priced consumer invoice, paid by transfer: two items back."""
    invoice = cases.usd()
    return credit_note(invoice, (part(items(invoice)[1], "2", prices_gross=True),), reason="Returned")


def leitweg() -> InvoiceDocument:
    """A German public buyer with a Leitweg-ID (XRechnung): the whole invoice cancelled."""
    return credit_note(cases.b2b_de_leitweg(), reason="Invoice issued to the wrong office")


def leitweg_partial() -> InvoiceDocument:
    invoice = cases.b2b_de_leitweg()
    return credit_note(
        invoice, (part(items(invoice)[1], "1", prices_gross=False),), reason="Flipchart damaged"
    )


def intra_community() -> InvoiceDocument:
    """An intra-Community supply (K, Art. 138) cancelled: still names where the goods went."""
    return credit_note(cases.eu_nl(), reason="Goods refused")


def unnumbered() -> InvoiceDocument:
    """Checked before it is numbered, as invoices are before capture."""
    return credit_note(cases.b2b_de_leitweg(), number="")


SITUATIONS: dict[str, tuple[Callable[[], InvoiceDocument], tuple[str, ...]]] = {
    "full-cancellation": (full_cancellation, ALL),
    "full-cancellation-card-b2c": (full_cancellation_card, CONSUMER),
    "cancellation-discounts-charges": (cancellation_with_discounts_and_charges, ALL),
    "partial-lines": (partial_lines, ALL),
    "goodwill-card": (goodwill_per_rate, ALL),
    "goodwill-two-rates": (goodwill_two_rates, ALL),
    "reverse-charge-ae-partial": (reverse_charge, ABROAD),
    "reverse-charge-ae-cancelled": (reverse_charge_cancelled, ABROAD),
    "gross-priced-b2c": (gross_priced_b2c, CONSUMER),
    "gross-priced-b2c-goodwill": (gross_priced_b2c_goodwill, CONSUMER),
    "foreign-currency-art-230": (foreign_currency, ALL),
    "foreign-currency-partial": (foreign_currency_partial, ALL),
    "foreign-currency-b2c": (foreign_currency_b2c, CONSUMER),
    "xrechnung-leitweg-id": (leitweg, ALL),
    "xrechnung-leitweg-id-partial": (leitweg_partial, ALL),
    "intra-community-k": (intra_community, ABROAD),
    "unnumbered": (unnumbered, ALL),
}
MATRIX = [(name, fmt) for name, (_build, formats) in SITUATIONS.items() for fmt in formats]
# Every invoice of the e-invoice matrix, cancelled whole (the draft has no number to refer to).
CANCELLED = [
    (name, fmt) for name, case in CASES.items() if name != "draft-unnumbered" for fmt in case.formats
]


@functools.cache
def document(name: str) -> InvoiceDocument:
    return SITUATIONS[name][0]()


@functools.cache
def xml_of(name: str, fmt: str) -> bytes:
    return einvoice_xml(document(name), fmt)


@functools.cache
def cancelled(name: str) -> InvoiceDocument:
    return credit_note(CASES[name].build(), reason=f"Cancellation of {name}")


@pytest.fixture(scope="session")
def check() -> Callable[[bytes, str], ValidationReport]:
    warm_up(FORMATS)
    return validate


# --- zero fatal findings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "fmt"), MATRIX, ids=[f"{name}-{fmt}" for name, fmt in MATRIX])
def test_credit_note_has_no_fatal_finding(check, name, fmt):
    report = check(xml_of(name, fmt), fmt)

    assert report.ok, f"{name} as {fmt}: {report.message(limit=20)}"
    assert report.checked[0] in ("Factur-X-EN16931-XSD", "UBL-2.1-CreditNote-XSD")


@pytest.mark.parametrize(("name", "fmt"), CANCELLED, ids=[f"{name}-{fmt}" for name, fmt in CANCELLED])
def test_every_invoice_of_the_matrix_cancelled_has_no_fatal_finding(check, name, fmt):
    report = check(einvoice_xml(cancelled(name), fmt), fmt)

    assert report.ok, f"cancellation of {name} as {fmt}: {report.message(limit=20)}"


@pytest.mark.parametrize("name", list(SITUATIONS))
def test_credit_note_cii_passes_the_factur_x_en16931_xsd(name):
    for fmt in ("facturx", "xrechnung-cii"):
        assert facturx.xml_check_xsd(xml_of(name, fmt), flavor="factur-x", level="en16931")


# --- what the XML says ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_type_code_381_and_the_corrected_invoice(fmt):
    doc = document("full-cancellation")
    xml = xml_of("full-cancellation", fmt)

    assert term(xml, fmt, "BT-3") == "381"
    assert term(xml, fmt, "BT-1") == CREDIT_NUMBER
    assert term(xml, fmt, "BT-25") == doc.preceding_invoice_number == cases.NUMBER
    assert doc.preceding_invoice_date is not None
    assert term(xml, fmt, "BT-26") == date_text(doc.preceding_invoice_date, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reason_is_a_note_with_subject_reason(fmt):
    xml = xml_of("partial-lines", fmt)

    if syntax_of(fmt) == "cii":
        assert term(xml, fmt, "BT-22") == "3 cartridges returned"
        assert term(xml, fmt, "BT-21") == "ACD"  # UNTDID 4451 "Reason" (BR-CL-08)
    else:  # UBL writes the subject code in front of the text (BR-CL-08)
        assert term(xml, fmt, "BT-22") == "#ACD#3 cartridges returned"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_reason_with_hashes_stays_valid(check, fmt):
    """UBL reads "#XYZ#" in a note as a subject code (BR-CL-08); the code in front keeps a reason
    such as "#12#" (or "#ABC#") from being read as one."""
    doc = dataclasses.replace(document("partial-lines"), credit_reason="Ticket #ABC# / order #12")
    report = check(einvoice_xml(doc, fmt), fmt)

    assert report.ok, report.message(limit=20)


@pytest.mark.parametrize(
    ("name", "fmt", "code"),
    [
        ("full-cancellation-card-b2c", "facturx", "48"),
        ("full-cancellation-card-b2c", "xrechnung-cii", "68"),  # BR-DE-24-a: 48 wants the card's digits
        ("full-cancellation-card-b2c", "xrechnung-ubl", "68"),
        ("goodwill-card", "peppol-bis", "68"),  # two German parties: DE-R-024-1
    ],
)
def test_refunded_credit_note_is_settled(name, fmt, code):
    """Refunded by the gateway to the card: nothing is owed any more (BT-113 = BT-112, BT-115 0)."""
    doc = document(name)
    xml = xml_of(name, fmt)

    assert doc.refund == REFUNDED
    assert term(xml, fmt, "BT-81") == code
    assert amount(xml, fmt, "BT-113") == doc.gross_total
    assert amount(xml, fmt, "BT-115") == 0
    assert terms(xml, fmt, "BT-84") == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_paid_back_credit_note_owes_the_credited_total_without_a_payment_account(fmt):
    """Paid back or offset: BT-115 is what the seller owes; no credit transfer code, since that
    needs the account to pay to (BR-61, BR-DE-23-a) and the seller's IBAN would be the wrong one."""
    doc = document("full-cancellation")
    xml = xml_of("full-cancellation", fmt)

    assert doc.refund == PAY_BACK
    assert term(xml, fmt, "BT-81") == "1"
    assert terms(xml, fmt, "BT-84") == []
    assert b"DE89370400440532013000" not in xml
    assert term(xml, fmt, "BT-83") == CREDIT_NUMBER
    assert terms(xml, fmt, "BT-113") == []
    assert amount(xml, fmt, "BT-115") == doc.gross_total > 0


@pytest.mark.parametrize("name", ["full-cancellation", "full-cancellation-card-b2c", "goodwill-card"])
def test_nothing_is_requested_of_the_buyer(name):
    """No due date (BT-9); BT-20 says what becomes of the amount, in the PDF's words."""
    doc = document(name)
    with language_override(doc.language):
        formats = Formats(doc.language)
        sentence = wording.refund_sentence(doc, formats)
        money = formats.money(doc.gross_total, doc.currency)
    assert money in sentence
    for fmt in SITUATIONS[name][1]:
        xml = xml_of(name, fmt)
        assert terms(xml, fmt, "BT-9") == []
        assert terms(xml, fmt, "BT-20") == [sentence]


@pytest.mark.parametrize("name", list(SITUATIONS))
def test_amounts_are_positive_and_the_documents(name):
    doc = document(name)
    for fmt in SITUATIONS[name][1]:
        xml = xml_of(name, fmt)
        assert amount(xml, fmt, "BT-109") == doc.net_total > 0
        assert amount(xml, fmt, "BT-110") == doc.tax_total >= 0
        assert amount(xml, fmt, "BT-112") == doc.gross_total > 0
        assert all(D(q) > 0 for q in terms(xml, fmt, "BT-129"))
        assert all(D(a) > 0 for a in terms(xml, fmt, "BT-131"))


def test_credited_discount_is_an_allowance_and_shipping_a_charge():
    doc = document("cancellation-discounts-charges")
    invoice = einvoice_invoice(doc, "peppol-bis")

    assert [a.amount for a in invoice.allowances] == [-row.net for row in doc.rows if row.kind == "discount"]
    assert {c.reason_code for c in invoice.charges} >= {"FC"}
    assert all(a.amount > 0 for a in invoice.allowances_charges)


@pytest.mark.parametrize("name", ["reverse-charge-ae-partial", "reverse-charge-ae-cancelled"])
def test_reverse_charge_credit_note_names_the_buyers_vat_id(name):
    for fmt in ABROAD:
        xml = xml_of(name, fmt)
        assert term(xml, fmt, "BT-48") == "FR40303265045"
        assert terms(xml, fmt, "BT-118") == ["AE"]


@pytest.mark.parametrize(
    "name", ["foreign-currency-art-230", "foreign-currency-partial", "foreign-currency-b2c"]
)
def test_foreign_currency_credit_note_states_its_vat_in_eur(name):
    doc = document(name)
    assert doc.foreign_currency_vat is not None
    for fmt in SITUATIONS[name][1]:
        xml = xml_of(name, fmt)
        assert term(xml, fmt, "BT-6") == "EUR"
        assert amount(xml, fmt, "BT-111") == doc.foreign_currency_vat.tax_total


@pytest.mark.parametrize("fmt", FORMATS)
def test_leitweg_id_stays_the_buyer_reference(fmt):
    assert term(xml_of("xrechnung-leitweg-id", fmt), fmt, "BT-10") == "991-12345-67"


@pytest.mark.parametrize("fmt", FORMATS)
def test_unnumbered_credit_note_gets_the_placeholder(fmt):
    xml = xml_of("unnumbered", fmt)

    assert term(xml, fmt, "BT-1") == PLACEHOLDER_NUMBER
    assert term(xml, fmt, "BT-3") == "381"


def test_same_document_same_xml():
    for fmt in FORMATS:
        assert einvoice_xml(leitweg(), fmt) == einvoice_xml(leitweg(), fmt)


# --- UBL: a CreditNote document, shaped like the EN 16931 example -------------------------------------------
def _local(tag: str) -> str:
    return etree.QName(tag).localname


def _in_order(ours: list[str], reference: list[str]) -> bool:
    """The elements both have come in the same order."""
    common = [tag for tag in ours if tag in reference]
    positions = [reference.index(tag) for tag in common]
    return positions == sorted(positions)


@pytest.mark.parametrize("fmt", ["xrechnung-ubl", "peppol-bis"])
def test_ubl_credit_note_is_shaped_like_the_official_example(fmt):
    example = etree.parse(f"{EXAMPLES}/ubl-tc434-creditnote1.xml").getroot()
    ours = etree.fromstring(xml_of("partial-lines", fmt))

    assert ours.tag == example.tag == f"{{{NS['cn']}}}CreditNote"
    top, reference_top = [_local(e.tag) for e in ours], [_local(e.tag) for e in example]
    # Same relative order for what both carry, and the credit-note specific elements.
    assert _in_order(top, reference_top)
    assert "CreditNoteTypeCode" in top and "InvoiceTypeCode" not in top and "DueDate" not in top
    assert top.index("CreditNoteTypeCode") < top.index("Note") < top.index("DocumentCurrencyCode")
    assert top.index("OrderReference") < top.index("BillingReference") < top.index("AccountingSupplierParty")
    assert top[-1] == "CreditNoteLine" and "InvoiceLine" not in top
    line = [_local(e.tag) for e in ours.find("cac:CreditNoteLine", NS)]
    reference_line = [_local(e.tag) for e in example.find("cac:CreditNoteLine", NS)]
    assert line == [tag for tag in reference_line if tag in line]
    assert line[:3] == ["ID", "CreditedQuantity", "LineExtensionAmount"]


def test_the_official_ubl_credit_note_example_passes_the_en16931_rules(check):
    with open(f"{EXAMPLES}/ubl-tc434-creditnote1.xml", "rb") as file:
        report = check(file.read(), "xrechnung-ubl")
    # Its CustomizationID is plain EN 16931, so only the XRechnung CIUS rules may object to it.
    assert {f.rule_set for f in report.fatal} <= {"XRechnung-UBL"}


# --- invoices stay as they were ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_invoice_is_still_380_without_notes_or_preceding_invoice(fmt):
    xml = einvoice_xml(cases.b2b_de(), fmt)
    root = etree.fromstring(xml)

    if syntax_of(fmt) == "ubl":
        assert root.tag == f"{{{NS['ubl']}}}Invoice"
        assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "380"
        assert root.find("cbc:Note", NS) is None and root.find("cac:BillingReference", NS) is None
        assert root.find("cac:InvoiceLine", NS) is not None
    else:
        assert root.xpath("string(//rsm:ExchangedDocument/ram:TypeCode)", namespaces=NS) == "380"
        assert not root.xpath("//ram:IncludedNote | //ram:InvoiceReferencedDocument", namespaces=NS)


# --- the Factur-X PDF/A-3 of a credit note ---------------------------------------------------------------
@functools.cache
def credit_note_pdf(name: str) -> tuple[bytes, bytes]:
    doc = document(name)
    xml = einvoice_xml(doc, "facturx")
    return xml, facturx_pdf(render_invoice_pdf(doc), xml, document=doc)


@pytest.mark.parametrize("name", ["full-cancellation", "gross-priced-b2c"])
def test_facturx_pdf_embeds_the_credit_notes_xml(check, name):
    xml, pdf = credit_note_pdf(name)

    filename, embedded = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml" and embedded == xml
    assert (
        etree.fromstring(embedded).xpath("string(//rsm:ExchangedDocument/ram:TypeCode)", namespaces=NS)
        == "381"
    )
    assert check(embedded, "facturx").ok
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        with opened.open_metadata() as meta:
            assert meta.pdfa_status == "3B"
        spec = opened.Root.AF[0]
        assert str(spec.F) == "factur-x.xml" and spec.AFRelationship == "/Alternative"
        xmp = etree.fromstring(opened.Root.Metadata.read_bytes())
    fx = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
    # One Factur-X document type for every CII invoice document; BT-3 says credit note.
    assert xmp.findtext(f".//{{{fx}}}DocumentType") == "INVOICE"
    assert xmp.findtext(f".//{{{fx}}}ConformanceLevel") == "EN 16931"


def test_facturx_pdf_of_a_credit_note_is_reproducible():
    doc = document("full-cancellation")
    xml, pdf = credit_note_pdf("full-cancellation")

    assert facturx_pdf(render_invoice_pdf(doc), einvoice_xml(doc, "facturx"), document=doc) == pdf
    assert einvoice_xml(doc, "facturx") == xml


# --- the pipeline's functions ---------------------------------------------------------------------------------
def test_credit_note_is_checked_in_the_formats_of_its_buyer():
    assert einvoice_formats(document("xrechnung-leitweg-id")) == ("facturx", "xrechnung-cii")
    assert einvoice_formats(document("partial-lines")) == ("facturx",)


def test_precheck_of_an_unnumbered_credit_note_passes():
    report = einvoice_precheck(document("unnumbered"), validate=True)

    assert set(report) == {"facturx", "xrechnung-cii"}
    assert all(data["ok"] for data in report.values())


def test_precheck_names_the_credit_note_and_the_rule_when_the_rules_reject_it():
    doc = document("partial-lines")
    doc = dataclasses.replace(doc, seller=dataclasses.replace(doc.seller, vat_id="", tax_number=""))

    with pytest.raises(EInvoiceRejected) as caught:
        einvoice_precheck(doc, validate=True)

    message = str(caught.value)
    assert message.startswith(f"The credit note {CREDIT_NUMBER} for invoice {cases.NUMBER} cannot become")
    assert "BR-CO-26" in message and "No credit note was issued and nothing was refunded" in message
    assert caught.value.reports["facturx"]["ok"] is False


def test_final_embeds_the_validated_credit_note_and_keeps_the_reports():
    doc = document("xrechnung-leitweg-id")
    pdf, report = einvoice_final(doc, render_invoice_pdf(doc), validate=True)

    assert set(report) == {"facturx", "xrechnung-cii"} and all(r["ok"] for r in report.values())
    _filename, embedded = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert embedded == einvoice_xml(doc, "facturx")
    assert einvoice_warning(report, credit_note=True) == ""


def test_warning_for_an_issued_credit_note_that_fails_the_rules():
    failing = ValidationReport(fmt="facturx", findings=(), checked=("XSD",)).to_json()
    failing["findings"] = [
        {"rule": "BR-CO-26", "flag": "fatal", "text": "seller id", "rule_set": "EN16931-CII"}
    ]

    warning = einvoice_warning({"facturx": failing}, credit_note=True)

    assert warning.startswith("Attention: the issued credit note's e-invoice fails the official rules")
    assert "BR-CO-26" in warning and "invoice and a new invoice" not in warning
    assert "a credit note and a new invoice" in einvoice_warning({"facturx": failing})
