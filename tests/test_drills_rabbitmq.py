"""RabbitMQ as the production broker: its settings, the test services, and the kill -9 drill.

RabbitMQ puts a consumer's unacknowledged messages back into the queue the moment the
consumer's connection closes. With task_acks_late, a worker killed mid-step therefore hands
every order it held (running or only prefetched) to the other workers at once, without waiting
for a visibility timeout or the reconciler. The drill proves it with real worker processes.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from integrations.models import GatewayCapture
from invoicing.models import EmailDelivery, Invoice
from jobs.models import JobOrder
from tests import factories
from tests.invariants import assert_invariants, mailed_invoice_numbers
from tests.workers import REPO, wait_for_job

RECOVERY_BOUND = 60  # seconds, from the kill until the job is DONE (issue 9)
ORDERS = sorted(factories.DEMO_ORDERS)  # 20 orders, 9 of them paid by card


def production_settings(monkeypatch: pytest.MonkeyPatch, broker_url: str) -> dict[str, Any]:
    """config/settings.py as a production process with this CELERY_BROKER_URL evaluates it."""
    import runpy

    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    for name in ("CELERY_VISIBILITY_TIMEOUT", "CELERY_BROKER_HEARTBEAT"):
        monkeypatch.delenv(name, raising=False)
    return runpy.run_path(str(REPO / "config" / "settings.py"))


# --- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url", ["amqp://guest:guest@rabbit:5672//", "amqps://u:p@rabbit:5671/prod", "pyamqp://rabbit//"]
)
def test_rabbitmq_gets_publisher_confirms_and_no_redis_options(monkeypatch, url):
    conf = production_settings(monkeypatch, url)

    # visibility_timeout & co. are Redis transport options; RabbitMQ redelivers on disconnect
    assert conf["CELERY_BROKER_TRANSPORT_OPTIONS"] == {"confirm_publish": True}
    assert conf["CELERY_BROKER_HEARTBEAT"] == 20  # a vanished machine is noticed in ~2 heartbeats
    assert conf["CELERY_TASK_ACKS_LATE"] is True  # what makes the redelivery cover running steps
    assert conf["CELERY_TASK_REJECT_ON_WORKER_LOST"] is True


@pytest.mark.parametrize("url", ["redis://redis:6379/0", "rediss://:secret@redis:6380/0"])
def test_redis_keeps_its_visibility_timeout(monkeypatch, url):
    conf = production_settings(monkeypatch, url)

    options = conf["CELERY_BROKER_TRANSPORT_OPTIONS"]
    # the values are the Redis recovery settings' business; here: they apply to Redis only
    assert isinstance(options["visibility_timeout"], int) and options["visibility_timeout"] > 0
    assert "unacked_restore_interval" in options
    assert "confirm_publish" not in options


def test_broker_heartbeat_can_be_set(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_HEARTBEAT", "10")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://rabbit//")
    import runpy

    assert runpy.run_path(str(REPO / "config" / "settings.py"))["CELERY_BROKER_HEARTBEAT"] == 10


# --- scripts/with-test-services -----------------------------------------------------------------
PROBE = """
import os, kombu
with kombu.Connection(os.environ["AMQP_URL"], connect_timeout=10) as connection:
    with connection.SimpleQueue("with-test-services-probe") as queue:
        queue.put({"hello": "rabbit"})
        message = queue.get(timeout=10)
        message.ack()
        print("AMQP round trip:", message.payload, connection.as_uri())
"""


def test_with_test_services_starts_a_throwaway_rabbitmq_and_removes_it(tmp_path):
    """TEST_SERVICES=throwaway: RabbitMQ on a free port for the command, gone afterwards.

    The run's PostgreSQL and Redis are passed through (their URLs are in the environment).
    """
    env = {key: value for key, value in os.environ.items() if key != "AMQP_URL"}
    env.update({"TEST_SERVICES": "throwaway", "TMPDIR": str(tmp_path)})
    result = subprocess.run(
        [str(REPO / "scripts" / "with-test-services"), str(REPO / ".venv" / "bin" / "python"), "-c", PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "AMQP round trip: {'hello': 'rabbit'}" in result.stdout, result.stdout
    started = re.search(r"rabbitmq: throwaway server on 127\.0\.0\.1:(\d+) \(node (\S+),", result.stderr)
    assert started, result.stderr
    port, node = int(started.group(1)), started.group(2)
    assert port != 5672
    # stopped on exit: nothing answers on its port, its node and data dir are gone
    refused = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True)
    assert refused.returncode != 0
    assert list(tmp_path.iterdir()) == []
    nodes = subprocess.run(["pgrep", "-f", re.escape(node)], capture_output=True, text=True)
    assert nodes.stdout.strip() == "", f"the throwaway RabbitMQ node {node} is still running"


# --- the drill ----------------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_drill_rabbitmq_kill_9_mid_job_recovers_within_60_s(amqp_broker, celery_worker_factory, tmp_path):
    """kill -9 of a worker mid-job on RabbitMQ: the other worker finishes its orders at once."""
    tenant = factories.tenant_make("shop")
    factories.orders_store(tenant)
    client_, _ = factories.api_client_make(tenant)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.token_make(client_)}")
    mail_dir = tmp_path / "mail"
    env = {"EMAIL_FILE_PATH": str(mail_dir)}
    # A's PDF step sleeps far longer than the test waits, so A surely dies holding orders.
    doomed = celery_worker_factory(
        "a",
        broker="amqp",
        extra_env={**env, "INVOICE_TEST_SLOW_STEP": "render:600", "INVOICE_TEST_MARKER_DIR": str(tmp_path)},
    )
    rescuer = celery_worker_factory("b", broker="amqp", extra_env=env)

    response = api.post(
        "/invoice/shop/jobs/invoices", {"jobType": "MANUAL", "orderIds": ORDERS}, format="json"
    )
    assert response.status_code == 201, response.content
    job_id = response.json()["jobId"]

    held_marker = tmp_path / "slow-render-started"
    deadline = time.monotonic() + 60
    while not held_marker.exists():
        assert time.monotonic() < deadline, f"worker A never started a PDF:\n{doomed.log()}\n{rescuer.log()}"
        time.sleep(0.1)
    doomed.kill()  # SIGKILL to A's whole process group, mid-render: nothing it held was acknowledged
    killed_at = time.monotonic()
    held = {int(pk) for pk in held_marker.read_text().split()}
    assert held, "worker A held no order when it was killed"

    job = wait_for_job(job_id, timeout=RECOVERY_BOUND)
    recovered_in = time.monotonic() - killed_at
    assert recovered_in < RECOVERY_BOUND
    assert rescuer.process.poll() is None, rescuer.log()  # B did it, and is still alive

    rows = JobOrder.objects.filter(job=job)
    assert rows.count() == len(ORDERS)
    failed = {row.order_id: row.message for row in rows if row.status != JobOrder.Status.SUCCESS}
    assert not failed, failed
    # the orders A died with were finished by B: invoiced once, numbered, mailed once
    for row in rows.filter(pk__in=held).select_related("invoice"):
        assert row.invoice is not None and row.invoice.status == Invoice.Status.ISSUED, row.order_id
    numbers = sorted(Invoice.objects.filter(tenant=tenant).values_list("number", flat=True))
    assert numbers == [f"INV{n}" for n in range(1001, 1001 + len(ORDERS))]
    assert GatewayCapture.objects.filter(successful=True).count() == sum(
        1 for oid in ORDERS if factories.DEMO_ORDERS[oid]["payments"][0].get("transactionId")
    )
    mailed = mailed_invoice_numbers(mail_dir)
    assert sorted(mailed) == numbers and set(mailed.values()) == {1}
    assert EmailDelivery.objects.filter(
        invoice__tenant=tenant, status=EmailDelivery.Status.SENT
    ).count() == len(ORDERS)
    assert_invariants(tenant, mail_dir=mail_dir)
    print(f"\nRabbitMQ: {len(held)} held order(s) redelivered, job DONE {recovered_in:.1f} s after kill -9")
