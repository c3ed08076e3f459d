from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import health
from invoicing.views import credit_note_download, invoice_download
from jobs.api.credit_notes import CreditNoteCollectionView, CreditNoteDetailView, CreditNoteDocumentView
from jobs.api.docs import OfflineRedocView
from jobs.api.einvoice import InvoiceEInvoiceView
from jobs.api.invoices import InvoiceCollectionView, InvoiceDetailView
from jobs.api.oauth import EmporixTokenView
from jobs.api.views import (
    CustomerDocumentView,
    InvoiceDocumentView,
    InvoiceSettingsView,
    JobCollectionView,
    JobDetailView,
    LegalEntityDocumentView,
    OrderDocumentView,
)

urlpatterns = [
    path("invoice/<str:tenant>/jobs/invoices", JobCollectionView.as_view(), name="invoice-jobs"),
    # Path parameter names as in the contract ({jobId}): drf-spectacular documents the URL's names.
    path("invoice/<str:tenant>/jobs/invoices/<str:jobId>", JobDetailView.as_view(), name="invoice-job"),
    path("invoice/<str:tenant>/orders/<str:orderId>", OrderDocumentView.as_view(), name="local-order"),
    path(
        "invoice/<str:tenant>/legal-entities/<str:legalEntityId>",
        LegalEntityDocumentView.as_view(),
        name="local-legal-entity",
    ),
    path(
        "invoice/<str:tenant>/customers/<str:customerNumber>",
        CustomerDocumentView.as_view(),
        name="local-customer",
    ),
    path(
        "invoice/<str:tenant>/configurations/invoiceSettings",
        InvoiceSettingsView.as_view(),
        name="invoice-settings",
    ),
    path(
        "invoice/<str:tenant>/invoices/<str:invoiceNumber>/document",
        InvoiceDocumentView.as_view(),
        name="invoice-document",
    ),
    path(
        "invoice/<str:tenant>/invoices/<str:invoiceNumber>/einvoice",
        InvoiceEInvoiceView.as_view(),
        name="invoice-einvoice",
    ),
    # Credit notes and the invoice lookup. `str` never matches a "/", so the invoice itself
    # (…/invoices/<invoiceNumber>) cannot take the paths of its document, e-invoice or credit notes.
    path(
        "invoice/<str:tenant>/invoices/<str:invoiceNumber>/credit-notes",
        CreditNoteCollectionView.as_view(),
        name="invoice-credit-notes",
    ),
    path("invoice/<str:tenant>/invoices/<str:invoiceNumber>", InvoiceDetailView.as_view(), name="invoice"),
    path("invoice/<str:tenant>/invoices", InvoiceCollectionView.as_view(), name="invoices"),
    # `pk` (the name invoicing.downloads reverses) is documented as {id}, as the contract names it.
    path("invoice/<str:tenant>/credit-notes/<str:pk>", CreditNoteDetailView.as_view(), name="credit-note"),
    path(
        "invoice/<str:tenant>/credit-notes/<str:pk>/document",
        CreditNoteDocumentView.as_view(),
        name="credit-note-document",
    ),
    path("oauth/token", EmporixTokenView.as_view(), name="oauth-token"),
    path("invoices/download/<str:token>", invoice_download, name="invoice-download"),
    path("invoices/credit-notes/download/<str:token>", credit_note_download, name="credit-note-download"),
    path("health", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "core.http_errors.handler400"
handler403 = "core.http_errors.handler403"
handler404 = "core.http_errors.handler404"
handler500 = "core.http_errors.handler500"
