"""One mapper from an Emporix order-v2 `salesOrder` document to the pipeline's `Order`.

Both the local order store and the Emporix adapter use it, so an order means the same thing
whichever backend it comes from. Deprecated fields (`unitPrice`, `totalPrice`, `tax`, ...) are
ignored; the `calculated*` structures are the source of truth.

Where the document is invalid, `OrderDocumentError.errors` lists every problem with its field
path (`entries[2].amount`), so an API client can fix the document in one go.

The mapper is also the gate before money moves: everything that would make a later step fail
(a PDF that cannot be drawn, a row that does not fit its column, an email to two recipients) is
refused here, before any capture or invoice number. The bounds:

- every amount finite and at most 10^12 in the order's currency, and the order's amounts
  together too: the invoice columns are DECIMAL(18, 3), so even 5,000 rows of rounding on top
  of 10^12 fit (< 10^15);
- quantities positive, at most 10^9 and with at most 3 decimals (DECIMAL(14, 3));
- tax rates from 0 to 100 %;
- a line's quantity x unit price matches its price within rounding, and unit prices are not
  negative (discounts are modelled separately, from finalPrice);
- the currency an active ISO 4217 code with a minor unit;
- at most 5,000 entries, strings bounded, ids (also `legalEntityId`) at most 255 characters
  without control characters, no NUL characters anywhere; of a product's translations
  (`localizedName`) the first 50 languages are read, each name bounded like `name`;
- the customer email exactly one address.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from core.errors import PermanentError
from core.limits import json_problems
from core.money import NO_MINOR_UNIT, is_invoice_currency, minor_unit, to_decimal
from integrations.ports import Address, Charge, Customer, Order, OrderLine, Payment, TaxTotal

ZERO = Decimal(0)
HALF = Decimal("0.5")

MAX_AMOUNT = Decimal(10) ** 12
MAX_QUANTITY = Decimal(10) ** 9
QUANTITY_STEP = Decimal("0.001")  # InvoiceLine.quantity has 3 decimal places
MAX_TAX_RATE = Decimal(100)
MAX_LINES = 5000  # the PDF of 5,000 lines renders within the task time limit
MAX_PAYMENTS = 50
MAX_FEES = 100
MAX_ID_LENGTH = 255
MAX_TRANSLATIONS = 50  # languages read from a localized map; the rest are ignored
MAX_LANGUAGE_TAG = 35  # RFC 5646, 4.4.1: tags up to 35 characters must be supported
MAX_EMAIL_LENGTH = 254  # RFC 5321, 4.5.3.1.3: a path is at most 256 octets including "<" and ">"

# Maximum lengths of the strings the invoice uses; the database columns they end up in are at
# least this long (InvoiceLine.description 500, sku 100, Invoice.customer_name 300, ...).
ID, NAME, LONG_NAME, DESCRIPTION, CODE, ADDRESS_LINE = 255, 100, 200, 500, 100, 200

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_email_validator = EmailValidator()


class OrderDocumentError(PermanentError, ValueError):
    """An order document that cannot be invoiced; `errors` lists [{field, message}].

    A PermanentError, so an order whose document is invalid fails its job at once with the
    fields named (before any capture or number), instead of as an "internal error". Reaching a
    view (PUT of an order) it is a 400 naming every field (core.http_errors).
    """

    http_status = 400
    http_message = "The order document is invalid."
    SHOWN = 5  # in the one-line message; `errors` keeps them all

    def __init__(self, errors: list[dict[str, str]]) -> None:
        listed = "; ".join(f"{e['field'] or '(document)'}: {e['message']}" for e in errors[: self.SHOWN])
        more = f" (and {len(errors) - self.SHOWN} more)" if len(errors) > self.SHOWN else ""
        super().__init__(f"The order document is invalid: {_shorten(listed, 1000)}{more}")
        self.errors = errors


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def order_id_problem(value: str) -> str | None:
    """Why `value` cannot be an order id, or None. Ids end up in URL path segments and columns."""
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters"
    if value in (".", ".."):
        # RFC 3986, 5.2.4: a "." or ".." path segment is removed when a URL is resolved.
        return "must not be '.' or '..'"
    if _CONTROL.search(value):
        return "must not contain control characters (such as NUL or line breaks)"
    return None


def email_problem(value: str) -> str | None:
    """Why `value` is not exactly one email address (an RFC 5322 addr-spec), or None."""
    if len(value) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters"
    # One address only: no lists, display names, or header line breaks. Django's validator
    # alone would accept a quoted local part with a comma ("a,b"@example.com).
    if any(c in value for c in ',;<>"') or any(c.isspace() for c in value) or _CONTROL.search(value):
        return "must be exactly one email address, without a name, list or line break"
    try:
        _email_validator(value)
    except ValidationError:
        return "must be a valid email address"
    return None


class _Reader:
    """Collects errors while reading, instead of stopping at the first one."""

    def __init__(self, currency: str = "") -> None:
        self.errors: list[dict[str, str]] = []
        self.currency = currency

    def error(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def obj(self, parent: Any, key: str, path: str, *, required: bool = False) -> dict[str, Any]:
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None:
            if required:
                self.error(path, "is required")
            return {}
        if not isinstance(value, dict):
            self.error(path, "must be an object")
            return {}
        return value

    def array(self, parent: dict[str, Any], key: str, path: str, *, max_items: int) -> list[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, "must be an array")
            return []
        if len(value) > max_items:
            self.error(path, f"must have at most {max_items} items ({len(value)} given)")
            return []
        return value

    def text(
        self,
        parent: dict[str, Any],
        key: str,
        path: str,
        *,
        max_length: int,
        required: bool = False,
        allow_int: bool = False,
    ) -> str:
        """A string (ids may also be JSON integers), at most `max_length` characters, no NUL."""
        value = parent.get(key) if isinstance(parent, dict) else None
        if value is None or value == "":
            if required:
                self.error(path, "is required")
            return ""
        if isinstance(value, int) and not isinstance(value, bool) and allow_int:
            value = str(value)
        if not isinstance(value, str):
            self.error(path, "must be a string")
            return ""
        if len(value) > max_length:
            self.error(path, f"must be at most {max_length} characters")
            return ""
        if "\x00" in value:
            self.error(path, "must not contain NUL characters")
            return ""
        return value

    def ident(
        self,
        parent: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        max_length: int = MAX_ID_LENGTH,
    ) -> str:
        """An id: as text(), and without control characters, not "." or ".."."""
        value = self.text(parent, key, path, max_length=max_length, required=required, allow_int=True)
        problem = order_id_problem(value) if value else None
        if problem:
            self.error(path, problem)
            return ""
        return value

    def localized(self, parent: dict[str, Any], key: str, path: str, *, max_length: int) -> str:
        """A string or a localized map {"en": "...", "de": "..."}: the English text, else the first."""
        if not isinstance(parent.get(key), dict):
            return self.text(parent, key, path, max_length=max_length)
        return _default_text(self.translations(parent, key, path, max_length=max_length))

    def translations(self, parent: dict[str, Any], key: str, path: str, *, max_length: int) -> dict[str, str]:
        """The texts of a localized map {"en": "...", "de": "..."} (its first MAX_TRANSLATIONS
        languages), each checked like text(); {} when the value is not a map."""
        value = parent.get(key)
        if not isinstance(value, dict):
            return {}
        return {
            lang: self.text(value, lang, f"{path}.{lang}", max_length=max_length)
            for lang in list(value)[:MAX_TRANSLATIONS]
        }

    def number(
        self,
        parent: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        default: Decimal = ZERO,
        maximum: Decimal = MAX_AMOUNT,
        minimum: Decimal | None = None,
    ) -> Decimal:
        """A JSON number within [minimum (default -maximum), maximum]."""
        value = parent.get(key)
        if value is None:
            if required:
                self.error(path, "is required")
            return default
        # JSON numbers only: the salesOrder schema types these as numbers, and a string that
        # happens to parse ("2") usually means the producer has a bug worth hearing about.
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(path, "must be a number")
            return default
        try:
            number = to_decimal(value)
        except (InvalidOperation, ValueError):
            self.error(path, "must be a number")
            return default
        if not number.is_finite():
            self.error(path, "must be a finite number")
            return default
        low = -maximum if minimum is None else minimum
        if number > maximum:
            self.error(path, f"must be at most {maximum:,}")
            return default
        if number < low:
            self.error(path, "must not be negative" if low == 0 else f"must be at least {low:,}")
            return default
        return number

    def price(
        self,
        parent: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool,
        minimum: Decimal | None = None,
    ) -> dict[str, Decimal] | None:
        """A calculatedPrice {netValue, grossValue, taxValue[, taxRate]} as Decimals."""
        data = self.obj(parent, key, path, required=required)
        if not data:
            return None
        errors_before = len(self.errors)
        out = {
            "net": self.number(data, "netValue", f"{path}.netValue", minimum=minimum),
            "gross": self.number(data, "grossValue", f"{path}.grossValue", minimum=minimum),
            "tax": self.number(data, "taxValue", f"{path}.taxValue"),
        }
        if data.get("taxRate") is not None:
            out["rate"] = self.number(data, "taxRate", f"{path}.taxRate", minimum=ZERO, maximum=MAX_TAX_RATE)
        else:
            out["rate"] = self._derived_rate(out, path) if len(self.errors) == errors_before else ZERO
        return out

    def _derived_rate(self, price: dict[str, Decimal], path: str) -> Decimal:
        """The tax rate of a price that leaves it out: tax / net."""
        net, tax = price["net"], price["tax"]
        if not net:
            return ZERO
        if tax * net < 0 or abs(tax) > abs(net):  # checked first: the quotient could be huge
            self.error(f"{path}.taxValue", "gives a tax rate outside 0-100 % of netValue; state taxRate")
            return ZERO
        return (tax / net * 100).quantize(Decimal("0.01"))


def _datetime(value: Any, path: str, reader: _Reader) -> dt.datetime | None:
    if not value:
        return None
    if not isinstance(value, str) or len(value) > 40:
        reader.error(path, "must be an ISO 8601 date-time")
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        parsed.astimezone(dt.UTC)  # year 1 or 9999 with an offset overflows here, not later
    except (ValueError, OverflowError):
        reader.error(path, "must be an ISO 8601 date-time")
        return None
    return parsed


def _date(value: Any, path: str, reader: _Reader) -> dt.date | None:
    if not value:
        return None
    if not isinstance(value, str):
        reader.error(path, "must be an ISO 8601 date")
        return None
    if len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            reader.error(path, "must be an ISO 8601 date")
            return None
    moment = _datetime(value, path, reader)
    return moment.astimezone(dt.UTC).date() if moment else None


def _address(data: dict[str, Any], path: str, reader: _Reader) -> Address:
    def read(key: str, max_length: int = ADDRESS_LINE) -> str:
        return reader.text(data, key, f"{path}.{key}", max_length=max_length)

    return Address(
        contact_name=read("contactName"),
        company_name=read("companyName"),
        street=read("street"),
        street_number=read("streetNumber", 50),
        street_appendix=read("streetAppendix"),
        extra_lines=tuple(line for line in (read(f"extraLine{n}") for n in (1, 2, 3, 4)) if line),
        zip_code=read("zipCode", 32),
        city=read("city", NAME),
        state=read("state", NAME),
        country=read("country", NAME),
    )


def _line_tolerance(quantity: Decimal, currency: str, rate: Decimal) -> tuple[Decimal, Decimal]:
    """How far quantity x unit price may be from the line's price (net, gross), by rounding only.

    A unit price rounded to the minor unit is off by at most half a minor unit, so quantity of
    them by quantity halves; the line's own price, rounded once more, adds half a minor unit:
    net tolerance = minor unit / 2 x (quantity + 1). A gross derived from a rounded net
    (gross = round(net x (1 + rate))) carries the net's error times (1 + rate) plus its own
    rounding, so per unit and for the line (2 + rate) halves instead of one.
    """
    half = minor_unit(currency if is_invoice_currency(currency) else "EUR") * HALF
    net = half * (quantity + 1)
    return net, net * (2 + rate / 100)


def _default_text(texts: dict[str, str]) -> str:
    """Of a localized map's texts: the English one, else the first that is not empty."""
    return texts.get("en") or next((text for text in texts.values() if text), "")


def _product_names(
    product: dict[str, Any], path: str, reader: _Reader
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The product's name as the line's default description, and its translations.

    The order spec gives an entry's product a `name` (a string; a {language: text} map where the
    order was read without Content-Language, see `localizedValue`) and a `localizedName`
    {language: text} map. The description is `name` (its English text if a map), else
    `localizedName` as before. The translations are both maps together, `localizedName` winning
    for a language both have; keys that cannot be a language code (empty, control characters,
    longer than MAX_LANGUAGE_TAG) are left out, not refused: they only lose a translation.
    """
    translated: dict[str, str] = {}
    if isinstance(product.get("name"), dict):
        translated = reader.translations(product, "name", f"{path}.name", max_length=DESCRIPTION)
        description = _default_text(translated)
    else:
        description = reader.text(product, "name", f"{path}.name", max_length=DESCRIPTION)
    if isinstance(product.get("localizedName"), dict):
        localized = reader.translations(
            product, "localizedName", f"{path}.localizedName", max_length=DESCRIPTION
        )
        description = description or _default_text(localized)
        translated = {
            **localized,
            **{lang: text for lang, text in translated.items() if not localized.get(lang)},
        }
    elif not description:
        description = reader.localized(
            product, "localizedName", f"{path}.localizedName", max_length=DESCRIPTION
        )
    names = tuple(
        (lang, text)
        for lang, text in translated.items()
        if text and len(lang) <= MAX_LANGUAGE_TAG and lang.strip() and not _CONTROL.search(lang)
    )
    return description, names


def _line(entry: Any, index: int, reader: _Reader) -> OrderLine | None:
    path = f"entries[{index}]"
    if not isinstance(entry, dict):
        reader.error(path, "must be an object")
        return None
    product = reader.obj(entry, "product", f"{path}.product")
    errors_before = len(reader.errors)
    quantity_key = "effectiveQuantity" if entry.get("effectiveQuantity") is not None else "amount"
    quantity = reader.number(entry, quantity_key, f"{path}.{quantity_key}", maximum=MAX_QUANTITY)
    if len(reader.errors) == errors_before:
        if quantity <= 0:
            reader.error(f"{path}.{quantity_key}", "must be greater than 0")
        elif quantity != quantity.quantize(QUANTITY_STEP):
            reader.error(f"{path}.{quantity_key}", "must have at most 3 decimal places")
    quantity_ok = len(reader.errors) == errors_before
    # Unit prices are never negative: a reduction is a discount (finalPrice below price).
    unit = reader.price(
        entry, "calculatedUnitPrice", f"{path}.calculatedUnitPrice", required=True, minimum=ZERO
    )
    calculated = reader.obj(entry, "calculatedPrice", f"{path}.calculatedPrice", required=True)
    price = reader.price(calculated, "price", f"{path}.calculatedPrice.price", required=False, minimum=ZERO)
    final = reader.price(calculated, "finalPrice", f"{path}.calculatedPrice.finalPrice", required=True)
    fee_net = fee_gross = ZERO
    fees = reader.array(calculated, "fees", f"{path}.calculatedPrice.fees", max_items=MAX_FEES)
    for fee_index, fee in enumerate(fees):
        fee_path = f"{path}.calculatedPrice.fees[{fee_index}]"
        if not isinstance(fee, dict):
            reader.error(fee_path, "must be an object")
            continue
        fee_price = reader.price(fee, "price", f"{fee_path}.price", required=True)
        if fee_price:
            fee_net += fee_price["net"]
            fee_gross += fee_price["gross"]
    line_id = reader.ident(entry, "id", f"{path}.id")
    description, names = _product_names(product, f"{path}.product", reader)
    sku = (
        reader.text(product, "sku", f"{path}.product.sku", max_length=CODE, allow_int=True)
        or reader.text(product, "code", f"{path}.product.code", max_length=CODE, allow_int=True)
        or reader.ident(product, "id", f"{path}.product.id")[:CODE]
    )
    tax_code = reader.text(
        entry.get("calculatedUnitPrice") or {},
        "taxCode",
        f"{path}.calculatedUnitPrice.taxCode",
        max_length=CODE,
    )
    if unit is None or final is None or not quantity_ok:
        return None
    rate = unit["rate"]
    if price is None:
        price = {"net": unit["net"] * quantity, "gross": unit["gross"] * quantity}
    else:
        net_tolerance, gross_tolerance = _line_tolerance(quantity, reader.currency, rate)
        for key, tolerance in (("net", net_tolerance), ("gross", gross_tolerance)):
            if abs(unit[key] * quantity - price[key]) > tolerance:
                value = f"{key}Value"
                reader.error(
                    f"{path}.calculatedPrice.price.{value}",
                    f"{price[key]} does not match amount x calculatedUnitPrice.{value} "
                    f"({quantity.normalize():f} x {unit[key]} = {unit[key] * quantity})",
                )
    return OrderLine(
        line_id=line_id or str(index + 1),
        description=description or sku or f"Item {index + 1}",
        sku=sku,
        quantity=quantity,
        unit_net=unit["net"],
        unit_gross=unit["gross"],
        tax_rate=rate,
        tax_code=tax_code,
        net=price["net"],
        gross=price["gross"],
        # finalPrice = price - discounts + fees, so what discounts took off is the difference
        discount_net=max(ZERO, price["net"] + fee_net - final["net"]),
        discount_gross=max(ZERO, price["gross"] + fee_gross - final["gross"]),
        fee_net=fee_net,
        fee_gross=fee_gross,
        names=names,
    )


def _charges(calculated: dict[str, Any], reader: _Reader) -> list[Charge]:
    charges: list[Charge] = []
    shipping = reader.price(calculated, "totalShipping", "calculatedPrice.totalShipping", required=False)
    if shipping is None:
        shipping = reader.price(calculated, "shipping", "calculatedPrice.shipping", required=False)
    if shipping and (shipping["net"] or shipping["gross"]):
        charges.append(Charge("shipping", "Shipping", shipping["net"], shipping["gross"], shipping["rate"]))
    payment_fees = reader.array(calculated, "paymentFees", "calculatedPrice.paymentFees", max_items=MAX_FEES)
    for index, fee in enumerate(payment_fees):
        path = f"calculatedPrice.paymentFees[{index}]"
        if not isinstance(fee, dict):
            reader.error(path, "must be an object")
            continue
        price = reader.price(fee, "price", f"{path}.price", required=True)
        label = reader.localized(fee, "name", f"{path}.name", max_length=DESCRIPTION)
        if price:
            charges.append(Charge("fee", label or "Payment fee", price["net"], price["gross"], price["rate"]))
    return charges


def _payments(doc: dict[str, Any], currency: str, reader: _Reader) -> list[Payment]:
    out = []
    for index, payment in enumerate(reader.array(doc, "payments", "payments", max_items=MAX_PAYMENTS)):
        path = f"payments[{index}]"
        if not isinstance(payment, dict):
            reader.error(path, "must be an object")
            continue
        authorized = payment.get("authorizedAmount")
        paid_in = reader.text(payment, "currency", f"{path}.currency", max_length=3).upper()
        if paid_in and is_invoice_currency(currency) and paid_in != currency:
            # the capture is for the invoice's gross, in the order's currency
            reader.error(f"{path}.currency", f"must be the order's currency ({currency})")
        out.append(
            Payment(
                method=reader.text(payment, "method", f"{path}.method", max_length=50),
                provider=reader.text(payment, "provider", f"{path}.provider", max_length=CODE),
                status=reader.text(payment, "status", f"{path}.status", max_length=CODE),
                # PaymentCapture.transaction_id and GatewayTransaction.transaction_id: 200
                transaction_id=reader.ident(
                    payment, "transactionId", f"{path}.transactionId", max_length=200
                ),
                authorized_amount=(
                    reader.number(payment, "authorizedAmount", f"{path}.authorizedAmount", minimum=ZERO)
                    if authorized is not None
                    else None
                ),
                currency=paid_in or currency,
            )
        )
    return out


def _customer(doc: dict[str, Any], billing: Address, reader: _Reader) -> Customer:
    data = reader.obj(doc, "customer", "customer", required=True)
    email = reader.text(data, "email", "customer.email", max_length=MAX_EMAIL_LENGTH + 1, required=True)
    problem = email_problem(email) if email else None
    if problem:
        reader.error("customer.email", problem)
    parts = [
        reader.text(data, key, f"customer.{key}", max_length=NAME)
        for key in ("firstName", "middleName", "lastName")
    ]
    full_name = " ".join(part for part in parts if part)
    name = (
        full_name or reader.text(data, "name", "customer.name", max_length=LONG_NAME) or billing.contact_name
    )
    company = reader.text(data, "company", "customer.company", max_length=LONG_NAME) or billing.company_name
    return Customer(
        customer_id=reader.ident(data, "id", "customer.id") or "ANONYMOUS",
        email=email if not problem else "",
        name=name,
        company=company,
    )


def _bound_totals(lines: list[OrderLine], charges: list[Charge], reader: _Reader) -> None:
    """The order's amounts together at most 10^12, so every total the invoice stores fits.

    An invoice total is a sum of rows: line prices, line fees, charges (at most what the order
    charges before discounts) and discounts (at most what it charges). Each amount is bounded
    already, but 5,000 of them could add up beyond DECIMAL(18, 3).
    """
    for key in ("net", "gross"):
        charged = sum((abs(getattr(c, key)) for c in charges), ZERO)
        discounted = ZERO
        for line in lines:
            charged += abs(getattr(line, key)) + abs(getattr(line, f"fee_{key}"))
            discounted += getattr(line, f"discount_{key}")
        if max(charged, discounted) > MAX_AMOUNT:
            reader.error(
                "calculatedPrice",
                f"the order's {key} amounts add up to more than {MAX_AMOUNT:,}; split the order",
            )
            return


def sales_order_to_order(doc: Any, *, order_id: str | None = None) -> Order:
    """Map a salesOrder document; raise OrderDocumentError listing every invalid field."""
    if not isinstance(doc, dict):
        raise OrderDocumentError([{"field": "", "message": "the order must be a JSON object"}])
    # What no later step could store (NUL, unpaired surrogates, infinity) or walk (deep nesting),
    # wherever it is in the document: the local store keeps the whole document.
    problems = json_problems(doc)
    if problems:
        raise OrderDocumentError(problems)
    reader = _Reader()
    the_id = reader.ident(doc, "id", "id", required=order_id is None) or order_id or ""
    if order_id is not None:
        problem = order_id_problem(order_id)
        if problem:
            reader.error("id", f"the order id in the path {problem}")
        elif doc.get("id") not in (None, "", order_id):
            reader.error("id", f"does not match the order id in the path ({order_id})")
    currency = reader.text(doc, "currency", "currency", max_length=3, required=True).upper()
    if currency in NO_MINOR_UNIT:
        reader.error("currency", f"{currency} has no minor unit in ISO 4217 and cannot be invoiced")
    elif currency and not is_invoice_currency(currency):
        reader.error("currency", "must be an ISO 4217 currency code such as EUR")
    reader.currency = currency

    billing_address = _address(
        reader.obj(doc, "billingAddress", "billingAddress", required=True), "billingAddress", reader
    )
    customer = _customer(doc, billing_address, reader)
    shipping_data = reader.obj(doc, "shippingAddress", "shippingAddress")
    shipping_address = _address(shipping_data, "shippingAddress", reader) if shipping_data else None

    entries = doc.get("entries")
    lines: list[OrderLine] = []
    if not isinstance(entries, list) or not entries:
        reader.error("entries", "at least one entry is required")
    elif len(entries) > MAX_LINES:
        reader.error(
            "entries", f"at most {MAX_LINES} entries per order ({len(entries)} given); split the order"
        )
    else:
        for index, entry in enumerate(entries):
            line = _line(entry, index, reader)
            if line is not None:
                lines.append(line)

    calculated = reader.obj(doc, "calculatedPrice", "calculatedPrice", required=True)
    final = reader.price(calculated, "finalPrice", "calculatedPrice.finalPrice", required=bool(calculated))
    tax_totals: list[TaxTotal] = []
    final_data = calculated.get("finalPrice") if isinstance(calculated.get("finalPrice"), dict) else {}
    aggregate = reader.obj(final_data, "taxAggregate", "calculatedPrice.finalPrice.taxAggregate")
    aggregate_path = "calculatedPrice.finalPrice.taxAggregate.lines"
    for index, line_data in enumerate(reader.array(aggregate, "lines", aggregate_path, max_items=MAX_LINES)):
        price = reader.price({"x": line_data}, "x", f"{aggregate_path}[{index}]", required=True)
        if price:
            tax_totals.append(
                TaxTotal(
                    rate=price["rate"],
                    net=price["net"],
                    tax=price["tax"],
                    gross=price["gross"],
                    code=reader.text(
                        line_data, "taxCode", f"{aggregate_path}[{index}].taxCode", max_length=CODE
                    ),
                )
            )
    charges = _charges(calculated, reader)
    payments = _payments(doc, currency, reader)

    mixins = reader.obj(doc, "mixins", "mixins")
    general = reader.obj(mixins, "generalAttributes", "mixins.generalAttributes")
    invoice_mixin = reader.obj(mixins, "invoice", "mixins.invoice")
    delivery_window = reader.obj(doc, "deliveryWindow", "deliveryWindow")
    window_date = _date(delivery_window.get("deliveryDate"), "deliveryWindow.deliveryDate", reader)
    delivery_time = _datetime(
        reader.obj(mixins, "deliveryTime", "mixins.deliveryTime").get("deliveryDate"),
        "mixins.deliveryTime.deliveryDate",
        reader,
    )
    version = reader.obj(doc, "metadata", "metadata").get("version")
    created_at = _datetime(doc.get("created"), "created", reader)
    status = reader.text(doc, "status", "status", max_length=CODE)
    extended_status = reader.text(
        general,
        "extendedOrderStatus",
        "mixins.generalAttributes.extendedOrderStatus",
        max_length=CODE,
        allow_int=True,
    )
    site_code = reader.text(doc, "siteCode", "siteCode", max_length=CODE)
    legal_entity_id = reader.ident(doc, "legalEntityId", "legalEntityId")
    existing_invoice_number = reader.text(
        invoice_mixin, "invoiceNo", "mixins.invoice.invoiceNo", max_length=CODE, allow_int=True
    )
    if not reader.errors:
        _bound_totals(lines, charges, reader)

    if reader.errors:
        raise OrderDocumentError(reader.errors)
    assert final is not None
    return Order(
        order_id=the_id,
        status=status,
        extended_status=extended_status,
        currency=currency,
        created_at=created_at,
        site_code=site_code,
        customer=customer,
        billing_address=billing_address,
        shipping_address=shipping_address,
        lines=tuple(lines),
        charges=tuple(charges),
        stated_net=final["net"],
        stated_tax=final["tax"],
        stated_gross=final["gross"],
        stated_tax_totals=tuple(tax_totals),
        payments=tuple(payments),
        delivery_date=window_date or (delivery_time.astimezone(dt.UTC).date() if delivery_time else None),
        delivery_window_date=window_date,
        delivery_time=delivery_time,
        existing_invoice_number=existing_invoice_number,
        legal_entity_id=legal_entity_id,
        version=version
        if isinstance(version, int) and not isinstance(version, bool) and 0 <= version < 2**31
        else None,
    )
