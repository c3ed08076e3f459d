"""Figures, not pass/fail thresholds: `make bench` prints them.

- PDF rendering per invoice (1 page, 80 rows)
- invoice number allocations per second under contention on PostgreSQL
- the throughput of real workers: benchmarks/test_pipeline_throughput.py: a 200-order MANUAL job, invoices per
  second, worker CPU and SQL statements per invoice, a breakdown per step, and the floors
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import statistics
import threading
import time

import pytest
from django.db import connection

from benchmarks.timing import bench_seller, samples_ms
from integrations.mapper import sales_order_to_order
from invoicing.pdf import render_invoice_pdf
from invoicing.recalculation import recalculate
from tests import factories
from tests.invoicing.test_numbering import allocate


def test_bench_pdf_render():
    seller = bench_seller()
    day = dt.date(2026, 1, 1)
    one_page = recalculate(sales_order_to_order(factories.demo_order("DEMO-1001")), seller).with_number(
        "INV1", day
    )
    long = recalculate(sales_order_to_order(factories.demo_order("DEMO-1008")), seller).with_number(
        "INV2", day
    )
    unpaid = dataclasses.replace(
        one_page, paid=False, amount_due=one_page.gross_total
    )  # with the EPC QR code
    render_invoice_pdf(one_page)  # fonts and logo loaded once per process
    cases = (("1 page + logo", one_page), ("1 page + logo + QR code", unpaid), ("40 lines, 3 pages", long))
    for label, document in cases:
        samples = samples_ms(functools.partial(render_invoice_pdf, document), 30)
        print(f"\nPDF {label}: median {statistics.median(samples):.1f} ms, p95 {sorted(samples)[28]:.1f} ms")


@pytest.mark.django_db(transaction=True)
def test_bench_number_allocation_under_contention():
    assert connection.vendor == "postgresql"
    tenant = factories.tenant_make("benchseries")
    threads, per_thread = 8, 250
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            allocate(tenant)
        connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    print(
        f"\n{threads * per_thread} numbers by {threads} threads: {threads * per_thread / elapsed:.0f} per second"
    )
