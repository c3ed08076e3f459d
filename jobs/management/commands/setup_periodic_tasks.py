from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from jobs.schedules import periodic_tasks_sync


class Command(BaseCommand):
    help = "Create or update the service's periodic tasks (run at every deploy)."

    def handle(self, *args: Any, **options: Any) -> None:
        for task in periodic_tasks_sync():
            self.stdout.write(f"periodic task: {task.name}")
