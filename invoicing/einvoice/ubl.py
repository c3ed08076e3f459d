"""The EN 16931 model as an OASIS UBL 2.1 Invoice or CreditNote.

XRechnung UBL and Peppol BIS Billing 3.0 both are this syntax; they differ in the customization
(BT-24) and profile (BT-23) identifiers (`model.Profile`). Elements follow the order of the UBL
2.1 Invoice schema; the business term each carries is named beside it.

A credit note (BT-3 381) is a UBL CreditNote document: EN 16931 allows 381 only as
cbc:CreditNoteTypeCode (BR-CL-01 lists the codes per document), and Peppol BIS only 381, 396,
81, 83 and 532 there (PEPPOL-EN16931-P0101). It has the same elements in the same order as an
Invoice, except: no cbc:DueDate (a CreditNote would carry BT-9 as
cac:PaymentMeans/cbc:PaymentDueDate; the model never gives a credit note one), the type code is
cbc:CreditNoteTypeCode, and the lines are cac:CreditNoteLine with cbc:CreditedQuantity (as
in the EN 16931 example ubl-tc434-creditnote1.xml).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from invoicing.einvoice.model import (
    AllowanceCharge,
    BuyerParty,
    ElectronicAddress,
    Invoice,
    InvoiceLine,
    PostalAddress,
    SellerParty,
    VatBreakdown,
    amount_text,
    number_text,
)
from invoicing.einvoice.xmltree import ElementWriter

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
VAT = "VAT"
# BT-32: a tax registration that is not a VAT ID, the German Steuernummer ("FC", fiscal code,
# as XRechnung writes it; any TaxScheme other than VAT reads as BT-32).
TAX_NUMBER_SCHEME = "FC"


_XML = ElementWriter({"cac": CAC, "cbc": CBC}, default_prefix="cbc")
_el, _path, _opt = _XML.el, _XML.path, _XML.opt


def _date_text(value: dt.date) -> str:
    return value.isoformat()


class _Writer:
    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice

    def money(self, parent: etree._Element, tag: str, value: Decimal) -> None:
        _el(parent, tag, amount_text(value, self.invoice.currency), currencyID=self.invoice.currency)

    # --- document -----------------------------------------------------------------------------
    def document(self) -> etree._Element:
        invoice = self.invoice
        credit_note = invoice.is_credit_note
        namespace, name = (CREDIT_NOTE_NS, "CreditNote") if credit_note else (INVOICE_NS, "Invoice")
        root = etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace, "cac": CAC, "cbc": CBC})
        _el(root, "cbc:CustomizationID", invoice.specification)  # BT-24
        _opt(root, "cbc:ProfileID", invoice.business_process)  # BT-23
        _el(root, "cbc:ID", invoice.number)  # BT-1
        _el(root, "cbc:IssueDate", _date_text(invoice.issue_date))  # BT-2
        if invoice.due_date and not credit_note:  # a credit note has none (model.invoice_model)
            _el(root, "cbc:DueDate", _date_text(invoice.due_date))  # BT-9
        type_tag = "cbc:CreditNoteTypeCode" if credit_note else "cbc:InvoiceTypeCode"
        _el(root, type_tag, invoice.type_code)  # BT-3
        for note in invoice.notes:  # BT-21 as "#code#" before the text BT-22 (BR-CL-08)
            _el(root, "cbc:Note", f"#{note.subject_code}#{note.text}" if note.subject_code else note.text)
        _el(root, "cbc:DocumentCurrencyCode", invoice.currency)  # BT-5
        _opt(root, "cbc:TaxCurrencyCode", invoice.vat_accounting_currency)  # BT-6
        _opt(root, "cbc:BuyerReference", invoice.buyer_reference)  # BT-10
        if invoice.order_reference:
            _path(root, "cac:OrderReference/cbc:ID", invoice.order_reference)  # BT-13
        for preceding in invoice.preceding_invoices:  # BG-3
            reference = _el(_el(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
            _el(reference, "cbc:ID", preceding.number)  # BT-25
            if preceding.issue_date is not None:
                _el(reference, "cbc:IssueDate", _date_text(preceding.issue_date))  # BT-26
        self.seller(_el(root, "cac:AccountingSupplierParty"), invoice.seller)
        self.buyer(_el(root, "cac:AccountingCustomerParty"), invoice.buyer)
        self.delivery(root)
        self.payment_means(root)
        if invoice.payment_terms:
            _path(root, "cac:PaymentTerms/cbc:Note", invoice.payment_terms)  # BT-20
        for item in invoice.allowances_charges:
            self.allowance_charge(root, item)
        self.tax_totals(root)
        self.monetary_total(root)
        for line in invoice.lines:
            self.line(root, line)
        return root

    # --- parties ------------------------------------------------------------------------------
    def endpoint(self, party: etree._Element, address: ElectronicAddress | None) -> None:
        if address is not None:  # BT-34 / BT-49
            _el(party, "cbc:EndpointID", address.value, schemeID=address.scheme)

    def seller(self, parent: etree._Element, seller: SellerParty) -> None:
        party = _el(parent, "cac:Party")
        self.endpoint(party, seller.electronic_address)
        if seller.identifier:
            _path(party, "cac:PartyIdentification/cbc:ID", seller.identifier)  # BT-29
        self.address(party, "cac:PostalAddress", seller.address)  # BG-5
        if seller.vat_id:
            self.tax_scheme(party, seller.vat_id, VAT)  # BT-31
        if seller.tax_number:
            self.tax_scheme(party, seller.tax_number, TAX_NUMBER_SCHEME)  # BT-32
        _path(party, "cac:PartyLegalEntity/cbc:RegistrationName", seller.name)  # BT-27
        contact = _el(party, "cac:Contact")  # BG-6
        _opt(contact, "cbc:Name", seller.contact.name)  # BT-41
        _opt(contact, "cbc:Telephone", seller.contact.phone)  # BT-42
        _opt(contact, "cbc:ElectronicMail", seller.contact.email)  # BT-43

    def buyer(self, parent: etree._Element, buyer: BuyerParty) -> None:
        party = _el(parent, "cac:Party")
        self.endpoint(party, buyer.electronic_address)
        self.address(party, "cac:PostalAddress", buyer.address)  # BG-8
        if buyer.vat_id:
            self.tax_scheme(party, buyer.vat_id, VAT)  # BT-48
        _path(party, "cac:PartyLegalEntity/cbc:RegistrationName", buyer.name)  # BT-44

    def tax_scheme(self, party: etree._Element, company_id: str, scheme: str) -> None:
        tax_scheme = _el(party, "cac:PartyTaxScheme")
        _el(tax_scheme, "cbc:CompanyID", company_id)
        _path(tax_scheme, "cac:TaxScheme/cbc:ID", scheme)

    def address(self, parent: etree._Element, tag: str, address: PostalAddress) -> None:
        postal = _el(parent, tag)
        _opt(postal, "cbc:StreetName", address.line_one)
        _opt(postal, "cbc:AdditionalStreetName", address.line_two)
        _opt(postal, "cbc:CityName", address.city)
        _opt(postal, "cbc:PostalZone", address.post_code)
        _opt(postal, "cbc:CountrySubentity", address.subdivision)
        if address.line_three:
            _path(postal, "cac:AddressLine/cbc:Line", address.line_three)
        _path(postal, "cac:Country/cbc:IdentificationCode", address.country_code)

    # --- BG-13 --------------------------------------------------------------------------------
    def delivery(self, parent: etree._Element) -> None:
        delivery = self.invoice.delivery
        element = _el(parent, "cac:Delivery")
        _el(element, "cbc:ActualDeliveryDate", _date_text(delivery.date))  # BT-72
        if delivery.address is not None:  # BG-15
            self.address(_el(element, "cac:DeliveryLocation"), "cac:Address", delivery.address)
            if delivery.party_name:  # BT-70
                _path(element, "cac:DeliveryParty/cac:PartyName/cbc:Name", delivery.party_name)

    # --- payment --------------------------------------------------------------------------------
    def payment_means(self, parent: etree._Element) -> None:
        payment = self.invoice.payment
        means = _el(parent, "cac:PaymentMeans")  # BG-16
        attributes = {"name": payment.means_text} if payment.means_text else {}
        _el(means, "cbc:PaymentMeansCode", payment.means_code, **attributes)  # BT-81, BT-82
        _opt(means, "cbc:PaymentID", payment.remittance_information)  # BT-83
        if payment.iban:  # BG-17
            account = _el(means, "cac:PayeeFinancialAccount")
            _el(account, "cbc:ID", payment.iban)  # BT-84
            _opt(account, "cbc:Name", payment.account_name)  # BT-85
            if payment.bic:
                _path(account, "cac:FinancialInstitutionBranch/cbc:ID", payment.bic)  # BT-86

    # --- allowances, charges, VAT, totals ----------------------------------------------------------
    def tax_category(
        self,
        parent: etree._Element,
        tag: str,
        category: str,
        rate: Decimal | None,
        exemption: VatBreakdown | None = None,
    ) -> None:
        element = _el(parent, tag)
        _el(element, "cbc:ID", category)
        if rate is not None:
            _el(element, "cbc:Percent", number_text(rate))
        if exemption is not None:
            _opt(element, "cbc:TaxExemptionReasonCode", exemption.exemption_reason_code)  # BT-121
            _opt(element, "cbc:TaxExemptionReason", exemption.exemption_reason)  # BT-120
        _path(element, "cac:TaxScheme/cbc:ID", VAT)

    def allowance_charge(self, parent: etree._Element, item: AllowanceCharge) -> None:
        element = _el(parent, "cac:AllowanceCharge")  # BG-20 / BG-21
        _el(element, "cbc:ChargeIndicator", "true" if item.is_charge else "false")
        _opt(element, "cbc:AllowanceChargeReasonCode", item.reason_code)  # BT-98 / BT-105
        _el(element, "cbc:AllowanceChargeReason", item.reason)  # BT-97 / BT-104
        self.money(element, "cbc:Amount", item.amount)  # BT-92 / BT-99
        # BT-95/96 (allowance), BT-102/103 (charge)
        self.tax_category(element, "cac:TaxCategory", item.vat_category, item.vat_rate)

    def tax_totals(self, parent: etree._Element) -> None:
        invoice = self.invoice
        total = _el(parent, "cac:TaxTotal")
        self.money(total, "cbc:TaxAmount", invoice.totals.tax_total)  # BT-110
        for line in invoice.vat_breakdown:
            self.subtotal(total, line)
        accounting = invoice.totals.tax_total_accounting
        if invoice.vat_accounting_currency and accounting is not None:
            # BT-111: a second TaxTotal without subtotals, in BT-6 (PEPPOL-EN16931-R054)
            currency = invoice.vat_accounting_currency
            text = amount_text(accounting, currency)
            _path(parent, "cac:TaxTotal/cbc:TaxAmount", text, currencyID=currency)

    def subtotal(self, parent: etree._Element, line: VatBreakdown) -> None:
        subtotal = _el(parent, "cac:TaxSubtotal")  # BG-23
        self.money(subtotal, "cbc:TaxableAmount", line.taxable_amount)  # BT-116
        self.money(subtotal, "cbc:TaxAmount", line.tax_amount)  # BT-117
        self.tax_category(subtotal, "cac:TaxCategory", line.category, line.rate, exemption=line)  # BT-118/119

    def monetary_total(self, parent: etree._Element) -> None:
        invoice, totals = self.invoice, self.invoice.totals
        element = _el(parent, "cac:LegalMonetaryTotal")  # BG-22
        self.money(element, "cbc:LineExtensionAmount", totals.line_net_total)  # BT-106
        self.money(element, "cbc:TaxExclusiveAmount", totals.net_total)  # BT-109
        self.money(element, "cbc:TaxInclusiveAmount", totals.gross_total)  # BT-112
        if invoice.allowances:
            self.money(element, "cbc:AllowanceTotalAmount", totals.allowance_total)  # BT-107
        if invoice.charges:
            self.money(element, "cbc:ChargeTotalAmount", totals.charge_total)  # BT-108
        if totals.paid:
            self.money(element, "cbc:PrepaidAmount", totals.paid)  # BT-113
        self.money(element, "cbc:PayableAmount", totals.due)  # BT-115

    # --- BG-25 --------------------------------------------------------------------------------------
    def line(self, parent: etree._Element, line: InvoiceLine) -> None:
        credit_note = self.invoice.is_credit_note
        element = _el(parent, "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine")
        _el(element, "cbc:ID", line.line_id)  # BT-126
        quantity = number_text(line.quantity)
        tag = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"
        _el(element, tag, quantity, unitCode=line.unit_code)  # BT-129, BT-130
        self.money(element, "cbc:LineExtensionAmount", line.net_amount)  # BT-131
        item = _el(element, "cac:Item")
        _el(item, "cbc:Name", line.item_name)  # BT-153
        if line.seller_item_id:
            _path(item, "cac:SellersItemIdentification/cbc:ID", line.seller_item_id)  # BT-155
        self.tax_category(item, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)  # BT-151/152
        price = number_text(line.net_price)
        _path(element, "cac:Price/cbc:PriceAmount", price, currencyID=self.invoice.currency)  # BT-146


def ubl_xml(invoice: Invoice) -> bytes:
    """The invoice as a UBL 2.1 Invoice (a credit note as a CreditNote), UTF-8 with declaration."""
    root = _Writer(invoice).document()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
