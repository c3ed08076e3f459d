"""The Factur-X PDF (invoicing.einvoice.pdfa): a PDF/A-3b carrying its EN 16931 CII (issue 12).

Checked structurally with pikepdf, as the issue asks (no veraPDF here): the XMP identification
and the Factur-X extension schema, the sRGB output intent, no unembedded font anywhere, the
`/AF` entry and relationship of the attachment, and that `facturx.get_xml_from_pdf` reads the
XML back. The page is still the invoice people read: its text extracts and its EPC QR code
decodes as before. Where pikepdf's PDF/A validator (veraPDF's rules, `pikepdf[pdfa]`) is
installed, it must find nothing but what it cannot read (the extension schema, attachments).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import io
import re
from decimal import Decimal
from typing import Any

import facturx
import pikepdf
import pytest
import zxingcpp
from lxml import etree

from invoicing.documents import InvoiceDocument, InvoiceRow, TaxBreakdownLine
from invoicing.einvoice import einvoice_xml
from invoicing.einvoice.pdfa import facturx_pdf
from invoicing.pdf import render_invoice_pdf
from tests import factories
from tests.invoicing.test_pdf import make_document, make_seller, page_image, pages_text
from tests.invoicing.test_pdf_epc import EXPECTED as EPC_PAYLOAD

D = Decimal

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "pdfaExtension": "http://www.aiim.org/pdfa/ns/extension/",
    "pdfaSchema": "http://www.aiim.org/pdfa/ns/schema#",
    "pdfaProperty": "http://www.aiim.org/pdfa/ns/property#",
    "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
}
FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclasses.dataclass(frozen=True)
class FacturX:
    document: InvoiceDocument
    plain: bytes  # as the renderer made it
    xml: bytes
    pdf: bytes  # the Factur-X PDF/A-3b

    def open(self) -> pikepdf.Pdf:
        return pikepdf.open(io.BytesIO(self.pdf))


def make(document: InvoiceDocument) -> FacturX:
    plain = render_invoice_pdf(document)
    xml = einvoice_xml(document, "facturx")
    return FacturX(document, plain, xml, facturx_pdf(plain, xml, document=document))


def unpaid_german() -> InvoiceDocument:
    """German, a logo, a bank transfer still due: the page has the EPC QR code."""
    return make_document(
        language="de",
        seller=make_seller(logo=factories.DEMO_LOGO_BYTES),
        paid=False,
        amount_due=D("1336.39"),
        due_date=None,
        payment_means="transfer",
    )


def many_scripts() -> InvoiceDocument:
    """Arabic, Chinese, Japanese, Korean, Thai and Devanagari (each its own embedded font; Thai and
    Devanagari marks drawn off their origin), on several pages."""
    rows = tuple(
        InvoiceRow(
            "item",
            f"Artikel {i} - 咖啡 コーヒー 커피 เมล็ดกาแฟคั่ว कॉफ़ी बीन्स قهوة",
            D(1),
            D("10.00"),
            D(19),
            D("10.00"),
        )
        for i in range(1, 61)
    )
    return make_document(
        customer_name="محمد العلي",
        seller=make_seller(legal_name="Kaffeerösterei 咖啡 Nord GmbH"),
        rows=rows,
        tax_breakdown=(TaxBreakdownLine(D(19), D("600.00"), D("114.00"), D("714.00")),),
        net_total=D("600.00"),
        tax_total=D("114.00"),
        gross_total=D("714.00"),
    )


@functools.cache
def german() -> FacturX:
    return make(unpaid_german())


@functools.cache
def scripts() -> FacturX:
    return make(many_scripts())


def xmp_root(pdf: pikepdf.Pdf) -> Any:
    return etree.fromstring(pdf.Root.Metadata.read_bytes())


def xmp_text(root: Any, path: str) -> str:
    (element,) = root.xpath(path, namespaces=NS)
    return str(element.text)


# --- XMP: the PDF/A identification and the Factur-X extension schema ---------------------------
def test_xmp_identifies_pdfa_3b() -> None:
    pdf = german().open()
    root = xmp_root(pdf)

    with pdf.open_metadata() as meta:
        assert meta.pdfa_status == "3B"  # as pikepdf reads it

    assert xmp_text(root, "//pdfaid:part") == "3"
    assert xmp_text(root, "//pdfaid:conformance") == "B"
    # Every description is about this document (rdf:about="", XMP specification 7.4).
    descriptions = root.xpath("//rdf:RDF/rdf:Description", namespaces=NS)
    assert descriptions
    assert all(d.get(f"{{{NS['rdf']}}}about") == "" for d in descriptions)


def test_xmp_carries_the_facturx_extension_schema_and_values() -> None:
    root = xmp_root(german().open())

    (schema,) = root.xpath(
        "//pdfaExtension:schemas/rdf:Bag/rdf:li[pdfaSchema:namespaceURI = $uri]", namespaces=NS, uri=NS["fx"]
    )
    assert xmp_text(schema, "pdfaSchema:prefix") == "fx"
    properties = {
        xmp_text(p, "pdfaProperty:name"): (
            xmp_text(p, "pdfaProperty:valueType"),
            xmp_text(p, "pdfaProperty:category"),
        )
        for p in schema.xpath("pdfaSchema:property/rdf:Seq/rdf:li", namespaces=NS)
    }
    assert properties == dict.fromkeys(
        ("DocumentFileName", "DocumentType", "Version", "ConformanceLevel"), ("Text", "external")
    )
    assert xmp_text(root, "//fx:DocumentType") == "INVOICE"
    assert xmp_text(root, "//fx:DocumentFileName") == "factur-x.xml"
    assert xmp_text(root, "//fx:Version") == "1.0"
    assert xmp_text(root, "//fx:ConformanceLevel") == "EN 16931"


def test_metadata_agrees_with_the_document_and_the_info_dictionary() -> None:
    made = german()
    pdf = made.open()
    root = xmp_root(pdf)
    info = pdf.docinfo

    assert str(info.Title) == xmp_text(root, "//dc:title/rdf:Alt/rdf:li") == "Rechnung RE-2024-000123"
    assert (
        str(info.Author) == xmp_text(root, "//dc:creator/rdf:Seq/rdf:li") == made.document.seller.legal_name
    )
    assert str(info.Subject) == xmp_text(root, "//dc:description/rdf:Alt/rdf:li")
    assert str(info.Creator) == xmp_text(root, "//xmp:CreatorTool")
    assert str(info.Producer) == xmp_text(root, "//pdf:Producer")
    assert str(pdf.Root.Lang) == xmp_text(root, "//dc:language/rdf:Bag/rdf:li") == "de"
    # Dated by the issue date (BT-2), not the clock: the same document gives the same file.
    assert str(info.CreationDate) == str(info.ModDate) == "D:20240315000000+00'00'"
    assert (
        xmp_text(root, "//xmp:CreateDate")
        == xmp_text(root, "//xmp:ModifyDate")
        == "2024-03-15T00:00:00+00:00"
    )
    assert "/Keywords" not in info and "/Trapped" not in info


# --- colour, fonts, the file itself ------------------------------------------------------------
def test_srgb_output_intent_with_an_embedded_icc_profile() -> None:
    pdf = german().open()

    (intent,) = pdf.Root.OutputIntents
    assert intent.Type == "/OutputIntent"
    assert intent.S == "/GTS_PDFA1"
    assert str(intent.OutputConditionIdentifier) == "sRGB IEC61966-2.1"
    profile = intent.DestOutputProfile
    assert profile.N == 3
    icc = profile.read_bytes()
    # ICC header: size, 'acsp' signature, device class monitor, data colour space RGB, v2/v4.
    assert int.from_bytes(icc[:4], "big") == len(icc)
    assert icc[36:40] == b"acsp"
    assert icc[12:16] == b"mntr"
    assert icc[16:20] == b"RGB "
    assert icc[8] < 5


@pytest.mark.parametrize("made", [german, scripts], ids=["german", "scripts"])
def test_every_font_is_embedded(made: Any) -> None:
    # Every font object in the file, used or not, and every font each page and form XObject
    # names: ReportLab's initial Helvetica, the fallback of tables and canvases, must not appear.
    pdf = made().open()

    fonts = [
        obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font"
    ]
    assert len(fonts) >= 2
    for font in fonts:
        assert font_is_embedded(font), font.get("/BaseFont")
    used = 0
    for page in pdf.pages:
        for font in resource_fonts(page.obj):
            assert font_is_embedded(font), font.get("/BaseFont")
            used += 1
    assert used >= len(pdf.pages)


def font_is_embedded(font: pikepdf.Dictionary) -> bool:
    if font.Subtype == "/Type3":
        return True  # glyphs drawn by the file's own procedures
    if font.Subtype == "/Type0":
        return all(font_is_embedded(descendant) for descendant in font.DescendantFonts)
    descriptor = font.get("/FontDescriptor")
    return descriptor is not None and any(key in descriptor for key in FONT_FILES)


def resource_fonts(holder: pikepdf.Dictionary, seen: set[tuple[int, int]] | None = None) -> list[Any]:
    """The fonts in `holder`'s resources and, recursively, in its form XObjects and its
    annotations' appearance streams."""
    seen = set() if seen is None else seen
    resources = holder.get("/Resources") or pikepdf.Dictionary()
    found = list((resources.get("/Font") or pikepdf.Dictionary()).values())
    forms = [
        x
        for x in (resources.get("/XObject") or pikepdf.Dictionary()).values()
        if x.get("/Subtype") == "/Form"
    ]
    for annotation in holder.get("/Annots") or []:
        forms.extend(
            s
            for s in (annotation.get("/AP") or pikepdf.Dictionary()).values()
            if isinstance(s, pikepdf.Stream)
        )
    for form in forms:
        if form.objgen not in seen:
            seen.add(form.objgen)
            found += resource_fonts(form, seen)
    return found


def test_a_pdfa_file_no_encryption_no_javascript_no_transparency() -> None:
    made = german()
    pdf = made.open()

    assert made.pdf.startswith(b"%PDF-1.7\n%")
    assert "/Encrypt" not in pdf.trailer
    first, second = pdf.trailer.ID
    assert len(bytes(first)) == len(bytes(second)) == 16
    assert "/JavaScript" not in (pdf.Root.get("/Names") or {})
    assert "/OpenAction" not in pdf.Root and "/AA" not in pdf.Root
    for page in pdf.pages:
        assert "/Group" not in page.obj  # no transparency group
        for image in (page.Resources.get("/XObject") or {}).values():
            assert "/SMask" not in image  # the logo's alpha is flattened onto white
        for state in (page.Resources.get("/ExtGState") or {}).values():
            assert state.get("/SMask", pikepdf.Name.None_) == pikepdf.Name.None_
            assert float(state.get("/CA", 1)) == float(state.get("/ca", 1)) == 1
    assert pdf.Root.PageMode == "/UseNone"


def test_same_document_same_bytes_another_document_another_id() -> None:
    made = german()

    assert facturx_pdf(made.plain, made.xml, document=made.document) == made.pdf
    other = make(dataclasses.replace(made.document, number="RE-2024-000124"))
    assert other.open().trailer.ID[1] != made.open().trailer.ID[1]


def test_one_cross_reference_table_every_offset_exact() -> None:
    # The file is written again (by qpdf, with its file identifier put in afterwards): its table
    # must be right as it is, since a reader that reconstructs a broken table (pikepdf does,
    # silently) would hide it.
    for made in (german(), scripts()):
        data = made.pdf
        assert data.count(b"\nxref\n") == 1 and data.count(b"%%EOF") == 1 and data.endswith(b"%%EOF\n")
        start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data)[1])
        count = int(re.match(rb"xref\n0 (\d+)\n", data[start:])[1])
        entries = data[start:].split(b"\n", 2)[2][: 20 * count]
        for number in range(1, count):
            offset = int(entries[20 * number : 20 * number + 10])
            assert data[offset:].startswith(b"%d 0 obj" % number), number
        with pikepdf.open(io.BytesIO(data), attempt_recovery=False, suppress_warnings=False) as pdf:
            assert pdf.check_pdf_syntax() == []
            assert len(pdf.objects) >= count - 1


def test_names_with_markup_brackets_and_other_scripts_reach_info_and_xmp_alike() -> None:
    name = "Mainstream Ölmühle & Söhne (Nord) <GmbH> /Title \\ 咖啡 محمد"
    made = make(dataclasses.replace(unpaid_german(), seller=make_seller(legal_name=name)))
    pdf = made.open()
    root = xmp_root(pdf)

    assert str(pdf.docinfo.Author) == xmp_text(root, "//dc:creator/rdf:Seq/rdf:li") == name
    assert str(pdf.docinfo.Title) == xmp_text(root, "//dc:title/rdf:Alt/rdf:li") == "Rechnung RE-2024-000123"


def test_a_name_that_reads_like_a_template_marker_reaches_the_xmp_as_it_is() -> None:
    # the XMP is filled in from a template with markers (invoicing.einvoice.pdfa._xmp)
    name = "Shop @@xmp-timestamp@@ @@xmp-language@@ GmbH"
    made = make(dataclasses.replace(unpaid_german(), seller=make_seller(legal_name=name)))
    pdf = made.open()
    root = xmp_root(pdf)

    assert str(pdf.docinfo.Author) == xmp_text(root, "//dc:creator/rdf:Seq/rdf:li") == name


@pytest.mark.parametrize("change", ["not a pdf", "truncated", "damaged cross-reference", "empty"])
def test_refuses_a_file_that_is_not_a_pdf_or_needs_repair(change: str) -> None:
    # qpdf would rebuild a damaged table and carry on; a damaged file is refused, not repaired.
    made = german()
    plain = {
        "not a pdf": b"%PDF-1.4\nnothing here",
        "truncated": made.plain[: len(made.plain) // 2],
        "damaged cross-reference": made.plain + b"trailer\n<< /Size 1 >>\nstartxref\n9\n%%EOF\n",
        "empty": b"",
    }[change]

    with pytest.raises(ValueError):
        facturx_pdf(plain, made.xml, document=made.document)


def test_takes_object_streams_and_gives_the_same_file() -> None:
    # The renderer writes none, but a PDF with object streams (ISO 32000-1, 7.5.7) is read as well:
    # the result is the renderer's file made into Factur-X, but for the second file identifier
    # (a digest of the input bytes, which differ).
    made = german()
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(made.plain)) as pdf:
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate, compress_streams=False)
    assert b"/ObjStm" in out.getvalue()

    result = facturx_pdf(out.getvalue(), made.xml, document=made.document)

    ours, theirs = (
        bytes(pikepdf.open(io.BytesIO(data)).trailer.ID[1]).hex().encode() for data in (result, made.pdf)
    )
    assert ours != theirs
    assert result.replace(ours, theirs) == made.pdf


def test_takes_an_incremental_update_and_writes_one_file() -> None:
    # An update appended to the renderer's file (ISO 32000-1, 7.5.6) that replaces the information
    # dictionary: its title is the one that counts, and the result is one body, one table, no /Prev.
    made = german()
    plain = made.plain
    info = int(re.search(rb"/Info (\d+) 0 R", plain)[1])
    trailer = re.search(rb"trailer\s*<<(.*)>>\s*startxref\s+(\d+)\s+%%EOF\s*$", plain, re.S)
    assert trailer
    changed = b"%d 0 obj\n<< /Title (Changed title) /Author (Someone) >>\nendobj\n" % info
    update = (
        changed
        + b"xref\n%d 1\n%010d 00000 n \n" % (info, len(plain))
        + b"trailer\n<<%s/Prev %s >>\nstartxref\n%d\n%%%%EOF\n"
        % (trailer[1], trailer[2], len(plain) + len(changed))
    )

    result = facturx_pdf(plain + update, made.xml, document=made.document)

    assert result.count(b"\nxref\n") == 1 and b"/Prev" not in result
    with pikepdf.open(io.BytesIO(result), attempt_recovery=False) as pdf:
        assert pdf.check_pdf_syntax() == []
        assert (
            str(pdf.docinfo.Title) == xmp_text(xmp_root(pdf), "//dc:title/rdf:Alt/rdf:li") == "Changed title"
        )
        assert str(pdf.docinfo.Author) == "Someone"
        assert bytes(pdf.trailer.ID[0]) == bytes(made.open().trailer.ID[0])
    assert facturx.get_xml_from_pdf(result, check_xsd=False)[1] == made.xml


# --- the attachment ----------------------------------------------------------------------------
def test_xml_attached_as_alternative_and_listed_in_the_catalog_af() -> None:
    made = german()
    pdf = made.open()

    (filespec,) = pdf.Root.AF
    assert filespec.Type == "/Filespec"
    assert str(filespec.F) == str(filespec.UF) == "factur-x.xml"
    assert filespec.AFRelationship == "/Alternative"
    embedded = filespec.EF.F
    assert embedded.Type == "/EmbeddedFile"
    assert embedded.Subtype == "/text/xml"
    assert embedded.read_bytes() == made.xml
    assert int(embedded.Params.Size) == len(made.xml)
    assert bytes(embedded.Params.CheckSum) == hashlib.md5(made.xml).digest()
    assert str(embedded.Params.ModDate) == "D:20240315000000+00'00'"
    # The same file specification is the one the EmbeddedFiles name tree lists.
    names = pdf.Root.Names.EmbeddedFiles.Names
    assert [str(names[0])] == ["factur-x.xml"] and names[1].objgen == filespec.objgen


def test_facturx_reads_the_xml_back_identical() -> None:
    made = german()

    filename, xml = facturx.get_xml_from_pdf(made.pdf, check_xsd=True)

    assert filename == "factur-x.xml"
    assert xml == made.xml


def test_refuses_xml_that_is_not_facturx_en16931() -> None:
    made = german()
    xrechnung = made.xml.replace(
        b"<ram:ID>urn:cen.eu:en16931:2017</ram:ID>",
        b"<ram:ID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</ram:ID>",
    )
    assert xrechnung != made.xml
    ubl = einvoice_xml(made.document, "peppol-bis")

    for xml in (xrechnung, ubl):
        with pytest.raises(ValueError):
            facturx_pdf(made.plain, xml, document=made.document)


# --- still the invoice people read -------------------------------------------------------------
def test_text_extracts_as_before() -> None:
    made = german()

    text = pages_text(made.pdf)

    assert text == pages_text(made.plain)
    assert "Rechnung RE-2024-000123" in text[0]
    assert "1.336,39" in text[0]


def test_epc_qr_code_still_decodes() -> None:
    (result,) = zxingcpp.read_barcodes(
        page_image(german().pdf, dpi=150), formats=zxingcpp.BarcodeFormat.QRCode
    )

    assert result.text == EPC_PAYLOAD


def test_dated_by_the_order_date_before_issue() -> None:
    document = dataclasses.replace(unpaid_german(), number="", issue_date=None)
    plain = render_invoice_pdf(document)
    xml = einvoice_xml(document, "facturx")  # with the placeholder number

    pdf = pikepdf.open(io.BytesIO(facturx_pdf(plain, xml, document=document)))

    assert document.order_date == dt.date(2024, 3, 12)
    assert str(pdf.docinfo.CreationDate) == "D:20240312000000+00'00'"


# --- pikepdf's PDF/A validator (veraPDF's rules), where installed -------------------------------
# It approves only what it can read: the Factur-X extension schema (ISO 19005-3, 6.6.2.3) and the
# attachments are beyond it, so those findings are expected; anything else is a real problem.
EXTENSION_SCHEMA = ("pdfaExtension", "pdfaSchema", "pdfaProperty", "fx=", "fx:")


@pytest.mark.parametrize("made", [german, scripts], ids=["german", "scripts"])
def test_pikepdf_pdfa_validator_finds_nothing_else(made: Any) -> None:
    pytest.importorskip("fontTools", reason="pikepdf's PDF/A validator needs pikepdf[pdfa] (fonttools)")
    from pikepdf import pdfa

    report = pdfa.validate_written(io.BytesIO(made().pdf), "3b")

    unexpected = [
        f"{finding.kind} {finding.rule} {finding.where}: {finding.message}"
        for finding in report.findings
        if not (
            finding.rule == "ISO_19005_3:6.6.2.3.1-1" and any(s in finding.message for s in EXTENSION_SCHEMA)
        )
        and not (finding.kind == "unsupported" and "embedded files" in finding.message)
        and not (finding.kind == "unsupported" and "associated files" in finding.message)
    ]
    assert unexpected == []
