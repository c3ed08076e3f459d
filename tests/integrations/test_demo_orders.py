"""The demo orders: valid order-v2 salesOrders whose amounts pass the service's recalculation rules.

The amount checks recompute every value from the unit prices, quantities, discounts, shipping and
fees with Decimal, independently of how integrations.local.demo builds them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from integrations.local.demo import demo_sales_orders
from tests.spec_utils import load_spec, spec_errors, validate_against_spec

ORDER_SPEC = "emporix/orders/order/api-reference/api.yml"
ORDERS = demo_sales_orders()
CENT = Decimal("0.01")
DATE_TIME_Z = re.compile(r"^2026-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def by_id(order: dict[str, Any]) -> str:
    return str(order["id"])


def dec(value: Any) -> Decimal:
    """The JSON number as written (via str, so 4.95 is 4.95 and not its binary expansion)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), f"{value!r} is not a number"
    return Decimal(str(value))


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def gross_of(net: Decimal, rate: Decimal) -> Decimal:
    return round2(net * (1 + rate / 100))


def assert_price(price: dict[str, Any], net: Decimal, rate: Decimal, where: str) -> None:
    """`price` is net/gross/tax of `net` taxed at `rate`, each exactly."""
    gross = gross_of(net, rate)
    assert dec(price["netValue"]) == net, f"{where}.netValue"
    assert dec(price["grossValue"]) == gross, f"{where}.grossValue"
    assert dec(price["taxValue"]) == gross - net, f"{where}.taxValue"


def assert_sum(price: dict[str, Any], net: Decimal, gross: Decimal, where: str) -> None:
    assert dec(price["netValue"]) == net, f"{where}.netValue"
    assert dec(price["grossValue"]) == gross, f"{where}.grossValue"
    assert dec(price["taxValue"]) == gross - net, f"{where}.taxValue"


def money_values(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """Every float/int under a money-ish key (the prices and payment amounts)."""
    money_keys = {"netValue", "grossValue", "taxValue", "value", "authorizedAmount", "paidAmount"}
    money_keys |= {"originalAmount", "totalAuthorizedAmount"}
    if isinstance(node, dict):
        for key, value in node.items():
            if key in money_keys:
                yield f"{path}.{key}", value
            yield from money_values(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from money_values(value, f"{path}[{index}]")


def non_ascii(text: str) -> bool:
    return any(ord(char) > 127 for char in text)


# --- shape -------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_validates_against_sales_order_schema(order: dict[str, Any]) -> None:
    validate_against_spec(order, ORDER_SPEC, "salesOrder")


def test_demo_orders_are_twenty_with_unique_sequential_ids() -> None:
    assert [order["id"] for order in ORDERS] == [f"DEMO-{n}" for n in range(1001, 1021)]


def test_demo_orders_are_deterministic_plain_json() -> None:
    first, second = demo_sales_orders(), demo_sales_orders()
    assert first == second
    assert first is not second and first[0] is not second[0]  # callers may mutate their copy
    # Round-trips through JSON unchanged: only dict/list/str/int/float/bool, no Decimal or dates.
    assert json.loads(json.dumps(first, ensure_ascii=False)) == first


@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_has_the_fields_the_service_reads(order: dict[str, Any]) -> None:
    assert order["status"] in {"CREATED", "CONFIRMED", "SHIPPED"}
    assert (order["siteCode"], order["countryCode"], order["currency"]) == ("main", "DE", "EUR")
    assert DATE_TIME_Z.match(order["created"])
    attributes = order["mixins"]["generalAttributes"]
    assert attributes["extendedOrderStatus"] in {"10", "70", "75", "76"}
    assert set(order["metadata"]["mixins"]) == set(order["mixins"])
    assert order["metadata"]["mixins"]["generalAttributes"].endswith("/orderGeneralAttributesMixIn.v9.json")
    if "deliveryWindow" in order:
        date = order["deliveryWindow"]["deliveryDate"]
        assert DATE.match(date)
        assert order["mixins"]["deliveryTime"]["deliveryDate"].startswith(f"{date}T")
    for address in (order["billingAddress"], order["shippingAddress"]):
        for field in ("contactName", "street", "streetNumber", "zipCode", "city", "country"):
            assert address[field], field
    assert re.fullmatch(r"[a-z.\-]+@([a-z\-]+\.)*example\.(com|org)", order["customer"]["email"])
    for entry in order["entries"]:
        assert entry["product"]["id"] and entry["product"]["sku"] and entry["product"]["name"]


@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_money_values_have_at_most_two_decimals(order: dict[str, Any]) -> None:
    for path, value in money_values(order):
        assert dec(value) == round2(dec(value)), f"{path} = {value!r}"


# --- amounts -----------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_entries_follow_the_amount_rules(order: dict[str, Any]) -> None:
    for index, entry in enumerate(order["entries"]):
        where = f"{order['id']} entries[{index}]"
        quantity = entry["amount"]
        assert isinstance(quantity, int) and quantity > 0, where
        unit = entry["calculatedUnitPrice"]
        rate, code = dec(unit["taxRate"]), unit["taxCode"]
        assert (rate, code) in {(19, "STANDARD"), (7, "REDUCED")}, where
        unit_net = dec(unit["netValue"])
        assert_price(unit, unit_net, rate, f"{where}.calculatedUnitPrice")

        calculated = entry["calculatedPrice"]
        line_net = unit_net * quantity
        assert_price(calculated["price"], line_net, rate, f"{where}.price")
        discount = Decimal(0)
        if "totalDiscount" in calculated:
            discount = dec(calculated["totalDiscount"]["price"]["netValue"])
            assert 0 < discount < line_net, where
            assert_price(calculated["totalDiscount"]["price"], discount, rate, f"{where}.totalDiscount")
            discounted = calculated["discountedPrice"]
            assert_price(discounted, line_net - discount, rate, f"{where}.discountedPrice")
            assert (dec(discounted["taxRate"]), discounted["taxCode"]) == (rate, code), where
        else:
            assert "discountedPrice" not in calculated, where
        final = calculated["finalPrice"]
        assert_price(final, line_net - discount, rate, f"{where}.finalPrice")
        assert (dec(final["taxRate"]), final["taxCode"]) == (rate, code), where


@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_totals_follow_the_amount_rules(order: dict[str, Any]) -> None:
    calculated = order["calculatedPrice"]
    where = order["id"]
    bases: dict[tuple[Decimal, str], Decimal] = {}
    price_net = price_gross = discount_net = discount_gross = Decimal(0)
    for entry in order["entries"]:
        entry_price = entry["calculatedPrice"]
        final = entry_price["finalPrice"]
        key = (dec(final["taxRate"]), final["taxCode"])
        bases[key] = bases.get(key, Decimal(0)) + dec(final["netValue"])
        price_net += dec(entry_price["price"]["netValue"])
        price_gross += dec(entry_price["price"]["grossValue"])
        if "totalDiscount" in entry_price:
            discount_net += dec(entry_price["totalDiscount"]["price"]["netValue"])
            discount_gross += dec(entry_price["totalDiscount"]["price"]["grossValue"])

    assert_sum(calculated["price"], price_net, price_gross, f"{where} calculatedPrice.price")
    if discount_net:
        assert_sum(
            calculated["totalDiscount"]["price"], discount_net, discount_gross, f"{where} totalDiscount"
        )
    else:
        assert "totalDiscount" not in calculated, where

    standard = (Decimal(19), "STANDARD")
    if "totalShipping" in calculated:
        shipping = calculated["totalShipping"]
        shipping_net = dec(shipping["netValue"])
        assert_price(shipping, shipping_net, Decimal(19), f"{where} totalShipping")
        assert (dec(shipping["taxRate"]), shipping["taxCode"]) == standard, where
        assert calculated["shipping"] == shipping, where
        bases[standard] = bases.get(standard, Decimal(0)) + shipping_net
    else:
        assert "shipping" not in calculated, where
    fee_net = Decimal(0)
    for fee in calculated.get("paymentFees", []):
        net = dec(fee["price"]["netValue"])
        assert_price(fee["price"], net, Decimal(19), f"{where} paymentFees[{fee['id']}]")
        assert (dec(fee["price"]["taxRate"]), fee["price"]["taxCode"]) == standard, where
        fee_net += net
    if fee_net:
        assert_price(calculated["totalFee"], fee_net, Decimal(19), f"{where} totalFee")
        bases[standard] = bases.get(standard, Decimal(0)) + fee_net
    else:
        assert "totalFee" not in calculated, where

    expected_lines = {}
    for (rate, code), base in bases.items():
        tax = round2(base * rate / 100)
        expected_lines[(rate, code)] = (base, tax, base + tax)
    final = calculated["finalPrice"]
    actual_lines = {
        (dec(line["taxRate"]), line["taxCode"]): (
            dec(line["netValue"]),
            dec(line["taxValue"]),
            dec(line["grossValue"]),
        )
        for line in final["taxAggregate"]["lines"]
    }
    assert len(final["taxAggregate"]["lines"]) == len(actual_lines), f"{where}: one line per rate"
    assert actual_lines == expected_lines, where
    total_net = sum((line[0] for line in expected_lines.values()), Decimal(0))
    total_tax = sum((line[1] for line in expected_lines.values()), Decimal(0))
    assert_sum(final, total_net, total_net + total_tax, f"{where} finalPrice")
    assert dec(order["totalAuthorizedAmount"]) == total_net + total_tax, where


@pytest.mark.parametrize("order", ORDERS, ids=by_id)
def test_demo_order_payment_matches_its_method(order: dict[str, Any]) -> None:
    (payment,) = order["payments"]
    assert payment["currency"] == "EUR" and payment["paidAmount"] == 0
    assert order["mixins"]["payment"]["paymentType"] == payment["method"]
    if payment["method"] == "card":
        assert payment["provider"] == "payment-gateway"
        assert payment["status"] == "AUTHORIZATION_SUCCESS"
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", payment["transactionId"])
        assert dec(payment["authorizedAmount"]) == dec(order["calculatedPrice"]["finalPrice"]["grossValue"])
    elif payment["method"] == "invoice":
        assert (payment["provider"], payment["status"]) == ("INVOICE", "PENDING")
        assert "transactionId" not in payment
    else:
        assert payment["method"] == "cash" and payment["status"] == "PENDING"


# --- variety the demo must show ----------------------------------------------------------------
def test_demo_orders_cover_rates_discounts_shipping_fees_and_payments() -> None:
    rates = [{entry["calculatedUnitPrice"]["taxRate"] for entry in order["entries"]} for order in ORDERS]
    assert any(7 in r for r in rates) and any(19 in r for r in rates)
    assert sum(1 for r in rates if r == {7, 19}) >= 3, "several orders with both rates in the entries"
    calculated = [order["calculatedPrice"] for order in ORDERS]
    assert sum("totalDiscount" in c for c in calculated) >= 2
    assert sum("totalShipping" in c for c in calculated) >= 2
    assert sum("totalShipping" not in c for c in calculated) >= 2
    assert any("paymentFees" in c for c in calculated)
    methods = [order["payments"][0]["method"] for order in ORDERS]
    assert 8 <= methods.count("card") <= 12 and methods.count("invoice") >= 6


def test_demo_orders_entry_counts_include_a_multi_page_order() -> None:
    counts = sorted(len(order["entries"]) for order in ORDERS)
    assert counts[-1] >= 35
    assert all(1 <= count <= 6 for count in counts[:-1])
    assert counts[0] == 1


def test_demo_orders_customers_include_non_latin_and_b2b() -> None:
    names = {order["billingAddress"]["contactName"] for order in ORDERS}
    assert sum(non_ascii(name) for name in names) >= 6
    scripts = "".join(names)
    assert re.search("[\u0400-\u04ff]", scripts), "Cyrillic"
    assert re.search("[\u0370-\u03ff]", scripts), "Greek"
    b2b = [order for order in ORDERS if order["customer"].get("company")]
    assert b2b
    for order in b2b:
        assert order["billingAddress"]["companyName"] == order["customer"]["company"]
        assert order["customer"]["name"]


# --- validate_against_spec itself --------------------------------------------------------------
def test_validate_against_spec_reports_missing_entries() -> None:
    order = copy.deepcopy(ORDERS[0])
    del order["entries"]
    with pytest.raises(AssertionError, match=r"\$: 'entries' is a required property"):
        validate_against_spec(order, ORDER_SPEC, "salesOrder")


def test_validate_against_spec_reports_string_amount_with_its_path() -> None:
    order = copy.deepcopy(ORDERS[1])
    order["entries"][1]["amount"] = "2"
    with pytest.raises(AssertionError) as excinfo:
        validate_against_spec(order, ORDER_SPEC, "salesOrder")
    assert "$.entries[1].amount: '2' is not of type 'integer'" in str(excinfo.value)
    assert "1 problem(s)" in str(excinfo.value)


def test_validate_against_spec_reports_every_failing_path() -> None:
    order = copy.deepcopy(ORDERS[0])
    order["payments"][0]["status"] = "PAID"
    del order["customer"]["email"]
    errors = spec_errors(order, ORDER_SPEC, "salesOrder")
    assert len(errors) == 2, errors
    assert errors[0] == "$.customer: 'email' is a required property"
    assert errors[1].startswith("$.payments[0].status: 'PAID' is not one of ['PENDING', ")


def test_validate_against_spec_accepts_nullable_and_spec_examples() -> None:
    order = copy.deepcopy(ORDERS[0])
    order["restriction"] = None  # `nullable: true` in the spec
    validate_against_spec(order, ORDER_SPEC, "salesOrder")
    # The spec's own response example must pass, or the errata in spec_utils are incomplete.
    example = load_spec(ORDER_SPEC)["components"]["examples"]["salesOrder2"]["value"]
    validate_against_spec(example, ORDER_SPEC, "salesOrder")
