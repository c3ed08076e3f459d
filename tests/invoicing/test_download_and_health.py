"""The job's downloadLink (signed, expiring PDF download) and GET /health."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError

from invoicing.models import Invoice
from jobs.models import InvoiceJob
from tests import factories
from tests.api_helpers import JOBS_URL, assert_error, job_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(api, tenant, run_job) -> str:
    """The downloadLink a client reads from the finished job of the card order."""
    factories.orders_store(tenant, factories.CARD_ORDER)
    created = api.post(
        JOBS_URL.format(tenant="acme"),
        {"jobType": "MANUAL", "orderIds": [factories.CARD_ORDER]},
        format="json",
    )
    job_id = created.json()["jobId"]
    run_job(InvoiceJob.objects.get(pk=job_id))
    order = api.get(job_url("acme", job_id)).json()["orders"][0]
    assert order["orderStatus"] == "SUCCESS", order["message"]
    return str(order["downloadLink"])


def content(response) -> bytes:
    body = b"".join(response)  # a FileResponse streams
    response.close()
    return body


def tampered(link: str) -> str:
    last = link[-1]
    return link[:-1] + ("A" if last != "A" else "B")


def later(seconds: float):
    """Time travel for django.core.signing only: its clock reads `seconds` ahead."""
    clock = mock.patch("django.core.signing.time")
    fake = clock.start()
    fake.time.return_value = time.time() + seconds
    return clock


# --- downloads ------------------------------------------------------------------------------------
def test_download_link_is_absolute_and_serves_the_pdf_as_attachment(link, tenant):
    assert link.startswith("http://testserver/invoices/download/")

    response = Client().get(link)  # no token: the signed link is the credential

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-INV1001.pdf"'
    invoice = Invoice.objects.get(tenant=tenant, order_id=factories.CARD_ORDER)
    invoice.pdf.open("rb")
    stored = invoice.pdf.read()
    invoice.pdf.close()
    assert content(response) == stored and stored.startswith(b"%PDF")


def test_download_link_uses_public_base_url_or_the_request_host(link, api, settings):
    job_id = InvoiceJob.objects.get().pk
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "invoices.shop.example"]  # a host the operator allowed
    from_host = api.get(job_url("acme", job_id), HTTP_HOST="invoices.shop.example").json()
    settings.PUBLIC_BASE_URL = "https://billing.example.com"
    from_setting = api.get(job_url("acme", job_id)).json()

    assert from_host["orders"][0]["downloadLink"].startswith(
        "http://invoices.shop.example/invoices/download/"
    )
    assert from_setting["orders"][0]["downloadLink"].startswith(
        "https://billing.example.com/invoices/download/"
    )


def test_download_link_still_works_just_before_it_expires(link, settings):
    clock = later(settings.INVOICE_DOWNLOAD_LINK_TTL - 60)
    try:
        response = Client().get(link)
    finally:
        clock.stop()

    assert response.status_code == 200
    content(response)


def test_download_link_after_its_ttl_is_410(link, settings):
    clock = later(settings.INVOICE_DOWNLOAD_LINK_TTL + 60)
    try:
        response = Client().get(link)
    finally:
        clock.stop()

    body = assert_error(response, 410, "This download link has expired.")
    assert "Poll the job again" in body["detailInfo"]


def test_download_link_ttl_is_configurable(link, settings):
    settings.INVOICE_DOWNLOAD_LINK_TTL = -1  # every link is older than that

    assert_error(Client().get(link), 410, "This download link has expired.")


def test_download_fresh_link_from_polling_again_works(link, api, settings):
    job = InvoiceJob.objects.get()
    clock = later(settings.INVOICE_DOWNLOAD_LINK_TTL + 60)
    try:
        fresh = api.get(job_url("acme", job.pk)).json()["orders"][0]["downloadLink"]
        expired, renewed = Client().get(link), Client().get(fresh)
    finally:
        clock.stop()

    assert expired.status_code == 410
    assert renewed.status_code == 200
    content(renewed)


def test_download_tampered_link_is_403(link):
    assert_error(Client().get(tampered(link)), 403, "This download link is not valid.")


@pytest.mark.parametrize("token", ["not-a-token", "eyJ0IjoxLCJpIjoxfQ:1abc:xyz"])
def test_download_made_up_link_is_403(db, token):
    assert_error(Client().get(f"/invoices/download/{token}"), 403, "This download link is not valid.")


def test_download_wrong_method_is_405(link):
    response = Client().post(link)

    assert_error(response, 405, "Method POST is not allowed here.")
    assert response["Allow"] == "GET, HEAD"


def test_download_unhandled_error_is_500_without_details(link):
    client = Client(raise_request_exception=False)

    with mock.patch("invoicing.views.invoice_from_download_token", side_effect=RuntimeError("s3cr3t")):
        response = client.get(link)

    assert_error(response, 500, "Internal server error.")
    assert b"s3cr3t" not in response.content and b"RuntimeError" not in response.content


# --- health ---------------------------------------------------------------------------------------
def test_health_reports_database_and_broker(db):
    response = Client().get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"status": "ok", "vendor": "postgresql"},
        "broker": {"status": "ok", "transport": "redis"},
    }


def test_health_broker_down_is_503(db):
    failure = BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with mock.patch("kombu.Connection.ensure_connection", side_effect=failure):
        response = Client().get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"]["status"] == "ok"
    assert body["broker"] == {"status": "down", "error": "OperationalError"}


def test_health_database_down_is_503(db):
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("connection refused")):
        response = Client().get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["database"] == {"status": "down", "error": "OperationalError"}
    assert body["broker"]["status"] == "ok"
    assert "connection refused" not in response.content.decode()


def test_health_wrong_method_is_405(db):
    assert_error(Client().post("/health"), 405, "Method POST is not allowed here.")
