"""Seed files (`orgdrive serve --seed FILE`, issue 15): orgs, apps, users,
departments, spaces and files declared with fixed ids and credentials, made
at start where missing, so that an app's test suite knows every credential
before the server starts. The example in examples/seed.json is the one the
README shows; everything is checked through the official SDK."""

import base64
import json
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from conftest import Tenant, get_token, start_server
from drive import Drive
from helpers import expect_error
from orgdrive_server import OrgdriveServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.json"


def example():
    return json.loads(EXAMPLE.read_text())


def seeded(server, app_key, app_secret, union_id, corp_id="dingci0001"):
    """A tenant of the seed's fixed credentials, its token from the SDK."""
    token = get_token(server, app_key, app_secret).access_token
    return Tenant(corp_id, "", app_key, app_secret, union_id, token)


def shared_space(server):
    alice = seeded(server, "dingciapp0001", "ci-app-secret-0001-change-me-for-real-use", "ci-alice")
    # AddSpace is idempotent on scene + sceneId: the seeded space comes back.
    return Drive(server, alice, scene="ci", scene_id="shared")


def names(d, parent_id="0"):
    return {x.name: x for x in d.list(parent_id).dentries}


def check_example_content(server):
    d = shared_space(server)
    space = d.space()
    assert space.name == "Shared" and space.quota == 1073741824, space
    top = names(d)
    assert {"docs", "images"} <= set(top), top
    docs = names(d, top["docs"].id)
    assert set(docs) == {"readme.txt"}
    status, _, body = d.download(docs["readme.txt"].id)
    assert (status, body) == (200, b"hello from the seed\n")
    png = names(d, top["images"].id)["pixel.png"]
    want = base64.b64decode(example()["orgs"][0]["spaces"][0]["files"][2]["contentBase64"])
    assert d.download(png.id)[2] == want
    return d


def test_the_example_seed_makes_every_declared_thing(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE])
    try:
        assert not any("demo" in line for line in server.banner), server.banner
        d = check_example_content(server)
        admin = server.admin
        assert {o["corpId"] for o in admin.list_orgs()} == {"dingci0001", "dingci0002"}
        users = {u["unionId"]: u for u in admin.call("GET", "/orgs/dingci0001/users")["items"]}
        assert set(users) == {"ci-alice", "ci-bob"}
        assert users["ci-alice"]["userId"] == "alice" and users["ci-alice"]["orgAdmin"] is True
        assert users["ci-bob"]["name"] == "Bob" and users["ci-bob"]["orgAdmin"] is False
        depts = {x["deptId"]: x for x in admin.call("GET", "/orgs/dingci0001/depts")["items"]}
        assert depts["101"]["parentId"] == "100"
        members = admin.call("GET", "/orgs/dingci0001/depts/101/members")["items"]
        assert [x["unionId"] for x in members] == ["ci-bob"]
        # The reader app holds only the scopes the seed names.
        reader = seeded(server, "dingcireader01", "ci-reader-secret-0001-change-me-too", "ci-alice")
        r = Drive(server, reader, space_id=d.space_id)
        assert set(names(r)) == {"docs", "images"}
        expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", r.add_folder, "x")
        # The second org's app: every storage scope by default.
        carol = seeded(server, "dingciapp0002", "ci-app-secret-0002-change-me-for-real-use",
                       "ci-carol", "dingci0002")
        assert Drive(server, carol).space().id
        # An app-owned space.
        owned = Drive(server, d.tenant, scene="ci", scene_id="appowned", owner_type="APP").space()
        assert owned.owner_type == "APP", owned
    finally:
        server.stop()


def test_a_second_start_on_the_same_data_changes_nothing(tmp_path):
    server = start_server(tmp_path, ["--seed", EXAMPLE])
    try:
        d = check_example_content(server)
        space_id = d.space_id
        readme = names(d, names(d)["docs"].id)["readme.txt"]
        # What the tests did meanwhile stays; a rotated secret is the seed's again.
        d.upload(b"made by a test", "mine.txt")
        app = next(a for a in server.admin.list_apps("dingci0001")
                   if a["appKey"] == "dingciapp0001")
        server.admin.call("POST", f"/orgs/dingci0001/apps/{app['appId']}/secret")
        expect_error(400, "InvalidAuthentication", get_token, server, "dingciapp0001",
                     "ci-app-secret-0001-change-me-for-real-use")
        server.restart()
        d = check_example_content(server)
        assert d.space_id == space_id
        assert set(names(d)) == {"docs", "images", "mine.txt"}
        again = names(d, names(d)["docs"].id)["readme.txt"]
        assert (again.id, again.version) == (readme.id, readme.version), "not rewritten"
        assert len(server.admin.call("GET", "/orgs/dingci0001/users")["items"]) == 2
        assert len(server.admin.list_orgs()) == 2
    finally:
        server.stop()


@pytest.mark.embedded
def test_ephemeral_with_a_seed_is_a_whole_test_setup(tmp_path):
    server = OrgdriveServer(None, ["--seed", EXAMPLE], stderr=tmp_path / "server.log")
    server.start()
    try:
        check_example_content(server)
        data_dir = Path(server.data_dir)
        assert data_dir.exists()
    finally:
        server.stop()
    assert not data_dir.exists(), "an ephemeral data dir goes at exit"


BAD_SEEDS = [
    ({"orgs": [{"corpId": "a/b", "name": "x"}]}, "corpId"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "colour": "red"}]}, "unknown field `colour`"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "apps": [{"appKey": "k1", "appSecret": "short"}]}]},
     "appSecret"),
    ({"orgs": [{"corpId": "ok1", "name": "x",
                "apps": [{"appKey": "k1", "appSecret": "a-long-enough-secret-1"}],
                "spaces": [{"appKey": "k1", "unionId": "nobody"}]}]}, "user nobody does not exist"),
    ({"orgs": [{"corpId": "ok1", "name": "x",
                "apps": [{"appKey": "k1", "appSecret": "a-long-enough-secret-1"}],
                "users": [{"unionId": "u1"}],
                "spaces": [{"appKey": "k1", "unionId": "u1",
                            "files": [{"path": "/a/../b.txt", "content": "x"}]}]}]}, "path"),
    ({"orgs": [{"corpId": "ok1", "name": "x",
                "apps": [{"appKey": "k1", "appSecret": "a-long-enough-secret-1"}],
                "users": [{"unionId": "u1"}],
                "spaces": [{"appKey": "k1", "unionId": "u1",
                            "files": [{"path": "/b.bin", "contentBase64": "!!"}]}]}]},
     "contentBase64"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "apps": [
        {"appKey": "dingciapp0001", "appSecret": "a-long-enough-secret-1"}]}]}, "appKey"),
    # Nothing declared twice.
    ({"orgs": [{"corpId": "ok1", "name": "x"}, {"corpId": "ok1", "name": "y"}]},
     "corpId ok1 is declared twice"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "apps": [
        {"appKey": "k1", "appSecret": "a-long-enough-secret-1"},
        {"appKey": "k1", "appSecret": "another-long-secret-2"}]}]}, "appKey k1 is declared twice"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "depts": [{"deptId": "7", "name": "a"}]},
               {"corpId": "ok2", "name": "y", "depts": [{"deptId": "7", "name": "b"}]}]},
     "deptId 7 is declared twice"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "users": [{"unionId": "u1"}, {"unionId": "u1"}]}]},
     "unionId u1 is declared twice"),
    ({"orgs": [{"corpId": "ok1", "name": "x",
                "apps": [{"appKey": "k1", "appSecret": "a-long-enough-secret-1"}],
                "users": [{"unionId": "u1"}],
                "spaces": [{"appKey": "k1", "unionId": "u1", "sceneId": "s"},
                           {"appKey": "k1", "unionId": "u1", "scene": "default", "sceneId": "s"}]}]},
     "is declared twice"),
    ({"orgs": [{"corpId": "ok1", "name": "x", "depts": [{"deptId": "7", "name": "a", "parentId": "7"}]}]},
     "not its own parent"),
]


@pytest.mark.parametrize("bad,named", BAD_SEEDS, ids=[str(i) for i in range(len(BAD_SEEDS))])
def test_an_invalid_seed_stops_the_start_and_names_the_field(tmp_path, bad, named):
    # A first start with the example, then a start with the bad seed on the
    # same data: it fails naming the problem, and the data is as it was.
    server = start_server(tmp_path, ["--seed", EXAMPLE])
    server.stop()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(RuntimeError):
        server.start(["--seed", path])
    assert server.exit_status not in (None, 0)
    log = (tmp_path / "server.log").read_text()
    assert named in log, log[-2000:]
    assert "panicked" not in log
    server.start(["--seed", EXAMPLE])
    try:
        check_example_content(server)
    finally:
        server.stop()


def test_the_admin_api_takes_chosen_corp_and_dept_ids(server):
    # The same fixed ids a seed uses, one at a time: a test that provisions
    # through the admin API knows them in advance too.
    from helpers import expect_http_error
    from orgdrive_server import http_json
    import uuid

    corp_id = f"dingfixed{uuid.uuid4().hex[:8]}"
    admin = server.admin
    assert admin.call("POST", "/orgs", {"corpId": corp_id, "name": "Fixed"})["corpId"] == corp_id
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    url = f"{server.admin_base_url}/admin/v1/orgs"
    expect_http_error(409, "conflict.corpId", http_json("POST", url, {"corpId": corp_id, "name": "Again"},
                                                         headers))
    expect_http_error(400, "paramError.corpId", http_json("POST", url, {"corpId": "../x", "name": "Bad"},
                                                           headers))
    expect_http_error(400, "paramError.parentId",
                      http_json("POST", f"{url}/{corp_id}/depts", {"deptId": "s", "name": "Self", "parentId": "s"},
                                headers))
    dept = admin.call("POST", f"/orgs/{corp_id}/depts", {"deptId": "7", "name": "Seven"})
    assert dept["deptId"] == "7"
    expect_http_error(409, "conflict.deptId",
                      http_json("POST", f"{url}/{corp_id}/depts", {"deptId": "7", "name": "Again"}, headers))
