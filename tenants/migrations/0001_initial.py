"""Tenant moves from invoicing to its own app; its table keeps the name invoicing_tenant."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("invoicing", "0007_order_attention"),
    ]

    operations = [
        # The tables stay where they are: only Django's idea of which app owns what moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Tenant",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "code",
                            models.CharField(
                                max_length=16,
                                unique=True,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^[a-z][a-z0-9]+$",
                                        "A tenant code is lowercase letters and digits, starting with a letter.",
                                    ),
                                    django.core.validators.MinLengthValidator(3),
                                ],
                            ),
                        ),
                        ("name", models.CharField(max_length=200)),
                        ("active", models.BooleanField(default=True)),
                        (
                            "backend",
                            models.CharField(
                                choices=[("local", "Local (database-backed)"), ("emporix", "Emporix APIs")],
                                default="local",
                                max_length=16,
                            ),
                        ),
                        (
                            "emporix_base_url",
                            models.URLField(
                                blank=True,
                                default="https://api.emporix.io",
                                verbose_name="Emporix API base URL",
                            ),
                        ),
                        (
                            "emporix_client_id",
                            models.CharField(blank=True, max_length=200, verbose_name="Emporix client id"),
                        ),
                        ("emporix_client_secret_encrypted", models.TextField(blank=True, editable=False)),
                        (
                            "emporix_site_code",
                            models.CharField(
                                blank=True,
                                help_text="empty: the order's site, else the default site",
                                max_length=100,
                                verbose_name="Emporix site code",
                            ),
                        ),
                        (
                            "emporix_number_placeholders",
                            models.JSONField(
                                blank=True,
                                default=dict,
                                help_text='sent with every nextId call, e.g. {"__num__": ""} for the tutorial\'s INV__num__ schema',
                                verbose_name="invoice number placeholders",
                            ),
                        ),
                        ("legal_name", models.CharField(blank=True, max_length=200)),
                        ("street", models.CharField(blank=True, max_length=200)),
                        ("street_number", models.CharField(blank=True, max_length=20)),
                        ("zip_code", models.CharField(blank=True, max_length=20)),
                        ("city", models.CharField(blank=True, max_length=100)),
                        (
                            "country",
                            models.CharField(blank=True, help_text="ISO 3166 code, e.g. DE", max_length=2),
                        ),
                        ("vat_id", models.CharField(blank=True, max_length=40, verbose_name="VAT ID")),
                        ("tax_number", models.CharField(blank=True, max_length=40)),
                        ("iban", models.CharField(blank=True, max_length=40, verbose_name="IBAN")),
                        ("bic", models.CharField(blank=True, max_length=11, verbose_name="BIC")),
                        (
                            "email_sender",
                            models.EmailField(
                                blank=True, help_text="From address of invoice emails", max_length=254
                            ),
                        ),
                        ("phone", models.CharField(blank=True, max_length=40)),
                        ("website", models.CharField(blank=True, max_length=200)),
                        ("default_language", models.CharField(default="en", max_length=8)),
                        ("default_currency", models.CharField(default="EUR", max_length=3)),
                        ("time_zone", models.CharField(default="UTC", max_length=64)),
                        ("logo", models.ImageField(blank=True, upload_to="logos/")),
                        (
                            "prices_include_tax",
                            models.BooleanField(
                                default=False,
                                help_text="Gross pricing (B2C): tax per rate is taken out of the gross sum instead of added to net.",
                            ),
                        ),
                        (
                            "delivery_date_source",
                            models.CharField(
                                choices=[
                                    (
                                        "deliveryWindow.deliveryDate",
                                        "deliveryWindow.deliveryDate (a date: from the start of that day)",
                                    ),
                                    (
                                        "mixins.deliveryTime.deliveryDate",
                                        "mixins.deliveryTime.deliveryDate (a date-time)",
                                    ),
                                ],
                                default="deliveryWindow.deliveryDate",
                                help_text="The delivery date AUTOMATIC jobs count the threshold from; orders without it are not invoiced.",
                                max_length=40,
                            ),
                        ),
                        (
                            "payment_terms",
                            models.CharField(
                                blank=True,
                                default="Payable within 14 days of the invoice date without deduction.",
                                max_length=300,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "invoicing_tenant",
                        "ordering": ["code"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("code__length__gte", 3), ("code__length__lte", 16)),
                                name="tenant_code_length",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
