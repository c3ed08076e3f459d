"""Where an issued invoice's PDF can be fetched: signed, expiring links and the stable address."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from invoicing.models import Invoice
from tenants.models import Tenant

DOWNLOAD_SALT = "invoice-download"


def download_token(invoice: Invoice) -> str:
    return signing.dumps({"t": invoice.tenant_id, "i": invoice.pk}, salt=DOWNLOAD_SALT, compress=True)


def download_link_for(invoice: Invoice, *, base_url: str = "") -> str:
    """Absolute URL that downloads the PDF without a token, until INVOICE_DOWNLOAD_LINK_TTL passes."""
    path = reverse("invoice-download", kwargs={"token": download_token(invoice)})
    base = settings.PUBLIC_BASE_URL or base_url.rstrip("/") or "http://localhost:8000"
    return base + path


def invoice_document_url(invoice: Invoice) -> str:
    """The stable, token-protected address of the PDF, written back onto the order."""
    path = reverse(
        "invoice-document", kwargs={"tenant": invoice.tenant.code, "invoiceNumber": invoice.number}
    )
    return (settings.PUBLIC_BASE_URL or "http://localhost:8000") + path


def issued_invoice(*, tenant: Tenant, number: str) -> Invoice | None:
    return (
        Invoice.objects.filter(tenant=tenant, number=number, status=Invoice.Status.ISSUED)
        .exclude(pdf="")
        .first()
    )


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def invoice_from_download_token(token: str) -> Invoice:
    try:
        data = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.INVOICE_DOWNLOAD_LINK_TTL)
    except signing.SignatureExpired as exc:
        raise LinkExpired from exc
    except signing.BadSignature as exc:
        raise LinkInvalid from exc
    invoice = (
        Invoice.objects.filter(pk=data.get("i"), tenant_id=data.get("t"), status=Invoice.Status.ISSUED)
        .exclude(pdf="")
        .first()
    )
    if invoice is None:
        raise LinkInvalid
    return invoice
