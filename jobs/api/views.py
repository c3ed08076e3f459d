"""The REST API: exactly the contract's two job endpoints, plus the local order store.

Views are thin: check the request, call one service or selector, serialize. They catch no
errors: a DomainError (core.errors) raised anywhere below is answered by the one exception
handler (core.http_errors.exception_handler) with its status, message and field errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http_errors import UPSTREAM_FAILURE, ApiError
from integrations.mapper import order_id_problem
from integrations.services import (
    configuration_entry,
    configuration_json,
    configuration_set,
    stored_customer_upsert,
    stored_legal_entity_upsert,
)
from invoicing import downloads
from invoicing.order_store import stored_order_upsert
from jobs import selectors
from jobs.api.auth import TenantScopePermission
from jobs.api.parsers import BoundedJSONParser
from jobs.automatic import SETTINGS_KEY, invoice_settings_parse, job_create_automatic
from jobs.models import InvoiceJob
from jobs.services import job_create_manual
from tenants.models import Tenant

MANAGE = settings.SCOPE_INVOICE_MANAGE
READ = settings.SCOPE_INVOICE_READ
ORDER_MANAGE = settings.SCOPE_ORDER_MANAGE


# --- schema-only serializers (drf-spectacular); requests are checked by hand for exact messages ---
class ErrorResponseSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="A descriptive error message for debugging.")
    code = serializers.CharField(help_text="Original HTTP error code, as a string.")
    detailInfo = serializers.CharField(help_text="More details about the error (if available).")


@extend_schema_serializer(component_name="Job")  # the request component is then "JobRequest"
class JobRequestSerializer(serializers.Serializer):
    orderIds = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Order IDs to invoice (MANUAL jobs)."
    )
    jobType = serializers.ChoiceField(choices=["AUTOMATIC", "MANUAL"])


class JobCreationResponseSerializer(serializers.Serializer):
    jobId = serializers.CharField(help_text="The created job ID.")


class JobOrderResultSerializer(serializers.Serializer):
    orderId = serializers.CharField(required=False)
    orderStatus = serializers.ChoiceField(choices=["SUCCESS", "FAILURE", "PENDING"], required=False)
    message = serializers.CharField(required=False)
    downloadLink = serializers.CharField(required=False, help_text="URL to the generated invoice PDF.")
    invoiceNumber = serializers.CharField(required=False)


class JobStatusResponseSerializer(serializers.Serializer):
    jobStatus = serializers.ChoiceField(choices=["DONE", "IN_PROGRESS"], required=False)
    # not a second enum: drf-spectacular would warn about two names for one choice set
    status = serializers.CharField(
        required=False, help_text="The jobStatus again (the published sample's name)."
    )
    jobType = serializers.ChoiceField(choices=["AUTOMATIC", "MANUAL"], required=False)
    orders = JobOrderResultSerializer(many=True, required=False)


class StoredOrderResponseSerializer(serializers.Serializer):
    orderId = serializers.CharField()
    created = serializers.BooleanField(help_text="true: a new order (201); false: an update (200).")


class StoredLegalEntityResponseSerializer(serializers.Serializer):
    legalEntityId = serializers.CharField()
    created = serializers.BooleanField(help_text="true: a new legal entity (201); false: an update (200).")


class StoredCustomerResponseSerializer(serializers.Serializer):
    customerNumber = serializers.CharField()
    created = serializers.BooleanField(help_text="true: a new customer (201); false: an update (200).")


TENANT_PARAM = OpenApiParameter(
    "tenant",
    {"type": "string", "pattern": "^[a-z][a-z0-9]+$", "minLength": 3, "maxLength": 16},
    OpenApiParameter.PATH,
    description="The tenant that the caller is acting upon (lowercase).",
)
JOB_ID_PARAM = OpenApiParameter(
    "jobId", str, OpenApiParameter.PATH, description="Unique identifier of an invoice job."
)
ERRORS = {code: ErrorResponseSerializer for code in (400, 401, 403, 404, 415, 500)}


class TenantTokenScheme(OpenApiAuthenticationExtension):
    """Documents the bearer token: OAuth2 client credentials from POST /oauth/token, with scopes."""

    target_class = "jobs.api.auth.TenantTokenAuthentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scopes = settings.OAUTH2_PROVIDER["SCOPES"]
        return {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": scopes}},
        }

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        # Any one of the view's scopes suffices: one alternative per scope.
        needed = getattr(auto_schema.view, "required_scopes", {}).get(auto_schema.method, set())
        return [{self.name: [scope]} for scope in sorted(needed)] or [{self.name: []}]


class OwnFormatParameterNegotiation(DefaultContentNegotiation):
    """For the document endpoints (the PDF, the e-invoice XML): `format` is the endpoint's own query
    parameter, not DRF's renderer override (which would answer 404 for `?format=facturx`), and any
    Accept header is served (DRF would answer 406 to `Accept: application/pdf`): the answer is the
    document, or an ErrorResponse in JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


class TenantAPIView(APIView):
    # It checks the path's tenant against the token before anything else: every foreign code,
    # malformed or not, is the same 403, so no answer tells which tenant codes exist.
    permission_classes = [TenantScopePermission]
    required_scopes: dict[str, set[str]] = {}
    # What the view could not do when a service it calls fails (TransientError: 503 "…; try again
    # later.", PermanentError: 502); the service's own message is the detailInfo.
    upstream_failure = UPSTREAM_FAILURE

    @property
    def tenant(self) -> Tenant:
        return self.request.tenant  # type: ignore[attr-defined]

    def json_object(self, request: Request) -> dict[str, Any]:
        data = request.data
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return data


def parse_job_request(data: dict[str, Any]) -> tuple[str, list[str]]:
    job_type = data.get("jobType")
    if job_type is None:
        raise ApiError(400, "jobType is required.", "jobType must be MANUAL or AUTOMATIC.")
    if job_type not in ("MANUAL", "AUTOMATIC"):
        raise ApiError(400, f"Unknown jobType {job_type!r}.", "jobType must be MANUAL or AUTOMATIC.")
    order_ids = data.get("orderIds")
    if job_type == "AUTOMATIC":
        if order_ids is not None:
            raise ApiError(
                400,
                "orderIds must not be given for an AUTOMATIC job.",
                "AUTOMATIC jobs find their orders themselves.",
            )
        return job_type, []
    if order_ids is None:
        raise ApiError(400, "orderIds is required for a MANUAL job.")
    if not isinstance(order_ids, list):
        raise ApiError(400, "orderIds must be an array of order ids.")
    if not order_ids:
        raise ApiError(400, "orderIds must not be empty.")
    limit = settings.INVOICE_MAX_ORDER_IDS
    if len(order_ids) > limit:
        raise ApiError(400, f"Too many orderIds: {len(order_ids)} given, at most {limit} per job.")
    # order_id_problem: not empty, at most 255 characters, not "." or "..", no control characters
    bad = [
        f"orderIds[{i}]"
        for i, value in enumerate(order_ids)
        if not isinstance(value, str) or order_id_problem(value.strip()) is not None
    ]
    if bad:
        raise ApiError(
            400,
            "Every order id must be a non-empty string (at most 255 characters, "
            "not '.' or '..', without control characters).",
            "Invalid: " + ", ".join(bad[:20]) + (" …" if len(bad) > 20 else ""),
        )
    return job_type, [value.strip() for value in order_ids]


class JobCollectionView(TenantAPIView):
    required_scopes = {"POST": {MANAGE}}
    parser_classes = [BoundedJSONParser]
    # An AUTOMATIC job reads the tenant's invoiceSettings (for Emporix tenants, a service call).
    upstream_failure = "The invoiceSettings could not be read"

    @extend_schema(
        operation_id="POST-invoice-create-job",
        summary="Creating a job that starts an invoice creation",
        tags=["Invoice Jobs"],
        parameters=[TENANT_PARAM],
        request=JobRequestSerializer,
        responses={201: JobCreationResponseSerializer, **ERRORS},
    )
    def post(self, request: Request, tenant: str) -> Response:
        job_type, order_ids = parse_job_request(self.json_object(request))
        if job_type == InvoiceJob.Type.AUTOMATIC:
            job = job_create_automatic(tenant=self.tenant, requested_by=str(request.user))
        else:
            job = job_create_manual(tenant=self.tenant, order_ids=order_ids, requested_by=str(request.user))
        return Response({"jobId": str(job.pk)}, status=status.HTTP_201_CREATED)


class InvoiceSettingsView(TenantAPIView):
    """The tenant's invoiceSettings in the Emporix Configuration shape (local tenants)."""

    required_scopes = {"GET": {MANAGE, READ}, "PUT": {MANAGE}}
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="GET-invoice-settings",
        summary="Reading the invoiceSettings that AUTOMATIC jobs use",
        tags=["Configuration"],
        parameters=[TENANT_PARAM],
        responses={200: dict, 404: ErrorResponseSerializer},
    )
    def get(self, request: Request, tenant: str) -> Response:
        entry = configuration_entry(tenant=self.tenant, key=SETTINGS_KEY)
        if entry is None:
            raise ApiError(404, f"Tenant '{tenant}' has no invoiceSettings.")
        return Response(configuration_json(entry))

    @extend_schema(
        operation_id="PUT-invoice-settings",
        summary="Setting the invoiceSettings that AUTOMATIC jobs use",
        tags=["Configuration"],
        parameters=[TENANT_PARAM],
        request={"application/json": {"type": "object", "example": {
            "key": "invoiceSettings",
            "value": {"threshold": "24", "status": "CONFIRMED,SHIPPED", "extendedOrderStatus": "70,75,76"},
        }}},
        responses={200: dict, 400: ErrorResponseSerializer, 409: ErrorResponseSerializer},
    )  # fmt: skip
    def put(self, request: Request, tenant: str) -> Response:
        if self.tenant.backend != Tenant.Backend.LOCAL:
            raise ApiError(
                409,
                f"Tenant '{tenant}' keeps its invoiceSettings in Emporix's Configuration service; set them there.",
            )
        body = self.json_object(request)
        if body.get("key", SETTINGS_KEY) != SETTINGS_KEY:
            raise ApiError(
                400, f"The key in the body ({body.get('key')!r}) is not {SETTINGS_KEY!r}, as in the path."
            )
        if "value" not in body:
            raise ApiError(
                400,
                "value is required.",
                'e.g. {"key": "invoiceSettings", "value": {"threshold": "24", ...}}',
            )
        invoice_settings_parse(body["value"])
        entry = configuration_set(tenant=self.tenant, key=SETTINGS_KEY, value=body["value"])
        return Response(configuration_json(entry))


class JobDetailView(TenantAPIView):
    required_scopes = {"GET": {MANAGE, READ}}

    @extend_schema(
        operation_id="GET-invoice-retrieve-job-and-order",
        summary="Returning a job status and order details",
        tags=["Invoice Jobs"],
        parameters=[TENANT_PARAM, JOB_ID_PARAM],
        responses={200: JobStatusResponseSerializer, **ERRORS},
    )
    def get(self, request: Request, tenant: str, jobId: str) -> Response:
        job_id = jobId
        job = selectors.job_for_tenant(tenant=self.tenant, job_id=job_id) if _is_uuid(job_id) else None
        # A credit note's pipeline runs as a job of type CREDIT; it is no invoice job of the
        # contract (jobType MANUAL|AUTOMATIC): it is read as the credit note (jobs.api.credit_notes).
        if job is None or job.job_type == InvoiceJob.Type.CREDIT:
            raise ApiError(404, f"Job {job_id} not found.")
        orders = []
        base_url = request.build_absolute_uri("/")
        for row in selectors.job_orders_with_invoices(job):
            item: dict[str, Any] = {
                "orderId": row.order_id,
                "orderStatus": row.status,
                "message": row.message,
            }
            invoice = row.invoice
            if invoice is not None and invoice.number:
                item["invoiceNumber"] = invoice.number
                if invoice.pdf:
                    item["downloadLink"] = downloads.download_link_for(invoice, base_url=base_url)
            orders.append(item)
        # `status` repeats `jobStatus`: the published sample uses that name.
        return Response(
            {"jobStatus": job.status, "status": job.status, "jobType": job.job_type, "orders": orders}
        )


class InvoiceDocumentView(TenantAPIView):
    """GET /invoice/{tenant}/invoices/{invoiceNumber}/document: the PDF, with a bearer token.

    The stable address written back onto the order (`mixins.invoice.invoiceDocument`), unlike
    the job's downloadLink, which needs no token but expires.
    """

    required_scopes = {"GET": {MANAGE, READ}}
    content_negotiation_class = OwnFormatParameterNegotiation

    @extend_schema(
        operation_id="GET-invoice-document",
        summary="Downloading an issued invoice's PDF",
        tags=["Invoices"],
        parameters=[TENANT_PARAM, OpenApiParameter("invoiceNumber", str, OpenApiParameter.PATH)],
        responses={(200, "application/pdf"): bytes, **ERRORS},
    )
    def get(self, request: Request, tenant: str, invoiceNumber: str) -> FileResponse:
        # No invoice number is longer or has control characters (PostgreSQL refuses NUL in a query)
        if order_id_problem(invoiceNumber) or len(invoiceNumber) > 100:
            raise ApiError(404, "Invoice not found.")
        invoice = downloads.issued_invoice(tenant=self.tenant, number=invoiceNumber)
        if invoice is None:
            raise ApiError(404, f"Invoice {invoiceNumber} not found.")
        return FileResponse(
            invoice.pdf.open("rb"),
            as_attachment=True,
            filename=f"invoice-{invoice.number}.pdf",
            content_type="application/pdf",
        )


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class OrderDocumentView(TenantAPIView):
    """PUT /invoice/{tenant}/orders/{orderId}: store a salesOrder in the local order store."""

    required_scopes = {"PUT": {ORDER_MANAGE}}
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="PUT-invoice-local-order",
        summary="Storing an order (salesOrder document) in the local order store",
        tags=["Local order store"],
        parameters=[TENANT_PARAM, OpenApiParameter("orderId", str, OpenApiParameter.PATH)],
        request={"application/json": {"type": "object", "description": "An Emporix order-v2 salesOrder"}},
        responses={
            200: StoredOrderResponseSerializer,
            201: StoredOrderResponseSerializer,
            **ERRORS,
            409: ErrorResponseSerializer,
        },
    )
    def put(self, request: Request, tenant: str, orderId: str) -> Response:
        order_id = orderId
        problem = order_id_problem(order_id)
        if problem:
            raise ApiError(400, f"The orderId in the path {problem}.", "orderId: " + problem)
        if self.tenant.backend != Tenant.Backend.LOCAL:
            raise ApiError(
                409, f"Tenant '{tenant}' reads its orders from {self.tenant.backend}, not the local store."
            )
        document = self.json_object(request)
        _, created = stored_order_upsert(tenant=self.tenant, order_id=order_id, document=document)
        return Response(
            {"orderId": order_id, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LocalBuyerView(TenantAPIView):
    """A PUT into the local buyer store, with the order store's conventions: the id in the path
    checked first, 409 for a tenant whose buyers live in Emporix, 201 created / 200 updated."""

    required_scopes = {"PUT": {ORDER_MANAGE}}
    parser_classes = [BoundedJSONParser]

    def checked_path_id(self, name: str, value: str, emporix_service: str) -> None:
        problem = order_id_problem(value)
        if problem:
            raise ApiError(400, f"The {name} in the path {problem}.", f"{name}: {problem}")
        if self.tenant.backend != Tenant.Backend.LOCAL:
            raise ApiError(
                409,
                f"Tenant '{self.tenant.code}' reads its buyers from {self.tenant.backend} "
                f"({emporix_service}), not the local store.",
            )


class LegalEntityDocumentView(LocalBuyerView):
    """PUT /invoice/{tenant}/legal-entities/{legalEntityId}: store a buyer company (legalEntity)."""

    @extend_schema(
        operation_id="PUT-invoice-local-legal-entity",
        summary="Storing a legal entity (Customer Management legalEntity) in the local buyer store",
        tags=["Local order store"],
        parameters=[TENANT_PARAM, OpenApiParameter("legalEntityId", str, OpenApiParameter.PATH)],
        request={"application/json": {
            "type": "object",
            "description": "An Emporix Customer Management legalEntity. legalInfo.legalName is required; "
            "legalInfo.taxRegistrationNumber (the buyer's VAT ID) and legalInfo.countryOfRegistration "
            "(ISO 3166-1 alpha-2) are used on the invoice; the rest is kept as given.",
            "example": {
                "name": "Dupont Industries",
                "type": "COMPANY",
                "legalInfo": {
                    "legalName": "Dupont Industries SAS",
                    "taxRegistrationNumber": "FR40303265045",
                    "countryOfRegistration": "FR",
                },
            },
        }},
        responses={
            200: StoredLegalEntityResponseSerializer,
            201: StoredLegalEntityResponseSerializer,
            **ERRORS,
            409: ErrorResponseSerializer,
        },
    )  # fmt: skip
    def put(self, request: Request, tenant: str, legalEntityId: str) -> Response:
        self.checked_path_id("legalEntityId", legalEntityId, "Customer Management")
        document = self.json_object(request)
        _, created = stored_legal_entity_upsert(
            tenant=self.tenant, legal_entity_id=legalEntityId, document=document
        )
        return Response(
            {"legalEntityId": legalEntityId, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CustomerDocumentView(LocalBuyerView):
    """PUT /invoice/{tenant}/customers/{customerNumber}: store a customer profile."""

    @extend_schema(
        operation_id="PUT-invoice-local-customer",
        summary="Storing a customer (Customer Service customer) in the local buyer store",
        tags=["Local order store"],
        parameters=[TENANT_PARAM, OpenApiParameter("customerNumber", str, OpenApiParameter.PATH)],
        request={"application/json": {
            "type": "object",
            "description": "An Emporix Customer Service customer. preferredLanguage (e.g. de, de_DE, de-CH) "
            "chooses the invoice's language; the rest is kept as given. The number is the order's customer.id.",
            "example": {"firstName": "Jürgen", "lastName": "Müller", "preferredLanguage": "de_DE"},
        }},
        responses={
            200: StoredCustomerResponseSerializer,
            201: StoredCustomerResponseSerializer,
            **ERRORS,
            409: ErrorResponseSerializer,
        },
    )  # fmt: skip
    def put(self, request: Request, tenant: str, customerNumber: str) -> Response:
        self.checked_path_id("customerNumber", customerNumber, "the Customer service")
        document = self.json_object(request)
        _, created = stored_customer_upsert(
            tenant=self.tenant, customer_number=customerNumber, document=document
        )
        return Response(
            {"customerNumber": customerNumber, "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
