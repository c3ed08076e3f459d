"""The e-invoice matrix: invoice documents as the service produces them, one per situation.

Each case builds an order as a shop prices it (`order`) and runs it through the real
recalculation (`invoicing.recalculation.recalculate`), so the amounts, VAT categories, notes
and e-invoice fields are the ones an issued invoice has. Only the BR-CO-10 reconciliation case
builds a document by hand: it is about a document the recalculation would never produce.

`CASES` maps a case name to its `Case`: how to build the document and which formats apply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from integrations.ports import (
    Address,
    Charge,
    Customer,
    ExchangeRate,
    LegalEntity,
    Order,
    OrderLine,
    Seller,
    TaxTotal,
)
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.einvoice import FORMATS
from invoicing.recalculation import recalculate
from invoicing.vat import VatTreatments

D = Decimal
ISSUED_ON = dt.date(2025, 6, 10)
DELIVERED_ON = dt.date(2025, 6, 3)
NUMBER = "RE-2025-000042"

ALL = FORMATS
# Peppol BIS is a network of businesses and public bodies: a consumer has no participant id
# (PEPPOL-EN16931-R010), so B2C invoices are Factur-X and, in Germany, XRechnung.
CONSUMER = ("facturx", "xrechnung-cii", "xrechnung-ubl")
# XRechnung is the German CIUS (for German, above all public, buyers): a buyer abroad gets
# Factur-X or Peppol BIS.
ABROAD = ("facturx", "peppol-bis")


def place(street: str, number: str, zip_code: str, city: str, country: str, **names: str) -> Address:
    return Address(
        street=street, street_number=number, zip_code=zip_code, city=city, country=country, **names
    )


SELLER = Seller(
    legal_name="Nordlicht Handels GmbH",
    address=place("Friedrichstraße", "123", "10117", "Berlin", "DE"),
    vat_id="DE136695976",
    tax_number="37/123/45678",
    iban="DE89 3704 0044 0532 0130 00",
    bic="COBADEFFXXX",
    email="rechnung@nordlicht.example",
    phone="+49 30 1234567",
    contact_name="Erika Mustermann",
    time_zone="Europe/Berlin",
    currency="EUR",
    language="de",
)
GROSS_SELLER = dataclasses.replace(SELLER, prices_include_tax=True)


# --- buyers ---------------------------------------------------------------------------------------
def _entity(legal_id: str, name: str, vat_id: str, country: str, **fields: str) -> LegalEntity:
    return LegalEntity(legal_id, name, vat_id, country, **fields)


DE_COMPANY = _entity("LE-DE", "Hansa Bürobedarf GmbH", "DE811907980", "DE")
DE_PUBLIC = _entity(
    "LE-DE-PUB", "Stadt Musterstadt, Amt für Schulen", "DE129273398", "DE",
    buyer_reference="991-12345-67", einvoice_format="xrechnung",
)  # fmt: skip
FR_COMPANY = _entity("LE-FR", "Société Exemple SA", "FR 403 032 650 45", "FR")
NL_COMPANY = _entity("LE-NL", "Voorbeeld Handel B.V.", "NL004495445B01", "NL")
PL_COMPANY = _entity("LE-PL", "Przykład Sp. z o.o.", "PL 8567346215", "PL")
CH_COMPANY = _entity("LE-CH", "Beispiel AG", "CHE-107.787.577 MWST", "CH")
# A US business has no VAT ID; its Peppol id is its D-U-N-S number (EAS 0060).
US_COMPANY = _entity("LE-US", "Example Corp.", "", "US", peppol_id="0060:080012345")

BERLIN = place("Torstraße", "1", "10119", "Berlin", "DE", contact_name="Jana Schulz")
HAMBURG = place("Spitalerstraße", "10", "20095", "Hamburg", "Germany")  # a name, as addresses may have
MUSTERSTADT = place("Rathausplatz", "1", "12345", "Musterstadt", "DE")
PARIS = place("Rue de Rivoli", "10", "75001", "Paris", "FR", contact_name="Claire Martin")
LYON = place("Rue de la République", "5", "69002", "Lyon", "FR", company_name="Société Exemple SA - Entrepôt")
AMSTERDAM = place("Damrak", "1", "1012 LG", "Amsterdam", "Netherlands")
WARSAW = place("ul. Marszałkowska", "100", "00-026", "Warszawa", "PL")
ZURICH = place("Bahnhofstrasse", "1", "8001", "Zürich", "CH")
NEW_YORK = place("Broadway", "1", "10004", "New York", "US", state="NY")


# --- orders ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One order entry as the shop prices it: unit price net (B2B) or gross (B2C)."""

    quantity: str
    price: str
    rate: str
    code: str = "STANDARD"
    name: str = ""
    discount: str = "0"  # taken off the line, priced like `price`
    fee: str = "0"  # charged on the line, priced like `price`


def _other_side(amount: Decimal, rate: Decimal, *, gross_pricing: bool) -> Decimal:
    """The net of a gross amount or the gross of a net one, to three decimals as Emporix keeps them."""
    factor = 1 + rate / 100
    other = amount / factor if gross_pricing else amount * factor
    return other.quantize(D("0.001"), rounding=ROUND_HALF_UP)


def _net_gross(amount: Decimal, rate: Decimal, *, gross_pricing: bool) -> tuple[Decimal, Decimal]:
    other = _other_side(amount, rate, gross_pricing=gross_pricing)
    return (other, amount) if gross_pricing else (amount, other)


def charge(
    kind: str, description: str, amount: str, rate: str, *, gross_pricing: bool, code: str = ""
) -> Charge:
    """An order-level row priced like the order (a discount's amount is negative)."""
    net, gross = _net_gross(D(amount), D(rate), gross_pricing=gross_pricing)
    return Charge(kind=kind, description=description, net=net, gross=gross, tax_rate=D(rate), tax_code=code)


def _order_line(index: int, line: Line, *, gross_pricing: bool) -> OrderLine:
    rate, quantity = D(line.rate), D(line.quantity)
    unit_net, unit_gross = _net_gross(D(line.price), rate, gross_pricing=gross_pricing)
    net, gross = _net_gross(quantity * D(line.price), rate, gross_pricing=gross_pricing)
    discount_net, discount_gross = _net_gross(D(line.discount), rate, gross_pricing=gross_pricing)
    fee_net, fee_gross = _net_gross(D(line.fee), rate, gross_pricing=gross_pricing)
    return OrderLine(
        line_id=str(index), description=line.name or f"Article {index}", sku=f"SKU-{index:03d}",
        quantity=quantity, unit_net=unit_net, unit_gross=unit_gross, tax_rate=rate, tax_code=line.code,
        net=net, gross=gross, discount_net=discount_net, discount_gross=discount_gross,
        fee_net=fee_net, fee_gross=fee_gross,
    )  # fmt: skip


def _stated_totals(
    lines: tuple[OrderLine, ...], charges: tuple[Charge, ...], *, gross_pricing: bool, tax_per_line: bool
) -> tuple[TaxTotal, ...]:
    """The order's own tax aggregate, unrounded as Emporix states it (or rounded per line)."""
    parts: dict[Decimal, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for line in lines:
        parts[line.tax_rate].append(
            (line.net - line.discount_net + line.fee_net, line.gross - line.discount_gross + line.fee_gross)
        )
    for extra in charges:
        parts[extra.tax_rate].append((extra.net, extra.gross))
    totals = []
    for rate, amounts in parts.items():
        if tax_per_line:
            net = sum((n for n, _ in amounts), D(0))
            tax = sum(
                ((n * rate / 100).quantize(D("0.01"), rounding=ROUND_HALF_UP) for n, _ in amounts), D(0)
            )
            totals.append(TaxTotal(rate=rate, net=net, tax=tax, gross=net + tax))
        elif gross_pricing:
            gross = sum((g for _, g in amounts), D(0))
            tax = gross * rate / (100 + rate)
            totals.append(TaxTotal(rate=rate, net=gross - tax, tax=tax, gross=gross))
        else:
            net = sum((n for n, _ in amounts), D(0))
            totals.append(TaxTotal(rate=rate, net=net, tax=net * rate / 100, gross=net * (1 + rate / 100)))
    return tuple(totals)


def order(
    lines: list[Line],
    *,
    gross_pricing: bool,
    currency: str = "EUR",
    charges: tuple[Charge, ...] = (),
    customer: Customer | None = None,
    billing: Address = BERLIN,
    shipping: Address | None = None,
    legal_entity_id: str = "",
    tax_per_line: bool = False,
) -> Order:
    order_lines = tuple(
        _order_line(i, line, gross_pricing=gross_pricing) for i, line in enumerate(lines, start=1)
    )
    totals = _stated_totals(order_lines, charges, gross_pricing=gross_pricing, tax_per_line=tax_per_line)
    return Order(
        order_id="ORD-2025-0815", status="COMPLETED", extended_status="", currency=currency,
        created_at=dt.datetime(2025, 6, 1, 8, tzinfo=dt.UTC), site_code="main",
        customer=customer or Customer("C-4711", "jana.schulz@example.com", "Jana Schulz"),
        billing_address=billing, shipping_address=shipping, lines=order_lines, charges=charges,
        stated_net=sum((t.net for t in totals), D(0)), stated_tax=sum((t.tax for t in totals), D(0)),
        stated_gross=sum((t.gross for t in totals), D(0)), stated_tax_totals=totals,
        delivery_window_date=DELIVERED_ON, delivery_date=DELIVERED_ON, legal_entity_id=legal_entity_id,
    )  # fmt: skip


class FixedRates:
    """Exchange rates to EUR as a bank would publish them for the supply date."""

    TO_EUR = {"USD": D("0.92"), "CHF": D("1.0412"), "JPY": D("0.006124"), "KWD": D("2.9871")}

    def get_rate(self, *, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        rate = self.TO_EUR.get(source)
        return ExchangeRate(source=source, target=target, rate=rate, as_of=on) if rate else None


def issued(
    the_order: Order,
    *,
    seller: Seller = SELLER,
    buyer: LegalEntity | None = None,
    paid_by_card: bool = False,
    treatments: VatTreatments | None = None,
    numbered: bool = True,
) -> InvoiceDocument:
    """The document the pipeline issues for an order: recalculated, then numbered."""
    document = recalculate(
        the_order,
        seller,
        paid_by_capture=paid_by_card,
        buyer=buyer,
        treatments=treatments,
        rates=FixedRates(),
        rates_source="test rates",
        today=ISSUED_ON,
    )
    return document.with_number(NUMBER, ISSUED_ON) if numbered else document


def _company(entity: LegalEntity, email: str) -> Customer:
    return Customer("C-B2B", email, entity.legal_name, company=entity.legal_name)


# --- the cases --------------------------------------------------------------------------------------
def b2c_de_19() -> InvoiceDocument:
    """A consumer in Berlin, gross prices at 19 %, shipping, paid by card."""
    the_order = order(
        [
            Line("1", "1099.00", "19", name="Espresso machine Barista Pro"),
            Line("2", "24.99", "19", name="Milk jug"),
        ],
        gross_pricing=True,
        charges=(charge("shipping", "DHL parcel", "4.90", "19", gross_pricing=True),),
    )
    return issued(the_order, seller=GROSS_SELLER, paid_by_card=True)


def b2c_de_7() -> InvoiceDocument:
    """A consumer in Berlin, books and coffee at 7 %, paid by bank transfer."""
    the_order = order(
        [Line("3", "14.50", "7", name="Coffee beans 1 kg"), Line("1", "19.99", "7", name="Cookbook")],
        gross_pricing=True,
        charges=(charge("shipping", "Shipping", "3.95", "7", gross_pricing=True),),
    )
    return issued(the_order, seller=GROSS_SELLER)


def b2b_de() -> InvoiceDocument:
    """A German business without a Leitweg-ID (BT-10 = the order id), bank transfer."""
    the_order = order(
        [Line("10", "12.40", "19", name="Toner cartridge"), Line("5", "3.30", "7", name="Paper 500 sheets")],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def b2b_de_leitweg() -> InvoiceDocument:
    """A German public buyer with a Leitweg-ID as BT-10 (XRechnung's main case)."""
    the_order = order(
        [Line("30", "4.99", "19", name="Whiteboard markers"), Line("2", "149.00", "19", name="Flipchart")],
        gross_pricing=False,
        customer=_company(DE_PUBLIC, "beschaffung@musterstadt.example"),
        billing=MUSTERSTADT,
        legal_entity_id=DE_PUBLIC.legal_entity_id,
    )
    return issued(the_order, buyer=DE_PUBLIC)


def b2b_de_card() -> InvoiceDocument:
    """A German business that paid by card: paid in full, nothing due (BT-113 = BT-112)."""
    the_order = order(
        [Line("1", "899.00", "19", name="Laptop stand"), Line("4", "29.90", "19", name="USB-C hub")],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY, paid_by_card=True)


def _intra_eu(entity: LegalEntity, billing: Address, shipping: Address | None) -> InvoiceDocument:
    """Goods at 0 % to a business in another member state: K (Art. 138), VAT IDs of both."""
    the_order = order(
        [Line("20", "45.00", "0", code="ZERO", name="Office chair"), Line("5", "12.00", "0", code="ZERO")],
        gross_pricing=False,
        charges=(charge("shipping", "Freight", "60.00", "0", gross_pricing=False, code="ZERO"),),
        customer=_company(entity, "purchasing@example.com"),
        billing=billing,
        shipping=shipping,
        legal_entity_id=entity.legal_entity_id,
    )
    return issued(the_order, buyer=entity)


def eu_fr() -> InvoiceDocument:
    return _intra_eu(FR_COMPANY, PARIS, LYON)


def eu_nl() -> InvoiceDocument:
    return _intra_eu(NL_COMPANY, AMSTERDAM, None)  # no shipping address: BR-IC-12 uses the billing one


def eu_pl() -> InvoiceDocument:
    return _intra_eu(PL_COMPANY, WARSAW, WARSAW)


def eu_fr_services() -> InvoiceDocument:
    """Services to a French business: AE, the customer is liable for the VAT (Art. 196)."""
    the_order = order(
        [Line("8", "120.00", "0", code="CONSULTING", name="Consulting (hours)")],
        gross_pricing=False,
        customer=_company(FR_COMPANY, "achats@exemple.example"),
        billing=PARIS,
        legal_entity_id=FR_COMPANY.legal_entity_id,
    )
    treatments = VatTreatments.from_json({"tax_codes": {"CONSULTING": {"supply": "services"}}})
    return issued(the_order, buyer=FR_COMPANY, treatments=treatments)


def export_us() -> InvoiceDocument:
    """Goods exported to a US business: G (Art. 146), the buyer's Peppol id from its legal entity."""
    the_order = order(
        [Line("2", "1250.00", "0", code="ZERO", name="Espresso machine Barista Pro")],
        gross_pricing=False,
        charges=(charge("shipping", "Air freight", "180.00", "0", gross_pricing=False, code="ZERO"),),
        customer=_company(US_COMPANY, "ap@example-corp.example"),
        billing=NEW_YORK,
        shipping=NEW_YORK,
        legal_entity_id=US_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=US_COMPANY)


def export_ch() -> InvoiceDocument:
    """Goods exported to a Swiss business with a Swiss VAT number: G."""
    the_order = order(
        [Line("3", "310.00", "0", code="ZERO", name="Grinder"), Line("10", "8.50", "0", code="ZERO")],
        gross_pricing=False,
        customer=_company(CH_COMPANY, "einkauf@beispiel.example"),
        billing=ZURICH,
        shipping=ZURICH,
        legal_entity_id=CH_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=CH_COMPANY)


def zero_rated() -> InvoiceDocument:
    """Solar modules to a German business at 0 % (§ 12 (3) UStG): Z, no exemption reason (BR-Z-10)."""
    the_order = order(
        [
            Line("12", "180.00", "0", code="ZERO", name="Solar module 420 W"),
            Line("1", "95.00", "19", name="Mounting kit"),
        ],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def exempt() -> InvoiceDocument:
    """Medical care exempt under Art. 132(1)(c) (the tenant's reference) next to standard-rated goods."""
    the_order = order(
        [
            Line("1", "80.00", "0", code="MEDICAL", name="Physiotherapy session"),
            Line("1", "15.00", "19", name="Kinesio tape"),
        ],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    treatments = VatTreatments.from_json(
        {"tax_codes": {"MEDICAL": {"category": "E", "reference": "Art. 132(1)(c) VAT Directive"}}}
    )
    return issued(the_order, buyer=DE_COMPANY, treatments=treatments)


def exempt_without_reference() -> InvoiceDocument:
    """The built-in EXEMPT tax code: E with the printed note and no VATEX code (BR-E-10 takes either)."""
    the_order = order(
        [Line("2", "250.00", "0", code="EXEMPT", name="Seminar fee")],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def not_subject() -> InvoiceDocument:
    """A supply outside the scope of VAT (NOT_SUBJECT): O, alone on its invoice (BR-O-11)."""
    the_order = order(
        [
            Line("1", "500.00", "0", code="NOT_SUBJECT", name="Membership fee"),
            Line("1", "20.00", "0", code="NOT_SUBJECT"),
        ],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def services_us() -> InvoiceDocument:
    """Services to a US business: place of supply at the customer, O (not subject to VAT in the EU)."""
    the_order = order(
        [Line("16", "95.00", "0", code="CONSULTING", name="Implementation (hours)")],
        gross_pricing=False,
        customer=_company(US_COMPANY, "ap@example-corp.example"),
        billing=NEW_YORK,
        legal_entity_id=US_COMPANY.legal_entity_id,
    )
    treatments = VatTreatments.from_json({"tax_codes": {"CONSULTING": {"supply": "services"}}})
    return issued(the_order, buyer=US_COMPANY, treatments=treatments)


def discounts_shipping_fees() -> InvoiceDocument:
    """Line discounts and fees, an order discount, shipping and a payment fee, at 19 % and 7 %."""
    the_order = order(
        [
            Line("4", "49.90", "19", name="Desk lamp", discount="19.96", fee="2.50"),
            Line("10", "6.40", "7", name="Notebook A5", discount="6.40"),
            Line("1", "320.00", "19", name="Office chair"),
        ],
        gross_pricing=False,
        charges=(
            charge("shipping", "Freight forwarding", "39.00", "19", gross_pricing=False),
            charge("fee", "Payment fee", "2.00", "19", gross_pricing=False),
            charge("discount", "Voucher SPRING25", "-25.00", "19", gross_pricing=False),
        ),
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def b2c_discounts_shipping_fees() -> InvoiceDocument:
    """The same for a consumer, gross-priced: allowances and charges carry net amounts."""
    the_order = order(
        [
            Line("2", "59.99", "19", name="Running shoes", discount="12.00"),
            Line("3", "2.49", "7", name="Energy bar", fee="0.50"),
        ],
        gross_pricing=True,
        charges=(
            charge("shipping", "Express shipping", "9.99", "19", gross_pricing=True),
            charge("fee", "Cash on delivery fee", "2.00", "19", gross_pricing=True),
            charge("discount", "Newsletter voucher", "-5.00", "19", gross_pricing=True),
        ),
    )
    return issued(the_order, seller=GROSS_SELLER)


def long_200_lines() -> InvoiceDocument:
    lines = [
        Line(str(1 + i % 7), f"{1 + (i * 37) % 500}.{i % 100:02d}", "19" if i % 3 else "7")
        for i in range(200)
    ]
    the_order = order(
        lines,
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def _foreign_currency(currency: str, lines: list[Line], *, gross_pricing: bool = False) -> InvoiceDocument:
    """An invoice in another currency with German VAT, stated in EUR too (BT-6, BT-111; Art. 230)."""
    if gross_pricing:
        return issued(order(lines, gross_pricing=True, currency=currency), seller=GROSS_SELLER)
    the_order = order(
        lines,
        gross_pricing=False,
        currency=currency,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def jpy() -> InvoiceDocument:
    """Yen, no decimals, gross-priced for a consumer: nets and tax in whole yen."""
    return _foreign_currency(
        "JPY", [Line("3", "3333", "19"), Line("1", "1999", "7"), Line("7", "498", "19")], gross_pricing=True
    )


def kwd() -> InvoiceDocument:
    """Kuwaiti dinar (three decimals) whose amounts, VAT included, are whole 10 fils: written with
    two decimals (BR-DEC-*). One that needs a fils cannot be EN 16931 (`kwd_with_fils`)."""
    return _foreign_currency(
        "KWD", [Line("2", "37.500", "19"), Line("1", "25.000", "19"), Line("4", "5.000", "7")]
    )


def kwd_with_fils() -> InvoiceDocument:
    """87.250 KWD at 19 % is 16.578 KWD of VAT: no EN 16931 amount can say that."""
    return _foreign_currency("KWD", [Line("2", "37.500", "19"), Line("1", "12.250", "19")])


def chf() -> InvoiceDocument:
    return _foreign_currency("CHF", [Line("3", "129.90", "19"), Line("2", "45.35", "7")])


def usd() -> InvoiceDocument:
    return _foreign_currency(
        "USD", [Line("1", "2499.00", "19"), Line("6", "19.99", "19")], gross_pricing=True
    )


def rounding_tax_per_line() -> InvoiceDocument:
    """Three lines of 10.02 at 19 %: the order rounds VAT per line (5.70), not per rate (5.71).
    BR-CO-17 accepts either within one unit; the invoice follows the order."""
    the_order = order(
        [Line("1", "10.02", "19"), Line("1", "10.02", "19"), Line("1", "10.02", "19")],
        gross_pricing=False,
        tax_per_line=True,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def rounding_half_cents() -> InvoiceDocument:
    """Line nets of half a cent (3 x 3.335 = 10.005 -> 10.01): BT-106 is the sum of the rounded
    line nets (30.03), not the rounded sum (30.02) - BR-CO-10 to the cent."""
    the_order = order(
        [
            Line("3", "3.335", "19"),
            Line("3", "3.335", "19"),
            Line("3", "3.335", "19"),
            Line("7", "4.196", "7"),
        ],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )
    return issued(the_order, buyer=DE_COMPANY)


def rounding_gross_rows() -> InvoiceDocument:
    """Gross prices whose row nets do not add up to the rate's taxable amount unless a cent is
    moved (3 x 0.99 at 19 %: 0.83 each, 2.49 taxable): BR-S-08 to the cent."""
    the_order = order(
        [Line("1", "0.99", "19"), Line("1", "0.99", "19"), Line("1", "0.99", "19"), Line("1", "0.55", "7")],
        gross_pricing=True,
    )
    return issued(the_order, seller=GROSS_SELLER)


def reconciled_by_the_builder() -> InvoiceDocument:
    """A gross-priced document built elsewhere whose row nets miss the breakdown by a cent:
    the builder moves the cent to the largest line, the totals stay the PDF's."""
    rows = (
        InvoiceRow("item", "Tea", D(1), D("0.84"), D(19), D("0.84"), unit_gross=D("0.99"), gross=D("0.99")),
        InvoiceRow("item", "Tea", D(1), D("0.84"), D(19), D("0.84"), unit_gross=D("0.99"), gross=D("0.99")),
        InvoiceRow("item", "Honey", D(2), D("3.36"), D(19), D("6.72"), unit_gross=D("3.99"), gross=D("7.98")),
    )
    breakdown = (TaxBreakdownLine(D(19), D("8.36"), D("1.60"), D("9.96")),)
    the_order = order([Line("1", "9.96", "19")], gross_pricing=True)
    template = issued(the_order, seller=GROSS_SELLER)
    return dataclasses.replace(
        template, rows=rows, tax_breakdown=breakdown, net_total=D("8.36"), tax_total=D("1.60"),
        gross_total=D("9.96"), amount_due=D("9.96"),
    )  # fmt: skip


def draft() -> InvoiceDocument:
    """Before capture and numbering: no number, no issue date (PLACEHOLDER_NUMBER, today)."""
    return issued(b2b_order_for_draft(), buyer=DE_COMPANY, numbered=False)


def b2b_order_for_draft() -> Order:
    return order(
        [Line("1", "59.00", "19", name="Desk organiser")],
        gross_pricing=False,
        customer=_company(DE_COMPANY, "einkauf@hansa.example"),
        billing=HAMBURG,
        legal_entity_id=DE_COMPANY.legal_entity_id,
    )


@dataclass(frozen=True)
class Case:
    build: Callable[[], InvoiceDocument]
    formats: tuple[str, ...]


CASES: dict[str, Case] = {
    "b2c-de-19-card": Case(b2c_de_19, CONSUMER),
    "b2c-de-7-transfer": Case(b2c_de_7, CONSUMER),
    "b2b-de": Case(b2b_de, ALL),
    "b2b-de-leitweg-id": Case(b2b_de_leitweg, ALL),
    "b2b-de-card": Case(b2b_de_card, ALL),
    "intra-eu-fr": Case(eu_fr, ABROAD),
    "intra-eu-nl": Case(eu_nl, ABROAD),
    "intra-eu-pl": Case(eu_pl, ABROAD),
    "reverse-charge-fr-services": Case(eu_fr_services, ABROAD),
    "export-us": Case(export_us, ABROAD),
    "export-ch": Case(export_ch, ABROAD),
    "zero-rated": Case(zero_rated, ALL),
    "exempt-art-132": Case(exempt, ALL),
    "exempt-no-reference": Case(exempt_without_reference, ALL),
    "not-subject": Case(not_subject, ALL),
    "not-subject-services-us": Case(services_us, ABROAD),
    "discounts-shipping-fees": Case(discounts_shipping_fees, ALL),
    "b2c-discounts-shipping-fees": Case(b2c_discounts_shipping_fees, CONSUMER),
    "200-lines": Case(long_200_lines, ALL),
    "jpy-b2c": Case(jpy, CONSUMER),
    "kwd": Case(kwd, ALL),
    "chf": Case(chf, ALL),
    "usd-b2c": Case(usd, CONSUMER),
    "br-co-10-tax-per-line": Case(rounding_tax_per_line, ALL),
    "br-co-10-half-cents": Case(rounding_half_cents, ALL),
    "br-co-10-gross-rows": Case(rounding_gross_rows, CONSUMER),
    "br-co-10-reconciled-by-builder": Case(reconciled_by_the_builder, CONSUMER),
    "draft-unnumbered": Case(draft, ALL),
}
