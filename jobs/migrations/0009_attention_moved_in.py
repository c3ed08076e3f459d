"""OrderAttention and AutomaticOrderPick move from invoicing to jobs (their tables keep their names)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0007_order_attention"),
        ("jobs", "0008_worker_heartbeats"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        # The tables stay where they are: only Django's idea of which app owns what moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AutomaticOrderPick",
                    fields=[
                        (
                            "job_order",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="+",
                                serialize=False,
                                to="jobs.joborder",
                            ),
                        ),
                        ("fingerprint", models.JSONField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "invoicing_automaticorderpick",
                    },
                ),
                migrations.AlterField(
                    model_name="apiclient",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_clients",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="invoicejob",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="jobs", to="tenants.tenant"
                    ),
                ),
                migrations.CreateModel(
                    name="OrderAttention",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("order_id", models.CharField(max_length=255)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("PERMANENT", "Permanent"),
                                    ("TRANSIENT", "Temporary (retries ran out)"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("reason", models.TextField(blank=True)),
                        (
                            "attempts",
                            models.PositiveIntegerField(
                                default=1, help_text="AUTOMATIC runs in a row it failed in"
                            ),
                        ),
                        (
                            "next_attempt_after",
                            models.DateTimeField(
                                blank=True,
                                help_text="empty: waits until the order changes or an operator retries it",
                                null=True,
                            ),
                        ),
                        ("order_fingerprint", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "last_job_order",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="jobs.joborder",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="order_attentions",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "order needing attention",
                        "verbose_name_plural": "orders needing attention",
                        "db_table": "invoicing_orderattention",
                        "ordering": ["-updated_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["tenant", "-updated_at"], name="attention_tenant_updated_idx"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("tenant", "order_id"), name="one_attention_per_order"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
