"""The periodic tasks (AUTOMATIC schedules): administrators change them, operators may not."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from tests.console.helpers import PAGES, Console, form_data, login

pytestmark = pytest.mark.django_db


def test_periodic_task_change_by_administrator_saves(console: Console, administrator: Client) -> None:
    url = PAGES["periodic task page"](console)
    data = {**form_data(administrator.get(url)), "enabled": "on"}

    response = administrator.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is True


def test_periodic_task_change_by_operator_is_refused(console: Console, operator: Client) -> None:
    url = PAGES["periodic task page"](console)
    data = {**form_data(login(console.administrator).get(url)), "enabled": "on"}

    response = operator.post(url, data)

    assert response.status_code == 403
    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is False


def test_periodic_task_actions_refused_for_operators(console: Console, operator: Client) -> None:
    operator.post(
        PAGES["periodic tasks"](console),
        {"action": "enable_tasks", "_selected_action": [console.periodic_task.pk], "index": 0},
    )

    assert PeriodicTask.objects.get(pk=console.periodic_task.pk).enabled is False
