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

The attachment and the XMP are made by the `factur-x` package (`generate_from_binary`, its
`generate_xmp_bytes`). One pypdf pass after it adds what it does not do and makes the file
reproducible: factur-x dates the file, its XMP and the attachment with the clock, and writes
`rdf:Description` elements without `rdf:about`, which the XMP specification requires (veraPDF
reads a missing one as "", other validators reject the packet). Here every date is the issue
date (the order date for a draft), as the renderer's are, so the same document and XML give the
same bytes. The file ID is kept from the renderer (a digest of the document's metadata) for the
first half and is a digest of both inputs for the second.

A credit note's PDF is made the same way: its CII (TypeCode 381, BT-3) is the embedded
`factur-x.xml`, and the XMP says `fx:DocumentType` INVOICE as for an invoice. Factur-X has one
document type for every CII invoice document (credit notes included; the `factur-x` package
writes INVOICE for its flavor whatever the type code), the kind of document is BT-3 in the XML.
The Factur-X EN 16931 XSD and its schematron take 381.

The XML is not validated here (factur-x's `check_xsd` is off): the caller validates it against
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
from pathlib import Path

import facturx
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from invoicing.documents import InvoiceDocument
from invoicing.i18n import normalize_language

__all__ = ["FACTURX_FILENAME", "FACTURX_LEVEL", "facturx_pdf"]


FACTURX_FILENAME = "factur-x.xml"
FACTURX_LEVEL = "en16931"  # Factur-X profile EN 16931 (COMFORT); XMP fx:ConformanceLevel "EN 16931"
PDF_HEADER = "%PDF-1.7"  # PDF/A-3 is based on ISO 32000-1 (PDF 1.7)
CREATOR = "Invoice Service"  # /Creator and xmp:CreatorTool, as the renderer names itself
PRODUCER = "Invoice Service (ReportLab, factur-x, pypdf)"  # /Producer and pdf:Producer
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


def facturx_pdf(pdf: bytes, cii_xml: bytes, *, document: InvoiceDocument) -> bytes:
    """The rendered invoice `pdf` with `cii_xml` (Factur-X EN 16931 CII of the same `document`)
    embedded, as a PDF/A-3b Factur-X file. Deterministic: the same inputs give the same bytes.

    Raises ValueError when the XML is not Factur-X CII of profile EN 16931.
    """
    _check_profile(cii_xml)
    # Title, author and subject as the renderer set them, in the document's language.
    info = PdfReader(io.BytesIO(pdf)).metadata
    metadata = {
        "title": (info.title if info else None) or "",
        "author": (info.author if info else None) or "",
        "subject": (info.subject if info else None) or "",
        "keywords": "",
    }
    language = normalize_language(document.language) or "en"
    carrier = facturx.generate_from_binary(
        pdf,
        cii_xml,
        flavor="factur-x",
        level=FACTURX_LEVEL,
        check_xsd=False,  # validated before (XSD and EN 16931 schematron), see the module doc
        pdf_metadata=dict(metadata),
        lang=language,
        afrelationship="alternative",
        xmp_compression=False,  # left readable, as PDF/A-1 required and tools still expect
    )
    return _finish(carrier, metadata, language, _stamp(document), _file_id(pdf, cii_xml))


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


def _finish(
    carrier: bytes, metadata: dict[str, str], language: str, stamp: dt.datetime, file_id: bytes
) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(carrier))
    writer.pdf_header = PDF_HEADER
    root = writer.root_object
    pdf_date = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")

    # The document information dictionary, replaced whole, says what the XMP says (ISO 32000-1,
    # 14.3.3); ReportLab's empty /Keywords and default /Trapped have no XMP twin and go.
    writer.metadata = {
        "/Title": metadata["title"],
        "/Author": metadata["author"],
        "/Subject": metadata["subject"],
        "/Creator": CREATOR,
        "/Producer": PRODUCER,
        "/CreationDate": pdf_date,
        "/ModDate": pdf_date,
    }
    stream = root["/Metadata"].get_object()
    if not isinstance(stream, StreamObject):  # pragma: no cover - factur-x always writes one
        raise TypeError("factur-x wrote no XMP metadata stream")
    stream.set_data(_xmp(metadata, language, stamp))

    # The attached XML's modification date: the document's, not the clock's.
    associated = root["/AF"].get_object()
    if not isinstance(associated, ArrayObject):  # pragma: no cover - factur-x always writes one
        raise TypeError("factur-x wrote no /AF array")
    for filespec in associated:
        embedded = filespec.get_object()["/EF"]["/F"].get_object()
        embedded["/Params"][NameObject("/ModDate")] = TextStringObject(pdf_date)

    root[NameObject("/OutputIntents")] = ArrayObject([_output_intent(writer)])
    # factur-x opens the attachments pane; the invoice opens on its page, as before.
    writer.page_mode = "/UseNone"
    for page in writer.pages:
        transition = page.get("/Trans")
        if transition is not None and not transition.get_object():
            del page[NameObject("/Trans")]  # ReportLab writes an empty one on every page

    # pypdf has no public setter for the file identifiers (ISO 32000-1, 14.4).
    first = writer._ID[0] if writer._ID else ByteStringObject(file_id)
    writer._ID = ArrayObject([first, ByteStringObject(file_id)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _output_intent(writer: PdfWriter) -> DictionaryObject:
    profile = DecodedStreamObject()
    profile.set_data(_srgb_profile())
    profile[NameObject("/N")] = NumberObject(3)
    profile[NameObject("/Alternate")] = NameObject("/DeviceRGB")
    profile_ref = writer._add_object(profile.flate_encode())
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): TextStringObject(SRGB_IDENTIFIER),
            NameObject("/Info"): TextStringObject(SRGB_IDENTIFIER),
            NameObject("/RegistryName"): TextStringObject("http://www.color.org"),
            NameObject("/DestOutputProfile"): profile_ref,
        }
    )


@functools.cache
def _srgb_profile() -> bytes:
    return SRGB_PROFILE.read_bytes()


def _xmp(metadata: dict[str, str], language: str, stamp: dt.datetime) -> bytes:
    """factur-x's XMP (PDF/A identification, Dublin Core, the Factur-X extension schema and its
    values) with `rdf:about` on every description, the document's dates, this service as creator
    and producer, and the document's language."""
    packet = facturx.generate_xmp_bytes("factur-x", FACTURX_LEVEL, None, dict(metadata))
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(packet, parser)
    timestamp = stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    values = {
        _q("xmp:CreateDate"): timestamp,
        _q("xmp:ModifyDate"): timestamp,
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
            etree.SubElement(language_bag, _q("rdf:li")).text = language
    body = etree.tostring(root, encoding="unicode", pretty_print=True).strip()
    return (XMP_HEAD + body + XMP_TAIL).encode("utf-8")


def _q(name: str) -> str:
    """ "dc:title" -> "{http://purl.org/dc/elements/1.1/}title"."""
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"
