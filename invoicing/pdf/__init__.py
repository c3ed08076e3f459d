"""The invoice as a PDF: `render_invoice_pdf(document) -> bytes`.

- invoice.py: the layout (page one, the line table, totals, notes, page furniture)
- text.py: fonts per script, shaping, bidi and the text layer, for text in any script
- logo.py: the seller's logo, prepared once per process
- epc.py: the EPC QR code ("GiroCode") for a bank transfer
- sRGB.icc: the colour profile of the PDF/A output intent (invoicing.einvoice.pdfa)

What it renders is ready to become PDF/A-3b (invoicing.einvoice.pdfa adds the XMP, the output
intent and the Factur-X XML), so it keeps to what PDF/A allows: every font embedded (the
vendored DejaVu Sans and the script fonts as subsets; no standard-14 font, not even ReportLab's
initial Helvetica, see `initialFontName` and the tables' FONTNAME), /Widths equal to the glyph
advances in the embedded font programs (text.py's private-use codes with their own advance get
a glyph copy with that advance), colours in DeviceRGB/DeviceGray only, no transparency (the
logo's alpha is flattened onto white), no JavaScript, no encryption, /Lang set.
tests/invoicing/einvoice/test_pdfa.py checks the result.

CPU per invoice (issue 14): a process keeps what one invoice shares with the next, none of it
depending on the document but through its content: the fonts, parsed paragraphs
(invoice._paragraph), written numbers and dates (invoice._Printer), ToUnicode entries and the
last font subsets with their deflated form (text._EmbeddedFont, text._SubsetFlate). ReportLab's
C accelerators (the rl-accel package) do its number formatting and string widths. The same document gives the
same bytes whatever was rendered before it (tests/invoicing/test_pdf_caches.py).
"""

from invoicing.pdf.invoice import ELLIPSIS, LIMIT_DESCRIPTION, render_invoice_pdf

__all__ = ["ELLIPSIS", "LIMIT_DESCRIPTION", "render_invoice_pdf"]
