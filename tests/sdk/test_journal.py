"""The request journal (issue 15): with --journal N (on by default with
--ephemeral) the server keeps its last N requests — operation, operator,
app, status, error code, latency, request id — for `GET /admin/v1/journal`,
so that a developer sees why their app got `paramError.parentId`. Never a
secret: no query, header or body; tokens only resolved to their appKey."""

import json
import os
import urllib.parse

import pytest
from conftest import provision, start_server
from drive import Drive, get
from helpers import expect_error, expect_http_error
from orgdrive_server import OrgdriveServer, http_json


def journal(server, **query):
    url = f"{server.admin_base_url}/admin/v1/journal"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    return http_json("GET", url, None, {"Authorization": f"Bearer {server.admin_token}"})


def entries(server, **query):
    status, _, body = journal(server, **query)
    assert status == 200, body
    return body["items"]


def test_the_journal_tells_why_a_call_failed_and_never_a_secret(tmp_path):
    server = start_server(tmp_path, ["--journal", "50"])
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        err = expect_error(400, "paramError.parentId", d.add_folder, "x", parent_id="nosuchfolder")
        f = d.upload(b"journal me", "j.txt")
        sig = d.download_info(f.id).header_signature_info
        assert get(sig.resource_urls[0], sig.headers)[0] == 200

        (failed,) = entries(server, code="paramError.parentId")
        assert failed["operation"] == "AddFolder" and failed["status"] == 400, failed
        assert failed["requestId"] == err.data["requestid"]
        assert failed["unionId"] == tenant.union_id
        assert failed["appKey"] == tenant.app_key
        assert failed["method"] == "POST" and failed["latencyMs"] >= 0
        assert failed["path"] == f"/v1.0/storage/spaces/{d.space_id}/dentries/nosuchfolder/folders"

        everything = entries(server, limit=50)
        seqs = [e["seq"] for e in everything]
        assert seqs == sorted(seqs, reverse=True), "newest first"
        ops = [e["operation"] for e in everything]
        expected = ["GetAccessToken", "AddSpace", "GetFileUploadInfo", "CommitFile",
                    "GetFileDownloadInfo"]
        if os.environ.get("ORGDRIVE_TEST_BACKEND") != "postgres+s3":
            expected += ["PutBlob", "GetBlob"]  # on S3, bytes go to the bucket
        for op in expected:
            assert op in ops, (op, ops)
        text = json.dumps(everything)
        signature = urllib.parse.urlparse(sig.resource_urls[0]).query
        for secret in (tenant.app_secret, tenant.token, signature, server.admin_token):
            assert secret and secret not in text
        assert "?" not in text
        assert not any("/admin/" in e["path"] and e["operation"] != "Admin" for e in everything)

        assert [e["operation"] for e in entries(server, operation="CommitFile")] == ["CommitFile"]
        assert entries(server, status=400) == [failed]
        older = entries(server, before=failed["seq"], limit=1)
        assert older and older[0]["seq"] < failed["seq"]
        for bad in ({"limit": "-1"}, {"status": "abc"}, {"before": "-5"}):
            expect_http_error(400, f"paramError.{next(iter(bad))}", journal(server, **bad))
        assert http_json("GET", f"{server.admin_base_url}/admin/v1/journal")[0] == 401
        status, _, _ = http_json("DELETE", f"{server.admin_base_url}/admin/v1/journal", None,
                                 {"Authorization": f"Bearer {server.admin_token}"})
        assert status == 200
        assert [e["operation"] for e in entries(server)] == ["Admin"], "only this read is left"
    finally:
        server.stop()


def test_the_journal_keeps_only_the_last_requests(tmp_path):
    server = start_server(tmp_path, ["--journal", "5"])
    try:
        d = Drive(server, provision(server))
        for _ in range(10):
            d.space()
        kept = entries(server, limit=100)
        assert len(kept) == 5
        assert {e["operation"] for e in kept} <= {"GetSpace", "Admin"}
    finally:
        server.stop()


def test_the_journal_is_off_by_default_and_on_with_ephemeral(tmp_path):
    server = start_server(tmp_path)
    try:
        expect_http_error(403, "permissionDenied", journal(server))
    finally:
        server.stop()
    ephemeral = OrgdriveServer(None, stderr=tmp_path / "ephemeral.log")
    ephemeral.start()
    try:
        Drive(ephemeral, provision(ephemeral)).space()
        assert "GetSpace" in [e["operation"] for e in entries(ephemeral)]
    finally:
        ephemeral.stop()


@pytest.mark.embedded
def test_a_journal_too_large_is_refused_at_start(tmp_path):
    server = OrgdriveServer(tmp_path / "data", ["--journal", "100001"], stderr=tmp_path / "log")
    with pytest.raises(RuntimeError):
        server.start()


def test_bodies_are_kept_on_request_with_their_secrets_redacted(tmp_path):
    server = start_server(tmp_path, ["--journal", "50", "--journal-bodies"])
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        expect_error(400, "paramError.parentId", d.add_folder, "made here", parent_id="nosuchfolder")
        (failed,) = entries(server, code="paramError.parentId")
        assert failed["body"]["name"] == "made here", failed
        (token,) = [e for e in entries(server, operation="GetAccessToken")][-1:]
        assert token["body"] == {"appKey": tenant.app_key, "appSecret": "<redacted>"}, token
        text = json.dumps(entries(server, limit=50))
        assert tenant.app_secret not in text and tenant.token not in text
        # Bodies of the admin API (a password here) are never kept.
        server.admin.call("PUT", f"/orgs/{tenant.corp_id}/users/{tenant.union_id}/password",
                          {"password": "a console password"})
        assert "a console password" not in json.dumps(entries(server, limit=50))
        assert all("body" not in e for e in entries(server, operation="Admin"))
    finally:
        server.stop()
    plain = start_server(tmp_path / "plain", ["--journal", "50"])
    try:
        expect_error(400, "paramError.parentId", Drive(plain, provision(plain)).add_folder, "x",
                     parent_id="nosuchfolder")
        assert all("body" not in e for e in entries(plain, limit=50)), "no body unless asked"
    finally:
        plain.stop()
