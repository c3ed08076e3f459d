"""The API's JSON parser: DRF's, plus the checks that keep a body storable and walkable.

`json.loads` raises RecursionError on deeply nested input (DRF would answer 500), and accepts
what PostgreSQL cannot store: NUL characters and unpaired surrogates in strings, and numbers
such as 1e400 that parse as infinity. Each is answered 400 here, naming where it is.
"""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser

from core.http_errors import ApiError, field_errors_text
from core.limits import MAX_JSON_DEPTH, json_problems


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ApiError(
                400,
                "The JSON in the request body is nested too deeply.",
                f"At most {MAX_JSON_DEPTH} levels of arrays and objects are accepted.",
            ) from exc
        problems = json_problems(data)
        if problems:
            nested = any("nested" in problem["message"] for problem in problems)
            raise ApiError(
                400,
                "The JSON in the request body is nested too deeply."
                if nested
                else "The JSON in the request body has values that cannot be stored.",
                field_errors_text(problems, blank="(body)"),
                problems,
            )
        return data
