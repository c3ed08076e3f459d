"""Errors shared by every layer: what went wrong, said so that a client or an operator can read it.

An adapter (integrations) raises them for what the services around us answer; the invoicing
steps raise them for what they find. `TransientError` is retried with backoff
(core.retrying); `PermanentError` fails the order at once with its message.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base class. `message` is safe to show to an API client or an operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(IntegrationError):
    """A fault that may go away: 5xx, timeout, lost connection. The step is retried with backoff."""


class PermanentError(IntegrationError):
    """A fault that retrying cannot fix (4xx, invalid data, declined). The order fails at once."""


class NotFound(PermanentError):
    pass
