"""What a client of the API sees: the contract, the job URLs and the shape of an error answer.

Shared by the API tests of every package (jobs, invoicing, the secrets and hosts checks).
"""

from __future__ import annotations

from typing import Any

from tests.spec_utils import validate_against_spec

CONTRACT = "invoice-service.openapi.json"
JOBS_URL = "/invoice/{tenant}/jobs/invoices"


def job_url(tenant: str, job_id: Any) -> str:
    return f"/invoice/{tenant}/jobs/invoices/{job_id}"


def assert_error(response: Any, status: int, message_part: str) -> dict[str, Any]:
    """The answer is `status` with an ErrorResponse body whose message contains `message_part`.

    Returns the body so a test can look at detailInfo or extra fields.
    """
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    validate_against_spec(body, CONTRACT, "ErrorResponse")
    assert {"message", "code", "detailInfo"} <= body.keys(), body
    assert body["code"] == str(status), body
    assert message_part in body["message"], body
    text = response.content.decode()
    assert "Traceback" not in text and 'File "' not in text, text
    return body
