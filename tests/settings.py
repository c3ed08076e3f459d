"""Settings for the test suite: the real settings, pointed at throwaway places.

Tests run against PostgreSQL and Redis (scripts/with-test-services provides them). Values are
put into os.environ so that worker processes started by end-to-end tests inherit the same ones.
"""

import os
import tempfile
import uuid

os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:10])
if "VAR_DIR" not in os.environ:
    # removed again at the end of the session (tests/conftest.py); worker processes inherit it
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix=f"invoice-test-{os.environ['TEST_RUN_ID']}-")
    os.environ["TEST_VAR_DIR_OWNER"] = str(os.getpid())
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"invoice-test-{os.environ['TEST_RUN_ID']}")
os.environ.setdefault("PUBLIC_BASE_URL", "http://testserver")

from config.settings import *  # noqa: F403

EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Client secrets and admin passwords are hashed; the production hasher is slow on purpose.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
INVOICE_RETRY_BASE_DELAY = int(os.environ.get("INVOICE_RETRY_BASE_DELAY", "1"))
INVOICE_RETRY_MAX_DELAY = int(os.environ.get("INVOICE_RETRY_MAX_DELAY", "2"))
INVOICE_STEP_MAX_RETRIES = int(os.environ.get("INVOICE_STEP_MAX_RETRIES", "3"))
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405
