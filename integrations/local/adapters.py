"""The local, database-backed adapters: the embedded default behind every port."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Sum
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import JSONObject
from django.utils import timezone

from core.errors import NotFound, PermanentError
from integrations.buyers import read_customer, read_legal_entity
from integrations.invoice_mixin import MIXIN, credited_mixin, invoiced_mixin
from integrations.mapper import sales_order_to_order
from integrations.models import (
    Configuration,
    CurrencyRate,
    GatewayCapture,
    GatewayRefund,
    GatewayTransaction,
    NumberSeries,
    StoredCustomer,
    StoredLegalEntity,
    StoredOrder,
)
from integrations.numbering import (
    LOCAL_SERIES_NAMES,
    builtin_placeholders,
    format_number,
    next_counter,
    series_label,
)
from integrations.ports import (
    DELIVERY_TIME_MIXIN,
    FINGERPRINT_PATHS,
    INVOICE_SERIES,
    Address,
    CaptureResult,
    CaptureStatus,
    CreditNoteRef,
    CustomerProfile,
    ExchangeRate,
    LegalEntity,
    Order,
    OrderPage,
    OrderQuery,
    RefundEntry,
    RefundResult,
    Seller,
)
from tenants.models import Tenant


def stored_order_fingerprint() -> JSONObject:
    """order_fingerprint() of StoredOrder.document, computed by the database (jsonb on PostgreSQL)."""
    parts: dict[str, Any] = {}
    for name, path in FINGERPRINT_PATHS.items():
        value: Any = "document"
        for key in path:
            value = KeyTransform(key, value)
        parts[name] = value
    return JSONObject(**parts)


class LocalOrderSource:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def find_orders(
        self, query: OrderQuery, *, cursor: dict[str, object] | None, page_size: int
    ) -> OrderPage:
        """Keyset pages in id order: each page is one indexed range scan, however many match."""
        after = int(cursor["after_id"]) if cursor else 0  # type: ignore[call-overload]
        matching = StoredOrder.objects.filter(
            tenant=self.tenant, invoice_number="", status__in=query.statuses, pk__gt=after
        )
        if query.extended_statuses:
            matching = matching.filter(extended_status__in=query.extended_statuses)
        if query.delivery_field == DELIVERY_TIME_MIXIN:
            matching = matching.filter(delivery_time__lte=query.delivered_by)
        else:
            # a date counts from the start of that day in the tenant's time zone
            last_day = query.delivered_by.astimezone(ZoneInfo(query.time_zone)).date()
            matching = matching.filter(delivery_window_date__lte=last_day)
        matching = matching.annotate(fingerprint=stored_order_fingerprint())
        if query.held_back is not None:
            # An anti-join (for AUTOMATIC runs, on the attention table's (tenant, order_id) unique
            # index): orders that failed in an earlier run and wait take no place in the page.
            matching = matching.exclude(
                query.held_back(fingerprint=OuterRef("fingerprint"), now=timezone.now())
            )
        rows = list(matching.order_by("pk").values_list("pk", "order_id", "fingerprint")[:page_size])
        next_cursor: dict[str, object] | None = {"after_id": rows[-1][0]} if len(rows) == page_size else None
        return OrderPage(
            order_ids=tuple(order_id for _, order_id, _ in rows),
            cursor=next_cursor,
            fingerprints={order_id: fingerprint for _, order_id, fingerprint in rows},
        )

    def get_order(self, order_id: str) -> Order:
        stored = StoredOrder.objects.filter(tenant=self.tenant, order_id=order_id).first()
        if stored is None:
            raise NotFound(f"Order {order_id} not found.")
        return sales_order_to_order(stored.document, order_id=order_id)

    def mark_invoiced(self, order_id: str, *, invoice_number: str, document_url: str) -> None:
        """invoiceNo/invoiceDocument replaced, the mixin's creditNotes kept.

        `invoice_number` (the column AUTOMATIC runs select on) is set here and never cleared: an
        order whose invoice was cancelled is invoiced again only by a MANUAL job.
        """
        with transaction.atomic():
            stored = (
                StoredOrder.objects.select_for_update().filter(tenant=self.tenant, order_id=order_id).first()
            )
            if stored is None:
                return
            document = dict(stored.document)
            mixins = dict(document.get("mixins") or {})
            mixins[MIXIN] = invoiced_mixin(
                mixins.get(MIXIN), invoice_number=invoice_number, document_url=document_url
            )
            document["mixins"] = mixins
            stored.document = document
            stored.invoice_number = invoice_number
            stored.save(update_fields=["document", "invoice_number", "updated_at"])

    def mark_credited(
        self, order_id: str, *, invoice_number: str, credit_notes: Sequence[CreditNoteRef]
    ) -> None:
        """The stored document's mixins.invoice.creditNotes (integrations.invoice_mixin)."""
        with transaction.atomic():
            stored = (
                StoredOrder.objects.select_for_update().filter(tenant=self.tenant, order_id=order_id).first()
            )
            if stored is None:
                return
            document = dict(stored.document)
            mixins = dict(document.get("mixins") or {})
            mixins[MIXIN] = credited_mixin(
                mixins.get(MIXIN), invoice_number=invoice_number, credit_notes=credit_notes
            )
            document["mixins"] = mixins
            stored.document = document
            if not stored.invoice_number:  # invoiced before the write-back existed: still invoiced
                stored.invoice_number = mixins[MIXIN]["invoiceNo"]
            stored.save(update_fields=["document", "invoice_number", "updated_at"])


class LocalConfiguration:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get_configuration(self, key: str) -> object | None:
        entry = Configuration.objects.filter(tenant=self.tenant, key=key).first()
        return None if entry is None else entry.value


class LocalNumberSequence:
    """A counter row incremented under SELECT ... FOR UPDATE, one row per series
    ("invoiceNoSequence", "creditNoteNoSequence").

    Call it inside the transaction that stores the number on the invoice or credit note: the
    row lock is held until that commits, so numbers are gapless and never handed out twice.
    """

    transactional = True

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def next_number(self, *, site_code: str, at: dt.datetime, series: str = INVOICE_SERIES) -> str:
        label = series_label(series)  # a ValueError for an unknown kind, before any lock
        name = LOCAL_SERIES_NAMES[series]
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"allocate {label} numbers inside the transaction that stores them")
        row = NumberSeries.objects.select_for_update().filter(tenant=self.tenant, name=name).first()
        if row is None:
            raise PermanentError(
                f"Tenant {self.tenant.code} has no {label} number series ('{name}'); create one first "
                f"(console: Number series, name {name}; the tenant's commands create_tenant and "
                "seed_demo create both series). No number was issued."
            )
        counter = next_counter(
            current=row.counter,
            start_value=row.start_value,
            max_value=row.max_value,
            series_name=row.name,
            series=series,
        )
        local = at.astimezone(ZoneInfo(self.tenant.time_zone))
        placeholders = {
            **builtin_placeholders(local, country=self.tenant.country),
            **getattr(settings, "INVOICE_NUMBER_PLACEHOLDERS", {}),
        }
        number = format_number(
            pre_text=row.pre_text,
            post_text=row.post_text,
            number_of_digits=row.number_of_digits,
            counter=counter,
            placeholders=placeholders,
        )
        row.counter = counter
        row.save(update_fields=["counter"])
        return number


@lru_cache(maxsize=64)
def _read_logo(path: str, mtime: float) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def tenant_logo(tenant: Tenant) -> bytes | None:
    if not tenant.logo:
        return None
    try:
        path = tenant.logo.path
        return _read_logo(path, os.path.getmtime(path))
    except (OSError, NotImplementedError, ValueError):
        # not on the local filesystem (e.g. S3) or gone: read it through the storage
        try:
            with tenant.logo.open("rb") as handle:
                return handle.read()
        except OSError:
            return None


SENDER_KEY = "cust.notification.email.from"


def _sender(tenant: Tenant) -> str:
    value = LocalConfiguration(tenant).get_configuration(SENDER_KEY)
    return value.strip() if isinstance(value, str) else ""


class LocalSellerSettings:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get_seller(self, *, site_code: str) -> Seller:
        t = self.tenant
        return Seller(
            legal_name=t.legal_name or t.name,
            address=Address(
                street=t.street,
                street_number=t.street_number,
                zip_code=t.zip_code,
                city=t.city,
                country=t.country,
            ),
            vat_id=t.vat_id,
            tax_number=t.tax_number,
            iban=t.iban,
            bic=t.bic,
            # the Emporix key wins, as it does for Emporix tenants; then the tenant's own field
            email=_sender(t) or t.email_sender or settings.DEFAULT_FROM_EMAIL,
            phone=t.phone,
            website=t.website,
            language=t.default_language,
            time_zone=t.time_zone,
            logo=tenant_logo(t),
            prices_include_tax=t.prices_include_tax,
            payment_terms=t.payment_terms,
            currency=t.default_currency,
        )


class LocalCustomerDirectory:
    """Legal entities and customers stored in the Emporix shapes (PUT …/legal-entities/{id},
    PUT …/customers/{customerNumber}, import_orders)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get_legal_entity(self, legal_entity_id: str) -> LegalEntity | None:
        if not legal_entity_id:
            return None
        stored = StoredLegalEntity.objects.filter(tenant=self.tenant, legal_entity_id=legal_entity_id).first()
        return None if stored is None else read_legal_entity(stored.document, legal_entity_id)

    def get_customer(self, customer_number: str) -> CustomerProfile | None:
        if not customer_number:
            return None
        stored = StoredCustomer.objects.filter(tenant=self.tenant, customer_number=customer_number).first()
        return None if stored is None else read_customer(stored.document, customer_number)


class LocalExchangeRates:
    """Rates kept in the console (CurrencyRate): the pair's latest rate valid on or before the day.

    A pair kept only the other way round is derived (1 / rate, ExchangeRate.inverted): between the
    two directions the more recent rate wins, the pair as asked on the same day.
    """

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def _latest(self, source: str, target: str, on: dt.date) -> CurrencyRate | None:
        return (
            CurrencyRate.objects.filter(
                tenant=self.tenant, source_currency=source, target_currency=target, valid_from__lte=on
            )
            .order_by("-valid_from")
            .first()
        )

    def get_rate(self, *, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        source, target = source.upper(), target.upper()
        if source == target:
            return ExchangeRate(source=source, target=target, rate=Decimal(1), as_of=on)
        direct = self._latest(source, target, on)
        reverse = self._latest(target, source, on)
        if direct is not None and (reverse is None or direct.valid_from >= reverse.valid_from):
            return ExchangeRate(source=source, target=target, rate=direct.rate, as_of=direct.valid_from)
        if reverse is not None:
            return ExchangeRate(
                source=target, target=source, rate=reverse.rate, as_of=reverse.valid_from
            ).inverted()
        return None


class LocalPaymentGateway:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def capture(
        self, *, transaction_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> CaptureResult:
        with transaction.atomic():
            txn = (
                GatewayTransaction.objects.select_for_update()
                .filter(tenant=self.tenant, transaction_id=transaction_id)
                .first()
            )
            if txn is None:
                raise NotFound(f"Payment transaction {transaction_id} not found at the payment gateway.")
            # Looked up under the transaction's lock: a concurrent request with the same key
            # has committed by now, and gets the same answer instead of a second capture.
            done = GatewayCapture.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                return CaptureResult(done.successful, done.capture_id, done.message)
            already = txn.captures.filter(successful=True).exists()
            if txn.decline_reason:
                message = txn.decline_reason
            elif currency != txn.currency:
                message = f"Currency {currency} does not match the authorisation ({txn.currency})."
            elif amount > txn.authorized_amount:
                message = f"Amount {amount} {currency} exceeds the authorised {txn.authorized_amount} {txn.currency}."
            elif already:
                message = "The transaction has already been captured."
            else:
                message = ""
            record = GatewayCapture.objects.create(
                transaction=txn,
                idempotency_key=idempotency_key,
                capture_id=uuid.uuid4().hex,
                amount=amount,
                successful=not message,
                message=message,
            )
            return CaptureResult(record.successful, record.capture_id, record.message)

    def capture_status(self, *, transaction_id: str) -> CaptureStatus:
        capture = (
            GatewayCapture.objects.filter(
                transaction__tenant=self.tenant, transaction__transaction_id=transaction_id, successful=True
            )
            .order_by("created_at")
            .first()
        )
        if capture is None:
            return CaptureStatus(captured=False)
        return CaptureStatus(captured=True, capture_id=capture.capture_id, amount=capture.amount)

    def refund(
        self,
        *,
        transaction_id: str,
        amount: Decimal,
        currency: str,
        capture_id: str,
        idempotency_key: str,
    ) -> RefundResult:
        """Refund up to what was captured and not refunded yet; a repeated key gets the first answer.

        Declined (successful=False, the reason in `message`, recorded under the key) when the
        transaction has `refund_decline_reason`, the currency differs, nothing was captured (or
        not `capture_id`), the amount is not positive or exceeds what is left to refund. An unknown
        transaction is declined without a record (as Emporix answers 404).
        """
        with transaction.atomic():
            txn = (
                GatewayTransaction.objects.select_for_update()
                .filter(tenant=self.tenant, transaction_id=transaction_id)
                .first()
            )
            if txn is None:
                return RefundResult(
                    successful=False,
                    message=f"Payment transaction {transaction_id} not found at the payment gateway.",
                )
            # Looked up under the transaction's lock: a concurrent request with the same key has
            # committed by now and gets the same answer instead of a second refund.
            done = GatewayRefund.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                return _refund_result(done)
            message = self._refund_refusal(txn, amount=amount, currency=currency, capture_id=capture_id)
            record = GatewayRefund.objects.create(
                transaction=txn,
                idempotency_key=idempotency_key,
                refund_id=uuid.uuid4().hex,
                amount=amount,
                successful=not message,
                message=message[:300],
            )
            return _refund_result(record)

    @staticmethod
    def _refund_refusal(txn: GatewayTransaction, *, amount: Decimal, currency: str, capture_id: str) -> str:
        """Why the refund is declined; "" when it can be performed."""
        if txn.refund_decline_reason:
            return txn.refund_decline_reason
        if currency.upper() != txn.currency.upper():
            return f"Currency {currency} does not match the payment ({txn.currency})."
        captures = txn.captures.filter(successful=True)
        if capture_id:
            captures = captures.filter(capture_id=capture_id)
        captured = captures.aggregate(total=Sum("amount"))["total"]
        if captured is None:
            if capture_id:
                return (
                    f"Capture {capture_id} is not a successful capture of transaction {txn.transaction_id}."
                )
            return "The transaction has not been captured: there is nothing to refund."
        if amount <= 0:
            return f"The refund amount must be greater than zero (got {amount} {currency})."
        refunded = txn.refunds.filter(successful=True).aggregate(total=Sum("amount"))["total"] or Decimal(0)
        left = captured - refunded
        if amount > left:
            return (
                f"Amount {amount} {currency} exceeds what is left to refund: {left} {txn.currency} "
                f"({captured} captured, {refunded} refunded)."
            )
        return ""

    def refunds(self, *, transaction_id: str) -> tuple[RefundEntry, ...]:
        rows = (
            GatewayRefund.objects.filter(
                transaction__tenant=self.tenant, transaction__transaction_id=transaction_id, successful=True
            )
            .select_related("transaction")
            .order_by("created_at", "pk")
        )
        return tuple(
            RefundEntry(
                refund_id=row.refund_id,
                amount=row.amount,
                currency=row.transaction.currency,
                created_at=row.created_at,
            )
            for row in rows
        )


def _refund_result(record: GatewayRefund) -> RefundResult:
    return RefundResult(
        successful=record.successful,
        refund_id=record.refund_id if record.successful else "",
        message=record.message,
    )
