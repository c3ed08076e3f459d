"""The tenant: one merchant, its backend (local or Emporix), its seller details and defaults.

Every other app points at it, so it sits at the bottom of the layers (only `core` below).
"""

from __future__ import annotations

from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length

from core.credentials import decrypt_secret, encrypt_secret
from core.outbound import base_url_problem

TENANT_CODE_PATTERN = r"^[a-z][a-z0-9]+$"
tenant_code_validator = RegexValidator(
    TENANT_CODE_PATTERN, "A tenant code is lowercase letters and digits, starting with a letter."
)


class Tenant(models.Model):
    class Backend(models.TextChoices):
        LOCAL = "local", "Local (database-backed)"
        EMPORIX = "emporix", "Emporix APIs"

    code = models.CharField(
        max_length=16, unique=True, validators=[tenant_code_validator, MinLengthValidator(3)]
    )
    name = models.CharField(max_length=200)
    active = models.BooleanField(default=True)
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.LOCAL)

    # Connection to the Emporix APIs (backend "emporix"). The secret is stored encrypted
    # (core.credentials) and never shown again.
    emporix_base_url = models.URLField("Emporix API base URL", blank=True, default="https://api.emporix.io")
    emporix_client_id = models.CharField("Emporix client id", max_length=200, blank=True)
    emporix_client_secret_encrypted = models.TextField(blank=True, editable=False)
    emporix_site_code = models.CharField(
        "Emporix site code",
        max_length=100,
        blank=True,
        help_text="empty: the order's site, else the default site",
    )
    emporix_number_placeholders = models.JSONField(
        "invoice number placeholders",
        default=dict,
        blank=True,
        help_text='sent with every nextId call, e.g. {"__num__": ""} for the tutorial\'s INV__num__ schema',
    )

    # Seller details printed on every invoice (the local backend's "site settings").
    legal_name = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200, blank=True)
    street_number = models.CharField(max_length=20, blank=True)
    zip_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. DE")
    vat_id = models.CharField("VAT ID", max_length=40, blank=True)
    tax_number = models.CharField(max_length=40, blank=True)
    iban = models.CharField("IBAN", max_length=40, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    email_sender = models.EmailField(blank=True, help_text="From address of invoice emails")
    phone = models.CharField(max_length=40, blank=True)
    website = models.CharField(max_length=200, blank=True)
    default_language = models.CharField(max_length=8, default="en")
    default_currency = models.CharField(max_length=3, default="EUR")
    time_zone = models.CharField(max_length=64, default="UTC")
    logo = models.ImageField(upload_to="logos/", blank=True)
    prices_include_tax = models.BooleanField(
        default=False,
        help_text="Gross pricing (B2C): tax per rate is taken out of the gross sum instead of added to net.",
    )
    delivery_date_source = models.CharField(
        max_length=40,
        choices=[
            (
                "deliveryWindow.deliveryDate",
                "deliveryWindow.deliveryDate (a date: from the start of that day)",
            ),
            ("mixins.deliveryTime.deliveryDate", "mixins.deliveryTime.deliveryDate (a date-time)"),
        ],
        default="deliveryWindow.deliveryDate",
        help_text="The delivery date AUTOMATIC jobs count the threshold from; orders without it are not invoiced.",
    )
    payment_terms = models.CharField(
        max_length=300, blank=True, default="Payable within 14 days of the invoice date without deduction."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # the table keeps the name it had when Tenant lived in invoicing (migration tenants 0001)
        db_table = "invoicing_tenant"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__length__gte=3) & Q(code__length__lte=16), name="tenant_code_length"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.backend == self.Backend.EMPORIX:
            missing = {
                name: "required for the Emporix backend"
                for name in ("emporix_base_url", "emporix_client_id")
                if not getattr(self, name)
            }
            if missing:
                raise ValidationError(missing)
            # https only, no internal addresses (SSRF); the client checks again per request
            problem = base_url_problem(self.emporix_base_url)
            if problem:
                raise ValidationError({"emporix_base_url": f"The Emporix base URL {problem}."})

    def set_emporix_client_secret(self, secret: str) -> None:
        self.emporix_client_secret_encrypted = encrypt_secret(secret)

    # Not named emporix_client_secret: the admin form has a write-only field of that name, and on
    # a read-only page Django would render a same-named model attribute, i.e. the secret.
    def decrypted_emporix_client_secret(self) -> str:
        return decrypt_secret(self.emporix_client_secret_encrypted)


# Length() must be registered for the __length lookup used in the constraint above.
models.CharField.register_lookup(Length)
