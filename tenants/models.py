"""The tenant: one merchant, its backend (local or Emporix), its seller details and defaults.

Every other app points at it, so it sits at the bottom of the layers (only `core` below).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import MaxValueValidator, MinLengthValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length

from core.credentials import decrypt_secret, encrypt_secret
from core.outbound import base_url_problem

TENANT_CODE_PATTERN = r"^[a-z][a-z0-9]+$"
tenant_code_validator = RegexValidator(
    TENANT_CODE_PATTERN, "A tenant code is lowercase letters and digits, starting with a letter."
)

DEFAULT_PAYMENT_TERMS = "Payable within 14 days of the invoice date without deduction."

# The tenant-adjustable part of the VAT treatment (invoicing.vat reads it; validated here, where
# it is entered). A tax code can fix its category to one that the countries cannot tell:
# S standard/reduced, Z zero rated, E exempt (Art. 132-137 VAT Directive), AE reverse charge
# (e.g. domestic, Art. 199/199a), O not subject to VAT. K (intra-Community supply, Art. 138) and
# G (export, Art. 146) follow from the countries and are never fixed by a tax code.
TAX_CODE_CATEGORIES = ("S", "Z", "E", "AE", "O")
SUPPLY_KINDS = ("goods", "services")
_TREATMENT_KEYS = {"category", "supply", "reference"}
MAX_REFERENCE_LENGTH = 200


def vat_treatments_problems(value: Any) -> list[str]:
    """What is wrong with a `vat_treatments` value, each problem a sentence ([] when valid)."""
    if value in (None, ""):
        return []
    if not isinstance(value, dict):
        return ['must be an object like {"tax_codes": {...}, "supply": "goods"}']
    problems = []
    unknown = sorted(set(value) - {"tax_codes", "supply"})
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}: allowed are tax_codes and supply")
    if "supply" in value and value["supply"] not in SUPPLY_KINDS:
        problems.append(f"supply must be goods or services, not {value['supply']!r}")
    codes = value.get("tax_codes", {})
    if not isinstance(codes, dict):
        problems.append("tax_codes must be an object of tax code -> treatment")
        return problems
    for code, treatment in codes.items():
        where = f"tax code {code!r}"
        if not str(code).strip():
            problems.append("a tax code must not be empty")
        if not isinstance(treatment, dict):
            problems.append(f'{where}: the treatment must be an object like {{"category": "E"}}')
            continue
        extra = sorted(set(treatment) - _TREATMENT_KEYS)
        if extra:
            problems.append(
                f"{where}: unknown key(s) {', '.join(extra)}: allowed are category, supply and reference"
            )
        category = treatment.get("category", "")
        if category and category not in TAX_CODE_CATEGORIES:
            hint = (
                " (K and G follow from the seller's and buyer's countries)" if category in ("K", "G") else ""
            )
            problems.append(
                f"{where}: category must be one of {', '.join(TAX_CODE_CATEGORIES)}, not {category!r}{hint}"
            )
        if "supply" in treatment and treatment["supply"] not in SUPPLY_KINDS:
            problems.append(f"{where}: supply must be goods or services, not {treatment['supply']!r}")
        reference = treatment.get("reference", "")
        if not isinstance(reference, str) or len(reference) > MAX_REFERENCE_LENGTH:
            problems.append(f"{where}: reference must be a text of at most {MAX_REFERENCE_LENGTH} characters")
    return problems


# "within 30 days" in an English payment terms text, to catch terms that contradict payment_days
_TERMS_DAYS = re.compile(r"\b(\d{1,3})\s+days?\b", re.IGNORECASE)


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
        max_length=300,
        blank=True,
        default=DEFAULT_PAYMENT_TERMS,
        help_text="Printed as written; left at the default, the invoice prints it in the customer's language.",
    )
    payment_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MaxValueValidator(365)],
        help_text="Days from the invoice date to the due date of an invoice paid by bank transfer.",
    )
    vat_treatments = models.JSONField(
        "VAT treatments",
        default=dict,
        blank=True,
        help_text=(
            'How order tax codes map to VAT categories, e.g. {"tax_codes": {"MEDICAL": {"category": "E", '
            '"reference": "Art. 132(1)(c) VAT Directive"}, "CONSULTING": {"supply": "services"}}, '
            '"supply": "goods"}; empty: the defaults (README "VAT treatments").'
        ),
    )
    einvoice_validation = models.BooleanField(
        "validate e-invoices",
        default=True,
        help_text=(
            "Validate every invoice's EN 16931 e-invoice (Factur-X, and XRechnung where the buyer asks "
            "for it) against the official rules before payment capture and numbering, and again when it "
            "is issued. An order whose e-invoice the rules reject fails before anything is charged."
        ),
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
            models.CheckConstraint(condition=Q(payment_days__lte=365), name="tenant_payment_days_max"),
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
        errors: dict[str, str] = {}
        problems = vat_treatments_problems(self.vat_treatments)
        if problems:
            errors["vat_treatments"] = "The VAT treatments are not valid: " + "; ".join(problems) + "."
        stated = _TERMS_DAYS.search(self.payment_terms or "")
        if stated and int(stated.group(1)) != self.payment_days:
            errors["payment_terms"] = (
                f"The payment terms say {stated.group(1)} days, but the due date is computed with "
                f"{self.payment_days} payment days; make them agree."
            )
        if errors:
            raise ValidationError(errors)

    def set_emporix_client_secret(self, secret: str) -> None:
        self.emporix_client_secret_encrypted = encrypt_secret(secret)

    # Not named emporix_client_secret: the admin form has a write-only field of that name, and on
    # a read-only page Django would render a same-named model attribute, i.e. the secret.
    def decrypted_emporix_client_secret(self) -> str:
        return decrypt_secret(self.emporix_client_secret_encrypted)


# Length() must be registered for the __length lookup used in the constraint above.
models.CharField.register_lookup(Length)
