"""Text in every script: a font per run of characters, shaped by HarfBuzz, ordered by the
Unicode bidi algorithm, and drawn so that the PDF's text layer gives back the same characters.

ReportLab's own Paragraph covers Latin, Greek and Cyrillic in the vendored DejaVu Sans, and it
stays the fast path for such text. Anything else goes through `TextBlock`:

- Fonts: every character gets the font of its script (Noto Sans Arabic/Hebrew/Thai/Devanagari,
  Droid Sans Fallback for Chinese, IPAGothic for Japanese, NanumGothic for Korean; see FONTS),
  so one line can mix scripts. They are TrueType (glyf outlines: ReportLab embeds nothing else)
  and licensed for embedding; ReportLab embeds the glyphs used as subsets. They come from the
  system's font packages (scripts/ensure-fonts); a missing one is logged and its characters
  fall back to DejaVu Sans, so an invoice never fails for a font.
- Order: the bidi algorithm (UAX #9, python-bidi's implementation) gives each character its
  embedding level; each line's runs are reordered by rule L2, and HarfBuzz shapes each run in its
  direction (Arabic joining, ligatures, marks, Indic reordering).
- Text layer: each run's glyphs are written left to right as drawn (visual order, which PDF
  extractors and viewers turn back into reading order for right-to-left text), the runs of a
  line in the order they were typed, and each glyph's ToUnicode entry is the text it stands
  for. A glyph with no character of its own (an Arabic initial form, a reordered Devanagari
  vowel sign) gets a private-use code whose ToUnicode entry is that text (`_code_for`,
  `_to_unicode_cmap`); one for several right-to-left characters reads back as their
  presentation form ("لا" as U+FEFB, the same text under NFKC).
- Known limits of extraction, not of the page: where a right-to-left line holds a number or a
  Latin word, extractors that order by position (poppler) give the runs in the order they stand
  on the page; stream-order ones (pypdf) give them as typed. ActualText is not used: poppler lays
  its characters out left to right and then reverses the right-to-left ones. Poppler may also
  move a Thai tone mark drawn left of its origin behind the next letter.
"""

from __future__ import annotations

import bisect
import functools
import logging
import os
import re
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uharfbuzz as hb
from bidi import algorithm as uba
from reportlab.lib.colors import Color
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import ShapeData, ShapedStr, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

log = logging.getLogger(__name__)

# --- fonts -------------------------------------------------------------------------------------
VENDORED_DIR = Path(__file__).resolve().parent.parent / "fonts"
# Where Debian/Ubuntu's font packages put the files (scripts/ensure-fonts installs them). Other
# systems name their directories in INVOICE_FONT_DIRS (os.pathsep-separated), searched first.
SYSTEM_DIRS = (
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype/droid",
    "/usr/share/fonts/opentype/ipafont-gothic",
    "/usr/share/fonts/truetype/nanum",
    "/usr/share/fonts/truetype",
    "/usr/local/share/fonts",
)

BASE = "base"


@dataclass(frozen=True)
class FontFiles:
    regular: str
    bold: str | None  # None: drawn from the regular face with a stroke (see _draw_line)
    package: str  # the Debian package that has it (scripts/ensure-fonts)
    license: str


# One entry per script family. Keys are also the names the ReportLab fonts are registered under.
FONTS: dict[str, FontFiles] = {
    BASE: FontFiles("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "(vendored)", "Bitstream Vera / DejaVu"),
    "arabic": FontFiles(
        "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf", "fonts-noto-core", "SIL OFL 1.1"
    ),
    "hebrew": FontFiles(
        "NotoSansHebrew-Regular.ttf", "NotoSansHebrew-Bold.ttf", "fonts-noto-core", "SIL OFL 1.1"
    ),
    "thai": FontFiles("NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf", "fonts-noto-core", "SIL OFL 1.1"),
    "devanagari": FontFiles(
        "NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf", "fonts-noto-core", "SIL OFL 1.1"
    ),
    # Noto Sans CJK is CFF-flavoured (ReportLab cannot embed it): these three are TrueType.
    "zh": FontFiles("DroidSansFallbackFull.ttf", None, "fonts-droid-fallback", "Apache 2.0"),
    "ja": FontFiles("ipag.ttf", None, "fonts-ipafont-gothic", "IPA Font License 1.0"),
    "ko": FontFiles("NanumGothic.ttf", "NanumGothicBold.ttf", "fonts-nanum", "SIL OFL 1.1"),
}
BASE_FONT = "InvoiceDejaVuSans"  # the names ReportLab knows the base faces by (Paragraph styles)
BASE_FONT_BOLD = "InvoiceDejaVuSans-Bold"


def font_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("INVOICE_FONT_DIRS", "").split(os.pathsep) if p]
    return [*extra, VENDORED_DIR, *(Path(p) for p in SYSTEM_DIRS)]


def find_font_file(name: str) -> Path | None:
    for directory in font_dirs():
        path = directory / name
        if path.is_file():
            return path
    return None


class Face:
    """One font file as ReportLab embeds it and HarfBuzz shapes it."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.rl = _EmbeddedFont(name, str(path))
        pdfmetrics.registerFont(self.rl)
        blob = hb.Blob.from_file_path(str(path))
        self.hb = hb.Font(hb.Face(blob))
        self.scale = 1000 / self.hb.face.upem  # font units -> PDF text space (1/1000 em)
        # The font's own characters, before _code_for adds private-use codes to the mapping.
        self.cmap = dict(self.rl.face.charToGlyph)
        self.private_codes: dict[tuple[int, str, int | None], int] = {}  # see _code_for

    def covers(self, char: str) -> bool:
        return ord(char) in self.cmap


_SUBSETS_KEPT = 8  # font files kept per face (~40 KB each with their deflated form)


class _EmbeddedFont(TTFont):
    """ReportLab's TrueType font, whose embedded subsets are compressed by `_SubsetFlate`."""

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename)
        self._flate = _SubsetFlate()
        # A subset is a pure function of its characters (a code, once given a glyph, keeps it),
        # and the bold face's subset is mostly the same from one invoice to the next (labels,
        # totals): the last few font files are kept, and `_SubsetFlate` keeps their deflated form.
        make_subset = self.face.makeSubset
        subset_file = functools.lru_cache(maxsize=_SUBSETS_KEPT)(lambda codes: make_subset(list(codes)))
        self.face.makeSubset = lambda subset: subset_file(tuple(subset))

    def addObjects(self, doc: Any) -> None:
        super().addObjects(doc)
        if doc.compression:
            # TTFontFace.addSubsetObjects registers each subset's font file under this name.
            prefix = f"fontFile:{self.face.filename}("
            for name, obj in doc.idToObject.items():
                if name.startswith(prefix) and obj.filters:
                    obj.filters = [self._flate]


class _SubsetFlate:
    """FlateDecode for the font file of a subset (ISO 32000-1, 7.4.4), keeping the deflated
    form of the last `_SUBSETS_KEPT` font files: the bold face's subset is mostly the same from
    one invoice to the next, and deflating ~36 KB is most of what embedding a subset costs."""

    pdfname = "FlateDecode"

    def __init__(self) -> None:
        self._kept: dict[bytes, bytes] = {}  # font file -> deflated, the last `_SUBSETS_KEPT`
        self._lock = threading.Lock()

    def encode(self, data: bytes) -> bytes:
        deflated = self._kept.get(data)
        if deflated is None:
            deflated = zlib.compress(data)
            with self._lock:
                while len(self._kept) >= _SUBSETS_KEPT:
                    del self._kept[next(iter(self._kept))]  # the oldest
                self._kept[data] = deflated
        return deflated


_faces: dict[tuple[str, bool], Face | None] = {}
_faces_lock = threading.RLock()


def face(key: str, bold: bool = False) -> Face | None:
    """The face for a FONTS key, loaded on first use (a CJK font takes ~0.1 s to parse)."""
    found = _faces.get((key, bold), False)
    if found is not False:
        return found  # type: ignore[return-value]
    with _faces_lock:
        if (key, bold) in _faces:
            return _faces[(key, bold)]
        files = FONTS[key]
        file_name = files.bold if bold else files.regular
        loaded: Face | None = None
        if file_name is None:
            loaded = face(key, bold=False)
        else:
            path = find_font_file(file_name)
            if path is None:
                log.warning(
                    "font %s is missing (Debian package %s, see scripts/ensure-fonts): "
                    "its characters print in the base font",
                    file_name,
                    files.package,
                )
            else:
                name = (BASE_FONT_BOLD if bold else BASE_FONT) if key == BASE else f"Invoice-{key}-{bold:d}"
                loaded = Face(name, path)
        _faces[(key, bold)] = loaded
        return loaded


def base_face(bold: bool = False) -> Face:
    loaded = face(BASE, bold)
    if loaded is None:
        raise RuntimeError(f"the vendored base font is missing from {VENDORED_DIR}")
    return loaded


def has_real_bold(key: str) -> bool:
    return FONTS[key].bold is not None


# --- scripts -----------------------------------------------------------------------------------
# (first, last, script) in code point order; anything else is Latin/Greek/Cyrillic/... (the base
# font) or, by its Unicode category, common (spaces, digits, punctuation) or inherited (marks).
_RANGES = sorted(
    [
        (0x0590, 0x05FF, "hebrew"),
        (0xFB1D, 0xFB4F, "hebrew"),
        (0x0600, 0x06FF, "arabic"),
        (0x0750, 0x077F, "arabic"),
        (0x0870, 0x08FF, "arabic"),
        (0xFB50, 0xFDFF, "arabic"),
        (0xFE70, 0xFEFF, "arabic"),
        (0x0900, 0x097F, "devanagari"),
        (0xA8E0, 0xA8FF, "devanagari"),
        (0x0E00, 0x0E7F, "thai"),
        (0x1100, 0x11FF, "hangul"),
        (0x3130, 0x318F, "hangul"),
        (0xA960, 0xA97F, "hangul"),
        (0xAC00, 0xD7FF, "hangul"),
        (0x3040, 0x30FF, "kana"),
        (0x31F0, 0x31FF, "kana"),
        (0xFF66, 0xFF9F, "kana"),
        (0x2E80, 0x2FDF, "han"),
        (0x3000, 0x303F, "cjk"),  # CJK punctuation: the font of the CJK text around it
        (0x3190, 0x31EF, "han"),
        (0x3200, 0x33FF, "cjk"),
        (0x3400, 0x4DBF, "han"),
        (0x4E00, 0x9FFF, "han"),
        (0xF900, 0xFAFF, "han"),
        (0xFE30, 0xFE4F, "cjk"),
        (0xFF00, 0xFF65, "cjk"),  # full-width forms
        (0xFFE0, 0xFFEF, "cjk"),
        (0x20000, 0x3FFFF, "han"),
    ]
)
_RANGE_STARTS = [r[0] for r in _RANGES]
_CJK = {"han", "kana", "hangul", "cjk"}


def script_of(char: str) -> str:
    cp = ord(char)
    i = bisect.bisect_right(_RANGE_STARTS, cp) - 1
    if i >= 0 and cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    category = unicodedata.category(char)
    if category[0] == "M":
        return "inherited"
    if category[0] in "ZPSN" or category == "Cc":
        return "common"
    return BASE


# Text that needs this module rather than ReportLab's Paragraph: another script, a character
# outside the base font, or bidi controls (which are dropped: shop data must not reorder ours).
_COMPLEX = re.compile(
    "[\u0590-\u08ff\u0900-\u0dff\u0e00-\u0fff\u1100-\u11ff\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2e80-\ua4cf\ua960-\ua97f\ua8e0-\ua8ff\uac00-\ud7ff\uf900-\ufaff\ufb1d-\ufdff\ufe30-\ufe4f"
    "\ufe70-\ufeff\uff00-\uffef\U00010000-\U0010ffff]"
)
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def needs_shaping(text: str) -> bool:
    """True when `text` must go through TextBlock (Paragraph would print boxes or reverse it)."""
    if text.isascii():
        return False
    if _COMPLEX.search(text):
        return True
    cmap = base_face().cmap
    return any(ord(c) not in cmap for c in text if not c.isspace())


def cjk_preference(text: str) -> str:
    """Which CJK font the Han characters of `text` take: kana means Japanese, hangul Korean."""
    if text.isascii():
        return "zh"
    kana = hangul = False
    for char in text:
        if "\u3040" <= char <= "\u30ff" or "\u31f0" <= char <= "\u31ff" or "\uff66" <= char <= "\uff9f":
            kana = True
        elif "\uac00" <= char <= "\ud7ff" or "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f":
            hangul = True
    return "ja" if kana else "ko" if hangul else "zh"


def _candidates(script: str, cjk: str) -> tuple[str, ...]:
    cjk_order = {"ja": ("ja", "zh", "ko"), "ko": ("ko", "zh", "ja"), "zh": ("zh", "ja", "ko")}[cjk]
    if script in ("han", "kana", "cjk"):
        return (*cjk_order, BASE)
    if script == "hangul":
        return ("ko", BASE)
    if script in ("arabic", "hebrew", "thai", "devanagari"):
        return (script, BASE)
    # Latin and the rest: the base font, then whichever font has the character.
    return (BASE, "arabic", "hebrew", "thai", "devanagari", *cjk_order)


_SHAPED_RUNS = ("arabic", "hebrew", "thai", "devanagari")


def _font_keys(text: str, cjk: str) -> list[str]:
    """The FONTS key for each character: its script's font; spaces, digits, punctuation and
    marks stay in the run of an Arabic, Hebrew, Thai or Devanagari font that has them (so the
    run is shaped as one), and otherwise take the base font (the CJK fonts' spaces and Latin
    are full-width or missing)."""
    keys: list[str] = []
    previous: str | None = None
    for char in text:
        script = script_of(char)
        key = None
        if script in ("common", "inherited") and previous is not None:
            loaded = face(previous)
            if (
                (previous in _SHAPED_RUNS or script == "inherited")
                and loaded is not None
                and loaded.covers(char)
            ):
                key = previous
        if key is None:
            key = BASE
            for candidate in _candidates(script if script not in ("common", "inherited") else BASE, cjk):
                loaded = face(candidate)
                if loaded is not None and loaded.covers(char):
                    key = candidate
                    break
        keys.append(key)
        previous = key
    return keys


# --- bidi --------------------------------------------------------------------------------------
_STRONG_RTL = re.compile(
    "[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def bidi_levels(text: str) -> tuple[int, list[int]]:
    """The paragraph's base level (0 LTR, 1 RTL, from its first strong character: UAX #9 P2/P3)
    and each character's resolved embedding level (rules W1-I2)."""
    if not _STRONG_RTL.search(text):
        return 0, [0] * len(text)
    storage = uba.get_empty_storage()
    base = uba.get_base_level(text)
    storage["base_level"] = base
    storage["base_dir"] = ("L", "R")[base]
    uba.get_embedding_levels(text, storage)
    uba.explicit_embed_and_overrides(storage)
    uba.resolve_weak_types(storage)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    return base, [c["level"] for c in storage["chars"]]


def _visual_order(levels: Sequence[int]) -> list[int]:
    """UAX #9 rule L2 over runs: from the highest level down to the lowest odd one, reverse every
    sequence of runs at that level or above. Returns run indices left to right."""
    order = list(range(len(levels)))
    if not levels:
        return order
    odd = [lv for lv in levels if lv % 2]
    if not odd:
        return order
    for level in range(max(levels), min(odd) - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = order[i:j][::-1]
                i = j
            else:
                i += 1
    return order


# --- the text layer ----------------------------------------------------------------------------
# Private-use code points (plane 15, clear of the fonts' own and of ReportLab's BMP ones) for
# glyphs that stand for text other than their nominal character. They never reach the PDF: the
# subset's codes are assigned per document, and its ToUnicode maps them to the text.
_PUA_FIRST, _PUA_LAST = 0xF0000, 0x10FFFD
_pua_text: dict[int, str] = {}  # every face's private codes: what each reads back as
_pua_lock = threading.Lock()


def _code_for(font: Face, gid: int, text: str, width: int | None = None) -> int:
    """The character code that draws glyph `gid` of `font` and reads back as `text`; with
    `width`, one whose advance in the PDF is `width` (1/1000 em) rather than the glyph's own."""
    if width is None and len(text) == 1 and font.cmap.get(ord(text)) == gid:
        return ord(text)  # the usual case: the glyph of that very character
    key = (gid, text, width)
    code = font.private_codes.get(key)
    if code is not None:
        return code
    with _pua_lock:
        code = font.private_codes.get(key)
        if code is None:
            code = _PUA_FIRST + len(_pua_text)
            if code > _PUA_LAST:  # ~130,000 distinct glyph readings in one process: not expected
                return ord(text[0]) if text else 0x20
            face_ = font.rl.face
            if width is None:
                face_.charToGlyph[code] = gid
                face_.charWidths[code] = font.hb.get_glyph_h_advance(gid) * font.scale
            else:
                # PDF/A (ISO 19005-3, 6.2.11.5): a code's /Widths entry must be the advance its
                # glyph has in the embedded font program, so the code gets a copy of the glyph
                # whose advance in the subset is `width`.
                units = round(width / font.scale)
                face_.charToGlyph[code] = _glyph_copy(face_, gid, units)
                face_.charWidths[code] = units * font.scale
            _pua_text[code] = text
            font.private_codes[key] = code
    return code


def _glyph_copy(face_: Any, gid: int, advance: int) -> int:
    """A glyph index standing for a copy of glyph `gid` whose advance is `advance` font units.

    The index is past the font's own glyphs; ReportLab's subsetter (TTFontFile.makeSubset) takes
    a glyph's outline from glyphPos[index] to glyphPos[index + 1] and its metrics from
    hmetrics[index], so the copy gets both entries and every subset that uses the code embeds
    the outline once more with that advance. Called under _pua_lock.
    """
    index = len(face_.glyphPos)
    face_.glyphPos.extend([face_.glyphPos[gid], face_.glyphPos[gid + 1]])
    metrics = face_.hmetrics
    metrics.extend([metrics[gid]] * (index - len(metrics)))  # fillers, never referenced
    metrics.append((advance, metrics[gid][1]))  # the glyph's left side bearing, the new advance
    return index


# Arabic and Hebrew presentation forms by the text they stand for ("لا" -> U+FEFB). A glyph for
# several right-to-left characters reads back as that one character: extractors disagree on the
# order of several characters behind one right-to-left glyph, and NFKC gives the letters back.
_PRESENTATION: dict[str, str] = {}
for _cp in [*range(0xFB1D, 0xFB50), *range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFF)]:
    _decomposed = unicodedata.normalize("NFKC", chr(_cp))
    if len(_decomposed) > 1 and not _decomposed.startswith(" "):
        _PRESENTATION.setdefault(_decomposed, chr(_cp))


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


_unicode_entries: dict[int, str] = {}  # code point -> its ToUnicode destination, "<0041>"


def _unicode_entry(value: int) -> str:
    """The ToUnicode destination of a subset's character: the text a private-use code stands
    for, else the character itself. Kept per process: a private code's text never changes, and
    a document writes the same ~100 characters as the one before."""
    entry = _unicode_entries.get(value)
    if entry is None:
        entry = _unicode_entries[value] = f"<{_utf16_hex(_pua_text.get(value, chr(value)))}>"
    return entry


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """ReportLab's makeToUnicodeCMap, plus: private-use codes map to the text they stand for,
    characters beyond U+FFFF are written as UTF-16 surrogate pairs (ReportLab writes 5 hex
    digits, which readers drop), and blocks keep to the 100 entries the PDF spec allows."""
    entries = []
    for code, value in enumerate(subset):
        if code == 0 and value == 0:
            continue  # .notdef: no text
        entries.append(f"<{code:02X}> {_unicode_entry(value)}")
    blocks = []
    for i in range(0, len(entries), 100):
        chunk = entries[i : i + 100]
        blocks += [f"{len(chunk)} beginbfchar", *chunk, "endbfchar"]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            f"/CIDSystemInfo << /Registry ({fontname}) /Ordering ({fontname}) /Supplement 0 >> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            *blocks,
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


def install() -> None:
    """Once per process, before the first render (idempotent)."""
    # TTFont.addObjects looks the function up in its module when it writes each subset.
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap


# --- shaping -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Glyph:
    code: int
    x_advance: float  # 1/1000 em
    x_offset: float
    y_offset: float
    width: float  # the advance the PDF's /Widths give the code


@dataclass(frozen=True)
class Run:
    """Glyphs of one face in one direction, left to right as drawn."""

    face: Face
    key: str
    glyphs: tuple[Glyph, ...]
    advance: float  # 1/1000 em
    logical: int = 0  # the run's place in the typed text (runs are kept in visual order)


def _shape(font: Face, text: str, rtl: bool, language: str) -> tuple[list[Any], list[Any]]:
    buf = hb.Buffer()
    buf.add_str(text)
    buf.direction = "rtl" if rtl else "ltr"
    buf.language = language  # fixed, so HarfBuzz does not take the process locale's
    buf.guess_segment_properties()
    hb.shape(font.hb, buf)
    return buf.glyph_infos, buf.glyph_positions


def _pieces(text: str, advances: Sequence[float]) -> list[str]:
    """A cluster's text spread over its glyphs (in the order they are written): one character
    each, the last taking what is left. With more glyphs than characters (Thai sara am is drawn
    as two), the glyphs that advance carry the characters and the marks read as nothing: an
    extractor reads an advancing glyph without text as a word gap."""
    count = len(advances)
    if count <= 1:
        return [text]
    if count <= len(text):
        return [*text[: count - 1], text[count - 1 :]]
    ranked = sorted(range(count), key=lambda i: advances[i] == 0)  # stable: advancing glyphs first
    pieces = [""] * count
    for char, index in zip(text, sorted(ranked[: len(text)]), strict=False):
        pieces[index] = char
    return pieces


_GAP = 100  # 1/1000 em: a move to the right this long is kerning, not a gap


def _pdf_width(font: Face, code: int) -> float:
    return font.rl.face.getCharWidth(code)


def shape_run(font: Face, key: str, text: str, rtl: bool, logical: int = 0) -> Run:
    """`text` set in `font` (the FONTS entry `key`) in one direction, as glyphs left to right."""
    infos, positions = _shape(font, text, rtl, _language_for(key))
    # Cluster boundaries in logical order: a cluster runs to the next cluster's start.
    starts = sorted({info.cluster for info in infos})
    ends = {start: (starts[i + 1] if i + 1 < len(starts) else len(text)) for i, start in enumerate(starts)}
    # Group the glyphs (in visual order) by cluster, keeping their order.
    groups: list[list[int]] = []
    for i, info in enumerate(infos):
        if groups and infos[groups[-1][0]].cluster == info.cluster:
            groups[-1].append(i)
        else:
            groups.append([i])
    glyphs: list[Glyph] = []
    advance = 0.0
    scale = font.scale
    for group in groups:
        cluster = infos[group[0]].cluster
        cluster_text = text[cluster : ends[cluster]]
        # Right-to-left glyphs are written right to left (visual order) and extractors reverse
        # what they read back: the cluster's characters go to its glyphs in that order too.
        advances = [positions[i].x_advance for i in group]
        pieces = _pieces(cluster_text[::-1] if rtl else cluster_text, advances)
        for index, piece in zip(group, pieces, strict=True):
            if rtl and len(piece) > 1:
                piece = _PRESENTATION.get(piece[::-1], piece[::-1])
            gid = infos[index].codepoint
            pos = positions[index]
            x_advance, x_offset = pos.x_advance * scale, pos.x_offset * scale
            code = _code_for(font, gid, piece)
            # ReportLab moves the pen back after a glyph drawn off its origin (a mark placed over
            # the letter before it). A move to the right reads as a word gap to extractors
            # ("कं पनी"), so such a glyph (and one loosened by more than kerning does) gets a
            # code whose PDF width lands the pen where it must.
            move = _pdf_width(font, code) - x_advance + x_offset
            if (move < -_GAP or (x_offset and move < 0)) and x_advance - x_offset > 0:
                code = _code_for(font, gid, piece, width=round(x_advance - x_offset))
            glyphs.append(
                Glyph(
                    code=code,
                    x_advance=x_advance,
                    x_offset=x_offset,
                    y_offset=pos.y_offset * scale,
                    width=_pdf_width(font, code),
                )
            )
            advance += x_advance
    return Run(font, key, tuple(glyphs), advance, logical)


# --- lines -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    runs: tuple[Run, ...]
    width: float  # points


@dataclass
class _Paragraph:
    """One logical line of input, analysed once: fonts, levels, character advances."""

    text: str
    keys: list[str]  # the FONTS entry of each character
    levels: list[int]  # the bidi embedding level of each character
    advances: list[float]  # points per character (a cluster's advance on its first character)
    boundaries: list[bool]  # True where a line may be cut inside a word (a cluster starts)
    bold: bool
    size: float


def _segments(keys: Sequence[str], levels: Sequence[int], start: int, end: int) -> list[tuple[int, int]]:
    """Maximal [a, b) ranges of one font and one level."""
    out: list[tuple[int, int]] = []
    a = start
    for i in range(start + 1, end + 1):
        if i == end or keys[i] != keys[a] or levels[i] != levels[a]:
            out.append((a, i))
            a = i
    return out


def _language_for(key: str) -> str:
    return key if key in ("ja", "ko", "zh") else "und"


def _analyse(text: str, size: float, bold: bool, cjk: str) -> _Paragraph:
    text = text.translate(_BIDI_CONTROLS)
    keys = _font_keys(text, cjk)
    _base, levels = bidi_levels(text)
    advances = [0.0] * len(text)
    boundaries = [True] * len(text)
    for a, b in _segments(keys, levels, 0, len(text)):
        font = _face_for(keys[a], bold)
        infos, positions = _shape(font, text[a:b], levels[a] % 2 == 1, _language_for(keys[a]))
        clusters = {info.cluster for info in infos}
        for i in range(a, b):
            boundaries[i] = (i - a) in clusters
        for info, pos in zip(infos, positions, strict=True):
            advances[a + info.cluster] += pos.x_advance * font.scale * size / 1000
    return _Paragraph(text, keys, levels, advances, boundaries, bold, size)


def _face_for(key: str, bold: bool) -> Face:
    return face(key, bold) or face(key) or base_face(bold)


# Kinsoku (JIS X 4051, simplified): no line starts with closing punctuation, a prolonged sound
# mark or a small kana, and none ends with opening punctuation. Escapes, as full-width
# punctuation is easily mistaken for ASCII.
_NO_BREAK_BEFORE = set(
    ",.:;!?)]}\u3001\u3002\u300d\u300f\u3009\u300b\u3011\u3015\uff0c\uff0e\uff09\uff01\uff1f\uff1a\uff1b"
    "\u30fc\u309d\u309e\u3005\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e"
    "\u30a1\u30a3\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30f5\u30f6"
)
_NO_BREAK_AFTER = set("([{\u300c\u300e\u3008\u300a\u3010\u3014\uff08")


def _break_opportunities(text: str) -> list[bool]:
    """ok[i]: a line may start at i (UAX #14, simplified: after spaces, and between CJK
    characters except before closing and after opening punctuation)."""
    ok = [False] * len(text)
    for i in range(1, len(text)):
        before, after = text[i - 1], text[i]
        if after.isspace():
            continue
        cjk = script_of(before) in ("han", "kana", "cjk") or script_of(after) in ("han", "kana", "cjk")
        if before.isspace() or (cjk and after not in _NO_BREAK_BEFORE and before not in _NO_BREAK_AFTER):
            ok[i] = True
    return ok


def _break_lines(p: _Paragraph, width: float) -> list[tuple[int, int]]:
    """Greedy line breaking into [start, end) ranges (trailing spaces left out); a word wider
    than the line is cut between clusters, like Paragraph's splitLongWords."""
    text = p.text
    n = len(text)
    ok = _break_opportunities(text)
    lines: list[tuple[int, int]] = []
    start = 0
    while start < n:
        while start < n and text[start].isspace():
            start += 1
        if start >= n:
            break
        used = 0.0
        last_break = -1
        i = start
        while i < n:
            if i > start and ok[i]:
                last_break = i
            used += p.advances[i]
            if used > width and i > start and not text[i].isspace():
                break
            i += 1
        if i >= n:
            lines.append((start, n))
            break
        if last_break > start:
            end = last_break
        else:
            end = i
            while end > start + 1 and not p.boundaries[end]:
                end -= 1
        lines.append((start, end))
        start = end
    return [(a, _rstrip(text, a, b)) for a, b in lines] or [(0, 0)]


def _rstrip(text: str, a: int, b: int) -> int:
    while b > a and text[b - 1].isspace():
        b -= 1
    return b


def _spaces_apart(text: str, levels: Sequence[int], segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Right-to-left segments with their trailing spaces as segments of their own. Runs are
    written in typed order and a right-to-left run's glyphs right to left, so a space that ends
    one would be written first, before its letters: stream-order readers (pypdf) then read the
    space before the word and none between it and the next run ("إسبريسو2000")."""
    out: list[tuple[int, int]] = []
    for a, b in segments:
        cut = _rstrip(text, a, b)
        if levels[a] % 2 and a < cut < b:
            out += [(a, cut), (cut, b)]
        else:
            out.append((a, b))
    return out


def _line(p: _Paragraph, start: int, end: int) -> Line:
    segments = _spaces_apart(p.text, p.levels, _segments(p.keys, p.levels, start, end)) if end > start else []
    order = _visual_order([p.levels[a] for a, _ in segments])
    runs = []
    for index in order:
        a, b = segments[index]
        key = p.keys[a]
        runs.append(shape_run(_face_for(key, p.bold), key, p.text[a:b], p.levels[a] % 2 == 1, index))
    return Line(tuple(runs), sum(r.advance for r in runs) * p.size / 1000)


def layout(text: str, width: float, size: float, bold: bool = False, cjk: str = "") -> list[Line]:
    """`text` broken into lines at most `width` points long. `cjk` picks the font for Han
    characters (see cjk_preference); by default `text`'s own."""
    p = _analyse(text, size, bold, cjk or cjk_preference(text))
    return [_line(p, a, b) for a, b in _break_lines(p, width)]


def layout_line(text: str, size: float, bold: bool = False) -> Line:
    """`text` on one line, however long."""
    p = _analyse(text, size, bold, cjk_preference(text))
    return _line(p, 0, _rstrip(p.text, 0, len(p.text)))


def draw_line(canvas: Canvas, line: Line, x: float, y: float, size: float, bold: bool, color: Color) -> None:
    """Draws `line` with its left end at x and its baseline at y."""
    if not line.runs:
        return
    text = canvas.beginText(x, y)
    pens = []
    pen = x
    for run in line.runs:
        pens.append(pen)
        pen += run.advance * size / 1000
    # Placed left to right, written in typed order: stream-order readers (pypdf, screen readers)
    # meet a right-to-left line's runs in reading order.
    for pen, run in sorted(zip(pens, line.runs, strict=True), key=lambda item: item[1].logical):
        # A face without a bold cut (the CJK ones) is emboldened with a thin outline stroke.
        fake_bold = bold and not has_real_bold(run.key)
        text.setFont(run.face.name, size)
        text.setTextOrigin(pen, y)
        if fake_bold:
            text.setTextRenderMode(2)
        shaped = ShapedStr(
            "".join(chr(g.code) for g in run.glyphs),
            shapeData=[ShapeData(0, g.x_advance, 0, g.x_offset, g.y_offset, g.width) for g in run.glyphs],
        )
        text.textOut(shaped)
        if fake_bold:
            text.setTextRenderMode(0)
    canvas.saveState()
    canvas.setFillColor(color)
    canvas.setStrokeColor(color)
    canvas.setLineWidth(size * 0.04)  # the stroke of a drawn-bold face
    canvas.drawText(text)
    canvas.restoreState()


# --- a flowable --------------------------------------------------------------------------------
class TextBlock(Flowable):
    """Lines of text as a Paragraph would set them (same style, leading, first baseline, line
    breaking, alignment), for text in any script. Lines in `bold_lines` are set bold."""

    def __init__(self, lines: Iterable[str], style: ParagraphStyle, bold_lines: Iterable[int] = ()) -> None:
        super().__init__()
        self.lines = list(lines)
        self.style = style
        self.bold_lines = set(bold_lines)
        self._laid_out: tuple[float, list[tuple[Line, bool]]] | None = None

    def _bold(self, index: int) -> bool:
        return index in self.bold_lines or self.style.fontName.endswith("Bold")

    def _layout(self, width: float) -> list[tuple[Line, bool]]:
        if self._laid_out is None or self._laid_out[0] != width:
            size = self.style.fontSize
            # One choice of Han font for the block: an address's kana line makes its lines Japanese.
            cjk = cjk_preference(" ".join(self.lines))
            out = []
            for index, text in enumerate(self.lines):
                bold = self._bold(index)
                out += [(line, bold) for line in layout(text, width, size, bold, cjk)]
            self._laid_out = (width, out)
        return self._laid_out[1]

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = len(self._layout(available_width)) * self.style.leading
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        return []  # short texts only (names, addresses, descriptions): they move whole

    def draw(self) -> None:
        style = self.style
        canvas = self.canv
        y = self.height - style.fontSize  # Paragraph's first baseline
        for line, bold in self._layout(self.width):
            if style.alignment == TA_RIGHT:
                x = self.width - line.width
            elif style.alignment == TA_CENTER:
                x = (self.width - line.width) / 2
            else:
                x = 0
            draw_line(canvas, line, x, y, style.fontSize, bold, style.textColor)
            y -= style.leading


def text_width(text: str, size: float, bold: bool = False) -> float:
    if not needs_shaping(text):
        return pdfmetrics.stringWidth(text, BASE_FONT_BOLD if bold else BASE_FONT, size)
    return layout_line(text, size, bold).width


def draw_string(
    canvas: Canvas, x: float, y: float, text: str, size: float, color: Color, right: bool = False
) -> None:
    """canvas.drawString (or, with `right`, drawRightString) for text in any script."""
    if not needs_shaping(text):
        canvas.saveState()
        canvas.setFillColor(color)
        canvas.setFont(BASE_FONT, size)
        (canvas.drawRightString if right else canvas.drawString)(x, y, text)
        canvas.restoreState()
        return
    line = layout_line(text, size)
    draw_line(canvas, line, x - line.width if right else x, y, size, False, color)
