"""Invoice lines and tax lines keep their VAT category: one tax line per rate and category (issue 11)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0008_tenant_and_attention_moved_out"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="invoicetaxline",
            options={"ordering": ["invoice", "rate", "category"]},
        ),
        migrations.RemoveConstraint(
            model_name="invoicetaxline",
            name="unique_invoice_tax_rate",
        ),
        migrations.AddField(
            model_name="invoiceline",
            name="vat_category",
            field=models.CharField(default="S", max_length=2),
        ),
        migrations.AddField(
            model_name="invoicetaxline",
            name="category",
            field=models.CharField(default="S", max_length=2),
        ),
        migrations.AddConstraint(
            model_name="invoicetaxline",
            constraint=models.UniqueConstraint(
                fields=("invoice", "rate", "category"), name="unique_invoice_tax_rate_category"
            ),
        ),
    ]
