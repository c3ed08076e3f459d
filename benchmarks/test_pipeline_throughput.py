"""Throughput of the pipeline through real workers, and where each millisecond goes (issue 14).

Figures, not pass/fail thresholds: `make bench` prints them (`-k throughput` for these alone).
A 200-order MANUAL job on the local backend (emails to files), on PostgreSQL and Redis:

- one worker process at concurrency 2, 3 runs (median): invoices per second end to end, worker
  CPU per invoice (user + sys of the worker's process tree, from /proc), SQL statements per
  invoice (counted in the worker, benchmarks/worker_hooks.py), database connections opened,
  and the CPU the PostgreSQL and Redis servers spent meanwhile;
- per step: CPU and statements, and the e-invoice and PDF parts within the steps;
- the floors: the same worker running empty tasks (seven hops per order, like the steps), and
  bare ReportLab drawing the same text as the invoice PDF, with the ratios to them;
- other worker setups for comparison, each with its own empty-task floor: BENCH_SETUPS, e.g.
  "prefork:2x1,prefork:2x2,solo:2x1" (pool:processes x concurrency; the default), 3 runs each
  (BENCH_PAIR_RUNS). BENCH_HEADLINE changes the first setup (default prefork:1x2).

The machine may be shared: the figures of each run are printed too, so noise shows. Setups are
measured one after the other, and a shared machine's speed drifts by 10-15 % within minutes:
compare setups within one run of the benchmark, and run it twice with the order swapped
(BENCH_HEADLINE and BENCH_SETUPS) before reading a difference of that size.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from benchmarks.timing import cpu_ms_per_call, demo_invoices
from jobs.models import InvoiceJob
from jobs.pipeline import STEP_NAMES
from jobs.services import job_create_manual
from tests import factories

ORDERS = int(os.environ.get("BENCH_ORDERS", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PAIR_RUNS = int(os.environ.get("BENCH_PAIR_RUNS", str(RUNS)))  # runs of each other worker setup
HOPS = len(STEP_NAMES)  # one message per step
TICK = os.sysconf("SC_CLK_TCK")


# --- CPU from /proc ----------------------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces
    return [
        text[: text.index(" (")],
        text[text.index(" (") + 2 : text.rindex(")")],
        *text[text.rindex(")") + 2 :].split(),
    ]


def _all_stats() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                stats[int(entry)] = fields
    return stats


def _cpu(fields: list[str], *, reaped: bool) -> float:
    # fields[0] pid, [1] comm, [2] state, [3] ppid; utime, stime, cutime, cstime are fields 14-17 of stat
    utime, stime, cutime, cstime = (int(value) for value in fields[13:17])
    return (utime + stime + ((cutime + cstime) if reaped else 0)) / TICK


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and all its descendants (and of children already reaped)."""
    stats = _all_stats()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, fields in stats.items():
        children[int(fields[3])].append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += _cpu(stats[pid], reaped=True)
        todo.extend(children.get(pid, ()))
    return total


def servers_cpu() -> dict[str, float]:
    """CPU seconds of the PostgreSQL and Redis servers on this machine (all their processes;
    the postmaster's reaped children count: a backend that closed its connection is gone)."""
    totals = {"postgres": 0.0, "redis": 0.0}
    for fields in _all_stats().values():
        if fields[1] == "postgres":
            totals["postgres"] += _cpu(fields, reaped=True)
        elif fields[1].startswith("redis-server"):
            totals["redis"] += _cpu(fields, reaped=False)
    return totals


# --- what the worker wrote ---------------------------------------------------------------------------
class WorkerStats:
    """The per-task lines of benchmarks/worker_hooks.py, read since the last mark."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.offsets: dict[Path, int] = {}

    def mark(self) -> None:
        self.offsets = {path: path.stat().st_size for path in self.directory.glob("tasks-*.jsonl")}

    def since_mark(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for path in self.directory.glob("tasks-*.jsonl"):
            with path.open() as handle:
                handle.seek(self.offsets.get(path, 0))
                records.extend(json.loads(line) for line in handle if line.strip())
        return records


@dataclass
class Run:
    seconds: float
    worker_cpu: float  # seconds
    servers: dict[str, float]
    records: list[dict[str, Any]] = field(default_factory=list)

    def per_invoice_ms(self, seconds: float) -> float:
        return seconds * 1000 / ORDERS

    @property
    def rate(self) -> float:
        return ORDERS / self.seconds

    @property
    def queries(self) -> int:
        return sum(record.get("queries", 0) for record in self.records)

    @property
    def connections(self) -> int:
        return sum(record.get("connections", 0) for record in self.records)


def _wait_done(job_id: Any, timeout: float) -> InvoiceJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = InvoiceJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        if status == InvoiceJob.Status.DONE:
            return InvoiceJob.objects.get(pk=job_id)
        time.sleep(0.05)  # 1 % of a 5 s run; polling faster costs the workers' CPU
    raise AssertionError(f"job {job_id} not DONE after {timeout} s")


def _orders(tenant: Any, count: int) -> list[str]:
    """`count` orders stored for the tenant: the demo orders, copied as often as needed."""
    demo = list(factories.DEMO_ORDERS)
    ids: list[str] = []
    for copy_no in range((count + len(demo) - 1) // len(demo)):
        rename = {oid: f"{oid}-{copy_no}" for oid in demo}
        factories.orders_store(tenant, *demo, rename=rename)
        ids.extend(rename[oid] for oid in demo)
    return ids[:count]


def _job_run(pids: list[int], stats: WorkerStats, count: int = ORDERS) -> Run:
    tenant = factories.tenant_make(f"b{uuid.uuid4().hex[:8]}")
    order_ids = _orders(tenant, count)
    stats.mark()
    cpu0, servers0 = sum(tree_cpu(pid) for pid in pids), servers_cpu()
    start = time.perf_counter()
    job = job_create_manual(tenant=tenant, order_ids=order_ids)
    done = _wait_done(job.pk, timeout=900)
    seconds = time.perf_counter() - start
    time.sleep(0.3)  # the last postrun lines
    cpu1, servers1 = sum(tree_cpu(pid) for pid in pids), servers_cpu()
    assert done.success_count == count, (done.success_count, done.failure_count)
    return Run(
        seconds,
        cpu1 - cpu0,
        {name: servers1[name] - servers0[name] for name in servers0},
        stats.since_mark(),
    )


def _noop_run(pids: list[int]) -> Run:
    """ORDERS chains of HOPS empty tasks: the Celery floor of a job of ORDERS orders."""
    import redis
    from django.conf import settings

    from config.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    key = f"bench-noop-{uuid.uuid4().hex}"
    cpu0, servers0 = sum(tree_cpu(pid) for pid in pids), servers_cpu()
    start = time.perf_counter()
    for _ in range(ORDERS):
        app.send_task("bench.noop", args=[key, HOPS])
    deadline = time.monotonic() + 300
    while int(client.get(key) or 0) < ORDERS:
        assert time.monotonic() < deadline, "the empty tasks did not finish"
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    cpu1, servers1 = sum(tree_cpu(pid) for pid in pids), servers_cpu()
    client.delete(key)
    return Run(seconds, cpu1 - cpu0, {name: servers1[name] - servers0[name] for name in servers0})


def _median_run(runs: list[Run], key: Any) -> float:
    return statistics.median(key(run) for run in runs)


# --- the render floor: bare ReportLab drawing the same text -------------------------------------------
def bare_reportlab(document: Any) -> bytes:
    """The invoice's text drawn with a plain canvas and a standard font: what ReportLab needs at
    least to produce such a page (no layout, no embedded font, no logo, no PDF/A)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    y = 800.0

    def line(text: str, x: float = 50) -> None:
        nonlocal y
        if y < 60:
            page.showPage()
            y = 800.0
        page.drawString(x, y, text[:110])
        y -= 12

    seller = document.seller
    line(f"{seller.legal_name} {seller.address.street} {seller.address.zip_code} {seller.address.city}")
    line(f"Invoice {document.number} {document.issue_date} order {document.order_id}")
    for text in (document.customer_name, document.billing_address.street, document.billing_address.city):
        line(str(text))
    for row in document.rows:
        line(f"{row.description} {row.quantity} {row.unit_net} {row.tax_rate} {row.net}")
    for tax in document.tax_breakdown:
        line(f"{tax.rate} {tax.net} {tax.tax} {tax.gross}")
    line(f"{document.net_total} {document.tax_total} {document.gross_total}")
    line(document.payment_note)
    page.showPage()
    page.save()
    return out.getvalue()


def _render_floor() -> tuple[float, float]:
    """Mean CPU ms per invoice over the demo orders (the job's mix): render_invoice_pdf, bare."""
    from invoicing.pdf import render_invoice_pdf

    calls = [(document,) for document in demo_invoices()]
    return cpu_ms_per_call(render_invoice_pdf, calls), cpu_ms_per_call(bare_reportlab, calls)


# --- the report --------------------------------------------------------------------------------------
def _breakdown(runs: list[Run]) -> str:
    """CPU ms and statements per invoice for each step, and the parts inside the steps."""
    tasks: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # cpu, wall, queries, count
    parts: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for run in runs:
        for record in run.records:
            entry = tasks[record["task"]]
            entry[0] += record.get("cpu", 0.0)
            entry[1] += record.get("wall", 0.0)
            entry[2] += record.get("queries", 0)
            entry[3] += 1
            for name, (cpu, queries, calls) in record.get("parts", {}).items():
                part = parts[(record["task"], name)]
                part[0] += cpu
                part[1] += queries
                part[2] += calls
    invoices = ORDERS * len(runs)
    order = {f"invoice.step.{name}": index for index, name in enumerate(STEP_NAMES)}
    lines = [
        f"{'per invoice (mean of ' + str(len(runs)) + ' runs)':<44} {'CPU ms':>8} {'wall ms':>8} {'SQL':>6} {'tasks':>6}"
    ]
    total = [0.0, 0.0, 0.0]
    for name in sorted(tasks, key=lambda task: order.get(task, 99)):
        cpu, wall, queries, count = tasks[name]
        total = [total[0] + cpu, total[1] + wall, total[2] + queries]
        lines.append(
            f"{name:<44} {cpu / invoices:>8.1f} {wall / invoices:>8.1f} {queries / invoices:>6.1f} {count / invoices:>6.2f}"
        )
        for (task, part_name), (part_cpu, part_queries, calls) in sorted(parts.items()):
            if task == name:
                lines.append(
                    f"  {part_name:<42} {part_cpu / invoices:>8.1f} {'':>8} {part_queries / invoices:>6.1f} {calls / invoices:>6.2f}"
                )
    lines.append(
        f"{'all tasks':<44} {total[0] / invoices:>8.1f} {total[1] / invoices:>8.1f} {total[2] / invoices:>6.1f}"
    )
    return "\n".join(lines)


def _print_profile(directory: Path) -> None:
    """INVOICE_BENCH_PROFILE=1: the pool children's cProfile, merged, the top by own and by
    cumulative time."""
    import pstats

    files = sorted(str(path) for path in directory.glob("profile-*.prof"))
    if not files:
        return
    profile = pstats.Stats(*files)
    profile.sort_stats("tottime").print_stats(40)
    profile.sort_stats("cumulative").print_stats(60)


def _start_worker(
    factory: Any, directory: Path, name: str, concurrency: int, pool: str | None = None, **env: str
) -> Any:
    return factory(
        name,
        concurrency=concurrency,
        pool=pool,
        extra_env={
            "EMAIL_FILE_PATH": str(directory / "mail"),
            # as in production (README, "Running it in production": `-l INFO`, LOG_LEVEL INFO)
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            "INVOICE_BENCH_STATS": str(directory),
            "INVOICE_BENCH_PROFILE": os.environ.get("INVOICE_BENCH_PROFILE", ""),
            **env,
        },
    )


def _worker_pids(workers: list[Any]) -> list[int]:
    return [worker.process.pid for worker in workers]


@dataclass
class Setup:
    """Worker processes of one pool kind: `processes` x `concurrency`."""

    pool: str
    processes: int
    concurrency: int

    @property
    def label(self) -> str:
        return f"{self.processes} x {self.pool} {self.concurrency}"

    @classmethod
    def parse(cls, text: str) -> Setup:
        """ "prefork:1x2" -> 1 prefork process at concurrency 2."""
        pool, _, shape = text.strip().partition(":")
        processes, _, concurrency = shape.partition("x")
        return cls(pool, int(processes), int(concurrency))


# The setup the issue names first (one prefork worker at concurrency 2), then the others compared.
HEADLINE = Setup.parse(os.environ.get("BENCH_HEADLINE", "prefork:1x2"))
SETUPS = [
    Setup.parse(text)
    for text in os.environ.get("BENCH_SETUPS", "prefork:2x1,prefork:2x2,solo:2x1").split(",")
    if text.strip()
]


@dataclass
class Measured:
    setup: Setup
    runs: list[Run]
    noops: list[Run]

    @property
    def rate(self) -> float:
        return _median_run(self.runs, lambda run: run.rate)

    @property
    def cpu_ms(self) -> float:
        return _median_run(self.runs, lambda run: run.per_invoice_ms(run.worker_cpu))

    def server_ms(self, name: str) -> float:
        return _median_run(self.runs, lambda run: run.per_invoice_ms(run.servers[name]))

    @property
    def noop_tasks(self) -> float:
        return _median_run(self.noops, lambda run: ORDERS * HOPS / run.seconds)

    @property
    def noop_task_ms(self) -> float:
        return _median_run(self.noops, lambda run: run.worker_cpu * 1000 / (ORDERS * HOPS))


def _measure(factory: Any, directory: Path, stats: WorkerStats, setup: Setup, runs: int) -> Measured:
    name = f"{setup.pool}{setup.processes}x{setup.concurrency}"
    workers = [
        _start_worker(factory, directory, f"{name}-{n}", setup.concurrency, pool=setup.pool)
        for n in range(setup.processes)
    ]
    pids = _worker_pids(workers)
    _job_run(pids, stats, count=40)  # warm-up: rules compiled, fonts loaded, connections open
    job_runs = [_job_run(pids, stats) for _ in range(runs)]
    _noop_run(pids)  # warm-up
    noops = [_noop_run(pids) for _ in range(runs)]
    for worker in workers:
        worker.stop()
    return Measured(setup, job_runs, noops)


@pytest.mark.timeout(3600)
@pytest.mark.django_db(transaction=True)
def test_bench_pipeline_throughput(celery_worker_factory, tmp_path):
    from django.db import connection

    assert connection.vendor == "postgresql"
    stats = WorkerStats(tmp_path)
    pdf_ms, bare_ms = _render_floor()

    headline = _measure(celery_worker_factory, tmp_path, stats, HEADLINE, RUNS)
    _print_profile(tmp_path)
    others = [_measure(celery_worker_factory, tmp_path, stats, setup, PAIR_RUNS) for setup in SETUPS]

    runs, noops = headline.runs, headline.noops
    rate = headline.rate
    cpu_ms = headline.cpu_ms
    queries = _median_run(runs, lambda run: run.queries / ORDERS)
    connections = _median_run(runs, lambda run: run.connections / ORDERS)
    pg_ms = headline.server_ms("postgres")
    redis_ms = headline.server_ms("redis")
    noop_tasks = headline.noop_tasks
    noop_rate = _median_run(noops, lambda run: run.rate)
    noop_task_ms = headline.noop_task_ms
    noop_redis_ms = _median_run(noops, lambda run: run.servers["redis"] * 1000 / (ORDERS * HOPS))
    floor_ms = HOPS * noop_task_ms + bare_ms

    def each(values: list[Run], key: Any, fmt: str = "{:.1f}") -> str:
        return ", ".join(fmt.format(key(run)) for run in values)

    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    setups = "\n".join(
        f"  {m.setup.label:<16} {m.rate:>6.1f} invoices/s (runs: {each(m.runs, lambda r: r.rate)}); "
        f"worker CPU {m.cpu_ms:.0f} ms, PostgreSQL {m.server_ms('postgres'):.1f} ms per invoice; "
        f"empty tasks {m.noop_tasks:.0f}/s, {m.noop_task_ms:.2f} ms CPU each"
        for m in [headline, *others]
    )
    print(
        f"\n\nThroughput: {ORDERS}-order MANUAL job, local backend, emails to files, PostgreSQL + Redis; "
        f"{os.cpu_count()} CPUs ({cpu_model}); load average {os.getloadavg()[0]:.1f}; median of {RUNS} runs\n"
        f"{HEADLINE.label}:  {rate:.1f} invoices/s (runs: {each(runs, lambda r: r.rate)})\n"
        f"  worker CPU per invoice:  {cpu_ms:.0f} ms (runs: {each(runs, lambda r: r.per_invoice_ms(r.worker_cpu), '{:.0f}')})\n"
        f"  SQL statements/invoice:  {queries:.1f}; connections opened per invoice: {connections:.2f}\n"
        f"  PostgreSQL CPU/invoice:  {pg_ms:.1f} ms; Redis CPU/invoice: {redis_ms:.1f} ms "
        "(whole servers: includes anything else running on them)\n"
        f"Worker setups (processes x pool concurrency; median of {PAIR_RUNS} runs for all but the first):\n"
        f"{setups}\n"
        f"Floors and ratios ({HEADLINE.label}):\n"
        f"  empty tasks, same worker and broker: {noop_tasks:.0f} tasks/s, {noop_task_ms:.2f} ms CPU per task "
        f"(Redis {noop_redis_ms:.2f} ms); {HOPS} hops per order = {noop_rate:.1f} orders/s\n"
        f"    invoices/s vs empty pipeline: {rate / noop_rate:.2f}x of the floor rate\n"
        f"  PDF per invoice (the job's mix): render_invoice_pdf {pdf_ms:.1f} ms CPU, bare ReportLab {bare_ms:.1f} ms "
        f"({pdf_ms / bare_ms:.1f}x)\n"
        f"  floor CPU per invoice ({HOPS} empty hops + bare ReportLab): {floor_ms:.1f} ms; "
        f"the pipeline spends {cpu_ms / floor_ms:.1f}x that\n"
        f"Per step ({HEADLINE.label}; the consumer's lines are its statements per received message):\n"
        f"{_breakdown(runs)}\n"
    )
