"""Settings, all from the environment, with embedded defaults that run standalone.

Without any variable set the service uses SQLite, Celery's filesystem transport, the local
database-backed integrations, PDFs under var/media and emails as .eml files under var/mail.
Production sets DATABASE_URL, CELERY_BROKER_URL, an email backend and, if wanted, a storage.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.keyfiles import read_or_create_key

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

# --- secrets --------------------------------------------------------------------------------
# No key that appears in the source is ever used. Production (DATABASE_URL set; the Docker
# image sets REQUIRE_ENV_SECRETS) takes SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS from the
# environment and refuses to start without them: web, worker, beat and every manage.py command
# import these settings. The embedded defaults generate both once per installation under
# VAR_DIR (mode 0600) and reuse them.
REQUIRE_ENV_SECRETS = env_bool("REQUIRE_ENV_SECRETS", bool(os.environ.get("DATABASE_URL")))


def _missing(name: str, example: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{name} is not set. With DATABASE_URL (production) or REQUIRE_ENV_SECRETS it must come from "
        f"the environment; generate one with: {example}"
    )


_SECRET_KEY_EXAMPLE = "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
_FERNET_KEY_EXAMPLE = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip()
if not SECRET_KEY:
    if REQUIRE_ENV_SECRETS:
        raise _missing("SECRET_KEY", _SECRET_KEY_EXAMPLE)
    SECRET_KEY = read_or_create_key(VAR_DIR / "secret_key", generate=lambda: secrets.token_urlsafe(64))
# Old keys, newest first, still accepted for signatures (download links, sessions) while rotating.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

# Fernet keys encrypting stored client secrets of outside services (integrations/credentials.py),
# newest first: older ones still decrypt, so keys can be rotated. Never derived from SECRET_KEY.
CREDENTIALS_ENCRYPTION_KEYS = env_list("CREDENTIALS_ENCRYPTION_KEYS", [])
if not CREDENTIALS_ENCRYPTION_KEYS:
    if REQUIRE_ENV_SECRETS:
        raise _missing("CREDENTIALS_ENCRYPTION_KEYS", _FERNET_KEY_EXAMPLE)
    CREDENTIALS_ENCRYPTION_KEYS = [
        read_or_create_key(VAR_DIR / "credentials_key", generate=lambda: Fernet.generate_key().decode())
    ]
for _position, _key in enumerate(CREDENTIALS_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key.encode())
    except ValueError:
        # The message names the position, never the value: it is a secret.
        raise ImproperlyConfigured(
            f"CREDENTIALS_ENCRYPTION_KEYS: key {_position} is not a Fernet key (32 url-safe base64-encoded "
            f"bytes); generate one with: {_FERNET_KEY_EXAMPLE}"
        ) from None

# --- hosts and HTTPS ------------------------------------------------------------------------
# Absolute URLs (downloadLink, the document URL written back to Emporix) are built from
# PUBLIC_BASE_URL when it is set; otherwise from the request's Host header, which Django checks
# against ALLOWED_HOSTS (a Host not listed answers 400).
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
if PUBLIC_BASE_URL and (_public.scheme not in {"http", "https"} or not _public.hostname):
    raise ImproperlyConfigured(
        f"PUBLIC_BASE_URL must be an absolute http(s) URL such as https://invoices.example.com, not {PUBLIC_BASE_URL!r}"
    )
PUBLIC_HTTPS = _public.scheme == "https"
_public_hosts = []
if _public.hostname:
    # ALLOWED_HOSTS writes IPv6 literals in brackets; urlsplit's hostname drops them.
    _public_hosts = [f"[{_public.hostname}]" if ":" in _public.hostname else _public.hostname]
ALLOWED_HOSTS = [
    *env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"]),
    *_public_hosts,
]
CSRF_TRUSTED_ORIGINS = [
    *env_list("CSRF_TRUSTED_ORIGINS", []),
    *([f"{_public.scheme}://{_public.netloc}"] if PUBLIC_BASE_URL else []),
]


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """'HTTP_X_FORWARDED_PROTO,https' -> the (META key, value) pair Django expects, or None."""
    if not value.strip():
        return None
    name, _, expected = (part.strip() for part in value.partition(","))
    if not name.startswith("HTTP_") or not expected:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER must be '<META name>,<value>', e.g. 'HTTP_X_FORWARDED_PROTO,https'"
        )
    return name, expected


# Only set it behind a proxy that always sets (and never passes through) this header: anyone
# who can send it directly makes a plain-HTTP request look secure.
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# Redirecting needs to know the original scheme; without the proxy header it would loop.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PUBLIC_HTTPS and SECURE_PROXY_SSL_HEADER is not None)
SECURE_REDIRECT_EXEMPT = [r"^health$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PUBLIC_HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PUBLIC_HTTPS)
# HSTS (RFC 6797): sent only on HTTPS responses. includeSubDomains covers the hosts below the
# service's own host; preload only matters once the registrable domain is submitted for it.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PUBLIC_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PUBLIC_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

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
    "axes",
    # Ours, bottom layer first (README, "Where a change goes"); `core` is a plain package.
    "tenants",
    "integrations",
    "invoicing",
    "jobs",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.limits.RequestLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-axes wants to be last: it turns a login attempt flagged as locked out into its 429.
    "axes.middleware.AxesMiddleware",
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
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DB_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a statement run 5 times on a connection prepared
        # there (psycopg's prepare_threshold; Django's OPTIONS "server_side_binding"): PostgreSQL
        # then parses and plans each of the pipeline's statements once per connection, not on
        # every step, and psycopg stops quoting parameters into the SQL text. About 40 % less
        # PostgreSQL CPU per invoice (README, "Throughput"). Prepared statements belong to one
        # server connection: behind PgBouncer in transaction mode before 1.21 (or without its
        # max_prepared_statements), set DB_PREPARED_STATEMENTS=false.
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
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

# --- admin login --------------------------------------------------------------------------------
# Django's four standard validators, for every password set through the admin or manage.py.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes throttles the admin login: after ADMIN_LOGIN_FAILURE_LIMIT failed attempts for one
# username from one IP address, that pair is locked out for ADMIN_LOGIN_COOLOFF_MINUTES (429).
# Per username *and* IP, so a guesser elsewhere cannot lock a colleague out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses a locked-out pair before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # no banner at every process start; failures and lockouts are still logged
# Behind N reverse proxies the client is the Nth address from the right of X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
# What the customer reads (PDF, email) is translated into their language (invoicing.i18n); the
# console stays in English (no LocaleMiddleware). The catalogues live in locale/ and are kept
# in the repo, .po and compiled .mo (README, "Languages"); these are the languages they cover.
USE_I18N = True
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("es", "Español"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("pt", "Português"),
    ("sv", "Svenska"),
    ("cs", "Čeština"),
    ("da", "Dansk"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
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
elif CELERY_BROKER_URL.startswith(("redis", "sentinel")):  # redis://, rediss://, sentinel://
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis redelivers an unacknowledged task (worker killed) only after this timeout; it
        # must exceed the longest task plus its retry countdown, or a slow task runs twice.
        # Recovery does not wait for it: the reconciler re-sends a dead worker's steps within
        # seconds (WORKER_DEAD_AFTER below), and the copy Redis restores later is stale and
        # does nothing (jobs.services.step_run). So long is harmless, and short is risky.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900),
        # kombu sweeps for such messages every interval x throttle seconds (default 10 x 10):
        # a scan every 10 s makes redelivery follow the visibility timeout closely.
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": 1,
    }
elif CELERY_BROKER_URL.startswith(("amqp", "pyamqp")):  # RabbitMQ: amqp://, amqps://, pyamqp://
    # RabbitMQ has no visibility timeout: an unacknowledged message goes back to the queue the
    # moment its consumer's channel or connection closes (AMQP 0-9-1 basic.ack; RabbitMQ guide
    # "Consumer Acknowledgements and Publisher Confirms"), so with task_acks_late a killed
    # worker's steps, running or only prefetched, reach another worker at once.
    # Publisher confirms: publishing waits until RabbitMQ has taken the message, so a broker
    # restart cannot silently drop the next-step message of an order.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
    # RabbitMQ closes a channel whose consumer holds a delivery unacknowledged longer than its
    # consumer_timeout (default 30 min, rabbitmq.conf), and redelivers everything the channel
    # held. Workers hold a retry's ETA message unacknowledged until it is due and then run it,
    # so consumer_timeout must exceed INVOICE_RETRY_MAX_DELAY + CELERY_TASK_TIME_LIMIT (10 min
    # with the defaults). Never disable it (0): it is the net for a hung consumer.
# AMQP heartbeats (RabbitMQ only; Redis ignores it): a worker whose machine vanished, without
# closing its TCP connections, is found dead after about two missed heartbeats, and only then
# are its messages redelivered. RabbitMQ uses the smaller of this and its own `heartbeat`
# (default 60 s); 20 s keeps a lost machine's orders within the 60 s recovery bound.
CELERY_BROKER_HEARTBEAT = env_int("CELERY_BROKER_HEARTBEAT", 20)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "invoice")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Workers keep their database connections across tasks (CONN_MAX_AGE, CONN_HEALTH_CHECKS; see
# jobs/workers.py). Celery's fixup would otherwise close them around every task; with this set
# it closes them only every so many tasks of a process.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Recovery from a dead worker (kill -9, OOM, a lost machine; jobs/workers.py): every worker
# writes a heartbeat row this often; one not written for WORKER_DEAD_AFTER seconds is dead, and
# the reconciler (every INVOICE_RECONCILE_INTERVAL seconds) re-sends the steps it held. A dead
# worker's orders are sent again at most WORKER_DEAD_AFTER + INVOICE_RECONCILE_INTERVAL seconds
# after it died. WORKER_DEAD_AFTER must be a few heartbeats: a live worker must never look dead.
WORKER_HEARTBEAT_INTERVAL = env_int("WORKER_HEARTBEAT_INTERVAL", 5)
WORKER_DEAD_AFTER = env_int("WORKER_DEAD_AFTER", 15)
INVOICE_RECONCILE_INTERVAL = env_int("INVOICE_RECONCILE_INTERVAL", 10)

# --- the invoice service ----------------------------------------------------------------------
INVOICE_MAX_ORDER_IDS = env_int("INVOICE_MAX_ORDER_IDS", 1000)
# Largest request body; above it the answer is 413 (core/limits.py). Django checks its own limit
# lazily when a view reads the body (DRF parses JSON from request.body), so both are one number.
INVOICE_MAX_BODY_BYTES = env_int("INVOICE_MAX_BODY_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INVOICE_MAX_BODY_BYTES
INVOICE_DOWNLOAD_LINK_TTL = env_int("INVOICE_DOWNLOAD_LINK_TTL", 7 * 24 * 3600)  # seconds
# Transient faults (5xx, timeouts, lost connections) are retried this often, with exponential
# backoff from INVOICE_RETRY_BASE_DELAY seconds (capped, with jitter), before the order fails.
INVOICE_STEP_MAX_RETRIES = env_int("INVOICE_STEP_MAX_RETRIES", 5)
INVOICE_RETRY_BASE_DELAY = env_int("INVOICE_RETRY_BASE_DELAY", 5)
INVOICE_RETRY_MAX_DELAY = env_int("INVOICE_RETRY_MAX_DELAY", 300)
# AUTOMATIC jobs read the matching orders this many at a time (Emporix pageSize).
INVOICE_AUTOMATIC_PAGE_SIZE = env_int("INVOICE_AUTOMATIC_PAGE_SIZE", 100)
INVOICE_AUTOMATIC_MAX_ATTEMPTS = env_int("INVOICE_AUTOMATIC_MAX_ATTEMPTS", 5)  # failed runs, then it waits
# An order whose step has not moved for this long is re-dispatched by the reconciler.
INVOICE_STUCK_AFTER = env_int("INVOICE_STUCK_AFTER", 600)

# --- Emporix backends ----------------------------------------------------------------------------
EMPORIX_CONNECT_TIMEOUT = float(os.environ.get("EMPORIX_CONNECT_TIMEOUT", "5"))
EMPORIX_READ_TIMEOUT = float(os.environ.get("EMPORIX_READ_TIMEOUT", "20"))
# Tokens are renewed this many seconds before Emporix says they expire.
EMPORIX_TOKEN_MARGIN = env_int("EMPORIX_TOKEN_MARGIN", 120)
# Site settings (seller data, logo) are read at most this often per worker process.
EMPORIX_SITE_CACHE_SECONDS = env_int("EMPORIX_SITE_CACHE_SECONDS", 300)
EMPORIX_LOGO_MAX_BYTES = env_int("EMPORIX_LOGO_MAX_BYTES", 2 * 1024 * 1024)
# Wall-clock limit for a whole logo download (connect, redirects, every read), not per read.
EMPORIX_LOGO_DEADLINE = float(os.environ.get("EMPORIX_LOGO_DEADLINE", "10"))
# Outbound calls (Emporix base URL, logo URLs) refuse loopback, private, link-local and other
# non-public addresses, and the base URL must be https. Set only for local and test setups.
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env_bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", False)
# Schema URL of the invoice mixin written back onto orders (mixins.invoice {invoiceNo,
# invoiceDocument}). Empty: the schema this service serves itself, under PUBLIC_BASE_URL.
EMPORIX_INVOICE_MIXIN_SCHEMA_URL = os.environ.get("EMPORIX_INVOICE_MIXIN_SCHEMA_URL", "")
# Sequential ID schema type credit note numbers are drawn from (Emporix has no type of its own
# for them; create and activate a schema of this type per tenant, e.g. preText "CN").
EMPORIX_CREDIT_NOTE_SEQUENCE = os.environ.get("EMPORIX_CREDIT_NOTE_SEQUENCE", "creditNoteNoSequence")

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jobs.api.auth.TenantTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["jobs.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.http_errors.exception_handler",
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
    # names for the enums of the correction endpoints (drf-spectacular would call them StatusEnum, TypeEnum)
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": ["ISSUED", "CANCELLED"],
        "CreditNoteTypeEnum": ["CANCELLATION", "LINES", "AMOUNTS"],
    },
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
    # Client secrets are 256 random bits: a keyed fast hash suffices (jobs/api/hashers.py).
    "CLIENT_SECRET_HASHER": "client_hmac_sha256",
    # RFC 9700 §4.3.2: never an access token in the URL (jobs/api/auth.py answers 401 itself).
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # RFC 9700 (OAuth 2.0 Security BCP): store only a checksum of each token, so a database leak
    # gives no usable token. The other flags concern grants this service does not offer (implicit,
    # password, authorization code), set so that `check --deploy` has nothing to flag.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
# Django's hashers (the first one for user passwords), plus the one for client secrets; PBKDF2
# stays so that client secrets hashed with it before still verify (and are re-hashed on use).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "jobs.api.hashers.ClientSecretHasher",
]
# POST /oauth/token: after this many failed attempts (401) for one client id, or from one address,
# within TOKEN_FAILURE_WINDOW seconds, requests get 429 with Retry-After (jobs/api/throttling.py).
TOKEN_FAILURE_LIMIT_PER_CLIENT = env_int("TOKEN_FAILURE_LIMIT_PER_CLIENT", 10)
TOKEN_FAILURE_LIMIT_PER_ADDRESS = env_int("TOKEN_FAILURE_LIMIT_PER_ADDRESS", 30)
TOKEN_FAILURE_WINDOW = env_int("TOKEN_FAILURE_WINDOW", 300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Celery logs each task received and each task succeeded at INFO: two lines per step, seven
        # steps per invoice, on the hot path of every worker. Failures are still logged (ERROR),
        # and a step's retry is noted on its order. CELERY_TASK_LOG_LEVEL=INFO brings them back.
        "celery.app.trace": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        "celery.worker.strategy": {"level": os.environ.get("CELERY_TASK_LOG_LEVEL", "WARNING")},
        # A request for a host not in ALLOWED_HOSTS gets 400; scanners send many, so no traceback each.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
    },
}

# django-oauth-toolkit's models are swappable; the FK from jobs.ApiClient needs the names set.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
