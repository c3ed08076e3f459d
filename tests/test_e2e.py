"""End to end: the REST API, real Celery worker processes, Redis and PostgreSQL.

Nothing is mocked here: jobs go through the broker, workers run the pipeline in other
processes, PDFs land in storage and emails as .eml files.
"""

from __future__ import annotations

import email
import hashlib
import io
import time
from email.message import Message
from pathlib import Path

import facturx
import pikepdf
import pytest
from django.core.files.base import ContentFile
from pypdf import PdfReader
from rest_framework.test import APIClient

from integrations.models import GatewayCapture
from invoicing.einvoice.validation import validate
from invoicing.models import Invoice
from jobs.models import JobOrder
from tests import factories
from tests.invariants import assert_invariants
from tests.workers import wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO_LOGO = Path(__file__).resolve().parent.parent / "integrations" / "local" / "demo_logo.jpg"
CARD_ORDERS = {oid for oid, doc in factories.DEMO_ORDERS.items() if doc["payments"][0].get("transactionId")}


@pytest.fixture
def shop():
    tenant = factories.tenant_make("shop")
    tenant.logo.save("logo.jpg", ContentFile(DEMO_LOGO.read_bytes()), save=True)
    factories.orders_store(tenant)
    return tenant


@pytest.fixture
def shop_api(shop) -> APIClient:
    client_, _ = factories.api_client_make(shop)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    return api


def post_job(api: APIClient, order_ids: list[str]) -> str:
    response = api.post(
        "/invoice/shop/jobs/invoices", {"jobType": "MANUAL", "orderIds": order_ids}, format="json"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["jobId"])


def mails(directory: Path) -> list[Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(directory.glob("*.eml"))]


def pdf_attachment(message: Message) -> bytes:
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no PDF attached")


def test_e2e_twenty_orders_become_invoices_captures_and_emails(
    shop, shop_api, celery_worker_factory, tmp_path
):
    mail_dir = tmp_path / "mail"
    celery_worker_factory(extra_env={"EMAIL_FILE_PATH": str(mail_dir)})
    order_ids = sorted(factories.DEMO_ORDERS)

    started = time.monotonic()
    job_id = post_job(shop_api, order_ids)
    wait_for_job(job_id, timeout=180)
    elapsed = time.monotonic() - started

    body = shop_api.get(f"/invoice/shop/jobs/invoices/{job_id}").json()
    assert body["jobStatus"] == body["status"] == "DONE"
    assert [o["orderId"] for o in body["orders"]] == order_ids
    assert {o["orderStatus"] for o in body["orders"]} == {"SUCCESS"}, [o["message"] for o in body["orders"]]
    numbers = [o["invoiceNumber"] for o in body["orders"]]
    assert sorted(numbers) == [f"INV{n}" for n in range(1001, 1021)]  # gapless, one each

    # the download link works without a token and gives the PDF the customer was emailed
    first = next(o for o in body["orders"] if o["orderId"] == "DEMO-1001")
    download = APIClient().get(first["downloadLink"].removeprefix("http://testserver"))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    pdf = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert first["invoiceNumber"] in text
    assert "DEMO-1001" in text and "Jürgen Müller" in text
    assert "179.88" in text  # gross total
    assert "28.72" in text  # the 19 % tax of this order
    assert "Nordlicht" not in text and "Shop GmbH" in text  # the tenant's seller details
    # ... and it is a PDF/A-3b Factur-X file whose embedded CII passes the official rules
    with pikepdf.open(io.BytesIO(pdf)) as document:
        with document.open_metadata() as xmp:
            assert xmp.pdfa_status == "3B"
        assert document.Root.OutputIntents[0].S == "/GTS_PDFA1"
        assert str(document.Root.AF[0].AFRelationship) == "/Alternative"
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml" and first["invoiceNumber"].encode() in xml
    assert validate(xml, "facturx").ok

    sent = mails(mail_dir)
    assert len(sent) == 20
    by_number = {m["Subject"].split()[1]: m for m in sent}
    assert set(by_number) == set(numbers)
    invoice = Invoice.objects.get(tenant=shop, order_id="DEMO-1001")
    message = by_number[invoice.number]
    assert message["To"] == "juergen.mueller@example.com"
    assert message["From"] == "billing@shop.example"
    attached = pdf_attachment(message)
    assert hashlib.sha256(attached).hexdigest() == invoice.pdf_sha256 == hashlib.sha256(pdf).hexdigest()

    assert GatewayCapture.objects.filter(successful=True).count() == len(CARD_ORDERS)
    print(f"\n20-order job DONE in {elapsed:.1f} s on one worker (concurrency 2)")


def test_e2e_same_job_submitted_twice_invoices_each_order_once(
    shop, shop_api, celery_worker_factory, tmp_path
):
    mail_dir = tmp_path / "mail"
    env = {"EMAIL_FILE_PATH": str(mail_dir)}
    celery_worker_factory("a", extra_env=env)
    celery_worker_factory("b", extra_env=env)
    order_ids = sorted(factories.DEMO_ORDERS)

    first, second = post_job(shop_api, order_ids), post_job(shop_api, order_ids)
    wait_for_job(first, timeout=180)
    wait_for_job(second, timeout=180)

    rows = JobOrder.objects.filter(job_id__in=[first, second])
    assert rows.count() == 40
    for order_id in order_ids:
        outcomes = sorted(rows.filter(order_id=order_id).values_list("status", flat=True))
        assert outcomes == ["FAILURE", "SUCCESS"], order_id
    for failure in rows.filter(status="FAILURE"):
        assert "already invoiced" in failure.message or "being invoiced by job" in failure.message, (
            failure.message
        )
    assert Invoice.objects.filter(tenant=shop, status="ISSUED").count() == 20
    assert factories.invoice_series(shop).counter == 1020  # no number burned by the duplicates
    assert GatewayCapture.objects.filter(successful=True).count() == len(CARD_ORDERS)
    assert len(mails(mail_dir)) == 20
    assert_invariants(shop, mail_dir=mail_dir)


def test_e2e_worker_killed_mid_step_finishes_after_redelivery(
    shop, shop_api, celery_worker_factory, tmp_path
):
    mail_dir = tmp_path / "mail"
    redelivery = {
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    slow = {"INVOICE_TEST_SLOW_STEP": "render:60", "INVOICE_TEST_MARKER_DIR": str(tmp_path)}
    doomed = celery_worker_factory("doomed", extra_env={**redelivery, **slow})
    job_id = post_job(shop_api, ["DEMO-1001"])

    started_marker = tmp_path / "slow-render-started"
    deadline = time.monotonic() + 60
    while not started_marker.exists():
        assert time.monotonic() < deadline, doomed.log()
        time.sleep(0.2)
    doomed.kill()  # SIGKILL mid-render: the message was never acknowledged
    killed_at = time.monotonic()

    celery_worker_factory("rescuer", extra_env=redelivery)
    wait_for_job(job_id, timeout=90)
    recovered_in = time.monotonic() - killed_at

    row = JobOrder.objects.select_related("invoice").get(job_id=job_id)
    assert row.status == "SUCCESS", row.message
    assert row.invoice.number == "INV1001"
    assert GatewayCapture.objects.filter(successful=True).count() == 1
    assert len(mails(mail_dir)) == 1
    print(f"\nredelivered and finished {recovered_in:.1f} s after the worker was killed")


def test_e2e_emporix_tenant_invoices_its_orders_through_a_real_worker(celery_worker_factory, tmp_path):
    """The HTTP boundary to Emporix is mocked inside the worker (tests/e2e_hooks.py)."""
    import json

    from integrations.emporix.client import clear_token_cache
    from tenants.models import Tenant
    from tests.integrations import emporix_payloads as payloads

    clear_token_cache()
    tenant = factories.tenant_make(
        "shop",
        backend=Tenant.Backend.EMPORIX,
        emporix_base_url=payloads.BASE_URL,
        emporix_client_id="invoice-service",
        emporix_client_secret="s3cr3t",
        emporix_number_placeholders={"__num__": ""},
    )
    client_, _ = factories.api_client_make(tenant)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    calls_log = tmp_path / "emporix-calls.jsonl"
    mail_dir = tmp_path / "mail"
    celery_worker_factory(
        "emporix",
        concurrency=1,
        extra_env={"INVOICE_TEST_FAKE_EMPORIX": str(calls_log), "EMAIL_FILE_PATH": str(mail_dir)},
    )
    order_ids = payloads.demo_order_ids()

    job_id = post_job(api, order_ids)
    wait_for_job(job_id, timeout=180)

    body = api.get(f"/invoice/shop/jobs/invoices/{job_id}").json()
    assert {o["orderStatus"] for o in body["orders"]} == {"SUCCESS"}, [o["message"] for o in body["orders"]]
    assert sorted(o["invoiceNumber"] for o in body["orders"]) == [f"INV{n}" for n in range(1001, 1021)]
    calls = [json.loads(line) for line in calls_log.read_text().splitlines()]
    by_op: dict[str, list[dict]] = {}
    for call in calls:
        by_op.setdefault(call["op"], []).append(call)
    card_orders = [oid for oid in order_ids if payloads.card_transaction_id(oid)]
    captured = sorted(c["url"].rsplit("/", 2)[-2] for c in by_op["capture"])
    assert captured == sorted(payloads.card_transaction_id(oid) for oid in card_orders)  # once each
    assert len(by_op["next_id"]) == 20
    patched = {
        c["url"].split("/salesorders/")[1].split("?")[0]: json.loads(c["body"]) for c in by_op["patch_order"]
    }
    assert set(patched) == set(order_ids)
    assert {p_["mixins"]["invoice"]["invoiceNo"] for p_ in patched.values()} == {
        o["invoiceNumber"] for o in body["orders"]
    }
    assert len(by_op["token"]) == 1  # one token for the whole job
    assert len(mails(mail_dir)) == 20
