"""Mapping a salesOrder and recalculating it: Decimal, rounding per currency, reconciliation."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from integrations.mapper import OrderDocumentError, sales_order_to_order
from integrations.ports import Address, Seller
from invoicing.money import round_money, to_decimal
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
