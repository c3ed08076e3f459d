"""The Celery app. Settings come from Django settings with the CELERY_ prefix."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("invoice_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker heartbeats and step-message holders (signal handlers; they act in workers only).
import jobs.workers  # noqa: E402, F401
