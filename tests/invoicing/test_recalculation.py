"""Mapping a salesOrder and recalculating it: Decimal, rounding per currency, reconciliation."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import PermanentError
from core.money import round_money, to_decimal
from integrations.mapper import OrderDocumentError, sales_order_to_order
from integrations.ports import (
    Address,
    Charge,
    Customer,
    ExchangeRate,
    LegalEntity,
    Order,
    OrderLine,
    Payment,
    Seller,
    TaxTotal,
)
from invoicing.documents import ForeignCurrencyVat, from_json, to_json
from invoicing.recalculation import (
    InvoiceContentError,
    ReconciliationError,
    printable_rate,
    recalculate,
    unit_price,
)
from invoicing.vat import VatTreatments, document_notes
from tests import factories

SELLER = Seller(legal_name="Acme GmbH", address=Address(city="Berlin"), iban="DE89370400440532013000")
GROSS_SELLER = Seller(legal_name="Acme GmbH", address=Address(city="Berlin"), prices_include_tax=True)


def emporix_example() -> dict:
    """The shape of the spec's salesOrder2: gross prices with three-decimal nets."""
    return {
        "id": "EON1200",
        "status": "CREATED",
        "created": "2025-06-10T12:31:39.614Z",
        "siteCode": "GrossSite",
        "currency": "EUR",
        "customer": {"id": "45620894", "firstName": "John", "lastName": "Dutton", "email": "john@example.com"},
        "billingAddress": {"contactName": "Dom", "street": "Kochanowskiego", "streetNumber": "21",
                           "zipCode": "44-122", "city": "Gliwice", "country": "PL"},
        "entries": [
            {"id": "e1", "amount": 2, "product": {"id": "phone", "name": "Mobile Phone s24 gross"},
             "calculatedUnitPrice": {"netValue": 294.118, "grossValue": 350, "taxValue": 55.882,
                                     "taxCode": "STANDARD", "taxRate": 19},
             "calculatedPrice": {"price": {"netValue": 588.235, "grossValue": 700, "taxValue": 111.765},
                                 "finalPrice": {"netValue": 588.235, "grossValue": 700, "taxValue": 111.765}}},
            {"id": "e2", "amount": 3, "product": {"id": "apple", "name": {"en": "Apples", "de": "Äpfel"}},
             "calculatedUnitPrice": {"netValue": 0.935, "grossValue": 1, "taxValue": 0.065,
                                     "taxCode": "REDUCED", "taxRate": 7},
             "calculatedPrice": {"price": {"netValue": 2.804, "grossValue": 3, "taxValue": 0.196},
                                 "finalPrice": {"netValue": 2.804, "grossValue": 3, "taxValue": 0.196}}},
        ],
        "calculatedPrice": {"finalPrice": {
            "netValue": 591.039, "grossValue": 703, "taxValue": 111.961,
            "taxAggregate": {"lines": [
                {"netValue": 588.235, "grossValue": 700, "taxValue": 111.765, "taxCode": "STANDARD", "taxRate": 19},
                {"netValue": 2.804, "grossValue": 3, "taxValue": 0.196, "taxCode": "REDUCED", "taxRate": 7},
            ]}}},
        "mixins": {"generalAttributes": {"extendedOrderStatus": "70"}},
        "metadata": {"version": 3},
    }  # fmt: skip


def test_to_decimal_takes_floats_by_their_shortest_repr():
    assert to_decimal(0.1) + to_decimal(0.2) == Decimal("0.3")
    assert to_decimal(294.118) == Decimal("294.118")


def test_round_money_is_half_up_per_currency_exponent():
    assert round_money(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_money(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_money(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_mapper_reads_the_fields_the_invoice_needs():
    order = sales_order_to_order(emporix_example())

    assert order.order_id == "EON1200" and order.currency == "EUR" and order.version == 3
    assert order.customer.name == "John Dutton" and order.customer.email == "john@example.com"
    assert order.billing_address.lines() == ["Dom", "Kochanowskiego 21", "44-122 Gliwice", "PL"]
    assert order.extended_status == "70"
    assert [line.description for line in order.lines] == ["Mobile Phone s24 gross", "Apples"]
    assert order.lines[0].unit_net == Decimal("294.118") and order.lines[0].tax_rate == Decimal("19")
    assert order.stated_gross == Decimal("703")
    assert [t.rate for t in order.stated_tax_totals] == [Decimal("19"), Decimal("7")]


def test_mapper_reports_every_invalid_field_with_its_path():
    document = emporix_example()
    del document["customer"]["email"]
    document["entries"][1]["amount"] = "three"
    del document["entries"][0]["calculatedUnitPrice"]

    with pytest.raises(OrderDocumentError) as caught:
        sales_order_to_order(document)

    fields = {error["field"] for error in caught.value.errors}
    assert fields == {"customer.email", "entries[1].amount", "entries[0].calculatedUnitPrice"}


def test_mapper_rejects_an_order_without_entries():
    document = emporix_example()
    document["entries"] = []
    with pytest.raises(OrderDocumentError, match="entries: at least one entry is required"):
        sales_order_to_order(document)


def test_mapper_takes_the_delivery_date_from_the_window_or_the_mixin():
    document = emporix_example()
    document["mixins"]["deliveryTime"] = {"deliveryDate": "2025-02-07T23:30:00.000Z"}
    assert str(sales_order_to_order(document).delivery_date) == "2025-02-07"
    document["deliveryWindow"] = {"deliveryDate": "2025-02-09"}
    assert str(sales_order_to_order(document).delivery_date) == "2025-02-09"


def test_recalculate_gross_pricing_keeps_the_gross_the_customer_saw():
    document = recalculate(sales_order_to_order(emporix_example()), GROSS_SELLER)

    assert document.gross_total == Decimal("703.00")
    by_rate = {t.rate: t for t in document.tax_breakdown}
    assert by_rate[Decimal("19")].tax == Decimal("111.76") and by_rate[Decimal("19")].net == Decimal("588.24")
    assert by_rate[Decimal("7")].tax == Decimal("0.20") and by_rate[Decimal("7")].net == Decimal("2.80")
    assert [row.net for row in document.rows] == [Decimal("588.24"), Decimal("2.80")]
    assert document.order_date.isoformat() == "2025-06-10"


def test_recalculate_net_pricing_adds_tax_per_rate():
    order = sales_order_to_order(factories.demo_order("DEMO-1003"))  # 19 % + 7 %, with a discount
    document = recalculate(order, SELLER)

    assert document.gross_total == Decimal("93.91")
    assert document.net_total + document.tax_total == document.gross_total
    kinds = [row.kind for row in document.rows]
    assert kinds[: len(order.lines)] == ["item"] * len(order.lines)
    assert "discount" in kinds
    assert all(row.net < 0 for row in document.rows if row.kind == "discount")
    assert sum(row.net for row in document.rows) == document.net_total


def test_recalculate_shipping_and_fees_are_rows_with_their_rate():
    document = recalculate(sales_order_to_order(factories.demo_order("DEMO-1006")), SELLER)
    kinds = {row.kind: row for row in document.rows}
    assert kinds["shipping"].tax_rate == Decimal("19")
    assert "fee" in kinds
    assert document.gross_total == Decimal("115.40")


def test_recalculate_all_demo_orders_reconcile_exactly():
    for order_id, document in factories.DEMO_ORDERS.items():
        invoice = recalculate(sales_order_to_order(document), SELLER)
        assert invoice.gross_total == Decimal(str(document["calculatedPrice"]["finalPrice"]["grossValue"])), (
            order_id
        )


def test_recalculate_mismatch_names_both_figures():
    document = copy.deepcopy(emporix_example())
    document["calculatedPrice"]["finalPrice"]["taxAggregate"]["lines"][1]["taxValue"] = 1.5
    with pytest.raises(ReconciliationError) as caught:
        recalculate(sales_order_to_order(document), GROSS_SELLER)
    assert "tax at 7% 0.20 EUR recalculated, order says 1.50 EUR" in caught.value.message


def test_recalculate_rounding_noise_within_one_cent_per_row_is_accepted():
    document = emporix_example()
    document["calculatedPrice"]["finalPrice"]["taxValue"] = 111.97  # the order rounded differently
    assert recalculate(sales_order_to_order(document), GROSS_SELLER).tax_total == Decimal("111.96")


def test_recalculate_payment_note_says_how_it_is_paid():
    card = recalculate(sales_order_to_order(factories.demo_order("DEMO-1001")), SELLER, paid_by_capture=True)
    transfer = recalculate(sales_order_to_order(factories.demo_order("DEMO-1002")), SELLER)
    assert "nothing left to pay" in card.payment_note
    assert "IBAN DE89370400440532013000" in transfer.payment_note


def test_mapper_refuses_numbers_sent_as_strings():
    document = emporix_example()
    document["entries"][0]["amount"] = "2"
    with pytest.raises(OrderDocumentError, match=r"entries\[0\]\.amount: must be a number"):
        sales_order_to_order(document)


# --- rounding VAT per line or per rate, as the order did it ------------------------------------------
D = Decimal


def shop_order(
    amounts: list[tuple[str, str]],
    *,
    per_line: bool,
    gross_pricing: bool = False,
    currency: str = "EUR",
    stated_tax: dict[str, str] | None = None,
) -> Order:
    """An order as a shop computes it: each (price, rate) is a net price (B2B) or a gross price (B2C),
    VAT rounded per line or per rate. `stated_tax` overrides the order's tax at a rate (a broken order).
    """

    def tax_of(amount: Decimal, rate: Decimal) -> Decimal:
        return round_money(amount * rate / (100 + rate if gross_pricing else 100), currency)

    lines, by_rate = [], {}
    for index, (price, rate_text) in enumerate(amounts):
        price_d, rate = D(price), D(rate_text)
        tax = tax_of(price_d, rate)
        net, gross = (price_d - tax, price_d) if gross_pricing else (price_d, price_d + tax)
        lines.append(
            OrderLine(
                line_id=str(index), description=f"Item {index}", sku=f"SKU-{index}", quantity=D(1),
                unit_net=net, unit_gross=gross, tax_rate=rate, tax_code="STANDARD", net=net, gross=gross,
            )
        )  # fmt: skip
        by_rate.setdefault(rate, []).append((net, tax, gross))
    totals = []
    for rate, parts in by_rate.items():
        if per_line:
            tax = sum((t for _, t, _ in parts), D(0))
        else:
            tax = tax_of(sum((g if gross_pricing else n for n, _, g in parts), D(0)), rate)
        if stated_tax and str(rate) in stated_tax:
            tax = D(stated_tax[str(rate)])
        if gross_pricing:
            gross = sum((g for _, _, g in parts), D(0))
            totals.append(TaxTotal(rate=rate, net=gross - tax, tax=tax, gross=gross))
        else:
            net = sum((n for n, _, _ in parts), D(0))
            totals.append(TaxTotal(rate=rate, net=net, tax=tax, gross=net + tax))
    return Order(
        order_id="R-1", status="CREATED", extended_status="", currency=currency, created_at=None,
        site_code="main", customer=Customer("c1", "c@example.com", "C"), billing_address=Address(city="Berlin"),
        shipping_address=None, lines=tuple(lines), charges=(),
        stated_net=sum((t.net for t in totals), D(0)), stated_tax=sum((t.tax for t in totals), D(0)),
        stated_gross=sum((t.gross for t in totals), D(0)), stated_tax_totals=tuple(totals),
    )  # fmt: skip


def totals(document) -> tuple[Decimal, Decimal, Decimal]:
    return document.net_total, document.tax_total, document.gross_total


def test_recalculate_follows_an_order_that_rounds_vat_per_line():
    order = shop_order([("10.02", "19")] * 3, per_line=True)

    document = recalculate(order, SELLER)

    assert totals(document) == (D("30.06"), D("5.70"), D("35.76"))  # not 5.71 / 35.77
    assert [(t.rate, t.net, t.tax) for t in document.tax_breakdown] == [(D("19"), D("30.06"), D("5.70"))]


def test_recalculate_follows_an_order_that_rounds_vat_per_rate():
    document = recalculate(shop_order([("10.02", "19")] * 3, per_line=False), SELLER)
    assert totals(document) == (D("30.06"), D("5.71"), D("35.77"))


def test_recalculate_per_line_order_where_per_rate_would_invoice_less_than_paid():
    # 3 x 10.03: 1.91 VAT a line (5.73), 5.72 per rate. The invoice must not say 35.81 for 35.82.
    document = recalculate(shop_order([("10.03", "19")] * 3, per_line=True), SELLER)
    assert totals(document) == (D("30.09"), D("5.73"), D("35.82"))


def test_recalculate_gross_prices_rounded_per_line_keep_the_orders_net_and_tax():
    # B2C: 11.92 gross a line, 1.90 VAT in it (5.70); out of 35.76 per rate it would be 5.71.
    order = shop_order([("11.92", "19")] * 3, per_line=True, gross_pricing=True)

    document = recalculate(order, GROSS_SELLER)

    assert totals(document) == (D("30.06"), D("5.70"), D("35.76"))
    assert [row.net for row in document.rows] == [D("10.02")] * 3


def test_recalculate_gross_prices_rounded_per_rate_rows_add_up_to_the_taxable_amount():
    # Per rate 35.76 gross holds 5.71 VAT, so 30.05 net; each row alone is 10.02 net. A row takes
    # the cent so the rows add up to the taxable amount, as EN 16931 BR-S-08 requires exactly.
    document = recalculate(
        shop_order([("11.92", "19")] * 3, per_line=False, gross_pricing=True), GROSS_SELLER
    )

    assert totals(document) == (D("30.05"), D("5.71"), D("35.76"))
    assert sorted(row.net for row in document.rows) == [D("10.01"), D("10.02"), D("10.02")]
    assert sum(row.net for row in document.rows) == document.tax_breakdown[0].net


def test_recalculate_mixed_rates_per_line():
    order = shop_order([("10.02", "19")] * 3 + [("10.07", "7")] * 3, per_line=True)

    document = recalculate(order, SELLER)

    by_rate = {t.rate: t.tax for t in document.tax_breakdown}
    assert by_rate == {D("19"): D("5.70"), D("7"): D("2.10")}  # per rate: 5.71 and 2.11
    assert totals(document) == (D("60.27"), D("7.80"), D("68.07"))  # per rate: 68.09


def test_recalculate_three_decimal_currency_per_line():
    document = recalculate(shop_order([("10.003", "19")] * 3, per_line=True, currency="KWD"), SELLER)
    assert totals(document) == (D("30.009"), D("5.703"), D("35.712"))  # per rate: 5.702


def test_recalculate_zero_decimal_currency_per_rate():
    document = recalculate(shop_order([("1005", "10")] * 3, per_line=False, currency="JPY"), SELLER)
    assert totals(document) == (D("3015"), D("302"), D("3317"))


def test_recalculate_zero_decimal_per_line_vat_that_br_co_17_rejects_is_invoiced_per_rate():
    # 3 x 1005 JPY at 10 %: 101 a line = 303; BR-CO-17 wants 301.50 within less than 1 JPY.
    order = shop_order([("1005", "10")] * 3, per_line=True, currency="JPY")
    assert order.stated_gross == D("3318")

    document = recalculate(order, SELLER)

    assert totals(document) == (D("3015"), D("302"), D("3317"))


def test_recalculate_order_that_contradicts_itself_names_both_figures():
    order = shop_order([("10.02", "19")] * 3, per_line=True, stated_tax={"19": "6.50"})

    with pytest.raises(ReconciliationError) as caught:
        recalculate(order, SELLER)

    message = caught.value.message
    assert "tax at 19% 5.71 EUR recalculated (5.70 EUR rounding VAT per line), order says 6.50 EUR" in message
    assert (
        "gross total 35.77 EUR recalculated (35.76 EUR rounding VAT per line), order says 36.56 EUR"
        in message
    )


@given(
    prices=st.lists(
        st.tuples(
            st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=2),
            st.sampled_from(["19", "7", "0", "20", "5.5"]),
        ),
        min_size=1,
        max_size=12,
    ),
    per_line=st.booleans(),
    gross_pricing=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_recalculate_property_invoice_equals_the_order_and_passes_en16931(prices, per_line, gross_pricing):
    order = shop_order([(str(p), r) for p, r in prices], per_line=per_line, gross_pricing=gross_pricing)
    seller = GROSS_SELLER if gross_pricing else SELLER

    document = recalculate(order, seller)

    # The invoice states exactly what the order says, whichever way it rounded.
    assert totals(document) == (order.stated_net, order.stated_tax, order.stated_gross)
    stated = {t.rate: t.tax for t in order.stated_tax_totals}
    assert {t.rate: t.tax for t in document.tax_breakdown} == {D(r).normalize(): v for r, v in stated.items()}
    # BR-CO-14: total VAT = sum of the category tax amounts; BR-CO-15: gross = net + VAT.
    assert document.tax_total == sum(t.tax for t in document.tax_breakdown)
    assert document.gross_total == document.net_total + document.tax_total
    for line in document.tax_breakdown:
        # BR-S-08: taxable amount = sum of the row nets at the rate (exactly).
        assert line.net == sum(row.net for row in document.rows if row.tax_rate == line.rate)
        # BR-CO-17 as the schematron tests it: within (not including) one currency unit.
        expected = (line.net * line.rate / 100).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        assert abs(line.tax - expected) < 1


# --- issue 11: amounts a person can check, the buyer, dates, currency ----------------------------------
DE_SELLER = Seller(
    legal_name="Nordlicht Handels GmbH", address=Address(city="Berlin", country="DE"), vat_id="DE136695976",
    iban="DE89370400440532013000", time_zone="Europe/Berlin", currency="EUR",
)  # fmt: skip
DE_GROSS_SELLER = dataclasses.replace(DE_SELLER, prices_include_tax=True)
TODAY = dt.date(2025, 6, 10)


def priced_order(
    lines: list[tuple[str, str, str]] | list[tuple[str, str, str, str]],
    *,
    gross_pricing: bool,
    currency: str = "EUR",
    customer: Customer | None = None,
    billing: Address | None = None,
    shipping: Address | None = None,
    charges: tuple[Charge, ...] = (),
    **fields,
) -> Order:
    """An order as a shop prices it: each line (quantity, unit price, rate[, tax code]) costs
    quantity x unit price, the unit price being net (B2B) or gross (B2C) as the shop shows it,
    exact (Emporix keeps three decimals); the order's totals per rate are left unrounded."""
    order_lines, by_rate = [], {}
    for index, line in enumerate(lines):
        quantity, price, rate = D(line[0]), D(line[1]), D(line[2])
        code = line[3] if len(line) > 3 else "STANDARD"
        factor = 1 + rate / 100
        if gross_pricing:
            unit_gross, unit_net = price, (price / factor).quantize(D("0.001"))
            gross, net = quantity * price, (quantity * price / factor).quantize(D("0.001"))
        else:
            unit_net, unit_gross = price, (price * factor).quantize(D("0.001"))
            net, gross = quantity * price, (quantity * price * factor).quantize(D("0.001"))
        order_lines.append(
            OrderLine(
                line_id=str(index), description=f"Item {index}", sku=f"SKU-{index}", quantity=quantity,
                unit_net=unit_net, unit_gross=unit_gross, tax_rate=rate, tax_code=code, net=net, gross=gross,
            )
        )  # fmt: skip
        by_rate.setdefault(rate, []).append((net, gross))
    for charge in charges:
        by_rate.setdefault(charge.tax_rate, []).append((charge.net, charge.gross))
    totals = []
    for rate, parts in by_rate.items():
        if gross_pricing:
            gross = sum((g for _, g in parts), D(0))
            tax = gross * rate / (100 + rate)
            totals.append(TaxTotal(rate=rate, net=gross - tax, tax=tax, gross=gross))
        else:
            net = sum((n for n, _ in parts), D(0))
            totals.append(TaxTotal(rate=rate, net=net, tax=net * rate / 100, gross=net * (1 + rate / 100)))
    return Order(
        order_id="O-11", status="CREATED", extended_status="", currency=currency,
        created_at=dt.datetime(2025, 6, 1, 8, tzinfo=dt.UTC), site_code="main",
        customer=customer or Customer("c1", "c@example.com", "Jane Doe"),
        billing_address=billing or Address(contact_name="Jane Doe", city="Berlin", country="DE"),
        shipping_address=shipping, lines=tuple(order_lines), charges=charges,
        stated_net=sum((t.net for t in totals), D(0)), stated_tax=sum((t.tax for t in totals), D(0)),
        stated_gross=sum((t.gross for t in totals), D(0)), stated_tax_totals=tuple(totals), **fields,
    )  # fmt: skip


def printed_pairs(document) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(quantity, unit price, amount) of every row as the invoice prints them."""
    if document.prices_gross:
        return [(row.quantity, row.unit_gross, row.gross) for row in document.rows]
    return [(row.quantity, row.unit_net, row.net) for row in document.rows]


def assert_rows_add_up(document, where: str = "") -> None:
    for quantity, unit, amount in printed_pairs(document):
        assert round_money(quantity * unit, document.currency) == amount, (where, quantity, unit, amount)


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "gross_pricing", "unit", "amount"),
    [
        # the issue's examples: printed as 7 x 4.20 = 29.37 and 33 x 0.04 = 1.39 before
        ("7", "4.196", "7", False, "4.196", "29.37"),
        ("33", "0.042", "19", False, "0.042", "1.39"),
        ("7", "4.20", "7", True, "4.20", "29.40"),
        ("33", "0.05", "19", True, "0.05", "1.65"),
        # a consumer who paid 19.99 sees 19.99 (the net 18.68 was printed before)
        ("1", "19.99", "7", True, "19.99", "19.99"),
        ("3", "19.99", "7", True, "19.99", "59.97"),
        ("2", "350", "19", True, "350.00", "700.00"),
    ],
)
def test_recalculate_quantity_times_unit_price_is_the_amount(
    quantity, price, rate, gross_pricing, unit, amount
):
    order = priced_order([(quantity, price, rate)], gross_pricing=gross_pricing)

    document = recalculate(order, DE_GROSS_SELLER if gross_pricing else DE_SELLER, today=TODAY)

    assert document.prices_gross is gross_pricing
    assert printed_pairs(document)[0] == (D(quantity), D(unit), D(amount))
    assert_rows_add_up(document)
    if gross_pricing:
        assert document.gross_total == D(amount)


def test_recalculate_demo_orders_rows_add_up():
    for order_id, document in factories.DEMO_ORDERS.items():
        invoice = recalculate(sales_order_to_order(document), DE_SELLER, today=TODAY)
        assert_rows_add_up(invoice, order_id)


@given(
    lines=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=250).map(str),
            st.decimals(min_value=D("0.001"), max_value=D("999.999"), places=3).map(str),
            st.sampled_from(["19", "7", "0", "20", "5.5"]),
        ),
        min_size=1,
        max_size=8,
    ),
    gross_pricing=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_recalculate_property_rows_add_up(lines, gross_pricing):
    order = priced_order(lines, gross_pricing=gross_pricing)

    document = recalculate(order, DE_GROSS_SELLER if gross_pricing else DE_SELLER, today=TODAY)

    assert_rows_add_up(document)
    assert sum(row.net for row in document.rows) == document.net_total
    if gross_pricing:
        assert sum(row.gross for row in document.rows) == document.gross_total


def test_unit_price_keeps_the_decimals_it_needs():
    assert unit_price(D("29.37"), D(7), D("4.196"), "EUR") == D("4.196")
    assert unit_price(D("29.40"), D(7), D("4.2"), "EUR") == D("4.20")
    assert unit_price(D("10.00"), D(3), D("3.3333333"), "EUR") == D("3.333")  # 9.999 prints as 10.00
    assert unit_price(D("1005"), D(3), D("335"), "JPY") == D("335")
    assert unit_price(D("5.00"), D(1), D("4.99"), "EUR") == D("5.00")  # one piece: the amount


# --- the buyer ------------------------------------------------------------------------------------------
FR_BUYER = LegalEntity("LE-1", "Société Exemple SA", "FR 403 032 650 45", "FR")


def test_recalculate_buyer_from_the_legal_entity_intra_community_supply():
    order = priced_order([("2", "50", "0", "ZERO")], gross_pricing=False, legal_entity_id="LE-1")

    document = recalculate(order, DE_SELLER, buyer=FR_BUYER, today=TODAY)

    assert (document.buyer_legal_name, document.buyer_vat_id, document.buyer_country) == (
        "Société Exemple SA", "FR40303265045", "FR",
    )  # fmt: skip
    assert document.billing_address.company_name == "Société Exemple SA"
    assert [row.vat_category for row in document.rows] == ["K"]
    assert [(t.rate, t.category) for t in document.tax_breakdown] == [(D(0), "K")]
    assert document_notes(document) == [
        "Tax-exempt intra-Community supply of goods \N{EN DASH} Art. 138 VAT Directive"
    ]


def test_recalculate_services_to_an_eu_business_are_reverse_charged():
    order = priced_order([("1", "500", "0", "CONSULTING")], gross_pricing=False)
    treatments = VatTreatments.from_json({"tax_codes": {"CONSULTING": {"supply": "services"}}})

    document = recalculate(order, DE_SELLER, buyer=FR_BUYER, treatments=treatments, today=TODAY)

    assert [t.category for t in document.tax_breakdown] == ["AE"]
    assert document_notes(document) == ["Reverse charge \N{EN DASH} Art. 196 VAT Directive"]


def test_recalculate_company_buyer_given_only_as_customer_company_is_addressed():
    customer = Customer("c2", "einkauf@example.com", "Grete Weiß", company="Kaffeehaus Rotkehlchen GmbH")
    order = priced_order(
        [("1", "10", "19")],
        gross_pricing=False,
        customer=customer,
        billing=Address(contact_name="Grete Weiß", street="Königsallee", city="Düsseldorf", country="DE"),
    )

    document = recalculate(order, DE_SELLER, today=TODAY)

    assert document.buyer_legal_name == "Kaffeehaus Rotkehlchen GmbH"
    assert document.billing_address.lines()[:2] == ["Kaffeehaus Rotkehlchen GmbH", "Grete Weiß"]


def test_recalculate_company_name_is_never_printed_twice():
    customer = Customer("c2", "einkauf@example.com", "Kaffeehaus GmbH", company="Kaffeehaus GmbH")
    order = priced_order(
        [("1", "10", "19")], gross_pricing=False, customer=customer,
        billing=Address(contact_name="Kaffeehaus GmbH", city="Düsseldorf", country="DE"),
    )  # fmt: skip

    lines = recalculate(order, DE_SELLER, today=TODAY).billing_address.lines()

    assert lines.count("Kaffeehaus GmbH") == 1


def test_recalculate_refuses_a_malformed_buyer_vat_id_before_capture():
    order = priced_order([("1", "10", "19")], gross_pricing=False, legal_entity_id="LE-1")
    buyer = LegalEntity("LE-1", "Société Exemple SA", "FR40303265046", "FR")

    with pytest.raises(
        InvoiceContentError, match=r"'FR40303265046' is not a valid FR VAT ID: its check digit"
    ):
        recalculate(order, DE_SELLER, buyer=buyer, today=TODAY)


def test_recalculate_refuses_an_intra_community_supply_without_vat_ids():
    order = priced_order(
        [("1", "10", "0", "ZERO")], gross_pricing=False,
        billing=Address(contact_name="Jean", city="Paris", country="FR"),
    )  # fmt: skip
    with pytest.raises(
        InvoiceContentError, match=r"buyer's VAT ID \(Art. 226 \(4\)\), but the buyer in FR has none"
    ):
        recalculate(order, DE_SELLER, today=TODAY)
    with pytest.raises(InvoiceContentError, match=r"seller's VAT ID \(Art. 226 \(3\)\)"):
        recalculate(order, dataclasses.replace(DE_SELLER, vat_id=""), buyer=FR_BUYER, today=TODAY)


def test_recalculate_one_breakdown_line_per_rate_and_category():
    order = priced_order(
        [("1", "10", "19"), ("1", "20", "0", "EXEMPT"), ("1", "5", "0", "ZERO")], gross_pricing=False
    )
    treatments = VatTreatments.from_json(
        {"tax_codes": {"EXEMPT": {"category": "E", "reference": "Art. 132(1)(c) VAT Directive"}}}
    )

    document = recalculate(order, DE_SELLER, treatments=treatments, today=TODAY)

    assert [(t.rate, t.category, t.net) for t in document.tax_breakdown] == [
        (D(19), "S", D("10.00")), (D(0), "E", D("20.00")), (D(0), "Z", D("5.00")),
    ]  # fmt: skip
    assert document.tax_breakdown[1].reference == "Art. 132(1)(c) VAT Directive"
    assert document_notes(document) == [
        "Exempt from VAT \N{EN DASH} Art. 132(1)(c) VAT Directive",
        "Zero-rated supply",
    ]
    assert from_json(to_json(document)) == document


def test_recalculate_shipping_follows_the_goods_it_comes_with():
    shipping = Charge("shipping", "Shipping", D("10"), D("10"), D(0))
    order = priced_order([("1", "100", "0", "ZERO")], gross_pricing=False, charges=(shipping,))

    document = recalculate(order, DE_SELLER, buyer=FR_BUYER, today=TODAY)

    assert [(row.kind, row.vat_category) for row in document.rows] == [("item", "K"), ("shipping", "K")]


# --- dates and what is due ------------------------------------------------------------------------------------
def test_recalculate_supply_date_is_the_delivery_day_in_the_sellers_time_zone():
    document = emporix_example()
    document["mixins"]["deliveryTime"] = {"deliveryDate": "2025-03-31T23:30:00.000Z"}
    seller = dataclasses.replace(GROSS_SELLER, time_zone="Europe/Berlin")

    assert recalculate(sales_order_to_order(document), seller).delivery_date == dt.date(2025, 4, 1)
    document["deliveryWindow"] = {"deliveryDate": "2025-03-30"}  # a date is taken as it is
    assert recalculate(sales_order_to_order(document), seller).delivery_date == dt.date(2025, 3, 30)


def test_recalculate_due_date_counts_from_the_issue_date():
    order = sales_order_to_order(factories.demo_order("DEMO-1002"))  # pay by invoice

    document = recalculate(order, DE_SELLER, payment_days=30, today=TODAY)

    assert (document.paid, document.amount_due, document.due_date) == (
        False,
        document.gross_total,
        TODAY + dt.timedelta(days=30),
    )
    issued = document.with_number("INV-1", dt.date(2025, 6, 12))
    assert issued.due_date == dt.date(2025, 7, 12)
    assert from_json(to_json(issued)).due_date == dt.date(2025, 7, 12)
    assert "Payable within 30 days of the invoice date." in document.payment_note


def test_recalculate_captured_or_cash_payment_is_paid():
    card = recalculate(
        sales_order_to_order(factories.demo_order("DEMO-1001")), DE_SELLER, paid_by_capture=True
    )
    assert (card.paid, card.amount_due, card.due_date) == (True, D("0.00"), None)
    assert card.with_number("INV-2", TODAY).due_date is None

    cash = priced_order(
        [("1", "10", "19")], gross_pricing=False, payments=(Payment("cash", "", "", "", None, "EUR"),)
    )
    document = recalculate(cash, DE_SELLER, today=TODAY)
    assert document.paid and document.payment_note == "Paid in cash on delivery."


def test_recalculate_tenant_payment_terms_are_printed_as_written():
    seller = dataclasses.replace(DE_SELLER, payment_terms="Zahlbar innerhalb von 10 Tagen.")
    order = sales_order_to_order(factories.demo_order("DEMO-1002"))
    assert recalculate(order, seller, payment_days=10, today=TODAY).payment_note.startswith(
        "Zahlbar innerhalb von 10 Tagen. Please quote the invoice number"
    )


# --- foreign currency (Art. 230) ------------------------------------------------------------------------------
class FakeRates:
    def __init__(self, rate: str | None, as_of: dt.date | None = None) -> None:
        self.rate, self.as_of, self.asked = rate, as_of, []

    def get_rate(self, *, source, target, on):
        self.asked.append((source, target, on))
        if self.rate is None:
            return None
        return ExchangeRate(source=source, target=target, rate=D(self.rate), as_of=self.as_of or on)


def test_recalculate_foreign_currency_states_the_vat_in_the_sellers_currency():
    order = priced_order(
        [("2", "50", "19")], gross_pricing=False, currency="USD", delivery_window_date=dt.date(2025, 6, 3)
    )
    rates = FakeRates("0.92", as_of=dt.date(2025, 6, 2))

    document = recalculate(order, DE_SELLER, rates=rates, rates_source="test", today=TODAY)

    # Art. 91(2): the rate at the time VAT becomes chargeable, the supply date (Art. 63)
    assert rates.asked == [("USD", "EUR", dt.date(2025, 6, 3))]
    assert document.tax_total == D("19.00")
    assert document.foreign_currency_vat == ForeignCurrencyVat(
        currency="EUR", rate=D("0.92"), rate_date=dt.date(2025, 6, 2), tax_total=D("17.48"), source="test"
    )
    assert from_json(to_json(document)).foreign_currency_vat == document.foreign_currency_vat


def test_recalculate_foreign_currency_without_supply_date_uses_the_invoice_date():
    rates = FakeRates("0.92")
    recalculate(
        priced_order([("1", "10", "19")], gross_pricing=False, currency="USD"),
        DE_SELLER,
        rates=rates,
        today=TODAY,
    )
    assert rates.asked == [("USD", "EUR", TODAY)]


def test_recalculate_foreign_currency_without_a_rate_fails():
    order = priced_order([("1", "10", "19")], gross_pricing=False, currency="USD")

    with pytest.raises(
        InvoiceContentError, match=r"No exchange rate from USD to EUR is known for 2025-06-10.*Art. 230"
    ):
        recalculate(order, DE_SELLER, rates=FakeRates(None), today=TODAY)
    assert isinstance(InvoiceContentError("x"), PermanentError)


def test_recalculate_no_rate_needed_in_the_sellers_currency_or_without_vat():
    rates = FakeRates(None)
    same = recalculate(
        priced_order([("1", "10", "19")], gross_pricing=False), DE_SELLER, rates=rates, today=TODAY
    )
    exempt = recalculate(
        priced_order([("1", "10", "0", "ZERO")], gross_pricing=False, currency="USD"),
        DE_SELLER, buyer=FR_BUYER, rates=rates, today=TODAY,
    )  # fmt: skip
    assert same.foreign_currency_vat is None and exempt.foreign_currency_vat is None and rates.asked == []


def test_printable_rate_has_six_significant_digits():
    assert printable_rate(D(1) / D("0.92")) == D("1.086957")
    assert printable_rate(D("0.0061234567")) == D("0.00612346")
    assert printable_rate(D("0.92")) == D("0.92")


# --- language -------------------------------------------------------------------------------------------------
def test_recalculate_language_and_product_names():
    order = priced_order([("1", "10", "19")], gross_pricing=False)
    named = dataclasses.replace(order.lines[0], names=(("en", "Coffee mug"), ("de", "Kaffeebecher")))
    order = dataclasses.replace(order, lines=(named,))

    assert recalculate(order, DE_SELLER, language="de_DE", today=TODAY).language == "de"
    assert recalculate(order, DE_SELLER, language="de-CH", today=TODAY).rows[0].description == "Kaffeebecher"
    # a language the order has no name in: the tenant's next
    french = recalculate(order, DE_SELLER, language="fr", fallback_language="de", today=TODAY)
    assert (french.language, french.rows[0].description) == ("fr", "Kaffeebecher")
    assert recalculate(order, DE_SELLER, language="", today=TODAY).language == "en"  # the seller's


# --- in the pipeline: refused before any capture or number ----------------------------------------------------
def _store_card_order(tenant, order_id: str, **changes) -> None:
    from invoicing.order_store import stored_order_upsert

    document = factories.demo_order(factories.CARD_ORDER, id=order_id, **changes)
    for payment in document["payments"]:
        payment["transactionId"] = f"{tenant.code}-{order_id}"
        payment["currency"] = document["currency"]
    stored_order_upsert(tenant=tenant, order_id=order_id, document=document)


def _run(tenant, order_id: str):
    from invoicing.models import PaymentCapture
    from jobs.models import JobOrder
    from jobs.services import job_create_manual
    from tests.pipeline import drive

    job = drive(job_create_manual(tenant=tenant, order_ids=[order_id]))
    row = JobOrder.objects.select_related("invoice").get(job=job, order_id=order_id)
    capture = PaymentCapture.objects.filter(tenant=tenant, order_id=order_id).first()
    return row, capture


@pytest.mark.django_db
def test_pipeline_foreign_currency_without_a_rate_fails_before_capture(tenant):
    from integrations.models import GatewayCapture

    _store_card_order(tenant, "USD-1", currency="USD")

    row, capture = _run(tenant, "USD-1")

    assert row.status == "FAILURE", row.message
    assert "No exchange rate from USD to EUR is known" in row.message and "Art. 230" in row.message
    assert capture is None and not GatewayCapture.objects.exists()
    assert row.invoice is None or not row.invoice.number


@pytest.mark.django_db
def test_pipeline_malformed_buyer_vat_id_fails_before_capture(tenant):
    from integrations.models import GatewayCapture
    from integrations.services import stored_legal_entity_upsert

    stored_legal_entity_upsert(
        tenant=tenant,
        legal_entity_id="LE-1",
        document={
            "legalInfo": {
                "legalName": "Société Exemple SA",
                "taxRegistrationNumber": "FR40303265046",
                "countryOfRegistration": "FR",
            }
        },
    )
    _store_card_order(tenant, "B2B-1", legalEntityId="LE-1")

    row, capture = _run(tenant, "B2B-1")

    assert row.status == "FAILURE", row.message
    assert "'FR40303265046' is not a valid FR VAT ID: its check digit is wrong" in row.message
    assert capture is None and not GatewayCapture.objects.exists()
