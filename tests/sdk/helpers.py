"""Assertions shared by the conformance tests."""

import json
import re

import pytest
from Tea.exceptions import TeaException

from conftest import RESPONSE_HEADERS

ISO_8601_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def check_error(expected_status, expected_code, status, headers, body):
    """An error answer as README "Behaviour decisions" describes it: this status,
    a JSON body {"code", "message", "requestid"} with this code, and the same
    request id in the `x-acs-request-id` header. Returns the body."""
    assert status == expected_status, f"expected {expected_status} {expected_code}, got {status}: {body!r}"
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            pytest.fail(f"error body is not JSON (status {status}): {body!r}")
    assert isinstance(body, dict), body
    assert (status, body.get("code")) == (expected_status, expected_code), body
    assert body.get("message"), body
    assert body.get("requestid"), body
    headers = {k.lower(): v for k, v in dict(headers or {}).items()}
    assert headers.get("x-acs-request-id") == body["requestid"], (headers, body)
    return body


def expect_error(status, code, call, *args, **kwargs):
    """Runs an SDK call that must fail with this HTTP status and DingTalk code
    (and a request id equal to the `x-acs-request-id` header). Returns the error."""
    with pytest.raises(TeaException) as caught:
        call(*args, **kwargs)
    err = caught.value
    assert err.code == code, f"expected {code}, got {err.code}: {err.message}"
    data = dict(err.data)
    headers = data.pop(RESPONSE_HEADERS, None)
    assert headers is not None, "the response headers were not recorded (conftest hook)"
    check_error(status, code, data.pop("statusCode"), headers, data)
    return err


def expect_http_error(status, code, response):
    """`response` is (status, headers, body) of a raw HTTP call (drive.put/get,
    http_json) that must fail like `check_error` says. Returns the body."""
    got_status, headers, body = response
    return check_error(status, code, got_status, headers, body)
