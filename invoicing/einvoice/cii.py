"""The EN 16931 model as UN/CEFACT Cross Industry Invoice (CII D16B).

Factur-X 1.07 / ZUGFeRD 2.3 profile EN 16931 and XRechnung CII both are this syntax; they differ
only in the specification identifier (BT-24, `model.Profile`). Elements are written in the order
the Factur-X EN 16931 XSD prescribes, and only those it knows, so one file passes both the XSD
and the schematron rules. The business term each element carries is named beside it.

A credit note is the same CrossIndustryInvoice with TypeCode 381 (CII has no document of its
own for it): its reason as ram:IncludedNote, the corrected invoice as
ram:InvoiceReferencedDocument (BG-3) at the end of the header settlement.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from invoicing.einvoice.model import (
    AllowanceCharge,
    BuyerParty,
    Invoice,
    InvoiceLine,
    PostalAddress,
    SellerParty,
    VatBreakdown,
    amount_text,
    number_text,
)
from invoicing.einvoice.xmltree import ElementWriter

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
VAT = "VAT"
DATE_FORMAT = "102"  # UNTDID 2379: CCYYMMDD


_XML = ElementWriter(NSMAP, default_prefix="ram")
_el, _path, _opt = _XML.el, _XML.path, _XML.opt


def _date(parent: etree._Element, tag: str, value: dt.date, prefix: str = "udt") -> None:
    _el(_el(parent, tag), f"{prefix}:DateTimeString", value.strftime("%Y%m%d"), format=DATE_FORMAT)


class _Writer:
    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice

    def amount(self, value: Decimal) -> str:
        return amount_text(value, self.invoice.currency)

    # --- document ---------------------------------------------------------------------------
    def document(self) -> etree._Element:
        invoice = self.invoice
        root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
        context = _el(root, "rsm:ExchangedDocumentContext")
        if invoice.business_process:
            process = invoice.business_process  # BT-23
            _path(context, "BusinessProcessSpecifiedDocumentContextParameter/ID", process)
        _path(context, "GuidelineSpecifiedDocumentContextParameter/ID", invoice.specification)  # BT-24

        exchanged = _el(root, "rsm:ExchangedDocument")
        _el(exchanged, "ID", invoice.number)  # BT-1
        _el(exchanged, "TypeCode", invoice.type_code)  # BT-3
        _date(exchanged, "IssueDateTime", invoice.issue_date)  # BT-2
        for note in invoice.notes:  # BG-1
            included = _el(exchanged, "IncludedNote")
            _el(included, "Content", note.text)  # BT-22
            _opt(included, "SubjectCode", note.subject_code)  # BT-21

        transaction = _el(root, "rsm:SupplyChainTradeTransaction")
        for line in invoice.lines:
            self.line(transaction, line)
        self.agreement(transaction)
        self.delivery(transaction)
        self.settlement(transaction)
        return root

    # --- BG-25 ------------------------------------------------------------------------------
    def line(self, parent: etree._Element, line: InvoiceLine) -> None:
        item = _el(parent, "IncludedSupplyChainTradeLineItem")
        _path(item, "AssociatedDocumentLineDocument/LineID", line.line_id)  # BT-126
        product = _el(item, "SpecifiedTradeProduct")
        _opt(product, "SellerAssignedID", line.seller_item_id)  # BT-155
        _el(product, "Name", line.item_name)  # BT-153
        price = number_text(line.net_price)
        _path(item, "SpecifiedLineTradeAgreement/NetPriceProductTradePrice/ChargeAmount", price)  # BT-146
        quantity = number_text(line.quantity)  # BT-129 in BT-130
        _path(item, "SpecifiedLineTradeDelivery/BilledQuantity", quantity, unitCode=line.unit_code)
        settlement = _el(item, "SpecifiedLineTradeSettlement")
        self.category(settlement, "ApplicableTradeTax", line.vat_category, line.vat_rate)  # BT-151, BT-152
        summation = _el(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "LineTotalAmount", self.amount(line.net_amount))  # BT-131

    def category(self, parent: etree._Element, tag: str, category: str, rate: Decimal | None) -> None:
        tax = _el(parent, tag)
        _el(tax, "TypeCode", VAT)
        _el(tax, "CategoryCode", category)
        if rate is not None:
            _el(tax, "RateApplicablePercent", number_text(rate))

    # --- BG-4, BG-7, references ---------------------------------------------------------------
    def agreement(self, parent: etree._Element) -> None:
        invoice = self.invoice
        agreement = _el(parent, "ApplicableHeaderTradeAgreement")
        _opt(agreement, "BuyerReference", invoice.buyer_reference)  # BT-10
        self.seller(agreement, invoice.seller)
        self.buyer(agreement, invoice.buyer)
        if invoice.order_reference:  # BT-13
            _path(agreement, "BuyerOrderReferencedDocument/IssuerAssignedID", invoice.order_reference)

    def seller(self, parent: etree._Element, seller: SellerParty) -> None:
        party = _el(parent, "SellerTradeParty")
        _opt(party, "ID", seller.identifier)  # BT-29
        _el(party, "Name", seller.name)  # BT-27
        contact = _el(party, "DefinedTradeContact")  # BG-6
        _opt(contact, "PersonName", seller.contact.name)  # BT-41
        if seller.contact.phone:  # BT-42
            _path(contact, "TelephoneUniversalCommunication/CompleteNumber", seller.contact.phone)
        if seller.contact.email:  # BT-43
            _path(contact, "EmailURIUniversalCommunication/URIID", seller.contact.email)
        self.address(party, seller.address)  # BG-5
        if seller.electronic_address is not None:  # BT-34
            address = seller.electronic_address
            _path(party, "URIUniversalCommunication/URIID", address.value, schemeID=address.scheme)
        if seller.vat_id:  # BT-31
            _path(party, "SpecifiedTaxRegistration/ID", seller.vat_id, schemeID="VA")
        if seller.tax_number:  # BT-32
            _path(party, "SpecifiedTaxRegistration/ID", seller.tax_number, schemeID="FC")

    def buyer(self, parent: etree._Element, buyer: BuyerParty) -> None:
        party = _el(parent, "BuyerTradeParty")
        _el(party, "Name", buyer.name)  # BT-44
        self.address(party, buyer.address)  # BG-8
        if buyer.electronic_address is not None:  # BT-49
            address = buyer.electronic_address
            _path(party, "URIUniversalCommunication/URIID", address.value, schemeID=address.scheme)
        if buyer.vat_id:  # BT-48
            _path(party, "SpecifiedTaxRegistration/ID", buyer.vat_id, schemeID="VA")

    def address(self, parent: etree._Element, address: PostalAddress) -> None:
        postal = _el(parent, "PostalTradeAddress")
        _opt(postal, "PostcodeCode", address.post_code)
        _opt(postal, "LineOne", address.line_one)
        _opt(postal, "LineTwo", address.line_two)
        _opt(postal, "LineThree", address.line_three)
        _opt(postal, "CityName", address.city)
        _el(postal, "CountryID", address.country_code)
        _opt(postal, "CountrySubDivisionName", address.subdivision)

    # --- BG-13 ------------------------------------------------------------------------------------
    def delivery(self, parent: etree._Element) -> None:
        delivery = self.invoice.delivery
        header = _el(parent, "ApplicableHeaderTradeDelivery")
        if delivery.address is not None:  # BG-15
            ship_to = _el(header, "ShipToTradeParty")
            _opt(ship_to, "Name", delivery.party_name)  # BT-70
            self.address(ship_to, delivery.address)
        _date(_el(header, "ActualDeliverySupplyChainEvent"), "OccurrenceDateTime", delivery.date)  # BT-72

    # --- payment, VAT, totals --------------------------------------------------------------------
    def settlement(self, parent: etree._Element) -> None:
        invoice = self.invoice
        settlement = _el(parent, "ApplicableHeaderTradeSettlement")
        _opt(settlement, "PaymentReference", invoice.payment.remittance_information)  # BT-83
        _opt(settlement, "TaxCurrencyCode", invoice.vat_accounting_currency)  # BT-6
        _el(settlement, "InvoiceCurrencyCode", invoice.currency)  # BT-5
        self.payment_means(settlement)
        for line in invoice.vat_breakdown:
            self.breakdown(settlement, line)
        for allowance_charge in invoice.allowances_charges:
            self.allowance_charge(settlement, allowance_charge)
        if invoice.payment_terms or invoice.due_date:
            terms = _el(settlement, "SpecifiedTradePaymentTerms")
            _opt(terms, "Description", invoice.payment_terms)  # BT-20
            if invoice.due_date:
                _date(terms, "DueDateDateTime", invoice.due_date)  # BT-9
        self.totals(settlement)
        for preceding in invoice.preceding_invoices:  # BG-3
            reference = _el(settlement, "InvoiceReferencedDocument")
            _el(reference, "IssuerAssignedID", preceding.number)  # BT-25
            if preceding.issue_date is not None:  # BT-26
                _date(reference, "FormattedIssueDateTime", preceding.issue_date, prefix="qdt")

    def payment_means(self, parent: etree._Element) -> None:
        payment = self.invoice.payment
        means = _el(parent, "SpecifiedTradeSettlementPaymentMeans")  # BG-16
        _el(means, "TypeCode", payment.means_code)  # BT-81
        _opt(means, "Information", payment.means_text)  # BT-82
        if payment.iban:  # BG-17
            account = _el(means, "PayeePartyCreditorFinancialAccount")
            _el(account, "IBANID", payment.iban)  # BT-84
            _opt(account, "AccountName", payment.account_name)  # BT-85
            if payment.bic:  # BT-86
                _path(means, "PayeeSpecifiedCreditorFinancialInstitution/BICID", payment.bic)

    def breakdown(self, parent: etree._Element, line: VatBreakdown) -> None:
        tax = _el(parent, "ApplicableTradeTax")  # BG-23
        _el(tax, "CalculatedAmount", self.amount(line.tax_amount))  # BT-117
        _el(tax, "TypeCode", VAT)
        _opt(tax, "ExemptionReason", line.exemption_reason)  # BT-120
        _el(tax, "BasisAmount", self.amount(line.taxable_amount))  # BT-116
        _el(tax, "CategoryCode", line.category)  # BT-118
        _opt(tax, "ExemptionReasonCode", line.exemption_reason_code)  # BT-121
        _el(tax, "RateApplicablePercent", number_text(line.rate))  # BT-119

    def allowance_charge(self, parent: etree._Element, item: AllowanceCharge) -> None:
        element = _el(parent, "SpecifiedTradeAllowanceCharge")  # BG-20 / BG-21
        _path(element, "ChargeIndicator/udt:Indicator", "true" if item.is_charge else "false")
        _el(element, "ActualAmount", self.amount(item.amount))  # BT-92 / BT-99
        _opt(element, "ReasonCode", item.reason_code)  # BT-98 / BT-105
        _el(element, "Reason", item.reason)  # BT-97 / BT-104
        # BT-95/96 (allowance), BT-102/103 (charge)
        self.category(element, "CategoryTradeTax", item.vat_category, item.vat_rate)

    def totals(self, parent: etree._Element) -> None:
        invoice, totals = self.invoice, self.invoice.totals
        summation = _el(parent, "SpecifiedTradeSettlementHeaderMonetarySummation")  # BG-22
        _el(summation, "LineTotalAmount", self.amount(totals.line_net_total))  # BT-106
        if invoice.charges:
            _el(summation, "ChargeTotalAmount", self.amount(totals.charge_total))  # BT-108
        if invoice.allowances:
            _el(summation, "AllowanceTotalAmount", self.amount(totals.allowance_total))  # BT-107
        _el(summation, "TaxBasisTotalAmount", self.amount(totals.net_total))  # BT-109
        _el(summation, "TaxTotalAmount", self.amount(totals.tax_total), currencyID=invoice.currency)  # BT-110
        if invoice.vat_accounting_currency and totals.tax_total_accounting is not None:  # BT-111 (BR-53)
            currency = invoice.vat_accounting_currency
            accounting = amount_text(totals.tax_total_accounting, currency)
            _el(summation, "TaxTotalAmount", accounting, currencyID=currency)
        _el(summation, "GrandTotalAmount", self.amount(totals.gross_total))  # BT-112
        if totals.paid:
            _el(summation, "TotalPrepaidAmount", self.amount(totals.paid))  # BT-113
        _el(summation, "DuePayableAmount", self.amount(totals.due))  # BT-115


def cii_xml(invoice: Invoice) -> bytes:
    """The invoice as CII XML, UTF-8 with declaration."""
    root = _Writer(invoice).document()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
