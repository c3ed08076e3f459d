"""The seller's logo, prepared once per process and shared by all renders."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict

from PIL import Image as PILImage
from PIL import ImageOps
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable

log = logging.getLogger(__name__)


LOGO_BOX = (55 * mm, 22 * mm)  # the logo is scaled to fit, keeping its aspect ratio
# ~330 dpi at the largest size the logo is drawn: sharp in print, small in the PDF, fast to hash.
_LOGO_MAX_PIXELS = (720, 288)
_LOGO_SOURCE_PIXEL_LIMIT = 40_000_000  # refuse to decode absurd images (decompression bombs)
_LOGO_CACHE_SIZE = 32


class LogoReader(ImageReader):
    """A logo ready to embed, shared by all renders in the process (and their threads).

    ReportLab embeds JPEG bytes as they are but zlib-compresses the raw pixels of any other
    format on every render (~40 ms for a typical PNG logo), so every logo is turned into a
    small JPEG once. `canvas.drawImage` also hashes the decoded pixels on every render to name
    the image; decoding them here, once, keeps that to a hash.
    """

    def __init__(self, jpeg: bytes) -> None:
        image = PILImage.open(io.BytesIO(jpeg))
        image.load()
        super().__init__(image)
        self._jpeg = jpeg
        self.getSize()
        self.getRGBData()

    def jpeg_fh(self) -> io.BytesIO:
        # A new handle per call: two renders in two threads must not share a file position.
        return io.BytesIO(self._jpeg)


class LogoFlowable(Flowable):
    def __init__(self, reader: LogoReader) -> None:
        super().__init__()
        pixels_w, pixels_h = reader.getSize()
        box_w, box_h = LOGO_BOX
        scale = min(box_w / pixels_w, box_h / pixels_h)
        self.reader = reader
        self.width, self.height = pixels_w * scale, pixels_h * scale

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.drawImage(self.reader, 0, 0, self.width, self.height)


_logo_cache: OrderedDict[bytes, LogoReader | None] = OrderedDict()
_logo_cache_lock = threading.Lock()


def _prepare_logo(data: bytes) -> LogoReader:
    with PILImage.open(io.BytesIO(data)) as source:
        if source.width * source.height > _LOGO_SOURCE_PIXEL_LIMIT:
            raise ValueError(f"logo too large: {source.width}x{source.height} pixels")
        image = ImageOps.exif_transpose(source)  # a loaded copy, upright as the uploader saw it
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if transparent else "RGB")
    image.thumbnail(_LOGO_MAX_PIXELS, PILImage.Resampling.LANCZOS)
    if transparent:
        # JPEG has no alpha: flatten onto white, which is what the page is.
        flat = PILImage.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    out = io.BytesIO()
    # 4:4:4 chroma keeps the edges of coloured lettering crisp, which logos are mostly made of.
    image.save(out, format="JPEG", quality=90, subsampling=0, optimize=True)
    return LogoReader(out.getvalue())


def logo_reader(data: bytes | None) -> LogoReader | None:
    if not data:
        return None
    key = hashlib.sha256(data).digest()
    with _logo_cache_lock:
        if key in _logo_cache:
            _logo_cache.move_to_end(key)
            return _logo_cache[key]
    logo: LogoReader | None
    try:
        logo = _prepare_logo(data)
    except Exception:
        # Pillow raises a zoo of types for bad input (OSError, SyntaxError, ValueError,
        # DecompressionBombError, ...). A broken logo must never cost the customer the invoice.
        log.warning("invoice logo cannot be decoded, rendering without it", exc_info=True)
        logo = None
    with _logo_cache_lock:
        _logo_cache[key] = logo  # failures too, so a bad upload is not decoded on every render
        while len(_logo_cache) > _LOGO_CACHE_SIZE:
            _logo_cache.popitem(last=False)
    return logo
