"""Tenant: the switch for validating e-invoices before capture and at issue, on by default (issue 12)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_vat_treatments_payment_days"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="einvoice_validation",
            field=models.BooleanField(
                default=True,
                help_text=(
                    "Validate every invoice's EN 16931 e-invoice (Factur-X, and XRechnung where the buyer "
                    "asks for it) against the official rules before payment capture and numbering, and "
                    "again when it is issued. An order whose e-invoice the rules reject fails before "
                    "anything is charged."
                ),
                verbose_name="validate e-invoices",
            ),
        ),
    ]
