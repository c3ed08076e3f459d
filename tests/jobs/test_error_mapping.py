"""Errors that know their status: one exception handler answers every DomainError.

Most cases call the handler directly, as DRF does; one request shows a view that catches
nothing answering a failing service with 503.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from core.errors import DomainError, NotFound, PermanentError, TransientError
from core.http_errors import ApiError, exception_handler
from integrations.emporix.client import UpstreamError
from integrations.local.adapters import LocalConfiguration
from integrations.mapper import OrderDocumentError
from invoicing.order_store import OrderAlreadyInvoiced
from jobs.api.views import JobCollectionView, OrderDocumentView
from jobs.automatic import InvoiceSettingsError
from jobs.clients import UnknownScope
from jobs.models import InvoiceJob
from tests.api_helpers import CONTRACT, JOBS_URL, assert_error
from tests.spec_utils import validate_against_spec

FIELD = {"field": "entries", "message": "at least one entry is required"}
THRESHOLD = {"field": "threshold", "message": 'must be a whole number of hours, e.g. "24"'}
INVOICED = "Order O-1 is invoiced (INV1001); this update would change what was invoiced."
SETTINGS_DOWN = "Emporix Configuration service answered 503: down"


def answer(exc: Exception, view: Any = None) -> tuple[int, dict[str, Any]]:
    response = exception_handler(exc, {"view": view, "request": None})
    validate_against_spec(response.data, CONTRACT, "ErrorResponse")
    return response.status_code, response.data


@pytest.mark.parametrize(
    ("exc", "view", "status", "body"),
    [
        pytest.param(
            OrderDocumentError([FIELD]),
            OrderDocumentView(),
            400,
            {
                "message": "The order document is invalid.",
                "detailInfo": f"entries: {FIELD['message']}",
                "errors": [FIELD],
            },
            id="order-document-400-with-fields",
        ),
        pytest.param(
            InvoiceSettingsError("invoiceSettings is malformed: …", [THRESHOLD]),
            JobCollectionView(),
            400,
            {
                "message": "invoiceSettings is malformed: …",
                "detailInfo": f"threshold: {THRESHOLD['message']}",
                "errors": [THRESHOLD],
            },
            id="invoice-settings-400-with-fields",
        ),
        pytest.param(
            InvoiceSettingsError("Automatic jobs are not configured for tenant 'acme'."),
            JobCollectionView(),
            400,
            {"message": "Automatic jobs are not configured for tenant 'acme'.", "detailInfo": ""},
            id="invoice-settings-400-without-fields",
        ),
        pytest.param(
            OrderAlreadyInvoiced(INVOICED),
            OrderDocumentView(),
            409,
            {
                "message": INVOICED,
                "detailInfo": "An issued invoice is never changed; create a credit note instead.",
            },
            id="already-invoiced-409",
        ),
        pytest.param(
            UnknownScope("Unknown scope(s): x. Known: …"),
            None,
            400,
            {"message": "Unknown scope(s): x. Known: …", "detailInfo": ""},
            id="unknown-scope-400",
        ),
        pytest.param(
            NotFound("Order O-1 not found."),
            None,
            404,
            {"message": "Order O-1 not found.", "detailInfo": ""},
            id="not-found-404",
        ),
        pytest.param(
            TransientError(SETTINGS_DOWN),
            JobCollectionView(),
            503,
            {
                "message": "The invoiceSettings could not be read; try again later.",
                "detailInfo": SETTINGS_DOWN,
            },
            id="transient-503-says-what-the-view-could-not-do",
        ),
        pytest.param(
            # the upstream's own 403 is not ours: a refusal from upstream is a 502
            UpstreamError("Emporix Configuration service answered 403: no", 403),
            JobCollectionView(),
            502,
            {
                "message": "The invoiceSettings could not be read.",
                "detailInfo": "Emporix Configuration service answered 403: no",
            },
            id="permanent-upstream-502",
        ),
        pytest.param(
            PermanentError("Payment gateway refused."),
            None,
            502,
            {"message": "The request could not be completed.", "detailInfo": "Payment gateway refused."},
            id="permanent-502-in-a-view-that-names-nothing",
        ),
        pytest.param(
            ApiError(409, "Tenant 'acme' keeps its invoiceSettings in Emporix."),
            None,
            409,
            {"message": "Tenant 'acme' keeps its invoiceSettings in Emporix.", "detailInfo": ""},
            id="api-error-its-own-status",
        ),
    ],
)
def test_domain_error_becomes_its_error_response(exc, view, status, body):
    assert answer(exc, view) == (status, {**body, "code": str(status)})


def _subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}


def test_every_domain_error_answers_an_error_status():
    classes = _subclasses(DomainError)
    assert {OrderDocumentError, InvoiceSettingsError, OrderAlreadyInvoiced, UnknownScope} <= classes
    assert all(400 <= cls.http_status <= 599 for cls in classes), {c: c.http_status for c in classes}


def test_a_pipeline_error_keeps_its_message_outside_a_request():
    error = OrderDocumentError([FIELD])
    # the job order's message names the field; only an HTTP answer has the fixed title
    assert error.message == "The order document is invalid: entries: at least one entry is required"
    assert isinstance(error, PermanentError) and error.http_status == 400


@pytest.mark.django_db
def test_a_view_answers_a_failing_service_with_503_and_creates_nothing(api, tenant):
    with mock.patch.object(
        LocalConfiguration, "get_configuration", side_effect=TransientError(SETTINGS_DOWN)
    ):
        response = api.post(JOBS_URL.format(tenant="acme"), {"jobType": "AUTOMATIC"}, format="json")
    body = assert_error(response, 503, "The invoiceSettings could not be read; try again later.")
    assert body["detailInfo"] == SETTINGS_DOWN
    assert not InvoiceJob.objects.exists()
