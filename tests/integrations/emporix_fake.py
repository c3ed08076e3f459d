"""A stateful stand-in for the Emporix APIs on `responses` (the HTTP boundary, nothing else).

Every request the service sends is checked against the published spec of its operation, and
every answer is built by the spec-checked builders of tests.integrations.emporix_payloads.
State: orders (with their invoice mixin and version), the invoice number counter, the other
sequence schemas (the credit note one: `sequences`), captures and refunds per transaction,
issued tokens. Faults can be queued per operation:

    fake.fail("capture", requests.exceptions.ReadTimeout())  # raise it
    fake.fail("get_order", 503)                               # answer with that status
    fake.fail("capture", "timeout-after")                      # do it, then time out
    fake.fail("get_order", (500, "text/html", "<html>…</html>"))  # answer with that raw body
    fake.fail("refund", "timeout-after")                       # refund, then time out

Operations: token, get_order, patch_order, next_id (invoiceNoSequence), next_other_id (any other
schema type, e.g. creditNoteNoSequence), schemas_of_type (GET …/schemas/types/{type} of the other
types), list_sites, get_site, get_configuration, capture, refund, get_transaction,
get_legal_entity, get_customer, get_exchange, logo.

Used in-process by tests and, through tests/e2e_hooks.py, inside a worker process; `log_path`
then records each call as a JSON line for the test to read.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import responses

from tests.integrations import emporix_payloads as p

LOGO_URL = "https://cdn.example.com/logo.png"
LOGO = (Path(__file__).resolve().parents[2] / "integrations" / "local" / "demo_logo.jpg").read_bytes()


class FakeEmporix:
    def __init__(
        self,
        mock: responses.RequestsMock,
        *,
        base_url: str = p.BASE_URL,
        tenant: str = p.TENANT,
        order_ids: list[str] | None = None,
        next_number: int = 1000,
        log_path: str | None = None,
    ) -> None:
        self.mock = mock
        self.base = base_url.rstrip("/")
        self.tenant = tenant
        self.orders: dict[str, dict[str, Any]] = {
            oid: p.sales_order(oid) for oid in (order_ids if order_ids is not None else p.demo_order_ids())
        }
        self.counter = next_number
        # Sequence schemas of the other types: type -> {"preText", "counter", "active"}; a type not
        # listed (or not active) has no active schema: nextId answers 404.
        self.sequences: dict[str, dict[str, Any]] = {
            p.CREDIT_NOTE_SCHEMA_TYPE: {"preText": "CN", "counter": 1000, "active": True}
        }
        self.captures: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.declines: dict[str, str] = {}
        # Refunds per transaction, declined ones too ({"id", "amount", "currency", "successful",
        # "captureId"?}); refund_declines: transaction id -> the message every refund is declined with.
        self.refunds: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.refund_declines: dict[str, str] = {}
        self.faults: dict[str, list[Any]] = defaultdict(list)
        self.tokens: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.patches: list[dict[str, Any]] = []
        self.site = p.site(logo_url=LOGO_URL, includes_tax=False)  # the demo orders are net-priced
        self.sender = "invoices@nordlicht.example"
        self.schema_active = True
        self.scopes: tuple[str, ...] = p.DEFAULT_SCOPES  # what the API key's tokens grant
        # Buyers and rates (issue 11): none by default, so every lookup answers 404 (None).
        self.legal_entities: dict[str, dict[str, Any]] = {}  # id -> legalEntity document
        self.customers: dict[str, dict[str, Any]] = {}  # customerNumber -> customer document
        self.exchange_rates: dict[str, dict[str, Any]] = {}  # "USD_EUR" -> exchangeRateRetrieval
        self.concurrent_updates = 0  # this many PATCHes find the order changed by someone else
        self.log_path = log_path
        self._lock = threading.Lock()
        self._register()

    # --- test controls ---------------------------------------------------------------------------
    def fail(self, operation: str, fault: Any, times: int = 1) -> None:
        self.faults[operation].extend([fault] * times)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)

    # --- plumbing ----------------------------------------------------------------------------------
    def _register(self) -> None:
        t = re.escape(self.tenant)
        b = re.escape(self.base)
        routes = [
            ("POST", rf"{b}/oauth/token$", "token", self._token),
            ("GET", rf"{b}/order-v2/{t}/salesorders/([^/?]+)(\?.*)?$", "get_order", self._get_order),
            ("PATCH", rf"{b}/order-v2/{t}/salesorders/([^/?]+)(\?.*)?$", "patch_order", self._patch_order),
            (
                "POST",
                rf"{b}/sequential-id/{t}/schemas/types/invoiceNoSequence/nextId(\?.*)?$",
                "next_id",
                self._next_id,
            ),
            (
                "POST",
                rf"{b}/sequential-id/{t}/schemas/types/(?!invoiceNoSequence/)([^/?]+)/nextId(\?.*)?$",
                "next_other_id",
                self._next_other_id,
            ),
            (
                "GET",
                rf"{b}/sequential-id/{t}/schemas/types/(?!invoiceNoSequence(?:\?|$))([^/?]+)(\?.*)?$",
                "schemas_of_type",
                self._schemas_of_type,
            ),
            ("GET", rf"{b}/site/{t}/sites(\?.*)?$", "list_sites", self._list_sites),
            ("GET", rf"{b}/site/{t}/sites/([^/?]+)(\?.*)?$", "get_site", self._get_site),
            (
                "GET",
                rf"{b}/configuration/{t}/configurations/([^/?]+)$",
                "get_configuration",
                self._configuration,
            ),
            ("POST", rf"{b}/payment-gateway/{t}/payment/([^/]+)/capture$", "capture", self._capture),
            ("POST", rf"{b}/payment-gateway/{t}/payment/([^/]+)/refund$", "refund", self._refund),
            ("GET", rf"{b}/payment-gateway/{t}/transactions/([^/?]+)$", "get_transaction", self._transaction),
            (
                "GET",
                rf"{b}/customer-management/{t}/legal-entities/([^/?]+)(\?.*)?$",
                "get_legal_entity",
                self._legal_entity,
            ),
            ("GET", rf"{b}/customer/{t}/customers/([^/?]+)(\?.*)?$", "get_customer", self._customer),
            ("GET", rf"{b}/currency/{t}/exchanges/([^/?]+)$", "get_exchange", self._exchange),
            ("GET", re.escape(LOGO_URL) + "$", "logo", self._logo),
        ]
        for method, pattern, name, handler in routes:
            self.mock.add_callback(method, re.compile(pattern), callback=self._wrap(name, pattern, handler))

    def _wrap(self, name: str, pattern: str, handler: Any) -> Any:
        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], Any]:
            with self._lock:
                self.calls.append((name, request.method or ""))
                self._log(name, request)
                match = re.match(pattern, request.url or "")
                assert match is not None
                fault = self.faults[name].pop(0) if self.faults[name] else None
                if isinstance(fault, BaseException):
                    raise fault
                if isinstance(fault, tuple):
                    status, content_type, raw = fault
                    return status, {"Content-Type": content_type}, raw
                if isinstance(fault, int):
                    return (
                        fault,
                        {"Content-Type": "application/json"},
                        json.dumps({"message": f"fault {fault}"}),
                    )
                if name not in ("token", "logo") and not self._authorized(request):
                    return 401, {"Content-Type": "application/json"}, json.dumps(p.expired_token())
                status, body = handler(
                    request, *(urllib.parse.unquote(g) for g in match.groups() if g and not g.startswith("?"))
                )
                if fault == "timeout-after":
                    raise requests.exceptions.ReadTimeout("the answer was lost")
            if isinstance(body, bytes):
                return status, {"Content-Type": "image/jpeg"}, body
            return (
                status,
                {"Content-Type": "application/json", "X-Request-ID": f"up-{len(self.calls)}"},
                ("" if body is None else json.dumps(body)),
            )

        return callback

    def _log(self, name: str, request: requests.PreparedRequest) -> None:
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                body = request.body.decode() if isinstance(request.body, bytes) else request.body
                handle.write(json.dumps({"op": name, "url": request.url, "body": body}) + "\n")

    def _authorized(self, request: requests.PreparedRequest) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.tokens

    @staticmethod
    def _json(request: requests.PreparedRequest) -> Any:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        return json.loads(body or "null")

    # --- operations --------------------------------------------------------------------------------
    def _token(self, request: requests.PreparedRequest) -> tuple[int, Any]:
        p.TOKEN.check_request(request.body)
        token = f"tok-{len(self.tokens) + len(self.calls)}"
        self.tokens.add(token)
        return 200, p.token(access_token=token, scopes=self.scopes, tenant=self.tenant)

    def _get_order(self, request: requests.PreparedRequest, order_id: str) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        return (200, order) if order is not None else (404, p.order_not_found())

    def _patch_order(self, request: requests.PreparedRequest, order_id: str) -> tuple[int, Any]:
        assert "recalculate=false" in (request.url or ""), request.url
        body = p.PATCH_ORDER.check_request(self._json(request))
        self.patches.append({"orderId": order_id, **body})
        order = self.orders.get(order_id)
        if order is None:
            return 404, p.order_not_found()
        if self.concurrent_updates:
            self.concurrent_updates -= 1
            order["metadata"]["version"] += 1  # another client updated the order meanwhile
        version = (body.get("metadata") or {}).get("version")
        if version is not None and version != order["metadata"]["version"]:
            return 409, p.version_conflict()
        order.setdefault("mixins", {}).update(body.get("mixins") or {})
        order["metadata"].setdefault("mixins", {}).update((body.get("metadata") or {}).get("mixins") or {})
        order["metadata"]["version"] += 1
        return 204, None

    def _next_id(self, request: requests.PreparedRequest) -> tuple[int, Any]:
        p.NEXT_ID.check_request(self._json(request))
        if not self.schema_active:
            return 404, p.sequence_not_found()
        self.counter += 1
        return 201, p.next_id(f"INV{self.counter}")

    def _next_other_id(self, request: requests.PreparedRequest, schema_type: str) -> tuple[int, Any]:
        p.NEXT_ID.check_request(self._json(request))
        schema = self.sequences.get(schema_type)
        if schema is None or not schema.get("active", True):
            return 404, p.sequence_not_found(schema_type)
        schema["counter"] += 1
        return 201, p.next_id(f"{schema['preText']}{schema['counter']}")

    def _schemas_of_type(self, request: requests.PreparedRequest, schema_type: str) -> tuple[int, Any]:
        schema = self.sequences.get(schema_type)
        if schema is None:
            return 200, []
        return 200, p.sequence_schemas(
            schema_type,
            pre_text=schema["preText"],
            counter=schema["counter"],
            active=bool(schema.get("active", True)),
        )

    def _list_sites(self, request: requests.PreparedRequest) -> tuple[int, Any]:
        return 200, p.sites(self.site)

    def _get_site(self, request: requests.PreparedRequest, code: str) -> tuple[int, Any]:
        assert "expand=mixin" in urllib.parse.unquote(request.url or ""), request.url
        return (200, self.site) if code == self.site["code"] else (404, p.site_not_found(code))

    def _configuration(self, request: requests.PreparedRequest, key: str) -> tuple[int, Any]:
        if key == p.SENDER_KEY and self.sender:
            return 200, p.configuration(key, self.sender)
        return 404, p.configuration_not_found(key, self.tenant)

    def _capture(self, request: requests.PreparedRequest, transaction_id: str) -> tuple[int, Any]:
        body = p.CAPTURE.check_request(self._json(request))
        if transaction_id in self.declines:
            return 200, p.capture_result(successful=False, message=self.declines[transaction_id])
        capture_id = f"cap-{transaction_id[:8]}-{len(self.captures[transaction_id]) + 1}"
        self.captures[transaction_id].append({"id": capture_id, **body})
        return 200, p.capture_result(successful=True, capture_id=capture_id)

    def _refund(self, request: requests.PreparedRequest, transaction_id: str) -> tuple[int, Any]:
        """As the spec describes refunds: only of a captured payment (else 422, as for an action
        the payment does not support), never more than was captured (a declined 200 otherwise,
        an assumption: the spec names no status for it)."""
        body = p.REFUND.check_request(self._json(request))
        done = self.refunds[transaction_id]
        record = {"id": f"ref-{transaction_id[:8]}-{len(done) + 1}", **body}
        captures = self.captures.get(transaction_id) or []
        if "captureId" in body:
            captures = [c for c in captures if c["id"] == body["captureId"]]
        if not captures:
            return 422, p.refund_not_supported("The payment has not been captured.")
        captured = sum(Decimal(repr(c["amount"])) for c in captures)
        refunded = sum(Decimal(repr(r["amount"])) for r in done if r["successful"])
        if transaction_id in self.refund_declines:
            message = self.refund_declines[transaction_id]
        elif Decimal(repr(body["amount"])) > captured - refunded:
            message = "The refund amount exceeds the captured amount."
        else:
            message = ""
        done.append({**record, "successful": not message})
        return 200, (p.refund_result(successful=False, message=message) if message else p.refund_result())

    def _transaction(self, request: requests.PreparedRequest, transaction_id: str) -> tuple[int, Any]:
        done = self.captures.get(transaction_id) or []
        refunds = [
            {"id": r["id"], "amount": r["amount"], "currency": r["currency"], "successful": r["successful"]}
            for r in self.refunds.get(transaction_id) or []
        ]
        if done:
            return 200, p.transaction(
                transaction_id, captured=True, captured_amount=done[0]["amount"], refunds=refunds
            )
        return 200, p.transaction(transaction_id, captured=False, refunds=refunds)

    def _legal_entity(self, request: requests.PreparedRequest, legal_entity_id: str) -> tuple[int, Any]:
        found = self.legal_entities.get(legal_entity_id)
        if found is not None:
            return 200, found
        return 404, {"code": 404, "status": "Not Found", "message": "The legal entity does not exist."}

    def _customer(self, request: requests.PreparedRequest, number: str) -> tuple[int, Any]:
        found = self.customers.get(number)
        if found is not None:
            return 200, found
        return 404, {"status": 404, "type": "application/json", "message": "Customer not Found"}

    def _exchange(self, request: requests.PreparedRequest, code: str) -> tuple[int, Any]:
        found = self.exchange_rates.get(code)
        if found is not None:
            return 200, found
        return 404, {"code": 404, "status": "Not Found", "message": "Exchange rate not found"}

    def _logo(self, request: requests.PreparedRequest) -> tuple[int, Any]:
        return 200, LOGO
