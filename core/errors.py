"""Errors shared by every layer: what went wrong, said so that a client or an operator can read it.

Every error a client could be told about is a `DomainError`: it carries the HTTP status it is
answered with should it reach an API view, and for invalid input the fields at fault. One
exception handler (core.http_errors.exception_handler) turns it into the ErrorResponse, so views
raise and never catch. Outside a request (the pipeline, the console, commands) the status means
nothing: a `PermanentError` fails an order with its message, whatever its status.

An adapter (integrations) raises the IntegrationErrors for what the services around us answer;
the invoicing steps raise them for what they find. `TransientError` is retried with backoff
(core.retrying); `PermanentError` fails the order at once with its message.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An error with its HTTP answer. The ErrorResponse it becomes (core.http_errors):

    - status: `http_status` (the class's; an instance may set its own);
    - `message`: `http_message` when the class has a fixed one, else the error's `message`;
    - `detailInfo`: `detail_info`, else the field errors on one line;
    - `errors`: the field errors `[{field, message}]`, when there are any.

    `message` is safe to show to an API client or an operator.
    """

    http_status: int = 400
    http_message: ClassVar[str | None] = None
    detail_info: str = ""

    def __init__(
        self, message: str, *, detail_info: str | None = None, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if detail_info is not None:
            self.detail_info = detail_info
        self.errors: list[dict[str, str]] = errors or []


class IntegrationError(DomainError):
    """What a service around us answered, or what a step found. Base class.

    Answered 5xx, it is a dependency that failed: the answer says what the view could not do and
    gives this message as the detail (core.http_errors).
    """

    http_status = 502


class TransientError(IntegrationError):
    """A fault that may go away: 5xx, timeout, lost connection. The step is retried with backoff."""

    http_status = 503  # the dependency is away; the client may try again


class PermanentError(IntegrationError):
    """A fault that retrying cannot fix (4xx, invalid data, declined). The order fails at once.

    Reaching a view, it is an upstream refusal (502) unless a subclass says otherwise.
    """


class NotFound(PermanentError):
    http_status = 404
