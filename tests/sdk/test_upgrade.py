"""Upgrades: every data dir kept in tests/upgrade/fixtures/ (one per schema
version, written by the build that introduced it: make_fixture.py) is opened
by this build, migrated, found clean by fsck and served byte for byte; a data
dir written by a newer build is refused, untouched."""

import base64
import hashlib
import http.client
import json
import shutil
import sqlite3
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import Tenant, get_token, start_server
from drive import Drive, get
from orgdrive_server import default_binary

pytestmark = pytest.mark.embedded

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "upgrade" / "fixtures").iterdir())


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Shows a redirect (as an HTTPError) instead of following it."""

    def redirect_request(self, *args, **kwargs):
        return None


def orgdrive(*args):
    return subprocess.run([default_binary(), *args], capture_output=True, text=True, timeout=120)


def copy_of(fixture, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(fixture / "data", data)
    return data, json.loads((fixture / "expected.json").read_text())


def test_there_is_a_fixture_of_this_builds_schema():
    """A schema change comes with a fixture made by its build."""
    migrations = Path(__file__).resolve().parents[2] / "crates/orgdrive-sqlite/migrations/sqlite"
    latest = max(int(p.name[:4]) for p in migrations.glob("*.sql"))
    assert f"schema-{latest}" in [f.name for f in FIXTURES]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_an_earlier_data_dir_is_migrated_checked_and_served(fixture, tmp_path):
    data, expected = copy_of(fixture, tmp_path)
    migrated = orgdrive("migrate", "--data-dir", str(data))
    assert migrated.returncode == 0, migrated.stderr
    checked = orgdrive("fsck", "--data-dir", str(data))
    assert checked.returncode == 0 and "0 problems" in checked.stdout, checked.stdout

    server = start_server(tmp_path)
    try:
        token = get_token(server, expected["appKey"], expected["appSecret"]).access_token
        tenant = Tenant(expected["corpId"], expected["appId"], expected["appKey"],
                        expected["appSecret"], expected["unionId"], token)
        d = Drive(server, tenant, space_id=expected["spaceId"])
        for f in expected["files"]:
            dentry = d.get(f["id"])
            assert (dentry.name, dentry.parent_id, dentry.size) == (f["name"], f["parentId"], f["size"])
            sig = d.download_info(f["id"]).header_signature_info
            status, _, body = get(sig.resource_urls[0], sig.headers)
            assert status == 200 and hashlib.sha256(body).hexdigest() == f["sha256"], f["name"]
        versions = d.versions(expected["versionsOf"]["id"])
        assert len(versions.dentries) == expected["versionsOf"]["count"]
        items, _ = d.all_recycle_items()
        binned = [i for i in items if i.dentry_id == expected["binned"]["id"]]
        assert [i.original_name for i in binned] == [expected["binned"]["name"]]
        grants = d.grants(expected["folderId"]).permissions
        assert any(g.member.id == expected["grantee"] and g.role.id == "READER" for g in grants)
        # And it takes new writes.
        d.upload(b"written by this build", "new.txt")
        if "console" in expected:  # schema 13 on: the console password still signs in
            form = urllib.parse.urlencode({"kind": "person", **{
                "union_id": expected["console"]["unionId"],
                "password": expected["console"]["password"]}}).encode()
            request = urllib.request.Request(f"{server.base_url}/console/sign-in", data=form)
            opener = urllib.request.build_opener(NoRedirect)
            with pytest.raises(urllib.error.HTTPError) as answer:
                opener.open(request, timeout=30)
            assert answer.value.code == 303, answer.value.code
            assert "orgdrive_session=" in answer.value.headers["set-cookie"]
        if "deadProperty" in expected:  # schema 15 on: WebDAV dead properties
            prop = expected["deadProperty"]
            auth = base64.b64encode(
                f'{expected["console"]["unionId"]}:{expected["console"]["password"]}'.encode()).decode()
            conn = http.client.HTTPConnection(server.endpoint, timeout=30)
            body = (f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:F="{prop["namespace"]}">'
                    f'<D:prop><F:{prop["name"]}/></D:prop></D:propfind>')
            conn.request("PROPFIND", prop["path"], body=body.encode(),
                         headers={"Authorization": f"Basic {auth}", "Depth": "0"})
            answer = conn.getresponse()
            text = answer.read().decode()
            assert answer.status == 207 and f'>{prop["value"]}</' in text, text
    finally:
        server.stop()
    checked = orgdrive("fsck", "--data-dir", str(data))
    assert checked.returncode == 0 and "0 problems" in checked.stdout, checked.stdout


def test_a_data_dir_from_a_newer_build_is_refused_untouched(tmp_path):
    data, _ = copy_of(FIXTURES[-1], tmp_path)
    meta = data / "meta.sqlite"
    conn = sqlite3.connect(meta)
    newer = conn.execute("PRAGMA user_version").fetchone()[0] + 1
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()  # the last connection: its WAL is checkpointed into the file
    assert not (data / "meta.sqlite-wal").exists()
    before = hashlib.sha256(meta.read_bytes()).hexdigest()
    for command in (["migrate"], ["fsck"], ["serve", "--listen", "127.0.0.1:0"]):
        done = orgdrive(*command, "--data-dir", str(data))
        assert done.returncode != 0, command
        assert f"schema version {newer}" in done.stderr and "knows up to" in done.stderr, done.stderr
    assert hashlib.sha256(meta.read_bytes()).hexdigest() == before
