"""GET /invoice/{tenant}/invoices/{invoiceNumber}/einvoice?format=F: an issued invoice as EN 16931 XML.

The scopes, the tenant check and the 404 of the PDF document endpoint (jobs.api.views
.InvoiceDocumentView), whose stable address sits next to this one. The XML comes from
invoicing.downloads.invoice_einvoice_xml, which the console's downloads use too: for `facturx`
the very factur-x.xml embedded in the stored PDF/A-3, for the other syntaxes the invoice's stored
document built again (the builders are deterministic).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from core.http_errors import ApiError
from integrations.mapper import order_id_problem
from invoicing import downloads
from invoicing.einvoice import FORMATS
from jobs.api.views import (
    MANAGE,
    READ,
    TENANT_PARAM,
    ErrorResponseSerializer,
    OwnFormatParameterNegotiation,
    TenantAPIView,
)

# No format name is longer: a longer value is not echoed back in the error message.
MAX_FORMAT_LENGTH = 32


def format_from_query(request: Request) -> str:
    """The one `format` of the query, one of invoicing.einvoice.FORMATS, or a 400 ErrorResponse."""
    expected = "format must be one of: " + ", ".join(FORMATS) + "."
    values = request.query_params.getlist("format")
    if not values:
        raise ApiError(400, "The query parameter format is required.", expected)
    if len(values) > 1:
        raise ApiError(400, "The query parameter format is given more than once.", expected)
    fmt = values[0]
    if fmt not in FORMATS:
        shown = repr(fmt) if len(fmt) <= MAX_FORMAT_LENGTH and fmt.isprintable() else "given"
        raise ApiError(400, f"Unknown e-invoice format {shown}.", expected)
    return fmt


FORMAT_PARAM = OpenApiParameter(
    "format",
    {"type": "string", "enum": list(FORMATS)},
    OpenApiParameter.QUERY,
    required=True,
    description=(
        "facturx: the EN 16931 CII embedded in the invoice PDF (Factur-X 1.07 / ZUGFeRD 2.3, profile "
        "EN 16931); xrechnung-cii, xrechnung-ubl: XRechnung 3.0, the German CIUS, in CII or UBL; "
        "peppol-bis: Peppol BIS Billing 3.0 (UBL)."
    ),
)


class InvoiceEInvoiceView(TenantAPIView):
    """GET /invoice/{tenant}/invoices/{invoiceNumber}/einvoice?format=F: the issued invoice as XML."""

    required_scopes = {"GET": {MANAGE, READ}}  # the PDF document endpoint's
    content_negotiation_class = OwnFormatParameterNegotiation

    @extend_schema(
        operation_id="GET-invoice-einvoice",
        summary="Downloading an issued invoice as an EN 16931 e-invoice (Factur-X CII, XRechnung, Peppol BIS)",
        description=(
            "The same invoice as the PDF document, as XML in the syntax that `format` names. "
            "`facturx` answers the exact `factur-x.xml` embedded in the PDF/A-3 the customer received."
        ),
        tags=["Invoices"],
        parameters=[
            TENANT_PARAM,
            OpenApiParameter(
                "invoiceNumber",
                {"type": "string", "maxLength": 100},
                OpenApiParameter.PATH,
                description="The number of an issued invoice.",
            ),
            FORMAT_PARAM,
        ],
        responses={
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR,
                description=(
                    "The e-invoice, UTF-8 XML, as an attachment named `<invoiceNumber>-<format>.xml`: "
                    "rsm:CrossIndustryInvoice (facturx, xrechnung-cii) or a UBL Invoice "
                    "(xrechnung-ubl, peppol-bis)."
                ),
            ),
            400: OpenApiResponse(ErrorResponseSerializer, description="format is missing or unknown."),
            401: ErrorResponseSerializer,
            403: ErrorResponseSerializer,
            404: OpenApiResponse(
                ErrorResponseSerializer, description="No issued invoice of this tenant has this number."
            ),
            500: ErrorResponseSerializer,
        },
    )
    def get(self, request: Request, tenant: str, invoiceNumber: str) -> HttpResponse:
        fmt = format_from_query(request)
        # As the PDF endpoint: no invoice number is longer or has control characters.
        if order_id_problem(invoiceNumber) or len(invoiceNumber) > 100:
            raise ApiError(404, "Invoice not found.")
        invoice = downloads.issued_invoice(tenant=self.tenant, number=invoiceNumber)
        if invoice is None:
            raise ApiError(404, f"Invoice {invoiceNumber} not found.")
        return xml_attachment(
            downloads.invoice_einvoice_xml(invoice, fmt), downloads.einvoice_filename(invoice, fmt)
        )


def xml_attachment(xml: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(xml, content_type=downloads.EINVOICE_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
