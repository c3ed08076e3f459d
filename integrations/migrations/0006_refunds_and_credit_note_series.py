"""Refunds in the local payment gateway, and a credit note number series for every local tenant.

The data step gives each tenant that has an invoice series ("invoiceNoSequence") a credit note
series ("creditNoteNoSequence", preText "CN") with the invoice series' numberOfDigits,
startValue and maxValue: CN1001 follows INV1001. A tenant that has one already keeps it.
Nothing imported from the project: the names are copied here (tests/test_migrations.py).
"""

import django.db.models.deletion
from django.db import migrations, models

INVOICE_SERIES_NAME = "invoiceNoSequence"
CREDIT_NOTE_SERIES_NAME = "creditNoteNoSequence"
CREDIT_NOTE_PRE_TEXT = "CN"


def create_credit_note_series(apps, schema_editor):
    NumberSeries = apps.get_model("integrations", "NumberSeries")
    have = set(NumberSeries.objects.filter(name=CREDIT_NOTE_SERIES_NAME).values_list("tenant_id", flat=True))
    NumberSeries.objects.bulk_create(
        [
            NumberSeries(
                tenant_id=invoice.tenant_id,
                name=CREDIT_NOTE_SERIES_NAME,
                pre_text=CREDIT_NOTE_PRE_TEXT,
                post_text="",
                number_of_digits=invoice.number_of_digits,
                start_value=invoice.start_value,
                max_value=invoice.max_value,
            )
            for invoice in NumberSeries.objects.filter(name=INVOICE_SERIES_NAME).order_by("tenant_id")
            if invoice.tenant_id not in have
        ],
        ignore_conflicts=True,  # UNIQUE(tenant, name): a series created meanwhile is kept
    )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_buyers_and_rates"),
    ]

    operations = [
        migrations.AddField(
            model_name="gatewaytransaction",
            name="refund_decline_reason",
            field=models.CharField(
                blank=True,
                help_text="when set, every refund of this transaction is declined with it",
                max_length=300,
            ),
        ),
        migrations.CreateModel(
            name="GatewayRefund",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("idempotency_key", models.CharField(max_length=400, unique=True)),
                ("refund_id", models.CharField(max_length=64)),
                ("amount", models.DecimalField(decimal_places=3, max_digits=18)),
                ("successful", models.BooleanField()),
                ("message", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "transaction",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="refunds",
                        to="integrations.gatewaytransaction",
                    ),
                ),
            ],
        ),
        # Reversed: nothing removed (a series with issued credit note numbers must stay).
        migrations.RunPython(create_credit_note_series, migrations.RunPython.noop, elidable=True),
    ]
