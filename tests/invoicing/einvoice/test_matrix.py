"""Every invoice of the matrix (tests/invoicing/einvoice/cases.py) is, in every format that
applies to it, an e-invoice the official rules accept: the XSD and the EN 16931 rules plus the
CIUS of the format (XRechnung, Peppol BIS), with no fatal assertion. And what a reader of the
XML notices agrees with the PDF's document: totals, VAT IDs, the note per VAT category, the
references, the payment.

The rule sets are compiled once per test session (`invoicing.einvoice.validation` keeps them
per process; the session fixture compiles them before the first case).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from decimal import Decimal

import facturx
import pytest
from lxml import etree

from invoicing.documents import InvoiceDocument
from invoicing.einvoice import FORMATS, PLACEHOLDER_NUMBER, UnknownFormat, einvoice_xml
from invoicing.einvoice.model import country_code, today_for
from invoicing.einvoice.validation import ValidationReport, validate, warm_up
from invoicing.vat import legal_note
from tests.invoicing.einvoice.cases import CASES, kwd_with_fils

D = Decimal
MATRIX = [(name, fmt) for name, case in CASES.items() for fmt in case.formats]
CII_FORMATS = ("facturx", "xrechnung-cii")


@functools.cache
def document(name: str) -> InvoiceDocument:
    """Each case's document, built once per session (the recalculation runs for real)."""
    return CASES[name].build()


@functools.cache
def xml_of(name: str, fmt: str) -> bytes:
    return einvoice_xml(document(name), fmt)


@pytest.fixture(scope="session")
def check() -> Callable[[bytes, str], ValidationReport]:
    warm_up(FORMATS)  # compile every rule set once, before the first case
    return validate


# --- reading business terms back -------------------------------------------------------------------
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_SUM = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
_CII_BREAKDOWN = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
_UBL_SUBTOTAL = "/ubl:Invoice/cac:TaxTotal/cac:TaxSubtotal"
# Where each business term is, per syntax (the XPath a reader of the XML would use).
TERMS = {
    "cii": {
        "BT-1": "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID",
        "BT-2": "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
        "BT-5": "//ram:InvoiceCurrencyCode",
        "BT-6": "//ram:TaxCurrencyCode",
        "BT-10": "//ram:BuyerReference",
        "BT-13": "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
        "BT-29": "//ram:SellerTradeParty/ram:ID",
        "BT-31": "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']",
        "BT-32": "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']",
        "BT-48": "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']",
        "BT-81": "//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode",
        "BT-106": _SUM + "ram:LineTotalAmount",
        "BT-109": _SUM + "ram:TaxBasisTotalAmount",
        "BT-110": _SUM + "ram:TaxTotalAmount[@currencyID=//ram:InvoiceCurrencyCode]",
        "BT-111": _SUM + "ram:TaxTotalAmount[@currencyID=//ram:TaxCurrencyCode]",
        "BT-112": _SUM + "ram:GrandTotalAmount",
        "BT-113": _SUM + "ram:TotalPrepaidAmount",
        "BT-115": _SUM + "ram:DuePayableAmount",
        "BT-116": _CII_BREAKDOWN + "/ram:BasisAmount",
        "BT-117": _CII_BREAKDOWN + "/ram:CalculatedAmount",
        "BT-118": _CII_BREAKDOWN + "/ram:CategoryCode",
        "BT-120": _CII_BREAKDOWN + "/ram:ExemptionReason",
        "BT-121": _CII_BREAKDOWN + "/ram:ExemptionReasonCode",
        "BT-131": "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        "BT-152": "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent",
    },
    "ubl": {
        "BT-1": "/ubl:Invoice/cbc:ID",
        "BT-2": "/ubl:Invoice/cbc:IssueDate",
        "BT-5": "/ubl:Invoice/cbc:DocumentCurrencyCode",
        "BT-6": "/ubl:Invoice/cbc:TaxCurrencyCode",
        "BT-10": "/ubl:Invoice/cbc:BuyerReference",
        "BT-13": "/ubl:Invoice/cac:OrderReference/cbc:ID",
        "BT-29": "//cac:AccountingSupplierParty//cac:PartyIdentification/cbc:ID",
        "BT-31": "//cac:AccountingSupplierParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        "BT-32": "//cac:AccountingSupplierParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID!='VAT']/cbc:CompanyID",
        "BT-48": "//cac:AccountingCustomerParty//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID",
        "BT-81": "//cac:PaymentMeans/cbc:PaymentMeansCode",
        "BT-106": "//cac:LegalMonetaryTotal/cbc:LineExtensionAmount",
        "BT-109": "//cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount",
        "BT-110": "/ubl:Invoice/cac:TaxTotal[cac:TaxSubtotal]/cbc:TaxAmount",
        "BT-111": "/ubl:Invoice/cac:TaxTotal[not(cac:TaxSubtotal)]/cbc:TaxAmount",
        "BT-112": "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
        "BT-113": "//cac:LegalMonetaryTotal/cbc:PrepaidAmount",
        "BT-115": "//cac:LegalMonetaryTotal/cbc:PayableAmount",
        "BT-116": _UBL_SUBTOTAL + "/cbc:TaxableAmount",
        "BT-117": _UBL_SUBTOTAL + "/cbc:TaxAmount",
        "BT-118": _UBL_SUBTOTAL + "/cac:TaxCategory/cbc:ID",
        "BT-120": _UBL_SUBTOTAL + "/cac:TaxCategory/cbc:TaxExemptionReason",
        "BT-121": _UBL_SUBTOTAL + "/cac:TaxCategory/cbc:TaxExemptionReasonCode",
        "BT-131": "//cac:InvoiceLine/cbc:LineExtensionAmount",
        "BT-152": "//cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
    },
}


def syntax_of(fmt: str) -> str:
    return "cii" if fmt in CII_FORMATS else "ubl"


def terms(xml: bytes, fmt: str, term: str) -> list[str]:
    """Every value of a business term in the XML, in document order."""
    root = etree.fromstring(xml)
    return [str(e.text or "") for e in root.xpath(TERMS[syntax_of(fmt)][term], namespaces=NS)]


def term(xml: bytes, fmt: str, name: str) -> str:
    values = terms(xml, fmt, name)
    assert len(values) == 1, f"{name}: {values}"
    return values[0]


def amount(xml: bytes, fmt: str, name: str) -> Decimal:
    return D(term(xml, fmt, name))


def breakdown(xml: bytes, fmt: str) -> list[dict[str, str]]:
    """The VAT breakdown (BG-23) as read back: category, taxable and tax amount, reason, code."""
    tag = "ram:ApplicableTradeTax" if syntax_of(fmt) == "cii" else "cac:TaxSubtotal"
    path = _CII_BREAKDOWN if syntax_of(fmt) == "cii" else _UBL_SUBTOTAL
    out = []
    for line in etree.fromstring(xml).xpath(path, namespaces=NS):
        assert line.tag.endswith(tag.split(":")[1])

        def text(xpath: str, line: etree._Element = line) -> str:
            found = line.xpath(xpath, namespaces=NS)
            return str(found[0].text) if found else ""

        if syntax_of(fmt) == "cii":
            out.append(
                {"category": text("ram:CategoryCode"), "basis": text("ram:BasisAmount"),
                 "tax": text("ram:CalculatedAmount"), "reason": text("ram:ExemptionReason"),
                 "code": text("ram:ExemptionReasonCode")}
            )  # fmt: skip
        else:
            out.append(
                {"category": text("cac:TaxCategory/cbc:ID"), "basis": text("cbc:TaxableAmount"),
                 "tax": text("cbc:TaxAmount"), "reason": text("cac:TaxCategory/cbc:TaxExemptionReason"),
                 "code": text("cac:TaxCategory/cbc:TaxExemptionReasonCode")}
            )  # fmt: skip
    return out


# --- the matrix -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "fmt"), MATRIX, ids=[f"{name}-{fmt}" for name, fmt in MATRIX])
def test_matrix_einvoice_has_no_fatal_assertion(check, name, fmt):
    report = check(xml_of(name, fmt), fmt)

    assert report.ok, f"{name} as {fmt}: {report.message(limit=20)}"
    assert report.checked  # the XSD and every rule set of the format ran


@pytest.mark.parametrize("name", list(CASES))
def test_matrix_cii_passes_the_factur_x_en16931_xsd(name):
    for fmt in CII_FORMATS:
        assert facturx.xml_check_xsd(xml_of(name, fmt), flavor="factur-x", level="en16931")


@pytest.mark.parametrize("name", list(CASES))
def test_matrix_totals_in_the_xml_are_the_documents(name):
    doc = document(name)
    due = D(0) if doc.paid else (doc.amount_due if doc.amount_due is not None else doc.gross_total)
    for fmt in ("facturx", "peppol-bis"):
        xml = xml_of(name, fmt)
        assert amount(xml, fmt, "BT-109") == doc.net_total
        assert amount(xml, fmt, "BT-110") == doc.tax_total
        assert amount(xml, fmt, "BT-112") == doc.gross_total
        assert amount(xml, fmt, "BT-115") == due
        assert term(xml, fmt, "BT-5") == doc.currency
        # BR-CO-10: the line nets add up to BT-106, to the cent
        assert sum(map(D, terms(xml, fmt, "BT-131")), D(0)) == amount(xml, fmt, "BT-106")
        assert [(b["category"], D(b["basis"]), D(b["tax"])) for b in breakdown(xml, fmt)] == [
            (line.category, line.net, line.tax) for line in doc.tax_breakdown
        ]


@pytest.mark.parametrize("name", list(CASES))
def test_matrix_each_vat_category_carries_the_note_the_pdf_prints(name):
    doc = document(name)
    for fmt in ("xrechnung-cii", "peppol-bis"):
        for line, read in zip(doc.tax_breakdown, breakdown(xml_of(name, fmt), fmt), strict=True):
            if line.category in ("S", "Z"):  # BR-S-10, BR-Z-10: no exemption reason
                assert (read["reason"], read["code"]) == ("", "")
            else:
                assert read["reason"] == legal_note(line.category, doc.language, line.reference)
                assert read["reason"]


# --- what a reader notices -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_einvoice_states_seller_and_buyer_vat_ids_and_the_intra_community_note(fmt):
    xml = xml_of("intra-eu-fr", fmt)

    assert term(xml, fmt, "BT-31") == "DE136695976"
    assert term(xml, fmt, "BT-32") == "37/123/45678"
    assert term(xml, fmt, "BT-48") == "FR40303265045"
    [line] = breakdown(xml, fmt)
    assert line["category"] == "K" and line["code"] == "VATEX-EU-IC"
    assert line["reason"] == "Steuerfreie innergemeinschaftliche Lieferung \N{EN DASH} Art. 138 MwStSystRL"


@pytest.mark.parametrize(
    ("name", "category", "code"),
    [
        ("reverse-charge-fr-services", "AE", "VATEX-EU-AE"),
        ("export-us", "G", "VATEX-EU-G"),
        ("export-ch", "G", "VATEX-EU-G"),
        ("not-subject", "O", "VATEX-EU-O"),
        ("exempt-art-132", "E", "VATEX-EU-132-1C"),  # the tenant's reference Art. 132(1)(c)
        ("exempt-no-reference", "E", ""),  # no provision named: the text alone (BR-E-10)
        ("zero-rated", "Z", ""),
    ],
)
def test_einvoice_vatex_code_per_category(name, category, code):
    for fmt in FORMATS:
        read = {line["category"]: line["code"] for line in breakdown(xml_of(name, fmt), fmt)}
        assert read[category] == code


@pytest.mark.parametrize("fmt", FORMATS)
def test_not_subject_invoice_names_no_vat_ids_and_no_rates(fmt):
    xml = xml_of("not-subject", fmt)

    # BR-O-02: no BT-31 / BT-48; the seller stays identified (BR-CO-26) by its VAT ID as BT-29
    assert terms(xml, fmt, "BT-31") == [] and terms(xml, fmt, "BT-48") == []
    assert term(xml, fmt, "BT-29") == "DE136695976"
    assert terms(xml, fmt, "BT-152") == []  # BR-O-05


@pytest.mark.parametrize("fmt", FORMATS)
def test_unnumbered_document_gets_the_placeholder_number_and_todays_date(fmt):
    doc = document("draft-unnumbered")
    assert doc.number == "" and doc.issue_date is None

    xml = xml_of("draft-unnumbered", fmt)

    assert term(xml, fmt, "BT-1") == PLACEHOLDER_NUMBER == "DRAFT"
    today = today_for(doc)
    assert term(xml, fmt, "BT-2") in (today.isoformat(), today.strftime("%Y%m%d"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_buyer_reference_is_the_leitweg_id_or_the_order_id(fmt):
    assert term(xml_of("b2b-de-leitweg-id", fmt), fmt, "BT-10") == "991-12345-67"
    assert term(xml_of("b2b-de", fmt), fmt, "BT-10") == document("b2b-de").order_id
    assert term(xml_of("b2b-de", fmt), fmt, "BT-13") == document("b2b-de").order_id


@pytest.mark.parametrize(
    ("fmt", "code"),
    [("facturx", "48"), ("xrechnung-cii", "68"), ("xrechnung-ubl", "68"), ("peppol-bis", "68")],
)
def test_card_paid_invoice_is_paid_in_full(fmt, code):
    """48 (bank card) where EN 16931 needs no card number; XRechnung (and Peppol BIS between German
    parties) want the card's digits with 48 (BR-DE-24-a), which the gateway never shows: 68."""
    doc = document("b2b-de-card")
    xml = xml_of("b2b-de-card", fmt)

    assert term(xml, fmt, "BT-81") == code
    assert amount(xml, fmt, "BT-113") == doc.gross_total
    assert amount(xml, fmt, "BT-115") == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_bank_transfer_invoice_names_the_sellers_iban_and_the_amount_due(fmt):
    doc = document("b2b-de")
    xml = xml_of("b2b-de", fmt)

    assert term(xml, fmt, "BT-81") == "58"
    assert b"DE89370400440532013000" in xml  # BT-84, without the spaces the PDF prints
    assert terms(xml, fmt, "BT-113") == []
    assert amount(xml, fmt, "BT-115") == doc.gross_total


@pytest.mark.parametrize("name", ["jpy-b2c", "kwd", "chf", "usd-b2c"])
def test_foreign_currency_invoice_states_its_vat_in_eur(name):
    doc = document(name)
    assert doc.foreign_currency_vat is not None
    for fmt in CASES[name].formats:
        xml = xml_of(name, fmt)
        assert term(xml, fmt, "BT-6") == "EUR"
        assert amount(xml, fmt, "BT-111") == doc.foreign_currency_vat.tax_total


def test_jpy_amounts_have_no_decimals():
    xml = xml_of("jpy-b2c", "facturx")

    amounts = [*terms(xml, "facturx", "BT-131"), term(xml, "facturx", "BT-112")]
    assert all("." not in value for value in amounts)


def test_kwd_amounts_are_written_with_two_decimals_when_their_third_is_zero():
    xml = xml_of("kwd", "facturx")

    assert term(xml, "facturx", "BT-110") == "20.40"  # 19.000 + 1.400 KWD


def test_kwd_amount_that_needs_a_fils_is_rejected_by_the_decimal_rules(check):
    """EN 16931 amounts have at most two decimals (BR-DEC-*): 16.578 KWD of VAT cannot be stated,
    and the XML does not pretend otherwise - the validation names the rule."""
    doc = kwd_with_fils()
    assert doc.tax_total == D("16.578")

    report = check(einvoice_xml(doc, "facturx"), "facturx")

    assert "BR-DEC-20" in {finding.rule for finding in report.fatal}


def test_peppol_bis_does_not_apply_to_consumers(check):
    """A consumer has no Peppol participant id, and Peppol BIS takes no email address."""
    report = check(xml_of("b2c-de-7-transfer", "peppol-bis"), "peppol-bis")

    assert [finding.rule for finding in report.fatal] == ["PEPPOL-EN16931-R010"]


def test_builder_reconciles_gross_row_nets_with_the_breakdown_on_the_largest_line():
    doc = document("br-co-10-reconciled-by-builder")
    assert sum((row.net for row in doc.rows), D(0)) == D("8.40") != doc.tax_breakdown[0].net == D("8.36")

    xml = xml_of("br-co-10-reconciled-by-builder", "facturx")

    # the honey (the largest line) absorbs the 4 cents; the totals stay the PDF's
    assert terms(xml, "facturx", "BT-131") == ["0.84", "0.84", "6.68"]
    assert amount(xml, "facturx", "BT-109") == D("8.36") and amount(xml, "facturx", "BT-112") == D("9.96")


@pytest.mark.parametrize("fmt", FORMATS)
def test_seller_with_only_a_tax_number_is_identified_by_it(check, fmt):
    """BR-CO-26 wants a seller identifier; BT-32 alone is not one, so it is also BT-29."""
    doc = document("b2b-de")
    doc = dataclasses.replace(doc, seller=dataclasses.replace(doc.seller, vat_id=""))
    xml = einvoice_xml(doc, fmt)

    assert terms(xml, fmt, "BT-31") == []
    assert term(xml, fmt, "BT-29") == term(xml, fmt, "BT-32") == "37/123/45678"
    if fmt != "peppol-bis":  # Peppol BIS addresses the seller by its VAT ID (PEPPOL-EN16931-R020)
        assert check(xml, fmt).ok, check(xml, fmt).message(limit=20)


@pytest.mark.parametrize(
    ("given", "code"),
    [("DE", "DE"), ("de", "DE"), ("Germany", "DE"), ("Deutschland", "DE"), ("Allemagne", "DE"),
     ("Pays-Bas", "NL"), ("Polska", "PL"), ("Schweiz", "CH"), ("EL", "GR"), ("Atlantis", "")],
)  # fmt: skip
def test_country_names_and_codes_become_iso_codes(given, code):
    assert country_code(given) == code


def test_unknown_format_is_refused():
    with pytest.raises(UnknownFormat, match="cxml"):
        einvoice_xml(document("b2b-de"), "cxml")


def test_matrix_covers_the_issue_list():
    """B2C 19/7 %, B2B with and without Leitweg-ID, FR/NL/PL, US/CH, Z/E/O, discounts with
    shipping and fees, 200 lines, JPY/KWD/CHF/USD, BR-CO-10, card and transfer: each present."""
    categories = {line.category for name in CASES for line in document(name).tax_breakdown}
    currencies = {document(name).currency for name in CASES}
    assert categories == {"S", "Z", "E", "AE", "K", "G", "O"}
    assert {"JPY", "KWD", "CHF", "USD", "EUR"} <= currencies
    assert len(document("200-lines").rows) == 200
    assert {document(name).payment_means for name in CASES} >= {"card", "transfer"}
    assert all(fmt in FORMATS for _name, fmt in MATRIX)
