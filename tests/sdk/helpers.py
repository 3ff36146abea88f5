"""Assertions shared by the conformance tests."""

import re

import pytest
from Tea.exceptions import TeaException

ISO_8601_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def expect_error(status, code, call, *args, **kwargs):
    """Runs an SDK call that must fail with this HTTP status and DingTalk code."""
    with pytest.raises(TeaException) as caught:
        call(*args, **kwargs)
    err = caught.value
    assert err.code == code, f"expected {code}, got {err.code}: {err.message}"
    assert err.data["statusCode"] == status, err.data
    assert err.data["requestid"], err.data
    assert err.data["message"], err.data
    return err
