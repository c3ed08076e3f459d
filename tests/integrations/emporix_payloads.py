"""Emporix request and response bodies for tests that mock the HTTP boundary (`responses`).

Every builder returns a plain, JSON-serialisable dict (or list) and validates it against the
published spec in `<shared>/spec/emporix/` *before* returning it: against the schema of the very
operation and status code the body belongs to (tests.spec_utils.validate_request_body /
validate_response_body), so a mock can never answer with something the real API would not send,
and a request the test expects is one the real API accepts. Where the spec declares nothing for
a status (see the builder's docstring) the body is checked against the service's common error
schema instead, and the docstring says so.

The defaults tell one consistent story: tenant "shop", site "main" (the default site) of the
seller "Nordlicht Handels GmbH" (the seller of the demo orders in integrations.local.demo, with
the seed_demo command's address and bank details), currency EUR, orders DEMO-1001 … DEMO-1020.

`Endpoint` names each call the service makes (spec file, method, path template) and builds its
URL for `responses`:

    responses.get(GET_ORDER.url(orderId="DEMO-1001"), json=sales_order("DEMO-1001"))
    responses.patch(PATCH_ORDER.url(orderId="DEMO-1001"), status=204)
    ...
    PATCH_ORDER.check_request(responses.calls[1].request.body)  # the body the service sent
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.local.demo import CURRENCY, SITE_CODE, demo_sales_orders
from tests.spec_utils import validate_against_spec, validate_request_body, validate_response_body

BASE_URL = "https://api.emporix.io"
TENANT = "shop"
DEFAULT_ORDER_ID = "DEMO-1001"  # CONFIRMED, extended status 70, card payment via payment-gateway
INVOICE_SCHEMA_TYPE = "invoiceNoSequence"
# Emporix names no credit-note schema type; the service's default (settings.EMPORIX_CREDIT_NOTE_SEQUENCE).
CREDIT_NOTE_SCHEMA_TYPE = "creditNoteNoSequence"
SENDER_KEY = "cust.notification.email.from"
# The invoice mixin's schema URL is not public (docs §1.4); this one is the test's stand-in.
INVOICE_MIXIN_SCHEMA_URL = "https://invoice.example.com/schemas/orderInvoiceMixin.v1.json"
INVOICE_MIXIN_V2_SCHEMA_URL = "https://invoice.example.com/schemas/orderInvoiceMixin.v2.json"

# The invoice service's own scopes (docs §0), as granted to its API key.
DEFAULT_SCOPES: tuple[str, ...] = (
    "order.order_read",
    "order.order_update",
    "configuration.configuration_view",
    "sequentialid.schema_view",
    "payment-gateway.capture_manage",
    "payment-gateway.paymenttransactions_read",
    "payment-gateway.refund_manage",  # credit notes of captured card payments
)

OAUTH_SPEC = "emporix/authentication/oauth-service/api-reference/api.yml"
ORDER_SPEC = "emporix/orders/order/api-reference/api.yml"
SEQUENTIAL_ID_SPEC = "emporix/utilities/sequential-id/api-reference/api.yml"
SITE_SPEC = "emporix/configuration/site-settings-service/api-reference/api.yml"
CONFIGURATION_SPEC = "emporix/configuration/configuration-service/api-reference/api.yml"
PAYMENT_SPEC = "emporix/checkout/payment-gateway/api-reference/api.yml"

_MIXIN_SCHEMA_BASE = "https://res.cloudinary.com/saas-ag/raw/upload/emporix-docs/"
GENERAL_SHOP_SETTINGS_SCHEMA_URL = f"{_MIXIN_SCHEMA_BASE}generalShopSettingsSiteMixIn.v10"
MERCHANT_INFO_SCHEMA_URL = f"{_MIXIN_SCHEMA_BASE}merchantAddressMixin.v10"


@dataclass(frozen=True)
class Endpoint:
    """One Emporix operation as the spec declares it."""

    spec: str
    method: str
    path: str

    def url(self, base_url: str = BASE_URL, *, tenant: str = TENANT, **params: str) -> str:
        """The URL of this call, path parameters filled in (URL-quoted); no query string."""
        values = {"tenant": tenant, **params}
        path = self.path.format(**{key: urllib.parse.quote(str(v), safe="") for key, v in values.items()})
        return base_url.rstrip("/") + path

    def check_request(self, body: Any, **kwargs: Any) -> Any:
        """validate_request_body for this operation; returns the (decoded) body."""
        return validate_request_body(self.spec, self.method, self.path, body, **kwargs)

    def check_response(self, status: int, body: Any, **kwargs: Any) -> Any:
        """validate_response_body for this operation; returns the (decoded) body."""
        return validate_response_body(self.spec, self.method, self.path, status, body, **kwargs)


TOKEN = Endpoint(OAUTH_SPEC, "POST", "/oauth/token")
LIST_ORDERS = Endpoint(ORDER_SPEC, "GET", "/order-v2/{tenant}/salesorders")
GET_ORDER = Endpoint(ORDER_SPEC, "GET", "/order-v2/{tenant}/salesorders/{orderId}")
PATCH_ORDER = Endpoint(ORDER_SPEC, "PATCH", "/order-v2/{tenant}/salesorders/{orderId}")
NEXT_ID = Endpoint(SEQUENTIAL_ID_SPEC, "POST", "/sequential-id/{tenant}/schemas/types/{schemaType}/nextId")
SCHEMAS_OF_TYPE = Endpoint(SEQUENTIAL_ID_SPEC, "GET", "/sequential-id/{tenant}/schemas/types/{schemaType}")
GET_SITE = Endpoint(SITE_SPEC, "GET", "/site/{tenant}/sites/{siteCode}")
LIST_SITES = Endpoint(SITE_SPEC, "GET", "/site/{tenant}/sites")
GET_CONFIGURATION = Endpoint(
    CONFIGURATION_SPEC, "GET", "/configuration/{tenant}/configurations/{propertyKey}"
)
CAPTURE = Endpoint(PAYMENT_SPEC, "POST", "/payment-gateway/{tenant}/payment/{transactionId}/capture")
GET_TRANSACTION = Endpoint(PAYMENT_SPEC, "GET", "/payment-gateway/{tenant}/transactions/{transactionId}")
REFUND = Endpoint(PAYMENT_SPEC, "POST", "/payment-gateway/{tenant}/payment/{transactionId}/refund")

# The calls whose spec declares the gateway's 401 / the 403 "insufficient_permissions" answer.
# (Order and Configuration declare no 401, Configuration's GET no 403.)
DECLARES_401: tuple[Endpoint, ...] = (NEXT_ID, GET_SITE, LIST_SITES, CAPTURE, GET_TRANSACTION, REFUND)
DECLARES_403: tuple[Endpoint, ...] = (
    LIST_ORDERS,
    GET_ORDER,
    PATCH_ORDER,
    NEXT_ID,
    GET_SITE,
    LIST_SITES,
    CAPTURE,
    GET_TRANSACTION,
    REFUND,
)


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""An override value that removes the key: `sales_order(deliveryWindow=OMIT)`."""


def _apply(document: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys replaced (deep-copied) or, with OMIT, removed."""
    for key, value in overrides.items():
        if value is OMIT:
            document.pop(key, None)
        else:
            document[key] = copy.deepcopy(value)
    return document


def _money(value: float | int | Decimal) -> float | int:
    """A JSON number (a Decimal becomes the float whose repr is the same decimal)."""
    return float(value) if isinstance(value, Decimal) else value


# --- OAuth -------------------------------------------------------------------------------------
def token_request(
    client_id: str = "invoice-service", client_secret: str = "s3cr3t", *, scope: str | None = None
) -> dict[str, str]:
    """The form fields of POST /oauth/token (validated: AccessTokenRequest, form-encoded)."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if scope is not None:
        form["scope"] = scope
    TOKEN.check_request(form)
    return form


def token(
    access_token: str = "tok-1",
    expires_in: int = 14399,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    tenant: str = TENANT,
) -> dict[str, Any]:
    """200 of POST /oauth/token (AccessToken), in the shape of the spec's example.

    The granted `scope` is space-separated and carries the `tenant=<tenant>` marker (docs §7).
    """
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "session_idle_time": 120,
        "refresh_token": "",
        "refresh_token_expires_in": 0,
        "scope": " ".join([*scopes, f"tenant={tenant}"]),
    }
    TOKEN.check_response(200, body)
    return body


# --- Order -------------------------------------------------------------------------------------
@functools.cache
def _demo_orders() -> dict[str, dict[str, Any]]:
    return {order["id"]: order for order in demo_sales_orders()}


def demo_order_ids() -> list[str]:
    return list(_demo_orders())


def _transaction_id_for(order_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://invoice.example.com/tests/transactions/{order_id}"))


def sales_order(
    order_id: str = DEFAULT_ORDER_ID,
    *,
    site_code: str = SITE_CODE,
    invoice_no: str | None = None,
    invoice_document: str | None = None,
    version: int = 1,
    base: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """200 of GET /order-v2/{tenant}/salesorders/{orderId} (salesOrder).

    A demo order (integrations.local.demo): `order_id` itself when it is one of DEMO-1001 …
    DEMO-1020, else a copy of `base` (default DEMO-1001) renamed to `order_id`, with its own card
    transaction id. Card payments carry `provider: "payment-gateway"` and a `transactionId`;
    invoice / cash-on-delivery payments carry none (nothing to capture).
    `invoice_no` adds the invoice mixin (`mixins.invoice {invoiceNo[, invoiceDocument]}` and its
    schema URL in `metadata.mixins`), i.e. an order that was invoiced already.
    `overrides` replace top-level keys (OMIT removes one); the result is validated after them.
    """
    orders = _demo_orders()
    source_id = base or (order_id if order_id in orders else DEFAULT_ORDER_ID)
    if source_id not in orders:
        raise KeyError(f"{source_id} is not a demo order (DEMO-1001 … DEMO-1020)")
    order = copy.deepcopy(orders[source_id])
    if order_id != source_id:
        order["id"] = order_id
        order["mixins"]["generalAttributes"]["orderNumber"] = order_id
        for entry in order["entries"]:
            entry["id"] = entry["id"].replace(source_id, order_id, 1)
            for discount in entry["calculatedPrice"].get("discountedPrice", {}).get("appliedDiscounts", []):
                discount["id"] = discount["id"].replace(source_id, order_id, 1)
        for payment in order["payments"]:
            if "transactionId" in payment:
                payment["transactionId"] = _transaction_id_for(order_id)
    order["siteCode"] = site_code
    order["metadata"]["version"] = version
    if invoice_no is not None:
        invoice = {"invoiceNo": invoice_no}
        if invoice_document is not None:
            invoice["invoiceDocument"] = invoice_document
        order["mixins"]["invoice"] = invoice
        order["metadata"]["mixins"]["invoice"] = INVOICE_MIXIN_SCHEMA_URL
    _apply(order, overrides)
    GET_ORDER.check_response(200, order)
    return order


def card_transaction_id(order: Mapping[str, Any] | str = DEFAULT_ORDER_ID) -> str | None:
    """The payment-gateway transaction to capture for an order (dict or order id); None if the
    order is paid by invoice or cash on delivery."""
    document = sales_order(order) if isinstance(order, str) else order
    for payment in document.get("payments") or []:
        if payment.get("provider") == "payment-gateway" and payment.get("transactionId"):
            return str(payment["transactionId"])
    return None


def sales_orders(*orders: dict[str, Any]) -> list[dict[str, Any]]:
    """200 of GET /order-v2/{tenant}/salesorders (array of salesOrder); pass sales_order(...)s."""
    body = [copy.deepcopy(order) for order in orders]
    LIST_ORDERS.check_response(200, body)
    return body


def order_invoice_patch(
    invoice_no: str,
    document_url: str | None,
    *,
    schema_url: str = INVOICE_MIXIN_SCHEMA_URL,
    version: int = 1,
) -> dict[str, Any]:
    """The body of PATCH /order-v2/{tenant}/salesorders/{orderId}?recalculate=false writing the
    invoice back (docs §1.4), validated as that operation's request body (orderUpdateDto, made
    partial by the PATCH erratum in tests.spec_utils). `version` is the order's metadata.version
    (optimistic locking: a stale one gets 409 version_conflict())."""
    invoice = {"invoiceNo": invoice_no}
    if document_url is not None:
        invoice["invoiceDocument"] = document_url
    body = {
        "mixins": {"invoice": invoice},
        "metadata": {"mixins": {"invoice": schema_url}, "version": version},
    }
    PATCH_ORDER.check_request(body)
    return body


def credit_note_entry(
    credit_note_no: str = "CN1001",
    *,
    invoice_no: str = "INV1001",
    document_url: str | None = None,
    gross_amount: float | int | Decimal = 23.8,
    currency: str = CURRENCY,
    issue_date: str = "2026-02-03",
    cancels_invoice: bool = False,
) -> dict[str, Any]:
    """One item of mixins.invoice.creditNotes (the invoice mixin v2, invoicing/static/schemas)."""
    entry: dict[str, Any] = {"creditNoteNo": credit_note_no}
    if document_url is not None:
        entry["creditNoteDocument"] = document_url
    entry.update(
        grossAmount=_money(gross_amount),
        currency=currency,
        issueDate=issue_date,
        cancelsInvoice=cancels_invoice,
        invoiceNo=invoice_no,
    )
    return entry


def order_credit_patch(
    invoice_no: str,
    document_url: str | None,
    credit_notes: Iterable[dict[str, Any]],
    *,
    schema_url: str = INVOICE_MIXIN_V2_SCHEMA_URL,
    version: int = 1,
) -> dict[str, Any]:
    """The body of PATCH …/salesorders/{orderId}?recalculate=false writing credit notes back: the
    whole invoice mixin (invoiceNo, invoiceDocument, creditNotes: credit_note_entry(...)s),
    validated as that operation's request body like order_invoice_patch."""
    invoice: dict[str, Any] = {"invoiceNo": invoice_no}
    if document_url is not None:
        invoice["invoiceDocument"] = document_url
    invoice["creditNotes"] = [copy.deepcopy(entry) for entry in credit_notes]
    body = {
        "mixins": {"invoice": invoice},
        "metadata": {"mixins": {"invoice": schema_url}, "version": version},
    }
    PATCH_ORDER.check_request(body)
    return body


def order_not_found() -> dict[str, Any]:
    """404 of GET and of PATCH …/salesorders/{orderId} (the spec's trait_order_404 example)."""
    body = {
        "status": 404,
        "message": "The requested resource was not found on the server.",
        "type": "element_resource_non_existing",
    }
    GET_ORDER.check_response(404, body)
    PATCH_ORDER.check_response(404, body)
    return body


def version_conflict() -> dict[str, Any]:
    """409 of PATCH …/salesorders/{orderId}: metadata.version is outdated (trait_order_409)."""
    body = {
        "status": 409,
        "message": "Order update cannot be done. Update version is not valid.",
        "type": "conflict_resource",
    }
    PATCH_ORDER.check_response(409, body)
    return body


# --- Sequential ID -----------------------------------------------------------------------------
def next_id_request(
    placeholders: Mapping[str, str] | None = None, *, sequence_key: str | None = None
) -> dict[str, Any]:
    """The body of POST /sequential-id/{tenant}/schemas/types/invoiceNoSequence/nextId?siteCode=…
    (NextIdCommandRequest). Default placeholders {"__num__": ""}: the tutorial's schema
    "INV__num__" requires `__num__`, which is no built-in (docs §3.3)."""
    body: dict[str, Any] = {
        "placeholders": dict(placeholders if placeholders is not None else {"__num__": ""})
    }
    if sequence_key is not None:
        body["sequenceKey"] = sequence_key
    NEXT_ID.check_request(body)
    return body


def next_id(id_: str = "INV1001") -> dict[str, Any]:
    """201 of POST …/nextId (NextIdResponse; `id` required by a tightening erratum)."""
    body = {"id": id_}
    NEXT_ID.check_response(201, body)
    return body


def sequence_not_found(schema_type: str = INVOICE_SCHEMA_TYPE) -> dict[str, Any]:
    """404 of POST …/nextId: no active schema of the type (message as reported in docs §3.3)."""
    body = {"status": 404, "message": f"Active schema with the type {schema_type} doesn't exist!"}
    NEXT_ID.check_response(404, body)
    return body


def sequence_schemas(
    schema_type: str = INVOICE_SCHEMA_TYPE,
    *,
    pre_text: str = "INV",
    counter: int | None = 1000,
    active: bool = True,
    number_of_digits: int = 4,
    placeholders: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """200 of GET /sequential-id/{tenant}/schemas/types/{schemaType} (SequenceSchemas): one schema
    of the type, named like it (docs §3.2). `counter` None leaves it out (no id drawn yet)."""
    schema: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://invoice.example.com/tests/schemas/{schema_type}")),
        "name": schema_type,
        "schemaType": schema_type,
        "active": active,
        "preText": pre_text,
        "postText": "",
        "startValue": 1000,
        "maxValue": 999999999,
        "numberOfDigits": number_of_digits,
    }
    if counter is not None:
        schema["counter"] = counter
    if placeholders is not None:
        schema["placeholders"] = {name: dict(spec) for name, spec in placeholders.items()}
    body = [schema]
    SCHEMAS_OF_TYPE.check_response(200, body)
    return body


def sequence_exhausted() -> dict[str, Any]:
    """409 of POST …/nextId: maxValue used up (docs §3.3, community skill).

    The spec declares no 409 for nextId, so this is validated against the service's common
    `components.schemas.error`, the schema of all its declared error responses.
    """
    body = {"status": 409, "message": "Not enough free ids left in this schema. MaxValue is exceeded"}
    validate_against_spec(body, SEQUENTIAL_ID_SPEC, "error")
    return body


def placeholder_missing(name: str = "__num__") -> dict[str, Any]:
    """400 of POST …/nextId: a required placeholder stayed unresolved.

    Only the status is documented; the message is the spec's generic 400 example, the detail
    naming the placeholder is an assumption (the `error` schema's `errorDetails`).
    """
    body = {
        "status": 400,
        "message": "There are validation problems, see details section for more information",
        "errorDetails": [{"field": f"placeholders.{name}", "message": f"Placeholder {name} is required"}],
    }
    NEXT_ID.check_response(400, body)
    return body


# --- Site settings -----------------------------------------------------------------------------
def site(
    code: str = SITE_CODE,
    *,
    default: bool = True,
    logo_url: str | None = "https://cdn.example.com/logo.png",
    timezone: str | None = "Europe/Berlin",
    name: str = "Nordlicht Demo Shop",
    merchant_name: str | None = "Nordlicht Handels GmbH",
    sales_tax_id: str | None = "DE123456789",
    iban: str | None = "DE89370400440532013000",
    bic: str | None = "COBADEFFXXX",
    default_language: str = "en",
    includes_tax: bool = True,
    with_mixins: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """200 of GET /site/{tenant}/sites/{siteCode}?expand=mixin:* (SiteDto).

    Mixins: `generalShopSettings.logoUrl` (None: no logo) and `merchantInfo` {merchantName,
    merchantFinanceInfo {merchantSalesTaxId, merchantIban, merchantBic}} (merchant_name None:
    no merchantInfo mixin; a finance value None: that field left out). `with_mixins=False` is the
    answer without `expand=mixin:*` (schema URLs in metadata.mixins only). The mixins' own
    schemas are not in the spec (external URLs); the spec types `mixins` as a free-form object.
    `taxDeterminationBasedOn` is present because SiteDto requires it (though none of the spec's
    own site examples has it). `overrides` replace top-level keys (OMIT removes one).
    """
    home_base: dict[str, Any] = {
        "address": {
            "street": "Hafenstraße",
            "streetNumber": "12",
            "zipCode": "20457",
            "city": "Hamburg",
            "country": "DE",
        }
    }
    if timezone is not None:
        home_base["timezone"] = timezone
    mixins: dict[str, Any] = {}
    schema_urls: dict[str, str] = {}
    shop_settings: dict[str, Any] = {"brandName": name, "shopCountry": {"code": "DE"}}
    if logo_url is not None:
        shop_settings["logoUrl"] = logo_url
    mixins["generalShopSettings"] = shop_settings
    schema_urls["generalShopSettings"] = GENERAL_SHOP_SETTINGS_SCHEMA_URL
    if merchant_name is not None:
        finance = {
            key: value
            for key, value in (
                ("merchantSalesTaxId", sales_tax_id),
                ("merchantIban", iban),
                ("merchantBic", bic),
            )
            if value is not None
        }
        mixins["merchantInfo"] = {"merchantName": merchant_name, "merchantFinanceInfo": finance}
        schema_urls["merchantInfo"] = MERCHANT_INFO_SCHEMA_URL
    body: dict[str, Any] = {
        "code": code,
        "name": name,
        "active": True,
        "default": default,
        "includesTax": includes_tax,
        "defaultLanguage": default_language,
        "languages": sorted({default_language, "de", "en"}),
        "currency": CURRENCY,
        "availableCurrencies": [CURRENCY],
        "homeBase": home_base,
        "shipToCountries": ["DE", "AT"],
        "taxDeterminationBasedOn": "BILLING_ADDRESS",
        "cartCalculationScale": 2,
        "metadata": {"mixins": schema_urls, "version": 1},
    }
    if with_mixins:
        body["mixins"] = mixins
    _apply(body, overrides)
    GET_SITE.check_response(200, body)
    return body


def sites(*site_dicts: dict[str, Any]) -> list[dict[str, Any]]:
    """200 of GET /site/{tenant}/sites (array of SiteDto), e.g. sites(site("main"), site("at",
    default=False)). No argument: an empty list (a tenant without active sites)."""
    body = [copy.deepcopy(entry) for entry in site_dicts]
    LIST_SITES.check_response(200, body)
    return body


def site_not_found(code: str = SITE_CODE) -> dict[str, Any]:
    """404 of GET /site/{tenant}/sites/{siteCode} (the spec's 404_siteNotFound example, its odd
    `"type": "application/json"` included)."""
    body = {
        "status": 404,
        "type": "application/json",
        "message": "Site not Found",
        "moreInfo": "",
        "details": [{"message": f"Couldn't find a site with code '{code}'", "moreInfo": ""}],
    }
    GET_SITE.check_response(404, body)
    return body


# --- Configuration -----------------------------------------------------------------------------
def configuration(
    key: str = SENDER_KEY,
    value: Any = "invoices@nordlicht.example",
    *,
    version: int = 1,
    secured: bool = False,
) -> dict[str, Any]:
    """200 of GET /configuration/{tenant}/configurations/{propertyKey} (Configuration).

    The spec allows a value that is an object, a string, an array of objects or a boolean.
    """
    body = {"key": key, "value": copy.deepcopy(value), "version": version, "secured": secured}
    GET_CONFIGURATION.check_response(200, body)
    return body


def invoice_settings(
    threshold: str = "24", status: str = "CREATED,CONFIRMED", extended_status: str = "70,75,76"
) -> dict[str, Any]:
    """The `invoiceSettings` configuration (docs §2): three comma-separated strings."""
    return configuration(
        "invoiceSettings", {"threshold": threshold, "status": status, "extendedOrderStatus": extended_status}
    )


def configuration_not_found(key: str = SENDER_KEY, tenant: str = TENANT) -> dict[str, Any]:
    """404 of GET …/configurations/{propertyKey} (the spec's 404_global example; its doubled
    quotes ''key'' are a MessageFormat artefact of the example, written as single quotes)."""
    body = {
        "details": [
            {
                "message": f"Could not find the tenant configuration with the propertyKey '{key}' "
                f"for the tenant '{tenant}'"
            }
        ],
        "message": "Configuration not found",
        "status": 404,
        "type": "application/json",
    }
    GET_CONFIGURATION.check_response(404, body)
    return body


# --- Payment gateway ---------------------------------------------------------------------------
def capture_request(amount: float | int | Decimal = 3.99, currency: str = CURRENCY) -> dict[str, Any]:
    """The body of POST /payment-gateway/{tenant}/payment/{transactionId}/capture (captureRequest)."""
    body = {"amount": _money(amount), "currency": currency}
    CAPTURE.check_request(body)
    return body


_AUTO: Any = object()


def capture_result(
    successful: bool = True, capture_id: str | None = _AUTO, message: str | None = None
) -> dict[str, Any]:
    """200 of POST …/capture (paymentCaptureResponse). A failed capture is a 200 as well, with
    successful false and a message. Defaults: captureId "capture-1" when successful, none when
    not; message none when successful, a decline when not. None leaves a field out."""
    if capture_id is _AUTO:
        capture_id = "capture-1" if successful else None
    if message is None and not successful:
        message = "The capture was declined by the payment provider."
    body: dict[str, Any] = {"successful": successful}
    if message is not None:
        body["message"] = message
    if capture_id is not None:
        body["captureId"] = capture_id
    CAPTURE.check_response(200, body)
    return body


def refund_request(
    amount: float | int | Decimal = 3.99, currency: str = CURRENCY, *, capture_id: str | None = None
) -> dict[str, Any]:
    """The body of POST /payment-gateway/{tenant}/payment/{transactionId}/refund (refundRequest):
    {amount, currency}, with captureId when the refund names the capture."""
    body: dict[str, Any] = {"amount": _money(amount), "currency": currency}
    if capture_id is not None:
        body["captureId"] = capture_id
    REFUND.check_request(body)
    return body


def refund_result(successful: bool = True, message: str | None = _AUTO) -> dict[str, Any]:
    """200 of POST …/refund (commonPaymentResponse {successful, message}; no refund id). A declined
    refund is a 200 with successful false. Default message: the spec's "Success!" example when
    successful, a decline when not; None leaves it out."""
    if message is _AUTO:
        message = "Success!" if successful else "The refund was declined by the payment provider."
    body: dict[str, Any] = {"successful": successful}
    if message is not None:
        body["message"] = message
    REFUND.check_response(200, body)
    return body


def refund_not_supported(message: str = "The payment action is not supported.") -> dict[str, Any]:
    """422 of POST …/refund (coreErrorMessage, the spec's example shape)."""
    body = {"code": 422, "timestamp": "2026-01-05T08:13:00.000000Z", "message": message}
    REFUND.check_response(422, body)
    return body


def _stamp(minutes: int) -> str:
    moment = dt.datetime(2026, 1, 5, 8, 13, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def transaction(
    transaction_id: str | None = None,
    *,
    captured: bool = False,
    amount: float | int | Decimal | None = None,
    currency: str = CURRENCY,
    captured_amount: float | int | Decimal | None = None,
    provider: str = "SPREEDLY",
    refunds: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """200 of GET /payment-gateway/{tenant}/transactions/{transactionId} (paymentTransactionResponse).

    Default: DEMO-1001's card transaction, authorized for its total. `captured` adds a successful
    CAPTURE entry of `captured_amount` (default: the authorized `amount`). `provider` is the
    payment mode's provider (SPREEDLY, UNZER, …; the order's payment says "payment-gateway").
    `refunds` adds one REFUND entry each, after the capture: {"amount", optional "id",
    "successful" (default True), "currency", "minutes" (after the authorisation, default one day
    and one hour per refund)}.
    """
    if transaction_id is None:
        transaction_id = card_transaction_id(DEFAULT_ORDER_ID)
        assert transaction_id is not None
    if amount is None:
        amount = _demo_orders()[DEFAULT_ORDER_ID]["totalAuthorizedAmount"]
    entries: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{transaction_id}/AUTHORIZATION")),
            "createdDate": _stamp(0),
            "type": "AUTHORIZATION",
            "successful": True,
            "amount": {"amount": _money(amount), "currency": currency},
            "summary": "Succeeded!",
        }
    ]
    if captured:
        entries.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{transaction_id}/CAPTURE")),
                "createdDate": _stamp(60 * 24),
                "type": "CAPTURE",
                "successful": True,
                "amount": {
                    "amount": _money(amount if captured_amount is None else captured_amount),
                    "currency": currency,
                },
                "summary": "Succeeded!",
            }
        )
    for index, refund in enumerate(refunds, start=1):
        successful = bool(refund.get("successful", True))
        entries.append(
            {
                "id": str(
                    refund.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{transaction_id}/REFUND/{index}")
                ),
                "createdDate": _stamp(int(refund.get("minutes", 60 * 24 + 60 * index))),
                "type": "REFUND",
                "successful": successful,
                "amount": {"amount": _money(refund["amount"]), "currency": refund.get("currency", currency)},
                "summary": "Succeeded!" if successful else "Declined",
            }
        )
    body = {
        "id": transaction_id,
        "provider": provider,
        "paymentInformation": {
            "paymentMode": "92d77b2b-9385-43ad-a859-55176fbcbd2f",
            "creditCardToken": "FrHVCFtcshQ8gkOR8t5RlneLy02",
        },
        "entries": entries,
    }
    GET_TRANSACTION.check_response(200, body)
    return body


def transaction_not_found() -> dict[str, Any]:
    """404 of POST …/capture and of GET …/transactions/{transactionId} (coreErrorMessage, the
    spec's example shape {code, timestamp, message})."""
    body = {
        "code": 404,
        "timestamp": "2026-01-05T08:13:00.000000Z",
        "message": "The resource does not exist.",
    }
    CAPTURE.check_response(404, body)
    GET_TRANSACTION.check_response(404, body)
    return body


def capture_not_supported() -> dict[str, Any]:
    """422 of POST …/capture: "The payment action is not supported." (coreErrorMessage)."""
    body = {
        "code": 422,
        "timestamp": "2026-01-05T08:13:00.000000Z",
        "message": "The payment action is not supported.",
    }
    CAPTURE.check_response(422, body)
    return body


# --- gateway errors (any service) --------------------------------------------------------------
def _fault(faultstring: str, errorcode: str) -> dict[str, Any]:
    body = {"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}
    for endpoint in DECLARES_401:
        endpoint.check_response(401, body)
    return body


def invalid_token() -> dict[str, Any]:
    """401 from the API gateway (Apigee), any service: the token is unknown."""
    return _fault("Invalid access token", "oauth.v2.InvalidAccessToken")


def expired_token() -> dict[str, Any]:
    """401 from the API gateway (Apigee), any service: the token expired."""
    return _fault("Access Token expired", "keymanagement.service.access_token_expired")


def missing_scopes(*scopes: str) -> dict[str, Any]:
    """403 "insufficient_permissions", any service (the spec's example). `scopes` (if any) are
    named in `details` the way the community auth skill reports it (docs §7); the detail's
    `type` (required by the order spec's errorDetail) is an assumption."""
    body: dict[str, Any] = {
        "status": 403,
        "message": "Given request does not have required scopes. It is not authorized to perform this operation.",
        "type": "insufficient_permissions",
    }
    if scopes:
        # The order spec's errorDetail requires a `type`; its value is not documented.
        message = f"Missing one of required scopes '[{', '.join(scopes)}]'"
        body["details"] = [{"type": "missing_scopes", "message": message}]
    for endpoint in DECLARES_403:
        endpoint.check_response(403, body)
    return body
