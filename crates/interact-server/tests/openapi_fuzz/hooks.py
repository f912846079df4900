"""Schemathesis checks for the admin API's fuzz test (tests/openapi_fuzz.rs).

`json_error_with_code`: every 4xx answer is a JSON error the way the admin API documents
them, `{"error": {"code": "<lower_snake_case>", "message": "<text>"}}` with
`Content-Type: application/json`, whatever the request was (a bad path, query, body,
method or token).
"""

import json
import re

import schemathesis

CODE = re.compile(r"^[a-z_]+$")


@schemathesis.check
def json_error_with_code(ctx, response, case):
    """A 4xx answer is `application/json` of `{"error": {"code", "message"}}`."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = ",".join(response.headers.get("content-type", []))
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise AssertionError(
            f"a {response.status_code} answer is not application/json but "
            f"{content_type or 'without Content-Type'}: {response.content[:200]!r}"
        )
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"a {response.status_code} answer is not JSON ({e})") from None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise AssertionError(f'a {response.status_code} answer has no "error" object: {body!r}')
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not CODE.match(code):
        raise AssertionError(f"a {response.status_code} error has no code: {body!r}")
    if not isinstance(message, str):
        raise AssertionError(f"a {response.status_code} error has no message: {body!r}")
    return None
