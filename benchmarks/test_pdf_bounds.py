"""Figures, not pass/fail thresholds: `make bench` prints them.

The worst cases of the PDF renderer (tests/invoicing/test_pdf_bounds.py checks they render):

- a product name of 200 KB without a space (took 109 s before names were cut)
- an invoice of 5,000 short lines
- an invoice of 5,000 lines with descriptions at the printed maximum (the slowest possible)

Each must stay well inside the Celery task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT).
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings

from invoicing.documents import InvoiceRow
from invoicing.pdf import LIMIT_DESCRIPTION, render_invoice_pdf
from tests.invoicing.test_pdf import make_document, make_long_document

D = Decimal


def _seconds(document) -> tuple[float, int]:
    start = time.perf_counter()
    data = render_invoice_pdf(document)
    return time.perf_counter() - start, len(data)


def test_bench_pdf_worst_cases():
    render_invoice_pdf(make_document())  # fonts loaded once per process
    huge_name = InvoiceRow("item", "X" * 200_000, D(1), D("1.00"), D(19), D("1.00"))
    longest = tuple(
        InvoiceRow("item", ("Lorem ipsum dolor sit amet " * 20)[:LIMIT_DESCRIPTION], D(1), D(1), D(19), D(1))
        for _ in range(5000)
    )
    cases = (
        ("200 KB name without spaces", make_document(rows=(huge_name,))),
        ("5,000 short lines", make_long_document(5000)),
        (f"5,000 lines of {LIMIT_DESCRIPTION} characters", make_document(rows=longest)),
    )
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT
    for label, document in cases:
        seconds, size = _seconds(document)
        print(
            f"\nPDF {label}: {seconds:.2f} s, {size / 1024:.0f} KiB ({seconds / limit:.1%} of the {limit} s limit)"
        )
