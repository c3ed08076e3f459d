"""Buyers (legal entities, customers) in the Emporix shapes and exchange rates, for local tenants."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_tenant_moved"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CurrencyRate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("source_currency", models.CharField(help_text="ISO 4217 code, e.g. USD", max_length=3)),
                ("target_currency", models.CharField(help_text="ISO 4217 code, e.g. EUR", max_length=3)),
                (
                    "rate",
                    models.DecimalField(
                        decimal_places=10,
                        help_text="how many target units one source unit is worth, e.g. 0.91",
                        max_digits=20,
                    ),
                ),
                ("valid_from", models.DateField(help_text="the first day the rate applies")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="currency_rates",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "exchange rate",
                "ordering": ["source_currency", "target_currency", "-valid_from"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "source_currency", "target_currency", "valid_from"),
                        name="unique_currency_rate_per_day",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("rate__gt", 0)), name="currency_rate_positive"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("source_currency", models.F("target_currency")), _negated=True),
                        name="currency_rate_two_currencies",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="StoredCustomer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("customer_number", models.CharField(max_length=255)),
                ("document", models.JSONField(help_text="the Emporix Customer Service customer document")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stored_customers",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "customer_number"), name="unique_stored_customer"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StoredLegalEntity",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("legal_entity_id", models.CharField(max_length=255)),
                (
                    "document",
                    models.JSONField(help_text="the Emporix Customer Management legalEntity document"),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stored_legal_entities",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "stored legal entities",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "legal_entity_id"), name="unique_stored_legal_entity"
                    )
                ],
            },
        ),
    ]
