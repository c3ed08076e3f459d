"""Orders that round VAT per line or per rate, through the whole pipeline: the invoice states the
order's totals, and the payment is captured for exactly that, never above the authorisation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.money import round_money
from integrations.models import GatewayCapture
from invoicing.models import Invoice, PaymentCapture
from invoicing.order_store import stored_order_upsert
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

D = Decimal


def _price(net: Decimal, tax: Decimal, gross: Decimal, rate: Decimal | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"netValue": float(net), "taxValue": float(tax), "grossValue": float(gross)}
    if rate is not None:
        out.update({"taxRate": float(rate), "taxCode": "STANDARD" if rate >= 10 else "REDUCED"})
    return out


def rate_kept(tenant, currency: str, rate: str) -> None:
    """An exchange rate to EUR, as an operator keeps it in the console: an invoice in another
    currency than the seller's states its VAT in EUR too (Art. 230), or is not issued."""
    import datetime as dt

    from integrations.models import CurrencyRate

    CurrencyRate.objects.create(
        tenant=tenant,
        source_currency=currency,
        target_currency="EUR",
        rate=D(rate),
        valid_from=dt.date(2020, 1, 1),
    )


def sales_order(
    order_id: str,
    items: list[tuple[str, str]],
    *,
    per_line: bool,
    gross_pricing: bool = False,
    currency: str = "EUR",
    shipping: tuple[str, str] | None = None,
    stated_tax: dict[str, str] | None = None,
    authorized: str | None = None,
) -> dict[str, Any]:
    """A salesOrder as a shop computes it. Each item and the shipping is (price, rate): a net price
    (B2B) or a gross price (B2C); VAT is rounded per line or per rate. `stated_tax` replaces the
    order's tax at a rate (an order that contradicts itself). The card payment authorises the
    order's gross unless `authorized` says otherwise."""

    def tax_of(amount: Decimal, rate: Decimal) -> Decimal:
        return round_money(amount * rate / (100 + rate if gross_pricing else 100), currency)

    def split(price: str, rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        amount = D(price)
        tax = tax_of(amount, rate)
        return (amount - tax, tax, amount) if gross_pricing else (amount, tax, amount + tax)

    parts: dict[Decimal, list[tuple[Decimal, Decimal, Decimal]]] = {}
    entries = []
    for index, (price, rate_text) in enumerate(items):
        rate = D(rate_text)
        net, tax, gross = split(price, rate)
        parts.setdefault(rate, []).append((net, tax, gross))
        entries.append(
            {
                "id": f"{order_id}-{index}",
                "amount": 1,
                "product": {"id": f"p{index}", "sku": f"SKU-{index}", "name": f"Article {index}"},
                "calculatedUnitPrice": _price(net, tax, gross, rate),
                "calculatedPrice": {"price": _price(net, tax, gross), "finalPrice": _price(net, tax, gross)},
            }
        )
    calculated: dict[str, Any] = {}
    if shipping:
        rate = D(shipping[1])
        net, tax, gross = split(shipping[0], rate)
        parts.setdefault(rate, []).append((net, tax, gross))
        calculated["totalShipping"] = _price(net, tax, gross, rate)
    aggregate = []
    for rate, at_rate in sorted(parts.items(), reverse=True):
        net = sum((n for n, _, _ in at_rate), D(0))
        gross = sum((g for _, _, g in at_rate), D(0))
        if per_line:
            tax = sum((t for _, t, _ in at_rate), D(0))
        else:
            tax = tax_of(gross if gross_pricing else net, rate)
        tax = D(stated_tax[str(rate)]) if stated_tax and str(rate) in stated_tax else tax
        net, gross = (gross - tax, gross) if gross_pricing else (net, net + tax)
        aggregate.append((rate, net, tax, gross))
    net = sum((a[1] for a in aggregate), D(0))
    tax = sum((a[2] for a in aggregate), D(0))
    gross = sum((a[3] for a in aggregate), D(0))
    calculated["finalPrice"] = {
        **_price(net, tax, gross),
        "taxAggregate": {"lines": [_price(n, t, g, r) for r, n, t, g in aggregate]},
    }
    return {
        "id": order_id,
        "status": "CONFIRMED",
        "created": "2026-01-05T08:12:00.000Z",
        "siteCode": "main",
        "currency": currency,
        "customer": {"id": "c1", "email": "kim@example.com", "firstName": "Kim", "lastName": "Lee"},
        "billingAddress": {"contactName": "Kim Lee", "street": "Hauptstraße", "streetNumber": "1",
                           "zipCode": "10115", "city": "Berlin", "country": "DE"},
        "entries": entries,
        "calculatedPrice": calculated,
        "payments": [{"method": "card", "provider": "payment-gateway", "status": "AUTHORIZATION_SUCCESS",
                      "transactionId": f"txn-{order_id}", "currency": currency,
                      "authorizedAmount": float(D(authorized) if authorized else gross)}],
    }  # fmt: skip


def invoice_order(tenant, document: dict[str, Any]) -> JobOrder:
    stored_order_upsert(tenant=tenant, order_id=document["id"], document=document)
    job = drive(job_create_manual(tenant=tenant, order_ids=[document["id"]]))
    return JobOrder.objects.select_related("invoice").get(job=job, order_id=document["id"])


def charged(order_id: str) -> list[Decimal]:
    """What the gateway captured for the order (successful captures only)."""
    return list(
        GatewayCapture.objects.filter(transaction__transaction_id=f"txn-{order_id}", successful=True)
        .order_by("created_at")
        .values_list("amount", flat=True)
    )


def totals(invoice: Invoice) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    return invoice.net_total, invoice.tax_total, invoice.gross_total


def tax_lines(invoice: Invoice) -> dict[Decimal, Decimal]:
    return {line.rate.normalize(): line.tax for line in invoice.tax_lines.all()}


# --- the case of the issue: 3 x 10.02 net at 19 % ---------------------------------------------------
def test_order_rounding_vat_per_line_is_invoiced_and_captured_at_its_total(tenant):
    row = invoice_order(tenant, sales_order("PL-1", [("10.02", "19")] * 3, per_line=True))

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("30.06"), D("5.70"), D("35.76"))
    assert tax_lines(row.invoice) == {D("19"): D("5.70")}
    assert charged("PL-1") == [D("35.76")]
    assert "Payment of 35.76 EUR captured" in row.message


def test_order_rounding_vat_per_rate_is_invoiced_and_captured_at_its_total(tenant):
    row = invoice_order(tenant, sales_order("PR-1", [("10.02", "19")] * 3, per_line=False))

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("30.06"), D("5.71"), D("35.77"))
    assert charged("PR-1") == [D("35.77")]


def test_order_rounding_per_line_above_per_rate_is_not_invoiced_a_cent_short(tenant):
    # 3 x 10.03: 1.91 VAT a line = 5.73; per rate it would be 5.72 and the invoice 35.81.
    row = invoice_order(tenant, sales_order("PL-2", [("10.03", "19")] * 3, per_line=True))

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("30.09"), D("5.73"), D("35.82"))
    assert charged("PL-2") == [D("35.82")]


def test_order_rounding_gross_prices_per_line_keep_the_orders_net_and_vat(tenant):
    tenant.prices_include_tax = True
    tenant.save(update_fields=["prices_include_tax"])
    document = sales_order("B2C-1", [("11.92", "19")] * 3, per_line=True, gross_pricing=True)

    row = invoice_order(tenant, document)

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("30.06"), D("5.70"), D("35.76"))  # per rate: 30.05 + 5.71
    assert [line.net for line in row.invoice.lines.order_by("position")] == [D("10.02")] * 3
    assert charged("B2C-1") == [D("35.76")]


def test_order_rounding_mixed_rates_with_shipping_per_line(tenant):
    document = sales_order(
        "MIX-1", [("10.02", "19")] * 3 + [("10.07", "7")] * 3, per_line=True, shipping=("4.95", "19")
    )

    row = invoice_order(tenant, document)

    assert row.status == "SUCCESS", row.message
    # per rate: 6.65 and 2.11, total 73.98
    assert tax_lines(row.invoice) == {D("19"): D("6.64"), D("7"): D("2.10")}
    assert totals(row.invoice) == (D("65.22"), D("8.74"), D("73.96"))
    assert charged("MIX-1") == [D("73.96")]


def test_order_rounding_three_decimal_currency_per_line(tenant):
    # EN 16931 allows two decimals on amounts (BR-DEC-*): fils amounts cannot be an e-invoice the
    # rules accept, so this tenant does not validate e-invoices (tests/invoicing/test_einvoice_pipeline.py)
    tenant.einvoice_validation = False
    tenant.save(update_fields=["einvoice_validation"])
    rate_kept(tenant, "KWD", "2.95")
    document = sales_order("KWD-1", [("10.003", "19")] * 3, per_line=True, currency="KWD")

    row = invoice_order(tenant, document)

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("30.009"), D("5.703"), D("35.712"))  # per rate: 5.702
    assert charged("KWD-1") == [D("35.712")]
    assert "Payment of 35.712 KWD captured" in row.message


def test_order_rounding_zero_decimal_currency_per_rate(tenant):
    rate_kept(tenant, "JPY", "0.0061")
    document = sales_order("JPY-1", [("1005", "10")] * 3, per_line=False, currency="JPY")

    row = invoice_order(tenant, document)

    assert row.status == "SUCCESS", row.message
    assert totals(row.invoice) == (D("3015"), D("302"), D("3317"))
    assert charged("JPY-1") == [D("3317")]
    assert "Payment of 3317 JPY captured" in row.message


# --- never more than authorised; an order that contradicts itself ------------------------------------
def test_capture_above_the_authorisation_fails_before_the_gateway(tenant):
    document = sales_order("AUTH-1", [("10.02", "19")] * 3, per_line=True, authorized="30.00")

    row = invoice_order(tenant, document)

    assert row.status == "FAILURE"
    assert row.message == (
        "The invoice total 35.76 EUR exceeds the authorised amount 30.00 EUR of payment txn-AUTH-1; "
        "nothing was captured and no invoice was issued."
    )
    assert not GatewayCapture.objects.exists()  # no capture attempt reached the gateway
    assert not PaymentCapture.objects.filter(order_id="AUTH-1").exists()
    assert factories.invoice_series(tenant).counter is None
    assert row.invoice.status == Invoice.Status.DRAFT


def test_capture_zero_decimal_per_line_vat_rejected_by_en16931_never_exceeds_the_authorisation(tenant):
    # 3 x 1004 JPY at 10 %: 100 VAT a line = 300, total 3312 authorised. EN 16931 BR-CO-17 wants
    # the VAT within less than 1 JPY of 301.20, so the invoice says 301 and 3313: one yen more
    # than authorised, which is not captured.
    rate_kept(tenant, "JPY", "0.0061")
    document = sales_order("JPY-2", [("1004", "10")] * 3, per_line=True, currency="JPY")

    row = invoice_order(tenant, document)

    assert row.status == "FAILURE"
    assert "The invoice total 3313 JPY exceeds the authorised amount 3312 JPY" in row.message
    assert not GatewayCapture.objects.exists()
    assert factories.invoice_series(tenant).counter is None


def test_order_that_contradicts_itself_fails_with_both_figures_before_capture(tenant):
    document = sales_order("BAD-1", [("10.02", "19")] * 3, per_line=True, stated_tax={"19": "6.50"})

    row = invoice_order(tenant, document)

    assert row.status == "FAILURE"
    assert row.step == "recalculate"
    assert (
        "tax at 19% 5.71 EUR recalculated (5.70 EUR rounding VAT per line), order says 6.50 EUR"
        in row.message
    )
    assert "gross total 35.77 EUR recalculated (35.76 EUR rounding VAT per line), order says 36.56 EUR" in (
        row.message
    )
    assert not PaymentCapture.objects.filter(order_id="BAD-1").exists()
    assert not GatewayCapture.objects.exists()
    assert factories.invoice_series(tenant).counter is None
    assert row.invoice.status == Invoice.Status.DRAFT and not row.invoice.number


def test_demo_card_order_still_captures_its_total(tenant):
    factories.orders_store(tenant, factories.CARD_ORDER)
    job = drive(job_create_manual(tenant=tenant, order_ids=[factories.CARD_ORDER]))
    row = JobOrder.objects.select_related("invoice").get(job=job)
    assert row.status == "SUCCESS", row.message
    assert row.invoice.gross_total == D("179.88")
