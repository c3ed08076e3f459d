"""Property: whatever salesOrder is sent, the API answers 2xx or 4xx, and money moves only for
orders that are then invoiced.

Hypothesis starts from valid demo orders and mutates them: values of the wrong type, huge,
tiny, infinite or NaN numbers, long strings, odd Unicode (NUL, RTL overrides, CJK, emoji,
unpaired surrogates), deep nesting, removed fields and extreme numbers of lines. Each document
is PUT through the API; each accepted one is invoiced by a MANUAL job in this process. It must
end SUCCESS with an invoice number, or FAILURE with nothing captured, no number and no email.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from django.core import mail
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations.models import GatewayCapture
from invoicing.models import Invoice, PaymentCapture
from jobs.models import JobOrder
from jobs.services import job_create_manual
from tests import factories
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

BASES = [factories.demo_order(order_id) for order_id in ("DEMO-1001", "DEMO-1002", "DEMO-1003", "DEMO-1006")]
DELETE = object()
_ids = itertools.count(1)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for key, child in node.items():
            out.extend(_paths(child, (*path, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.extend(_paths(child, (*path, index)))
    return out


PATHS = sorted({path for base in BASES for path in _paths(base)}, key=repr)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


ODD_STRINGS = [
    "",
    "\x00",
    "Mün\x00chen",
    "\ud800",  # an unpaired surrogate (sent as the JSON escape \ud800)
    "\u202eevil.exe",
    "مريم العربية",
    "王小明的订单",
    "🎧" * 50,
    "x" * 501,
    "x" * 5000,
    ".",
    "..",
    "a@example.com, b@evil.example",
    "a@example.com\r\nBcc: b@evil.example",
    "XYZ",
    "XAU",
    "JPY",
    "1e308",
]
EXTREME_NUMBERS = [
    0,
    -1,
    0.0001,
    1e-300,
    1e20,
    1e308,
    -1e308,
    10**12,
    10**12 + 1,
    2**63,
    10**30,
    float("inf"),
    float("nan"),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(ODD_STRINGS)
    | st.sampled_from(EXTREME_NUMBERS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
replacements = json_values | st.integers(min_value=60, max_value=300).map(_nested) | st.just(DELETE)
mutations = st.lists(st.tuples(st.sampled_from(PATHS), replacements), min_size=0, max_size=3)
line_counts = st.sampled_from([None, None, None, 0, 3, 40, 5001])


def _apply(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = document
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed or replaced the way there
    if not isinstance(node, dict | list):
        return
    last = path[-1]
    if isinstance(node, list) and not (isinstance(last, int) and last < len(node)):
        return
    if isinstance(node, dict) and not isinstance(last, str):
        return
    if value is DELETE:
        if isinstance(node, list) or last in node:
            del node[last]
    else:
        node[last] = copy.deepcopy(value)


@st.composite
def sales_orders(draw: st.DrawFn) -> tuple[str, bytes]:
    order_id = f"P-{next(_ids)}"
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    document["id"] = order_id
    for payment in document.get("payments", []):
        if payment.get("transactionId"):
            payment["transactionId"] = f"tx-{order_id}"  # one authorisation per generated order
    lines = draw(line_counts)
    if lines is not None:
        document["entries"] = [copy.deepcopy(document["entries"][0]) for _ in range(lines)]
    for path, value in draw(mutations):
        _apply(document, path, value)
    # ensure_ascii: an unpaired surrogate travels as its JSON escape, as a client would send it
    return order_id, json.dumps(document, ensure_ascii=True, allow_nan=True).encode()


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(generated=sales_orders())
def test_any_sales_order_is_answered_2xx_or_4xx_and_never_charged_without_an_invoice(api, tenant, generated):
    order_id, body = generated

    response = api.put(f"/invoice/acme/orders/{order_id}", body, content_type="application/json")

    assert 200 <= response.status_code < 500, (response.status_code, response.content[:500])
    event(f"status {response.status_code}")
    if response.status_code >= 300:
        assert response.json()["code"] == str(response.status_code)
        return
    outbox_before = len(mail.outbox)
    job = drive(job_create_manual(tenant=tenant, order_ids=[order_id]))
    row = JobOrder.objects.get(job=job, order_id=order_id)
    invoice = Invoice.objects.filter(tenant=tenant, order_id=order_id).first()
    event(f"job {row.status} at {row.step}")
    if row.status == JobOrder.Status.SUCCESS:
        assert invoice is not None and invoice.number, row.message
        return
    assert row.status == JobOrder.Status.FAILURE, (row.status, row.step, row.message)
    assert "internal error" not in row.message, row.message
    assert invoice is None or invoice.number is None, row.message
    assert not GatewayCapture.objects.filter(transaction__order_id=order_id, successful=True).exists(), (
        row.message
    )
    assert not PaymentCapture.objects.filter(
        order_id=order_id, status__in=[PaymentCapture.Status.CAPTURED, PaymentCapture.Status.UNKNOWN]
    ).exists(), row.message
    assert len(mail.outbox) == outbox_before
