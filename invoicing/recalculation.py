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

VAT categories (invoicing.vat): every row has one (EN 16931 BT-151), and the breakdown has one
line per rate AND category (BG-23: a 0 % rate can be K for goods and Z for something else).
The order's own tax figures are per rate, so the comparison with the order sums the categories
of a rate.

What the invoice states besides the sums (Art. 226 VAT Directive; see vat.py for the VAT notes):
- the buyer: the order's legal entity (legal name, VAT ID, country), else the customer's
  company; the billing address is addressed to that company (Art. 226 (5)), never twice;
- the supply date (Art. 226 (7)): the delivery window's date as the order has it, or the
  delivery time's date in the SELLER's time zone (as the order date), so an order delivered
  at 23:30 UTC on 31 March in Berlin says 1 April;
- paid, or the amount due and the due date (the issue date + the tenant's payment days);
- prices as the customer saw them: gross-priced (B2C) documents show unit prices and amounts
  incl. VAT. On every row quantity x unit price = amount as printed: a unit price keeps the
  decimals it needs for that (7 x 4.196 = 29.37, not 7 x 4.20; 33 x 0.042 = 1.39);
- for the EN 16931 e-invoice (invoicing.einvoice): the payment means (BT-81), the buyer
  reference (BT-10, the legal entity's Leitweg-ID or PO reference), the buyer's electronic
  address (BT-49: the legal entity's Peppol id, else the customer's email with scheme EM) and
  the format the buyer asks for (XRechnung) - see `_einvoice_terms`;
- in a currency other than the seller's: the VAT total in the seller's currency, with the
  rate used and its date (Art. 230). Art. 91(2) takes the rate "at the time VAT becomes
  chargeable", which is the supply (Art. 63), so the rate of the supply date, else of the day
  of the recalculation (the invoice date, as the supply date is then the invoice date). No
  rate, no invoice: the order fails before any capture.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.errors import PermanentError
from core.money import currency_exponent, minor_unit, round_money
from integrations.buyers import split_peppol_id
from integrations.ports import Address, ExchangeRates, LegalEntity, Order, OrderLine, Seller
from invoicing.documents import ForeignCurrencyVat, InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.i18n import Formats, base_language, language_override, normalize_language, resolve_language
from invoicing.vat import (
    Parties,
    VatTreatmentError,
    VatTreatments,
    country_code,
    normalize_vat_id,
    treatment,
    treatment_problems,
    vat_id_problem,
)
from tenants.models import DEFAULT_PAYMENT_TERMS

ZERO = Decimal(0)
PER_LINE = "per line"
PER_RATE = "per rate"
DEFAULT_PAYMENT_DAYS = 14
CASH_METHODS = frozenset({"cash", "cash_on_delivery", "cod"})
# The mapper's names for rows the order does not name (translated here, in the document's language)
_SHIPPING, _PAYMENT_FEE = "Shipping", "Payment fee"


class ReconciliationError(PermanentError):
    pass


class InvoiceContentError(PermanentError):
    """The invoice would lack something the law requires (a VAT ID, a VAT note, a rate)."""


@dataclasses.dataclass(frozen=True)
class _Unit:
    """An amount the tax is rounded on when rounding per line: an order line or a charge."""

    rate: Decimal
    category: str
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


@dataclasses.dataclass(frozen=True)
class _Rows:
    rows: list[InvoiceRow]
    grosses: list[Decimal]  # each row's gross, rounded
    exact_units: list[tuple[Decimal, Decimal]]  # each row's (unit net, unit gross) as the order states
    units: list[_Unit]
    references: dict[tuple[Decimal, str], set[str]]  # the tenant's note references per breakdown key
    why: dict[str, str]  # category -> how the first row of it was derived (for error messages)


def _rate_key(rate: Decimal) -> Decimal:
    return rate.normalize() if rate else ZERO


def _key(row: InvoiceRow) -> tuple[Decimal, str]:
    return row.tax_rate, row.vat_category


# --- names in the document's language ----------------------------------------------------------------
def _line_name(line: OrderLine, number: int, languages: tuple[str, ...]) -> str:
    """The product's name in the first of `languages` the order has it in, else its default name."""
    names: dict[str, str] = {}
    for language, name in line.names:
        if name.strip():
            names.setdefault(normalize_language(language), name)
            names.setdefault(base_language(language), name)
    for language in languages:
        if names.get(language):
            return names[language]
    return line.description or line.sku or _("Item %(number)s") % {"number": number}


def _charge_name(kind: str, description: str) -> str:
    if kind == "shipping" and description in ("", _SHIPPING):
        return _("Shipping")
    if kind == "fee" and description in ("", _PAYMENT_FEE):
        return _("Payment fee")
    return description


# --- rows ---------------------------------------------------------------------------------------------
def _category(
    what: str, tax_code: str, rate: Decimal, parties: Parties, treatments: VatTreatments, why: dict[str, str]
) -> tuple[str, str]:
    """(category, the tenant's reference) of one row; InvoiceContentError naming the row."""
    try:
        found = treatment(tax_code=tax_code, rate=rate, parties=parties, treatments=treatments)
    except VatTreatmentError as exc:
        raise InvoiceContentError(f"The VAT treatment of {what} cannot be determined: {exc}.") from exc
    why.setdefault(found.category, found.why)
    return found.category, found.reference


def _rows(order: Order, parties: Parties, treatments: VatTreatments, languages: tuple[str, ...]) -> _Rows:
    """Invoice rows (rounded, named in the document's language) with their VAT categories."""
    cur = order.currency
    out = _Rows([], [], [], [], defaultdict(set), {})
    # (rate, category) -> [net, gross] of the line discounts and line fees
    discounts: dict[tuple[Decimal, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    fees: dict[tuple[Decimal, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])

    def add(row: InvoiceRow, gross: Decimal, exact: tuple[Decimal, Decimal], reference: str) -> None:
        out.rows.append(row)
        out.grosses.append(gross)
        out.exact_units.append(exact)
        if reference:
            out.references[_key(row)].add(reference)

    for number, line in enumerate(order.lines, start=1):
        rate = _rate_key(line.tax_rate)
        name = _line_name(line, number, languages)
        category, reference = _category(
            f'row {number} "{name}"', line.tax_code, rate, parties, treatments, out.why
        )
        row = InvoiceRow(
            kind="item",
            description=name,
            sku=line.sku,
            quantity=line.quantity,
            unit_net=round_money(line.unit_net, cur),
            tax_rate=rate,
            net=round_money(line.net, cur),
            vat_category=category,
        )
        add(row, round_money(line.gross, cur), (line.unit_net, line.unit_gross), reference)
        # Per line, the tax is on the line's final price (after its discounts, with its fees),
        # as the order states it per entry.
        out.units.append(
            _Unit(
                rate,
                category,
                round_money(line.net - line.discount_net + line.fee_net, cur),
                round_money(line.gross - line.discount_gross + line.fee_gross, cur),
            )
        )
        if line.discount_net or line.discount_gross:
            discounts[(rate, category)][0] += line.discount_net
            discounts[(rate, category)][1] += line.discount_gross
        if line.fee_net or line.fee_gross:
            fees[(rate, category)][0] += line.fee_net
            fees[(rate, category)][1] += line.fee_gross
    for charge in order.charges:
        rate = _rate_key(charge.tax_rate)
        name = _charge_name(charge.kind, charge.description)
        category, reference = _category(
            f'the row "{name}"', charge.tax_code, rate, parties, treatments, out.why
        )
        net, gross = round_money(charge.net, cur), round_money(charge.gross, cur)
        row = InvoiceRow(
            kind=charge.kind,
            description=name,
            quantity=Decimal(1),
            unit_net=net,
            tax_rate=rate,
            net=net,
            vat_category=category,
        )
        add(row, gross, (net, gross), reference)
        out.units.append(_Unit(rate, category, net, gross))
    for (rate, category), (net, gross) in sorted(fees.items()):
        rounded, rounded_gross = round_money(net, cur), round_money(gross, cur)
        row = InvoiceRow(
            kind="fee",
            description=_("Item fees"),
            quantity=Decimal(1),
            unit_net=rounded,
            tax_rate=rate,
            net=rounded,
            vat_category=category,
        )
        add(row, rounded_gross, (rounded, rounded_gross), "")
    several = len(discounts) > 1
    for (rate, category), (net, gross) in sorted(discounts.items()):
        rounded, rounded_gross = -round_money(net, cur), -round_money(gross, cur)
        description = (
            _("Discount (items at %(rate)s VAT)") % {"rate": Formats(languages[0]).percent(rate)}
            if several
            else _("Discount")
        )
        row = InvoiceRow(
            kind="discount",
            description=description,
            quantity=Decimal(1),
            unit_net=rounded,
            tax_rate=rate,
            net=rounded,
            vat_category=category,
        )
        add(row, rounded_gross, (rounded, rounded_gross), "")
    return out


def _tax_of_gross(gross: Decimal, rate: Decimal, currency: str) -> Decimal:
    return round_money(gross * rate / (100 + rate), currency)


def _breakdown(rows: _Rows, currency: str, *, gross_pricing: bool, mode: str) -> _Calculation:
    """One breakdown line per rate and category (EN 16931 BG-23), highest rate first."""
    out = []
    keys = sorted({_key(row) for row in rows.rows}, key=lambda k: (-k[0], k[1]))
    for rate, category in keys:
        at_key = [u for u in rows.units if (u.rate, u.category) == (rate, category)]
        in_key = [i for i, row in enumerate(rows.rows) if _key(row) == (rate, category)]
        if gross_pricing:
            gross = sum((rows.grosses[i] for i in in_key), ZERO)
            if mode == PER_LINE:
                tax = sum((_tax_of_gross(u.gross, rate, currency) for u in at_key), ZERO)
            else:
                tax = _tax_of_gross(gross, rate, currency)
            net = gross - tax
        else:
            net = sum((rows.rows[i].net for i in in_key), ZERO)
            if mode == PER_LINE:
                tax = sum((round_money(u.net * rate / 100, currency) for u in at_key), ZERO)
            else:
                tax = round_money(net * rate / 100, currency)
            gross = net + tax
        reference = "; ".join(sorted(rows.references.get((rate, category), ())))
        out.append(
            TaxBreakdownLine(rate=rate, net=net, tax=tax, gross=gross, category=category, reference=reference)
        )
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
    rows: _Rows, breakdown: tuple[TaxBreakdownLine, ...], currency: str
) -> list[InvoiceRow]:
    """Row nets out of the row grosses, adding up to each breakdown line's taxable amount (BR-S-08)."""
    out = list(rows.rows)
    for line in breakdown:
        positions = [i for i, row in enumerate(rows.rows) if _key(row) == (line.rate, line.category)]
        nets = {i: rows.grosses[i] - _tax_of_gross(rows.grosses[i], line.rate, currency) for i in positions}
        # Rounding each row leaves at most half a minor unit per row: the largest row absorbs it.
        rest = line.net - sum(nets.values(), ZERO)
        if rest and positions:
            largest = max(positions, key=lambda i: abs(nets[i]))
            nets[largest] += rest
        for i in positions:
            out[i] = dataclasses.replace(rows.rows[i], net=nets[i])
    return out


def unit_price(amount: Decimal, quantity: Decimal, exact: Decimal, currency: str) -> Decimal:
    """The unit price to print so that quantity x unit price, rounded, is `amount` as printed.

    The order's own unit price rounded to the currency when that works; else with as many more
    decimals as it takes (7 x 4.196 = 29.372 -> 29.37, where 7 x 4.20 = 29.40), up to the
    order's exact price; else (an order whose unit price does not give its amount) the amount
    divided by the quantity, to the decimals that multiply back to it.
    """
    if quantity == 1:
        return amount
    places = currency_exponent(currency)
    exact_places = max(places, -int(exact.as_tuple().exponent)) if exact.is_finite() else places
    candidates = [
        exact.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP) for d in range(places, exact_places + 1)
    ]
    if quantity:
        candidates += [
            (amount / quantity).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
            for d in range(places, places + 10)
        ]
    for candidate in candidates:
        if round_money(candidate * quantity, currency) == amount:
            return candidate
    return exact


def _printed_units(rows: list[InvoiceRow], source: _Rows, currency: str, *, gross: bool) -> list[InvoiceRow]:
    """Unit prices with the decimals each row needs; gross documents also get unit_gross/gross."""
    out = []
    for row, row_gross, (exact_net, exact_gross) in zip(
        rows, source.grosses, source.exact_units, strict=True
    ):
        changes: dict[str, object] = {"unit_net": unit_price(row.net, row.quantity, exact_net, currency)}
        if gross:
            changes["gross"] = row_gross
            changes["unit_gross"] = unit_price(row_gross, row.quantity, exact_gross, currency)
        out.append(dataclasses.replace(row, **changes))  # type: ignore[arg-type]
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
        # the order states tax per rate; ours is per rate and category
        ours: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
        for line in calculation.breakdown:
            ours[line.rate] += line.tax
        for rate in sorted(set(stated) | set(ours), reverse=True):
            figures.append(
                (f"tax at {rate}%", ours.get(rate, ZERO), round_money(stated.get(rate, ZERO), cur))
            )
    return figures


def _distance(order: Order, calculation: _Calculation) -> tuple[bool, Decimal]:
    """How far a calculation is from the order: the gross (what is charged) first, then the rest."""
    figures = _figures(order, calculation)
    gross_differs = any(ours != theirs for label, ours, theirs in figures if label == "gross total")
    return gross_differs, sum((abs(ours - theirs) for _label, ours, theirs in figures), ZERO)


def _reconcile(order: Order, calculations: list[_Calculation], rows: list[InvoiceRow]) -> _Calculation:
    """The calculation that follows the order, or ReconciliationError naming both figures."""
    cur = order.currency
    admissible = [c for c in calculations if not _br_co_17_rejects(c)] or calculations
    chosen = min(admissible, key=lambda c: _distance(order, c))  # min keeps the first (per rate) on ties
    tolerance = minor_unit(cur) * max(1, len(rows))
    others = [
        (other, {label: ours for label, ours, _theirs in _figures(order, other)})
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


# --- payment -------------------------------------------------------------------------------------------
def paid_in_cash(order: Order) -> bool:
    return any(p.method.lower() in CASH_METHODS for p in order.payments if p.method)


def payment_note(
    order: Order, seller: Seller, *, captured: bool, payment_days: int = DEFAULT_PAYMENT_DAYS
) -> str:
    """How the invoice is paid, as printed under the totals, in the active language.

    The tenant's own payment terms are printed as written; the default ones are the translated
    sentence with the tenant's payment days.
    """
    if captured:
        return _("Paid by card. The amount has been charged to your payment method; nothing left to pay.")
    if paid_in_cash(order):
        return _("Paid in cash on delivery.")
    bank = ", ".join(
        part
        for part in (f"IBAN {seller.iban}" if seller.iban else "", f"BIC {seller.bic}" if seller.bic else "")
        if part
    )
    terms = seller.payment_terms.strip()
    if not terms or terms == DEFAULT_PAYMENT_TERMS:
        terms = ngettext(
            "Payable within %(days)s day of the invoice date.",
            "Payable within %(days)s days of the invoice date.",
            payment_days,
        ) % {"days": payment_days}
    reference = (
        _("Please quote the invoice number as the payment reference (%(bank)s).") % {"bank": bank}
        if bank
        else _("Please quote the invoice number as the payment reference.")
    )
    return f"{terms} {reference}"


def payment_means(order: Order, *, paid_by_capture: bool) -> str:
    """How the invoice is paid, for EN 16931 BT-81 (UNCL4461): "card" (48, the card payment
    captured), "cash" (10, cash on delivery) or "transfer" (58, SEPA credit transfer of the amount
    due to the seller's IBAN). The same decision as the printed payment note."""
    if paid_by_capture:
        return "card"
    if paid_in_cash(order):
        return "cash"
    return "transfer"


@dataclasses.dataclass(frozen=True)
class _EinvoiceTerms:
    buyer_reference: str
    buyer_electronic_address: str
    buyer_electronic_scheme: str
    einvoice_format: str


def _einvoice_terms(order: Order, entity: LegalEntity | None) -> _EinvoiceTerms:
    """The buyer's e-invoice routing (README "E-invoices"), from the order's legal entity.

    - BT-10 buyer reference: the legal entity's `mixins.eInvoicing.buyerReference` (a Leitweg-ID
      or PO reference); "" lets the builder use the order id.
    - BT-49 buyer electronic address and its scheme BT-49-1: the legal entity's Peppol participant
      id split into EAS scheme and id ("0088:4035811991021" -> "4035811991021", "0088"), else the
      customer's email with scheme "EM"; "" when the order has neither.
    - the format the buyer wants besides the Factur-X PDF ("xrechnung", or "").
    """
    if entity is not None and entity.peppol_id:
        scheme, address = split_peppol_id(entity.peppol_id)
    elif order.customer.email.strip():
        scheme, address = "EM", order.customer.email.strip()
    else:
        scheme, address = "", ""
    return _EinvoiceTerms(
        buyer_reference=entity.buyer_reference if entity is not None else "",
        buyer_electronic_address=address,
        buyer_electronic_scheme=scheme,
        einvoice_format=entity.einvoice_format if entity is not None else "",
    )


# --- dates, buyer, currency ----------------------------------------------------------------------------
def supply_date(order: Order, time_zone: str) -> dt.date | None:
    """The date of supply (Art. 226 (7)): the delivery window's date, else the delivery time's
    date in the seller's time zone (as the order date is), else what the order says."""
    if order.delivery_window_date is not None:
        return order.delivery_window_date
    if order.delivery_time is not None:
        moment = order.delivery_time
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(ZoneInfo(time_zone)).date()
    return order.delivery_date


def _buyer(order: Order, entity: LegalEntity | None) -> tuple[str, str, str]:
    """(legal name, VAT ID as given, country) of the buyer: the legal entity, else the order's company."""
    billing = order.billing_address
    name = (entity.legal_name if entity else "").strip() or order.customer.company.strip()
    country = country_code((entity.country if entity else "") or billing.country)
    return name, (entity.vat_id if entity else "").strip(), country


def _addressed_to(billing: Address, company: str) -> Address:
    """The billing address addressed to the buyer company (Art. 226 (5)), each name once."""
    if not company:
        return billing
    contact = billing.contact_name
    if contact.strip().casefold() == company.casefold():
        contact = ""  # the company given as the contact too: printed once
    return dataclasses.replace(billing, company_name=company, contact_name=contact)


def _foreign_currency_vat(
    *, order: Order, seller: Seller, tax_total: Decimal, on: dt.date, rates: ExchangeRates, source: str
) -> ForeignCurrencyVat | None:
    """The VAT total in the seller's currency (Art. 230), at the rate of `on` (Art. 91(2))."""
    if not seller.currency or order.currency.upper() == seller.currency.upper() or not tax_total:
        return None  # same currency, or no VAT to state (K, G, AE, E, Z only)
    rate = rates.get_rate(source=order.currency, target=seller.currency, on=on)
    if rate is None or not rate.rate or rate.rate < 0:
        raise InvoiceContentError(
            f"No exchange rate from {order.currency} to {seller.currency} is known for {on.isoformat()}: "
            f"an invoice in {order.currency} must state its VAT in {seller.currency} too (Art. 230 VAT "
            "Directive), so none is issued and nothing is captured. Add the rate (Emporix currency "
            "service, or the console's exchange rates) and run the order again."
        )
    used = printable_rate(rate.rate)
    return ForeignCurrencyVat(
        currency=seller.currency,
        rate=used,
        rate_date=rate.as_of,
        tax_total=round_money(tax_total * used, seller.currency),
        source=source,
    )


def printable_rate(rate: Decimal) -> Decimal:
    """The rate to six significant digits when it has more (a rate derived as 1 / rate has 28).

    The VAT in the seller's currency is computed with the rate as printed, so a reader can
    check it: 1 USD = 0.917431 EUR, not 0.9174311926605504587155963303.
    """
    places = max(6, 5 - rate.adjusted())
    if -int(rate.as_tuple().exponent) > places:
        return rate.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return rate


# --- the document --------------------------------------------------------------------------------------
def recalculate(
    order: Order,
    seller: Seller,
    *,
    paid_by_capture: bool = False,
    buyer: LegalEntity | None = None,
    language: str = "",
    fallback_language: str = "",
    treatments: VatTreatments | None = None,
    payment_days: int = DEFAULT_PAYMENT_DAYS,
    rates: ExchangeRates | None = None,
    rates_source: str = "",
    today: dt.date | None = None,
) -> InvoiceDocument:
    """Build the invoice document of an order (without number and date).

    Raises ReconciliationError when the figures contradict the order, InvoiceContentError when
    the invoice would lack what the law requires (a valid buyer VAT ID, the VAT IDs a category
    needs, a treatment that agrees with the rate, an exchange rate).

    - `buyer`: the order's legal entity (None: the order's own data); `language`: the document's
      (invoicing.i18n.resolve_language; "" = the seller's); `fallback_language`: the product
      names' next choice (the tenant's language).
    - `rates`: where the rate of a foreign-currency invoice comes from. None leaves the
      statement out (previews and tests); the pipeline always passes its backend's.
    - `today`: the day of the recalculation in the seller's time zone (default: now).
    """
    if not order.lines:
        raise ReconciliationError("The order has no entries to invoice.")
    language = resolve_language(language, seller.language)
    languages = tuple(
        dict.fromkeys(
            code
            for code in (
                language,
                base_language(language),
                normalize_language(fallback_language or seller.language),
                base_language(fallback_language or seller.language),
            )
            if code
        )
    )
    tz = ZoneInfo(seller.time_zone)
    today = today or timezone.now().astimezone(tz).date()
    treatments = treatments or VatTreatments()

    buyer_name, given_vat_id, buyer_country = _buyer(order, buyer)
    problem = vat_id_problem(given_vat_id, buyer_country)
    if problem:
        raise InvoiceContentError(
            f"The buyer's VAT ID cannot be printed: {problem}. Correct it on the order's legal "
            "entity; nothing was captured and no invoice was issued."
        )
    buyer_vat_id = normalize_vat_id(given_vat_id, buyer_country)
    shipping_country = country_code(order.shipping_address.country) if order.shipping_address else ""
    parties = Parties(
        seller_country=seller.address.country,
        buyer_country=buyer_country,
        buyer_vat_id=buyer_vat_id,
        destination_country=shipping_country or buyer_country,
    )

    with language_override(language):
        rows = _rows(order, parties, treatments, languages)
        problems = treatment_problems(
            rows.why, buyer_vat_id=buyer_vat_id, seller_vat_id=seller.vat_id, buyer_country=buyer_country
        )
        if problems:
            raise InvoiceContentError(
                "The invoice would lack what the VAT Directive requires: " + "; ".join(problems) + "."
            )
        calculations = [
            _breakdown(rows, order.currency, gross_pricing=seller.prices_include_tax, mode=mode)
            for mode in (PER_RATE, PER_LINE)
        ]
        chosen = _reconcile(order, calculations, rows.rows)
        printed = (
            _gross_priced_rows(rows, chosen.breakdown, order.currency)
            if seller.prices_include_tax
            else rows.rows
        )
        printed = _printed_units(printed, rows, order.currency, gross=seller.prices_include_tax)
        paid = paid_by_capture or paid_in_cash(order)
        note = payment_note(order, seller, captured=paid_by_capture, payment_days=payment_days)

    supplied = supply_date(order, seller.time_zone)
    foreign = (
        _foreign_currency_vat(
            order=order,
            seller=seller,
            tax_total=chosen.tax,
            on=supplied or today,
            rates=rates,
            source=rates_source,
        )
        if rates is not None
        else None
    )
    routing = _einvoice_terms(order, buyer)
    return InvoiceDocument(
        number="",
        issue_date=None,
        order_id=order.order_id,
        order_date=order.created_at.astimezone(tz).date() if order.created_at else None,
        delivery_date=supplied,
        currency=order.currency,
        seller=seller,
        customer_id=order.customer.customer_id,
        customer_name=order.customer.name,
        customer_email=order.customer.email,
        billing_address=_addressed_to(order.billing_address, buyer_name),
        shipping_address=order.shipping_address,
        rows=tuple(printed),
        tax_breakdown=chosen.breakdown,
        net_total=chosen.net,
        tax_total=chosen.tax,
        gross_total=chosen.gross,
        payment_note=note,
        language=language,
        buyer_legal_name=buyer_name,
        buyer_vat_id=buyer_vat_id,
        buyer_country=buyer_country,
        due_date=None if paid else today + dt.timedelta(days=payment_days),
        paid=paid,
        amount_due=round_money(0, order.currency) if paid else chosen.gross,
        prices_gross=seller.prices_include_tax,
        foreign_currency_vat=foreign,
        payment_days=None if paid else payment_days,
        payment_means=payment_means(order, paid_by_capture=paid_by_capture),
        buyer_reference=routing.buyer_reference,
        buyer_electronic_address=routing.buyer_electronic_address,
        buyer_electronic_scheme=routing.buyer_electronic_scheme,
        einvoice_format=routing.einvoice_format,
    )
