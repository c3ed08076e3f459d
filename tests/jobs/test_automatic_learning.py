"""AUTOMATIC runs that learn: failed orders wait, captures reuse their key, one run at a time."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
import responses
from django.db import connection
from django.utils import timezone

from core.errors import TransientError
from integrations.emporix.client import clear_token_cache
from integrations.local.adapters import LocalOrderSource, LocalPaymentGateway
from integrations.models import GatewayCapture
from integrations.ports import DELIVERY_WINDOW_DATE, OrderQuery, order_fingerprint
from integrations.services import configuration_set
from invoicing.models import InvoiceEvent, PaymentCapture
from invoicing.order_store import stored_order_upsert
from jobs import automatic
from jobs.attention import RETRY_BASE_DELAY, order_attention_record
from jobs.automatic import automatic_job_resolve, automatic_run_scheduled, job_create_automatic
from jobs.models import AutomaticOrderPick, InvoiceJob, JobOrder, OrderAttention
from jobs.services import job_create_manual, job_retry_failed
from tests import factories
from tests.integrations import emporix_payloads as p
from tests.pipeline import drive

pytestmark = pytest.mark.django_db

CARD = factories.CARD_ORDER  # DEMO-1001: card payment of 179.88 EUR
SETTINGS = {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": ""}
NOW = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def attention_hook() -> None:
    """jobs.services.job_order_finish records every finished order (order_attention_record);
    the tests that depend on it name this fixture to say so."""


@pytest.fixture
def shop(tenant):
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    store_card_order(tenant)
    return tenant


def store_card_order(tenant, change: Callable[[dict[str, Any]], object] | None = None) -> None:
    """DEMO-1001, due for an AUTOMATIC run at NOW; `change` edits the document first."""
    document = factories.demo_order(CARD)
    document["deliveryWindow"] = {"deliveryDate": "2026-06-01"}
    document["mixins"]["deliveryTime"] = {"deliveryDate": "2026-06-01T10:00:00.000Z"}
    document["payments"][0]["transactionId"] = f"{tenant.code}-txn-1"
    if change is not None:
        change(document)
    stored_order_upsert(tenant=tenant, order_id=CARD, document=document)


def automatic_run(tenant) -> InvoiceJob:
    """One AUTOMATIC run at NOW, its orders found and driven to the end in this process."""
    with mock.patch("jobs.automatic._dispatch"):
        job = job_create_automatic(tenant=tenant, now=NOW)
        automatic_job_resolve(job_id=job.pk)
    return drive(job)


def picked(job: InvoiceJob) -> list[str]:
    return list(JobOrder.objects.filter(job=job).values_list("order_id", flat=True))


@pytest.fixture
def gateway_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The idempotency key of every capture call that reaches the local gateway."""
    calls: list[str] = []
    real = LocalPaymentGateway.capture

    def counted(self, **kwargs):
        calls.append(kwargs["idempotency_key"])
        return real(self, **kwargs)

    monkeypatch.setattr(LocalPaymentGateway, "capture", counted)
    return calls


# --- permanent failures wait until the order changes ----------------------------------------------
def test_four_runs_over_a_declined_capture_make_one_gateway_call(shop, attention_hook, gateway_calls):
    factories.gateway_decline(shop, CARD, "Amount exceeds the authorisation")

    runs = [automatic_run(shop) for _ in range(4)]

    assert picked(runs[0]) == [CARD] and runs[0].failure_count == 1
    assert [picked(run) for run in runs[1:]] == [[], [], []]
    assert len(gateway_calls) == 1 and GatewayCapture.objects.count() == 1
    waiting = OrderAttention.objects.get(tenant=shop, order_id=CARD)
    assert waiting.kind == "PERMANENT" and waiting.needs_attention
    assert "Amount exceeds the authorisation" in waiting.reason
    assert waiting.last_job_order == JobOrder.objects.get(job=runs[0])


def test_a_changed_order_is_taken_again_and_its_success_clears_the_wait(shop, attention_hook, gateway_calls):
    factories.gateway_decline(shop, CARD, "Card expired")
    automatic_run(shop)
    assert picked(automatic_run(shop)) == []

    # the customer authorised again: a new transaction, so a new fingerprint and a new key
    store_card_order(shop, lambda d: d["payments"][0].update(transactionId="acme-txn-2"))

    run = automatic_run(shop)

    assert picked(run) == [CARD] and run.success_count == 1
    assert not OrderAttention.objects.exists()
    assert not AutomaticOrderPick.objects.exists()  # nothing is kept once the orders finished
    capture = PaymentCapture.objects.get(order_id=CARD)
    assert capture.status == "CAPTURED" and capture.attempt == 2
    assert len(gateway_calls) == 2 and len(set(gateway_calls)) == 2
    assert GatewayCapture.objects.filter(successful=True).count() == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(status="SHIPPED"),
        lambda d: d["metadata"].update(version=7),
        lambda d: d["calculatedPrice"]["finalPrice"].update(
            grossValue=170.0, netValue=142.86, taxValue=27.14
        ),
        lambda d: d["payments"][0].update(authorizedAmount=200.0),
    ],
    ids=["status", "version", "totals", "authorisation"],
)
def test_each_part_of_the_fingerprint_counts_as_a_change(shop, attention_hook, change):
    factories.gateway_decline(shop, CARD)
    automatic_run(shop)
    assert OrderAttention.objects.get().needs_attention
    source = LocalOrderSource(shop)
    query = automatic.order_query_for(shop, automatic.invoice_settings_for(shop), now=NOW)
    assert source.find_orders(query, cursor=None, page_size=10).order_ids == ()  # left out in SQL

    store_card_order(shop, change)

    page = source.find_orders(query, cursor=None, page_size=10)
    assert page.order_ids == (CARD,)
    assert page.fingerprints[CARD] != OrderAttention.objects.get().order_fingerprint


def test_an_unchanged_order_keeps_the_same_fingerprint_in_the_database_and_in_python(shop):
    source = LocalOrderSource(shop)
    query = automatic.order_query_for(shop, automatic.invoice_settings_for(shop), now=NOW)
    page = source.find_orders(query, cursor=None, page_size=10)
    from integrations.models import StoredOrder

    assert page.fingerprints[CARD] == order_fingerprint(StoredOrder.objects.get(order_id=CARD).document)


def test_retry_the_failed_orders_ends_the_wait(shop, attention_hook):
    factories.gateway_decline(shop, CARD)
    first = automatic_run(shop)
    assert OrderAttention.objects.exists()

    retry = job_retry_failed(job=first, actor="admin:olga")

    assert retry is not None and picked(retry) == [CARD]
    assert not OrderAttention.objects.exists()


def test_a_manual_job_failing_records_nothing(shop, attention_hook):
    factories.gateway_decline(shop, CARD)
    drive(job_create_manual(tenant=shop, order_ids=[CARD]))
    assert not OrderAttention.objects.exists()


# --- transient failures come back with a growing delay ------------------------------------------------
def test_a_transient_failure_waits_and_is_taken_again_when_due(shop, attention_hook):
    with mock.patch.object(LocalOrderSource, "get_order", side_effect=TransientError("Order service: 503")):
        first = automatic_run(shop)
    waiting = OrderAttention.objects.get(order_id=CARD)
    assert first.failure_count == 1
    assert waiting.kind == "TRANSIENT" and waiting.attempts == 1 and not waiting.needs_attention
    assert waiting.next_attempt_after > timezone.now() + RETRY_BASE_DELAY - dt.timedelta(minutes=1)

    assert picked(automatic_run(shop)) == []  # not due yet

    OrderAttention.objects.update(next_attempt_after=timezone.now() - dt.timedelta(seconds=1))  # an hour on
    due = automatic_run(shop)

    assert picked(due) == [CARD] and due.success_count == 1
    assert not OrderAttention.objects.exists()


def test_the_delay_doubles_and_after_the_last_run_the_order_needs_attention(shop, settings):
    settings.INVOICE_AUTOMATIC_MAX_ATTEMPTS = 4
    job = InvoiceJob.objects.create(tenant=shop, job_type=InvoiceJob.Type.AUTOMATIC)
    row = JobOrder.objects.create(job=job, order_id=CARD, status="FAILURE", message="Order service: 503")
    delays = []
    for _ in range(4):
        AutomaticOrderPick.objects.create(job_order=row, fingerprint={"version": 1})
        attention = order_attention_record(job_order=row, transient=True, now=NOW)
        assert attention is not None
        delays.append(attention.next_attempt_after and attention.next_attempt_after - NOW)

    hour = dt.timedelta(hours=1)
    assert delays == [hour, 2 * hour, 4 * hour, None]
    attention = OrderAttention.objects.get()
    assert attention.attempts == 4 and attention.needs_attention and attention.kind == "TRANSIENT"


def test_the_kind_is_told_from_the_attempts_when_the_caller_does_not_say(shop):
    job = InvoiceJob.objects.create(tenant=shop, job_type=InvoiceJob.Type.AUTOMATIC)
    once = JobOrder.objects.create(job=job, order_id="A", status="FAILURE", attempts=1)
    retried = JobOrder.objects.create(job=job, order_id="B", status="FAILURE", attempts=4)
    assert order_attention_record(job_order=once) == OrderAttention.objects.get(
        kind="PERMANENT", order_id="A"
    )
    assert order_attention_record(job_order=retried) == OrderAttention.objects.get(
        kind="TRANSIENT", order_id="B"
    )


# --- idempotency keys ---------------------------------------------------------------------------------
def test_retry_jobs_after_a_decline_do_not_call_the_gateway_again(shop, gateway_calls):
    factories.gateway_decline(shop, CARD, "Insufficient funds")
    job = drive(job_create_manual(tenant=shop, order_ids=[CARD]))
    for _ in range(3):
        retry = job_retry_failed(job=job, actor="admin:olga")
        assert retry is not None
        job = drive(retry)
        row = JobOrder.objects.get(job=job)
        assert row.status == "FAILURE" and "Insufficient funds" in row.message
        assert "new authorisation" in row.message

    assert len(gateway_calls) == 1 and GatewayCapture.objects.count() == 1


def test_a_key_belongs_to_the_authorisation_and_amount(shop, gateway_calls):
    drive(job_create_manual(tenant=shop, order_ids=[CARD]))
    other = factories.tenant_make("globex")
    store_card_order(other)
    drive(job_create_manual(tenant=other, order_ids=[CARD]))

    keys = list(PaymentCapture.objects.order_by("id").values_list("idempotency_key", flat=True))
    assert gateway_calls == keys and len(set(keys)) == 2  # per tenant and order
    assert keys[0].startswith(f"invoice-capture:acme:{CARD}:")


def test_after_an_unknown_outcome_the_same_key_is_sent_again(shop, monkeypatch):
    keys: list[str] = []
    real = LocalPaymentGateway.capture

    def time_out_once(self, **kwargs):
        keys.append(kwargs["idempotency_key"])
        if len(keys) == 1:
            raise TransientError("Payment gateway timed out")  # never reached the gateway
        return real(self, **kwargs)

    monkeypatch.setattr(LocalPaymentGateway, "capture", time_out_once)
    job = drive(job_create_manual(tenant=shop, order_ids=[CARD]))

    assert job.success_count == 1
    assert len(keys) == 2 and keys[0] == keys[1]
    assert GatewayCapture.objects.filter(successful=True).count() == 1


def test_the_amount_is_part_of_the_key(shop):
    from invoicing.steps.capture import _idempotency_key

    invoice = mock.Mock()
    invoice.tenant.code, invoice.order_id = "acme", CARD
    payment = mock.Mock(transaction_id="t", authorized_amount=Decimal("179.88"))
    key = _idempotency_key(invoice, payment, Decimal("179.88"), "EUR")
    assert key == _idempotency_key(invoice, payment, Decimal("179.880"), "eur")
    assert key != _idempotency_key(invoice, payment, Decimal("170.00"), "EUR")
    payment.authorized_amount = Decimal("200")
    assert key != _idempotency_key(invoice, payment, Decimal("179.88"), "EUR")


# --- Emporix: the page is filtered in memory ----------------------------------------------------------
def test_emporix_search_skips_orders_that_wait_unless_they_changed(db):
    clear_token_cache()
    shop = factories.tenant_make(
        "shop",
        backend="emporix",
        emporix_base_url=p.BASE_URL,
        emporix_client_id="c",
        emporix_client_secret="s",
    )
    unchanged, changed, fresh = p.sales_order("E-1"), p.sales_order("E-2"), p.sales_order("E-3")
    OrderAttention.objects.create(
        tenant=shop, order_id="E-1", kind="PERMANENT", order_fingerprint=order_fingerprint(unchanged)
    )
    OrderAttention.objects.create(
        tenant=shop,
        order_id="E-2",
        kind="PERMANENT",
        order_fingerprint=order_fingerprint({**changed, "metadata": {"version": 0}}),
    )
    query = OrderQuery(
        statuses=("CREATED", "CONFIRMED"),
        extended_statuses=(),
        delivered_by=dt.datetime(2025, 2, 4, tzinfo=dt.UTC),
        delivery_field=DELIVERY_WINDOW_DATE,
        time_zone="UTC",
    )
    with mock.patch("jobs.tasks.resolve_automatic_job.delay"):
        job = automatic._job_create(tenant=shop, query=query, requested_by="test")
    with responses.RequestsMock() as mock_, mock.patch("jobs.automatic._dispatch"):
        mock_.post(p.TOKEN.url(), json=p.token())
        mock_.get(p.LIST_ORDERS.url(), body=json.dumps(p.sales_orders(unchanged, changed, fresh)))
        automatic_job_resolve(job_id=job.pk, page_size=10)

    assert sorted(picked(job)) == ["E-2", "E-3"]
    assert AutomaticOrderPick.objects.get(job_order__order_id="E-2").fingerprint == order_fingerprint(changed)


# --- one scheduled run at a time ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starters_start_one_run():
    tenant = factories.tenant_make("acme")
    configuration_set(tenant=tenant, key="invoiceSettings", value=SETTINGS)
    barrier = threading.Barrier(2, timeout=30)
    real_query_for = automatic.order_query_for
    results: dict[str, Any] = {}

    def query_for_then_meet(*args, **kwargs):
        query = real_query_for(*args, **kwargs)
        barrier.wait()  # both starters go on to the overlap check together
        return query

    def start(who: str) -> None:
        try:
            results[who] = automatic_run_scheduled(tenant_code="acme", requested_by=who)
        except Exception as exc:  # reported by the assertion below
            results[who] = exc
        finally:
            connection.close()

    with (
        mock.patch.object(automatic, "order_query_for", query_for_then_meet),
        mock.patch("jobs.tasks.resolve_automatic_job.delay"),
    ):
        threads = [threading.Thread(target=start, args=(who,)) for who in ("schedule", "admin:olga")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    started = [r for r in results.values() if isinstance(r, InvoiceJob)]
    assert len(results) == 2 and sum(r is None for r in results.values()) == 1, results
    assert len(started) == 1
    assert InvoiceJob.objects.filter(job_type="AUTOMATIC").count() == 1
    skipped = InvoiceEvent.objects.get(type="automatic_run_skipped")
    assert str(started[0].pk) in skipped.message
