"""What the console's screens share: read-only pages, who acts, the site itself."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

# Re-running the failed steps of an issued invoice is for Administrators, not Operators: it
# starts work on an invoice again after someone fixed the cause (a bug, a full disk), which
# is theirs to judge. Administrators hold the change permissions of the console, Operators
# only view ones and their three actions (jobs.roles).
RERUN_STEPS_PERMISSION = "jobs.change_joborder"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The console is for operations staff: name it so, and keep out what they must not touch.
admin.site.site_header = "Invoice Service console"
admin.site.site_title = "Invoice Service console"
admin.site.index_title = "Jobs, invoices and tenants"


def hide_oauth_internals() -> None:
    """API clients (jobs.ApiClient) are the way in; raw OAuth applications and grant records
    would only let someone create a client without a tenant, or confuse."""
    from oauth2_provider.models import (
        get_application_model,
        get_grant_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    for model in (
        get_application_model(),
        get_grant_model(),
        get_id_token_model(),
        get_refresh_token_model(),
    ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
