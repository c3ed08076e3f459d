"""The invoice PDF as a Factur-X file: a PDF/A-3b that carries its EN 16931 CII XML.

`facturx_pdf(pdf, cii_xml, document=...)` takes the PDF that `invoicing.pdf.render_invoice_pdf`
made (fonts embedded, no transparency, `/Lang` set: see that package) and the Factur-X XML of the
same document, and returns one file for people and machines (Factur-X 1.07 / ZUGFeRD 2.3,
profile EN 16931, "COMFORT"):

- the XML embedded as `factur-x.xml`, MIME type `text/xml`, `/AFRelationship /Alternative` (the
  XML is an equivalent representation of the page content: Factur-X 1.07, 6.2.2), referenced
  from the catalog's `/AF` array and its `/EmbeddedFiles` name tree (ISO 19005-3, 6.8);
- XMP metadata with the PDF/A identification (`pdfaid:part` 3, `pdfaid:conformance` B, ISO
  19005-3, 6.6.4), the Factur-X extension schema and its values (`fx:DocumentType` INVOICE,
  `fx:DocumentFileName` factur-x.xml, `fx:Version` 1.0, `fx:ConformanceLevel` EN 16931), and
  title, author, subject, language and dates equal to the document information dictionary;
- an sRGB output intent (`/OutputIntents`, `/S /GTS_PDFA1`, an embedded ICC profile with N 3),
  which is what lets the page use DeviceRGB and DeviceGray (ISO 19005-3, 6.2.4.3);
- a PDF 1.7 header, and `/PageMode /UseNone`: the invoice opens as its page, as before.

How: pikepdf (qpdf) reads the renderer's file and writes it again. Every object stays as it was
(streams byte for byte: `compress_streams=False`; qpdf numbers the objects anew and writes only
those reachable from the trailer) except the catalog, which gains `/Metadata`, `/OutputIntents`,
`/AF` and `/Names`, and the information dictionary, replaced whole; the new objects are the XMP,
the ICC profile, the embedded XML and its file specification. The file has a PDF 1.7 header, one
cross-reference table and no object streams (`SAVE_OPTIONS`). Any PDF that qpdf reads without
repairing it is taken (object streams and incremental updates too); anything else, or a catalog
that already has what this adds, is a ValueError. Parsing the whole file with pypdf (factur-x's
`generate_from_binary` and a pass to finish its work) cost ~10 ms an invoice; this ~1.2 ms.

The XMP is the packet factur-x's `generate_xmp_bytes` writes, with `rdf:about` on every
`rdf:Description` (which the XMP specification requires: veraPDF reads a missing one as "",
other validators reject the packet), this service as creator and producer, the document's
language and dates; it is built once per process with markers for the values (`_xmp_template`)
and filled in per document. Every date is the issue date (the order date for a draft), as the
renderer's are, so the same document and XML give the same bytes. The file ID is kept from the
renderer (a digest of the document's metadata) for the first half and is an MD5 digest of both
inputs (the rendered PDF, then the XML) for the second (`_file_id`).

A credit note's PDF is made the same way: its CII (TypeCode 381, BT-3) is the embedded
`factur-x.xml`, and the XMP says `fx:DocumentType` INVOICE as for an invoice. Factur-X has one
document type for every CII invoice document (credit notes included; the `factur-x` package
writes INVOICE for its flavor whatever the type code), the kind of document is BT-3 in the XML.
The Factur-X EN 16931 XSD and its schematron take 381.

The XML is not validated here: the caller validates it against
the XSD and the EN 16931 rules first (`invoicing.einvoice.validation`). Only its syntax and
profile are checked, since the XMP declares them: CII, with the EN 16931 specification
identifier (BT-24) as it is.

The sRGB profile (`invoicing/pdf/sRGB.icc`, LittleCMS's built-in sRGB, ICC v2, class `mntr`)
carries its own licence in its `cprt` tag: "no copyright, use freely". It is the profile pikepdf
ships for PDF/A output intents.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import zlib
from pathlib import Path

import facturx
import pikepdf
from lxml import etree
from pikepdf import Array, Dictionary, Name, String

from invoicing.documents import InvoiceDocument
from invoicing.i18n import normalize_language

__all__ = ["FACTURX_FILENAME", "FACTURX_LEVEL", "facturx_pdf"]


FACTURX_FILENAME = "factur-x.xml"
FACTURX_DESCRIPTION = "Factur-X XML file"  # /Desc of the file specification, as factur-x writes it
FACTURX_LEVEL = "en16931"  # Factur-X profile EN 16931 (COMFORT); XMP fx:ConformanceLevel "EN 16931"
CREATOR = "Invoice Service"  # /Creator and xmp:CreatorTool, as the renderer names itself
PRODUCER = "Invoice Service (ReportLab)"  # /Producer and pdf:Producer
SRGB_PROFILE = Path(__file__).resolve().parent.parent / "pdf" / "sRGB.icc"
SRGB_IDENTIFIER = "sRGB IEC61966-2.1"
EN16931_SPECIFICATION = "urn:cen.eu:en16931:2017"  # BT-24 of Factur-X profile EN 16931

CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
XMP_HEAD = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
XMP_TAIL = '\n<?xpacket end="w"?>'


# How qpdf writes the file. PDF/A-3 is based on ISO 32000-1 (PDF 1.7); qpdf's header comment has
# the four bytes above 127 that ISO 19005-3, 6.1.2 asks for.
SAVE_OPTIONS = {
    "force_version": "1.7",
    "fix_metadata_version": False,  # else pikepdf rewrites the XMP (pdf:PDFVersion)
    "object_stream_mode": pikepdf.ObjectStreamMode.disable,  # one classic cross-reference table
    "compress_streams": False,  # else qpdf inflates and deflates every stream again; ours come compressed
    "encryption": False,  # ISO 19005-3, 6.1.3: none
    "static_id": True,  # its fixed second file identifier is replaced by `_file_id` below
}
# qpdf's second file identifier with static_id, as it writes it at the end of the trailer.
_STATIC_ID = b"<31415926535897932384626433832795>] >>\nstartxref\n"
# Keys the catalog gains: the renderer's must not have them already.
_NEW_CATALOG_KEYS = ("/AF", "/Metadata", "/Names", "/OutputIntents")


def facturx_pdf(pdf: bytes, cii_xml: bytes, *, document: InvoiceDocument) -> bytes:
    """The rendered invoice `pdf` with `cii_xml` (Factur-X EN 16931 CII of the same `document`)
    embedded, as a PDF/A-3b Factur-X file. Deterministic: the same inputs give the same bytes.

    Raises ValueError when the XML is not Factur-X CII of profile EN 16931, when `pdf` is not a
    PDF file that qpdf reads without repairing it, or when its catalog already has `/AF`,
    `/Metadata`, `/Names` or `/OutputIntents` or lacks `/PageMode /UseNone`.
    """
    _check_profile(cii_xml)
    file_id = _file_id(pdf, cii_xml)
    try:
        with pikepdf.open(io.BytesIO(pdf), attempt_recovery=False) as out:
            written = _write(out, cii_xml, document, file_id)
    except pikepdf.PdfError as error:
        raise ValueError(f"not a PDF file that qpdf reads as it is: {error}") from error
    # ISO 32000-1, 14.4: /ID [the renderer's first identifier, `file_id`]. The same length as
    # qpdf's, so every offset stays right.
    head, found, tail = written.rpartition(_STATIC_ID)
    if not found:  # pragma: no cover - qpdf writes it so
        raise RuntimeError("qpdf's file identifier is not where it writes it")
    return head + b"<" + file_id.hex().encode("ascii") + found[33:] + tail


def _write(out: pikepdf.Pdf, cii_xml: bytes, document: InvoiceDocument, file_id: bytes) -> bytes:
    """`out` with the Factur-X XML, the XMP, the output intent and a new information dictionary,
    as qpdf writes it."""
    root = out.Root
    if any(key in root for key in _NEW_CATALOG_KEYS) or root.get("/PageMode") != Name.UseNone:
        raise ValueError("the PDF's catalog is not as invoicing.pdf writes it")
    # Title, author and subject as the renderer set them, in the document's language.
    metadata = {key: str(out.docinfo.get(f"/{key}", "")) for key in ("Title", "Author", "Subject")}
    language = normalize_language(document.language) or "en"
    stamp = _stamp(document)
    pdf_date = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")
    if "/ID" not in out.trailer:  # the renderer writes one; else both halves are `file_id`
        out.trailer.ID = Array([String(file_id), String(file_id)])

    # ISO 19005-3, 6.6.2.1: the XMP as a metadata stream of the catalog, left uncompressed
    # (PDF/A-1 required it, and tools still read it so).
    root.Metadata = out.make_stream(_xmp(metadata, language, stamp), Type=Name.Metadata, Subtype=Name.XML)
    # ISO 19005-3, 6.2.3: the output intent, which lets the page use device colour spaces (6.2.4.3).
    profile = out.make_stream(_srgb_profile_flate(), Filter=Name.FlateDecode, N=3, Alternate=Name.DeviceRGB)
    root.OutputIntents = Array(
        [
            Dictionary(
                Type=Name.OutputIntent,
                S=Name.GTS_PDFA1,
                OutputConditionIdentifier=String(SRGB_IDENTIFIER),
                Info=String(SRGB_IDENTIFIER),
                RegistryName=String("http://www.color.org"),
                DestOutputProfile=profile,
            )
        ]
    )
    # ISO 19005-3, 6.8: the embedded file's MIME type (/Subtype), modification date, /F and /UF,
    # and /AFRelationship (Alternative: Factur-X 1.07, 6.2.2), listed in the catalog's /AF and
    # /EmbeddedFiles name tree. qpdf sets /Params /Size and /CheckSum from the XML.
    spec = pikepdf.AttachedFileSpec(
        out,
        cii_xml,
        description=FACTURX_DESCRIPTION,
        filename=FACTURX_FILENAME,
        mime_type="text/xml",
        mod_date=pdf_date,
        relationship=Name.Alternative,
    )
    spec.obj.EF.F.write(zlib.compress(cii_xml), filter=Name.FlateDecode)  # /Params stay
    out.attachments[FACTURX_FILENAME] = spec
    root.AF = Array([spec.obj])
    # The document information dictionary, replaced whole, says what the XMP says (ISO 32000-1,
    # 14.3.3); ReportLab's empty /Keywords and default /Trapped have no XMP twin and go.
    out.trailer.Info = out.make_indirect(
        Dictionary(
            Author=String(metadata["Author"]),
            CreationDate=String(pdf_date),
            Creator=String(CREATOR),
            ModDate=String(pdf_date),
            Producer=String(PRODUCER),
            Subject=String(metadata["Subject"]),
            Title=String(metadata["Title"]),
        )
    )
    buffer = io.BytesIO()
    out.save(buffer, **SAVE_OPTIONS)
    return buffer.getvalue()


def _check_profile(cii_xml: bytes) -> None:
    """The XMP declares Factur-X profile EN 16931: the XML must be CII with the EN 16931
    specification identifier (BT-24) as it is, not a CIUS or extension built on it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(cii_xml, parser)
    if root.tag != f"{{{CII['rsm']}}}CrossIndustryInvoice":
        raise ValueError(f"not CII XML: the root element is {root.tag}")
    guideline = root.findtext(
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", namespaces=CII
    )
    if (guideline or "").strip() != EN16931_SPECIFICATION:
        raise ValueError(f"BT-24 is {guideline!r}: Factur-X EN 16931 needs {EN16931_SPECIFICATION!r}")


def _stamp(document: InvoiceDocument) -> dt.datetime:
    """Midnight UTC of the issue date (BT-2), or of the order date for a draft: the renderer
    dates the PDF with the same day."""
    day = document.issue_date or document.order_date
    if day is None:
        # No date at all (a draft without order date): a fixed one keeps the bytes reproducible.
        day = dt.date(2000, 1, 1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _file_id(pdf: bytes, cii_xml: bytes) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    digest.update(pdf)
    digest.update(cii_xml)
    return digest.digest()


@functools.cache
def _srgb_profile_flate() -> bytes:
    """The output intent's ICC profile (ISO 19005-3, 6.2.3; /N 3: an RGB profile), compressed
    once per process."""
    return zlib.compress(SRGB_PROFILE.read_bytes(), 9)


# --- XMP ---------------------------------------------------------------------------------------
# Markers for the values in the template: plain ASCII that XML serialises as it is.
_XMP_FIELDS = ("title", "author", "subject", "language", "timestamp")


def _xmp(metadata: dict[str, str], language: str, stamp: dt.datetime) -> bytes:
    """The XMP packet of the document: `_xmp_template` with its values."""
    values = {
        "title": metadata["Title"],
        "author": metadata["Author"],
        "subject": metadata["Subject"],
        "language": language,
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    }
    # One pass: a value that happens to contain a marker's text stays as it is.
    packet = _MARKERS.sub(lambda found: _xml_text(values[found.group(1)]), _xmp_template())
    return packet.encode("utf-8")


def _marker(field: str) -> str:
    return f"@@xmp-{field}@@"


_MARKERS = re.compile("@@xmp-({})@@".format("|".join(_XMP_FIELDS)))


_XML_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
# Characters XML 1.0 does not allow at all (its Char production, section 2.2): a title or name
# with one still gives a well-formed packet, without it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    """`value` as XML character data, escaped as lxml escapes text."""
    return _NOT_XML.sub("", value).translate(_XML_ESCAPES)


@functools.cache
def _xmp_template() -> str:
    """factur-x's XMP (PDF/A identification, Dublin Core, the Factur-X extension schema and its
    values) with `rdf:about` on every description, this service as creator and producer, and a
    language; with markers where the document's title, author, subject, language and dates go.
    Built once per process: lxml takes ~0.7 ms for it, filling it in a few microseconds."""
    placeholders = {"title": _marker("title"), "author": _marker("author"), "subject": _marker("subject")}
    packet = facturx.generate_xmp_bytes("factur-x", FACTURX_LEVEL, None, {**placeholders, "keywords": ""})
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(packet, parser)
    values = {
        _q("xmp:CreateDate"): _marker("timestamp"),
        _q("xmp:ModifyDate"): _marker("timestamp"),
        _q("xmp:CreatorTool"): CREATOR,
        _q("pdf:Producer"): PRODUCER,
    }
    for description in root.iter(_q("rdf:Description")):
        description.set(_q("rdf:about"), "")
        for child in description:
            if child.tag in values:
                child.text = values[child.tag]
        if description.find(_q("dc:title")) is not None:
            language_bag = etree.SubElement(etree.SubElement(description, _q("dc:language")), _q("rdf:Bag"))
            etree.SubElement(language_bag, _q("rdf:li")).text = _marker("language")
    body = etree.tostring(root, encoding="unicode", pretty_print=True).strip()
    template = XMP_HEAD + body + XMP_TAIL
    for field in _XMP_FIELDS:
        if _marker(field) not in template:  # pragma: no cover - factur-x writes every one
            raise RuntimeError(f"factur-x's XMP has no place for the {field}")
    return template


def _q(name: str) -> str:
    """ "dc:title" -> "{http://purl.org/dc/elements/1.1/}title"."""
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"
