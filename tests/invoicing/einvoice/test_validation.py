"""invoicing.einvoice.validation: the official rules, in-process (issue 12).

Known-good instances published with the rule sets (examples/, see its README) must pass with
zero fatal findings; the same instances broken in memory must fail with the rule ids the
standard defines for the fault (EN 16931 BR-*, XRechnung BR-DE-*, Peppol PEPPOL-EN16931-R*).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from invoicing.einvoice import validation
from invoicing.einvoice.validation import Finding, ValidationReport, svrl_findings, validate, warm_up

EXAMPLES = Path(__file__).parent / "examples"
REPO = Path(__file__).resolve().parents[3]

KNOWN_GOOD = [
    ("facturx", "CII_example1.xml"),
    ("facturx", "XRechnung-O.xml"),
    ("facturx", "XRechnung-01.01a-INVOICE_uncefact.xml"),
    ("xrechnung-cii", "XRechnung-O.xml"),
    ("xrechnung-cii", "XRechnung-01.01a-INVOICE_uncefact.xml"),
    ("xrechnung-ubl", "XRechnung-01.01a-INVOICE_ubl.xml"),
    ("peppol-bis", "peppol-base-example.xml"),
]
CHECKS = {
    "facturx": ("Factur-X-EN16931-XSD", "EN16931-CII"),
    "xrechnung-cii": ("Factur-X-EN16931-XSD", "EN16931-CII", "XRechnung-CII"),
    "xrechnung-ubl": ("UBL-2.1-Invoice-XSD", "EN16931-UBL", "XRechnung-UBL"),
    "peppol-bis": ("UBL-2.1-Invoice-XSD", "EN16931-UBL", "PEPPOL-EN16931-UBL"),
}


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def fatal_rules(report: ValidationReport) -> set[str]:
    return {f.rule for f in report.fatal}


def replace_once(xml: bytes, pattern: bytes, replacement: bytes) -> bytes:
    changed, count = re.subn(pattern, replacement, xml, count=1, flags=re.S)
    assert count == 1, pattern
    return changed


def broken_cii() -> bytes:
    """CII_example1 with a wrong "Sum of Invoice line net amount" (BT-106: 19.90 -> 1.00) and
    without the Seller name (BT-27)."""
    xml = replace_once(
        example("CII_example1.xml"),
        rb"<ram:LineTotalAmount>19\.9</ram:LineTotalAmount>",
        b"<ram:LineTotalAmount>1.00</ram:LineTotalAmount>",
    )
    return replace_once(xml, rb"(<ram:SellerTradeParty>\s*)<ram:Name>De Koksmaat</ram:Name>", rb"\1")


def broken_ubl() -> bytes:
    """The Peppol base example with a wrong amount due (BT-115) and no Buyer electronic
    address (BT-49)."""
    xml = replace_once(
        example("peppol-base-example.xml"),
        rb'(<cbc:PayableAmount currencyID="EUR">)[^<]*<',
        rb"\g<1>999.99<",
    )
    return replace_once(
        xml,
        rb"(<cac:AccountingCustomerParty>\s*<cac:Party>\s*)<cbc:EndpointID[^>]*>[^<]*</cbc:EndpointID>",
        rb"\1",
    )


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    warm_up()


@pytest.mark.parametrize(("fmt", "name"), KNOWN_GOOD)
def test_known_good_examples_have_no_fatal_finding(fmt, name):
    report = validate(example(name), fmt)

    assert report.fatal == (), report.message()
    assert report.ok
    assert report.message() == ""
    assert report.checked == CHECKS[fmt]
    assert all(f.flag in ("warning", "information") for f in report.findings)


def test_broken_cii_names_the_rules_it_breaks():
    report = validate(broken_cii(), "facturx")

    assert not report.ok
    # BR-CO-10: BT-106 = sum of BT-131; BR-06: an invoice shall contain the Seller name (BT-27).
    assert {"BR-CO-10", "BR-06"} <= fatal_rules(report)
    assert all(f.rule_set == "EN16931-CII" for f in report.fatal)
    message = report.message(limit=10)
    assert "BR-CO-10: Sum of Invoice line net amount (BT-106)" in message
    assert "BR-06: An Invoice shall contain the Seller name (BT-27)." in message
    # The "[BR-CO-10]-" prefix the rule set repeats is dropped; the location has no namespaces.
    br_co_10 = next(f for f in report.fatal if f.rule == "BR-CO-10")
    assert not br_co_10.text.startswith("[")
    assert br_co_10.location == (
        "/CrossIndustryInvoice[1]/SupplyChainTradeTransaction[1]/ApplicableHeaderTradeSettlement[1]"
        "/SpecifiedTradeSettlementHeaderMonetarySummation[1]"
    )


def test_xrechnung_adds_the_german_rules_to_en16931():
    """CII_example1 is a valid EN 16931 invoice but not an XRechnung: no Buyer reference
    (BT-10, BR-DE-15) and no Seller contact (BG-6, BR-DE-2)."""
    assert validate(example("CII_example1.xml"), "facturx").ok

    report = validate(example("CII_example1.xml"), "xrechnung-cii")

    assert fatal_rules(report) == {"BR-DE-15", "BR-DE-2"}
    assert {f.rule_set for f in report.fatal} == {"XRechnung-CII"}


def test_broken_ubl_fails_en16931_and_peppol_rules():
    report = validate(broken_ubl(), "peppol-bis")

    # BR-CO-16: amount due (BT-115) = BT-112 - BT-113 + BT-114;
    # PEPPOL-EN16931-R010: the Buyer electronic address (BT-49) must be provided.
    assert {"BR-CO-16", "PEPPOL-EN16931-R010"} <= fatal_rules(report)
    rule_sets = {f.rule: f.rule_set for f in report.fatal}
    assert rule_sets["BR-CO-16"] == "EN16931-UBL"
    assert rule_sets["PEPPOL-EN16931-R010"] == "PEPPOL-EN16931-UBL"


def test_a_credit_note_is_checked_against_the_credit_note_schema():
    """The TC 434 credit note is valid EN 16931 UBL, but Peppol requires its own
    specification identifier (BT-24, PEPPOL-EN16931-R004)."""
    report = validate(example("ubl-tc434-creditnote1.xml"), "peppol-bis")

    assert report.checked == ("UBL-2.1-CreditNote-XSD", "EN16931-UBL", "PEPPOL-EN16931-UBL")
    assert fatal_rules(report) == {"PEPPOL-EN16931-R004"}


def test_an_xsd_error_is_a_fatal_finding():
    xml = replace_once(
        example("CII_example1.xml"),
        rb"<ram:LineTotalAmount>19\.9</ram:LineTotalAmount>",
        b"<ram:LineTotalAmount>19.9</ram:LineTotalAmount><ram:Unexpected/>",
    )

    report = validate(xml, "facturx")

    xsd = [f for f in report.fatal if f.rule == "XSD"]
    assert xsd and xsd[0].rule_set == "Factur-X-EN16931-XSD"
    assert "Unexpected" in xsd[0].text and xsd[0].text.startswith("line ")
    assert report.message().startswith("XSD: line ")


def test_a_value_the_rules_cannot_compute_with_is_a_finding_not_an_exception():
    """EN 16931 casts amounts to xs:decimal; "abc" stops the rule set with a dynamic error."""
    xml = re.sub(rb"<ram:LineTotalAmount>[^<]*<", b"<ram:LineTotalAmount>abc<", example("CII_example1.xml"))

    report = validate(xml, "facturx")

    assert {"XSD", "XSLT"} <= fatal_rules(report)
    xslt = next(f for f in report.fatal if f.rule == "XSLT")
    assert xslt.rule_set == "EN16931-CII" and "abc" in xslt.text


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<rsm:CrossIndustryInvoice", "not well-formed XML"),
        (b"%PDF-1.7 not xml", "not well-formed XML"),
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DOCTYPE"),
    ],
)
@pytest.mark.parametrize("fmt", ["facturx", "peppol-bis"])
def test_unreadable_xml_is_one_fatal_xml_finding(xml, expected, fmt):
    report = validate(xml, fmt)

    assert len(report.findings) == 1
    finding = report.findings[0]
    assert (finding.rule, finding.flag, finding.rule_set) == ("XML", "fatal", "XML")
    assert expected in finding.text
    assert report.message().startswith("XML: ")
    assert not report.ok


def test_a_document_of_the_other_syntax_is_rejected_by_its_root_element():
    report = validate(example("peppol-base-example.xml"), "facturx")

    assert [f.rule for f in report.fatal] == ["XML"]
    assert "Invoice" in report.fatal[0].text and "CrossIndustryInvoice" in report.fatal[0].text
    assert validate(example("CII_example1.xml"), "xrechnung-ubl").fatal[0].rule == "XML"


def test_an_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match="unknown e-invoice format 'pdf'"):
        validate(example("CII_example1.xml"), "pdf")


def test_report_json_round_trip():
    report = validate(broken_cii(), "xrechnung-cii")
    assert report.findings and report.warnings  # fatal and non-fatal both present

    data = json.loads(json.dumps(report.to_json()))

    assert ValidationReport.from_json(data) == report
    assert data["ok"] is False and data["fatal_count"] == len(report.fatal)
    assert data["findings"][0].keys() == {"rule", "flag", "text", "rule_set", "location"}
    assert ValidationReport.from_json({}) == ValidationReport(fmt="")
    assert ValidationReport.from_json({"fmt": "facturx", "findings": [{"rule": "BR-01"}]}).fatal == (
        Finding("BR-01", "fatal", "", ""),
    )


def test_message_lists_the_first_fatal_findings():
    findings = tuple(Finding(f"BR-{n:02}", "fatal", f"text {n}", "EN16931-CII") for n in range(1, 9))
    report = ValidationReport("facturx", (Finding("BR-DE-21", "warning", "a warning", "x"), *findings))

    assert report.message(limit=2) == "BR-01: text 1; BR-02: text 2 (+6 more)"
    assert (
        report.message()
        == "BR-01: text 1; BR-02: text 2; BR-03: text 3; BR-04: text 4; BR-05: text 5 (+3 more)"
    )
    assert report.message(limit=0) == "8 fatal findings"
    assert len(report.warnings) == 1
    long = ValidationReport("facturx", (Finding("BR-01", "fatal", "x" * 500, ""),))
    assert len(long.message()) < 250 and long.message().endswith("…")


def test_an_assertion_repeated_per_line_is_reported_once():
    finding = Finding("BR-24", "fatal", "same text", "EN16931-CII", "/a[1]")
    again = Finding("BR-24", "fatal", "same text", "EN16931-CII", "/a[2]")

    assert validation._unique([finding, again]) == (finding,)


def test_svrl_parsing():
    svrl = b"""<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
      <svrl:fired-rule context="x"/>
      <svrl:failed-assert id="BR-DE-15" flag="fatal" location="/Q{urn:x}Invoice[1]">
        <svrl:text> [BR-DE-15] Das Element "Buyer reference" (BT-10)
           muss \xc3\xbcbermittelt werden.</svrl:text>
      </svrl:failed-assert>
      <svrl:failed-assert id="R1" flag="warning" location="/*:Invoice[namespace-uri()='urn:x'][1]/*:Party[namespace-uri()='urn:x'][1]">
        <svrl:text>A warning.</svrl:text>
      </svrl:failed-assert>
      <svrl:failed-assert location="/x"><svrl:text>[BR-99]-No id, no flag.</svrl:text></svrl:failed-assert>
      <svrl:successful-report id="R2" flag="information"><svrl:text>Reported.</svrl:text></svrl:successful-report>
    </svrl:schematron-output>"""

    assert svrl_findings(svrl, "RS") == [
        Finding(
            "BR-DE-15",
            "fatal",
            'Das Element "Buyer reference" (BT-10) muss übermittelt werden.',
            "RS",
            "/Invoice[1]",
        ),
        Finding("R1", "warning", "A warning.", "RS", "/Invoice[1]/Party[1]"),
        # No flag: an ISO Schematron assertion is an error.
        Finding("BR-99", "fatal", "No id, no flag.", "RS", "/x"),
        Finding("R2", "information", "Reported.", "RS", ""),
    ]


def test_rules_are_compiled_once_per_process():
    compiled_before = dict(validation.compile_counts)
    assert set(compiled_before) == set(validation.RULE_SETS) | set(validation.SCHEMAS)

    for fmt, name in KNOWN_GOOD * 2:
        validate(example(name), fmt)
    warm_up()

    assert dict(validation.compile_counts) == compiled_before
    assert set(validation.compile_counts.values()) == {1}


def test_each_thread_runs_its_own_clone_of_the_compiled_rules():
    mine = validation._executable_for_thread("EN16931-CII")
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(validation._executable_for_thread("EN16931-CII")))
    thread.start()
    thread.join()

    assert validation._executable_for_thread("EN16931-CII") is mine
    assert theirs[0] is not mine
    assert validation.compile_counts["EN16931-CII"] == 1


def test_concurrent_validations_give_the_same_results():
    cases = [*KNOWN_GOOD, ("facturx", broken_cii), ("xrechnung-cii", broken_cii), ("peppol-bis", broken_ubl)]

    def run(case: tuple) -> dict:
        fmt, source = case
        xml = source() if callable(source) else example(source)
        return validate(xml, fmt).to_json()

    expected = [run(case) for case in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, cases * 6))

    assert results == expected * 6


def make_facturx_pdf(xml: bytes) -> bytes:
    from facturx import generate_from_binary
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Invoice")
    page.save()
    return bytes(generate_from_binary(buffer.getvalue(), xml, flavor="factur-x", level="en16931"))


def test_cli(tmp_path, capsys):
    good = tmp_path / "good.xml"
    good.write_bytes(example("XRechnung-O.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(broken_cii())
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(make_facturx_pdf(example("CII_example1.xml")))

    assert validation.main([str(good), "--format", "xrechnung-cii"]) == 0
    assert "VALID" in capsys.readouterr().out
    assert validation.main([str(bad), "--format", "facturx", "--fatal-only"]) == 1
    out = capsys.readouterr().out
    assert "BR-CO-10: Sum of Invoice line net amount" in out and "REJECTED" in out
    assert validation.main([str(bad), "--json"]) == 1
    assert ValidationReport.from_json(json.loads(capsys.readouterr().out)) == validate(
        broken_cii(), "facturx"
    )
    # A Factur-X PDF: the embedded XML is checked (as facturx unless told otherwise).
    assert validation.main([str(pdf)]) == 0
    assert "facturx: checked Factur-X-EN16931-XSD, EN16931-CII" in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_cli_runs_without_django(tmp_path):
    """By hand, without settings: the module run as a script imports no Django."""
    invoice = tmp_path / "invoice.xml"
    invoice.write_bytes(example("XRechnung-01.01a-INVOICE_ubl.xml"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    script = REPO / "invoicing" / "einvoice" / "validation.py"

    done = subprocess.run(
        [sys.executable, str(script), str(invoice), "--format", "xrechnung-ubl"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "xrechnung-ubl: checked UBL-2.1-Invoice-XSD, EN16931-UBL, XRechnung-UBL" in done.stdout
    assert "-> VALID" in done.stdout


# --- what is compiled: the official rules without the report's trace (issue 14) -------------------
def test_every_rule_set_is_compiled_without_its_trace():
    """Each carried rule set loses its svrl:fired-rule elements (and SchXslt's suppressed-rule
    and shadowed-rule comment; the EN 16931 skeleton's silent walks): if a rule update changes
    the shape of a file so that nothing is taken out, this notices (validation stays correct,
    only slower)."""
    assert set(validation.trimmed) == set(validation.RULE_SETS)
    for rule_set, removed in validation.trimmed.items():
        assert removed.get("fired-rule", 0) > 20, rule_set
        if rule_set.startswith("EN16931"):  # the ISO skeleton: one walk per pattern
            assert removed == {"fired-rule": removed["fired-rule"], "unnamed-mode walk": 3}
        else:  # SchXslt: one suppressed-rule and one comment beside each fired-rule
            assert removed["suppressed-rule"] == removed["fired-rule"] == removed["shadowed-rule comment"]


@pytest.fixture(scope="module")
def official() -> dict[str, object]:
    """The rule sets compiled from the untouched official files, as before issue 14."""
    processor = validation._saxon_processor()
    return {
        rule_set: processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(validation.RULES_DIR / path)
        )
        for rule_set, path in validation.RULE_SETS.items()
    }


def _cii_with_abc() -> bytes:
    return re.sub(rb"<ram:LineTotalAmount>[^<]*<", b"<ram:LineTotalAmount>abc<", example("CII_example1.xml"))


def _cii_without_a_seller() -> bytes:
    return re.sub(
        rb"<ram:SellerTradeParty>.*?</ram:SellerTradeParty>", b"", example("CII_example1.xml"), flags=re.S
    )


def _ubl_with_repeated_elements() -> bytes:
    """Two of each tax total and payee: shadowed rules in SchXslt, repeated failures in EN 16931."""
    xml = example("peppol-base-example.xml")
    total = re.search(rb"<cac:TaxTotal>.*?</cac:TaxTotal>", xml, re.S)
    assert total
    return xml.replace(total.group(0), total.group(0) * 2)


TRACE_CASES = [
    *((fmt, functools.partial(example, name), False) for fmt, name in KNOWN_GOOD),
    ("xrechnung-cii", broken_cii, True),
    ("xrechnung-cii", _cii_with_abc, True),
    ("xrechnung-cii", _cii_without_a_seller, True),
    ("peppol-bis", broken_ubl, True),
    ("xrechnung-ubl", broken_ubl, True),
    ("peppol-bis", _ubl_with_repeated_elements, True),
    ("xrechnung-ubl", _ubl_with_repeated_elements, True),
    ("peppol-bis", functools.partial(example, "ubl-tc434-creditnote1.xml"), True),
    ("xrechnung-ubl", functools.partial(example, "ubl-tc434-creditnote1.xml"), True),
]


@pytest.mark.parametrize(("fmt", "source", "broken"), TRACE_CASES)
def test_the_compiled_rules_find_what_the_official_files_find(official, fmt, source, broken):
    """Same findings (ids, flags, texts, locations, order), failures and dynamic errors alike,
    from the trimmed stylesheets as from the official files."""
    _syntax, rule_sets = validation.FORMAT_CHECKS[fmt]
    root, _error = validation._parse(source())
    document = validation._saxon_processor().parse_xml(xml_text=etree.tostring(root, encoding="unicode"))
    fatal = 0
    for rule_set in rule_sets:
        expected = validation._run_rule_set(official[rule_set], document, rule_set)
        assert validation._rule_set_findings(document, rule_set) == expected, rule_set
        fatal += sum(finding.fatal for finding in expected)
    assert bool(fatal) == broken


SKELETON = b"""<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
  <xsl:template match="text()" priority="-1"/>
  <xsl:template match="/"><svrl:schematron-output>
    <svrl:active-pattern id="p"><xsl:apply-templates/></svrl:active-pattern>
    <xsl:apply-templates select="/" mode="M1"/></svrl:schematron-output></xsl:template>
  <xsl:template match="*" mode="M1"><svrl:fired-rule context="*"/>kept<xsl:apply-templates mode="M1"/></xsl:template>
  %s
</xsl:stylesheet>"""


def test_trimming_takes_out_the_trace_and_the_silent_walk():
    text, removed = validation._trimmed_stylesheet(SKELETON % b"")

    assert removed == {"fired-rule": 1, "unnamed-mode walk": 1}
    assert "fired-rule" not in text and "<svrl:active-pattern" in text
    assert '<svrl:active-pattern id="p"/>' in text
    assert 'mode="M1">kept<xsl:apply-templates' in text  # text after a removed element stays


@pytest.mark.parametrize(
    "other",
    [
        b'<xsl:template match="x">out</xsl:template>',
        b'<xsl:template match="x" mode="M1 #default">out</xsl:template>',
        b'<xsl:template match="x" mode="#all"/>',
        b'<xsl:include href="more.xsl"/>',
        b'<xsl:mode on-no-match="shallow-copy"/>',
    ],
)
def test_trimming_keeps_the_walk_when_the_unnamed_mode_may_write_something(other):
    text, removed = validation._trimmed_stylesheet(SKELETON % other)

    assert removed == {"fired-rule": 1}
    assert '<svrl:active-pattern id="p"><xsl:apply-templates/>' in text
