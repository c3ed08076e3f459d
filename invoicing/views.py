"""Signed, expiring PDF downloads (the API's downloadLink of an invoice or a credit note)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase

from core.http_errors import error_json, require_GET
from invoicing.downloads import (
    LinkExpired,
    LinkInvalid,
    credit_note_from_download_token,
    invoice_from_download_token,
)


@require_GET
def invoice_download(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        invoice = invoice_from_download_token(token)
    except LinkExpired:
        return error_json(410, "This download link has expired.", "Poll the job again for a fresh link.")
    except LinkInvalid:
        return error_json(403, "This download link is not valid.")
    return FileResponse(
        invoice.pdf.open("rb"),
        as_attachment=True,
        filename=f"invoice-{invoice.number}.pdf",
        content_type="application/pdf",
    )


@require_GET
def credit_note_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """The signed, expiring link of a credit note's PDF (the API's downloadLink of a credit note)."""
    try:
        credit_note = credit_note_from_download_token(token)
    except LinkExpired:
        return error_json(
            410, "This download link has expired.", "Read the credit note again for a fresh link."
        )
    except LinkInvalid:
        return error_json(403, "This download link is not valid.")
    return FileResponse(
        credit_note.pdf.open("rb"),
        as_attachment=True,
        filename=f"credit-note-{credit_note.number}.pdf",
        content_type="application/pdf",
    )
