"""The console's job pages: what happened to each order, retrying the failed ones, and
re-running the failed steps of orders whose invoice was already issued (Administrators).

A credit note's pipeline is a job of type CREDIT (jobs.credit_notes). Those are not invoice jobs:
the list leaves them out, and their pages are reached from the credit note's page. Retrying one
as a new MANUAL job would invoice its order, so that is refused.

Lists stay fast on big tables: no query per row (select_related), no full-table count
(EstimatedCountPaginator), and searches that use indexes (exact job id, order id or invoice
number) instead of LIKE across a million rows.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from console.admin.common import RERUN_STEPS_PERMISSION, ReadOnlyAdmin
from console.paging import EstimatedCountPaginator
from invoicing.models import CreditNote, Invoice
from jobs.attention import order_attention_retry
from jobs.clients import ALL_SCOPES, UnknownScope, api_client_create, api_client_revoke, scopes_parse
from jobs.models import ApiClient, InvoiceJob, JobOrder, OrderAttention
from jobs.pipeline import pipeline_of
from jobs.services import job_orders_failed_after_issue, job_resume_failed_after_issue, job_retry_failed

INLINE_ROWS = 50  # a job page shows this many orders, failures first; the rest via "all orders"


def actor_of(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def invoice_link(invoice: Invoice | None) -> str:
    if invoice is None or not invoice.number:
        return "-"
    url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    return format_html('<a href="{}">{}</a>', url, invoice.number)


def document_link(job_order: JobOrder) -> str:
    """The row's invoice, or for a credit note's pipeline its credit note (select_related both)."""
    credit_note: CreditNote | None = job_order.credit_note
    if credit_note is not None:
        url = reverse("admin:invoicing_creditnote_change", args=[credit_note.pk])
        label = credit_note.number or "credit note (no number yet)"
        return format_html('<a href="{}">{}</a>', url, label)
    return invoice_link(job_order.invoice)


def step_text(job_order: JobOrder) -> str:
    if job_order.status == JobOrder.Status.SUCCESS:
        return "Done"
    return pipeline_of(job_order).label(job_order.step)  # a credit note's steps have their own names


class FailuresFirstFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[JobOrder]:
        if not hasattr(self, "_limited"):
            self._limited = super().get_queryset()[:INLINE_ROWS]
        return self._limited


class JobOrderInline(admin.TabularInline):
    model = JobOrder
    formset = FailuresFirstFormSet
    fields = ("order_id", "status", "step_label", "message", "invoice_number", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = f"orders (failures first; the first {INLINE_ROWS} shown)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[JobOrder]:
        rank = Case(
            When(status=JobOrder.Status.FAILURE, then=Value(0)),
            When(status=JobOrder.Status.PENDING, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return (
            super().get_queryset(request).select_related("invoice", "credit_note").order_by(rank, "position")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="step")
    def step_label(self, obj: JobOrder) -> str:
        return step_text(obj)

    @admin.display(description="invoice")
    def invoice_number(self, obj: JobOrder) -> str:
        return document_link(obj)


class ExactSearchMixin:
    """Search by exact ids through indexes; no LIKE scans."""

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_condition(term)), False  # type: ignore[attr-defined]


class InvoiceJobsOnly(ChangeList):
    """The list of invoice jobs: a credit note's pipeline (type CREDIT) is not one."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[InvoiceJob]:
        return super().get_queryset(request, exclude_parameters).exclude(job_type=InvoiceJob.Type.CREDIT)


class JobTypeFilter(admin.SimpleListFilter):
    title = "job type"
    parameter_name = "job_type__exact"  # the address Django's own filter used

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (value, str(label)) for value, label in InvoiceJob.Type.choices if value != InvoiceJob.Type.CREDIT
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[InvoiceJob]) -> QuerySet[InvoiceJob]:
        return queryset.filter(job_type=self.value()) if self.value() else queryset


@admin.register(InvoiceJob)
class InvoiceJobAdmin(ExactSearchMixin, ReadOnlyAdmin):
    """Jobs are records of what happened: viewed here, never edited or deleted."""

    list_display = (
        "job",
        "tenant",
        "job_type",
        "status",
        "created_at",
        "duration",
        "invoiced",
        "failed",
        "pending",
    )
    list_filter = ("status", JobTypeFilter, "tenant", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("id",)  # shows the box; get_search_results does the exact lookups
    search_help_text = "An exact job id, order id or invoice number."
    readonly_fields = (
        "id",
        "tenant",
        "job_type",
        "status",
        "total_count",
        "success_count",
        "failure_count",
        "pending",
        "duration",
        "requested_by",
        "created_at",
        "finished_at",
        "all_orders",
        "retry_trail",
    )
    fields = readonly_fields
    inlines = [JobOrderInline]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table
    list_per_page = 50

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return InvoiceJobsOnly

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> EstimatedCountPaginator:
        paginator = EstimatedCountPaginator(queryset, per_page, orphans, allow_empty_first_page)
        # no filter or search of the person's: the CREDIT exclusion alone keeps the row estimate
        paginator.baseline_filter = not any(key not in ("o", "p") for key in request.GET)
        return paginator

    def search_condition(self, term: str) -> Q:
        # Ids collected with indexed lookups first: ORed subqueries would make PostgreSQL walk
        # every job row (measured: 14 ms -> 0.06 ms at 100,000 jobs).
        invoice_ids = list(Invoice.objects.filter(number=term).values_list("pk", flat=True))
        job_ids: set[Any] = set(
            JobOrder.objects.filter(Q(order_id=term) | Q(invoice_id__in=invoice_ids))
            .order_by()
            .values_list("job_id", flat=True)
        )
        with contextlib.suppress(ValueError):  # not a job id: order id or invoice number only
            job_ids.add(uuid.UUID(term))
        return Q(pk__in=job_ids)

    @admin.display(description="job", ordering="created_at")
    def job(self, obj: InvoiceJob) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="pending")
    def pending(self, obj: InvoiceJob) -> int:
        return obj.pending_count

    @admin.display(description="invoiced", ordering="success_count")
    def invoiced(self, obj: InvoiceJob) -> int:
        return obj.success_count

    @admin.display(description="failed", ordering="failure_count")
    def failed(self, obj: InvoiceJob) -> str:
        if not obj.failure_count:
            return "0"
        return format_html('<strong style="color:var(--error-fg, #ba2121)">{}</strong>', obj.failure_count)

    @admin.display(description="duration")
    def duration(self, obj: InvoiceJob) -> str:
        if obj.finished_at is None:
            return "running" if obj.status == InvoiceJob.Status.IN_PROGRESS else "-"
        seconds = (obj.finished_at - obj.created_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    @admin.display(description="all orders")
    def all_orders(self, obj: InvoiceJob) -> str:
        url = reverse("admin:jobs_joborder_changelist") + f"?job__id__exact={obj.pk}"
        label = (
            "the job's only order" if obj.total_count == 1 else f"all {obj.total_count} orders of this job"
        )
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="retries")
    def retry_trail(self, obj: InvoiceJob) -> str:
        parts = []
        if obj.retry_of_id:
            url = reverse("admin:jobs_invoicejob_change", args=[obj.retry_of_id])
            parts.append(
                format_html(
                    'retries the failed orders of job <a href="{}">{}</a>', url, str(obj.retry_of_id)[:8]
                )
            )
        for retry in obj.retries.order_by("created_at").only("pk"):
            url = reverse("admin:jobs_invoicejob_change", args=[retry.pk])
            parts.append(
                format_html('failed orders retried as job <a href="{}">{}</a>', url, str(retry.pk)[:8])
            )
        return format_html("; ".join(["{}"] * len(parts)), *parts) if parts else "-"

    # --- retry the failed orders ----------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:job_id>/retry-failed/",
                self.admin_site.admin_view(require_POST(self.retry_failed_view)),
                name="jobs_invoicejob_retry_failed",
            ),
            path(
                "<uuid:job_id>/rerun-failed-steps/",
                self.admin_site.admin_view(require_POST(self.rerun_view)),
                name="jobs_invoicejob_rerun",
            ),
            *super().get_urls(),
        ]

    def retry_failed_view(self, request: HttpRequest, job_id: uuid.UUID) -> HttpResponseRedirect:
        if not request.user.has_perm("jobs.retry_failed_orders"):
            raise PermissionDenied
        job = get_object_or_404(InvoiceJob, pk=job_id)
        if job.job_type == InvoiceJob.Type.CREDIT:
            # a new MANUAL job would invoice the order: a failed credit note is requested again instead
            messages.error(
                request, "A credit note's pipeline is not retried as a job; request a new credit note."
            )
            return HttpResponseRedirect(reverse("admin:jobs_invoicejob_change", args=[job.pk]))
        retry = job_retry_failed(job=job, actor=actor_of(request))
        if retry is None:
            messages.info(request, "This job has no failed orders to retry.")
            return HttpResponseRedirect(reverse("admin:jobs_invoicejob_change", args=[job.pk]))
        what = (
            "The failed order is" if retry.total_count == 1 else f"The {retry.total_count} failed orders are"
        )
        messages.success(
            request, f"{what} being retried as job {str(retry.pk)[:8]}. Reload this page to follow it."
        )
        return HttpResponseRedirect(reverse("admin:jobs_invoicejob_change", args=[retry.pk]))

    def rerun_view(self, request: HttpRequest, job_id: uuid.UUID) -> HttpResponseRedirect:
        if not request.user.has_perm(RERUN_STEPS_PERMISSION):
            raise PermissionDenied
        job = get_object_or_404(InvoiceJob, pk=job_id)
        numbers = job_resume_failed_after_issue(job=job, actor=actor_of(request))
        if not numbers:
            messages.info(request, "This job has no orders whose steps after numbering failed.")
        else:
            shown = ", ".join(numbers[:20]) + (" …" if len(numbers) > 20 else "")
            messages.success(
                request,
                f"The failed steps are being run again for invoice{'s' if len(numbers) > 1 else ''} {shown}, "
                "with the same number. Reload this page to follow it.",
            )
        return HttpResponseRedirect(reverse("admin:jobs_invoicejob_change", args=[job.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        job = context.get("original")
        # Failures after numbering are re-run in place; a retry job would only be told the
        # order is invoiced, so they are not counted as retryable.
        after_issue = job_orders_failed_after_issue(job=job).count() if job and job.failure_count else 0
        retryable = job.failure_count - after_issue if job else 0
        context["can_retry"] = bool(
            retryable
            and job is not None
            and job.job_type != InvoiceJob.Type.CREDIT
            and request.user.has_perm("jobs.retry_failed_orders")
        )
        context["retryable_count"] = retryable
        context["can_rerun"] = bool(after_issue and request.user.has_perm(RERUN_STEPS_PERMISSION))
        context["rerun_count"] = after_issue
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(JobOrder)
class JobOrderAdmin(ExactSearchMixin, ReadOnlyAdmin):
    """Every order row, for jobs too large to show on one page."""

    list_display = ("order_id", "job_link", "status", "step_label", "message", "invoice_number", "updated_at")
    list_filter = ("status", "step")
    list_select_related = ("invoice", "job", "credit_note")
    search_fields = ("order_id",)
    search_help_text = "An exact order id or invoice number."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table
    list_per_page = 100

    def search_condition(self, term: str) -> Q:
        # the invoice ids first: an OR across the join would scan every order row
        invoice_ids = list(Invoice.objects.filter(number=term).values_list("pk", flat=True))
        return Q(order_id=term) | Q(invoice_id__in=invoice_ids)

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # reached from a job page, not listed on its own in the index

    @admin.display(description="job")
    def job_link(self, obj: JobOrder) -> str:
        url = reverse("admin:jobs_invoicejob_change", args=[obj.job_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.job_id)[:8])

    @admin.display(description="step", ordering="step")
    def step_label(self, obj: JobOrder) -> str:
        return step_text(obj)

    @admin.display(description="invoice")
    def invoice_number(self, obj: JobOrder) -> str:
        return document_link(obj)


# --- API clients ---------------------------------------------------------------------------------
class ApiClientAddForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ("tenant", "scopes")

    def clean_scopes(self) -> str:
        try:
            return " ".join(scopes_parse(self.cleaned_data["scopes"]))
        except UnknownScope as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Created here (the secret is shown once) or with manage.py create_api_client; revoked here."""

    list_display = ("client_id", "tenant", "scopes", "created_at", "revoked_at")
    list_filter = ("tenant", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("application", "tenant")
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["tenant", "scopes"]
        return ["client_id", "tenant", "scopes", "created_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else ["client_id", "tenant", "scopes", "created_at", "revoked_at"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiClientAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            form.base_fields["scopes"].initial = " ".join(ALL_SCOPES)
            form.base_fields["scopes"].help_text = f"space-separated, of: {' '.join(ALL_SCOPES)}"
        return form

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if change:
            return  # nothing about a client changes after creation; revoke it instead
        created, secret = api_client_create(
            tenant=obj.tenant, scopes=obj.scopes, name="created in the console"
        )
        obj.pk, obj.application = created.pk, created.application
        messages.warning(
            request,
            f"client_id: {created.application.client_id}   client_secret: {secret}   "
            "- copy the secret now: it is stored hashed and cannot be shown again.",
        )

    @admin.action(
        description="Revoke the selected API clients (their tokens stop working at once)",
        permissions=["change"],  # administrators; operators only look
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset.filter(revoked_at__isnull=True).select_related("application"):
            api_client_revoke(api_client=client, actor=actor_of(request))
        messages.success(request, "Revoked.")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the audit trail keeps who had access

    @admin.display(description="client id")
    def client_id(self, obj: ApiClient) -> str:
        return str(obj.application.client_id)


# --- third-party pages: their actions change things, so they are for administrators only -------
def _actions_only_for_changers(model: type) -> None:
    """Re-register a third-party ModelAdmin so that its actions need the change permission.

    django-celery-beat's enable/disable/run actions and django-oauth-toolkit's token
    revocation declare no permission, so anyone who can view the page could run them.
    """
    registered = admin.site._registry.get(model)
    if registered is None:
        return
    base = type(registered)

    class ChangersOnly(base):  # type: ignore[valid-type,misc]
        def get_actions(self, request: HttpRequest) -> dict[str, Any]:
            return super().get_actions(request) if self.has_change_permission(request) else {}

    ChangersOnly.__name__ = f"ChangersOnly{base.__name__}"
    admin.site.unregister(model)
    admin.site.register(model, ChangersOnly)


def _guard_third_party_actions() -> None:
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from oauth2_provider.models import get_access_token_model

    for model in (PeriodicTask, CrontabSchedule, IntervalSchedule, ClockedSchedule, SolarSchedule):
        _actions_only_for_changers(model)
    _actions_only_for_changers(get_access_token_model())


_guard_third_party_actions()


class AttentionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("attention", "Needs attention"), ("later", "Retried in a later run")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OrderAttention]) -> QuerySet[OrderAttention]:
        if self.value() == "attention":
            return queryset.filter(next_attempt_after__isnull=True)
        if self.value() == "later":
            return queryset.filter(next_attempt_after__isnull=False)
        return queryset


@admin.register(OrderAttention)
class OrderAttentionAdmin(ReadOnlyAdmin):
    """Orders that failed in an AUTOMATIC run and that the next runs leave alone (jobs.attention)."""

    list_display = (
        "order_id",
        "tenant",
        "state",
        "kind",
        "reason",
        "attempts",
        "next_attempt_after",
        "last_job_order_link",
        "updated_at",
    )
    list_filter = (AttentionStateFilter, "kind", "tenant")
    list_select_related = ("tenant",)
    search_fields = ("=order_id",)
    search_help_text = "An exact order id."
    actions = ("retry_now",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="state")
    def state(self, obj: OrderAttention) -> str:
        if obj.needs_attention:
            return "Needs attention: waits until the order changes or it is retried"
        return "Retried by the first AUTOMATIC run after the time shown"

    @admin.display(description="last job order")
    def last_job_order_link(self, obj: OrderAttention) -> str:
        if obj.last_job_order_id is None:
            return "-"
        url = reverse("admin:jobs_joborder_change", args=[obj.last_job_order_id])
        return format_html('<a href="{}">{}</a>', url, obj.last_job_order_id)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.retry_failed_orders")

    @admin.action(description="Retry now (a new job with the selected orders)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OrderAttention]) -> None:
        actor = f"admin:{request.user.get_username()}"
        for job in order_attention_retry(rows=list(queryset), actor=actor):
            url = reverse("admin:jobs_invoicejob_change", args=[job.pk])
            messages.success(
                request,
                format_html(
                    '{} order(s) are being retried as job <a href="{}">{}</a>.',
                    job.total_count,
                    url,
                    str(job.pk)[:8],
                ),
            )
