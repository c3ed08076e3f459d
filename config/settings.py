"""Settings, all from the environment, with embedded defaults that run standalone.

Without any variable set the service uses SQLite, Celery's filesystem transport, the local
database-backed integrations, PDFs under var/media and emails as .eml files under var/mail.
Production sets DATABASE_URL, CELERY_BROKER_URL, an email backend and, if wanted, a storage.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The embedded default only serves a local demo; `manage.py check --deploy` flags it (prefix).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-demo-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Absolute base of download links when the service sits behind a proxy; else the request's host.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "django_celery_beat",
    "anymail",
    "invoicing",
    "integrations",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.limits.RequestLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if os.environ.get("TEST_DATABASE_NAME"):
        # scripts/with-test-services gives each test run its own database.
        DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DATABASE_NAME"]}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "invoice.sqlite3"),
            # Web, worker and beat share the file: WAL lets readers run beside the writer, the
            # busy timeout makes a writer wait instead of failing, IMMEDIATE avoids upgrade deadlocks.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic in the embedded mode
STORAGES = {
    # Any Django storage works for PDFs and logos (S3 via django-storages: set STORAGE_BACKEND).
    "default": {"BACKEND": os.environ.get("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- email ----------------------------------------------------------------------------------
# Default: every message is written as one .eml file under var/mail. Production: an anymail
# backend (e.g. anymail.backends.postmark.EmailBackend with ANYMAIL settings) or SMTP.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "invoicing.mail.EmlFileBackend")
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "invoices@localhost")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value for key, value in os.environ.items() if key.startswith("ANYMAIL_")
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
_broker_dir = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),  # kombu's default is ./control in the cwd
        # kombu polls the folder, by default once a second; with prefetch 1 that would cap the
        # embedded mode at a task per second per process. A directory listing is cheap.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis redelivers an unacknowledged task (worker killed) only after this timeout; it
        # must exceed the longest task plus its retry countdown, or a slow task runs twice.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
        # kombu sweeps for such messages every interval x throttle seconds (default 10 x 10):
        # a scan every 10 s makes redelivery follow the visibility timeout closely.
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "invoice")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- the invoice service ----------------------------------------------------------------------
INVOICE_MAX_ORDER_IDS = env_int("INVOICE_MAX_ORDER_IDS", 1000)
INVOICE_DOWNLOAD_LINK_TTL = env_int("INVOICE_DOWNLOAD_LINK_TTL", 7 * 24 * 3600)  # seconds
# Transient faults (5xx, timeouts, lost connections) are retried this often, with exponential
# backoff from INVOICE_RETRY_BASE_DELAY seconds (capped, with jitter), before the order fails.
INVOICE_STEP_MAX_RETRIES = env_int("INVOICE_STEP_MAX_RETRIES", 5)
INVOICE_RETRY_BASE_DELAY = env_int("INVOICE_RETRY_BASE_DELAY", 5)
INVOICE_RETRY_MAX_DELAY = env_int("INVOICE_RETRY_MAX_DELAY", 300)
# AUTOMATIC jobs read the matching orders this many at a time (Emporix pageSize).
INVOICE_AUTOMATIC_PAGE_SIZE = env_int("INVOICE_AUTOMATIC_PAGE_SIZE", 100)
# An order whose step has not moved for this long is re-dispatched by the reconciler.
INVOICE_STUCK_AFTER = env_int("INVOICE_STUCK_AFTER", 600)

# --- Emporix backends ----------------------------------------------------------------------------
CREDENTIALS_ENCRYPTION_KEYS = env_list("CREDENTIALS_ENCRYPTION_KEYS", [])
EMPORIX_CONNECT_TIMEOUT = float(os.environ.get("EMPORIX_CONNECT_TIMEOUT", "5"))
EMPORIX_READ_TIMEOUT = float(os.environ.get("EMPORIX_READ_TIMEOUT", "20"))
# Tokens are renewed this many seconds before Emporix says they expire.
EMPORIX_TOKEN_MARGIN = env_int("EMPORIX_TOKEN_MARGIN", 120)
# Site settings (seller data, logo) are read at most this often per worker process.
EMPORIX_SITE_CACHE_SECONDS = env_int("EMPORIX_SITE_CACHE_SECONDS", 300)
EMPORIX_LOGO_MAX_BYTES = env_int("EMPORIX_LOGO_MAX_BYTES", 2 * 1024 * 1024)
# Schema URL of the invoice mixin written back onto orders (mixins.invoice {invoiceNo,
# invoiceDocument}). Empty: the schema this service serves itself, under PUBLIC_BASE_URL.
EMPORIX_INVOICE_MIXIN_SCHEMA_URL = os.environ.get("EMPORIX_INVOICE_MIXIN_SCHEMA_URL", "")

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jobs.api.auth.TenantTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Invoice Service",
    "DESCRIPTION": "Creates invoice jobs for orders and reports per-order results.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

SCOPE_INVOICE_MANAGE = "invoice.invoice_manage"
SCOPE_INVOICE_READ = "invoice.invoice_read"
SCOPE_ORDER_MANAGE = "invoice.order_manage"
OAUTH2_PROVIDER = {
    "SCOPES": {
        SCOPE_INVOICE_MANAGE: "Create and read invoice jobs",
        SCOPE_INVOICE_READ: "Read invoice jobs",
        SCOPE_ORDER_MANAGE: "Write orders to the local order store",
    },
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("ACCESS_TOKEN_EXPIRE_SECONDS", 14399),
    "OAUTH2_VALIDATOR_CLASS": "jobs.api.oauth.TenantOAuth2Validator",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# django-oauth-toolkit's models are swappable; the FK from jobs.ApiClient needs the names set.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
