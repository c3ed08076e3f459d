"""Figures, not pass/fail thresholds: `make bench` prints them.

- compiling the official rule sets and loading the XSDs, once per worker process (warm_up)
- validating an e-invoice per format after warm-up: XSD + EN 16931 (+ XRechnung / Peppol) rules,
  for the demo invoice of the PDF tests and two documents of the validation matrix (a B2B
  invoice and the 200-line one), all four formats each
- building the e-invoice XML, for comparison
"""

from __future__ import annotations

import functools
import statistics
import time

from benchmarks.timing import samples_ms
from invoicing.einvoice import FORMATS, einvoice_xml, validation
from tests.invoicing.einvoice.cases import CASES
from tests.invoicing.test_pdf import make_document


def test_bench_einvoice_validation():
    start = time.perf_counter()
    validation.warm_up()
    warm_up_s = time.perf_counter() - start
    compiled = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in validation.compile_seconds.items())
    print(f"\ne-invoice rules warm-up (once per worker process): {warm_up_s:.2f} s; compile/load: {compiled}")

    documents = (
        ("demo invoice, 3 rows", make_document(), 20),
        ("B2B Germany", CASES["b2b-de"].build(), 20),
        ("200 lines", CASES["200-lines"].build(), 5),
    )
    for label, document, repeat in documents:
        for fmt in FORMATS:
            xml = einvoice_xml(document, fmt)
            report = validation.validate(xml, fmt)
            build = samples_ms(functools.partial(einvoice_xml, document, fmt), repeat)
            check = samples_ms(functools.partial(validation.validate, xml, fmt), repeat)
            print(
                f"{fmt:<13} {label} ({len(xml) / 1024:.0f} KiB): validate median {statistics.median(check):.1f} ms, "
                f"max {max(check):.1f} ms; build {statistics.median(build):.1f} ms; "
                f"{len(report.fatal)} fatal, {len(report.warnings)} warnings"
            )
