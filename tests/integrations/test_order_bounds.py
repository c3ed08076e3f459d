"""Orders are bounded, typed and consistent before money moves (the mapper is the gate).

Unit tests of `sales_order_to_order` for each bound, then whole jobs on both backends: an order
that breaks a rule fails at validation, with no capture, no number and no email.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail

from core.errors import PermanentError
from core.money import currency_exponent, is_invoice_currency, minor_unit, round_money
from integrations.emporix.adapters import site_cache
from integrations.emporix.client import clear_token_cache
from integrations.mapper import MAX_LINES, OrderDocumentError, email_problem, sales_order_to_order
from integrations.models import StoredOrder
from invoicing.models import Invoice, PaymentCapture
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tenants.models import Tenant
from tests import factories
from tests.integrations import emporix_payloads as p
from tests.pipeline import drive

CARD = factories.CARD_ORDER  # DEMO-1001: card payment, 1 x 126.05 + 2 x 10.08 net, shipping


def card_order(**changes: Any) -> dict[str, Any]:
    return factories.demo_order(CARD, **changes)


def errors_of(document: Any) -> dict[str, str]:
    with pytest.raises(OrderDocumentError) as caught:
        sales_order_to_order(document)
    return {error["field"]: error["message"] for error in caught.value.errors}


def test_the_demo_orders_pass_every_bound():
    for order_id, document in factories.DEMO_ORDERS.items():
        assert sales_order_to_order(copy.deepcopy(document)).order_id == order_id


# --- amounts and quantities ------------------------------------------------------------------------
def test_an_amount_of_1e308_is_refused():
    document = card_order()
    document["entries"][0]["amount"] = 1e308
    document["entries"][1]["calculatedUnitPrice"]["netValue"] = 1e308

    errors = errors_of(document)

    assert errors["entries[0].amount"] == "must be at most 1,000,000,000"
    assert errors["entries[1].calculatedUnitPrice.netValue"] == "must be at most 1,000,000,000,000"


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (1e20, "must be at most 1,000,000,000"),
        (0, "must be greater than 0"),
        (-1, "must be greater than 0"),
        (0.0001, "must have at most 3 decimal places"),
        (float("inf"), "must be a finite number"),
    ],
)
def test_quantities_are_positive_bounded_and_fit_their_column(quantity, message):
    document = card_order()
    document["entries"][0]["amount"] = quantity

    assert errors_of(document)["entries[0].amount"] == message


def test_amounts_of_up_to_10_to_the_12_are_accepted():
    document = card_order()
    entry = document["entries"][0]
    for price in (entry["calculatedUnitPrice"], entry["calculatedPrice"]["price"]):
        price.update(netValue=10**12, grossValue=10**12, taxValue=0, taxRate=0)
    entry["calculatedPrice"]["finalPrice"].update(netValue=10**12, grossValue=10**12, taxValue=0, taxRate=0)
    document["entries"] = [entry]
    document["calculatedPrice"]["finalPrice"] = {"netValue": 10**12, "grossValue": 10**12, "taxValue": 0}
    document["calculatedPrice"].pop("shipping")
    document["calculatedPrice"].pop("totalShipping")

    assert sales_order_to_order(document).lines[0].net == Decimal(10**12)


def test_order_totals_beyond_10_to_the_12_are_refused_even_when_each_amount_is_not():
    """5,000 lines of 10^12 would not fit the invoice's DECIMAL(18, 3) totals."""
    document = card_order()
    entry = document["entries"][0]
    for price in (
        entry["calculatedUnitPrice"],
        entry["calculatedPrice"]["price"],
        entry["calculatedPrice"]["finalPrice"],
    ):
        price.update(netValue=10**12, grossValue=10**12, taxValue=0, taxRate=0)
    document["entries"] = [copy.deepcopy(entry) for _ in range(3)]

    errors = errors_of(document)

    assert errors == {
        "calculatedPrice": "the order's net amounts add up to more than 1,000,000,000,000; split the order"
    }


def test_a_derived_tax_rate_outside_0_to_100_percent_is_refused():
    document = card_order()
    line = document["calculatedPrice"]["finalPrice"]["taxAggregate"]["lines"][0]
    del line["taxRate"]
    line.update(netValue=0.01, taxValue=1000)

    errors = errors_of(document)

    assert "state taxRate" in errors["calculatedPrice.finalPrice.taxAggregate.lines[0].taxValue"]


def test_a_stated_tax_rate_above_100_percent_is_refused():
    document = card_order()
    document["entries"][0]["calculatedUnitPrice"]["taxRate"] = 1900

    assert errors_of(document)["entries[0].calculatedUnitPrice.taxRate"] == "must be at most 100"


# --- types ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["calculatedPrice"].update(finalPrice="abc"),
            "calculatedPrice.finalPrice",
            "must be an object",
        ),
        (
            lambda d: d["calculatedPrice"]["finalPrice"].update(taxAggregate=[1]),
            "calculatedPrice.finalPrice.taxAggregate",
            "must be an object",
        ),
        (
            lambda d: d["calculatedPrice"]["finalPrice"].update(taxAggregate={"lines": [1]}),
            "calculatedPrice.finalPrice.taxAggregate.lines[0]",
            "must be an object",
        ),
        (lambda d: d["customer"].update(firstName=5), "customer.firstName", "must be a string"),
        (
            lambda d: d["entries"][0]["product"].update(name=["x"]),
            "entries[0].product.name",
            "must be a string",
        ),
        (lambda d: d["billingAddress"].update(city={"a": 1}), "billingAddress.city", "must be a string"),
        (lambda d: d.update(payments=[{"method": 7}]), "payments[0].method", "must be a string"),
        (lambda d: d.update(mixins={"invoice": "INV1"}), "mixins.invoice", "must be an object"),
        (lambda d: d.update(created=20260105), "created", "must be an ISO 8601 date-time"),
        (
            lambda d: d.update(created="9999-12-31T23:00:00-05:00"),  # overflows when made UTC
            "created",
            "must be an ISO 8601 date-time",
        ),
        (lambda d: d.update(status=["CONFIRMED"]), "status", "must be a string"),
    ],
)
def test_fields_of_the_wrong_type_are_named(change, field, message):
    document = card_order()
    change(document)

    assert errors_of(document)[field] == message


# --- lines are consistent ------------------------------------------------------------------------------
def test_a_negative_unit_price_is_refused():
    """The issue's line `1 x -12.23 = 13.08`."""
    document = card_order()
    entry = document["entries"][0]
    entry["calculatedUnitPrice"].update(netValue=-12.23, grossValue=-14.55, taxValue=-2.32)
    entry["calculatedPrice"]["price"].update(netValue=13.08, grossValue=15.57, taxValue=2.49)

    errors = errors_of(document)

    assert errors["entries[0].calculatedUnitPrice.netValue"] == "must not be negative"
    assert errors["entries[0].calculatedUnitPrice.grossValue"] == "must not be negative"


def test_a_line_whose_price_is_not_quantity_times_unit_price_is_refused():
    document = card_order()
    document["entries"][0]["calculatedUnitPrice"].update(netValue=12.23, grossValue=14.55, taxValue=2.32)

    errors = errors_of(document)

    assert errors["entries[0].calculatedPrice.price.netValue"] == (
        "126.05 does not match amount x calculatedUnitPrice.netValue (1 x 12.23 = 12.23)"
    )
    assert "entries[0].calculatedPrice.price.grossValue" in errors


def test_rounding_of_unit_prices_is_within_the_tolerance():
    """3 x 0.935 = 2.805, stated 2.804 (unrounded Emporix values); 2 x 12.00 gross = 24.00, stated 23.99."""
    document = card_order()
    entry = document["entries"][1]  # 2 x 10.08 net = 20.16, 2 x 12.00 gross = 24.00, line gross 23.99
    assert sales_order_to_order(document).lines[1].gross == Decimal("23.99")
    entry["calculatedPrice"]["price"]["netValue"] = 20.17  # one cent: within (2 + 1) half cents
    assert sales_order_to_order(document).lines[1].net == Decimal("20.17")
    entry["calculatedPrice"]["price"]["netValue"] = 20.18  # two cents: beyond
    assert "entries[1].calculatedPrice.price.netValue" in errors_of(document)


# --- currency --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "message"),
    [
        ("XYZ", "must be an ISO 4217 currency code such as EUR"),
        ("HRK", "must be an ISO 4217 currency code such as EUR"),  # withdrawn 2023
        ("EURO", "must be at most 3 characters"),
        ("XAU", "XAU has no minor unit in ISO 4217 and cannot be invoiced"),
        ("XDR", "XDR has no minor unit in ISO 4217 and cannot be invoiced"),
        ("XXX", "XXX has no minor unit in ISO 4217 and cannot be invoiced"),
    ],
)
def test_the_currency_must_be_an_active_iso_4217_code_with_a_minor_unit(currency, message):
    assert errors_of(card_order(currency=currency))["currency"] == message


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("EUR", 2),
        ("JPY", 0),
        ("ISK", 0),
        ("KWD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("XCG", 2),
        ("VED", 2),
    ],
)
def test_every_currency_has_its_own_minor_unit(currency, exponent):
    assert is_invoice_currency(currency)
    assert currency_exponent(currency) == exponent
    assert minor_unit(currency) == Decimal(1).scaleb(-exponent)


def test_money_helpers_keep_their_behaviour_for_unlisted_codes():
    assert round_money(Decimal("2.345"), "EUR") == Decimal("2.35")
    assert round_money(Decimal("1.23456"), "CLF") == Decimal("1.2346")
    assert currency_exponent("xau") == 2 and not is_invoice_currency("XAU")


# --- strings and ids ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["entries"][0]["product"].update(name="x" * 501),
            "entries[0].product.name",
            "must be at most 500 characters",
        ),
        (
            lambda d: d["customer"].update(lastName="x" * 101),
            "customer.lastName",
            "must be at most 100 characters",
        ),
        (
            lambda d: d["billingAddress"].update(street="x" * 201),
            "billingAddress.street",
            "must be at most 200 characters",
        ),
        (lambda d: d["entries"][0].update(id="x" * 256), "entries[0].id", "must be at most 255 characters"),
        (lambda d: d.update(id="."), "id", "must not be '.' or '..'"),
        (
            lambda d: d.update(id="A\nB"),
            "id",
            "must not contain control characters (such as NUL or line breaks)",
        ),
        (
            lambda d: d["payments"][0].update(transactionId="t" * 201),
            "payments[0].transactionId",
            "must be at most 200 characters",
        ),
    ],
)
def test_strings_and_ids_are_bounded(change, field, message):
    document = card_order()
    change(document)

    assert errors_of(document)[field] == message


def test_nul_characters_are_refused_anywhere_in_the_document():
    document = card_order()
    document["entries"][1]["product"]["name"] = "Kabel\x00"
    document["mixins"]["generalAttributes"]["note"] = "\x00"  # a field the invoice does not read

    errors = errors_of(document)

    assert errors["entries[1].product.name"] == "must not contain NUL characters or unpaired surrogates"
    assert errors["mixins.generalAttributes.note"] == "must not contain NUL characters or unpaired surrogates"


def test_deep_nesting_is_refused():
    document = card_order()
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    document["mixins"]["custom"] = deep

    errors = errors_of(document)

    assert list(errors.values()) == ["nested more than 64 levels deep"]


def test_odd_unicode_in_names_is_kept():
    document = card_order()
    document["customer"].update(firstName="مريم", lastName="王小明")
    document["entries"][0]["product"]["name"] = "Kopfhörer 🎧 \u202eRTL"

    order = sales_order_to_order(document)

    assert order.customer.name == "مريم 王小明"
    assert order.lines[0].description == "Kopfhörer 🎧 \u202eRTL"


# --- lines ----------------------------------------------------------------------------------------------------
def test_at_most_5000_lines():
    document = card_order()
    document["entries"] = [copy.deepcopy(document["entries"][1]) for _ in range(MAX_LINES)]
    assert len(sales_order_to_order(document).lines) == MAX_LINES

    document["entries"].append(copy.deepcopy(document["entries"][0]))

    assert errors_of(document) == {"entries": "at most 5000 entries per order (5001 given); split the order"}


# --- email ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "email",
    [
        "a@example.com, b@evil.example",
        "a@example.com;b@evil.example",
        '"a,b"@example.com',
        "Jürgen <a@example.com>",
        "a@example.com\r\nBcc: b@evil.example",
        "a @example.com",
        "not-an-address",
        "a@" + "x" * 250 + ".com",
    ],
)
def test_the_customer_email_is_exactly_one_address(email):
    assert email_problem(email) is not None
    assert "customer.email" in errors_of(card_order(customer={**card_order()["customer"], "email": email}))


@pytest.mark.parametrize(
    "email", ["a@example.com", "first.last+tag@sub.example.co.uk", "juergen@münchen.example"]
)
def test_ordinary_addresses_are_accepted(email):
    assert email_problem(email) is None


# --- the error itself --------------------------------------------------------------------------------------------
def test_the_error_is_permanent_and_lists_the_fields_shortened():
    document = card_order(currency="XYZ")
    for entry in document["entries"]:
        entry["amount"] = -1
    document["customer"]["email"] = "a@example.com, b@evil.example"
    document["billingAddress"].update(city=1, street=2, zipCode=3)

    with pytest.raises(OrderDocumentError) as caught:
        sales_order_to_order(document)

    error = caught.value
    assert isinstance(error, PermanentError)
    assert len(error.errors) == 7
    assert {e["field"] for e in error.errors} >= {"currency", "customer.email", "entries[1].amount"}
    assert error.message.startswith("The order document is invalid: currency: must be an ISO 4217")
    assert error.message.endswith("(and 2 more)")


# --- whole jobs: refused before capture, number and email ------------------------------------------------------------
def assert_failed_before_money_moved(job_order: JobOrder, *fields: str) -> None:
    assert job_order.status == JobOrder.Status.FAILURE
    assert job_order.message.startswith("The order document is invalid:"), job_order.message
    assert "internal error" not in job_order.message
    for field in fields:
        assert field in job_order.message
    assert not PaymentCapture.objects.filter(order_id=job_order.order_id).exists()
    assert not Invoice.objects.filter(order_id=job_order.order_id, number__isnull=False).exists()
    assert not mail.outbox


@pytest.mark.django_db
def test_local_order_stored_before_the_checks_fails_at_validation(tenant):
    """An order stored before these bounds existed (or by hand) fails with the fields, not a 500."""
    document = card_order()
    document["entries"][0]["amount"] = 1e20
    StoredOrder.objects.create(tenant=tenant, order_id=CARD, document=document)

    job = drive(job_create_manual(tenant=tenant, order_ids=[CARD]))

    job_order = JobOrder.objects.get(job=job)
    assert job_order.step == JobOrder.Step.VALIDATE
    assert_failed_before_money_moved(job_order, "entries[0].amount: must be at most 1,000,000,000")


@pytest.fixture
def shop(db):
    clear_token_cache()
    site_cache.clear()
    yield factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=p.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret="secret",
        emporix_number_placeholders={"__num__": ""},
    )
    clear_token_cache()
    site_cache.clear()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["entries"][0].update(amount=1e20), "entries[0].amount"),  # charged, then no invoice
        (lambda d: d["entries"][0].update(amount=1e308), "entries[0].amount"),  # paid, numbered, no PDF
        (lambda d: d.update(currency="XYZ"), "currency"),  # captured as "179.88 XYZ"
        (lambda d: d["calculatedPrice"].update(finalPrice="abc"), "calculatedPrice.finalPrice"),  # 500
        (lambda d: d["customer"].update(email="a@example.com, b@evil.example"), "customer.email"),
    ],
)
def test_emporix_order_breaking_a_rule_fails_at_validation(shop, fake, change, field):
    change(fake.orders[CARD])

    job = drive(job_create_manual(tenant=shop, order_ids=[CARD]))

    job_order = JobOrder.objects.get(job=job)
    assert job_order.step == JobOrder.Step.VALIDATE
    assert_failed_before_money_moved(job_order, field)
    assert fake.count("capture") == 0 and fake.count("next_id") == 0 and fake.count("patch_order") == 0


def test_emporix_valid_order_still_succeeds(shop, fake):
    job = drive(job_create_manual(tenant=shop, order_ids=[CARD]))

    assert JobOrder.objects.get(job=job).status == JobOrder.Status.SUCCESS
    assert fake.count("capture") == 1
