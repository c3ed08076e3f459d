"""Tenant: payment days (the due date) and the VAT treatments a tenant can adjust (issue 11).

A tenant whose payment terms already say "within N days" gets N payment days, so its due dates
match what its invoices have been saying (Tenant.clean keeps the two in agreement from now on).
"""

import re

import django.core.validators
from django.db import migrations, models

_DAYS = re.compile(r"\b(\d{1,3})\s+days?\b", re.IGNORECASE)


def payment_days_from_terms(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.exclude(payment_terms=""):
        found = _DAYS.search(tenant.payment_terms)
        if found and int(found.group(1)) <= 365:
            Tenant.objects.filter(pk=tenant.pk).update(payment_days=int(found.group(1)))


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="payment_days",
            field=models.PositiveSmallIntegerField(
                default=14,
                help_text="Days from the invoice date to the due date of an invoice paid by bank transfer.",
                validators=[django.core.validators.MaxValueValidator(365)],
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="vat_treatments",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='How order tax codes map to VAT categories, e.g. {"tax_codes": {"MEDICAL": {"category": "E", "reference": "Art. 132(1)(c) VAT Directive"}, "CONSULTING": {"supply": "services"}}, "supply": "goods"}; empty: the defaults (README "VAT treatments").',
                verbose_name="VAT treatments",
            ),
        ),
        migrations.AlterField(
            model_name="tenant",
            name="payment_terms",
            field=models.CharField(
                blank=True,
                default="Payable within 14 days of the invoice date without deduction.",
                help_text="Printed as written; left at the default, the invoice prints it in the customer's language.",
                max_length=300,
            ),
        ),
        migrations.RunPython(payment_days_from_terms, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="tenant",
            constraint=models.CheckConstraint(
                condition=models.Q(("payment_days__lte", 365)), name="tenant_payment_days_max"
            ),
        ),
    ]
