"""The console's two roles, shipped as groups and kept in step after every migrate.

- Operators: see everything in the console and take its actions (retry failed orders,
  resend an invoice email, run an AUTOMATIC job now); change nothing else.
- Administrators: everything, including tenants, API clients, number series and schedules, and
  correcting an issued invoice with a credit note (invoicing.issue_credit_note).

Issued invoices and their numbers can be edited or deleted by neither: the admin refuses.
A person gets a role by being made staff and added to one of the groups.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

OPERATORS = "Operators"
ADMINISTRATORS = "Administrators"
CONSOLE_APPS = ("tenants", "invoicing", "integrations", "jobs", "django_celery_beat", "oauth2_provider")
# Not invoicing.issue_credit_note: cancelling or crediting an invoice pays money back and issues a
# document that can never be withdrawn; that is for Administrators.
OPERATOR_ACTIONS = (
    ("jobs", "retry_failed_orders"),
    ("jobs", "run_automatic_job"),
    ("invoicing", "resend_invoice_email"),
)


def roles_ensure(**kwargs: Any) -> None:
    console = Permission.objects.filter(content_type__app_label__in=CONSOLE_APPS)
    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    actions = [
        p
        for app, codename in OPERATOR_ACTIONS
        for p in Permission.objects.filter(content_type__app_label=app, codename=codename)
    ]
    # not oauth2_provider's pages: they list live bearer tokens
    viewable = console.filter(codename__startswith="view_").exclude(content_type__app_label="oauth2_provider")
    operators.permissions.set([*viewable, *actions])
    administrators, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    administrators.permissions.set(
        [
            *console,
            *Permission.objects.filter(
                content_type__app_label="auth", codename__in=["view_user", "view_group"]
            ),
        ]
    )
