"""Makes tests/upgrade/fixtures/schema-N/: a small data dir written by the
build in $ORGDRIVE_BIN (files in a folder, versions, a recycle-bin item, a
grant, events, a console password), and expected.json saying what it must serve. Every later build
must open, migrate, fsck and serve it byte for byte (tests/sdk/test_upgrade.py).

Run it once per schema change, with the build that introduced the change, and
commit the new directory beside the old ones (never replace one):

    ORGDRIVE_BIN=target/debug/orgdrive ~/.cache/orgdrive/venv/bin/python tests/upgrade/make_fixture.py
"""

import hashlib
import json
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sdk"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from conftest import provision  # noqa: E402
from drive import Drive  # noqa: E402
from orgdrive_server import OrgdriveServer  # noqa: E402


def proppatch(server, union_id, password, prop):
    """Sets a WebDAV dead property (PROPPATCH through /dav/)."""
    import base64
    import http.client
    body = (f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:F="{prop["namespace"]}">'
            f'<D:set><D:prop><F:{prop["name"]}>{prop["value"]}</F:{prop["name"]}></D:prop></D:set>'
            '</D:propertyupdate>')
    auth = base64.b64encode(f"{union_id}:{password}".encode()).decode()
    conn = http.client.HTTPConnection(server.endpoint, timeout=30)
    conn.request("PROPPATCH", prop["path"], body=body.encode(),
                 headers={"Authorization": f"Basic {auth}", "Content-Type": "application/xml"})
    answer = conn.getresponse()
    text = answer.read().decode()
    assert answer.status == 207 and "200 OK" in text, (answer.status, text)


def main():
    work = Path(tempfile.mkdtemp(prefix="orgdrive-fixture-"))
    server = OrgdriveServer(work / "data", stderr=work / "server.log").start()
    rng = random.Random(12)
    try:
        tenant = provision(server)
        other = server.admin.create_user(tenant.corp_id, name="Bo", org_admin=False)["unionId"]
        d = Drive(server, tenant, name="fixture", quota=10 << 20)
        d.subscribe()
        docs = d.add_folder("docs")
        files = {
            "hello.txt": (b"hello from the schema fixture\n", "0"),
            "binary.bin": (bytes(rng.getrandbits(8) for _ in range(40_000)), docs.id),
            "empty.txt": (b"", docs.id),
            # Larger than what is kept inline in the metadata (64 KiB): a
            # file of the content store (the others are inline from schema 17).
            "large.bin": (bytes(rng.getrandbits(8) for _ in range(100_000)), docs.id),
        }
        expected_files = []
        for name, (data, parent) in files.items():
            dentry = d.upload(data, name, parent_id=parent)
            expected_files.append({"id": dentry.id, "name": name, "parentId": parent,
                                   "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        versions = None
        for text in (b"version one\n", b"version two\n", b"version three\n"):
            versions = d.upload(text, "versions.txt", conflict="OVERWRITE")
        expected_files.append({"id": versions.id, "name": "versions.txt", "parentId": "0",
                               "size": len(text), "sha256": hashlib.sha256(text).hexdigest()})
        binned = d.upload(b"in the recycle bin\n", "binned.txt")
        d.settle(d.delete(binned.id, to_recycle_bin=True))
        d.grant(docs.id, "READER", ("USER", other))
        space_id = d.space_id
        # Schema 13 on: the user's console password (Argon2id).
        console_password = "fixture console password"
        server.admin.call("PUT", f"/orgs/{tenant.corp_id}/users/{tenant.union_id}/password",
                          {"password": console_password})
        # Schema 15 on: a WebDAV dead property of hello.txt.
        dead_property = {"path": f"/dav/{d.space_id}/hello.txt", "namespace": "urn:fixture",
                         "name": "colour", "value": "blue"}
        proppatch(server, tenant.union_id, console_password, dead_property)
    finally:
        server.stop()

    schema = sqlite3.connect(work / "data" / "meta.sqlite").execute("PRAGMA user_version").fetchone()[0]
    target = ROOT / "tests" / "upgrade" / "fixtures" / f"schema-{schema}"
    if target.exists():
        sys.exit(f"{target} exists: fixtures are never replaced")
    target.mkdir(parents=True)
    data = target / "data"
    shutil.copytree(work / "data", data,
                    ignore=shutil.ignore_patterns(".incoming", "admin.token", "*.sqlite-*"))
    expected = {
        "schemaVersion": schema,
        "appKey": tenant.app_key, "appSecret": tenant.app_secret,
        "corpId": tenant.corp_id, "appId": tenant.app_id, "unionId": tenant.union_id,
        "grantee": other, "spaceId": space_id, "folderId": docs.id,
        "files": expected_files,
        "versionsOf": {"id": versions.id, "count": 2},
        "binned": {"id": binned.id, "name": "binned.txt"},
        "console": {"unionId": tenant.union_id, "password": console_password},
        "deadProperty": dead_property,
    }
    (target / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    shutil.rmtree(work)
    print(target)


if __name__ == "__main__":
    main()
