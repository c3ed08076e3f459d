"""Settings for the test suite: the real settings, pointed at throwaway places.

Tests run against PostgreSQL and Redis (scripts/with-test-services provides them). Values are
put into os.environ so that worker processes started by end-to-end tests inherit the same ones.
"""

import os
import secrets
import tempfile
import uuid

from cryptography.fernet import Fernet

os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])
if "VAR_DIR" not in os.environ:
    # removed again at the end of the session (tests/conftest.py); worker processes inherit it
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix=f"invoice-test-{os.environ['TEST_RUN_ID']}-")
    os.environ["TEST_VAR_DIR_OWNER"] = str(os.getpid())
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"invoice-test-{os.environ['TEST_RUN_ID']}")
os.environ.setdefault("PUBLIC_BASE_URL", "http://testserver")
os.environ.setdefault("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "1")  # fakes run on 127.0.0.1; SSRF tests unset it
# DATABASE_URL is set, so the settings want their keys from the environment: fresh ones per run,
# put there before the import so that worker processes of the end-to-end tests share them.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
os.environ.setdefault("CREDENTIALS_ENCRYPTION_KEYS", Fernet.generate_key().decode())

from config.settings import *  # noqa: F403

EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Admin passwords: production's hasher is slow on purpose, MD5 keeps the tests fast. Client
# secrets have their own fast hasher (jobs/api/hashers.py), which must stay registered.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "jobs.api.hashers.ClientSecretHasher"]
INVOICE_RETRY_BASE_DELAY = int(os.environ.get("INVOICE_RETRY_BASE_DELAY", "1"))
INVOICE_RETRY_MAX_DELAY = int(os.environ.get("INVOICE_RETRY_MAX_DELAY", "2"))
INVOICE_STEP_MAX_RETRIES = int(os.environ.get("INVOICE_STEP_MAX_RETRIES", "3"))
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405
