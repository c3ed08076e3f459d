"""The EN 16931 semantic model of an invoice, built from the document the PDF prints.

One source of truth: `invoice_model` reads an `invoicing.documents.InvoiceDocument` (the figures,
VAT treatment and notes the PDF shows) and maps it onto the business terms of EN 16931-1 (BT-n)
and their groups (BG-n). `cii` and `ubl` only write these terms in their syntax; what goes into
an e-invoice is decided here, once, with the rule (BR-...) that makes it so.

Decisions worth knowing (each explained where it is made):

- Amounts are the document's, to the cent: BT-109/110/112 are the printed totals, BG-23 the
  printed VAT breakdown. Rows of kind "item" become invoice lines (BG-25), shipping and fees
  document-level charges (BG-21), discounts document-level allowances (BG-20).
- Gross-priced (B2C) documents: the XML carries net amounts (EN 16931 has no gross line
  amount). Row nets that do not add up to the breakdown's taxable amount are reconciled on the
  largest line (`_reconciled_nets`), so BR-S-08 holds and no total moves.
- EN 16931 allows at most two decimals on amounts (BR-DEC-*). A currency with three (KWD, BHD,
  ...) is written with two when its third decimal is 0; an amount that needs the third one is
  written as it is, so the validation names the BR-DEC rule instead of the XML stating an
  amount the PDF does not.
- Category O (not subject to VAT): no VAT ID of seller or buyer and no rate on lines, charges
  and allowances (BR-O-02, -05..-07); the seller's VAT ID is then given as the seller identifier
  BT-29, which BR-CO-26 accepts (as it does the tax number of a seller without a VAT ID).
- Payment means (BT-81) follow `document.payment_means`; where a CIUS asks for data the service
  never sees (the card number of BG-18 for code 48, BR-DE-24-a) a captured card payment is
  code 68, "online payment service" (what the shop's payment gateway is), the card named in
  BT-82.
- Credit notes (`document.is_credit_note`): the same model with type code 381 (BT-3), positive
  amounts, the corrected invoice as BG-3 (BT-25, BT-26) and the reason as a note (BT-22,
  subject code ACD). Nothing is asked of the buyer: no due date (BT-9), and BT-20 says what
  becomes of the credited amount instead of a payment term; see `_credit_note_payment` and
  `_totals` for what BT-81, BT-113 and BT-115 say about a refund.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from django.utils import timezone

from core.money import currency_exponent
from integrations.ports import Address
from invoicing import vat
from invoicing.documents import PAY_BACK, REFUNDED, InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.i18n import Formats, language_override

ZERO = Decimal(0)
CENT = Decimal("0.01")
INVOICE = "380"  # BT-3, UNTDID 1001: commercial invoice
CREDIT_NOTE = "381"  # BT-3, UNTDID 1001: credit note (UBL: the CreditNote document, BR-CL-01)
UNIT = "C62"  # BT-130, UN/ECE Rec. 20: "one" (a unit); the shop sells pieces
EMAIL_SCHEME = "EM"  # CEF EAS: electronic mail (BT-34-1, BT-49-1)

# BT-81, UNTDID 4461
CREDIT_TRANSFER_SEPA = "58"
BANK_CARD = "48"
CASH = "10"
ONLINE_PAYMENT_SERVICE = "68"
INSTRUMENT_NOT_DEFINED = "1"

# BT-21, UNTDID 4451 (BR-CL-08): the subject of the note that gives a credit note's reason
REASON_SUBJECT = "ACD"  # "Reason"

# BT-98 (UNTDID 5189) and BT-105 (UNTDID 7161): the reason codes of our allowances and charges
DISCOUNT_REASON = "95"  # Discount
FREIGHT_CHARGE_REASON = "FC"  # Freight charge

# BT-121: the VATEX code each category other than S and Z carries (CEF VATEX code list).
# E depends on the provision (`_exemption_code`); S and Z must have none (BR-S-10, BR-Z-10).
CATEGORY_VATEX = {
    "AE": "VATEX-EU-AE",  # reverse charge
    "K": "VATEX-EU-IC",  # intra-Community supply
    "G": "VATEX-EU-G",  # export outside the EU
    "O": "VATEX-EU-O",  # not subject to VAT
}
# The VATEX codes for exemptions under the VAT Directive (Art. 132-153), as the CEF list has them.
_EXEMPTION_CODES = frozenset(
    {"VATEX-EU-79-C", "VATEX-EU-132", "VATEX-EU-135-1", "VATEX-EU-143", "VATEX-EU-144"}
    | {"VATEX-EU-146-1E", "VATEX-EU-148", "VATEX-EU-151", "VATEX-EU-153", "VATEX-EU-159", "VATEX-EU-309"}
    | {f"VATEX-EU-132-1{letter}" for letter in "ABCDEFGHIJKLMNOPQ"}
    | {f"VATEX-EU-143-1{letter}" for letter in (*"ABCDEF", "FA", *"GHIJKL")}
    | {f"VATEX-EU-148-{letter}" for letter in "ABCDEFG"}
    | {f"VATEX-EU-151-1{letter}" for letter in ("A", "AA", "B", "C", "D", "E")}
)
# CEF EAS schemes of national VAT IDs ("DE:VAT" = 9930, ...). Peppol BIS accepts only EAS codes
# of its own list for BT-34/BT-49 (PEPPOL-EN16931-CL008), which has these and not EM (email).
VAT_ID_SCHEMES = {
    "HU": "9910", "AT": "9914", "ES": "9920", "AD": "9922", "AL": "9923", "BA": "9924", "BE": "9925",
    "BG": "9926", "CH": "9927", "CY": "9928", "CZ": "9929", "DE": "9930", "EE": "9931", "GB": "9932",
    "GR": "9933", "HR": "9934", "IE": "9935", "LI": "9936", "LT": "9937", "LU": "9938", "LV": "9939",
    "MC": "9940", "ME": "9941", "MK": "9942", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946",
    "RO": "9947", "RS": "9948", "SI": "9949", "SK": "9950", "SM": "9951", "TR": "9952", "VA": "9953",
    "FR": "9957",
}  # fmt: skip
NOT_SUBJECT = vat.VatCategory.NOT_SUBJECT.value
INTRA_COMMUNITY = vat.VatCategory.INTRA_COMMUNITY.value


# --- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PostalAddress:
    """BG-5 (seller), BG-8 (buyer), BG-15 (deliver to)."""

    line_one: str  # BT-35 / BT-50 / BT-75
    line_two: str  # BT-36 / BT-51 / BT-76
    line_three: str  # BT-162 / BT-163 / BT-165
    city: str  # BT-37 / BT-52 / BT-77
    post_code: str  # BT-38 / BT-53 / BT-78
    subdivision: str  # BT-39 / BT-54 / BT-79
    country_code: str  # BT-40 / BT-55 / BT-80, ISO 3166-1 alpha-2


@dataclass(frozen=True)
class ElectronicAddress:
    """BT-34 / BT-49 with its scheme BT-34-1 / BT-49-1 (CEF EAS code list)."""

    value: str
    scheme: str


@dataclass(frozen=True)
class SellerContact:
    """BG-6 (XRechnung requires it: BR-DE-2, -5, -6, -7)."""

    name: str  # BT-41
    phone: str  # BT-42
    email: str  # BT-43


@dataclass(frozen=True)
class SellerParty:
    """BG-4."""

    name: str  # BT-27
    identifier: str  # BT-29, only where BT-31 must stay out (category O, see module docstring)
    vat_id: str  # BT-31
    tax_number: str  # BT-32 (CII schemeID "FC")
    electronic_address: ElectronicAddress | None  # BT-34
    address: PostalAddress  # BG-5
    contact: SellerContact  # BG-6


@dataclass(frozen=True)
class BuyerParty:
    """BG-7."""

    name: str  # BT-44
    vat_id: str  # BT-48
    electronic_address: ElectronicAddress | None  # BT-49
    address: PostalAddress  # BG-8


@dataclass(frozen=True)
class Delivery:
    """BG-13."""

    date: dt.date  # BT-72
    party_name: str  # BT-70
    address: PostalAddress | None  # BG-15


@dataclass(frozen=True)
class PaymentInstructions:
    """BG-16 with BG-17 (credit transfer)."""

    means_code: str  # BT-81
    means_text: str  # BT-82
    remittance_information: str  # BT-83
    iban: str  # BT-84
    account_name: str  # BT-85
    bic: str  # BT-86


@dataclass(frozen=True)
class AllowanceCharge:
    """BG-20 (document level allowance) or BG-21 (document level charge)."""

    is_charge: bool
    amount: Decimal  # BT-92 / BT-99, positive
    reason: str  # BT-97 / BT-104
    reason_code: str  # BT-98 / BT-105 ("" = none)
    vat_category: str  # BT-95 / BT-102
    vat_rate: Decimal | None  # BT-96 / BT-103 (None for O, BR-O-06/-07)


@dataclass(frozen=True)
class VatBreakdown:
    """BG-23."""

    category: str  # BT-118
    rate: Decimal  # BT-119 (0 for O, as XRechnung BR-DE-14 wants one on every breakdown)
    taxable_amount: Decimal  # BT-116
    tax_amount: Decimal  # BT-117
    exemption_reason: str  # BT-120
    exemption_reason_code: str  # BT-121


@dataclass(frozen=True)
class InvoiceLine:
    """BG-25."""

    line_id: str  # BT-126
    quantity: Decimal  # BT-129
    unit_code: str  # BT-130
    net_amount: Decimal  # BT-131
    net_price: Decimal  # BT-146
    vat_category: str  # BT-151
    vat_rate: Decimal | None  # BT-152 (None for O, BR-O-05)
    item_name: str  # BT-153
    seller_item_id: str  # BT-155


@dataclass(frozen=True)
class Note:
    """BG-1."""

    text: str  # BT-22
    subject_code: str = ""  # BT-21 (UNTDID 4451, BR-CL-08)


@dataclass(frozen=True)
class PrecedingInvoice:
    """BG-3: the invoice a credit note corrects."""

    number: str  # BT-25
    issue_date: dt.date | None  # BT-26


@dataclass(frozen=True)
class Totals:
    """BG-22."""

    line_net_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    net_total: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_total_accounting: Decimal | None  # BT-111, in BT-6
    gross_total: Decimal  # BT-112
    paid: Decimal  # BT-113
    due: Decimal  # BT-115


@dataclass(frozen=True)
class Profile:
    """What a format adds to EN 16931: its identifiers and whether the German CIUS rules apply."""

    specification: str  # BT-24
    business_process: str = ""  # BT-23
    # "always" (XRechnung), "domestic" (Peppol BIS applies BR-DE-* as DE-R-* when seller and
    # buyer are in Germany) or "" (Factur-X EN 16931)
    german_rules: str = ""
    # Peppol BIS: electronic addresses (BT-34, BT-49) are Peppol participant ids, never email
    peppol_endpoints: bool = False


@dataclass(frozen=True)
class Invoice:
    specification: str  # BT-24
    business_process: str  # BT-23
    number: str  # BT-1
    issue_date: dt.date  # BT-2
    type_code: str  # BT-3
    currency: str  # BT-5
    vat_accounting_currency: str  # BT-6 ("" = the invoice currency)
    due_date: dt.date | None  # BT-9
    buyer_reference: str  # BT-10
    order_reference: str  # BT-13
    payment_terms: str  # BT-20
    seller: SellerParty
    buyer: BuyerParty
    delivery: Delivery
    payment: PaymentInstructions
    allowances_charges: tuple[AllowanceCharge, ...]
    vat_breakdown: tuple[VatBreakdown, ...]
    totals: Totals
    lines: tuple[InvoiceLine, ...]
    notes: tuple[Note, ...] = ()  # BG-1
    preceding_invoices: tuple[PrecedingInvoice, ...] = ()  # BG-3

    @property
    def is_credit_note(self) -> bool:
        """BT-3 381: UBL writes it as a CreditNote document (BR-CL-01 allows 381 only there)."""
        return self.type_code == CREDIT_NOTE

    @property
    def allowances(self) -> tuple[AllowanceCharge, ...]:
        return tuple(a for a in self.allowances_charges if not a.is_charge)

    @property
    def charges(self) -> tuple[AllowanceCharge, ...]:
        return tuple(c for c in self.allowances_charges if c.is_charge)


# --- text forms both syntaxes write ---------------------------------------------------------------
def amount_text(amount: Decimal, currency: str) -> str:
    """An amount with the currency's decimals (JPY 0, EUR 2), trailing zeros beyond two dropped.

    BR-DEC-* count the characters after the point, so KWD 12.340 is written 12.34; KWD 12.345
    stays as it is (see the module docstring)."""
    places = currency_exponent(currency)
    text = f"{amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    while places > 2 and text.endswith("0"):
        text, places = text[:-1], places - 1
    return text


def number_text(value: Decimal) -> str:
    """A quantity, price or rate without exponent or trailing zeros ("19", "0.5", "4.196")."""
    return f"{value.normalize():f}"


# --- countries --------------------------------------------------------------------------------------
# Address countries come as codes or as names ("Germany"); the PDF prints either. The e-invoice
# needs ISO 3166-1 alpha-2 (BR-CL-14), so names are looked up in the languages the service speaks.
_NAME_LANGUAGES = ("en", "de", "fr", "it", "es", "nl", "pl", "pt", "sv", "cs", "da")


@functools.cache
def _country_codes_by_name() -> dict[str, str]:
    names: dict[str, str] = {}
    for language in _NAME_LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(name.casefold(), code)
    return names


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 of a country code or name; "" when it is neither."""
    value = (value or "").strip()
    if len(value) == 2 and value.isalpha():
        return vat.country_code(value)
    return _country_codes_by_name().get(value.casefold(), "")


def _first_country(*candidates: str) -> str:
    return next((code for code in map(country_code, candidates) if code), "")


def _seller_country(document: InvoiceDocument) -> str:
    seller = document.seller
    return _first_country(seller.address.country, vat.vat_id_country(seller.vat_id))


def _buyer_country(document: InvoiceDocument) -> str:
    """BT-55: the billing address's country, else the legal entity's, else its VAT ID's; an
    address without a country is a domestic one (the PDF prints none for the seller's country)."""
    return _first_country(
        document.billing_address.country,
        document.buyer_country,
        vat.vat_id_country(document.buyer_vat_id),
        _seller_country(document),
    )


def _postal_address(address: Address, country: str) -> PostalAddress:
    street = " ".join(part for part in (address.street, address.street_number) if part)
    return PostalAddress(
        line_one=street,
        line_two=address.street_appendix,
        line_three=", ".join(line for line in address.extra_lines if line.strip()),
        city=address.city,
        post_code=address.zip_code,
        subdivision=address.state,
        country_code=country,
    )


# --- parties ----------------------------------------------------------------------------------------
def vat_id_endpoint(vat_id: str) -> ElectronicAddress | None:
    """A VAT ID as a Peppol participant id: the EAS scheme of its country's VAT IDs (DE -> 9930)."""
    compact = re.sub(r"[\s.\-/]", "", vat_id).upper()
    scheme = VAT_ID_SCHEMES.get(vat.country_code(compact[:2]))
    return ElectronicAddress(compact, scheme) if compact and scheme else None


def _seller_endpoint(document: InvoiceDocument, vat_id: str, *, peppol: bool) -> ElectronicAddress | None:
    """BT-34: the seller's email as scheme EM; in Peppol BIS its VAT ID as participant id."""
    if peppol:
        return vat_id_endpoint(vat_id)
    email = document.seller.email.strip()
    return ElectronicAddress(email, EMAIL_SCHEME) if email else None


def _seller(document: InvoiceDocument, *, not_subject: bool, peppol: bool) -> SellerParty:
    seller = document.seller
    country = _seller_country(document)
    vat_id = vat.normalize_vat_id(seller.vat_id, country)
    tax_number = seller.tax_number.strip()
    stated_vat_id = "" if not_subject else vat_id  # BR-O-02: no BT-31 on an O invoice
    return SellerParty(
        name=seller.legal_name,
        # BR-CO-26 wants BT-29, BT-30 or BT-31. Without BT-31 (an O invoice, or a seller with
        # only a tax number) the number the PDF prints identifies the seller as BT-29.
        identifier="" if stated_vat_id else (vat_id or tax_number),
        vat_id=stated_vat_id,
        tax_number=tax_number,
        electronic_address=_seller_endpoint(document, vat_id, peppol=peppol),
        address=_postal_address(seller.address, country),
        contact=SellerContact(
            name=seller.contact_name.strip() or seller.legal_name,
            phone=seller.phone.strip(),
            email=seller.email.strip(),
        ),
    )


def buyer_name(document: InvoiceDocument) -> str:
    """BT-44: the legal entity, else the company or person the invoice is addressed to."""
    billing = document.billing_address
    candidates = (
        document.buyer_legal_name,
        billing.company_name,
        billing.contact_name,
        document.customer_name,
    )
    return next((name.strip() for name in candidates if name.strip()), "")


def _buyer_electronic_address(
    document: InvoiceDocument, vat_id: str, *, peppol: bool
) -> ElectronicAddress | None:
    """BT-49: the legal entity's Peppol id, else the customer's email as scheme EM.

    Peppol BIS takes no email (PEPPOL-EN16931-CL008): there the buyer's VAT ID stands in as its
    participant id when the legal entity names none; a consumer has neither, and Peppol BIS
    does not apply to consumers (PEPPOL-EN16931-R010 says so).
    """
    address, scheme = document.buyer_electronic_address.strip(), document.buyer_electronic_scheme.strip()
    if address and not scheme:  # a Peppol id "<EAS>:<id>" given whole, else an email address
        peppol_id = re.fullmatch(r"(\d{4}):(.+)", address)
        scheme, address = peppol_id.groups() if peppol_id else (EMAIL_SCHEME, address)
    if address and scheme != EMAIL_SCHEME:
        return ElectronicAddress(address, scheme)
    if peppol:
        return vat_id_endpoint(vat_id)
    email = address or document.customer_email.strip()
    return ElectronicAddress(email, EMAIL_SCHEME) if email else None


def _buyer(document: InvoiceDocument, *, not_subject: bool, peppol: bool) -> BuyerParty:
    country = _buyer_country(document)
    vat_id = vat.normalize_vat_id(document.buyer_vat_id, country)
    return BuyerParty(
        name=buyer_name(document),
        vat_id="" if not_subject else vat_id,  # BR-O-02
        electronic_address=_buyer_electronic_address(document, vat_id, peppol=peppol),
        address=_postal_address(document.billing_address, country),
    )


def _delivery(document: InvoiceDocument, issue_date: dt.date, categories: set[str]) -> Delivery:
    """BG-13: the supply date (BT-72, else the issue date) and where goods went (BG-15).

    An intra-Community supply must name the country the goods went to (BR-IC-12): without a
    shipping address that is the buyer's own address.
    """
    shipping = document.shipping_address
    if shipping is None and INTRA_COMMUNITY in categories:
        shipping = document.billing_address
    address = None
    name = ""
    if shipping is not None:
        address = _postal_address(shipping, _first_country(shipping.country, _buyer_country(document)))
        name = shipping.company_name.strip() or shipping.contact_name.strip()
    return Delivery(date=document.delivery_date or issue_date, party_name=name, address=address)


# --- payment ----------------------------------------------------------------------------------------
def _german_rules_apply(profile: Profile, seller: SellerParty, buyer: BuyerParty) -> bool:
    if profile.german_rules == "always":
        return True
    domestic = seller.address.country_code == buyer.address.country_code == "DE"
    return profile.german_rules == "domestic" and domestic


def _payment(document: InvoiceDocument, number: str, *, german_rules: bool) -> PaymentInstructions:
    """BG-16 from `document.payment_means` (BT-81, UNTDID 4461)."""
    seller = document.seller
    iban = seller.iban.replace(" ", "").upper()
    if document.payment_means == "card":
        # BR-DE-24-a (XRechnung; DE-R-024-1 in Peppol BIS between German parties) wants BG-18
        # with the card number's last digits for code 48, and the gateway keeps the card behind
        # a token: there the payment is what it also is, one made through an online payment
        # service (68), and BT-82 says it was a card.
        code = ONLINE_PAYMENT_SERVICE if german_rules else BANK_CARD
        return PaymentInstructions(code, "Card payment, charged", "", "", "", "")
    if document.payment_means == "cash":
        return PaymentInstructions(CASH, "Cash", "", "", "", "")
    if not iban:
        # 58 needs the account to pay to (BR-61); without one the means is only described.
        return PaymentInstructions(INSTRUMENT_NOT_DEFINED, "Credit transfer", number, "", "", "")
    bic = seller.bic.replace(" ", "").upper()
    # BT-83: the invoice number, as the printed payment note asks the payer to quote it.
    return PaymentInstructions(
        CREDIT_TRANSFER_SEPA, "SEPA credit transfer", number, iban, account_name=seller.legal_name, bic=bic
    )


def _credit_note_payment(
    document: InvoiceDocument, number: str, *, german_rules: bool
) -> PaymentInstructions:
    """BG-16 of a credit note: how the credited amount reaches the buyer (BT-81, UNTDID 4461).

    XRechnung wants BG-16 on every document, credit notes included (BR-DE-1; DE-R-001 in Peppol
    BIS between German parties), so there is always one:

    - refunded (`REFUNDED`): the gateway paid it back to the card the invoice was paid with. The
      card code the invoice has: 48, or 68 where BR-DE-24-a / DE-R-024-1 would want the card's
      digits (see `_payment`); BT-82 says it was refunded.
    - paid back or offset (`PAY_BACK`, and any credit note that says nothing): still open, and
      how it is settled is not decided. A credit transfer (30, 58) needs BT-84, "the account to
      which payment should be made" (BR-61, BR-50; XRechnung BR-DE-23-a wants BG-17): on a credit
      note that is the buyer's account, which the service never knows, and the seller's IBAN
      there would ask the buyer to pay the seller. So code 1, "instrument not defined" (no
      rule asks anything of it), BT-82 saying how, and the credit note number as the remittance
      information (BT-83) a transfer would quote.
    """
    if document.refund == REFUNDED:
        code = ONLINE_PAYMENT_SERVICE if german_rules else BANK_CARD
        return PaymentInstructions(code, "Card payment, refunded", "", "", "", "")
    return PaymentInstructions(INSTRUMENT_NOT_DEFINED, "Paid back or offset", number, "", "", "")


def _credit_note_terms(document: InvoiceDocument) -> str:
    """BT-20 of a credit note: what becomes of the credited amount, as the PDF says it
    (`invoicing.pdf.wording.refund_sentence`, in the document's language), never a payment term.

    EN 16931 BR-CO-25 ("BT-115 positive: BT-9 or BT-20") was dropped from the CEN rules for
    credit notes (eInvoicing-EN16931 #84, #232, #477; not in 1.3.16); validators that still run
    an older version ask for BT-20 on a credit note that is not refunded yet, and this is it.
    """
    from invoicing.pdf import wording  # the PDF's words; imported here, the PDF is not needed otherwise

    if document.refund != REFUNDED:
        document = dataclasses.replace(document, refund=PAY_BACK)
    with language_override(document.language):
        sentence = wording.refund_sentence(document, Formats(document.language))
    return sentence.strip() or document.payment_note.strip()


# --- VAT ----------------------------------------------------------------------------------------------
# "Art. 132(1)(c)", "Article 135 (1)", "Artikel 151(1)(aa)": article, paragraph, point
_ARTICLE = re.compile(r"Art(?:icle|ikel|\.)?\s*(\d+)\s*(?:\((\d+)\))?\s*(?:\(([a-z]{1,2})\))?", re.IGNORECASE)


def _exemption_code(line: TaxBreakdownLine) -> str:
    """BT-121 of a breakdown line.

    E covers many provisions with a VATEX code each: the tenant's reference ("Art. 132(1)(c) VAT
    Directive") gives VATEX-EU-132-1C; a reference the list does not know (a national one, or
    none) gives no code, and the text BT-120 alone satisfies BR-E-10.
    """
    if line.category in CATEGORY_VATEX:
        return CATEGORY_VATEX[line.category]
    if line.category != vat.VatCategory.EXEMPT:
        return ""
    found = _ARTICLE.search(line.reference)
    if not found:
        return ""
    article, paragraph, point = found.group(1), found.group(2) or "", (found.group(3) or "").upper()
    candidates = [
        f"VATEX-EU-{article}-{paragraph}{point}",
        f"VATEX-EU-{article}-{point}",
        f"VATEX-EU-{article}-{paragraph}",
        f"VATEX-EU-{article}",
    ]
    return next((code for code in candidates if code in _EXEMPTION_CODES), "")


def _vat_breakdown(document: InvoiceDocument) -> tuple[VatBreakdown, ...]:
    """BG-23, the breakdown the PDF prints, with the note it prints per category as BT-120.

    S and Z carry no exemption reason (BR-S-10, BR-Z-10); the others carry the printed note
    (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10) and their VATEX code.
    """
    out = []
    for line in document.tax_breakdown:
        exempt = line.category not in (vat.VatCategory.STANDARD, vat.VatCategory.ZERO_RATED)
        reason = vat.legal_note(line.category, document.language, line.reference) if exempt else ""
        out.append(
            VatBreakdown(
                category=line.category,
                rate=line.rate,
                taxable_amount=line.net,
                tax_amount=line.tax,
                exemption_reason=reason,
                exemption_reason_code=_exemption_code(line) if exempt else "",
            )
        )
    return tuple(out)


def _line_rate(category: str, rate: Decimal) -> Decimal | None:
    return None if category == NOT_SUBJECT else rate  # BR-O-05, -06, -07


# --- lines, allowances, charges -----------------------------------------------------------------
def _key(row: InvoiceRow) -> tuple[Decimal, str]:
    return row.tax_rate, row.vat_category


def _reconciled_nets(document: InvoiceDocument) -> list[Decimal]:
    """Each row's net such that the rows of each rate and category add up to the breakdown's
    taxable amount (BT-116), as BR-S-08 (and BR-Z/E/AE/IC/G/O-08) demand to the cent in CII.

    A gross-priced document derives row nets from row grosses; `recalculate` already gives any
    leftover cent to the largest row, but a document built otherwise may not. The breakdown and
    totals are what the PDF prints and what was charged, so they stay; the difference goes to the
    largest item row of that rate and category (never visible on a gross-priced PDF, which
    prints amounts incl. VAT).
    """
    nets = [row.net for row in document.rows]
    for line in document.tax_breakdown:
        positions = [i for i, row in enumerate(document.rows) if _key(row) == (line.rate, line.category)]
        rest = line.net - sum((nets[i] for i in positions), ZERO)
        if rest and positions:
            items = [i for i in positions if document.rows[i].kind == "item"] or positions
            largest = max(items, key=lambda i: abs(nets[i]))
            nets[largest] += rest
    return nets


def net_price(net: Decimal, quantity: Decimal, printed: Decimal) -> Decimal:
    """BT-146 so that quantity x price is the line net amount within a cent.

    Peppol BIS checks it with a slack of 0.02 (PEPPOL-EN16931-R120). The printed unit price is
    kept when it does (7 x 4.196 = 29.372 for 29.37); otherwise net / quantity with the decimals
    it takes (a reconciled B2C row, or JPY where a rounded price can be half a yen off).
    """
    if not quantity:
        return abs(printed)
    if abs(quantity * printed - net) <= CENT:
        return printed
    for places in range(2, 11):
        price = (net / quantity).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if abs(quantity * price - net) <= CENT:
            return price
    return price


def _lines(document: InvoiceDocument, nets: list[Decimal]) -> tuple[InvoiceLine, ...]:
    lines = []
    items = [(row, net) for row, net in zip(document.rows, nets, strict=True) if row.kind == "item"]
    for number, (row, net) in enumerate(items, start=1):
        quantity = row.quantity
        # BR-27: the net price is never negative; a negative line (a return) has a negative quantity.
        if net < 0 < quantity:
            quantity = -quantity
        lines.append(
            InvoiceLine(
                line_id=str(number),
                quantity=quantity,
                unit_code=UNIT,
                net_amount=net,
                net_price=net_price(net, quantity, abs(row.unit_net)),
                vat_category=row.vat_category,
                vat_rate=_line_rate(row.vat_category, row.tax_rate),
                item_name=row.description.strip() or row.sku or f"Item {number}",
                seller_item_id=row.sku,
            )
        )
    return tuple(lines)


def _allowances_charges(document: InvoiceDocument, nets: list[Decimal]) -> tuple[AllowanceCharge, ...]:
    """Shipping and fees as document-level charges (BG-21), discounts as allowances (BG-20), each
    with its VAT category and rate (BR-32, BR-37), a reason text and, where one fits, a code."""
    out = []
    for row, net in zip(document.rows, nets, strict=True):
        if row.kind == "item":
            continue
        is_charge = net > 0 or (net == 0 and row.kind != "discount")
        code = ""
        if not is_charge and row.kind == "discount":
            code = DISCOUNT_REASON
        elif is_charge and row.kind == "shipping":
            code = FREIGHT_CHARGE_REASON
        out.append(
            AllowanceCharge(
                is_charge=is_charge,
                amount=abs(net),
                reason=row.description.strip() or row.kind.capitalize(),
                reason_code=code,
                vat_category=row.vat_category,
                vat_rate=_line_rate(row.vat_category, row.tax_rate),
            )
        )
    return tuple(out)


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, ZERO)


def _totals(
    document: InvoiceDocument, lines: tuple[InvoiceLine, ...], extras: tuple[AllowanceCharge, ...]
) -> Totals:
    """BG-22: the printed totals; paid invoices (captured, cash) are paid in full (BT-113 = BT-112).

    A credit note's amounts are positive, its direction is its type (BT-3 381): BT-115 is what
    the seller still owes the buyer. Refunded by the gateway, that is nothing: BT-113 = BT-112,
    BT-115 = 0 (BR-CO-16), as for an invoice paid by card; paid back or offset later, BT-115 is
    the credited total.
    """
    gross = document.gross_total
    due = document.amount_due if document.amount_due is not None else gross
    if document.paid or (document.is_credit_note and document.refund == REFUNDED):
        due = ZERO
    foreign = document.foreign_currency_vat
    return Totals(
        line_net_total=_sum(line.net_amount for line in lines),
        allowance_total=_sum(a.amount for a in extras if not a.is_charge),
        charge_total=_sum(c.amount for c in extras if c.is_charge),
        net_total=document.net_total,
        tax_total=document.tax_total,
        tax_total_accounting=foreign.tax_total if foreign is not None else None,
        gross_total=gross,
        paid=gross - due,
        due=due,
    )


# --- the invoice ----------------------------------------------------------------------------------
def today_for(document: InvoiceDocument) -> dt.date:
    """The seller's today: the issue date of a document validated before it is numbered."""
    return timezone.now().astimezone(ZoneInfo(document.seller.time_zone or "UTC")).date()


def invoice_model(document: InvoiceDocument, profile: Profile, *, placeholder_number: str) -> Invoice:
    """The EN 16931 invoice of a document, for the format `profile` describes.

    A document not yet numbered (validated before capture) gets `placeholder_number` and today.
    """
    number = document.number or placeholder_number
    issue_date = document.issue_date or today_for(document)
    categories = {row.vat_category for row in document.rows} | {t.category for t in document.tax_breakdown}
    not_subject = NOT_SUBJECT in categories
    seller = _seller(document, not_subject=not_subject, peppol=profile.peppol_endpoints)
    buyer = _buyer(document, not_subject=not_subject, peppol=profile.peppol_endpoints)
    nets = _reconciled_nets(document)
    lines = _lines(document, nets)
    extras = _allowances_charges(document, nets)
    totals = _totals(document, lines, extras)
    foreign = document.foreign_currency_vat
    german_rules = _german_rules_apply(profile, seller, buyer)
    credit_note = document.is_credit_note
    if credit_note:
        # Nothing is requested of the buyer: no due date (BT-9), BT-20 says what becomes of the
        # credited amount (`_credit_note_terms`).
        due_date, terms = None, _credit_note_terms(document)
        payment = _credit_note_payment(document, number, german_rules=german_rules)
    else:
        # BT-9 only while something is due (BR-CO-25 wanted it or BT-20 then)
        due_date = document.due_date if totals.due > 0 else None
        terms = document.payment_note.strip()
        payment = _payment(document, number, german_rules=german_rules)
    return Invoice(
        specification=profile.specification,
        business_process=profile.business_process,
        number=number,
        issue_date=issue_date,
        type_code=CREDIT_NOTE if credit_note else INVOICE,
        currency=document.currency,
        vat_accounting_currency=foreign.currency if foreign is not None else "",
        due_date=due_date,
        buyer_reference=document.buyer_reference.strip() or document.order_id,
        order_reference=document.order_id,
        payment_terms=terms,
        seller=seller,
        buyer=buyer,
        delivery=_delivery(document, issue_date, categories),
        payment=payment,
        allowances_charges=extras,
        vat_breakdown=_vat_breakdown(document),
        totals=totals,
        lines=lines,
        notes=_notes(document),
        preceding_invoices=_preceding_invoices(document),
    )


def _notes(document: InvoiceDocument) -> tuple[Note, ...]:
    """BG-1: a credit note's reason, subject "Reason" (UNTDID 4451 ACD, BR-CL-08). One note at
    most: Peppol BIS allows no second one unless seller and buyer are German
    (PEPPOL-EN16931-R002). Invoices carry none."""
    reason = document.credit_reason.strip() if document.is_credit_note else ""
    return (Note(reason, REASON_SUBJECT),) if reason else ()


def _preceding_invoices(document: InvoiceDocument) -> tuple[PrecedingInvoice, ...]:
    """BG-3: the invoice a credit note corrects, its number (BT-25, BR-55) and date (BT-26)."""
    number = document.preceding_invoice_number.strip()
    return (PrecedingInvoice(number, document.preceding_invoice_date),) if number else ()
