"""Recalculation: what was ordered at what cost, as the invoice will show it.

Rows are rounded half-up to the currency's minor unit as printed. Per tax rate the invoice has
a taxable amount, a tax amount and a gross amount:

- net pricing (B2B):   base = sum of net rows at the rate, gross = base + tax
- gross pricing (B2C): gross = sum of gross rows at the rate, base = gross - tax (the customer
                       pays exactly the gross prices they saw); each row's net is its gross less
                       its tax, and any cent left over goes to the largest row, so the rows at a
                       rate add up to its taxable amount (EN 16931 BR-S-08 checks that exactly)

The tax at a rate can be rounded in two ways, and shops use both:

- per rate: tax = round(base x rate) (or round(gross x rate / (100 + rate))), the formula of
  EN 16931 BR-CO-17;
- per line: tax = the sum of each order line's (and each charge's) own rounded tax, as Emporix's
  tax aggregate does. Three lines of 10.02 net at 19 % have 5.70 VAT this way and 5.71 per rate.

Decision: the invoice follows the order. Both roundings are computed and compared with the
order's own figures (net, tax and gross total; tax per rate of its tax aggregate, rounded to the
currency). The one that matches is used. If neither matches exactly (unrounded order figures),
the closer one is used: first the one whose gross equals the order's gross (what is charged),
then the smaller sum of differences; on a tie, and when both match, per rate.
Why: the invoice total is what the payment is captured for, and the order's total is what was
authorised. Recalculating the "other" rounding (35.77 for an order of 35.76) made a correct order
fail at capture (more than authorised) or invoiced a cent less than the customer paid.

Both roundings are valid on an e-invoice only within BR-CO-17's tolerance: the schematron
accepts a category tax amount less than one currency unit (1.00 EUR, 1 JPY) away from the
taxable amount x rate rounded to two decimals (BR-S-09 alike; the UBL rule is strict, CII
allows exactly one). Per-line rounding is used only while every rate stays inside it. In EUR
that holds for any realistic order; in a currency without decimals (JPY) a per-line tax that
differs from the per-rate tax is at least 1 JPY off, so such an order is invoiced per rate. The
tax breakdown sums to the invoice tax total by construction (BR-CO-14).

The result must reconcile with the order: order totals usually carry unrounded values (Emporix
keeps three decimals), so up to one minor unit per invoice row is rounding; anything larger
means the order contradicts itself and fails before any capture, naming the order's figure and
the recalculated one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from core.errors import PermanentError
from core.money import minor_unit, round_money
from integrations.ports import Order, Seller
from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine

ZERO = Decimal(0)
PER_LINE = "per line"
PER_RATE = "per rate"


class ReconciliationError(PermanentError):
    pass


@dataclasses.dataclass(frozen=True)
class _Unit:
    """An amount the tax is rounded on when rounding per line: an order line or a charge."""

    rate: Decimal
    net: Decimal
    gross: Decimal


@dataclasses.dataclass(frozen=True)
class _Calculation:
    mode: str  # PER_LINE or PER_RATE
    breakdown: tuple[TaxBreakdownLine, ...]

    @property
    def net(self) -> Decimal:
        return sum((t.net for t in self.breakdown), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((t.tax for t in self.breakdown), ZERO)

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax


def _rate_key(rate: Decimal) -> Decimal:
    return rate.normalize() if rate else ZERO


def _rows(order: Order) -> tuple[list[InvoiceRow], list[Decimal], list[_Unit]]:
    """Invoice rows (rounded), each row's rounded gross, and the order's lines as tax units."""
    cur = order.currency
    rows: list[InvoiceRow] = []
    grosses: list[Decimal] = []
    units: list[_Unit] = []
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
        grosses.append(round_money(line.gross, cur))
        # Per line, the tax is on the line's final price (after its discounts, with its fees),
        # as the order states it per entry.
        units.append(
            _Unit(
                rate,
                round_money(line.net - line.discount_net + line.fee_net, cur),
                round_money(line.gross - line.discount_gross + line.fee_gross, cur),
            )
        )
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
        grosses.append(round_money(charge.gross, cur))
        units.append(_Unit(rate, net, round_money(charge.gross, cur)))
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
        grosses.append(round_money(gross, cur))
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
        grosses.append(-round_money(gross, cur))
    return rows, grosses, units


def _tax_of_gross(gross: Decimal, rate: Decimal, currency: str) -> Decimal:
    return round_money(gross * rate / (100 + rate), currency)


def _breakdown(
    rows: list[InvoiceRow],
    grosses: list[Decimal],
    units: list[_Unit],
    currency: str,
    *,
    gross_pricing: bool,
    mode: str,
) -> _Calculation:
    out = []
    for rate in sorted({row.tax_rate for row in rows}, reverse=True):
        at_rate = [u for u in units if u.rate == rate]
        if gross_pricing:
            gross = sum((g for row, g in zip(rows, grosses, strict=True) if row.tax_rate == rate), ZERO)
            if mode == PER_LINE:
                tax = sum((_tax_of_gross(u.gross, rate, currency) for u in at_rate), ZERO)
            else:
                tax = _tax_of_gross(gross, rate, currency)
            net = gross - tax
        else:
            net = sum((row.net for row in rows if row.tax_rate == rate), ZERO)
            if mode == PER_LINE:
                tax = sum((round_money(u.net * rate / 100, currency) for u in at_rate), ZERO)
            else:
                tax = round_money(net * rate / 100, currency)
            gross = net + tax
        out.append(TaxBreakdownLine(rate=rate, net=net, tax=tax, gross=gross))
    return _Calculation(mode=mode, breakdown=tuple(out))


def _br_co_17_expected(line: TaxBreakdownLine) -> Decimal:
    """The tax amount BR-CO-17 expects: taxable amount x rate, rounded to two decimals."""
    return (abs(line.net) * line.rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _br_co_17_rejects(calculation: _Calculation) -> list[TaxBreakdownLine]:
    """The rates whose tax amount the EN 16931 schematron (BR-CO-17, BR-S-09) would reject.

    Its test is |tax| - 1 < expected < |tax| + 1, in currency units whatever the currency.
    """
    return [t for t in calculation.breakdown if abs(abs(t.tax) - _br_co_17_expected(t)) >= 1]


def _gross_priced_rows(
    rows: list[InvoiceRow], grosses: list[Decimal], breakdown: tuple[TaxBreakdownLine, ...], currency: str
) -> list[InvoiceRow]:
    """Row nets out of the row grosses, adding up to each rate's taxable amount (BR-S-08)."""
    out = list(rows)
    for line in breakdown:
        positions = [i for i, row in enumerate(rows) if row.tax_rate == line.rate]
        nets = {i: grosses[i] - _tax_of_gross(grosses[i], line.rate, currency) for i in positions}
        # Rounding each row leaves at most half a minor unit per row: the largest row absorbs it.
        rest = line.net - sum(nets.values(), ZERO)
        if rest and positions:
            largest = max(positions, key=lambda i: abs(nets[i]))
            nets[largest] += rest
        for i in positions:
            row = rows[i]
            unit_net = nets[i] if row.quantity == 1 else row.unit_net
            out[i] = dataclasses.replace(row, net=nets[i], unit_net=unit_net)
    return out


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{amount:.{max(0, -minor_unit(currency).as_tuple().exponent)}f} {currency}"  # type: ignore[operator]


def _figures(order: Order, calculation: _Calculation) -> list[tuple[str, Decimal, Decimal]]:
    """(what, recalculated, the order's figure rounded to the currency) for everything compared."""
    cur = order.currency
    figures = [
        ("net total", calculation.net, round_money(order.stated_net, cur)),
        ("tax total", calculation.tax, round_money(order.stated_tax, cur)),
        ("gross total", calculation.gross, round_money(order.stated_gross, cur)),
    ]
    if order.stated_tax_totals:
        stated: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
        for total in order.stated_tax_totals:
            stated[_rate_key(total.rate)] += total.tax
        ours = {t.rate: t.tax for t in calculation.breakdown}
        for rate in sorted(set(stated) | set(ours), reverse=True):
            figures.append(
                (f"tax at {rate}%", ours.get(rate, ZERO), round_money(stated.get(rate, ZERO), cur))
            )
    return figures


def _distance(order: Order, calculation: _Calculation) -> tuple[bool, Decimal]:
    """How far a calculation is from the order: the gross (what is charged) first, then the rest."""
    figures = _figures(order, calculation)
    gross_differs = any(ours != theirs for label, ours, theirs in figures if label == "gross total")
    return gross_differs, sum((abs(ours - theirs) for _, ours, theirs in figures), ZERO)


def _reconcile(order: Order, calculations: list[_Calculation], rows: list[InvoiceRow]) -> _Calculation:
    """The calculation that follows the order, or ReconciliationError naming both figures."""
    cur = order.currency
    admissible = [c for c in calculations if not _br_co_17_rejects(c)] or calculations
    chosen = min(admissible, key=lambda c: _distance(order, c))  # min keeps the first (per rate) on ties
    tolerance = minor_unit(cur) * max(1, len(rows))
    others = [
        (other, {label: ours for label, ours, _ in _figures(order, other)})
        for other in calculations
        if other is not chosen
    ]
    problems = []
    for label, ours, theirs in _figures(order, chosen):
        if abs(ours - theirs) > tolerance:
            # Both roundings are named when they differ, so the reader sees the order matches neither.
            problem = f"{label} {_fmt(ours, cur)} recalculated"
            for other, figures in others:
                if label in figures and figures[label] != ours:
                    problem += f" ({_fmt(figures[label], cur)} rounding VAT {other.mode})"
            problems.append(f"{problem}, order says {_fmt(theirs, cur)}")
    if problems:
        message = "Totals do not match the order: " + "; ".join(problems) + "."
        rejected = [t for c in calculations if c not in admissible for t in _br_co_17_rejects(c)]
        if rejected:
            message += (
                " VAT rounded per line is not used: EN 16931 BR-CO-17 allows less than one unit of "
                "the currency between the tax and taxable amount x rate, here "
                + ", ".join(f"{_fmt(t.tax, cur)} against {t.rate}% of {_fmt(t.net, cur)}" for t in rejected)
                + "."
            )
        raise ReconciliationError(message)
    return chosen


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
    rows, grosses, units = _rows(order)
    calculations = [
        _breakdown(rows, grosses, units, order.currency, gross_pricing=seller.prices_include_tax, mode=mode)
        for mode in (PER_RATE, PER_LINE)
    ]
    chosen = _reconcile(order, calculations, rows)
    if seller.prices_include_tax:
        rows = _gross_priced_rows(rows, grosses, chosen.breakdown, order.currency)
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
        tax_breakdown=chosen.breakdown,
        net_total=chosen.net,
        tax_total=chosen.tax,
        gross_total=chosen.gross,
        payment_note=payment_note(order, seller, captured=paid_by_capture),
        language=seller.language,
    )
