from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.automatic import InvoiceSettingsError, automatic_run_scheduled
from jobs.models import InvoiceJob


class Command(BaseCommand):
    help = (
        "Start an AUTOMATIC invoice job for a tenant now (workers process it); --wait follows it to the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant")
        parser.add_argument(
            "--wait", action="store_true", help="wait until the job is DONE and print its result"
        )
        parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait at most (with --wait)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            job = automatic_run_scheduled(
                tenant_code=options["tenant"], requested_by="manage.py run_automatic_job"
            )
        except InvoiceSettingsError as exc:
            raise CommandError(exc.message) from exc
        if job is None:
            raise CommandError(
                f"Not started: tenant '{options['tenant']}' is unknown or inactive, or its previous "
                "AUTOMATIC job is still in progress (see the invoice events)."
            )
        self.stdout.write(f"job {job.pk} started")
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == InvoiceJob.Status.DONE:
                self.stdout.write(
                    f"job {job.pk} DONE: {job.total_count} order(s), {job.success_count} invoiced, "
                    f"{job.failure_count} failed"
                )
                return
            time.sleep(1)
        raise CommandError(f"job {job.pk} not DONE after {options['timeout']} s (is a worker running?)")
