"""The Emporix adapters: the same ports as integrations.local, served by the Emporix APIs.

Facts and quirks they rely on are in docs/emporix-integration.md of the shared folder; the
paths here are the published ones (order-v2, sequential-id, site, configuration,
payment-gateway, customer-management, customer, currency).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from django.conf import settings

from core.errors import NotFound, PermanentError, TransientError
from core.money import to_decimal
from core.outbound import OutboundError, outbound_fetch
from integrations.buyers import read_customer, read_legal_entity
from integrations.emporix.client import (
    EmporixClient,
    UpstreamError,
    shorten_upstream_text,
    upstream_message,
)
from integrations.invoice_mixin import MIXIN, SCHEMA_FILE, credited_mixin, invoiced_mixin
from integrations.mapper import sales_order_to_order
from integrations.numbering import SeriesExhausted, series_label
from integrations.ports import (
    CREDIT_NOTE_SERIES,
    DELIVERY_TIME_MIXIN,
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
    order_fingerprint,
)
from tenants.models import Tenant

logger = logging.getLogger("integrations.emporix")

SENDER_KEY = "cust.notification.email.from"
WRITE_BACK_ATTEMPTS = 3


def _path(*parts: str) -> str:
    """An Emporix path from segments, each percent-encoded (RFC 3986 3.3), so no id can add
    segments, a query or a fragment. "." and ".." cannot be encoded away (URL parsers remove
    dot-segments, RFC 3986 5.2.4) and an empty segment would change the path: refused."""
    for part in parts:
        if part in ("", ".", ".."):
            raise PermanentError(f"{part!r} cannot be sent to Emporix as an id (it would change the path).")
    return "/" + "/".join(quote(part, safe="") for part in parts)


class _TTLCache:
    """A small per-process cache: site settings and logos change rarely, orders arrive in bulk."""

    def __init__(self) -> None:
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._data.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def put(self, key: Any, value: Any, ttl: float) -> None:
        with self._lock:
            if len(self._data) > 256:
                self._data.clear()
            self._data[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


site_cache = _TTLCache()


# --- orders -----------------------------------------------------------------------------------------
class EmporixOrderSource:
    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def _document(self, order_id: str) -> dict[str, Any]:
        response = self.client.request(
            "GET", _path("order-v2", self.tenant.code, "salesorders", order_id), handled=(404,)
        )
        if response.status_code == 404:
            raise NotFound(f"Order {order_id} not found.")
        return response.json()

    def get_order(self, order_id: str) -> Order:
        return sales_order_to_order(self._document(order_id), order_id=order_id)

    def find_orders(
        self, query: OrderQuery, *, cursor: dict[str, object] | None, page_size: int
    ) -> OrderPage:
        """Pages of `GET salesorders?q=…` sorted by `created`, keyed on the last `created` seen.

        Not plain page numbers: orders drop out of the result as they are invoiced (the
        `mixins.invoice:missing` filter), which would shift every later page and skip orders.
        Starting each page at the last `created` (inclusive, duplicates dropped by the caller)
        is stable; page numbers only step through orders sharing one `created` value.
        """
        created = str(cursor["created"]) if cursor else ""
        page = int(cursor.get("page", 1)) if cursor else 1  # type: ignore[call-overload]
        q = order_query_q(query) + (f' created:>="{created}"' if created else "")
        response = self.client.request(
            "GET",
            _path("order-v2", self.tenant.code, "salesorders"),
            params={"q": q, "pageNumber": page, "pageSize": page_size, "sort": "created:asc"},
        )
        orders = [o for o in response.json() if isinstance(o, dict) and o.get("id")]
        total = response.headers.get("X-Total-Count")
        next_cursor: dict[str, object] | None = None
        if len(orders) == page_size:
            newest = str(orders[-1].get("created") or "")
            next_cursor = {"created": newest, "page": page + 1 if newest == created else 1}
        return OrderPage(
            order_ids=tuple(str(o["id"]) for o in orders),
            cursor=next_cursor,
            total=int(total) if total and total.isdigit() else None,
            # the caller leaves out orders waiting after a failure by these (in memory: `q`
            # cannot ask for them)
            fingerprints={str(o["id"]): order_fingerprint(o) for o in orders},
        )

    def mark_invoiced(self, order_id: str, *, invoice_number: str, document_url: str) -> None:
        """PATCH mixins.invoice onto the order; a 409 (stale version) re-reads and tries again.

        The whole mixin is sent, the creditNotes it lists kept: whether PATCH merges a mixin or
        replaces it, an order invoiced again after a cancellation keeps its credit notes.
        """
        self._write_invoice_mixin(
            order_id,
            lambda current: (
                current
                if isinstance(current, dict) and current.get("invoiceNo") == invoice_number
                else invoiced_mixin(current, invoice_number=invoice_number, document_url=document_url)
            ),
            what="the invoice number was",
        )

    def mark_credited(
        self, order_id: str, *, invoice_number: str, credit_notes: Sequence[CreditNoteRef]
    ) -> None:
        """PATCH mixins.invoice.creditNotes (the invoice's full list; integrations.invoice_mixin).

        Nothing is sent when the order lists them already (a repeated step).
        """
        self._write_invoice_mixin(
            order_id,
            lambda current: credited_mixin(current, invoice_number=invoice_number, credit_notes=credit_notes),
            what="the credit notes were",
        )

    def _write_invoice_mixin(
        self, order_id: str, change: Callable[[Any], dict[str, Any]], *, what: str
    ) -> None:
        """Read the order, PATCH the mixin `change(current mixin)` returns unless it is unchanged.

        With the order's metadata.version (optimistic locking): a 409 reads again and retries,
        WRITE_BACK_ATTEMPTS times in all.
        """
        path = _path("order-v2", self.tenant.code, "salesorders", order_id)
        for _attempt in range(WRITE_BACK_ATTEMPTS):
            document = self._document(order_id)
            current = (document.get("mixins") or {}).get(MIXIN)
            wanted = change(current)
            if wanted == current:
                return  # written already (a repeated step)
            metadata: dict[str, Any] = {"mixins": {MIXIN: invoice_mixin_schema_url()}}
            version = (document.get("metadata") or {}).get("version")
            if isinstance(version, int):  # optimistic locking: a stale version answers 409
                metadata["version"] = version
            body = {"mixins": {MIXIN: wanted}, "metadata": metadata}
            response = self.client.request(
                "PATCH", path, params={"recalculate": "false"}, json=body, handled=(409,)
            )
            if response.status_code != 409:
                return
            logger.info("order %s changed while %s written back; reading it again", order_id, what)
        raise TransientError(
            f"Order {order_id} kept changing while {what} written back "
            f"({WRITE_BACK_ATTEMPTS} version conflicts)."
        )


def _q_values(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else "(" + ",".join(values) + ")"


def order_query_q(query: OrderQuery) -> str:
    """The Order service `q` for an AUTOMATIC job (docs: standard-practices/q-param)."""
    parts = [f"status:{_q_values(query.statuses)}"]
    if query.extended_statuses:
        parts.append(f"mixins.generalAttributes.extendedOrderStatus:{_q_values(query.extended_statuses)}")
    if query.delivery_field == DELIVERY_TIME_MIXIN:
        moment = query.delivered_by.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        parts.append(f'mixins.deliveryTime.deliveryDate:<="{moment}"')
    else:
        last_day = query.delivered_by.astimezone(ZoneInfo(query.time_zone)).date().isoformat()
        parts.append(f'deliveryWindow.deliveryDate:<="{last_day}"')
    parts.append("mixins.invoice:missing")
    return " ".join(parts)


def invoice_mixin_schema_url() -> str:
    """EMPORIX_INVOICE_MIXIN_SCHEMA_URL, else the v2 schema this service serves (with creditNotes;
    v1 stays served for the orders written before)."""
    if settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL:
        return str(settings.EMPORIX_INVOICE_MIXIN_SCHEMA_URL)
    base = settings.PUBLIC_BASE_URL or "http://localhost:8000"
    return f"{base}/{settings.STATIC_URL.strip('/')}/schemas/{SCHEMA_FILE}"


# --- invoice and credit note numbers ---------------------------------------------------------------------
def sequence_schema_type(series: str) -> str:
    """The Emporix schema type of a series kind: invoiceNoSequence, or for credit notes
    settings.EMPORIX_CREDIT_NOTE_SEQUENCE (Emporix names no credit-note type of its own)."""
    if series == INVOICE_SERIES:
        return "invoiceNoSequence"
    if series == CREDIT_NOTE_SERIES:
        return str(settings.EMPORIX_CREDIT_NOTE_SEQUENCE)
    series_label(series)  # raises the ValueError naming the kinds
    raise AssertionError(series)  # pragma: no cover


class EmporixNumberSequence:
    """nextId of the tenant's active schema of the series' type (invoiceNoSequence, or
    EMPORIX_CREDIT_NOTE_SEQUENCE for credit notes).

    Not transactional: the number comes over HTTP, so the pipeline reserves it on the invoice
    before issuing (a retried step then reuses it). As in Emporix itself, a call that fails
    after the number was drawn leaves a gap.
    """

    transactional = False

    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def next_number(self, *, site_code: str, at: dt.datetime, series: str = INVOICE_SERIES) -> str:
        label = series_label(series)
        schema_type = sequence_schema_type(series)
        params = {"siteCode": site_code} if site_code else None
        response = self.client.request(
            "POST",
            _path("sequential-id", self.tenant.code, "schemas", "types", schema_type, "nextId"),
            params=params,
            json={"placeholders": dict(self.tenant.emporix_number_placeholders or {})},
            handled=(400, 404, 409),
        )
        if response.status_code == 404:
            how = (
                f" (POST /sequential-id/{self.tenant.code}/schemas with schemaType {schema_type!r}, e.g. "
                "preText 'CN', then setActive; the type is the setting EMPORIX_CREDIT_NOTE_SEQUENCE)"
                if series == CREDIT_NOTE_SERIES
                else ""
            )
            raise PermanentError(
                f"No active {schema_type} schema in Emporix for tenant {self.tenant.code}: "
                f"create and activate one in the Sequential ID service{how}. No {label} number was issued."
            )
        if response.status_code == 409:
            raise SeriesExhausted(
                f"The Emporix {schema_type} of tenant {self.tenant.code} is used up "
                f"({upstream_message(response) or 'maxValue exceeded'}). No {label} number was issued."
            )
        if response.status_code == 400:
            raise PermanentError(
                f"Emporix could not generate {'an' if label[0] in 'aeiou' else 'a'} {label} number: "
                f"{upstream_message(response) or 'bad request'} (check the schema's placeholders: {schema_type})."
            )
        number = response.json().get("id")
        if not isinstance(number, str) or not number:
            raise TransientError("The Emporix Sequential ID service answered without an id.")
        return number


# --- seller (site settings) ---------------------------------------------------------------------------
class EmporixSellerSettings:
    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def default_site_code(self) -> str:
        key = ("default-site", self.tenant.pk, self.tenant.emporix_base_url)
        cached = site_cache.get(key)
        if cached:
            return str(cached)
        sites = self.client.request("GET", _path("site", self.tenant.code, "sites")).json()
        default = next((s for s in sites if isinstance(s, dict) and s.get("default")), None)
        if default is None:
            raise PermanentError(
                f"Tenant {self.tenant.code} has no default site in Emporix and the order names none."
            )
        site_cache.put(key, default["code"], settings.EMPORIX_SITE_CACHE_SECONDS)
        return str(default["code"])

    def site(self, site_code: str) -> dict[str, Any]:
        code = site_code or self.tenant.emporix_site_code or self.default_site_code()
        key = ("site", self.tenant.pk, self.tenant.emporix_base_url, code)
        cached = site_cache.get(key)
        if cached is not None:
            return cached
        response = self.client.request(
            "GET",
            _path("site", self.tenant.code, "sites", code),
            params={"expand": "mixin:*"},
            handled=(404,),
        )
        if response.status_code == 404:
            raise PermanentError(f"Site {code} of tenant {self.tenant.code} not found in Emporix.")
        site: dict[str, Any] = response.json()
        site_cache.put(key, site, settings.EMPORIX_SITE_CACHE_SECONDS)
        return site

    def sender(self) -> str:
        key = ("sender", self.tenant.pk, self.tenant.emporix_base_url)
        cached = site_cache.get(key)
        if cached is not None:
            return str(cached)
        try:
            value = EmporixConfiguration(self.tenant, self.client).get_configuration(SENDER_KEY)
        except UpstreamError as exc:
            # e.g. 403 without configuration.configuration_view: the tenant's own sender will do
            logger.warning(
                "sender address of tenant %s not readable, using the tenant's: %s", self.tenant.code, exc
            )
            value = None
        sender = value.strip() if isinstance(value, str) else ""
        site_cache.put(key, sender, settings.EMPORIX_SITE_CACHE_SECONDS)
        return sender

    def get_seller(self, *, site_code: str) -> Seller:
        site = self.site(site_code)
        mixins = site.get("mixins") or {}
        merchant = mixins.get("merchantInfo") or {}
        finance = merchant.get("merchantFinanceInfo") or {}
        shop = mixins.get("generalShopSettings") or {}
        home = site.get("homeBase") or {}
        address = home.get("address") or {}
        logo_url = shop.get("logoUrl") or ""
        return Seller(
            legal_name=str(
                merchant.get("merchantName") or site.get("name") or self.tenant.legal_name or self.tenant.name
            ),
            address=Address(
                street=str(address.get("street") or ""),
                street_number=str(address.get("streetNumber") or ""),
                street_appendix=str(address.get("streetAppendix") or ""),
                zip_code=str(address.get("zipCode") or ""),
                city=str(address.get("city") or ""),
                state=str(address.get("state") or ""),
                country=str(address.get("country") or ""),
            ),
            vat_id=str(finance.get("merchantSalesTaxId") or self.tenant.vat_id),
            tax_number=self.tenant.tax_number,
            iban=str(finance.get("merchantIban") or self.tenant.iban),
            bic=str(finance.get("merchantBic") or self.tenant.bic),
            email=self.sender() or self.tenant.email_sender or settings.DEFAULT_FROM_EMAIL,
            phone=self.tenant.phone,
            website=self.tenant.website,
            language=str(site.get("defaultLanguage") or self.tenant.default_language),
            time_zone=str(home.get("timezone") or self.tenant.time_zone or "UTC"),
            logo=logo_bytes(logo_url) if logo_url else None,
            prices_include_tax=bool(site.get("includesTax", self.tenant.prices_include_tax)),
            payment_terms=self.tenant.payment_terms,
            currency=str(site.get("currency") or self.tenant.default_currency).upper(),
        )


def logo_bytes(url: str) -> bytes | None:
    """Download the site's logo once per process; None if it cannot be had.

    Bounded in size (EMPORIX_LOGO_MAX_BYTES) and in wall-clock time for the whole download
    (EMPORIX_LOGO_DEADLINE), through the SSRF guard of core.outbound. An invoice
    without its logo is still an invoice: failures are logged, never raised.
    """
    cached = site_cache.get(("logo", url))
    if cached is not None:
        return cached or None
    try:
        data = outbound_fetch(
            url,
            max_bytes=settings.EMPORIX_LOGO_MAX_BYTES,
            deadline_seconds=settings.EMPORIX_LOGO_DEADLINE,
            timeout=(settings.EMPORIX_CONNECT_TIMEOUT, settings.EMPORIX_READ_TIMEOUT),
        )
    except (requests.RequestException, OutboundError) as exc:
        logger.warning("logo %s not used: %s", url, exc)
        data = b""
    # a failed download is remembered for a minute, so a broken logo does not slow every order
    site_cache.put(("logo", url), data, settings.EMPORIX_SITE_CACHE_SECONDS if data else 60)
    return data or None


# --- configuration -------------------------------------------------------------------------------------
class EmporixConfiguration:
    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def get_configuration(self, key: str) -> object | None:
        response = self.client.request(
            "GET", _path("configuration", self.tenant.code, "configurations", key), handled=(404,)
        )
        if response.status_code == 404:
            return None
        body = response.json()
        return body.get("value") if isinstance(body, dict) else None


# --- buyers -------------------------------------------------------------------------------------------
ANONYMOUS_CUSTOMER = "ANONYMOUS"  # the order's customer.id without a customer account (order spec)


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:  # a 200 without JSON: some proxy's page, not the service's answer
        raise TransientError(f"{what} came without a JSON body.") from exc


class EmporixCustomerDirectory:
    """Legal entities from Customer Management, customers from the Customer service.

    A 404 is "no such buyer" (None). A legal entity it cannot read fails the order: the invoice
    would lack the buyer's legal name and VAT ID. A customer it may not read (403, no
    customer.customer_read) only loses the preferred language: logged, and None.
    """

    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def get_legal_entity(self, legal_entity_id: str) -> LegalEntity | None:
        if not legal_entity_id:
            return None
        response = self.client.request(
            "GET",
            _path("customer-management", self.tenant.code, "legal-entities", legal_entity_id),
            handled=(404,),
        )
        if response.status_code == 404:
            return None
        what = f"Legal entity {legal_entity_id} from the Emporix Customer Management service"
        return read_legal_entity(_json(response, what), legal_entity_id, source="in Emporix")

    def get_customer(self, customer_number: str) -> CustomerProfile | None:
        if not customer_number or customer_number == ANONYMOUS_CUSTOMER:
            return None
        try:
            response = self.client.request(
                "GET", _path("customer", self.tenant.code, "customers", customer_number), handled=(404,)
            )
        except UpstreamError as exc:
            if exc.status != 403:
                raise
            logger.warning(
                "customer %s of tenant %s not readable, using the site's language: %s",
                customer_number,
                self.tenant.code,
                exc,
            )
            return None
        if response.status_code == 404:
            return None
        what = f"Customer {customer_number} from the Emporix Customer service"
        return read_customer(_json(response, what), customer_number)


# --- exchange rates -------------------------------------------------------------------------------------
_DECIMAL_COMMA = re.compile(r"^\d+,\d+$")


class EmporixExchangeRates:
    """`GET /currency/{tenant}/exchanges/{SOURCE}_{TARGET}` (a pair's code in the Currency service).

    Emporix keeps one current rate per pair, without history: it is returned whatever day is
    asked, dated by when it was last set (`metadata.modifiedAt`, else the day asked). A pair kept
    only the other way round is derived (1 / rate, ExchangeRate.inverted).
    """

    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def get_rate(self, *, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        source, target = source.upper(), target.upper()
        if source == target:
            return ExchangeRate(source=source, target=target, rate=Decimal(1), as_of=on)
        direct = self._exchange(source, target, on)
        if direct is not None:
            return direct
        reverse = self._exchange(target, source, on)
        return reverse.inverted() if reverse is not None else None

    def _exchange(self, source: str, target: str, on: dt.date) -> ExchangeRate | None:
        code = f"{source}_{target}"
        response = self.client.request(
            "GET", _path("currency", self.tenant.code, "exchanges", code), handled=(404,)
        )
        if response.status_code == 404:
            return None
        body = _json(response, f"Exchange rate {code} from the Emporix Currency service")
        if not isinstance(body, dict):
            raise PermanentError(f"The Emporix Currency service answered {code} without an exchange rate.")
        for key, expected in (("sourceCurrency", source), ("targetCurrency", target)):
            if body.get(key) not in (None, "", expected):
                raise PermanentError(
                    f"The Emporix Currency service answered {code} with {key} {str(body[key])[:10]!r}."
                )
        rate = _rate(body.get("rate"))
        if rate is None:
            raise PermanentError(
                f"The Emporix Currency service has no usable rate for {code}: "
                f"{shorten_upstream_text(str(body.get('rate')), 40)!r}."
            )
        modified = _modified_day(body.get("metadata"))
        if modified is not None and modified > on:
            logger.info(
                "exchange rate %s of tenant %s was set after %s (on %s)", code, self.tenant.code, on, modified
            )
        return ExchangeRate(source=source, target=target, rate=rate, as_of=modified or on)


def _rate(value: Any) -> Decimal | None:
    """A rate as the Currency service writes it: a string ("0.91"; the spec also mentions a
    decimal comma), finite and positive; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    if _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    try:
        rate = to_decimal(text) if len(text) <= 40 else None
    except (InvalidOperation, ValueError):
        return None
    if rate is None or not rate.is_finite() or rate <= 0:
        return None
    return rate


def _modified_day(metadata: Any) -> dt.date | None:
    value = metadata.get("modifiedAt") if isinstance(metadata, dict) else None
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).date()


# --- payments -------------------------------------------------------------------------------------------
class EmporixPaymentGateway:
    def __init__(self, tenant: Tenant, client: EmporixClient) -> None:
        self.tenant = tenant
        self.client = client

    def capture(
        self, *, transaction_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> CaptureResult:
        # The gateway has no idempotency key; never-twice rests on our UNKNOWN handling instead.
        try:
            response = self.client.request(
                "POST",
                _path("payment-gateway", self.tenant.code, "payment", transaction_id, "capture"),
                json={"amount": float(amount), "currency": currency},
            )
        except UpstreamError as exc:  # 4xx: the gateway refused the request, nothing was captured
            return CaptureResult(successful=False, message=exc.message)
        body = response.json()
        return CaptureResult(
            successful=bool(body.get("successful")),
            capture_id=str(body.get("captureId") or ""),
            message=shorten_upstream_text(body["message"]) if isinstance(body.get("message"), str) else "",
        )

    def capture_status(self, *, transaction_id: str) -> CaptureStatus:
        response = self.client.request(
            "GET", _path("payment-gateway", self.tenant.code, "transactions", transaction_id)
        )
        for entry in response.json().get("entries") or []:
            if str(entry.get("type", "")).upper() == "CAPTURE" and entry.get("successful"):
                amount = (entry.get("amount") or {}).get("amount")
                return CaptureStatus(
                    captured=True,
                    capture_id=str(entry.get("id") or ""),
                    amount=to_decimal(amount) if amount is not None else None,
                )
        return CaptureStatus(captured=False)

    def refund(
        self,
        *,
        transaction_id: str,
        amount: Decimal,
        currency: str,
        capture_id: str,
        idempotency_key: str,
    ) -> RefundResult:
        """POST …/payment/{transactionId}/refund with refundRequest {amount, currency, captureId?}.

        The answer is commonPaymentResponse {successful, message}: no refund id (refund_id stays
        ""; refunds() reads the REFUND entries' ids). A 4xx means the gateway refused the request,
        nothing was refunded: RefundResult(successful=False) with the upstream message. Timeouts,
        5xx and an answer without JSON raise TransientError: the outcome is UNKNOWN, to be resolved
        with refunds(). The gateway has no idempotency key (as for capture).
        """
        body: dict[str, Any] = {"amount": float(amount), "currency": currency}
        if capture_id:
            body["captureId"] = capture_id
        path = _path("payment-gateway", self.tenant.code, "payment", transaction_id, "refund")
        try:
            response = self.client.request("POST", path, json=body)
        except UpstreamError as exc:  # 4xx: the gateway refused the request, nothing was refunded
            return RefundResult(successful=False, message=exc.message)
        answer = _json(response, f"The Emporix Payment Gateway's answer to the refund of {transaction_id}")
        if not isinstance(answer, dict) or not isinstance(answer.get("successful"), bool):
            raise TransientError(
                f"The Emporix Payment Gateway answered the refund of {transaction_id} without saying "
                "whether it succeeded; the outcome is unknown."
            )
        message = shorten_upstream_text(answer["message"]) if isinstance(answer.get("message"), str) else ""
        if answer["successful"]:
            return RefundResult(successful=True, message=message)
        return RefundResult(
            successful=False, message=message or "The payment gateway declined the refund without a reason."
        )

    def refunds(self, *, transaction_id: str) -> tuple[RefundEntry, ...]:
        """The transaction's successful REFUND entries (GET …/transactions/{id}), oldest first.

        A transaction the gateway does not know (404) has no refunds.
        """
        response = self.client.request(
            "GET", _path("payment-gateway", self.tenant.code, "transactions", transaction_id), handled=(404,)
        )
        if response.status_code == 404:
            return ()
        body = _json(response, f"Payment transaction {transaction_id} from the Emporix Payment Gateway")
        entries = body.get("entries") if isinstance(body, dict) else None
        found: list[RefundEntry] = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or str(entry.get("type", "")).upper() != "REFUND":
                continue
            if entry.get("successful") is not True:
                continue
            raw = entry.get("amount")
            money: dict[str, Any] = raw if isinstance(raw, dict) else {}
            found.append(
                RefundEntry(
                    refund_id=str(entry.get("id") or ""),
                    amount=_amount(money.get("amount")),
                    currency=str(money.get("currency") or "").upper(),
                    created_at=_timestamp(entry.get("createdDate")),
                )
            )
        # oldest first; entries without a date keep their place before the dated ones
        return tuple(sorted(found, key=lambda e: (e.created_at is not None, e.created_at or _EPOCH)))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = to_decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _timestamp(value: Any) -> dt.datetime | None:
    """An entry's createdDate (ISO 8601, "Z" or an offset; naive read as UTC); None if unreadable."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
