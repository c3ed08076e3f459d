"""The Emporix payload builders and the operation-level spec checks they rely on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tests.spec_utils as spec_utils
from tests.integrations import emporix_payloads as payloads
from tests.integrations.emporix_payloads import (
    CAPTURE,
    CONFIGURATION_SPEC,
    GET_CONFIGURATION,
    GET_ORDER,
    GET_SITE,
    GET_TRANSACTION,
    LIST_ORDERS,
    LIST_SITES,
    NEXT_ID,
    OAUTH_SPEC,
    OMIT,
    ORDER_SPEC,
    PATCH_ORDER,
    PAYMENT_SPEC,
    SEQUENTIAL_ID_SPEC,
    TOKEN,
    Endpoint,
)
from tests.spec_utils import (
    validate_against_spec,
    validate_request_body,
    validate_response_body,
)

ORDER_ITEM = "/order-v2/{tenant}/salesorders/{orderId}"
CAPTURE_PATH = "/payment-gateway/{tenant}/payment/{transactionId}/capture"
NEXT_ID_PATH = "/sequential-id/{tenant}/schemas/types/{schemaType}/nextId"
TRANSACTION_PATH = "/payment-gateway/{tenant}/transactions/{transactionId}"

BUILDERS: dict[str, Callable[[], Any]] = {
    "token_request": payloads.token_request,
    "token_request with scope": lambda: payloads.token_request(scope="order.order_read tenant=shop"),
    "token": payloads.token,
    "token without scopes": lambda: payloads.token("tok-2", 60, scopes=(), tenant="other"),
    "sales_order": payloads.sales_order,
    "sales_order invoiced": lambda: payloads.sales_order(
        "DEMO-1002", invoice_no="INV1001", invoice_document="https://media.example.com/INV1001.pdf", version=4
    ),
    "sales_order renamed": lambda: payloads.sales_order("EON1200", base="DEMO-1007", site_code="at"),
    "sales_orders": lambda: payloads.sales_orders(payloads.sales_order(), payloads.sales_order("DEMO-1002")),
    "sales_orders empty": payloads.sales_orders,
    "order_invoice_patch": lambda: payloads.order_invoice_patch(
        "INV1001",
        "https://media.example.com/INV1001.pdf",
        schema_url="https://s.example.com/i.json",
        version=2,
    ),
    "order_invoice_patch without document": lambda: payloads.order_invoice_patch("INV1001", None),
    "order_not_found": payloads.order_not_found,
    "version_conflict": payloads.version_conflict,
    "next_id_request": payloads.next_id_request,
    "next_id_request with key": lambda: payloads.next_id_request({"__year__": "2026"}, sequence_key="2026"),
    "next_id": payloads.next_id,
    "sequence_not_found": payloads.sequence_not_found,
    "sequence_exhausted": payloads.sequence_exhausted,
    "placeholder_missing": payloads.placeholder_missing,
    "site": payloads.site,
    "site bare": lambda: payloads.site(
        "at", default=False, logo_url=None, timezone=None, merchant_name=None, with_mixins=False
    ),
    "site without bank details": lambda: payloads.site(iban=None, bic=None),
    "sites": lambda: payloads.sites(payloads.site(), payloads.site("at", default=False)),
    "sites empty": payloads.sites,
    "site_not_found": payloads.site_not_found,
    "configuration": payloads.configuration,
    "configuration object": lambda: payloads.configuration("taxConfiguration", {"taxClasses": {"FULL": 19}}),
    "invoice_settings": payloads.invoice_settings,
    "configuration_not_found": payloads.configuration_not_found,
    "capture_request": payloads.capture_request,
    "capture_request int": lambda: payloads.capture_request(100, "EUR"),
    "capture_result": payloads.capture_result,
    "capture_result failed": lambda: payloads.capture_result(False),
    "capture_result failed with message": lambda: payloads.capture_result(False, "c-9", "Amount too high"),
    "transaction": payloads.transaction,
    "transaction captured": lambda: payloads.transaction(
        "t-1", captured=True, amount=10, captured_amount=9.5
    ),
    "transaction_not_found": payloads.transaction_not_found,
    "capture_not_supported": payloads.capture_not_supported,
    "invalid_token": payloads.invalid_token,
    "expired_token": payloads.expired_token,
    "missing_scopes": payloads.missing_scopes,
    "missing_scopes named": lambda: payloads.missing_scopes("order.order_read", "order.order_update"),
}


# --- the builders ------------------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_builder_validates_and_is_plain_json(build: Callable[[], Any]) -> None:
    body = build()  # each builder validates against the spec before returning
    assert json.loads(json.dumps(body)) == body


@pytest.mark.parametrize("order_id", payloads.demo_order_ids())
def test_every_demo_order_is_a_get_order_answer(order_id: str) -> None:
    order = payloads.sales_order(order_id)
    assert order["id"] == order_id
    assert order["siteCode"] == "main" and order["metadata"]["version"] == 1
    assert "invoice" not in order["mixins"]


def test_builders_return_fresh_documents() -> None:
    first = payloads.sales_order()
    first["entries"].clear()
    assert payloads.sales_order()["entries"]


def test_sales_order_card_payment_goes_through_the_payment_gateway() -> None:
    order = payloads.sales_order("DEMO-1001")
    (payment,) = order["payments"]
    assert payment["provider"] == "payment-gateway"
    assert payloads.card_transaction_id(order) == payment["transactionId"]
    assert payloads.card_transaction_id("DEMO-1002") is None  # paid by invoice: nothing to capture
    assert payloads.transaction()["id"] == payment["transactionId"]


def test_sales_order_renamed_from_a_base() -> None:
    base = payloads.sales_order("DEMO-1003")
    order = payloads.sales_order("EON1200", base="DEMO-1003")
    assert order["id"] == "EON1200"
    assert order["mixins"]["generalAttributes"]["orderNumber"] == "EON1200"
    assert [entry["id"] for entry in order["entries"]] == [f"EON1200-0{n}" for n in (1, 2, 3)]
    assert "DEMO-1003" not in json.dumps(order)  # entry and discount ids follow the new id
    assert payloads.card_transaction_id(order) not in (None, payloads.card_transaction_id(base))
    assert order["calculatedPrice"] == base["calculatedPrice"]
    with pytest.raises(KeyError, match="not a demo order"):
        payloads.sales_order("EON1200", base="EON9999")


def test_sales_order_with_invoice_mixin_and_version() -> None:
    order = payloads.sales_order(
        invoice_no="INV1007", invoice_document="https://m.example.com/a.pdf", version=3
    )
    assert order["mixins"]["invoice"] == {
        "invoiceNo": "INV1007",
        "invoiceDocument": "https://m.example.com/a.pdf",
    }
    assert order["metadata"]["mixins"]["invoice"] == payloads.INVOICE_MIXIN_SCHEMA_URL
    assert order["metadata"]["version"] == 3


def test_sales_order_overrides_are_validated() -> None:
    order = payloads.sales_order(status="COMPLETED", deliveryWindow=OMIT)
    assert order["status"] == "COMPLETED" and "deliveryWindow" not in order
    with pytest.raises(AssertionError, match=r"\$\.status: 'PAID' is not one of"):
        payloads.sales_order(status="PAID")
    with pytest.raises(AssertionError, match=r"\$: 'customer' is a required property"):
        payloads.sales_order(customer=OMIT)


def test_order_invoice_patch_shape() -> None:
    body = payloads.order_invoice_patch("INV1001", "https://m.example.com/INV1001.pdf", version=5)
    assert body == {
        "mixins": {
            "invoice": {"invoiceNo": "INV1001", "invoiceDocument": "https://m.example.com/INV1001.pdf"}
        },
        "metadata": {"mixins": {"invoice": payloads.INVOICE_MIXIN_SCHEMA_URL}, "version": 5},
    }


def test_site_defaults_and_options() -> None:
    main = payloads.site()
    assert main["code"] == "main" and main["default"] is True
    assert main["mixins"]["generalShopSettings"]["logoUrl"] == "https://cdn.example.com/logo.png"
    assert main["homeBase"]["timezone"] == "Europe/Berlin"
    finance = main["mixins"]["merchantInfo"]["merchantFinanceInfo"]
    assert set(finance) == {"merchantSalesTaxId", "merchantIban", "merchantBic"}
    bare = payloads.site("at", default=False, logo_url=None, timezone=None, merchant_name=None)
    assert "logoUrl" not in bare["mixins"]["generalShopSettings"]
    assert "merchantInfo" not in bare["mixins"] and "timezone" not in bare["homeBase"]
    assert "mixins" not in payloads.site(with_mixins=False)
    with pytest.raises(AssertionError, match=r"'taxDeterminationBasedOn' is a required property"):
        payloads.site(taxDeterminationBasedOn=OMIT)  # SiteDto requires it
    with pytest.raises(AssertionError, match=r"\$\.defaultLanguage"):
        payloads.site(default_language="deu")


def test_capture_result_defaults() -> None:
    assert payloads.capture_result() == {"successful": True, "captureId": "capture-1"}
    failed = payloads.capture_result(False)
    assert failed["successful"] is False and failed["message"] and "captureId" not in failed


def test_transaction_entries() -> None:
    authorized = payloads.transaction("t-1", amount=20)
    assert [e["type"] for e in authorized["entries"]] == ["AUTHORIZATION"]
    captured = payloads.transaction("t-1", captured=True, amount=20, captured_amount=18.5)
    assert [(e["type"], e["successful"], e["amount"]) for e in captured["entries"]] == [
        ("AUTHORIZATION", True, {"amount": 20, "currency": "EUR"}),
        ("CAPTURE", True, {"amount": 18.5, "currency": "EUR"}),
    ]


def test_token_scope_carries_the_tenant_marker() -> None:
    assert (
        payloads.token(scopes=("order.order_read",), tenant="shop")["scope"] == "order.order_read tenant=shop"
    )


NUMERIC_PLACEHOLDER: dict[str, Any] = {"__num__": 7}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: payloads.capture_request("3.99"), r"\$\.amount: '3\.99' is not of type 'number'"),
        (lambda: payloads.next_id(1001), r"\$\.id: 1001 is not of type 'string'"),
        (lambda: payloads.next_id(""), r"\$\.id: '' should be non-empty|is too short"),
        (
            lambda: payloads.next_id_request(NUMERIC_PLACEHOLDER),
            r"\$\.placeholders\.__num__: 7 is not of type 'string'",
        ),
        (lambda: payloads.configuration(value=["a"]), r"\$\.value.* \(in oneOf\)"),
        (
            lambda: payloads.transaction(provider="payment-gateway"),
            r"\$\.provider: 'payment-gateway' is not one of",
        ),
        (
            lambda: payloads.order_invoice_patch("INV1", None, version="1"),
            r"\$\.metadata\.version: '1' is not",
        ),
        (lambda: payloads.token(expires_in="14399"), r"\$\.expires_in: '14399' is not of type 'integer'"),
    ],
    ids=[
        "capture amount",
        "next id type",
        "next id empty",
        "placeholder",
        "config value",
        "provider",
        "version",
        "expiry",
    ],
)
def test_builders_refuse_what_the_spec_refuses(build: Callable[[], Any], match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        build()


# --- validate_request_body / validate_response_body ----------------------------------------------
def test_wrong_capture_amount_is_caught() -> None:
    with pytest.raises(AssertionError) as caught:
        validate_request_body(PAYMENT_SPEC, "POST", CAPTURE_PATH, {"amount": "3.99", "currency": "EUR"})
    message = str(caught.value)
    assert "request body of POST /payment-gateway/{tenant}/payment/{transactionId}/capture" in message
    assert "components.schemas.captureRequest" in message
    assert "$.amount: '3.99' is not of type 'number'" in message


def test_next_id_without_or_with_a_wrong_id_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"\$: 'id' is a required property"):
        validate_response_body(SEQUENTIAL_ID_SPEC, "POST", NEXT_ID_PATH, 201, {})
    with pytest.raises(AssertionError, match=r"\$\.id: \['INV1001'\] is not of type 'string'"):
        validate_response_body(SEQUENTIAL_ID_SPEC, "POST", NEXT_ID_PATH, 201, {"id": ["INV1001"]})


def test_transaction_entries_not_a_list_is_caught() -> None:
    body = payloads.transaction()
    body["entries"] = body["entries"][0]
    with pytest.raises(AssertionError, match=r"\$\.entries: .* is not of type 'array'"):
        validate_response_body(PAYMENT_SPEC, "GET", TRANSACTION_PATH, 200, body)
    body["entries"] = [{"type": "CHARGE", "successful": "yes", "amount": {"amount": "1"}}]
    with pytest.raises(AssertionError, match=r"3 problem\(s\)") as caught:
        GET_TRANSACTION.check_response(200, body)
    assert "$.entries[0].type: 'CHARGE' is not one of" in str(caught.value)
    assert "$.entries[0].amount.amount: '1' is not of type 'number'" in str(caught.value)


def test_error_bodies_are_checked_too() -> None:
    with pytest.raises(AssertionError, match=r"\$: 'type' is a required property"):
        validate_response_body(ORDER_SPEC, "PATCH", ORDER_ITEM, 409, {"status": 409, "message": "conflict"})
    with pytest.raises(AssertionError, match=r"\$\.fault: 'Invalid access token' is not of type 'object'"):
        CAPTURE.check_response(401, {"fault": "Invalid access token"})


def test_long_messages_are_shortened() -> None:
    with pytest.raises(AssertionError) as caught:
        validate_response_body(ORDER_SPEC, "GET", ORDER_ITEM, 200, [payloads.sales_order()])
    line = str(caught.value).splitlines()[1]
    assert line.startswith("  $: ") and line.endswith("...") and len(line) < 320


def test_patch_erratum_makes_partial_updates_valid_for_patch_only() -> None:
    body = payloads.order_invoice_patch("INV1001", "https://m.example.com/INV1001.pdf")
    # As published, PATCH takes the full orderUpdateDto (entries, customer, calculatedPrice required).
    with pytest.raises(AssertionError, match=r"'entries' is a required property"):
        validate_against_spec(body, ORDER_SPEC, "orderUpdateDto")
    with pytest.raises(AssertionError, match=r"'entries' is a required property"):
        validate_request_body(ORDER_SPEC, "PUT", ORDER_ITEM, body)  # PUT keeps them
    validate_request_body(ORDER_SPEC, "PATCH", ORDER_ITEM, {"status": "SHIPPED"})  # the tutorial's PATCH
    # Nested objects keep their own required fields.
    with pytest.raises(AssertionError, match=r"\$\.customer: 'email' is a required property"):
        validate_request_body(ORDER_SPEC, "PATCH", ORDER_ITEM, {"customer": {"id": "1"}})


def test_raw_bodies_are_decoded() -> None:
    body = payloads.order_invoice_patch("INV1001", None)
    assert PATCH_ORDER.check_request(json.dumps(body).encode()) == body
    form = "grant_type=client_credentials&client_id=c&client_secret=s&scope=order.order_read+tenant%3Dshop"
    assert TOKEN.check_request(form) == {
        "grant_type": "client_credentials",
        "client_id": "c",
        "client_secret": "s",
        "scope": "order.order_read tenant=shop",
    }
    with pytest.raises(AssertionError, match="the body is not JSON"):
        PATCH_ORDER.check_request(b"mixins=1")


def test_parameter_names_in_the_template_do_not_matter() -> None:
    validate_response_body(ORDER_SPEC, "get", "/order-v2/{t}/salesorders/{id}", "200", payloads.sales_order())


def test_unknown_path_is_a_clear_error() -> None:
    with pytest.raises(AssertionError, match=r"declares no path /order-v2/\{tenant\}/invoices") as caught:
        validate_response_body(ORDER_SPEC, "GET", "/order-v2/{tenant}/invoices", 200, {})
    assert "/order-v2/{tenant}/salesorders/{orderId}" in str(caught.value)  # the paths it does have


def test_undeclared_method_is_a_clear_error() -> None:
    with pytest.raises(AssertionError, match=r"declares no GET /payment-gateway/.*/capture \(only POST\)"):
        validate_response_body(PAYMENT_SPEC, "GET", CAPTURE_PATH, 200, {})


def test_undeclared_status_is_a_clear_error() -> None:
    with pytest.raises(
        AssertionError, match=r"declares no 409 response .*\(declared: 201, 400, 401, 403, 404\)"
    ):
        validate_response_body(SEQUENTIAL_ID_SPEC, "POST", NEXT_ID_PATH, 409, payloads.sequence_exhausted())
    with pytest.raises(AssertionError, match=r"declares no 403 response"):
        GET_CONFIGURATION.check_response(403, payloads.missing_scopes())
    with pytest.raises(AssertionError, match=r"declares no 401 response"):
        GET_ORDER.check_response(401, payloads.invalid_token())


def test_missing_schema_is_an_error_unless_allowed() -> None:
    with pytest.raises(
        AssertionError, match=r"declares no schema for the 204 response .*allow_no_schema=True"
    ):
        validate_response_body(ORDER_SPEC, "PATCH", ORDER_ITEM, 204, None)
    assert validate_response_body(ORDER_SPEC, "PATCH", ORDER_ITEM, 204, None, allow_no_schema=True) is None
    with pytest.raises(AssertionError, match=r"request body of GET .*the operation declares no requestBody"):
        validate_request_body(ORDER_SPEC, "GET", ORDER_ITEM, {})
    # allow_no_schema does not switch validation off where there is a schema.
    with pytest.raises(AssertionError, match=r"\$\.amount: '1' is not of type 'number'"):
        validate_request_body(PAYMENT_SPEC, "POST", CAPTURE_PATH, {"amount": "1"}, allow_no_schema=True)


def test_undeclared_media_type_is_a_missing_schema() -> None:
    with pytest.raises(AssertionError, match=r"no application/json content is declared"):
        validate_request_body(OAUTH_SPEC, "POST", "/oauth/token", {}, media_type="application/json")


@pytest.fixture
def fresh_spec_caches() -> Iterator[None]:
    caches = (spec_utils._patched_spec, spec_utils._operation_schema, spec_utils._validator)
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def test_stale_erratum_fails_loudly(monkeypatch: pytest.MonkeyPatch, fresh_spec_caches: None) -> None:
    monkeypatch.setitem(
        spec_utils._SPEC_ERRATA, OAUTH_SPEC, [("/components/schemas/Gone", {}, "test erratum")]
    )
    with pytest.raises(AssertionError, match=r"erratum .*\(test erratum\) no longer applies"):
        TOKEN.check_response(200, {})


# --- the spec's own examples ---------------------------------------------------------------------
ENDPOINTS: tuple[Endpoint, ...] = (TOKEN, LIST_ORDERS, GET_ORDER, PATCH_ORDER, NEXT_ID, GET_SITE, LIST_SITES)
ENDPOINTS += (GET_CONFIGURATION, CAPTURE, GET_TRANSACTION)

# Examples that contradict their own schema. The schema is what gets followed: a real response
# that looked like these would fail the builders too (strict xfail: an upstream fix shows up here).
BAD_EXAMPLES = {
    "GET /order-v2/{tenant}/salesorders/{orderId} 200 Sales Order example 2": "salesOrder1: broken indentation, "
    "no calculatedPrice",
    "GET /order-v2/{tenant}/salesorders/{orderId} 200 Sales Order with DYNAMIC_VARIANT product": "no customer, "
    "no calculatedPrice",
    "GET /site/{tenant}/sites/{siteCode} 200 Get site": "no taxDeterminationBasedOn",
    "GET /site/{tenant}/sites 200 Response example": "no taxDeterminationBasedOn",
}

# `example:` written like `examples:` ({"Site not found": {...}}); the wrapper would validate as an
# error body with no known field, so the value inside is what gets checked.
WRAPPED_EXAMPLES = {
    "GET /site/{tenant}/sites/{siteCode} 404 example",
    "GET /configuration/{tenant}/configurations/{propertyKey} 404 example",
}


def _spec(relative_path: str) -> Any:
    return spec_utils._patched_spec(relative_path)  # cached; read only


def _examples() -> Iterator[Any]:
    for endpoint in ENDPOINTS:
        spec = _spec(endpoint.spec)
        operation = spec["paths"][endpoint.path][endpoint.method.lower()]
        parts: list[tuple[str | None, Any]] = [(None, operation.get("requestBody"))]
        parts += [(str(status), response) for status, response in operation["responses"].items()]
        for status, container in parts:
            container = spec_utils._deref_raw(spec, container)
            for media_type, media in ((container or {}).get("content") or {}).items():
                found = {"example": media["example"]} if "example" in media else {}
                for name, example in (media.get("examples") or {}).items():
                    found[name] = spec_utils._deref_raw(spec, example).get("value")
                for name, value in found.items():
                    label = f"{endpoint.method} {endpoint.path} {status or 'request'} {name}"
                    if label in WRAPPED_EXAMPLES:
                        (value,) = value.values()
                    marks = (
                        [pytest.mark.xfail(strict=True, reason=BAD_EXAMPLES[label])]
                        if label in BAD_EXAMPLES
                        else []
                    )
                    yield pytest.param(endpoint, status, media_type, value, id=label, marks=marks)


@pytest.mark.parametrize(("endpoint", "status", "media_type", "value"), list(_examples()))
def test_spec_examples_of_the_calls_used(
    endpoint: Endpoint, status: str | None, media_type: str, value: Any
) -> None:
    if status is None:
        endpoint.check_request(value, media_type=media_type)
    else:
        endpoint.check_response(int(status), value, media_type=media_type)


def test_every_called_operation_has_examples_checked() -> None:
    labels = {param.id for param in _examples()}
    assert len(labels) >= 20
    assert {e for e in {*BAD_EXAMPLES, *WRAPPED_EXAMPLES} if e not in labels} == set()  # none stale
    assert CONFIGURATION_SPEC in {endpoint.spec for endpoint in ENDPOINTS}


# --- Endpoint ------------------------------------------------------------------------------------
def test_endpoint_urls() -> None:
    assert GET_ORDER.url(orderId="DEMO-1001") == "https://api.emporix.io/order-v2/shop/salesorders/DEMO-1001"
    assert NEXT_ID.url("http://emporix.test/", tenant="acme", schemaType="invoiceNoSequence") == (
        "http://emporix.test/sequential-id/acme/schemas/types/invoiceNoSequence/nextId"
    )
    assert GET_SITE.url(siteCode="a b/c") == "https://api.emporix.io/site/shop/sites/a%20b%2Fc"
    assert TOKEN.url() == "https://api.emporix.io/oauth/token"
    with pytest.raises(KeyError):
        CAPTURE.url()  # transactionId missing


def test_declared_gateway_errors_match_the_spec() -> None:
    """DECLARES_401/403 list exactly the called operations that declare those statuses."""
    for status, declared in ((401, payloads.DECLARES_401), (403, payloads.DECLARES_403)):
        for endpoint in ENDPOINTS:
            operation = _spec(endpoint.spec)["paths"][endpoint.path][endpoint.method.lower()]
            assert (str(status) in map(str, operation["responses"])) == (endpoint in declared), (
                status,
                endpoint,
            )
