"""Tenant, OrderAttention and AutomaticOrderPick leave invoicing (state only), and their content
types follow them, so the permissions people and groups hold on them stay theirs."""

import django.db.models.deletion
from django.db import migrations, models


# (model, old app, new app): frozen here, as a migration must be
MOVED = (
    ("tenant", "invoicing", "tenants"),
    ("orderattention", "invoicing", "jobs"),
    ("automaticorderpick", "invoicing", "jobs"),
)


def _rename(apps, *, forwards):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old, new in MOVED:
        source, target = (old, new) if forwards else (new, old)
        # a fresh database has no content types yet (post_migrate creates them under the new app)
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def _content_types_follow(apps, schema_editor):
    _rename(apps, forwards=True)


def _content_types_go_back(apps, schema_editor):
    _rename(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("integrations", "0004_tenant_moved"),
        ("jobs", "0009_attention_moved_in"),
        ("invoicing", "0007_order_attention"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        # The tables stay where they are: only Django's idea of which app owns what moves.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="automaticorderpick",
                    name="job_order",
                ),
                migrations.RemoveIndex(
                    model_name="orderattention",
                    name="attention_tenant_updated_idx",
                ),
                migrations.RemoveConstraint(
                    model_name="orderattention",
                    name="one_attention_per_order",
                ),
                migrations.RemoveConstraint(
                    model_name="tenant",
                    name="tenant_code_length",
                ),
                migrations.AlterField(
                    model_name="invoiceevent",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="paymentcapture",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="captures",
                        to="tenants.tenant",
                    ),
                ),
                migrations.AlterField(
                    model_name="invoice",
                    name="tenant",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invoices",
                        to="tenants.tenant",
                    ),
                ),
                migrations.DeleteModel(
                    name="AutomaticOrderPick",
                ),
                migrations.DeleteModel(
                    name="OrderAttention",
                ),
                migrations.DeleteModel(
                    name="Tenant",
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(_content_types_follow, _content_types_go_back),
    ]
