"""Scale-out: two `orgdrive serve` nodes on different ports sharing one
PostgreSQL database and one S3 bucket (a real S3 server that verifies SigV4
signatures), as behind a load balancer. Needs the services of
scripts/postgres.sh and scripts/s3.sh (ORGDRIVE_TEST_PG_URL,
ORGDRIVE_TEST_BLOB_URL and the AWS_* credentials); without them these tests
fail, naming the scripts."""

import os
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, provision, storage_client
from drive import Drive, get, put
from orgdrive_server import (OrgdriveServer, call_json, fresh_postgres_database, fresh_s3_prefix,
                             get_access_token, new_secret, required_env)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


@pytest.fixture
def deployment(tmp_path):
    """What the nodes share: a fresh database, a fresh bucket prefix, the
    signing key and the admin token."""
    return dict(meta=fresh_postgres_database(required_env("ORGDRIVE_TEST_PG_URL")),
                blob=fresh_s3_prefix(required_env("ORGDRIVE_TEST_BLOB_URL")),
                signing_key=new_secret(), admin_token=new_secret())


def node(tmp_path, deployment, name, *extra_args):
    root = tmp_path / name
    root.mkdir(parents=True, exist_ok=True)
    args = ["--no-demo", *extra_args]
    return OrgdriveServer(root / "data", args, stderr=root / "server.log", **deployment)


@pytest.fixture
def nodes(tmp_path, deployment):
    a = node(tmp_path, deployment, "a").start()
    b = node(tmp_path, deployment, "b").start()
    yield a, b
    for n in (a, b):
        n.stop(check=False)


def s3_endpoint():
    query = urllib.parse.urlparse(required_env("ORGDRIVE_TEST_BLOB_URL")).query
    return urllib.parse.parse_qs(query)["endpoint"][0]


def test_a_token_from_one_node_works_on_the_other(nodes):
    a, b = nodes
    tenant = provision(a)
    on_b = Drive(b, tenant)
    assert Drive(a, tenant, space_id=on_b.space_id).space().id == on_b.space_id
    # Identities made through B's admin API are known to A.
    other = provision(b)
    assert Drive(a, other).space().id


def test_upload_on_a_commit_on_b_download_from_a_straight_to_the_store(nodes):
    a, b = nodes
    tenant = provision(a)
    on_a = Drive(a, tenant)
    on_b = Drive(b, tenant, space_id=on_a.space_id)
    data = os.urandom(300_000)
    info = on_a.upload_info()
    url = info.header_signature_info.resource_urls[0]
    assert url.startswith(s3_endpoint() + "/"), "the bytes go to the object store, not a node"
    assert put(url, info.header_signature_info.headers, data)[0] == 200
    dentry = on_b.commit(info.upload_key, "shared.bin")
    sig = on_a.download_info(dentry.id).header_signature_info
    assert sig.resource_urls[0].startswith(s3_endpoint() + "/")
    status, _, body = get(sig.resource_urls[0], sig.headers)
    assert (status, body == data) == (200, True)
    assert on_b.download(dentry.id)[2] == data
    assert on_a.space().used_quota == len(data) == on_b.space().used_quota


def tampered(url):
    """The URL with one character of its signature changed."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    changed = []
    for key, value in query:
        if key.lower() == "x-amz-signature":
            value = value[:-1] + ("0" if value[-1] != "0" else "1")
        changed.append((key, value))
    assert changed != query, f"no signature in {url}"
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(changed)))


def test_a_tampered_presigned_url_is_refused_by_the_store(nodes):
    a, _ = nodes
    d = Drive(a, provision(a))
    info = d.upload_info()
    sig = info.header_signature_info
    assert put(tampered(sig.resource_urls[0]), sig.headers, b"forged")[0] == 403
    assert put(sig.resource_urls[0], sig.headers, b"real")[0] == 200
    f = d.commit(info.upload_key, "real.txt")
    download = d.download_info(f.id).header_signature_info
    assert get(tampered(download.resource_urls[0]), download.headers)[0] == 403
    assert get(download.resource_urls[0], download.headers)[2] == b"real"


def test_32_identical_add_space_calls_across_both_nodes_make_one_space(nodes):
    a, b = nodes
    tenant = provision(a)
    option = m.AddSpaceRequestOption(name="raced", scene="race", scene_id="32")

    def call(i):
        return add_space(storage_client(nodes[i % 2]), tenant, option).body.space.id

    with ThreadPoolExecutor(max_workers=32) as pool:
        ids = set(pool.map(call, range(32)))
    assert len(ids) == 1, ids


def database_connections(url):
    """The clients' sessions open on the database of `url` (but the asking
    one): not the server's own workers, such as an autovacuum worker that a
    burst of inserts into a fresh database wakes."""
    import subprocess
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
    out = subprocess.run(["psql", "-Atc", sql, url], check=True, capture_output=True,
                         text=True, timeout=60)
    return int(out.stdout.strip())


def test_a_node_keeps_to_its_meta_connections(tmp_path, deployment):
    """`--meta-connections 2`: 48 spaces made at once all succeed, through at
    most two pooled connections (and the cache relay's own listener)."""
    small = node(tmp_path, deployment, "small", "--meta-connections", "2").start()
    try:
        tenant = provision(small)

        def call(i):
            option = m.AddSpaceRequestOption(name=f"s{i}", scene="pool", scene_id=str(i))
            return add_space(storage_client(small), tenant, option).body.space.id

        with ThreadPoolExecutor(max_workers=48) as pool:
            ids = set(pool.map(call, range(48)))
        assert len(ids) == 48
        assert database_connections(deployment["meta"]) <= 3
    finally:
        small.stop(check=False)


def test_commits_racing_across_both_nodes_never_pass_the_quota(nodes):
    a, b = nodes
    tenant = provision(a)
    on_a = Drive(a, tenant, quota=1000)
    drives = [on_a, Drive(b, tenant, space_id=on_a.space_id)]
    infos = [drives[i % 2].upload_info() for i in range(8)]
    for i, info in enumerate(infos):
        sig = info.header_signature_info
        assert put(sig.resource_urls[0], sig.headers, bytes([i]) * 300)[0] == 200

    def commit(i):
        try:
            drives[(i + 1) % 2].commit(infos[i].upload_key, f"f{i}.bin")
            return "ok"
        except Exception as e:  # noqa: BLE001 - the SDK raises TeaException
            return getattr(e, "code", repr(e))

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(commit, range(8)))
    assert outcomes.count("ok") == 3, outcomes
    assert set(outcomes) == {"ok", "paramError.quota"}, outcomes
    assert on_a.space().used_quota == 900


def test_a_rename_on_one_node_is_seen_on_the_other_at_once(nodes):
    """Cached folder paths are dropped on every node (NOTIFY), not after
    their time-to-live."""
    a, b = nodes
    tenant = provision(a)
    on_a = Drive(a, tenant)
    on_b = Drive(b, tenant, space_id=on_a.space_id)
    folder = on_a.add_folder("before")
    child = on_a.add_folder("child", folder.id)
    assert on_b.get(child.id).path == "/before/child"   # cached on B now
    on_a.rename(folder.id, "after")
    deadline = time.monotonic() + 1.0
    while on_b.get(child.id).path != "/after/child":
        assert time.monotonic() < deadline, "B still shows the old path after 1 s"
        time.sleep(0.02)


def test_a_revoked_grant_stops_working_on_the_other_node_at_once(nodes):
    a, b = nodes
    tenant = provision(a)
    reader = a.admin.create_user(tenant.corp_id, name="Rita", org_admin=False)["unionId"]
    on_a = Drive(a, tenant)
    folder = on_a.add_folder("shared")
    as_reader = type(tenant)(**{**tenant.__dict__, "union_id": reader})
    as_reader_on_b = Drive(b, as_reader, space_id=on_a.space_id)
    with pytest.raises(Exception, match="permissionDenied"):
        as_reader_on_b.get(folder.id)
    on_a.grant(folder.id, "READER", ("USER", reader))   # B cached "no grant" above
    deadline = time.monotonic() + 1.0
    while True:
        try:
            assert as_reader_on_b.get(folder.id).name == "shared"   # cached on B again
            break
        except Exception as e:  # noqa: BLE001
            assert getattr(e, "code", None) == "permissionDenied", e
            assert time.monotonic() < deadline, "B still ignores the new grant after 1 s"
            time.sleep(0.02)
    on_a.revoke(folder.id, "READER", ("USER", reader))
    deadline = time.monotonic() + 1.0
    while True:
        try:
            as_reader_on_b.get(folder.id)
        except Exception as e:  # noqa: BLE001
            assert getattr(e, "code", None) == "permissionDenied", e
            break
        assert time.monotonic() < deadline, "B still honours the revoked grant after 1 s"
        time.sleep(0.02)


def test_a_folder_move_whose_node_is_killed_is_finished_by_the_other(tmp_path, deployment):
    """A task started on A, A SIGKILLed at once: B takes the task over once
    A's claims expire (a 2 s task claim; sweeps every 3 s, the upload TTL,
    and the sweeper's claim lasts 3 sweeps), and the move happens whole or
    not at all."""
    quick = ("--task-claim", "2", "--upload-ttl", "3")
    a = node(tmp_path, deployment, "a", *quick).start()
    b = node(tmp_path, deployment, "b", *quick).start()
    try:
        tenant = provision(a)
        on_a = Drive(a, tenant)
        target = Drive(a, tenant, scene_id="target")
        big = on_a.add_folder("big")
        for i in range(60):
            sub = on_a.add_folder(f"sub{i}", big.id)
            if i % 10 == 0:
                on_a.add_folder("leaf", sub.id)
        moved = on_a.move(big.id, "0", target_space_id=target.space_id)
        a.kill()
        assert moved.async_ is True and moved.task_id
        on_b = Drive(b, tenant, space_id=on_a.space_id)
        task = on_b.wait_task(moved.task_id, timeout=60)
        in_target = Drive(b, tenant, space_id=target.space_id)
        source_names = [e.name for e in on_b.list().dentries]
        target_names = [e.name for e in in_target.list().dentries]
        if task.status == "SUCCESS":
            assert (source_names, target_names) == ([], ["big"])
            assert len(in_target.walk(big.id)[0]) == 60
        else:
            assert (source_names, target_names) == (["big"], []), task.to_map()
            assert len(on_b.walk(big.id)[0]) == 60
    finally:
        a.kill()
        b.stop(check=False)


def test_a_secret_rotated_on_one_node_ends_the_streams_of_the_other(nodes):
    """A Stream connection opened on A before the app's secret is rotated
    through B is closed by A at its next event, which it does not get."""
    a, b = nodes
    tenant = provision(a)
    d = Drive(a, tenant)
    d.subscribe()
    opened = call_json("POST", f"{a.base_url}/v1.0/gateway/connections/open",
                       {"clientId": tenant.app_key, "clientSecret": tenant.app_secret,
                        "subscriptions": [{"type": "EVENT", "topic": "*"}]})
    stream = connect(f"{opened['endpoint']}?ticket={urllib.parse.quote_plus(opened['ticket'])}",
                     open_timeout=10)
    try:
        time.sleep(0.01)
        secret = b.admin.call("POST", f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}/secret")["appSecret"]
        fresh = replace(tenant, app_secret=secret, token=get_access_token(b.base_url, tenant.app_key, secret))
        Drive(b, fresh, space_id=d.space_id).add_folder("after the rotation")
        with pytest.raises(ConnectionClosed):
            deadline = time.time() + 20
            while time.time() < deadline:
                message = stream.recv(timeout=deadline - time.time())
                assert "after the rotation" not in message, message
    finally:
        stream.close()
