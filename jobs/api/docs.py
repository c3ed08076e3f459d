"""API documentation pages that need no third-party host: the service must work offline.

Swagger UI and Redoc come from drf-spectacular-sidecar (local static files). drf-spectacular's
Redoc page also links Google Fonts; this one is the same page without them (Redoc then uses
the browser's fonts).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpResponse
from django.template import engines
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.request import Request

_REDOC_HEAD = """{% extends "drf_spectacular/redoc.html" %}
{% block head %}
    <title>{{ title|default:"Redoc" }}</title>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
      body { margin: 0; padding: 0; }
    </style>
{% endblock head %}
"""


@cache
def _redoc_template() -> Any:
    return engines["django"].from_string(_REDOC_HEAD)


class OfflineRedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        context = super().get(request, *args, **kwargs).data
        return HttpResponse(_redoc_template().render(context, request))
