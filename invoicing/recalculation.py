"""Recalculation: what was ordered at what cost, as the invoice will show it.

Rows are rounded half-up to the currency's minor unit as printed. Tax is computed once per
rate on the rounded rows, the way an invoice shows it:

- net pricing (B2B):   base = sum of net rows at the rate, tax = base x rate, gross = base + tax
- gross pricing (B2C): gross = sum of gross rows at the rate, tax = gross x rate / (100 + rate),
                       base = gross - tax (the customer pays exactly the gross prices they saw)

The result must reconcile with the order's own totals (net, tax per rate, gross). Order totals
usually carry unrounded values (Emporix keeps three decimals), so a difference of up to one
minor unit per invoice row is rounding; anything larger fails the order before any capture,
with both figures in the message.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from integrations.ports import Order, PermanentError, Seller
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.money import minor_unit, round_money

ZERO = Decimal(0)


class ReconciliationError(PermanentError):
    pass


def _rate_key(rate: Decimal) -> Decimal:
    return rate.normalize() if rate else ZERO


def _rows(order: Order) -> tuple[list[InvoiceRow], list[tuple[Decimal, Decimal]]]:
    """Invoice rows (rounded) and, per row, (rate, rounded gross) for gross pricing."""
    cur = order.currency
    rows: list[InvoiceRow] = []
    grosses: list[tuple[Decimal, Decimal]] = []
    discounts: dict[Decimal, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    fees: dict[Decimal, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in order.lines:
        rate = _rate_key(line.tax_rate)
        rows.append(
            InvoiceRow(
                kind="item",
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                unit_net=round_money(line.unit_net, cur),
                tax_rate=rate,
                net=round_money(line.net, cur),
            )
        )
        grosses.append((rate, round_money(line.gross, cur)))
        if line.discount_net or line.discount_gross:
            discounts[rate][0] += line.discount_net
            discounts[rate][1] += line.discount_gross
        if line.fee_net or line.fee_gross:
            fees[rate][0] += line.fee_net
            fees[rate][1] += line.fee_gross
    for charge in order.charges:
        rate = _rate_key(charge.tax_rate)
        net = round_money(charge.net, cur)
        rows.append(
            InvoiceRow(
                kind=charge.kind,
                description=charge.description,
                quantity=Decimal(1),
                unit_net=net,
                tax_rate=rate,
                net=net,
            )
        )
        grosses.append((rate, round_money(charge.gross, cur)))
    for rate, (net, gross) in sorted(fees.items()):
        rounded = round_money(net, cur)
        rows.append(
            InvoiceRow(
                kind="fee",
                description="Item fees",
                quantity=Decimal(1),
                unit_net=rounded,
                tax_rate=rate,
                net=rounded,
            )
        )
        grosses.append((rate, round_money(gross, cur)))
    for rate, (net, gross) in sorted(discounts.items()):
        rounded = -round_money(net, cur)
        rows.append(
            InvoiceRow(
                kind="discount",
                description=f"Discount ({rate}% VAT items)" if len(discounts) > 1 else "Discount",
                quantity=Decimal(1),
                unit_net=rounded,
                tax_rate=rate,
                net=rounded,
            )
        )
        grosses.append((rate, -round_money(gross, cur)))
    return rows, grosses


def _breakdown(
    rows: list[InvoiceRow], grosses: list[tuple[Decimal, Decimal]], currency: str, *, gross_pricing: bool
) -> list[TaxBreakdownLine]:
    out = []
    for rate in sorted({row.tax_rate for row in rows}, reverse=True):
        if gross_pricing:
            gross = sum((g for r, g in grosses if r == rate), ZERO)
            tax = round_money(gross * rate / (100 + rate), currency)
            net = gross - tax
        else:
            net = sum((row.net for row in rows if row.tax_rate == rate), ZERO)
            tax = round_money(net * rate / 100, currency)
            gross = net + tax
        out.append(TaxBreakdownLine(rate=rate, net=net, tax=tax, gross=gross))
    return out


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{amount:.{max(0, -minor_unit(currency).as_tuple().exponent)}f} {currency}"  # type: ignore[operator]


def _reconcile(order: Order, breakdown: list[TaxBreakdownLine], rows: list[InvoiceRow]) -> None:
    cur = order.currency
    tolerance = minor_unit(cur) * max(1, len(rows))
    net = sum((t.net for t in breakdown), ZERO)
    tax = sum((t.tax for t in breakdown), ZERO)
    gross = net + tax
    problems = []
    for label, ours, theirs in (
        ("net total", net, order.stated_net),
        ("tax total", tax, order.stated_tax),
        ("gross total", gross, order.stated_gross),
    ):
        if abs(ours - theirs) > tolerance:
            problems.append(
                f"{label} {_fmt(ours, cur)} recalculated, order says {_fmt(round_money(theirs, cur), cur)}"
            )
    if order.stated_tax_totals:
        stated = {_rate_key(t.rate): t for t in order.stated_tax_totals}
        ours_by_rate = {t.rate: t for t in breakdown}
        for rate in sorted(set(stated) | set(ours_by_rate), reverse=True):
            ours_tax = ours_by_rate[rate].tax if rate in ours_by_rate else ZERO
            theirs_tax = stated[rate].tax if rate in stated else ZERO
            if abs(ours_tax - theirs_tax) > tolerance:
                problems.append(
                    f"tax at {rate}% {_fmt(ours_tax, cur)} recalculated, "
                    f"order says {_fmt(round_money(theirs_tax, cur), cur)}"
                )
    if problems:
        raise ReconciliationError("Totals do not match the order: " + "; ".join(problems) + ".")


def payment_note(order: Order, seller: Seller, *, captured: bool) -> str:
    """How the invoice is paid, as printed under the totals."""
    if captured:
        return "Paid by card. The amount has been charged to your payment method; nothing left to pay."
    method = next((p.method for p in order.payments if p.method), "")
    if method.lower() in {"cash", "cash_on_delivery", "cod"}:
        return "Paid in cash on delivery."
    bank = ", ".join(
        part
        for part in (f"IBAN {seller.iban}" if seller.iban else "", f"BIC {seller.bic}" if seller.bic else "")
        if part
    )
    terms = seller.payment_terms or "Payable within 14 days of the invoice date."
    reference = f" Please quote the invoice number as the payment reference{f' ({bank})' if bank else ''}."
    return terms + reference


def recalculate(order: Order, seller: Seller, *, paid_by_capture: bool = False) -> InvoiceDocument:
    """Build the invoice document of an order (without number and date) or raise ReconciliationError."""
    if not order.lines:
        raise ReconciliationError("The order has no entries to invoice.")
    rows, grosses = _rows(order)
    breakdown = _breakdown(rows, grosses, order.currency, gross_pricing=seller.prices_include_tax)
    _reconcile(order, breakdown, rows)
    net = sum((t.net for t in breakdown), ZERO)
    tax = sum((t.tax for t in breakdown), ZERO)
    return InvoiceDocument(
        number="",
        issue_date=None,
        order_id=order.order_id,
        order_date=order.created_at.astimezone(ZoneInfo(seller.time_zone)).date()
        if order.created_at
        else None,
        delivery_date=order.delivery_date,
        currency=order.currency,
        seller=seller,
        customer_id=order.customer.customer_id,
        customer_name=order.customer.name,
        customer_email=order.customer.email,
        billing_address=order.billing_address,
        shipping_address=order.shipping_address,
        rows=tuple(rows),
        tax_breakdown=tuple(breakdown),
        net_total=net,
        tax_total=tax,
        gross_total=net + tax,
        payment_note=payment_note(order, seller, captured=paid_by_capture),
        language=seller.language,
    )
