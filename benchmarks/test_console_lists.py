"""The console's pages on real volumes: 100,000 jobs, 1,000,000 job orders, 100,000 invoices,
and one AUTOMATIC job of 50,000 orders (its page sorts them, failures first).

The tables are filled with INSERT ... SELECT generate_series (no Python per row), vacuumed and
analyzed; then an administrator opens each page with Django's test client. Printed: the
median time of a few requests, the number of SQL queries and the slowest query. Asserted for
the pages the console links to: under a second, a bounded number of queries (none per row)
and no COUNT(*) over a whole big table. Extra rows (marked) are printed, not asserted.
A page over its budget gets the EXPLAIN ANALYZE of its slowest query printed.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jobs.roles import ADMINISTRATORS, roles_ensure
from tests import factories

JOBS = 100_000
ORDERS_PER_JOB = 10  # 1,000,000 job orders
IN_PROGRESS_JOBS = 20  # the newest ones; their order at position 8 is still pending
RUNS = 5  # timed requests per page, after one untimed warm-up request
BUDGET_MS = 1000
MAX_QUERIES = 20  # a list of 50 or 100 rows with a query per row would be far above
BIG_TABLES = ("jobs_invoicejob", "jobs_joborder", "invoicing_invoice")
TARGET_JOB = 54_321  # the job the single-job pages and the searches look at
BIG_JOB_ORDERS = 50_000  # one more job, 1 % of its orders failed


def job_uuid(index: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT md5(%s)::uuid::text", [f"bench-job-{index}"])
        return str(cursor.fetchone()[0])


FILL_SQL = [
    # jobs: the newest first (job 0 is a minute old, job 99,999 about 69 days)
    """
    INSERT INTO jobs_invoicejob (id, tenant_id, job_type, status, total_count, success_count,
        failure_count, requested_by, resolving, query, resolution_cursor, created_at, finished_at)
    SELECT md5('bench-job-' || i)::uuid,
           (%(tenants)s::int[])[i %% 3 + 1],
           CASE WHEN i %% 7 = 0 THEN 'AUTOMATIC' ELSE 'MANUAL' END,
           CASE WHEN i < %(in_progress)s THEN 'IN_PROGRESS' ELSE 'DONE' END,
           %(per_job)s,
           CASE WHEN i < %(in_progress)s THEN %(per_job)s - 2 ELSE %(per_job)s - 1 END,
           1,
           CASE WHEN i %% 7 = 0 THEN 'beat' ELSE 'api:shop' END,
           false, NULL, NULL,
           now() - i * interval '1 minute',
           CASE WHEN i < %(in_progress)s THEN NULL ELSE now() - i * interval '1 minute' + interval '40 s' END
    FROM generate_series(0, %(jobs)s - 1) AS i
    """,
    # one issued invoice per job (its order at position 0), with its capture and email
    """
    INSERT INTO invoicing_invoice (tenant_id, order_id, status, number, reserved_number, site_code,
        currency, net_total, tax_total, gross_total, customer_name, customer_email, order_date,
        issue_date, issued_at, document, pdf, pdf_sha256, created_at, updated_at)
    SELECT (%(tenants)s::int[])[i %% 3 + 1], 'ORD-' || (i * %(per_job)s), 'ISSUED', 'INV' || (100000 + i),
           '', '', 'EUR', 100 + i %% 100, 19, 119 + i %% 100, 'Customer ' || i,
           'customer' || i || '@example.com', (now() - i * interval '1 minute')::date,
           (now() - i * interval '1 minute')::date, now() - i * interval '1 minute', '{}'::jsonb,
           'invoices/bench/' || i || '.pdf', '', now() - i * interval '1 minute',
           now() - i * interval '1 minute'
    FROM generate_series(%(jobs)s - 1, 0, -1) AS i
    """,
    """
    INSERT INTO invoicing_paymentcapture (tenant_id, order_id, attempt, idempotency_key, status,
        transaction_id, payment_method, amount, currency, capture_id, message, created_at, updated_at)
    SELECT tenant_id, order_id, 1, 'bench-' || id, 'CAPTURED', 'txn-' || id, 'card', gross_total, 'EUR',
           'cap-' || id, '', created_at, created_at
    FROM invoicing_invoice
    """,
    """
    INSERT INTO invoicing_emaildelivery (invoice_id, kind, status, recipient, attempts, message_id,
        error, sent_at, created_at, updated_at)
    SELECT id, 'invoice', 'SENT', customer_email, 1, '', '', created_at, created_at, created_at
    FROM invoicing_invoice
    """,
    # the orders: 1 in 10 failed (a declined capture), a few pending, the rest invoiced
    """
    INSERT INTO jobs_joborder (job_id, position, order_id, status, step, message, invoice_id, attempts,
        step_started_at, updated_at)
    SELECT md5('bench-job-' || j)::uuid, p, 'ORD-' || (j * %(per_job)s + p),
           CASE WHEN p = %(per_job)s - 1 THEN 'FAILURE'
                WHEN p = %(per_job)s - 2 AND j < %(in_progress)s THEN 'PENDING' ELSE 'SUCCESS' END,
           CASE WHEN p = %(per_job)s - 1 THEN 'capture'
                WHEN p = %(per_job)s - 2 AND j < %(in_progress)s THEN 'issue' ELSE 'done' END,
           CASE WHEN p = %(per_job)s - 1 THEN 'Payment capture declined: Card expired'
                WHEN p = %(per_job)s - 2 AND j < %(in_progress)s THEN ''
                ELSE 'Invoice created (119.00 EUR). Payment captured. Emailed.' END,
           invoice.id, 0, now() - j * interval '1 minute', now() - j * interval '1 minute'
    FROM generate_series(%(jobs)s - 1, 0, -1) AS j
    CROSS JOIN generate_series(0, %(per_job)s - 1) AS p
    LEFT JOIN invoicing_invoice AS invoice
        ON p = 0 AND invoice.tenant_id = (%(tenants)s::int[])[j %% 3 + 1]
        AND invoice.order_id = 'ORD-' || (j * %(per_job)s)
    ORDER BY j DESC, p
    """,
    """
    INSERT INTO jobs_invoicejob (id, tenant_id, job_type, status, total_count, success_count,
        failure_count, requested_by, resolving, query, resolution_cursor, created_at, finished_at)
    VALUES (md5('bench-big-job')::uuid, (%(tenants)s::int[])[1], 'AUTOMATIC', 'DONE', %(big)s,
            %(big)s - %(big)s / 100, %(big)s / 100, 'beat', false, NULL, NULL,
            now() - interval '2 hours', now() - interval '1 hour')
    """,
    """
    INSERT INTO jobs_joborder (job_id, position, order_id, status, step, message, invoice_id, attempts,
        step_started_at, updated_at)
    SELECT md5('bench-big-job')::uuid, p, 'BIG-' || p,
           CASE WHEN p %% 100 = 99 THEN 'FAILURE' ELSE 'SUCCESS' END,
           CASE WHEN p %% 100 = 99 THEN 'validate' ELSE 'done' END,
           CASE WHEN p %% 100 = 99 THEN 'The order has no billing address' ELSE 'Invoice created.' END,
           NULL, 0, now() - interval '1 hour', now() - interval '1 hour'
    FROM generate_series(0, %(big)s - 1) AS p
    """,
]


def fill(tenant_ids: list[int]) -> float:
    started = time.perf_counter()
    params: dict[str, Any] = {
        "tenants": tenant_ids,
        "jobs": JOBS,
        "per_job": ORDERS_PER_JOB,
        "in_progress": IN_PROGRESS_JOBS,
        "big": BIG_JOB_ORDERS,
    }
    with connection.cursor() as cursor:
        for sql in FILL_SQL:
            cursor.execute(sql, params)
        # as autovacuum would have left them: statistics, and visibility maps for index-only scans
        cursor.execute(
            "VACUUM ANALYZE jobs_invoicejob, jobs_joborder, invoicing_invoice, "
            "invoicing_paymentcapture, invoicing_emaildelivery"
        )
        cursor.execute("SELECT count(*) FROM jobs_joborder")
        assert cursor.fetchone()[0] == JOBS * ORDERS_PER_JOB + BIG_JOB_ORDERS
    return time.perf_counter() - started


@dataclass
class Result:
    label: str
    url: str
    checked: bool
    median_ms: float = 0.0
    queries: int = 0
    sql_ms: float = 0.0
    slowest_ms: float = 0.0
    slowest_sql: str = ""
    full_counts: int = 0


def whole_table_counts(sqls: list[str]) -> list[str]:
    """COUNTs over a big table without a LIMIT under them: they read every (matching) row."""
    return [
        sql
        for sql in sqls
        if re.search(r"\bCOUNT\(", sql, re.IGNORECASE)
        and any(f'"{table}"' in sql for table in BIG_TABLES)
        and not re.search(r"\bLIMIT\b", sql, re.IGNORECASE)
    ]


def measure(client: Client, result: Result) -> None:
    response = client.get(result.url)  # warm-up (and it must work)
    assert response.status_code == 200, (result.url, response.status_code)
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        client.get(result.url)
        samples.append((time.perf_counter() - started) * 1000)
    result.median_ms = statistics.median(samples)
    with CaptureQueriesContext(connection) as captured:
        client.get(result.url)
    result.queries = len(captured.captured_queries)
    result.sql_ms = sum(float(query["time"]) for query in captured.captured_queries) * 1000
    slowest = max(captured.captured_queries, key=lambda query: float(query["time"]))
    result.slowest_ms, result.slowest_sql = float(slowest["time"]) * 1000, slowest["sql"]
    result.full_counts = len(whole_table_counts([query["sql"] for query in captured.captured_queries]))


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run in the test's transaction
def test_bench_console_pages_on_real_volumes():
    tenants = [factories.tenant_make(code) for code in ("acme", "globex", "initech")]
    seconds = fill([tenant.pk for tenant in tenants])
    print(
        f"\nfilled {JOBS:,} jobs of {ORDERS_PER_JOB} orders and one of {BIG_JOB_ORDERS:,}, {JOBS:,} invoices"
        f" (with their captures and emails) in {seconds:.1f} s"
    )

    roles_ensure()
    admin = User.objects.create_user("ada", password="unused", is_staff=True)
    admin.groups.add(Group.objects.get(name=ADMINISTRATORS))
    client = Client()
    client.force_login(admin)

    job_id = job_uuid(TARGET_JOB)
    with connection.cursor() as cursor:
        cursor.execute("SELECT md5('bench-big-job')::uuid::text")
        big_job_id = cursor.fetchone()[0]
    failed_order = f"ORD-{TARGET_JOB * ORDERS_PER_JOB + ORDERS_PER_JOB - 1}"
    jobs = reverse("admin:jobs_invoicejob_changelist")
    orders = reverse("admin:jobs_joborder_changelist")
    invoices = reverse("admin:invoicing_invoice_changelist")
    pages = [
        Result("jobs, page 1", jobs, True),
        Result("jobs, page 500", f"{jobs}?p=500", True),
        Result("jobs, status in progress", f"{jobs}?status__exact=IN_PROGRESS", True),
        Result("jobs, status done", f"{jobs}?status__exact=DONE", True),
        Result("jobs, one tenant", f"{jobs}?tenant__id__exact={tenants[1].pk}", True),
        Result(
            "jobs, tenant + done, page 50",
            f"{jobs}?tenant__id__exact={tenants[1].pk}&status__exact=DONE&p=50",
            True,
        ),
        Result("jobs, search an order id", f"{jobs}?q={failed_order}", True),
        Result("jobs, search a job id", f"{jobs}?q={job_id}", True),
        Result("jobs, search an invoice number", f"{jobs}?q=INV{100000 + TARGET_JOB}", True),
        Result("job page (10 orders)", reverse("admin:jobs_invoicejob_change", args=[job_id]), True),
        Result("job orders of one job", f"{orders}?job__id__exact={job_id}", True),
        Result(
            f"job page ({BIG_JOB_ORDERS:,} orders)",
            reverse("admin:jobs_invoicejob_change", args=[big_job_id]),
            True,
        ),
        Result(
            f"job orders of the {BIG_JOB_ORDERS:,}-order job", f"{orders}?job__id__exact={big_job_id}", True
        ),
        Result(
            "  same, failures only, page 3",
            f"{orders}?job__id__exact={big_job_id}&status__exact=FAILURE&p=3",
            True,
        ),
        Result("job orders, failures", f"{orders}?status__exact=FAILURE", True),
        Result("job orders, page 1", orders, True),
        Result("job orders, search an order id", f"{orders}?q={failed_order}", True),
        Result("invoices, page 1", invoices, True),
        Result("invoices, one tenant", f"{invoices}?tenant__id__exact={tenants[2].pk}", True),
        Result("invoices, search a number", f"{invoices}?q=INV{100000 + TARGET_JOB}", True),
        # "Show counts" (Django's facets) is a link on every list: it counts each filter's choices
        Result("jobs, 'Show counts'", f"{jobs}?_facets=True", False),
        Result("job orders, 'Show counts'", f"{orders}?_facets=True", False),
        Result("invoices, 'Show counts'", f"{invoices}?_facets=True", False),
    ]
    for page in pages:
        measure(client, page)

    print(
        f"\n{'page':<38} {'median ms':>9} {'queries':>7} {'SQL ms':>7} {'slowest query ms':>16}"
        "  whole-table COUNTs"
    )
    for page in pages:
        note = "" if page.checked else "  (not asserted)"
        print(
            f"{page.label:<38} {page.median_ms:>9.1f} {page.queries:>7} {page.sql_ms:>7.0f}"
            f" {page.slowest_ms:>16.0f}  {page.full_counts}{note}"
        )
    problems: list[str] = []
    for page in pages:
        if not page.checked:
            continue
        if page.median_ms >= BUDGET_MS:
            problems.append(f"{page.label}: {page.median_ms:.0f} ms")
            print(
                f"\n--- {page.label} ({page.url}): slowest query\n{page.slowest_sql}\n{explain(page.slowest_sql)}"
            )
        if page.queries > MAX_QUERIES:
            problems.append(f"{page.label}: {page.queries} queries")
        if page.full_counts:
            problems.append(f"{page.label}: {page.full_counts} whole-table COUNT(*)")
    assert not problems, problems
