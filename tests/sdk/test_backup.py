"""Backups of the embedded store (`orgdrive backup`, `backup verify`,
`restore`): taken while writers upload and delete, restored into a new data
dir that fsck finds clean and that serves every file byte for byte;
incremental; damage found by verify; a killed backup completed by the next."""

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import provision, runtime, start_server
from drive import Drive, get
from orgdrive_server import default_binary, fresh_s3_prefix

pytestmark = pytest.mark.embedded


def orgdrive(*args, check=True):
    """Runs the binary; returns (exit code, stdout, stderr)."""
    done = subprocess.run([default_binary(), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.returncode, done.stdout, done.stderr


def backup(data_dir, target):
    _, out, _ = orgdrive("backup", "--data-dir", str(data_dir), "--to", str(target))
    return json.loads(out.strip().splitlines()[-1])


def restore(target, data_dir):
    _, out, _ = orgdrive("restore", "--from", str(target), "--data-dir", str(data_dir))
    return json.loads(out.strip().splitlines()[-1])


def fsck(data_dir):
    code, out, _ = orgdrive("fsck", "--data-dir", str(data_dir), check=False)
    assert code == 0, out
    return out


def download(drive, dentry_id):
    info = drive.download_info(dentry_id)
    sig = info.header_signature_info
    status, _, body = get(sig.resource_urls[0], sig.headers)
    assert status == 200, status
    return body


def files_of(drive):
    """name -> dentry id of every file at the space's root."""
    entries, _ = drive.walk()
    return {e.name: e.id for e in entries if e.type == "FILE"}


def test_a_backup_under_writers_restores_every_committed_file(tmp_path):
    source = start_server(tmp_path / "a")
    target = tmp_path / "backup"
    try:
        tenant = provision(source)
        drive = Drive(source, tenant)
        contents = {}  # name -> bytes, of files committed
        committed_at = {}  # name -> when its commit returned
        deleted_at = {}  # name -> when its deletion was sent
        ids = {}
        lock = threading.Lock()
        # Half of them kept inline in the metadata (at most 64 KiB), half
        # files of the content store.
        for i in range(60):
            name = f"before-{i}.bin"
            data = os.urandom(random.randint(1, 64 << 10) + (i % 2) * (64 << 10))
            ids[name] = drive.upload(data, name).id
            contents[name], committed_at[name] = data, time.time()

        stop = threading.Event()
        errors = []

        def writer(n):
            mine = Drive(source, tenant, space_id=drive.space_id)
            rng = random.Random(n)
            i = 0
            try:
                while not stop.is_set():
                    name = f"w{n}-{i}.bin"
                    i += 1
                    data = os.urandom(rng.randint(1, 96 << 10))
                    dentry = mine.upload(data, name)
                    with lock:
                        contents[name], committed_at[name], ids[name] = data, time.time(), dentry.id
                        victims = [v for v in ids if v not in deleted_at]
                        victim = rng.choice(victims) if rng.random() < 0.4 else None
                        if victim:
                            deleted_at[victim] = time.time()
                    if victim:
                        mine.client.delete_dentry_with_options(
                            mine.space_id, ids[victim],
                            m.DeleteDentryRequest(union_id=mine.uid, to_recycle_bin=False),
                            mine.h(m.DeleteDentryHeaders), runtime())
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        started = time.time()
        first = backup(source.data_dir, target)
        finished = time.time()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        assert first["objects"] > 30 and first["copied"] == first["objects"], first
        assert first["dentries"] > 60, first
        # Deletions ran during the backup: what the snapshot referenced stayed.
        during = [n for n, t in deleted_at.items() if started <= t <= finished]
        print(f"backup {first}, {len(during)} deletions during it")

        _, out, _ = orgdrive("backup", "verify", "--from", str(target))
        assert json.loads(out.strip().splitlines()[-1])["problems"] == 0

        restored_dir = tmp_path / "b" / "data"
        summary = restore(target, restored_dir)
        assert summary["snapshot"] == first["snapshot"]
        assert summary["signingKey"] is True
        assert (restored_dir / "signing.key").read_text() == \
            (tmp_path / "a" / "data" / "signing.key").read_text()
        assert "0 problems" in fsck(restored_dir)
    finally:
        source.stop()

    restored = start_server(tmp_path / "b")
    try:
        # The tenant's app, user and token came back with the metadata.
        again = Drive(restored, tenant, space_id=drive.space_id)
        present = files_of(again)
        must = [n for n, t in committed_at.items()
                if t < started and (n not in deleted_at or deleted_at[n] > finished)]
        missing = [n for n in must if n not in present]
        assert not missing, missing
        assert len(present) >= len(must)
        # Every restored file, those committed during the backup included, is
        # the bytes that were uploaded under its name.
        for name, dentry_id in present.items():
            assert dentry_id == ids[name]
            assert hashlib.sha256(download(again, dentry_id)).digest() == \
                hashlib.sha256(contents[name]).digest(), name
        # The restored drive takes writes.
        again.upload(b"after the restore", "after.txt")
        assert "0 problems" in fsck(restored.data_dir)
    finally:
        restored.stop()


def test_a_second_backup_copies_only_the_new_objects(tmp_path):
    server = start_server(tmp_path / "a")
    target = tmp_path / "backup"
    try:
        drive = Drive(server, provision(server))
        # Larger than what is kept inline: each a file of the content store.
        size = 70_000
        for i in range(20):
            drive.upload(os.urandom(size), f"old-{i}")
        first = backup(server.data_dir, target)
        assert (first["objects"], first["copied"]) == (20, 20)
        unchanged = backup(server.data_dir, target)
        assert (unchanged["objects"], unchanged["copied"]) == (20, 0)
        for i in range(100):
            drive.upload(os.urandom(size), f"new-{i}")
        # Small files travel inside the metadata snapshot: nothing to copy.
        drive.upload(b"kept inline", "small")
        second = backup(server.data_dir, target)
        assert (second["objects"], second["copied"], second["copiedBytes"]) == \
            (120, 100, 100 * size)
        _, out, _ = orgdrive("backup", "list", "--from", str(target))
        listed = [json.loads(line) for line in out.splitlines()]
        assert [s["snapshot"] for s in listed] == \
            [first["snapshot"], unchanged["snapshot"], second["snapshot"]]
        # An earlier snapshot restores as it was.
        restored_dir = tmp_path / "old"
        orgdrive("restore", "--from", str(target), "--snapshot", first["snapshot"],
                 "--data-dir", str(restored_dir))
        assert "0 problems" in fsck(restored_dir)
        # The backup's hold of the trash (and any node's lease) stayed behind.
        conn = sqlite3.connect(restored_dir / "meta.sqlite")
        assert conn.execute("SELECT COUNT(*) FROM job_leases").fetchone()[0] == 0
        conn.close()
        # Pruned to the latest, the target still verifies, holds nothing more.
        drive.client.delete_dentry_with_options(
            drive.space_id, files_of(drive)["old-0"],
            m.DeleteDentryRequest(union_id=drive.uid, to_recycle_bin=False),
            drive.h(m.DeleteDentryHeaders), runtime())
        third = backup(server.data_dir, target)
        assert (third["objects"], third["copied"]) == (119, 0)
        _, out, _ = orgdrive("backup", "prune", "--from", str(target), "--keep", "1")
        pruned = json.loads(out)
        assert (len(pruned["removedSnapshots"]), pruned["removedObjects"]) == (3, 1)
        _, out, _ = orgdrive("backup", "verify", "--from", str(target))
        assert json.loads(out.strip().splitlines()[-1])["objects"] == 119
        assert sum(1 for p in (target / "content").rglob("*") if p.is_file()) == 119
    finally:
        server.stop()


def test_verify_finds_a_damaged_object_and_restore_refuses_it(tmp_path):
    server = start_server(tmp_path / "a")
    target = tmp_path / "backup"
    try:
        drive = Drive(server, provision(server))
        for i in range(5):
            drive.upload(os.urandom(70_000), f"f{i}")
        backup(server.data_dir, target)
        # A data dir in use is never restored over.
        code, _, err = orgdrive("restore", "--from", str(target), "--data-dir",
                                str(server.data_dir), check=False)
        assert code != 0 and "empty data dir" in err
    finally:
        server.stop()
    # A data dir of another schema (a server of another build) is not
    # opened, so never migrated under its server.
    older = tmp_path / "older"
    shutil.copytree(server.data_dir, older)
    conn = sqlite3.connect(older / "meta.sqlite")
    conn.execute("PRAGMA user_version = 11")
    conn.close()
    code, _, err = orgdrive("backup", "--data-dir", str(older), "--to", str(tmp_path / "t2"),
                            check=False)
    assert code != 0 and "schema version 11" in err, err
    conn = sqlite3.connect(older / "meta.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 11
    conn.close()
    objects = sorted(p for p in (target / "content").rglob("*") if p.is_file())
    assert len(objects) == 5
    damaged = objects[2]
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    code, out, _ = orgdrive("backup", "verify", "--from", str(target), check=False)
    assert code == 1
    key = damaged.relative_to(target).as_posix()
    assert f"{key}: its SHA-256 differs" in out, out
    assert json.loads(out.strip().splitlines()[-1])["problems"] == 1
    code, _, err = orgdrive("restore", "--from", str(target), "--data-dir",
                            str(tmp_path / "r"), check=False)
    assert code != 0 and "does not match the manifest" in err
    assert not (tmp_path / "r" / "meta.sqlite").exists()


def test_a_killed_backup_is_completed_by_the_next(tmp_path):
    server = start_server(tmp_path / "a")
    target = tmp_path / "backup"
    try:
        drive = Drive(server, provision(server))
        for i in range(150):
            drive.upload(os.urandom(512 << 10), f"big-{i}")
        process = subprocess.Popen(
            [default_binary(), "backup", "--data-dir", server.data_dir, "--to", str(target)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        content = target / "content"
        deadline = time.time() + 60
        while not (content.exists() and sum(1 for p in content.rglob("*") if p.is_file()) >= 10):
            assert process.poll() is None, "the backup ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        copied_before = sum(1 for p in content.rglob("*") if p.is_file())
        assert copied_before < 150, "killed too late to test anything"
        # No complete snapshot yet: nothing to restore, nothing listed.
        _, out, _ = orgdrive("backup", "list", "--from", str(target))
        assert out.strip() == ""
        # The next run takes the hold over at once and completes the backup
        # (what the killed run copied was never vouched for: copied again).
        done = backup(server.data_dir, target)
        assert (done["objects"], done["copied"]) == (150, 150), (done, copied_before)
        assert not list(Path(server.data_dir).glob(".backup-*")), "the killed run's staging stays"
        _, out, _ = orgdrive("backup", "verify", "--from", str(target))
        restored_dir = tmp_path / "r"
        restore(target, restored_dir)
        assert "0 problems" in fsck(restored_dir)
    finally:
        server.stop()


def test_hostile_targets_and_leftovers_are_refused(tmp_path):
    server = start_server(tmp_path / "a")
    target = tmp_path / "backup"
    try:
        drive = Drive(server, provision(server))
        for i in range(3):
            drive.upload(os.urandom(70_000), f"f{i}")
        first = backup(server.data_dir, target)
    finally:
        server.stop()
    manifest_path = target / "snapshots" / first["snapshot"] / "manifest.json"
    original = manifest_path.read_text()

    # A symbolic link in a target: nothing writes or reads through it.
    link = target / "content" / "objects" / "evil"
    link.symlink_to("/etc/passwd")
    for args in (["backup", "--data-dir", str(server.data_dir), "--to", str(target)],
                 ["backup", "verify", "--from", str(target)],
                 ["restore", "--from", str(target), "--data-dir", str(tmp_path / "r0")]):
        code, _, err = orgdrive(*args, check=False)
        assert code != 0 and "symbolic link" in err, (args, err)
    link.unlink()
    assert not (tmp_path / "r0" / "blobs").exists()

    # A manifest listing what the metadata does not reference, or lacking
    # what it does: verify says so, restore writes nothing.
    extra = b"not the drive's"
    (target / "content" / "objects" / "extra").write_bytes(extra)
    tampered = json.loads(original)
    tampered["objects"].append({"key": "objects/extra", "size": len(extra),
                                "sha256": hashlib.sha256(extra).hexdigest()})
    lacking = json.loads(original)
    dropped = lacking["objects"].pop()["key"]
    for manifest, expected in ((tampered, "objects/extra, which the metadata does not reference"),
                               (lacking, f"content {dropped} is not in the backup")):
        manifest_path.write_text(json.dumps(manifest))
        code, out, _ = orgdrive("backup", "verify", "--from", str(target), check=False)
        assert code == 1 and expected in out, out
        code, _, err = orgdrive("restore", "--from", str(target), "--data-dir",
                                str(tmp_path / "r1"), check=False)
        assert code != 0 and "does not match its metadata" in err, err
        assert not (tmp_path / "r1" / "blobs").exists()
        assert not (tmp_path / "r1" / "meta.sqlite").exists()
    manifest_path.write_text(original)

    # What a crashed drive left in a data dir is never replayed into a restore.
    leftover = tmp_path / "r2"
    leftover.mkdir()
    (leftover / "meta.sqlite-wal").write_bytes(b"\0" * 4096)
    code, _, err = orgdrive("restore", "--from", str(target), "--data-dir", str(leftover),
                            check=False)
    assert code != 0 and "meta.sqlite-wal" in err, err

    # A data dir whose server keeps its key elsewhere: the backup reads, never
    # makes one, and holds none.
    keyless = tmp_path / "keyless"
    shutil.copytree(server.data_dir, keyless)
    (keyless / "signing.key").unlink()
    taken = backup(keyless, tmp_path / "backup2")
    assert not (keyless / "signing.key").exists()
    summary = restore(tmp_path / "backup2", tmp_path / "r3")
    assert (summary["snapshot"], summary["signingKey"]) == (taken["snapshot"], False)
    assert not (tmp_path / "r3" / "signing.key").exists()


@pytest.mark.s3
def test_a_backup_in_a_bucket_restores_into_a_bucket(tmp_path):
    """The target, and the restored content store, on the S3 server of
    scripts/s3.sh (each a fresh prefix of its bucket)."""
    url = os.environ.get("ORGDRIVE_TEST_BLOB_URL", "")
    if not url.startswith("s3://") or not os.environ.get("AWS_ACCESS_KEY_ID"):
        pytest.fail("ORGDRIVE_TEST_BLOB_URL / AWS_ACCESS_KEY_ID are not set: start the S3 "
                    "server with `eval \"$(bash scripts/s3.sh)\"`", pytrace=False)
    target, content = fresh_s3_prefix(url), fresh_s3_prefix(url)
    server = start_server(tmp_path / "a")
    try:
        drive = Drive(server, provision(server))
        files = {f"f{i}": os.urandom(3000 * (i + 1) + (64 << 10)) for i in range(8)}
        files["small"] = b"kept inline, restored with the metadata"
        for name, data in files.items():
            drive.upload(data, name)
        first = backup(server.data_dir, target)
        drive.upload(os.urandom(70_000), "later")
        second = backup(server.data_dir, target)
        assert (first["copied"], second["objects"], second["copied"]) == (8, 9, 1)
    finally:
        server.stop()
    _, out, _ = orgdrive("backup", "verify", "--from", target)
    assert json.loads(out.strip().splitlines()[-1])["problems"] == 0
    restored_dir = tmp_path / "b" / "data"
    orgdrive("restore", "--from", target, "--data-dir", str(restored_dir), "--blob", content)
    code, out, _ = orgdrive("fsck", "--data-dir", str(restored_dir), "--blob", content, check=False)
    assert code == 0 and "0 problems" in out, out
    restored = start_server(tmp_path / "b", ["--blob", content])
    try:
        again = Drive(restored, drive.tenant, space_id=drive.space_id)
        present = files_of(again)
        for name, data in files.items():
            assert download(again, present[name]) == data, name
    finally:
        restored.stop()
