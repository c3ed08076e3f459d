"""Mapping a salesOrder and recalculating it: Decimal, rounding per currency, reconciliation."""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.money import round_money, to_decimal
from integrations.mapper import OrderDocumentError, sales_order_to_order
from integrations.ports import Address, Customer, Order, OrderLine, Seller, TaxTotal
from invoicing.recalculation import ReconciliationError, recalculate
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
