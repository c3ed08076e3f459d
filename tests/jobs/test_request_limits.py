"""Request bodies are bounded: 413 over the size limit, 400 for JSON too deep or not storable.

Both come before authentication and before any view reads the body, so they hold for every
path, the token endpoint included.
"""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from core.limits import DEFAULT_MAX_BODY_BYTES
from integrations.models import Configuration, StoredOrder
from jobs.models import InvoiceJob
from tests import factories
from tests.api_helpers import JOBS_URL, assert_error

pytestmark = pytest.mark.django_db

ORDER_URL = "/invoice/acme/orders/DEMO-1001"
SETTINGS_URL = "/invoice/acme/configurations/invoiceSettings"


def order_body(**changes: object) -> bytes:
    return json.dumps(factories.demo_order(factories.CARD_ORDER, **changes)).encode()


# --- body size ------------------------------------------------------------------------------------------------
@override_settings(INVOICE_MAX_BODY_BYTES=2000)
def test_body_over_the_limit_is_413(api, tenant):
    response = api.put(ORDER_URL, order_body(), content_type="application/json")

    body = assert_error(response, 413, "The request body is too large.")
    assert body["detailInfo"] == "At most 2000 bytes are accepted (INVOICE_MAX_BODY_BYTES)."
    assert not StoredOrder.objects.exists()


@override_settings(INVOICE_MAX_BODY_BYTES=2000)
def test_body_over_the_limit_is_413_before_authentication(tenant):
    response = APIClient().put(ORDER_URL, order_body(), content_type="application/json")

    assert_error(response, 413, "The request body is too large.")


@override_settings(INVOICE_MAX_BODY_BYTES=2000)
def test_token_endpoint_body_over_the_limit_is_413():
    response = Client().post(
        "/oauth/token",
        "grant_type=client_credentials&client_id=x&client_secret=" + "s" * 3000,
        content_type="application/x-www-form-urlencoded",
    )

    assert_error(response, 413, "The request body is too large.")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_token_form_over_djangos_form_limit_is_413_not_500():
    """Under INVOICE_MAX_BODY_BYTES but over Django's lazily checked DATA_UPLOAD_MAX_MEMORY_SIZE."""
    response = Client().post(
        "/oauth/token",
        "grant_type=client_credentials&client_id=x&client_secret=" + "s" * 1500,
        content_type="application/x-www-form-urlencoded",
    )

    body = assert_error(response, 413, "The request body is too large.")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in body["detailInfo"]


def test_malformed_content_length_is_400(api, tenant):
    response = api.put(ORDER_URL, order_body(), content_type="application/json", CONTENT_LENGTH="lots")

    assert_error(response, 400, "Bad request.")


def chunked_put(api: APIClient, data: bytes):
    """A chunked request as the WSGI server hands it on: no Content-Length, the body in wsgi.input."""
    return api.generic(
        "PUT",
        ORDER_URL,
        data,
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(data)},
    )


@override_settings(INVOICE_MAX_BODY_BYTES=2000)
def test_chunked_body_over_the_limit_is_413(api, tenant):
    assert_error(chunked_put(api, order_body()), 413, "The request body is too large.")
    assert not StoredOrder.objects.exists()


def test_chunked_body_within_the_limit_is_read(api, tenant):
    response = chunked_put(api, order_body())

    assert response.status_code == 201, response.content
    assert StoredOrder.objects.filter(order_id=factories.CARD_ORDER).exists()


def test_default_limit_fits_a_job_of_1000_ids_of_255_characters(api, tenant, settings):
    settings.INVOICE_MAX_ORDER_IDS = 1000
    ids = [f"{i:04d}" + "x" * 251 for i in range(1000)]
    data = json.dumps({"jobType": "MANUAL", "orderIds": ids}, indent=2).encode()
    assert len(data) < DEFAULT_MAX_BODY_BYTES

    response = api.post(JOBS_URL.format(tenant="acme"), data, content_type="application/json")

    assert response.status_code == 201, response.content[:300]
    assert InvoiceJob.objects.get(pk=response.json()["jobId"]).orders.count() == 1000


def test_default_limit_fits_an_order_of_5000_lines(api, tenant):
    document = factories.demo_order(factories.CARD_ORDER)
    entry = document["entries"][1]
    entry["product"]["name"] = "A product name of a realistic length, with its variant: black, 2 m" * 2
    document["entries"] = []
    for index in range(5000):
        line = copy.deepcopy(entry)
        line["id"] = f"DEMO-1001-{index:05d}"
        document["entries"].append(line)
    data = json.dumps(document, indent=2).encode()  # pretty-printed: the larger way to send it
    assert len(data) < DEFAULT_MAX_BODY_BYTES

    response = api.put(ORDER_URL, data, content_type="application/json")

    assert response.status_code == 201, response.content[:300]


# --- JSON the service cannot walk or store ----------------------------------------------------------------------------
DEEP_FOR_THE_PARSER = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError
DEEP_FOR_THE_STORE = json.dumps({"mixins": {"x": json.loads("[" * 100 + "]" * 100)}})


@pytest.mark.parametrize("data", [DEEP_FOR_THE_PARSER, DEEP_FOR_THE_STORE])
@pytest.mark.parametrize(
    ("method", "url"), [("put", ORDER_URL), ("post", JOBS_URL.format(tenant="acme")), ("put", SETTINGS_URL)]
)
def test_json_nested_too_deep_is_400(api, tenant, method, url, data):
    response = getattr(api, method)(url, data, content_type="application/json")

    body = assert_error(response, 400, "The JSON in the request body is nested too deeply.")
    assert "64" in body["detailInfo"]


def test_nul_in_an_order_field_is_400_naming_it(api, tenant):
    document = factories.demo_order(factories.CARD_ORDER)
    document["billingAddress"]["city"] = "Mün\u0000chen"

    response = api.put(ORDER_URL, document, format="json")

    body = assert_error(response, 400, "cannot be stored")
    assert body["errors"] == [
        {"field": "billingAddress.city", "message": "must not contain NUL characters or unpaired surrogates"}
    ]
    assert not StoredOrder.objects.exists()


def test_nul_in_invoice_settings_is_400_not_500(api, tenant):
    data = json.dumps({"key": "invoiceSettings", "value": {"threshold": "24", "status": "SHIPPED\u0000"}})

    response = api.put(SETTINGS_URL, data, content_type="application/json")

    body = assert_error(response, 400, "cannot be stored")
    assert "value.status" in body["detailInfo"]
    assert not Configuration.objects.exists()


def test_unpaired_surrogate_is_400(api, tenant):
    data = order_body().replace(b'"M\\u00fcnchen"', b'"M\\ud800nchen"', 1)

    response = api.put(ORDER_URL, data, content_type="application/json")

    assert_error(response, 400, "cannot be stored")


def test_number_too_large_for_a_float_is_400(api, tenant):
    data = order_body().replace(b'"amount": 1,', b'"amount": 1e400,', 1)
    assert b"1e400" in data

    body = assert_error(api.put(ORDER_URL, data, content_type="application/json"), 400, "cannot be stored")

    assert "entries[0].amount: must be a finite number" in body["detailInfo"]
