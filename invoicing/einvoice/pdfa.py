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

How: one pass over the renderer's bytes, no PDF parser. ReportLab writes a classic file (ISO
32000-1, 7.5): a header, its objects one after the other, one cross-reference table and a trailer,
no object streams. So only the trailer, the table and two small dictionaries are read (the
catalog and the document information dictionary), and the file is written again object by
object with new offsets: every object as it was, except the catalog (which gains `/Metadata`,
`/OutputIntents`, `/AF` and `/Names`) and the information dictionary (replaced whole), then the
new objects (the XMP, the ICC profile, the embedded XML and its file specification), one
cross-reference table and the trailer. Parsing the whole file with pypdf (factur-x's
`generate_from_binary` and a pass to finish its work) cost ~10 ms an invoice; this costs well
under one. `_Source.read` says what it needs of the input and refuses anything else (ValueError).

The XMP is the packet factur-x's `generate_xmp_bytes` writes, with `rdf:about` on every
`rdf:Description` (which the XMP specification requires: veraPDF reads a missing one as "",
other validators reject the packet), this service as creator and producer, the document's
language and dates; it is built once per process with markers for the values (`_xmp_template`)
and filled in per document. Every date is the issue date (the order date for a draft), as the
renderer's are, so the same document and XML give the same bytes. The file ID is kept from the
renderer (a digest of the document's metadata) for the first half and is an MD5 digest of both
inputs (the rendered PDF, then the XML) for the second.

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

import codecs
import datetime as dt
import functools
import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import facturx

# ReportLab's codecs, "pdfdoc" (PDFDocEncoding, ISO 32000-1 D.2) among them: the renderer's text
# strings are in it, or in UTF-16BE with a byte order mark (ISO 32000-1, 7.9.2.2).
import reportlab.pdfbase.pdfmetrics  # noqa: F401
from lxml import etree

from invoicing.documents import InvoiceDocument
from invoicing.i18n import normalize_language

__all__ = ["FACTURX_FILENAME", "FACTURX_LEVEL", "facturx_pdf"]


FACTURX_FILENAME = "factur-x.xml"
FACTURX_DESCRIPTION = "Factur-X XML file"  # /Desc of the file specification, as factur-x writes it
FACTURX_LEVEL = "en16931"  # Factur-X profile EN 16931 (COMFORT); XMP fx:ConformanceLevel "EN 16931"
# PDF/A-3 is based on ISO 32000-1 (PDF 1.7). The second line is the comment of four bytes above
# 127 that ISO 19005-3, 6.1.2 asks for, so that tools treat the file as binary.
PDF_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
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


def facturx_pdf(pdf: bytes, cii_xml: bytes, *, document: InvoiceDocument) -> bytes:
    """The rendered invoice `pdf` with `cii_xml` (Factur-X EN 16931 CII of the same `document`)
    embedded, as a PDF/A-3b Factur-X file. Deterministic: the same inputs give the same bytes.

    Raises ValueError when the XML is not Factur-X CII of profile EN 16931, or when `pdf` is not
    a file as `invoicing.pdf.render_invoice_pdf` writes them (see `_Source.read`).
    """
    _check_profile(cii_xml)
    source = _Source.read(pdf)
    # Title, author and subject as the renderer set them, in the document's language.
    metadata = {key: source.info_text(key) for key in ("Title", "Author", "Subject")}
    language = normalize_language(document.language) or "en"
    stamp = _stamp(document)
    pdf_date = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")

    first = source.size
    xmp, profile, embedded, filespec = range(first, first + 4)
    checksum = hashlib.md5(cii_xml, usedforsecurity=False).hexdigest().encode("ascii")
    name = _pdf_string(FACTURX_FILENAME)
    new_objects = [
        # ISO 19005-3, 6.6.2.1: the XMP as a metadata stream of the catalog, left uncompressed
        # (PDF/A-1 required it, and tools still read it so).
        _stream(b"/Subtype /XML /Type /Metadata", _xmp(metadata, language, stamp)),
        _srgb_profile_stream(),
        # ISO 19005-3, 6.8: the embedded file's MIME type (/Subtype) and modification date.
        _stream(
            b"/Filter /FlateDecode /Params << /CheckSum <"
            + checksum
            + b"> /ModDate "
            + _pdf_string(pdf_date)
            + b" /Size %d >> /Subtype /text#2Fxml /Type /EmbeddedFile" % len(cii_xml),
            zlib.compress(cii_xml),
        ),
        # ISO 19005-3, 6.8: /F and /UF, and /AFRelationship (Alternative: Factur-X 1.07, 6.2.2).
        b"<< /AFRelationship /Alternative /Desc "
        + _pdf_string(FACTURX_DESCRIPTION)
        + b" /EF << /F %d 0 R /UF %d 0 R >> /F " % (embedded, embedded)
        + name
        + b" /Type /Filespec /UF "
        + name
        + b" >>",
    ]
    catalog_entries = (
        b"/AF [ %d 0 R ] /Metadata %d 0 R" % (filespec, xmp)
        + b" /Names << /EmbeddedFiles << /Names [ "
        + name
        + b" %d 0 R ] >> >>" % filespec
        # ISO 19005-3, 6.2.3: the output intent, which lets the page use device colour spaces
        # (6.2.4.3).
        + b" /OutputIntents [ << /DestOutputProfile %d 0 R /Info " % profile
        + _pdf_string(SRGB_IDENTIFIER)
        + b" /OutputConditionIdentifier "
        + _pdf_string(SRGB_IDENTIFIER)
        + b" /RegistryName (http://www.color.org) /S /GTS_PDFA1 /Type /OutputIntent >> ]"
    )
    # The document information dictionary, replaced whole, says what the XMP says (ISO 32000-1,
    # 14.3.3); ReportLab's empty /Keywords and default /Trapped have no XMP twin and go.
    info = b" ".join(
        [
            b"<< /Author",
            _pdf_string(metadata["Author"]),
            b"/CreationDate",
            _pdf_string(pdf_date),
            b"/Creator",
            _pdf_string(CREATOR),
            b"/ModDate",
            _pdf_string(pdf_date),
            b"/Producer",
            _pdf_string(PRODUCER),
            b"/Subject",
            _pdf_string(metadata["Subject"]),
            b"/Title",
            _pdf_string(metadata["Title"]),
            b">>",
        ]
    )
    return source.rewrite(
        catalog_entries=catalog_entries,
        info=info,
        new_objects=new_objects,
        file_id=_file_id(pdf, cii_xml),
    )


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


# --- the renderer's file, read and written again ------------------------------------------------
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_HEAD = re.compile(rb"xref\r?\n0 (\d+)\s*?\r?\n")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
_TRAILER_REF = re.compile(rb"/(Root|Info)\s+(\d+)\s+0\s+R")
_TRAILER_SIZE = re.compile(rb"/Size\s+(\d+)")
_TRAILER_ID = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]+)>")
_OBJECT = re.compile(rb"(\d+) 0 obj\s*(<<.*>>)\s*endobj\s*$", re.S)
# Keys the catalog gains: the renderer's must not have them already.
_CATALOG_NEW_KEYS = re.compile(rb"/(AF|Metadata|Names|OutputIntents)(?![#-~])")


@dataclass(frozen=True)
class _Source:
    """What `rewrite` needs of the rendered file: where each object is, the catalog, the
    document information dictionary and the first file identifier."""

    pdf: bytes
    offsets: list[int]  # offsets[n]: where object n starts (offsets[0] is unused)
    body_end: int  # where the cross-reference table starts
    root: int
    info: int
    info_strings: dict[bytes, str]  # the text strings of the information dictionary
    file_id: bytes

    @property
    def size(self) -> int:
        return len(self.offsets)

    @classmethod
    def read(cls, pdf: bytes) -> _Source:
        """Reads a classic PDF file as ReportLab writes one (ISO 32000-1, 7.5.4 and 7.5.5): one
        cross-reference section with one subsection from object 0, every object of generation 0
        in use, and a trailer with /Root, /Info, /Size and /ID. Anything else is a ValueError."""
        end = _STARTXREF.search(pdf, max(0, len(pdf) - 64))
        if not pdf.startswith(b"%PDF-") or end is None:
            raise ValueError("not a PDF file as invoicing.pdf renders them (no header or startxref)")
        body_end = int(end.group(1))
        head = _XREF_HEAD.match(pdf, body_end)
        if head is None:
            raise ValueError("the PDF has no cross-reference table (a stream or an update?)")
        size = int(head.group(1))
        offsets = [0]
        position = head.end()
        for number in range(size):
            entry = _XREF_ENTRY.match(pdf, position)
            if entry is None:
                raise ValueError(f"the PDF's cross-reference entry {number} is not a table entry")
            position = entry.end()
            if number == 0:
                continue
            if entry.group(3) != b"n" or entry.group(2) != b"00000":
                raise ValueError(f"the PDF's object {number} is free or of another generation")
            offsets.append(int(entry.group(1)))
        trailer_at = pdf.find(b"trailer", position, end.start())
        if trailer_at < 0 or (size_m := _TRAILER_SIZE.search(pdf, trailer_at, end.start())) is None:
            raise ValueError("the PDF has no trailer")
        trailer = pdf[trailer_at : end.start()]
        refs = dict(_TRAILER_REF.findall(trailer))
        file_id = _TRAILER_ID.search(trailer)
        if int(size_m.group(1)) != size or b"Root" not in refs or b"Info" not in refs or file_id is None:
            raise ValueError("the PDF's trailer lacks /Size, /Root, /Info or /ID")
        if offsets != sorted(offsets) or offsets[-1] >= body_end:
            raise ValueError("the PDF's objects are not written in order")
        root, info = int(refs[b"Root"]), int(refs[b"Info"])
        if not 0 < root < size or not 0 < info < size:
            raise ValueError("the PDF's /Root or /Info is not one of its objects")
        return cls(
            pdf=pdf,
            offsets=offsets,
            body_end=body_end,
            root=root,
            info=info,
            info_strings=_text_strings(_dictionary(pdf, _span(offsets, body_end, info), info)),
            file_id=bytes.fromhex(file_id.group(1).decode("ascii")),
        )

    def span(self, number: int) -> tuple[int, int]:
        return _span(self.offsets, self.body_end, number)

    def info_text(self, key: str) -> str:
        """A text string of the document information dictionary ("" when it has none)."""
        return self.info_strings.get(key.encode("ascii"), "")

    def rewrite(
        self, *, catalog_entries: bytes, info: bytes, new_objects: list[bytes], file_id: bytes
    ) -> bytes:
        """The file again: a PDF 1.7 header, every object as it was but the catalog, which gains
        `catalog_entries`, and the information dictionary, which becomes `info`; `new_objects`
        numbered from `size` on; one cross-reference table and a trailer whose /ID is
        [the renderer's first identifier, `file_id`] (ISO 32000-1, 14.4)."""
        catalog = _dictionary(self.pdf, self.span(self.root), self.root)
        if _CATALOG_NEW_KEYS.search(catalog) or b"/PageMode /UseNone" not in catalog:
            raise ValueError("the PDF's catalog is not as invoicing.pdf writes it")
        replaced = {
            self.root: catalog[:-2].rstrip() + b" " + catalog_entries + b"\n>>",
            self.info: info,
        }
        parts = [PDF_HEADER]
        position = len(PDF_HEADER)
        offsets = [0]
        pdf = self.pdf
        for number in range(1, self.size):
            offsets.append(position)
            if number in replaced:
                chunk = b"%d 0 obj\n%s\nendobj\n" % (number, replaced[number])
            else:
                start, end = self.span(number)
                if not pdf.startswith(b"%d 0 obj" % number, start):
                    raise ValueError(f"the PDF's cross-reference table misplaces object {number}")
                chunk = pdf[start:end]
            parts.append(chunk)
            position += len(chunk)
        for number, body in enumerate(new_objects, start=self.size):
            offsets.append(position)
            chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
            parts.append(chunk)
            position += len(chunk)
        # ISO 19005-3, 6.1.4 and ISO 32000-1, 7.5.4: "xref", one subsection, 20-byte entries.
        parts.append(b"xref\n0 %d\n0000000000 65535 f \n" % len(offsets))
        parts.append(b"".join(b"%010d 00000 n \n" % offset for offset in offsets[1:]))
        # ISO 19005-3, 6.1.3: the trailer has /ID; nothing follows %%EOF but its end of line.
        parts.append(
            b"trailer\n<< /ID [ <%s> <%s> ] /Info %d 0 R /Root %d 0 R /Size %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (
                self.file_id.hex().encode(),
                file_id.hex().encode(),
                self.info,
                self.root,
                len(offsets),
                position,
            )
        )
        return b"".join(parts)


def _span(offsets: list[int], body_end: int, number: int) -> tuple[int, int]:
    """Where object `number` starts and ends: at the next object, or at the table after the last."""
    return offsets[number], offsets[number + 1] if number + 1 < len(offsets) else body_end


def _dictionary(pdf: bytes, span: tuple[int, int], number: int) -> bytes:
    """Object `number`, a dictionary (not a stream), in `span`: its text from << to >>."""
    found = _OBJECT.match(pdf, *span)  # a stream ends in "endstream", a dictionary in ">>"
    if found is None or int(found.group(1)) != number:
        raise ValueError(f"the PDF's object {number} is not a dictionary of its own")
    return found.group(2)


def _stream(entries: bytes, data: bytes) -> bytes:
    """A stream object's body: its dictionary (`entries` and /Length) and its data, with the end
    of line after "stream" and before "endstream" that ISO 19005-3, 6.1.7.1 asks for."""
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (entries, len(data), data)


@functools.cache
def _srgb_profile_stream() -> bytes:
    """The output intent's ICC profile stream (ISO 19005-3, 6.2.3; /N 3: an RGB profile),
    compressed once per process."""
    return _stream(
        b"/Alternate /DeviceRGB /Filter /FlateDecode /N 3", zlib.compress(SRGB_PROFILE.read_bytes(), 9)
    )


# --- PDF text strings (ISO 32000-1, 7.3.4 and 7.9.2.2) -----------------------------------------
_LITERAL_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_OCTAL = re.compile(rb"[0-7]{1,3}")


def _pdf_string(text: str) -> bytes:
    """`text` as a PDF text string: a literal in PDFDocEncoding when it is printable ASCII, else
    hexadecimal UTF-16BE with its byte order mark."""
    if text.isascii() and text.isprintable():
        return b"(" + re.sub(rb"([\\()])", rb"\\\1", text.encode("ascii")) + b")"
    return b"<" + (codecs.BOM_UTF16_BE + text.encode("utf-16-be")).hex().encode("ascii") + b">"


def _text_string(dictionary: bytes, key: bytes) -> str:
    """The text string under /`key` in `dictionary` ("" when it has none)."""
    return _text_strings(dictionary).get(key, "")


# Delimiters and white space (ISO 32000-1, 7.2.2): what ends a name, a number or a keyword.
_REGULAR = re.compile(rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]*")
_WHITE = re.compile(rb"[\x00\t\n\x0c\r ]*")


def _text_strings(dictionary: bytes) -> dict[bytes, str]:
    """The text strings among the values of `dictionary` (its text from << to >>), by key, read
    entry by entry so that nothing inside a string is taken for a key: literal strings with their
    escapes and balanced parentheses, hexadecimal strings, in UTF-16BE with a byte order mark or in
    PDFDocEncoding (ISO 32000-1, 7.3.4 and 7.9.2.2). Names, numbers, keywords and references are
    passed over; an array or a dictionary (which the renderer's information dictionary has not)
    is a ValueError."""
    if not dictionary.startswith(b"<<"):
        raise ValueError("not a dictionary")
    strings: dict[bytes, str] = {}
    key: bytes | None = None
    position = 2
    while True:
        position = _past(_WHITE, dictionary, position)
        if dictionary.startswith(b">>", position):
            return strings
        char = dictionary[position : position + 1]
        if not char:
            raise ValueError("the PDF's dictionary does not end")
        if char == b"/":
            end = _past(_REGULAR, dictionary, position + 1)
            name, position = dictionary[position + 1 : end], end
            key = name if key is None else None  # a name is a key, or the value of one
            continue
        if key is None:
            raise ValueError("the PDF's dictionary has a value without a key")
        if char == b"(":
            raw, position = _literal(dictionary, position + 1)
        elif char == b"<" and not dictionary.startswith(b"<<", position):
            close = dictionary.find(b">", position)
            if close < 0:
                raise ValueError("the PDF's hexadecimal string does not end")
            digits = re.sub(rb"[\x00\t\n\x0c\r ]", b"", dictionary[position + 1 : close])
            raw = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
            position = close + 1
        elif char not in b"<>[]{}()%":
            # A number, a keyword, or a reference ("12 0 R"): one value however many tokens.
            while char and char not in b"/>":
                position = _past(_WHITE, dictionary, max(position + 1, _past(_REGULAR, dictionary, position)))
                char = dictionary[position : position + 1]
            key = None
            continue
        else:
            raise ValueError("the PDF's information dictionary holds an array or a dictionary")
        strings[key] = (
            raw[2:].decode("utf-16-be") if raw.startswith(codecs.BOM_UTF16_BE) else raw.decode("pdfdoc")
        )
        key = None


def _past(pattern: re.Pattern[bytes], data: bytes, position: int) -> int:
    """Where a run of what `pattern` matches (possibly none) that starts at `position` ends."""
    found = pattern.match(data, position)
    return found.end() if found else position


def _literal(data: bytes, position: int) -> tuple[bytes, int]:
    """The bytes of the literal string whose text starts at `position` (after its "("), and
    where it ends (after its ")")."""
    out = bytearray()
    depth = 1
    while True:
        char = data[position : position + 1]
        if not char:
            raise ValueError("the PDF's literal string does not end")
        position += 1
        if char == b"\\":
            following = data[position : position + 1]
            octal = _OCTAL.match(data, position)
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                position = octal.end()
            elif following in (b"\r", b"\n"):  # a line continuation: no character
                position += 2 if data[position : position + 2] == b"\r\n" else 1
            else:
                out += _LITERAL_ESCAPES.get(following, following)
                position += 1
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if depth == 0:
                return bytes(out), position
        out += char


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
    packet = _xmp_template()
    for field in _XMP_FIELDS:
        packet = packet.replace(_marker(field), _xml_text(values[field]))
    return packet.encode("utf-8")


def _marker(field: str) -> str:
    return f"@@xmp-{field}@@"


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
