"""Signed, expiring PDF downloads (the API's downloadLink)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponseBase

from core.http_errors import error_json, require_GET
from invoicing.downloads import LinkExpired, LinkInvalid, invoice_from_download_token


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
