"""A pytest setup for an app's own tests against orgdrive, to copy into a
project: one orgdrive per test session, started `--ephemeral` with a seed
file (every credential known in advance), reset to the seed before each
test, faults armed through the admin API. orgdrive's test command runs
this folder as it is (`pytest examples/pytest`).

    ORGDRIVE_BIN=/path/to/orgdrive pytest     # else `orgdrive` on the PATH
"""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ORGDRIVE = os.environ.get("ORGDRIVE_BIN", "orgdrive")
SEED = Path(os.environ.get("ORGDRIVE_SEED", Path(__file__).resolve().parent.parent / "seed.json"))
ADMIN_TOKEN = "example-admin-token-for-tests-only-0123456789"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(endpoint, method, path, body=None):
    """A call to orgdrive's admin API; answers the decoded JSON."""
    request = urllib.request.Request(
        f"http://{endpoint}/admin/v1{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="session")
def orgdrive():
    """The endpoint (host:port) of an orgdrive started for this session;
    point the DingTalk SDK's `endpoint` at it (with protocol "http")."""
    endpoint = f"127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [ORGDRIVE, "serve", "--ephemeral", "--seed", str(SEED), "--listen", endpoint,
         "--admin-token", ADMIN_TOKEN, "--allow-faults"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    for line in process.stdout:
        if line.startswith("ready in"):
            break
        if time.monotonic() > deadline:
            break
    else:
        raise RuntimeError(f"orgdrive exited ({process.wait()}) before it was ready")
    yield endpoint
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(autouse=True)
def seeded_state(orgdrive):
    """Every test starts from the seed, and with no fault armed."""
    admin(orgdrive, "POST", "/reset")
    admin(orgdrive, "DELETE", "/faults")
    yield


@pytest.fixture
def arm_fault(orgdrive):
    """arm_fault(kind="error", operation="CommitFile", code="operationTimeout", count=1)"""
    return lambda **fault: admin(orgdrive, "POST", "/faults", fault)
