"""The embedded email backend: every message becomes one .eml file under EMAIL_FILE_PATH.

A mail client opens the files directly, attachments included. Production uses an anymail
backend or SMTP instead (EMAIL_BACKEND).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *args: Any, file_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            message.extra_headers.setdefault("Message-ID", make_msgid(domain="invoice-service.local"))
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
            final = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            partial = final.with_suffix(".part")
            partial.write_bytes(message.message().as_bytes())
            partial.rename(final)  # a reader never sees a half-written file
            sent += 1
        return sent
