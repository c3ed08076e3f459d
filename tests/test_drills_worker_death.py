"""Drill: kill -9 of a worker mid-job on Redis; its orders finish within 60 s, through heartbeats.

Redis hands a killed worker's unacknowledged messages back only after the visibility timeout
(900 s, left at its default here). Recovery comes from the worker heartbeats instead: worker
A stops writing its heartbeat, and once it is WORKER_DEAD_AFTER (15 s) old, the reconciler
(a real celery beat, every INVOICE_RECONCILE_INTERVAL = 10 s) re-sends every step A held,
running or only received. All settings are the defaults.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import GatewayCapture
from invoicing.models import EmailDelivery, Invoice
from jobs.models import InvoiceJob, JobOrder, WorkerHeartbeat
from jobs.schedules import periodic_tasks_sync
from tests import factories
from tests.invariants import assert_invariants, mailed_invoice_numbers
from tests.test_e2e_beat import BeatProcess
from tests.workers import wait_for_job

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECOVERY_BOUND = 60  # seconds from the kill until the job is DONE (issue 9)
# The issue's drills used 200 orders; 100 keep this test near a minute on 2 cores (the kill
# comes mid-job either way, and each order passes through all seven steps).
ORDER_COUNT = 100
DEMO = sorted(factories.DEMO_ORDERS)


def order_ids() -> list[tuple[str, str]]:
    """(new id, demo order it copies): the 20 demo orders, over and over."""
    return [(f"D{n:03d}-{DEMO[n % len(DEMO)]}", DEMO[n % len(DEMO)]) for n in range(ORDER_COUNT)]


STEPS = [step for step in JobOrder.Step.values if step != JobOrder.Step.DONE]


def steps_done(job_id: str) -> int:
    done = 0
    for step, status in JobOrder.objects.filter(job_id=job_id).values_list("step", "status"):
        done += (
            len(STEPS)
            if step == JobOrder.Step.DONE or status != JobOrder.Status.PENDING
            else STEPS.index(step)
        )
    return done


@pytest.fixture
def beat(tmp_path: Any) -> Any:
    periodic_tasks_sync()  # the reconciler every INVOICE_RECONCILE_INTERVAL seconds
    process = BeatProcess(tmp_path / "beat")
    yield process
    process.stop()


def test_drill_redis_kill_9_mid_job_every_order_finishes_within_60_s(celery_worker_factory, beat, tmp_path):
    assert settings.CELERY_BROKER_URL.startswith("redis")
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 900  # no help from Redis
    tenant = factories.tenant_make("shop")
    for new_id, demo_id in order_ids():
        factories.orders_store(tenant, demo_id, rename={demo_id: new_id})
    client_, _ = factories.api_client_make(tenant)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    mail_dir = tmp_path / "mail"
    env = {"EMAIL_FILE_PATH": str(mail_dir)}
    doomed = celery_worker_factory("a", concurrency=2, extra_env=env)
    rescuer = celery_worker_factory("b", concurrency=2, extra_env=env)
    doomed_host = f"{doomed.name}@"

    ids = [new_id for new_id, _ in order_ids()]
    response = api.post("/invoice/shop/jobs/invoices", {"jobType": "MANUAL", "orderIds": ids}, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["jobId"]
    posted_at = time.monotonic()

    # Mid-job: once about a third of all steps are done, and A holds some orders right now.
    deadline = time.monotonic() + 90
    holding = JobOrder.objects.filter(
        job_id=job_id, status=JobOrder.Status.PENDING, held_by__startswith=doomed_host
    )
    while True:
        assert time.monotonic() < deadline, f"the job did not get going:\n{doomed.log()}\n{rescuer.log()}"
        if steps_done(job_id) >= len(STEPS) * ORDER_COUNT // 3 and holding.exists():
            break
        time.sleep(0.05)
    # both workers are alive and say so: A is not taken for dead before the kill
    fresh = timezone.now() - dt.timedelta(seconds=settings.WORKER_DEAD_AFTER)
    assert WorkerHeartbeat.objects.filter(seen_at__gte=fresh).count() == 2
    job = InvoiceJob.objects.get(pk=job_id)
    doomed.kill()  # SIGKILL to A's whole process group: nothing it held is acknowledged
    killed_at = time.monotonic()
    held = set(holding.values_list("pk", flat=True))
    assert held, "worker A held no order when it was killed"
    assert job.status == InvoiceJob.Status.IN_PROGRESS

    job = wait_for_job(job_id, timeout=RECOVERY_BOUND)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < RECOVERY_BOUND
    assert rescuer.process.poll() is None, rescuer.log()

    rows = JobOrder.objects.filter(job=job)
    failed = {row.order_id: row.message for row in rows if row.status != JobOrder.Status.SUCCESS}
    assert not failed, failed
    for row in rows.filter(pk__in=held).select_related("invoice"):  # finished by B, invoiced once
        assert row.invoice is not None and row.invoice.status == Invoice.Status.ISSUED, row.order_id
    numbers = sorted(Invoice.objects.filter(tenant=tenant).values_list("number", flat=True))
    assert numbers == sorted(f"INV{n}" for n in range(1001, 1001 + ORDER_COUNT))
    paid_by_card = sum(
        1 for _, demo_id in order_ids() if factories.DEMO_ORDERS[demo_id]["payments"][0].get("transactionId")
    )
    assert GatewayCapture.objects.filter(successful=True).count() == paid_by_card
    # Mail is sent at most once: a mail A was sending when it died is recorded "outcome unknown"
    # (EmailDelivery FAILED, for an operator to check) and not sent again. Every other order
    # is mailed exactly once.
    mailed = mailed_invoice_numbers(mail_dir)
    assert set(mailed.values()) == {1}
    sent = set(
        EmailDelivery.objects.filter(invoice__tenant=tenant, status=EmailDelivery.Status.SENT).values_list(
            "invoice__number", flat=True
        )
    )
    assert sent <= set(mailed)
    not_sent = set(numbers) - sent
    held_numbers = set(Invoice.objects.filter(job_orders__pk__in=held).values_list("number", flat=True))
    assert not_sent <= held_numbers and len(not_sent) <= 2, not_sent  # at most A's two running steps
    assert not WorkerHeartbeat.objects.filter(hostname__startswith=doomed_host).exists()  # found dead
    assert_invariants(tenant, mail_dir=mail_dir)
    print(
        f"\nRedis: {len(held)} order(s) held by the killed worker; job started {killed_at - posted_at:.1f} s "
        f"before the kill and was DONE {recovered_in:.1f} s after it; "
        f"{len(not_sent)} mail(s) in flight at the kill recorded as outcome unknown"
    )
