"""Real Celery worker processes sharing this test run's database and queue (end-to-end tests, drills).

Registered once as a plugin by the root conftest (`pytest_plugins`), so that its fixtures
`celery_worker_factory` and `amqp_broker` are there for every test package and the benchmarks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.models import InvoiceJob, JobOrder

REPO = Path(__file__).resolve().parent.parent


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker process that shares this test run's database and queue."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgresql://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url,
            "TEST_EMAIL_BACKEND": "invoicing.mail.EmlFileBackend",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def amqp_url() -> str:
    """The RabbitMQ of this run (scripts/with-test-services exports AMQP_URL)."""
    url = os.environ.get("AMQP_URL", "")
    if not url:
        pytest.fail(
            "AMQP_URL is not set: run the tests with `make test` (scripts/with-test-services finds or starts RabbitMQ)"
        )
    return url


class WorkerProcess:
    def __init__(
        self,
        *,
        name: str,
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
        broker: str = "redis",
        pool: str | None = None,
    ) -> None:
        """broker="amqp": the worker consumes from RabbitMQ (AMQP_URL) instead of the run's Redis;
        the test publishes there too through the `amqp_broker` fixture."""
        self.name = name
        if broker not in {"redis", "amqp"}:
            raise ValueError(f"broker must be 'redis' or 'amqp', not {broker!r}")
        from django.conf import settings

        # settings.py picks the transport options (and so the broker's behaviour) from this URL.
        # Set either way: while `amqp_broker` is active this process's environment names RabbitMQ.
        broker_url = amqp_url() if broker == "amqp" else settings.CELERY_BROKER_URL
        extra_env = {"CELERY_BROKER_URL": broker_url, **(extra_env or {})}
        log_dir = Path(os.environ["VAR_DIR"]) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip",
                "--without-mingle", "--without-heartbeat", "--include", "tests.e2e_hooks",
                *(["--pool", pool] if pool else []),
            ],
            cwd=REPO,
            env=worker_env(extra_env),
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log()}")
            if "ready." in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} did not start in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker dies mid-task, nothing is acknowledged."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker_factory(transactional_db: Any) -> Iterator[Any]:
    workers: list[WorkerProcess] = []

    def start(name: str = "worker", **kwargs: Any) -> WorkerProcess:
        worker = WorkerProcess(name=f"{name}-{os.environ['TEST_RUN_ID']}-{len(workers)}", **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _drop_broker_connections(app: Any) -> None:
    """Forget the app's pooled broker connections so that the next publish connects anew.

    Celery caches a connection pool (`app.pool`) and a producer pool (`app.amqp.producer_pool`)
    built from broker_url on first use; both are rebuilt lazily once cleared, which is what
    Celery itself does after a fork (`Celery._after_fork`).
    """
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None and amqp._producer_pool is not None:
        amqp._producer_pool.force_close_all()
        amqp._producer_pool = None
    # kombu keeps its own registry of producer pools per broker URL; without a reset it would
    # hand the closed pool back for the same URL ("Acquire on closed pool").
    from kombu import pools

    pools.reset()


@pytest.fixture
def amqp_broker() -> Iterator[str]:
    """This test process publishes to RabbitMQ (AMQP_URL) with the production AMQP settings.

    Request it before `celery_worker_factory`, whose workers then get broker="amqp": fixtures
    are torn down in reverse, so the workers stop before the test's queue is deleted.
    """
    import runpy

    from kombu import Queue

    from config.celery import app

    url = amqp_url()
    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport_options", "broker_heartbeat")}
    patch = pytest.MonkeyPatch()
    # Celery reads CELERY_BROKER_URL from the environment before its configuration, and
    # tests/settings.py put the run's Redis there.
    patch.setenv("CELERY_BROKER_URL", url)
    # The settings module as production evaluates it for this URL (this process's Django
    # settings stay as they are).
    production = runpy.run_path(str(REPO / "config" / "settings.py"))
    _drop_broker_connections(app)
    app.conf.broker_url = url
    app.conf.broker_transport_options = production["CELERY_BROKER_TRANSPORT_OPTIONS"]
    app.conf.broker_heartbeat = production["CELERY_BROKER_HEARTBEAT"]
    try:
        yield url
    finally:
        # The run's queue is durable; on a shared default vhost it would outlive the run.
        try:
            with app.connection_for_write() as connection:
                Queue(app.conf.task_default_queue).bind(connection.default_channel).delete()
        except Exception as exc:  # a leftover queue must not fail the test
            print(f"could not delete the test queue on RabbitMQ: {exc!r}")
        _drop_broker_connections(app)
        patch.undo()
        for key, value in saved.items():
            app.conf[key] = value


def wait_for_job(job_id: Any, *, timeout: float = 120) -> InvoiceJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = InvoiceJob.objects.get(pk=job_id)
        if job.status == InvoiceJob.Status.DONE:
            return job
        time.sleep(0.3)
    pending = list(
        JobOrder.objects.filter(job_id=job_id, status="PENDING").values_list("order_id", "step", "message")
    )
    raise AssertionError(f"job {job_id} not DONE after {timeout} s; pending: {pending[:10]}")
