"""Demo orders for the embedded (local) backend: 20 Emporix order-v2 `salesOrder` documents.

The seller is the fictional "Nordlicht Handels GmbH", selling in EUR from Germany. The orders are
built from the small tables below so that every money value is derived by one set of rules, the
same ones the recalculation step checks:

* entry: price = unit net * quantity; gross = round(net * (1 + rate)); tax = gross - net
  (likewise for the unit price, the discount and the final price = price - discount);
* order: per tax rate, base = Σ entry final nets + shipping/fees at that rate,
  tax = round(base * rate), gross = base + tax; the totals are the sums over the rates.

Everything is computed with Decimal and ROUND_HALF_UP and written as float/int only at the end,
so a two-decimal value in the JSON is exact. Nothing depends on the clock or on randomness: the
same list comes back on every call, which makes the demo reproducible and usable as test data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SITE_CODE = "main"
CURRENCY = "EUR"
COUNTRY = "DE"

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)
_STANDARD = (19, "STANDARD")  # shipping and payment fees are taxed at the standard rate

# Schema URLs of the standard Emporix order mixins, as in the order spec's examples.
_MIXIN_SCHEMA_BASE = "https://res.cloudinary.com/saas-ag/raw/upload/emporix-docs/"
_MIXIN_SCHEMAS = {
    "generalAttributes": f"{_MIXIN_SCHEMA_BASE}orderGeneralAttributesMixIn.v9.json",
    "deliveryTime": f"{_MIXIN_SCHEMA_BASE}deliveryTimeMixIn.v2.json",
    "payment": f"{_MIXIN_SCHEMA_BASE}paymentMixIn.v3.json",
}

# uuid5 namespace for the demo's card transaction ids: stable across runs, unique per order.
_TRANSACTION_NAMESPACE = uuid.UUID("6f1c9a52-3b8e-4d57-9a0e-2c4b7e81d3f0")


@dataclass(frozen=True)
class _Customer:
    customer_id: str
    first_name: str  # empty for a B2B customer
    last_name: str
    company: str  # empty for a B2C customer
    contact_name: str  # printed on the addresses (the contact person for a company)
    email: str
    street: str
    street_number: str
    zip_code: str
    city: str


@dataclass(frozen=True)
class _Product:
    product_id: str
    sku: str
    name: str
    unit_net: Decimal
    tax: tuple[int, str]  # (rate in percent, tax code)


@dataclass(frozen=True)
class _Fee:
    fee_id: str
    name: str
    net: Decimal


@dataclass(frozen=True)
class _OrderPlan:
    customer: str
    status: str
    extended_status: str
    lines: tuple[tuple[str, int, str], ...]  # (product id, quantity, net discount or "")
    shipping: str  # net shipping cost, "" = free shipping
    payment: str  # card | invoice | cash
    fee: _Fee | None = None
    has_delivery: bool = True


# fmt: off
_CUSTOMERS = {c.customer_id: c for c in [
    _Customer("10001", "Jürgen", "Müller", "", "Jürgen Müller", "juergen.mueller@example.com",
              "Schloßstraße", "12", "80331", "München"),
    _Customer("10002", "Zoë", "Ćwikła", "", "Zoë Ćwikła", "zoe.cwikla@example.org",
              "Kastanienallee", "7a", "10435", "Berlin"),
    _Customer("10003", "François", "Lefèvre", "", "François Lefèvre", "francois.lefevre@example.com",
              "Kehler Straße", "3", "77694", "Kehl"),
    _Customer("10004", "Søren", "Kierkegård", "", "Søren Kierkegård", "soeren.kierkegaard@example.org",
              "Große Bergstraße", "152", "22767", "Hamburg"),
    _Customer("10005", "Дмитрий", "Иванов", "", "Дмитрий Иванов", "dmitry.ivanov@example.com",
              "Karl-Liebknecht-Straße", "45", "04275", "Leipzig"),
    _Customer("10006", "Αλέξανδρος", "Παπαδόπουλος", "", "Αλέξανδρος Παπαδόπουλος",
              "alexandros.papadopoulos@example.org", "Venloer Straße", "211", "50823", "Köln"),
    _Customer("10007", "İlkay", "Gündoğan", "", "İlkay Gündoğan", "ilkay.guendogan@example.com",
              "Ückendorfer Straße", "88", "45886", "Gelsenkirchen"),
    _Customer("20001", "", "", "Kaffeehaus Rotkehlchen GmbH", "Grete Weiß", "einkauf@rotkehlchen.example.com",
              "Königsallee", "60", "40212", "Düsseldorf"),
    _Customer("20002", "", "", "Ingenieurbüro Grün & Söhne GmbH", "Małgorzata Wiśniewska",
              "buchhaltung@gruen-soehne.example.org", "Theodor-Heuss-Ring", "9", "50668", "Köln"),
]}

# (id, sku, name, unit net price, VAT rate in percent)
_PRODUCT_ROWS: tuple[tuple[str, str, str, str, int], ...] = (
    # Books and food: reduced VAT (7 %).
    ("bk-zauberberg", "NL-BK-3001", "Thomas Mann: Der Zauberberg (Taschenbuch)", "13.08", 7),
    ("bk-faust", "NL-BK-3002", "Faust. Der Tragödie erster Teil (Reclam)", "4.67", 7),
    ("bk-kochbuch", "NL-BK-3003", "Nordische Küche. Das Kochbuch", "27.10", 7),
    ("bk-weltatlas", "NL-BK-3004", "Großer Weltatlas 2026", "46.73", 7),
    ("bk-raupe", "NL-BK-3005", "Die kleine Raupe Nimmersatt (Pappbilderbuch)", "8.41", 7),
    ("bk-krimi", "NL-BK-3006", "Ostfriesenkiller (Kriminalroman)", "11.21", 7),
    ("gr-espresso", "NL-GR-4001", "Bio-Espresso, ganze Bohne, 1 kg", "18.68", 7),
    ("gr-tee", "NL-GR-4002", "Ostfriesische Teemischung, 500 g", "6.54", 7),
    ("gr-honig", "NL-GR-4003", "Heideblütenhonig, 500 g", "7.94", 7),
    ("gr-marzipan", "NL-GR-4004", "Lübecker Marzipanbrot, 200 g", "3.73", 7),
    ("gr-pumpernickel", "NL-GR-4005", "Vollkorn-Pumpernickel, 500 g", "2.05", 7),
    ("gr-senf", "NL-GR-4006", "Mittelscharfer Senf, 250 ml", "1.39", 7),
    ("gr-olivenoel", "NL-GR-4007", "Natives Olivenöl extra, 750 ml", "9.33", 7),
    ("gr-haferflocken", "NL-GR-4008", "Bio-Haferflocken zart, 1 kg", "2.61", 7),
    ("gr-schokolade", "NL-GR-4009", "Zartbitterschokolade 70 %, 100 g", "1.86", 7),
    ("gr-spaghetti", "NL-GR-4010", "Dinkel-Spaghetti, 500 g", "2.33", 7),
    ("gr-basmati", "NL-GR-4011", "Basmati-Reis, 1 kg", "3.45", 7),
    ("gr-bergkaese", "NL-GR-4012", "Allgäuer Bergkäse, 300 g", "4.39", 7),
    ("gr-muesli", "NL-GR-4013", "Früchte-Müsli, 750 g", "3.97", 7),
    ("gr-lebkuchengewuerz", "NL-GR-4014", "Lebkuchengewürz, 50 g", "2.79", 7),
    ("gr-knaeckebrot", "NL-GR-4015", "Roggen-Knäckebrot, 250 g", "1.58", 7),
    ("gr-sauerkraut", "NL-GR-4016", "Weinsauerkraut, 520 g", "1.21", 7),
    # Electronics and clothing: standard VAT (19 %).
    ("el-kopfhoerer", "NL-EL-1001", "Kabellose Kopfhörer mit ANC, schwarz", "126.05", 19),
    ("el-powerbank", "NL-EL-1002", "Powerbank 20 000 mAh, USB-C", "33.60", 19),
    ("el-ladekabel", "NL-EL-1003", "USB-C-Ladekabel 2 m, geflochten", "10.08", 19),
    ("el-tastatur", "NL-EL-1004", "Mechanische Tastatur, deutsches Layout (QWERTZ)", "84.03", 19),
    ("el-maus", "NL-EL-1005", "Ergonomische Funkmaus", "29.40", 19),
    ("el-lautsprecher", "NL-EL-1006", "Bluetooth-Lautsprecher, wasserdicht", "67.22", 19),
    ("el-netzteil", "NL-EL-1007", "USB-C-Netzteil 65 W", "37.81", 19),
    ("el-ereader", "NL-EL-1008", "E-Book-Reader 6 Zoll, 16 GB", "109.24", 19),
    ("el-fitnesstracker", "NL-EL-1009", "Fitness-Tracker mit Pulsmessung", "58.82", 19),
    ("el-webcam", "NL-EL-1010", "Full-HD-Webcam mit Mikrofon", "46.22", 19),
    ("el-microsd", "NL-EL-1011", "microSD-Karte 128 GB", "15.96", 19),
    ("el-tischlampe", "NL-EL-1012", "LED-Schreibtischlampe, dimmbar", "41.18", 19),
    ("cl-hoodie", "NL-CL-2001", "Kapuzenpullover aus Bio-Baumwolle, Größe M", "50.34", 19),
    ("cl-regenjacke", "NL-CL-2002", "Regenjacke „Friesennerz“, gelb, Größe L", "75.55", 19),
    ("cl-wollsocken", "NL-CL-2003", "Wollsocken im 3er-Pack, Größe 39-42", "16.72", 19),
    ("cl-muetze", "NL-CL-2004", "Strickmütze aus Merinowolle", "21.76", 19),
    ("cl-tshirt", "NL-CL-2005", "T-Shirt Basic, weiß, Größe S", "12.52", 19),
    ("cl-schal", "NL-CL-2006", "Schal aus Alpakawolle", "41.93", 19),
    ("cl-handschuhe", "NL-CL-2007", "Lederhandschuhe, gefüttert, Größe 8", "33.53", 19),
    ("cl-gummistiefel", "NL-CL-2008", "Gummistiefel, dunkelgrün, Größe 42", "46.13", 19),
)
# fmt: on

_TAX_CODES = {19: "STANDARD", 7: "REDUCED"}
_PRODUCTS = {
    row[0]: _Product(row[0], row[1], row[2], Decimal(row[3]), (row[4], _TAX_CODES[row[4]]))
    for row in _PRODUCT_ROWS
}

_COD_FEE = _Fee("cod-fee", "Cash on delivery fee", Decimal("2.50"))
_INVOICE_FEE = _Fee("invoice-fee", "Invoice payment fee", Decimal("1.50"))

# The café's monthly restock: 40 lines, so the demo has an invoice that runs over several pages.
# Quantities cycle deterministically through 1..6; one line carries a volume discount.
_RESTOCK_LINES = tuple(
    (product_id, 1 + (index * 5) % 6, "12.50" if product_id == "el-kopfhoerer" else "")
    for index, product_id in enumerate(list(_PRODUCTS)[:40])
)

# One row per order, DEMO-1001 first. Extras are spread so that neighbouring orders differ.
_ORDERS: tuple[_OrderPlan, ...] = (
    _OrderPlan(
        "10001", "CONFIRMED", "70", (("el-kopfhoerer", 1, ""), ("el-ladekabel", 2, "")), "4.95", "card"
    ),
    _OrderPlan(
        "10002",
        "SHIPPED",
        "75",
        (("bk-zauberberg", 1, ""), ("bk-faust", 2, ""), ("gr-tee", 1, "")),
        "3.95",
        "invoice",
    ),
    _OrderPlan(
        "10003",
        "CONFIRMED",
        "70",
        (("gr-espresso", 2, ""), ("el-powerbank", 1, "5.00"), ("cl-wollsocken", 1, "")),
        "",
        "card",
    ),
    _OrderPlan("10004", "SHIPPED", "76", (("cl-regenjacke", 1, ""), ("cl-muetze", 1, "")), "4.95", "invoice"),
    _OrderPlan("10005", "CONFIRMED", "70", (("bk-weltatlas", 1, ""),), "", "card"),
    _OrderPlan(
        "10006",
        "SHIPPED",
        "75",
        (("gr-olivenoel", 3, ""), ("gr-honig", 2, ""), ("gr-bergkaese", 2, ""), ("el-tischlampe", 1, "")),
        "5.95",
        "cash",
        fee=_COD_FEE,
    ),
    _OrderPlan(
        "10007",
        "SHIPPED",
        "76",
        (("el-tastatur", 1, "10.00"), ("el-maus", 1, ""), ("el-webcam", 1, ""), ("el-ladekabel", 1, "")),
        "4.95",
        "card",
    ),
    _OrderPlan("20001", "CONFIRMED", "70", _RESTOCK_LINES, "19.90", "invoice"),
    _OrderPlan(
        "10001",
        "CREATED",
        "10",
        (("bk-krimi", 1, ""), ("gr-marzipan", 4, "")),
        "3.95",
        "invoice",
        has_delivery=False,
    ),
    _OrderPlan("10002", "CONFIRMED", "75", (("el-ereader", 1, ""), ("bk-raupe", 2, "")), "", "card"),
    _OrderPlan(
        "10003",
        "SHIPPED",
        "70",
        (
            ("gr-spaghetti", 4, ""),
            ("gr-basmati", 2, ""),
            ("gr-senf", 3, ""),
            ("gr-schokolade", 5, ""),
            ("cl-tshirt", 2, ""),
            ("el-microsd", 1, ""),
        ),
        "4.95",
        "invoice",
    ),
    _OrderPlan("10004", "CONFIRMED", "10", (("el-lautsprecher", 1, ""),), "", "card", has_delivery=False),
    _OrderPlan(
        "10005",
        "SHIPPED",
        "76",
        (("cl-hoodie", 2, ""), ("cl-schal", 1, ""), ("gr-lebkuchengewuerz", 2, "")),
        "4.95",
        "invoice",
        fee=_INVOICE_FEE,
    ),
    _OrderPlan(
        "10006",
        "CONFIRMED",
        "70",
        (("el-netzteil", 1, ""), ("el-fitnesstracker", 1, "8.82"), ("bk-kochbuch", 1, "")),
        "4.95",
        "card",
    ),
    _OrderPlan(
        "10007",
        "SHIPPED",
        "75",
        (
            ("gr-muesli", 3, ""),
            ("gr-haferflocken", 2, ""),
            ("gr-knaeckebrot", 2, ""),
            ("gr-pumpernickel", 2, ""),
        ),
        "3.95",
        "invoice",
    ),
    _OrderPlan(
        "20001", "CONFIRMED", "70", (("gr-espresso", 10, "9.34"), ("gr-tee", 6, "")), "9.90", "invoice"
    ),
    _OrderPlan("10001", "SHIPPED", "76", (("cl-gummistiefel", 1, ""), ("cl-handschuhe", 1, "")), "", "card"),
    _OrderPlan(
        "10002",
        "CONFIRMED",
        "70",
        (("bk-weltatlas", 1, ""), ("bk-kochbuch", 1, "2.71"), ("el-tischlampe", 1, "")),
        "4.95",
        "card",
    ),
    _OrderPlan(
        "20002",
        "CREATED",
        "10",
        (("el-tastatur", 3, ""), ("el-maus", 3, ""), ("el-webcam", 3, "")),
        "9.90",
        "invoice",
    ),
    _OrderPlan(
        "10004",
        "SHIPPED",
        "75",
        (("gr-espresso", 1, ""), ("bk-faust", 1, ""), ("el-powerbank", 1, ""), ("gr-sauerkraut", 2, "")),
        "4.95",
        "card",
    ),
)

_FIRST_ORDER_NUMBER = 1001
_FIRST_CREATED = dt.datetime(2026, 1, 5, 8, 12, 0, tzinfo=dt.UTC)


# --- money -------------------------------------------------------------------------------------
def _round2(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _num(value: Decimal) -> float:
    # float(Decimal("4.95")) is the double whose shortest repr is "4.95": exact in JSON.
    return float(value)


def _with_tax(net: Decimal, rate: int) -> Decimal:
    """Gross of a net amount at `rate` percent, rounded to the cent."""
    return _round2(net * (_HUNDRED + rate) / _HUNDRED)


def _price(net: Decimal, tax: tuple[int, str] | None = None, gross: Decimal | None = None) -> dict[str, Any]:
    """A calculatedPrice {netValue, grossValue, taxValue[, taxRate, taxCode]}.

    The gross is derived from the net unless given (sums are added up, not re-taxed).
    """
    if gross is None:
        if tax is None:
            raise ValueError("either the tax rate or the gross value is needed")
        gross = _with_tax(net, tax[0])
    out: dict[str, Any] = {"netValue": _num(net), "grossValue": _num(gross), "taxValue": _num(gross - net)}
    if tax is not None:
        out["taxRate"] = tax[0]
        out["taxCode"] = tax[1]
    return out


class _Sum:
    """Net and gross added up separately (order totals are sums of the lines' own roundings)."""

    def __init__(self) -> None:
        self.net = Decimal(0)
        self.gross = Decimal(0)

    def add(self, net: Decimal, gross: Decimal) -> None:
        self.net += net
        self.gross += gross

    def price(self) -> dict[str, Any]:
        return _price(self.net, gross=self.gross)


# --- documents ---------------------------------------------------------------------------------
def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _address(customer: _Customer) -> dict[str, Any]:
    address = {
        "contactName": customer.contact_name,
        "street": customer.street,
        "streetNumber": customer.street_number,
        "zipCode": customer.zip_code,
        "city": customer.city,
        "country": COUNTRY,
    }
    if customer.company:
        address["companyName"] = customer.company
    return address


def _customer(customer: _Customer) -> dict[str, Any]:
    out: dict[str, Any] = {"id": customer.customer_id, "email": customer.email}
    if customer.company:
        # B2B orders carry `name` (not first/last name) per the spec; the contact person goes there.
        out.update(name=customer.contact_name, company=customer.company)
    else:
        out.update(firstName=customer.first_name, lastName=customer.last_name)
    return out


def _entry(order_id: str, position: int, product_id: str, quantity: int, discount: str) -> dict[str, Any]:
    product = _PRODUCTS[product_id]
    net = product.unit_net * quantity
    calculated: dict[str, Any] = {"price": _price(net, product.tax)}
    final_net = net
    if discount:
        discount_net = Decimal(discount)
        final_net = net - discount_net
        calculated["totalDiscount"] = {"price": _price(discount_net, product.tax)}
        calculated["discountedPrice"] = {
            **_price(final_net, product.tax),
            "appliedDiscounts": [
                {"id": f"{order_id}-D{position}", "value": _num(discount_net), "discountType": "ABSOLUTE"}
            ],
        }
    calculated["finalPrice"] = _price(final_net, product.tax)
    return {
        "id": f"{order_id}-{position:02d}",
        "itemYrn": f"urn:yaas:saasag:caasproduct:product:nordlicht;{product.product_id}",
        "amount": quantity,
        "orderedAmount": quantity,
        "product": {
            "id": product.product_id,
            "sku": product.sku,
            "code": product.product_id,
            "name": product.name,
            "productType": "BASIC",
        },
        "price": {
            "priceId": f"price-{product.product_id}",
            "currency": CURRENCY,
            "originalAmount": _num(product.unit_net),
        },
        "calculatedUnitPrice": _price(product.unit_net, product.tax),
        "calculatedPrice": calculated,
    }


def _order_calculated_price(entries: list[dict[str, Any]], plan: _OrderPlan) -> dict[str, Any]:
    price, discounted, discount = _Sum(), _Sum(), _Sum()
    bases: dict[tuple[int, str], Decimal] = {}
    for entry, (product_id, _quantity, discount_net) in zip(entries, plan.lines, strict=True):
        product = _PRODUCTS[product_id]
        line_net = product.unit_net * entry["amount"]
        price.add(line_net, _with_tax(line_net, product.tax[0]))
        final_net = line_net - Decimal(discount_net or 0)
        discounted.add(final_net, _with_tax(final_net, product.tax[0]))
        if discount_net:
            discount.add(Decimal(discount_net), _with_tax(Decimal(discount_net), product.tax[0]))
        bases[product.tax] = bases.get(product.tax, Decimal(0)) + final_net

    out: dict[str, Any] = {"price": price.price()}
    if discount.net:
        out["discountedPrice"] = discounted.price()
        out["totalDiscount"] = {"price": discount.price()}
    if plan.shipping:
        shipping = _price(Decimal(plan.shipping), _STANDARD)
        out["shipping"] = shipping
        out["totalShipping"] = dict(shipping)
        bases[_STANDARD] = bases.get(_STANDARD, Decimal(0)) + Decimal(plan.shipping)
    if plan.fee:
        fee_price = _price(plan.fee.net, _STANDARD)
        out["paymentFees"] = [
            {"id": plan.fee.fee_id, "type": "ABSOLUTE", "name": {"en": plan.fee.name}, "price": fee_price}
        ]
        out["totalFee"] = dict(fee_price)
        bases[_STANDARD] = bases.get(_STANDARD, Decimal(0)) + plan.fee.net

    # VAT is computed once per rate on the summed base (the invoice's VAT breakdown), not per line.
    lines, total_net, total_tax = [], Decimal(0), Decimal(0)
    for (rate, code), base in sorted(bases.items(), reverse=True):
        tax = _round2(base * rate / _HUNDRED)
        lines.append(_price(base, (rate, code), gross=base + tax))
        total_net += base
        total_tax += tax
    out["finalPrice"] = {
        **_price(total_net, gross=total_net + total_tax),
        "taxAggregate": {"lines": lines},
    }
    return out


def _payment(plan: _OrderPlan, order_id: str, gross: float) -> dict[str, Any]:
    if plan.payment == "card":
        return {
            "method": "card",
            "provider": "payment-gateway",
            "status": "AUTHORIZATION_SUCCESS",
            "transactionId": str(uuid.uuid5(_TRANSACTION_NAMESPACE, order_id)),
            "authorizedAmount": gross,
            "paidAmount": 0,
            "currency": CURRENCY,
        }
    if plan.payment == "invoice":
        return {
            "method": "invoice",
            "provider": "INVOICE",
            "status": "PENDING",
            "paidAmount": 0,
            "currency": CURRENCY,
        }
    if plan.payment == "cash":
        return {
            "method": "cash",
            "provider": "CASH_ON_DELIVERY",
            "status": "PENDING",
            "paidAmount": 0,
            "currency": CURRENCY,
        }
    raise ValueError(f"unknown payment method {plan.payment!r}")


def _sales_order(index: int, plan: _OrderPlan) -> dict[str, Any]:
    order_id = f"DEMO-{_FIRST_ORDER_NUMBER + index}"
    customer = _CUSTOMERS[plan.customer]
    # Orders roughly every four days from early January 2026, at varying times of day.
    created = _FIRST_CREATED + dt.timedelta(days=4 * index, hours=(index * 5) % 9, minutes=(index * 17) % 60)
    delivery_date = created.date() + dt.timedelta(days=2 + index % 3)

    entries = [
        _entry(order_id, position, product_id, quantity, discount)
        for position, (product_id, quantity, discount) in enumerate(plan.lines, start=1)
    ]
    calculated_price = _order_calculated_price(entries, plan)
    gross = calculated_price["finalPrice"]["grossValue"]

    mixins: dict[str, Any] = {
        "generalAttributes": {
            "extendedOrderStatus": plan.extended_status,
            "customerFirstOrder": plan.customer not in {p.customer for p in _ORDERS[:index]},
            "orderNumber": order_id,
        },
        "payment": {"paymentType": plan.payment},
    }
    order: dict[str, Any] = {
        "id": order_id,
        "status": plan.status,
        "checkout": True,
        "created": _iso(created),
        "lastStatusChange": _iso(created + dt.timedelta(hours=2 if plan.status != "SHIPPED" else 30)),
        "channel": {"name": "storefront", "source": "nordlicht-webshop"},
        "siteCode": SITE_CODE,
        "countryCode": COUNTRY,
        "currency": CURRENCY,
        "customer": _customer(customer),
        "billingAddress": _address(customer),
        "shippingAddress": _address(customer),
        "entries": entries,
        "calculatedPrice": calculated_price,
        "totalAuthorizedAmount": gross,
        "payments": [_payment(plan, order_id, gross)],
    }
    if plan.has_delivery:
        order["deliveryWindow"] = {"deliveryDate": delivery_date.isoformat()}
        mixins["deliveryTime"] = {
            "deliveryDate": f"{delivery_date.isoformat()}T11:00:00.000Z",
            "deliveryTimeFrom": "10:00",
            "deliveryTimeTo": "14:00",
        }
    if plan.status == "SHIPPED":
        # The CONFIRMED -> SHIPPED transition requires a shipment.
        order["shipments"] = [
            {
                "shippedDate": _iso(created + dt.timedelta(hours=30)),
                "carrier": "DHL",
                "trackingNumber": f"00340434{_FIRST_ORDER_NUMBER + index:06d}0042",
                "expectDeliveryOn": delivery_date.isoformat(),
            }
        ]
    order["metadata"] = {"version": 1, "mixins": {name: _MIXIN_SCHEMAS[name] for name in mixins}}
    order["mixins"] = mixins
    return order


def demo_sales_orders() -> list[dict[str, Any]]:
    """The 20 demo orders DEMO-1001 … DEMO-1020, as order-v2 `salesOrder` JSON documents.

    A new list on every call (callers may mutate it); the content is always the same.
    """
    return [_sales_order(index, plan) for index, plan in enumerate(_ORDERS)]
