"""Invoice: the e-invoice validation reports of the issued document, per format (issue 12).

A constant default: PostgreSQL adds the column without rewriting the table or blocking its writes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0009_vat_categories"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="einvoice_report",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
