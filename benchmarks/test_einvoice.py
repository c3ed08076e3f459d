"""Figures, not pass/fail thresholds: `make bench` prints them.

- compiling the official rule sets and loading the XSDs, once per worker process (warm_up)
- validating an e-invoice per format after warm-up: XSD + EN 16931 (+ XRechnung / Peppol) rules,
  for the demo invoice of the PDF tests and two documents of the validation matrix (a B2B
  invoice and the 200-line one), all four formats each
- building the e-invoice XML, for comparison
- CPU per call over the 20 demo orders (the throughput benchmark's mix), each before capture
  (placeholder number) and at issue: validate, build, and the step's build + validate
"""

from __future__ import annotations

import functools
import statistics
import time

from benchmarks.timing import cpu_ms_per_call, demo_drafts, demo_invoices, samples_ms
from invoicing.einvoice import FORMATS, einvoice_xml, validation
from invoicing.steps.einvoice import einvoice_formats, einvoice_validate
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


def test_bench_einvoice_demo_orders_cpu():
    validation.warm_up()
    drafts = demo_drafts()
    documents = drafts + demo_invoices()  # checked before capture and again at issue
    builds = [(document, fmt) for document in documents for fmt in einvoice_formats(document)]
    checks = [(einvoice_xml(document, fmt), fmt) for document, fmt in builds]

    validate_ms = cpu_ms_per_call(validation.validate, checks, passes=10)
    build_ms = cpu_ms_per_call(einvoice_xml, builds, passes=10)
    step_ms = cpu_ms_per_call(einvoice_validate, [(document,) for document in documents], passes=10)
    print(
        f"\ne-invoice of the {len(drafts)} demo orders, CPU per call (before capture and at issue, "
        f"{len(checks)} documents): validate {validate_ms:.2f} ms, build {build_ms:.2f} ms; "
        f"build + validate (einvoice_validate) {step_ms:.2f} ms, {2 * step_ms:.1f} ms per invoice"
    )
