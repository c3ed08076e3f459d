"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

from integrations.mapper import sales_order_to_order
from integrations.ports import Address, Seller
from invoicing.documents import InvoiceDocument
from invoicing.recalculation import recalculate
from tests import factories


def bench_seller(**fields: Any) -> Seller:
    """The seller of the benchmarks' invoices: logo, bank details (an address in Berlin)."""
    return Seller(
        legal_name="Bench GmbH",
        address=Address(city="Berlin"),
        logo=factories.DEMO_LOGO_BYTES,
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        **fields,
    )


def samples_ms(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls of fn, one sample per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def demo_drafts() -> list[InvoiceDocument]:
    """The 20 demo orders recalculated for the bench seller, as drafts (before their number):
    the mix of the throughput benchmark's job."""
    seller = bench_seller(vat_id="DE999999999")
    return [
        recalculate(sales_order_to_order(factories.demo_order(oid)), seller) for oid in factories.DEMO_ORDERS
    ]


def demo_invoices() -> list[InvoiceDocument]:
    """`demo_drafts`, numbered and issued."""
    return [draft.with_number(f"INV{n}", dt.date(2026, 1, 1)) for n, draft in enumerate(demo_drafts())]


def cpu_ms_per_call(fn: Callable[..., Any], calls: list[tuple[Any, ...]], passes: int = 5) -> float:
    """Median over `passes` of the mean CPU milliseconds per call, after one pass of warm-up."""
    for args in calls:
        fn(*args)
    samples = []
    for _ in range(passes):
        start = time.process_time()
        for args in calls:
            fn(*args)
        samples.append((time.process_time() - start) * 1000 / len(calls))
    return statistics.median(samples)
