"""Fault injection (issue 15): with --allow-faults, the admin API arms faults
that make matching requests answer a DingTalk error, wait, drop the
connection mid-answer or cut a download; for the next N calls or with a
probability; by operation, path pattern or app. A fault never corrupts
stored data: an error answers before the operation acts; drop and truncate
act completely, then cut the answer. Checked through the official SDK."""

import http.client
import time
import urllib.error
import urllib.request

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_tea_util import models as util_models
from conftest import provision, start_server
from drive import Drive, get
from helpers import expect_error, expect_http_error
from orgdrive_server import http_json
from Tea.exceptions import TeaException


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("faults"), ["--allow-faults"])
    yield server
    server.stop()


def admin(server, method, path="", body=None):
    return http_json(method, f"{server.admin_base_url}/admin/v1/faults{path}", body,
                     {"Authorization": f"Bearer {server.admin_token}"})


def arm(server, **fault):
    status, _, body = admin(server, "POST", body=fault)
    assert status == 200, body
    return body


@pytest.fixture
def d(faulty):
    admin(faulty, "DELETE")
    yield Drive(faulty, provision(faulty))
    admin(faulty, "DELETE")


def space_with(d, runtime):
    return d.client.get_space_with_options(
        d.space_id, m.GetSpaceRequest(union_id=d.uid), d.h(m.GetSpaceHeaders), runtime).body.space


def test_faults_are_refused_unless_the_server_allows_them(tmp_path):
    server = start_server(tmp_path)
    try:
        for method, body in (("GET", None), ("POST", {"kind": "drop"}), ("DELETE", None)):
            expect_http_error(403, "permissionDenied", admin(server, method, body=body))
        assert http_json("GET", f"{server.admin_base_url}/admin/v1/faults")[0] == 401
    finally:
        server.stop()


@pytest.mark.parametrize("code,status", [
    ("operationTimeout", 503), ("systemError", 500), ("permissionDenied", 403),
    ("Forbidden.AccessDenied.QpsLimitForApi", 429), ("customCode", 418)])
def test_an_error_fault_answers_the_armed_code_once(d, code, status):
    fault = {"kind": "error", "operation": "GetSpace", "code": code, "count": 1}
    if code == "customCode":
        fault["status"] = status
    armed = arm(d.server, **fault)
    assert (armed["status"], armed["remaining"], armed["fired"]) == (status, 1, 0), armed
    err = expect_error(status, code, d.space)
    assert "injected" in err.message
    assert d.space().id == d.space_id, "count 1: the next call is not faulted"
    assert admin(d.server, "GET")[2]["items"] == [], "a spent fault is disarmed"


def test_a_refused_commit_changed_nothing_and_can_be_made_again(d):
    info = d.upload_info()
    sig = info.header_signature_info
    from drive import put
    assert put(sig.resource_urls[0], sig.headers, b"kept bytes")[0] == 200
    arm(d.server, kind="error", operation="CommitFile", code="systemError", count=1)
    expect_error(500, "systemError", d.commit, info.upload_key, "f.txt")
    assert d.list().dentries == [], "the fault answered before the commit acted"
    f = d.commit(info.upload_key, "f.txt")
    assert d.download(f.id)[2] == b"kept bytes"


def test_a_delay_fault_waits_then_acts(d):
    arm(d.server, kind="delay", operation="ListDentries", delayMs=400, count=1)
    started = time.monotonic()
    assert d.list().dentries == []
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    d.list()
    assert time.monotonic() - started < 0.4


def test_a_dropped_connection_fails_the_sdk_call_as_against_dingtalk(d):
    # The SDK does not retry a connection cut mid-answer, even with
    # autoretry (its own rule: an UnretryableException); the app retries.
    retrying = util_models.RuntimeOptions(autoretry=True, max_attempts=3, backoff_policy="no")
    for runtime in (util_models.RuntimeOptions(), retrying):
        arm(d.server, kind="drop", operation="GetSpace", count=1)
        with pytest.raises(Exception) as caught:
            space_with(d, runtime)
        assert type(caught.value).__name__ == "UnretryableException", repr(caught.value)
        assert space_with(d, runtime).id == d.space_id


def test_a_dropped_commit_acted_completely(d):
    arm(d.server, kind="drop", operation="CommitFile", count=1)
    with pytest.raises(Exception):
        d.upload(b"committed all the same", "dropped.txt")
    (f,) = d.list().dentries
    assert f.name == "dropped.txt" and d.download(f.id)[2] == b"committed all the same"


@pytest.mark.embedded  # on S3, downloads go to the bucket's own signed URLs
def test_a_truncated_download_is_cut_and_the_file_intact(d):
    data = bytes(range(256)) * 64
    f = d.upload(data, "big.bin")
    arm(d.server, kind="truncate", operation="GetBlob", bytes=1000, count=1)
    sig = d.download_info(f.id).header_signature_info
    request = urllib.request.Request(sig.resource_urls[0], headers=sig.headers)
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(data))
        with pytest.raises(http.client.IncompleteRead) as cut:
            response.read()
    assert len(cut.value.partial) == 1000
    assert d.download(f.id)[2] == data


def test_faults_match_by_path_pattern_app_and_probability(d):
    other = Drive(d.server, provision(d.server))
    arm(d.server, kind="error", path="/v1.0/storage/spaces/*", code="operationTimeout",
        appKey=d.tenant.app_key)
    expect_error(503, "operationTimeout", d.space)
    assert other.space().id == other.space_id, "another app is not faulted"
    assert d.list().dentries == [], "another path is not faulted"
    admin(d.server, "DELETE")
    arm(d.server, kind="error", operation="GetSpace", code="systemError", probability=0.5)
    outcomes = []
    for _ in range(40):
        try:
            d.space()
            outcomes.append("ok")
        except TeaException as e:
            assert e.code == "systemError"
            outcomes.append("fault")
    assert 0 < outcomes.count("fault") < 40, outcomes
    (listed,) = admin(d.server, "GET")[2]["items"]
    assert listed["fired"] == outcomes.count("fault") and listed["probability"] == 0.5


def test_faults_are_listed_cleared_and_checked(d):
    a = arm(d.server, kind="delay", delayMs=1, operation="GetSpace")
    b = arm(d.server, kind="error", code="systemError", operation="GetDentry", count=5)
    ids = [f["id"] for f in admin(d.server, "GET")[2]["items"]]
    assert ids == [a["id"], b["id"]]
    assert admin(d.server, "DELETE", f"/{a['id']}")[0] == 200
    expect_http_error(400, "paramError.faultId", admin(d.server, "DELETE", f"/{a['id']}"))
    assert [f["id"] for f in admin(d.server, "GET")[2]["items"]] == [b["id"]]
    for bad, field in [({"kind": "error"}, "code"), ({"kind": "error", "code": "madeUp"}, "status"),
                       ({"kind": "error", "code": "x", "status": 200}, "status"),
                       ({"kind": "delay"}, "delayMs"), ({"kind": "delay", "delayMs": 10**9}, "delayMs"),
                       ({"kind": "drop", "count": 0}, "count"),
                       ({"kind": "drop", "probability": 0}, "probability"),
                       ({"kind": "drop", "code": "systemError"}, "code")]:
        expect_http_error(400, f"paramError.{field}", admin(d.server, "POST", body=bad))
    status, _, body = admin(d.server, "POST", body={"kind": "explode"})
    assert status == 400 and body["code"].startswith("paramError"), body
    # The admin API and the probes are never faulted, whatever is armed.
    arm(d.server, kind="error", code="systemError")
    assert admin(d.server, "GET")[0] == 200
    assert get(f"{d.server.base_url}/healthz")[0] == 200
    expect_error(500, "systemError", d.space)
    assert admin(d.server, "DELETE")[0] == 200
    assert d.space().id == d.space_id
