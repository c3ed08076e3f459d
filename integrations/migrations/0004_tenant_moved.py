"""The foreign keys to Tenant now point at tenants.Tenant (the same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_automatic_jobs"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        # The tables stay where they are: only Django's idea of which app owns what moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="configuration",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="configurations",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="gatewaytransaction",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="gateway_transactions",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="numberseries",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="number_series",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="storedorder",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stored_orders",
                        to="tenants.tenant",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
