"""Reset (issue 15): `POST /admin/v1/reset` (and `orgdrive admin reset`)
returns a running server to its seed file's state without a restart; `POST
/admin/v1/orgs/{corpId}/reset` does it for one org, so that parallel test
workers can each own one. Refused unless the server was started with
--allow-reset (or --ephemeral). Checked through the official SDK."""

import base64
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from conftest import start_server
from drive import Drive, put
from helpers import expect_http_error
from Tea.exceptions import TeaException
from orgdrive_server import OrgdriveServer, default_binary, http_json
from test_seed import EXAMPLE, check_example_content, names, seeded, shared_space

ALICE_PASSWORD = "alice console password"
READER = ("dingcireader01", "ci-reader-secret-0001-change-me-too")


def reset(server, corp_id=None):
    path = f"/orgs/{corp_id}/reset" if corp_id else "/reset"
    return http_json("POST", f"{server.admin_base_url}/admin/v1{path}", None,
                     {"Authorization": f"Bearer {server.admin_token}"})


def dav_status(server, user, password):
    """The status of a PROPFIND of /dav/ with Basic auth (207: signed in)."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"{server.base_url}/dav/", method="PROPFIND",
                                     headers={"Authorization": f"Basic {auth}", "Depth": "0"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def fsck(data_dir):
    # No grace: an object a reset left unreferenced (an open upload's) is found.
    done = subprocess.run([default_binary(), "fsck", "--data-dir", str(data_dir), "--grace", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_reset_returns_the_server_to_its_seed(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE, "--allow-reset"])
    try:
        d = check_example_content(server)
        space_id, before = d.space_id, d.tenant
        # What a test run changes: files, folders, a space, identities,
        # a secret, a password.
        d.upload(b"made by a test", "mine.txt")
        readme = names(d, names(d)["docs"].id)["readme.txt"]
        d.delete(readme.id)
        d.add_folder("scratch")
        extra = Drive(server, d.tenant, scene="ci", scene_id="extra")
        extra.upload(b"in a space the seed does not declare", "extra.txt")
        admin = server.admin
        admin.create_user("dingci0001", name="Temp", union_id="temp-user")
        other = admin.create_org(name="made by a test")["corpId"]
        app = next(a for a in admin.list_apps("dingci0001") if a["appKey"] == READER[0])
        admin.call("POST", f"/orgs/dingci0001/apps/{app['appId']}/secret")
        admin.call("PUT", "/orgs/dingci0001/users/ci-alice/password", {"password": "changed by a test"})
        admin.call("PUT", "/orgs/dingci0001/users/ci-bob/password", {"password": "bob got a password"})
        admin.call("POST", "/orgs/dingci0001/depts/100/members", {"unionId": "ci-bob"})
        # An app the seed does not declare, owning a space with a file.
        undeclared = admin.create_app("dingci0001", name="made by a test")
        intruder = Drive(server, seeded(server, undeclared["appKey"], undeclared["appSecret"], "ci-bob"))
        intruder.upload(b"the undeclared app's", "theirs.txt")
        # Uploads left open, their bytes stored.
        for data in (b"x" * 5000, b"y" * 7000):
            info = d.upload_info()
            sig = info.header_signature_info
            assert put(sig.resource_urls[0], sig.headers, data)[0] == 200

        status, _, report = reset(server)
        assert status == 200, report
        assert report["orgs"] == 0 and report["spaces"] == 2 and report["files"] == 2, report
        assert isinstance(report["tookMs"], int)

        # The seeded space keeps its id, its seeded files are made again.
        d = check_example_content(server)
        assert d.space_id == space_id
        assert set(names(d)) == {"docs", "images"}
        assert names(d, names(d)["docs"].id)["readme.txt"].id != readme.id
        # The app's token from before the reset still works: the app is the same.
        assert Drive(server, before, space_id=space_id).space().id == space_id
        orgs = {o["corpId"] for o in admin.list_orgs()}
        assert orgs == {"dingci0001", "dingci0002"}, orgs
        assert other not in orgs
        assert undeclared["appKey"] not in {a["appKey"] for a in admin.list_apps("dingci0001")}
        users = {u["unionId"] for u in admin.call("GET", "/orgs/dingci0001/users")["items"]}
        assert users == {"ci-alice", "ci-bob"}
        members = admin.call("GET", "/orgs/dingci0001/depts/100/members")["items"]
        assert [m["unionId"] for m in members] == ["ci-alice"]
        assert seeded(server, *READER, "ci-alice").token, "the rotated secret is the seed's again"
        assert dav_status(server, "ci-alice", ALICE_PASSWORD) == 207
        assert dav_status(server, "ci-alice", "changed by a test") == 401
        assert dav_status(server, "ci-bob", "bob got a password") == 401, "bob has none in the seed"
        # The space made by the test is gone: AddSpace makes a new one.
        expect_http_error(400, "paramError.spaceId", Drive(server, before, space_id=extra.space_id).raw("GET", ""))
        again = Drive(server, d.tenant, scene="ci", scene_id="extra")
        assert again.space_id != extra.space_id and again.list().dentries == []
    finally:
        server.stop()
    fsck(server.data_dir)


def test_a_reset_is_refused_unless_allowed(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE])
    try:
        d = shared_space(server)
        d.upload(b"kept", "kept.txt")
        for corp_id in (None, "dingci0001"):
            expect_http_error(403, "permissionDenied", reset(server, corp_id))
        status, _, _ = http_json("POST", f"{server.admin_base_url}/admin/v1/reset")
        assert status == 401, "the admin token is needed"
        assert "kept.txt" in names(d)
    finally:
        server.stop()


def test_one_org_is_reset_and_the_others_are_left_alone(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE, "--allow-reset"])
    try:
        d = shared_space(server)
        d.upload(b"org 1", "one.txt")
        carol = seeded(server, "dingciapp0002", "ci-app-secret-0002-change-me-for-real-use",
                       "ci-carol", "dingci0002")
        c = Drive(server, carol)
        c.upload(b"org 2", "two.txt")
        status, _, report = reset(server, "dingci0001")
        assert status == 200, report
        assert "one.txt" not in names(shared_space(server))
        assert "two.txt" in names(c), "the other org keeps its files"
        status, _, report = reset(server, "dingci0002")
        assert status == 200, report
        # Org 2 declares no space: AddSpace makes a new, empty one.
        assert Drive(server, carol).list().dentries == []
        expect_http_error(400, "paramError.corpId", reset(server, "nosuchorg"))
        # An org the seed does not declare is deleted by its reset.
        made = server.admin.create_org(name="temporary")["corpId"]
        assert reset(server, made)[0] == 200
        assert made not in {o["corpId"] for o in server.admin.list_orgs()}
    finally:
        server.stop()
    fsck(server.data_dir)


@pytest.mark.embedded
def test_the_cli_resets_a_running_ephemeral_server(tmp_path):
    # --ephemeral allows resets without --allow-reset.
    server = OrgdriveServer(None, ["--seed", EXAMPLE], stderr=tmp_path / "server.log")
    server.start()
    try:
        shared_space(server).upload(b"x", "x.txt")
        argv = [default_binary(), "admin", "reset", "--server", server.admin_base_url,
                "--data-dir", server.data_dir]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert '"spaces": 2' in done.stdout, done.stdout
        assert "x.txt" not in names(shared_space(server))
        done = subprocess.run(argv + ["--corp-id", "dingci0002"], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        bad = subprocess.run(argv[:-2] + ["--data-dir", str(tmp_path), "--admin-token", "x" * 40],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0 and "refused" in bad.stderr, bad.stderr
    finally:
        server.stop()


def test_resets_under_concurrent_requests_answer_no_server_error(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE, "--allow-reset"])
    stop = threading.Event()
    failures, statuses = [], []

    def client():
        # Tokens stay valid across resets; spaces and files come and go.
        while not stop.is_set():
            step = "AddSpace"
            try:
                d = shared_space(server)
                step = "GetFileUploadInfo"
                info = d.upload_info()
                sig = info.header_signature_info
                status, _, body = put(sig.resource_urls[0], sig.headers, uuid.uuid4().bytes)
                statuses.append(status)
                if status >= 500:
                    failures.append(f"PUT {status}: {body[:200]!r}")
                    continue
                step = "CommitFile"
                d.commit(info.upload_key, f"{uuid.uuid4().hex}.bin")
                step = "ListDentries"
                d.list()
                statuses.append(200)
            except TeaException as e:
                status = (e.data or {}).get("statusCode")
                statuses.append(status)
                if status is None or status >= 500:
                    failures.append(f"{step}: {status} {e.code}: {e.message}"[:300])

    workers = [threading.Thread(target=client) for _ in range(4)]
    try:
        for w in workers:
            w.start()
        for _ in range(8):
            status, _, report = reset(server)
            assert status == 200, report
        stop.set()
        for w in workers:
            w.join(timeout=60)
        assert not failures, failures[:5]
        assert statuses.count(200) > 0
        status, _, _ = reset(server)
        assert status == 200
        d = check_example_content(server)
        assert set(names(d)) == {"docs", "images"}
    finally:
        stop.set()
        server.stop()
    fsck(server.data_dir)


def test_a_reset_runs_to_its_end_when_its_client_gives_up(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE, "--allow-reset"])
    try:
        shared_space(server).upload(b"x", "x.txt")
        request = urllib.request.Request(f"{server.admin_base_url}/admin/v1/reset", method="POST",
                                         headers={"Authorization": f"Bearer {server.admin_token}"})
        with pytest.raises(Exception):
            urllib.request.urlopen(request, timeout=0.001)
        deadline = time.monotonic() + 10
        while True:
            try:
                d = check_example_content(server)
                if set(names(d)) == {"docs", "images"}:
                    break
            except Exception:  # noqa: BLE001 - still resetting
                pass
            assert time.monotonic() < deadline, "the reset did not complete"
            time.sleep(0.1)
        depts = server.admin.call("GET", "/orgs/dingci0001/depts")["items"]
        assert {x["deptId"] for x in depts} == {"100", "101"}
    finally:
        server.stop()


def test_the_cli_refuses_a_corp_id_that_is_not_one(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE, "--allow-reset"])
    try:
        other = server.admin.create_org(name="kept")["corpId"]
        for bad in ("..", "x/../..", "x?y", ""):
            done = subprocess.run([default_binary(), "admin", "reset", "--server", server.admin_base_url,
                                   "--data-dir", server.data_dir, "--corp-id", bad],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode != 0 and "--corp-id" in done.stderr, (bad, done.stderr)
        assert other in {o["corpId"] for o in server.admin.list_orgs()}, "no reset happened"
    finally:
        server.stop()
