"""One mapper from an Emporix order-v2 `salesOrder` document to the pipeline's `Order`.

Both the local order store and the Emporix adapter use it, so an order means the same thing
whichever backend it comes from. Deprecated fields (`unitPrice`, `totalPrice`, `tax`, ...) are
ignored; the `calculated*` structures are the source of truth.

Where the document is invalid, `OrderDocumentError.errors` lists every problem with its field
path (`entries[2].amount`), so an API client can fix the document in one go.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.ports import Address, Charge, Customer, Order, OrderLine, Payment, TaxTotal
from invoicing.money import to_decimal

ZERO = Decimal(0)


class OrderDocumentError(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class _Reader:
    """Collects errors while reading, instead of stopping at the first one."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

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

    def text(self, parent: dict[str, Any], key: str, path: str, *, required: bool = False) -> str:
        value = parent.get(key)
        if value is None or value == "":
            if required:
                self.error(path, "is required")
            return ""
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.error(path, "must be a string")
            return ""
        return str(value)

    def number(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool = True, default: Decimal = ZERO
    ) -> Decimal:
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
        return number

    def price(
        self, parent: dict[str, Any], key: str, path: str, *, required: bool
    ) -> dict[str, Decimal] | None:
        """A calculatedPrice {netValue, grossValue, taxValue[, taxRate]} as Decimals."""
        data = self.obj(parent, key, path, required=required)
        if not data:
            return None
        out = {
            "net": self.number(data, "netValue", f"{path}.netValue"),
            "gross": self.number(data, "grossValue", f"{path}.grossValue"),
            "tax": self.number(data, "taxValue", f"{path}.taxValue"),
        }
        if data.get("taxRate") is not None:
            out["rate"] = self.number(data, "taxRate", f"{path}.taxRate")
        return out


def _optional_object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object the invoice can do without: anything but an object counts as absent."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _rate_of(price: dict[str, Decimal]) -> Decimal:
    """The tax rate of a price: stated, or derived from tax/net when the order leaves it out."""
    if "rate" in price:
        return price["rate"]
    if price["net"]:
        return (price["tax"] / price["net"] * 100).quantize(Decimal("0.01"))
    return ZERO


def _datetime(value: Any, path: str, reader: _Reader) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        reader.error(path, "must be an ISO 8601 date-time")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _date(value: Any, path: str, reader: _Reader) -> dt.date | None:
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = _datetime(text, path, reader)
        return moment.astimezone(dt.UTC).date() if moment else None
    except ValueError:
        reader.error(path, "must be an ISO 8601 date")
        return None


def _address(data: dict[str, Any]) -> Address:
    return Address(
        contact_name=str(data.get("contactName") or ""),
        company_name=str(data.get("companyName") or ""),
        street=str(data.get("street") or ""),
        street_number=str(data.get("streetNumber") or ""),
        street_appendix=str(data.get("streetAppendix") or ""),
        extra_lines=tuple(
            str(data[k]) for k in ("extraLine1", "extraLine2", "extraLine3", "extraLine4") if data.get(k)
        ),
        zip_code=str(data.get("zipCode") or ""),
        city=str(data.get("city") or ""),
        state=str(data.get("state") or ""),
        country=str(data.get("country") or ""),
    )


def _product_name(product: dict[str, Any]) -> str:
    name = product.get("name")
    if isinstance(name, dict):  # localized map {"en": "..."}
        name = name.get("en") or next(iter(name.values()), "")
    if not name and isinstance(product.get("localizedName"), dict):
        localized = product["localizedName"]
        name = localized.get("en") or next(iter(localized.values()), "")
    return str(name or product.get("code") or product.get("sku") or product.get("id") or "")


def _line(entry: Any, index: int, reader: _Reader) -> OrderLine | None:
    path = f"entries[{index}]"
    if not isinstance(entry, dict):
        reader.error(path, "must be an object")
        return None
    product = reader.obj(entry, "product", f"{path}.product")
    errors_before = len(reader.errors)
    quantity = reader.number(entry, "amount", f"{path}.amount")
    if entry.get("effectiveQuantity") is not None:
        quantity = reader.number(entry, "effectiveQuantity", f"{path}.effectiveQuantity")
    if quantity <= 0 and len(reader.errors) == errors_before:
        reader.error(f"{path}.amount", "must be greater than 0")
    unit = reader.price(entry, "calculatedUnitPrice", f"{path}.calculatedUnitPrice", required=True)
    calculated = reader.obj(entry, "calculatedPrice", f"{path}.calculatedPrice", required=True)
    price = reader.price(calculated, "price", f"{path}.calculatedPrice.price", required=False)
    final = reader.price(calculated, "finalPrice", f"{path}.calculatedPrice.finalPrice", required=True)
    if unit is None or final is None:
        return None
    if price is None:
        price = {
            "net": unit["net"] * quantity,
            "gross": unit["gross"] * quantity,
            "tax": unit["tax"] * quantity,
        }
    fee_net = fee_gross = ZERO
    fees = calculated.get("fees") or []
    if not isinstance(fees, list):
        reader.error(f"{path}.calculatedPrice.fees", "must be an array")
        fees = []
    for fee_index, fee in enumerate(fees):
        fee_price = reader.price(
            fee if isinstance(fee, dict) else {},
            "price",
            f"{path}.calculatedPrice.fees[{fee_index}].price",
            required=True,
        )
        if fee_price:
            fee_net += fee_price["net"]
            fee_gross += fee_price["gross"]
    rate = _rate_of(unit)
    return OrderLine(
        line_id=str(entry.get("id") or index + 1),
        description=_product_name(product) or f"Item {index + 1}",
        sku=str(product.get("sku") or product.get("code") or product.get("id") or ""),
        quantity=quantity,
        unit_net=unit["net"],
        unit_gross=unit["gross"],
        tax_rate=rate,
        tax_code=str((entry.get("calculatedUnitPrice") or {}).get("taxCode") or ""),
        net=price["net"],
        gross=price["gross"],
        # finalPrice = price - discounts + fees, so what discounts took off is the difference
        discount_net=max(ZERO, price["net"] + fee_net - final["net"]),
        discount_gross=max(ZERO, price["gross"] + fee_gross - final["gross"]),
        fee_net=fee_net,
        fee_gross=fee_gross,
    )


def _charges(calculated: dict[str, Any], reader: _Reader) -> list[Charge]:
    charges: list[Charge] = []
    shipping = reader.price(calculated, "totalShipping", "calculatedPrice.totalShipping", required=False)
    if shipping is None:
        shipping = reader.price(calculated, "shipping", "calculatedPrice.shipping", required=False)
    if shipping and (shipping["net"] or shipping["gross"]):
        charges.append(Charge("shipping", "Shipping", shipping["net"], shipping["gross"], _rate_of(shipping)))
    payment_fees = calculated.get("paymentFees") or []
    if not isinstance(payment_fees, list):
        reader.error("calculatedPrice.paymentFees", "must be an array")
        payment_fees = []
    for index, fee in enumerate(payment_fees):
        fee = fee if isinstance(fee, dict) else {}
        price = reader.price(fee, "price", f"calculatedPrice.paymentFees[{index}].price", required=True)
        if price:
            name = fee.get("name")
            label = (
                (name.get("en") or next(iter(name.values()), ""))
                if isinstance(name, dict)
                else str(name or "")
            )
            charges.append(
                Charge("fee", label or "Payment fee", price["net"], price["gross"], _rate_of(price))
            )
    return charges


def _payments(doc: dict[str, Any], reader: _Reader) -> list[Payment]:
    payments = doc.get("payments") or []
    if not isinstance(payments, list):
        reader.error("payments", "must be an array")
        return []
    out = []
    for index, payment in enumerate(payments):
        if not isinstance(payment, dict):
            reader.error(f"payments[{index}]", "must be an object")
            continue
        authorized = payment.get("authorizedAmount")
        out.append(
            Payment(
                method=str(payment.get("method") or ""),
                provider=str(payment.get("provider") or ""),
                status=str(payment.get("status") or ""),
                transaction_id=str(payment.get("transactionId") or ""),
                authorized_amount=(
                    reader.number(payment, "authorizedAmount", f"payments[{index}].authorizedAmount")
                    if authorized is not None
                    else None
                ),
                currency=str(payment.get("currency") or doc.get("currency") or ""),
            )
        )
    return out


def sales_order_to_order(doc: Any, *, order_id: str | None = None) -> Order:
    """Map a salesOrder document; raise OrderDocumentError listing every invalid field."""
    reader = _Reader()
    if not isinstance(doc, dict):
        raise OrderDocumentError([{"field": "", "message": "the order must be a JSON object"}])
    the_id = reader.text(doc, "id", "id", required=order_id is None) or order_id or ""
    if order_id is not None and doc.get("id") not in (None, "", order_id):
        reader.error("id", f"does not match the order id in the path ({order_id})")
    currency = reader.text(doc, "currency", "currency", required=True).upper()
    if currency and len(currency) != 3:
        reader.error("currency", "must be an ISO 4217 code such as EUR")

    customer_data = reader.obj(doc, "customer", "customer", required=True)
    email = reader.text(customer_data, "email", "customer.email", required=True)
    billing = reader.obj(doc, "billingAddress", "billingAddress", required=True)
    shipping_data = reader.obj(doc, "shippingAddress", "shippingAddress")
    full_name = " ".join(
        part
        for part in (
            customer_data.get("firstName"),
            customer_data.get("middleName"),
            customer_data.get("lastName"),
        )
        if part
    )
    customer = Customer(
        customer_id=str(customer_data.get("id") or "ANONYMOUS"),
        email=email,
        name=full_name or str(customer_data.get("name") or billing.get("contactName") or ""),
        company=str(customer_data.get("company") or billing.get("companyName") or ""),
    )

    entries = doc.get("entries")
    lines: list[OrderLine] = []
    if not isinstance(entries, list) or not entries:
        reader.error("entries", "at least one entry is required")
    else:
        for index, entry in enumerate(entries):
            line = _line(entry, index, reader)
            if line is not None:
                lines.append(line)

    calculated = reader.obj(doc, "calculatedPrice", "calculatedPrice", required=True)
    final = reader.price(calculated, "finalPrice", "calculatedPrice.finalPrice", required=bool(calculated))
    tax_totals: list[TaxTotal] = []
    aggregate = ((calculated.get("finalPrice") or {}).get("taxAggregate") or {}).get("lines") or []
    for index, line_data in enumerate(aggregate if isinstance(aggregate, list) else []):
        price = reader.price(
            {"x": line_data}, "x", f"calculatedPrice.finalPrice.taxAggregate.lines[{index}]", required=True
        )
        if price:
            tax_totals.append(
                TaxTotal(
                    rate=_rate_of(price),
                    net=price["net"],
                    tax=price["tax"],
                    gross=price["gross"],
                    code=str(line_data.get("taxCode") or ""),
                )
            )
    charges = _charges(calculated, reader)
    payments = _payments(doc, reader)

    mixins = _optional_object(doc, "mixins")
    general = _optional_object(mixins, "generalAttributes")
    invoice_mixin = _optional_object(mixins, "invoice")
    window_date = _date(
        _optional_object(doc, "deliveryWindow").get("deliveryDate"), "deliveryWindow.deliveryDate", reader
    )
    delivery_time = _datetime(
        _optional_object(mixins, "deliveryTime").get("deliveryDate"),
        "mixins.deliveryTime.deliveryDate",
        reader,
    )
    version = _optional_object(doc, "metadata").get("version")
    created_at = _datetime(doc.get("created"), "created", reader)

    if reader.errors:
        raise OrderDocumentError(reader.errors)
    assert final is not None
    return Order(
        order_id=the_id,
        status=str(doc.get("status") or ""),
        extended_status=str(general.get("extendedOrderStatus") or ""),
        currency=currency,
        created_at=created_at,
        site_code=str(doc.get("siteCode") or ""),
        customer=customer,
        billing_address=_address(billing),
        shipping_address=_address(shipping_data) if shipping_data else None,
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
        existing_invoice_number=str(invoice_mixin.get("invoiceNo") or ""),
        version=version if isinstance(version, int) else None,
    )
