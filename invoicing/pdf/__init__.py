"""The invoice as a PDF: `render_invoice_pdf(document) -> bytes`.

- invoice.py: the layout (page one, the line table, totals, notes, page furniture)
- text.py: fonts per script, shaping, bidi and the text layer, for text in any script
- logo.py: the seller's logo, prepared once per process
- epc.py: the EPC QR code ("GiroCode") for a bank transfer
"""

from invoicing.pdf.invoice import ELLIPSIS, LIMIT_DESCRIPTION, render_invoice_pdf

__all__ = ["ELLIPSIS", "LIMIT_DESCRIPTION", "render_invoice_pdf"]
