#!/usr/bin/env python3
"""Crash test: acknowledged writes survive SIGKILL and power loss.

Workers drive a mixed load against a real `orgdrive serve` (folder creation, uploads with
commit, overwrites that add versions, abandoned uploads, commits of an already committed
upload key) and log every operation the server acknowledged. Once at least --min-acks
commits of this crash were acknowledged (a crash that acknowledges fewer within 60 s fails
the run) and a random delay has passed, the server crashes:

  --mode sigkill      SIGKILL, restart on the same data dir. The page cache survives, as in
                      a process crash: nothing may be lost or torn by a dying process.
  --mode power-loss   SIGKILL, then the data dir is replaced by what fsyncs had made
                      durable, and the server restarts on that (powerloss.py: an LD_PRELOAD
                      shim, built with gcc, records file contents at fsync and directory
                      entries at directory fsync; everything else is lost). The simulator
                      first passes its own self-check (a write without fsync is lost, one
                      with fsync and a directory fsync is kept, an unsynced rename or removal
                      is undone, ...). `orgdrive fsck` runs on the rebuilt data dir before the
                      server starts again. The server creates its data dir, and the first
                      power loss hits its first run on it (unless --warm-data-dir: provision,
                      clean stop, `sync`, start; always so for a relaxed server, whose clean
                      stop leaves the tenant in an unsynced WAL).

The test serializes commits of one file name: CommitFile answers the dentry as read back
after its transaction, so concurrent commits of one file can be answered with each other's
version and size, and the ledger needs each commit's own version number.

A worker that fails in any other way than losing its server (an unexpected status, an
exception) stops the run with its traceback. What must hold after each restart depends on
what the server promises for the crash:

  full (SIGKILL with either --durability; power loss with --durability full):
    - every acknowledged folder is there, every acknowledged file is there with at least
      its acknowledged versions, and every version (the latest and each history version,
      read with `option.version`) has exactly the bytes of the write acknowledged with that
      version number or, for a version no acknowledgement named, of a commit of that file
      that was sent but not answered (it may have landed, but never half); a commit refused
      with a 4xx (such as a re-used upload key, which must be refused) must not have landed;
      versions verified once never change; nothing is visible that was never attempted;
    - `orgdrive fsck --grace <--grace, default 0>` reports nothing but leftovers of PUTs
      cut by the crash: each new unreferenced object must match a distinct cut PUT (a
      temporary file in blobs/.incoming/ holding at most its bytes, or an object holding
      exactly its bytes that was not yet recorded for its upload; only `fsck --repair`
      removes them). Any other unreferenced object is a leaked blob and fails the run, and
      after the final clean stop nothing new may be unreferenced. (Without `fsck --grace`,
      objects younger than 10 minutes are not reported at all; the run says so.)
  relaxed (power loss with --durability relaxed, which promises process crashes only):
    the server starts and its metadata is readable and consistent, but the tail may be lost:
    - what survived is a prefix in time: no write (acknowledged or not) that was sent after
      the acknowledgement of a lost write survived (SQLite with synchronous=NORMAL loses a
      suffix of transactions, never a middle);
    - content may be gone (directories are not fsynced), but a version whose content is
      there has exactly the bytes of a write of that file (the acknowledged one for its
      version number, or an unanswered one) and never other bytes; what was verified after
      an earlier crash (the test then takes it as durable) is never lost;
    - fsck reports nothing but missing content of versions the test found without content
      and unreferenced objects.

The test can fail: `--server-durability relaxed` runs the server relaxed while keeping the
expectations of --durability; the power-loss run then finds acknowledged writes lost.

Backends (--backend, default ORGDRIVE_TEST_BACKEND or `embedded`):
  embedded      SQLite in the data dir (meta.sqlite) and content files under it.
  postgres+s3   the server runs `serve --meta <a fresh PostgreSQL database> --blob <a fresh
                prefix of the S3 bucket>` with a signing key of its own (tests/support:
                ORGDRIVE_TEST_PG_URL and ORGDRIVE_TEST_BLOB_URL, which scripts/postgres.sh and
                scripts/s3.sh give). SIGKILL mode only: the same ledger checks, the outbox check
                runs on the PostgreSQL database (psql), fsck gets --meta/--blob (and the signing
                key in ORGDRIVE_SIGNING_KEY). Clients PUT to the bucket's presigned URLs, which a
                SIGKILL of orgdrive does not cut; what a crash may leave is the copy a cut
                CommitFile made (upload -> objects/<random>) before its transaction: each new
                unreferenced object must have exactly the byte count of a distinct commit the
                crash cut. Power loss is refused: it simulates the local disk of the embedded stores,
                while PostgreSQL and the object store own their durability.

Usage: python3 tests/crash/crash_test.py [--mode sigkill|power-loss] [--crashes 20]
           [--backend embedded|postgres+s3]
           [--workers 4] [--durability full|relaxed] [--server-durability full|relaxed]
           [--min-acks 5] [--grace 0] [--warm-data-dir] [--seed N] [--keep]
       (ORGDRIVE_BIN names the binary; tests/crash/run.sh runs what the test command runs;
       `--crashes 100` for the long run)
Only the standard library (and gcc for the power-loss shim) is used; requests go to
127.0.0.1 only."""

import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import powerloss  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from orgdrive_server import AdminClient, OrgdriveServer, new_secret, required_env  # noqa: E402
from orgdrive_server import fresh_postgres_database, fresh_s3_prefix  # noqa: E402
from orgdrive_server import provision as provision_tenant  # noqa: E402

ADMIN = "crash-test-admin-token-0123456789abcdef"  # at least 32 bytes
BACKENDS = ("embedded", "postgres+s3")
LOST = "content lost"  # in a file's versions: the metadata survived, the bytes did not (relaxed)
ACK_TIMEOUT = 60  # seconds a crash may wait for its floor of acknowledged commits


class Down(Exception):
    """The server is gone (killed): the operation's outcome is unknown."""


class Failure(AssertionError):
    """What the test found wrong."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def request(method, url, body=None, headers=None, raw=None, timeout=30):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise Down(str(e) or type(e).__name__) from e


class Server(OrgdriveServer):
    """`orgdrive serve` on one data dir through the shared helper
    (tests/support), with this test's admin token, durability and log; each
    start may carry its own environment (the power-loss shim). With the
    postgres+s3 backend its metadata is in a fresh PostgreSQL database and its
    contents under a fresh S3 prefix, with a signing key of its own."""

    def __init__(self, binary, data_dir, durability, log_path, backend="embedded", extra_args=()):
        check(backend in BACKENDS, f"unknown backend {backend}")
        stores = {}
        if backend == "postgres+s3":
            stores = dict(meta=fresh_postgres_database(required_env("ORGDRIVE_TEST_PG_URL")),
                          blob=fresh_s3_prefix(required_env("ORGDRIVE_TEST_BLOB_URL")),
                          signing_key=new_secret())
        super().__init__(data_dir, ["--durability", durability, *extra_args], binary=binary,
                         admin_token=ADMIN, stderr=log_path, **stores)
        self.durability, self.log_path, self.backend = durability, log_path, backend

    def store_args(self):
        """The arguments naming this server's stores for `orgdrive fsck`."""
        return ["--data-dir", self.data_dir] + (["--meta", self.meta, "--blob", self.blob] if self.meta else [])

    def store_env(self, env=None):
        """`env` (default: this process's) with the signing key a PostgreSQL store needs."""
        env = dict(os.environ if env is None else env)
        if self.signing_key:
            env["ORGDRIVE_SIGNING_KEY"] = self.signing_key
        return env

    def meta_rows(self, sql):
        """Rows of a read-only query on the metadata store, beside the running server
        (SQLite in WAL mode, or PostgreSQL through psql), every value as text (NULL as '').
        One statement: one snapshot."""
        if self.meta is None:
            db = sqlite3.connect(f"file:{os.path.join(self.data_dir, 'meta.sqlite')}?mode=ro", uri=True)
            try:
                return [tuple("" if v is None else str(v) for v in row) for row in db.execute(sql)]
            finally:
                db.close()
        done = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                               "-d", self.meta, "-c", sql], capture_output=True, text=True, timeout=120)
        check(done.returncode == 0, f"psql on the server's database failed ({done.returncode}): {done.stderr}")
        return [tuple(line.split("\x1f")) for line in done.stdout.splitlines() if line]

    @property
    def base(self):
        return self.base_url

    def start(self, env=None):
        with open(self.log_path, "a") as log:
            log.write(f"--- start (durability {self.durability}) ---\n")
        self.env = dict(env or {})
        try:
            return super().start()
        except RuntimeError as e:
            raise Failure(f"{e}\n{self.log_tail()}") from None

    def log_tail(self, lines=15):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def stop(self):
        code = super().stop(check=False)
        check(code == 0, f"orgdrive exited with {code} on SIGTERM:\n{self.log_tail()}")


class Client:
    """The storage API for one tenant and space, over plain HTTP."""

    def __init__(self, base, state):
        self.base, self.s = base, state

    def call(self, method, path, body=None):
        sep = "&" if "?" in path else "?"
        status, data = request(method, f"{self.base}{path}{sep}unionId={self.s['unionId']}", body,
                               {"x-acs-dingtalk-access-token": self.s["token"]})
        return status, json.loads(data) if data else {}

    def space_path(self, tail):
        return f"/v1.0/storage/spaces/{self.s['spaceId']}{tail}"

    def download(self, dentry_id, version=None):
        """(status of the GET, bytes): version None is the latest, through the default path."""
        body = {} if version is None else {"option": {"version": version}}
        status, info = self.call("POST", self.space_path(f"/dentries/{dentry_id}/downloadInfos/query"), body)
        check(status == 200, f"GetFileDownloadInfo of {dentry_id} version {version}: {status} {info}")
        return request("GET", info["headerSignatureInfo"]["resourceUrls"][0])


def provision(server):
    tenant = provision_tenant(server.base, AdminClient(server.base, ADMIN), app_name="crash",
                              user_name="u")
    state = {"unionId": tenant.union_id, "token": tenant.token}
    status, space = Client(server.base, state).call("POST", "/v1.0/storage/spaces", {})
    check(status == 200, f"AddSpace: {status} {space}")
    state["spaceId"] = space["space"]["id"]
    return state


class FileRecord:
    """What the test knows of one file name."""

    def __init__(self):
        self.id = None       # dentry id, once known
        self.versions = {}   # version -> sha256 of its bytes (acknowledged or verified), or LOST
        self.maybe = []      # [(sha256, sent_at)]: commits sent whose outcome is unknown
        self.checked = 0     # versions 1..checked were verified after a crash (they never change)
        self.dirty = False   # written since the last check


class Round:
    """One crash's load."""

    def __init__(self):
        self.commits = self.folders = self.refused = self.unknown = self.reused = 0
        self.cut_puts = []   # byte counts of the PUTs cut by the crash
        self.cut_commits = []  # byte counts of the commits cut by the crash
        self.pending_folders = {}  # name -> sent_at of folder creations not answered
        self.acked = []      # [(kind "folder"|"commit", name, version or None, sent_at, acked_at)]
        self.refusals = []   # a few refused commits, for the report


class Ledger:
    """What was attempted and what was acknowledged, shared by the workers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.folders = {}  # name -> id (acknowledged, still expected)
        self.files = {}    # name -> FileRecord
        self.attempted_names = set()
        self.sizes = {}    # sha256 -> byte count
        self.acks = 0      # acknowledgements so far: a write sent when this was n came after ack n
        self.round = Round()
        self.lost_content = set()  # dentry ids with a version whose content is gone (relaxed)
        self.leftovers = set()     # unreferenced objects left by PUTs cut by a crash
        self.errors = []           # worker failures (tracebacks)
        self.name_locks = {}

    def name_lock(self, name):
        with self.lock:
            return self.name_locks.setdefault(name, threading.Lock())

    def ack(self, kind, name, version, sent_at):
        self.acks += 1
        self.round.acked.append((kind, name, version, sent_at, self.acks))


def worker(client, ledger, rng, stop, crashing):
    """Runs the load until stopped or the server is killed; any other failure (losing the
    server before the kill included) is recorded and stops the crash (the main thread fails
    the run with it)."""
    try:
        while not stop.is_set():
            one_operation(client, ledger, rng)
    except Down:
        if crashing.is_set():
            return
        with ledger.lock:
            ledger.errors.append(f"the server stopped answering before it was killed:\n{traceback.format_exc()}")
        stop.set()
    except BaseException:
        with ledger.lock:
            ledger.errors.append(traceback.format_exc())
        stop.set()


def one_operation(client, ledger, rng):
    choice = rng.random()
    if choice < 0.2:
        name = f"folder-{rng.getrandbits(48):x}"
        with ledger.lock:
            ledger.attempted_names.add(name)
            sent_at = ledger.acks
            ledger.round.pending_folders[name] = sent_at
        status, reply = client.call("POST", client.space_path("/dentries/0/folders"),
                                    {"name": name, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}})
        check(status == 200, f"AddFolder {name}: {status} {reply}")
        with ledger.lock:
            del ledger.round.pending_folders[name]
            ledger.folders[name] = reply["dentry"]["id"]
            ledger.round.folders += 1
            ledger.ack("folder", name, None, sent_at)
        return
    with ledger.lock:
        existing = rng.choice(sorted(ledger.files)) if ledger.files and choice < 0.45 else None
    name = existing or f"file-{rng.getrandbits(48):x}.bin"
    data = rng.randbytes(rng.choice([0, 1, 100, 4096, 65536, 300_000]))
    sha = hashlib.sha256(data).hexdigest()
    status, info = client.call("POST", client.space_path("/files/uploadInfos/query"),
                               {"protocol": "HEADER_SIGNATURE", "multipart": False})
    check(status == 200, f"GetFileUploadInfo: {status} {info}")
    signed = info["headerSignatureInfo"]
    try:
        status, body = request("PUT", signed["resourceUrls"][0], raw=data, headers=signed.get("headers") or {})
    except Down:
        with ledger.lock:
            ledger.round.cut_puts.append(len(data))  # may leave an object nothing references
        raise
    check(status == 200, f"PUT of {len(data)} bytes: {status} {body[:300]!r}")
    if choice > 0.95:
        return  # abandoned upload: must never become visible
    if not commit(client, ledger, name, info["uploadKey"], sha, len(data)):
        return
    if rng.random() < 0.1:
        # An upload key is used at most once: a second commit must be refused and must not
        # land (the test counts a 4xx as refused, so if it landed its file is unexplained).
        commit(client, ledger, f"again-{rng.getrandbits(48):x}.bin", info["uploadKey"], sha, len(data),
               reused=True)


def commit(client, ledger, name, upload_key, sha, size, reused=False):
    """Commits an upload as `name` (serialized with other commits of that name) and records
    the outcome in the ledger; `reused`: the key was committed before, so it must be refused."""
    # Commits of one name are serialized: CommitFile answers the dentry as read back after
    # its transaction, so with two commits of one file in flight the answer may describe the
    # other one (another version and size), and the ledger needs each commit's own version.
    with ledger.name_lock(name):
        with ledger.lock:
            record = ledger.files.setdefault(name, FileRecord())
            sent_at = ledger.acks
            record.maybe.append((sha, sent_at))
            record.dirty = True
            ledger.sizes[sha] = size
            ledger.attempted_names.add(name)
        try:
            status, reply = client.call("POST", client.space_path("/files/commit"), {
                "uploadKey": upload_key, "name": name, "parentId": "0",
                "option": {"conflictStrategy": "OVERWRITE", "size": size}})
        except Down:
            with ledger.lock:
                ledger.round.unknown += 1
                ledger.round.cut_commits.append(size)  # on S3, may leave its upload's copy
            raise
        with ledger.lock:
            if 400 <= status < 500:
                # Refused: it must not have landed, so it is no longer a possible content.
                record.maybe.remove((sha, sent_at))
                if reused:
                    ledger.round.reused += 1
                    return False
                ledger.round.refused += 1
                if len(ledger.round.refusals) < 3:
                    ledger.round.refusals.append(f"{status} {reply.get('code')}")
                return False
            check(status == 200, f"CommitFile of {name}: {status} {reply}")
            check(not reused, f"CommitFile accepted upload key {upload_key} a second time (as {name})")
            dentry = reply["dentry"]
            version = dentry["version"]
            check(dentry["size"] == size, f"CommitFile of {name}: answered size {dentry['size']}, "
                                          f"{size} bytes were committed")
            check(record.id in (None, dentry["id"]), f"{name}: commit answered id {dentry['id']}, was {record.id}")
            check(version not in record.versions, f"{name}: version {version} acknowledged twice")
            record.maybe.remove((sha, sent_at))
            record.id = dentry["id"]
            record.versions[version] = sha
            ledger.round.commits += 1
            ledger.ack("commit", name, version, sent_at)
            return True


def list_root(client):
    entries, token = [], None
    while True:
        path = client.space_path("/dentries?parentId=0&maxResults=50") + (f"&nextToken={token}" if token else "")
        status, page = client.call("GET", path)
        check(page.get("code") != "InvalidAuthentication", "the tenant provisioned at the start (org, app, "
              f"user, access token: acknowledged writes) is gone: ListDentries answered {status} {page}")
        check(status == 200, f"ListDentries: {status} {page}")
        entries += page["dentries"]
        token = page.get("nextToken")
        if not token:
            return {e["name"]: e for e in entries}


class Verified:
    def __init__(self):
        self.versions = 0       # versions downloaded and compared byte for byte
        self.lost_acks = []     # (acked_at, description) of acknowledged writes lost (relaxed)
        self.lost_content = 0   # versions found without content (relaxed)
        self.survived = []      # (sent_at, description) of unacknowledged writes that landed


def verify(client, ledger, relaxed, everything=False):
    """Checks the space against the ledger after a restart. Versions written since the last
    check (all versions of all files with `everything`) are downloaded and compared byte for
    byte; older ones, whose content objects never change, must still be there with the same
    version number and size. Afterwards the ledger holds what was found."""
    result = Verified()
    visible = list_root(client)
    unknown = set(visible) - ledger.attempted_names
    check(not unknown, f"visible but never attempted: {sorted(unknown)[:5]}")
    acked_at = {(kind, name, version): at for kind, name, version, _, at in ledger.round.acked}

    def lose(kind, name, version, what):
        at = acked_at.get((kind, name, version))
        check(relaxed and at is not None, f"acknowledged {what} lost")
        result.lost_acks.append((at, what))

    for name, folder_id in list(ledger.folders.items()):
        entry = visible.get(name)
        if entry and entry["id"] == folder_id and entry["type"] == "FOLDER":
            continue
        lose("folder", name, None, f"folder {name}")
        del ledger.folders[name]
    for name, sent_at in ledger.round.pending_folders.items():
        entry = visible.get(name)
        if entry:  # an unanswered creation landed: expected from now on
            check(entry["type"] == "FOLDER", f"{name} is a {entry['type']}")
            ledger.folders[name] = entry["id"]
            result.survived.append((sent_at, f"folder {name} (unacknowledged)"))
    ledger.round.pending_folders = {}

    for name, record in ledger.files.items():
        entry = visible.get(name)
        if entry is None or (record.id is not None and entry["id"] != record.id):
            # Gone, or replaced by a file an unacknowledged commit created: every version
            # known so far was lost with the tail.
            check(record.checked == 0, f"file {name} lost (it had been verified after an earlier crash)")
            for version in sorted(record.versions):
                lose("commit", name, version, f"file {name} version {version}")
            record.id, record.versions = None, {}
            if entry is None:
                record.maybe, record.dirty = [], False
                continue
        check(entry["type"] == "FILE", f"{name} is a {entry['type']}")
        latest = entry["version"]
        check(latest >= record.checked, f"{name}: version {record.checked} was verified, now it has {latest}")
        for version in sorted(v for v in record.versions if v > latest):
            lose("commit", name, version, f"file {name} version {version} (it has {latest})")
            del record.versions[version]
        record.id = entry["id"]
        if not (everything or record.dirty):
            check(latest == record.checked, f"{name}: version {latest} appeared without a write")
            if record.versions[latest] != LOST:
                check(entry["size"] == ledger.sizes[record.versions[latest]], f"{name}: size changed without a write")
            continue
        first = 1 if everything else record.checked + 1
        for version in range(first, latest + 1):
            status, data = client.download(record.id, None if version == latest else version)
            if status == 404:
                check(relaxed and (version > record.checked or record.versions[version] == LOST),
                      f"{name} version {version}: content missing")
                sha = LOST
                result.lost_content += 1
                ledger.lost_content.add(record.id)
            else:
                check(status == 200, f"{name} version {version}: GET answered {status}")
                sha = hashlib.sha256(data).hexdigest()
                if version == latest:
                    check(len(data) == entry["size"], f"{name}: {len(data)} bytes, metadata says {entry['size']}")
                result.versions += 1
            expected = record.versions.get(version)
            if version <= record.checked:
                check(sha == expected, f"{name} version {version} changed since it was verified")
                continue
            maybe = [m for m in record.maybe if m[0] == sha]
            if sha == expected or (sha == LOST and expected is not None):
                record.versions[version] = sha  # the acknowledged write (its metadata at least)
                continue
            if expected is not None:
                # Another write holds the number of an acknowledged one: that one was lost.
                check(relaxed, f"{name} version {version}: content differs from the acknowledged write")
                lose("commit", name, version, f"file {name} version {version} (another write took its place)")
            if sha != LOST:
                check(maybe, f"{name} version {version}: content is neither the acknowledged nor an attempted write")
                record.maybe.remove(maybe[0])
                result.survived.append((maybe[0][1], f"{name} v{version} (unacknowledged)"))
            record.versions[version] = sha
        record.checked, record.maybe, record.dirty = latest, [], False

    if result.lost_acks:
        # The lost writes must be a tail: nothing sent after a lost acknowledgement survived.
        first_lost, what = min(result.lost_acks)
        lost = {at for at, _ in result.lost_acks}
        survivors = result.survived + [(sent_at, f"{kind} {name}" + (f" v{version}" if version else ""))
                                       for kind, name, version, sent_at, at in ledger.round.acked if at not in lost]
        for sent_at, desc in survivors:
            check(sent_at < first_lost, f"not a tail: {desc}, sent after the acknowledgement of {what}, "
                                        f"survived while {what} was lost")
    return result


UNREFERENCED = re.compile(r"^object (\S+) \((\d+) bytes\) is referenced by nothing$")
MISSING = re.compile(r"^dentry (\S+): content (\S+) is missing$")


class Fsck:
    """`orgdrive fsck` on the stores of `server` (its data dir, or its PostgreSQL
    database and S3 prefix)."""

    def __init__(self, binary, server, grace):
        self.binary, self.server = binary, server
        usage = subprocess.run([binary, "fsck", "--help"], capture_output=True, text=True).stdout
        self.grace = ["--grace", str(grace)] if "--grace" in usage else []

    def run(self, env=None):
        return subprocess.run([self.binary, "fsck", *self.server.store_args()] + self.grace,
                              capture_output=True, text=True, env=self.server.store_env(env), timeout=300)

    @staticmethod
    def judge(done, ledger, relaxed, cut, partial=True):
        """Fails on every problem the crash does not allow. On the embedded store a PUT cut
        by the crash may leave one object unreferenced: a temporary file in blobs/.incoming/
        with at most its bytes (`partial`), or an object written (all its bytes) but not yet
        recorded for its upload; on S3 a CommitFile cut by the crash may leave the copy of
        its upload (all its bytes) that its transaction did not record. So each new
        unreferenced object must match a distinct cut write (`cut`: their byte counts);
        any other is a leaked blob. Returns (leftovers so far, allowed problems)."""
        output = done.stdout + done.stderr
        lines = done.stdout.splitlines()
        check(lines and lines[-1].startswith("checked "), f"fsck failed ({done.returncode}):\n{output}")
        unreferenced, allowed = {}, 0
        for line in lines[:-1]:
            orphan, missing = UNREFERENCED.match(line), MISSING.match(line)
            if orphan and relaxed:
                allowed += 1  # its reference may have been lost with the tail
            elif orphan:
                unreferenced[orphan.group(1)] = int(orphan.group(2))
            elif missing and relaxed and missing.group(1) in ledger.lost_content:
                allowed += 1
            else:
                raise Failure(f"fsck after a crash:\n{output}")
        check(done.returncode == (0 if not lines[:-1] else 1), f"fsck exited with {done.returncode}:\n{output}")
        new = {key: size for key, size in unreferenced.items() if key not in ledger.leftovers}
        sizes = sorted(cut)
        # Whole objects first (exact sizes), then temporary files, largest first, each taking
        # the smallest cut PUT that holds it.
        for key, size in sorted(new.items(), key=lambda kv: (kv[0].startswith(".incoming/"), -kv[1])):
            incoming = key.startswith(".incoming/")
            fits = [s for s in sizes if (s >= size if incoming else s == size)]
            check(fits and not key.startswith("parts/") and (partial or not incoming),
                  f"leaked blob: {key} ({size} bytes) is referenced by nothing and no write cut by "
                  f"the crash explains it (cut writes: {sorted(cut)} bytes):\n{output}")
            sizes.remove(fits[0])
        ledger.leftovers |= set(unreferenced)
        return len(unreferenced), allowed


# What check_outbox reads, in one statement (one snapshot) that SQLite and PostgreSQL both run:
# file versions ('v'), folders ('f') and events ('e').
OUTBOX_QUERY = (
    "SELECT 'v', dentry_id, CAST(version AS TEXT), '', '' FROM dentries WHERE kind = 'FILE' "
    "UNION ALL SELECT 'v', dentry_id, CAST(version AS TEXT), '', '' FROM dentry_versions "
    "UNION ALL SELECT 'f', dentry_id, '', '', '' FROM dentries WHERE kind = 'FOLDER' "
    "UNION ALL SELECT 'e', dentry_id, CAST(version AS TEXT), event_type, dentry_type FROM events")


def check_outbox(server):
    """No change without its event, no event without its change, whatever the crash cut:
    every folder and every file version the database holds has its event in the outbox
    (written in the change's transaction), and every such event names a dentry and version
    the database holds. The load makes no other kind of change; read-only, beside the
    running server (SQLite's WAL, or PostgreSQL)."""
    rows = server.meta_rows(OUTBOX_QUERY)
    versions = {(d, v) for kind, d, v, _, _ in rows if kind == "v"}
    folders = {d for kind, d, _, _, _ in rows if kind == "f"}
    events = [(d, v, event_type, t) for kind, d, v, event_type, t in rows if kind == "e"]
    made = ("storage_dentry_created", "storage_dentry_version_added")
    file_events = {(d, v) for d, v, kind, t in events if t == "FILE" and kind in made}
    folder_events = {d for d, _, kind, t in events if t == "FOLDER" and kind in made}
    check(len(events) == len(file_events) + len(folder_events),
          f"events the load cannot make, or twice: {len(events)} rows")
    check(versions == file_events, f"file versions without their event: {sorted(versions - file_events)[:5]}; "
                                   f"events without their version: {sorted(file_events - versions)[:5]}")
    check(folders == folder_events, f"folders without their event: {sorted(folders - folder_events)[:5]}; "
                                    f"events without their folder: {sorted(folder_events - folders)[:5]}")
    return len(events)


def run_crash(number, args, server, state, ledger, rng, sim, disk, fsck, relaxed):
    """One crash: load, crash, restart, verify. Returns the report line."""
    ledger.round = Round()
    client = Client(server.base, state)
    stop, crashing = threading.Event(), threading.Event()
    workers = [threading.Thread(target=worker, args=(client, ledger, random.Random(rng.random()), stop, crashing))
               for _ in range(args.workers)]
    for w in workers:
        w.start()
    started, delay = time.time(), rng.uniform(0.3, 1.5)
    while not stop.is_set():
        if time.time() - started >= delay and ledger.round.commits >= args.min_acks:
            break
        if time.time() - started > ACK_TIMEOUT or server.process.poll() is not None:
            break
        time.sleep(0.02)
    alive = server.process.poll() is None
    crashing.set()
    server.kill()
    stop.set()
    for w in workers:
        w.join()
    check(alive, f"orgdrive exited by itself during crash {number}:\n{server.log_tail()}")
    if ledger.errors:
        raise Failure(f"a worker failed during crash {number}:\n{ledger.errors[0]}")
    round_ = ledger.round
    check(round_.commits >= args.min_acks,
          f"crash {number}: only {round_.commits} commits acknowledged in {ACK_TIMEOUT} s, "
          f"at least {args.min_acks} required")

    rebuilt = ""
    try:
        if sim:
            (dirs, files, size), lost = sim.power_loss(disk)
            rebuilt = (f"; power loss kept {files} files in {dirs} dirs ({size / 1e6:.1f} MB)"
                       + (f", lost {lost}" if lost else ""))
            checked = fsck.run(env=sim.env(disk))
            server.start(sim.env(disk))
        else:
            server.start()
        result = verify(Client(server.base, state), ledger, relaxed)
        events = check_outbox(server)
        if not sim:
            checked = fsck.run()
        embedded = server.backend == "embedded"
        leftovers, allowed = Fsck.judge(checked, ledger, relaxed,
                                        round_.cut_puts if embedded else round_.cut_commits, partial=embedded)
    except Down as e:
        raise Failure(f"after crash {number}: orgdrive stopped answering ({e}):\n{server.log_tail()}") from None
    except Failure as e:
        raise Failure(f"after crash {number}: {e}"
                      + (f"\n(the power loss{rebuilt[len('; power loss'):]})" if rebuilt else "")) from None

    line = (f"crash {number}: {round_.commits} commits and {round_.folders} folders acknowledged, "
            f"{round_.unknown} commits and {len(round_.cut_puts)} PUTs cut, {round_.refused} commits refused"
            + (f" ({', '.join(round_.refusals)})" if round_.refusals else "")
            + f" and {round_.reused} re-used upload keys refused"
            + f"; {result.versions} new versions verified byte for byte, {events} events match them"
            f" ({sum(1 for r in ledger.files.values() if r.id)} files, {len(ledger.folders)} folders)")
    if relaxed:
        line += (f"; lost with the tail: {len(result.lost_acks)} acknowledged writes, "
                 f"{result.lost_content} contents; fsck: {allowed} allowed problems")
    if leftovers:
        line += (f"; {leftovers} objects left unreferenced by cut "
                 f"{'PUTs' if server.backend == 'embedded' else 'commits'} so far")
    return line + rebuilt


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["sigkill", "power-loss"], default="sigkill")
    parser.add_argument("--power-loss", dest="mode", action="store_const", const="power-loss",
                        help="same as --mode power-loss")
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--backend", choices=BACKENDS,
                        default=os.environ.get("ORGDRIVE_TEST_BACKEND") or "embedded",
                        help="the server's stores: embedded (SQLite and files in the data dir) or "
                             "postgres+s3 (ORGDRIVE_TEST_PG_URL, ORGDRIVE_TEST_BLOB_URL; SIGKILL mode only)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--durability", choices=["full", "relaxed"], default="full",
                        help="the server's --durability, and what the test expects of it")
    parser.add_argument("--server-durability", choices=["full", "relaxed"], default=None,
                        help="run the server with this instead, keeping the expectations of "
                             "--durability (to show that the test fails)")
    parser.add_argument("--min-acks", type=int, default=5, help="acknowledged commits each crash needs")
    parser.add_argument("--grace", type=int, default=0, help="fsck --grace: unreferenced objects "
                        "older than this many seconds are leaks")
    parser.add_argument("--warm-data-dir", action="store_true",
                        help="stop the server cleanly after provisioning, sync the disk (power-loss "
                             "mode) and start it again before the first crash, so that no power loss "
                             "hits the server's first run on a new data dir")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log of a failed run")
    args = parser.parse_args()
    if args.backend != "embedded" and args.mode == "power-loss":
        parser.error(f"--mode power-loss runs on the embedded stores only: it simulates losing what the "
                     f"local disk had not made durable, while with {args.backend} PostgreSQL and the "
                     f"object store own their durability (use --mode sigkill)")
    os.environ["ORGDRIVE_TEST_BACKEND"] = args.backend  # the shared helper then agrees with --backend
    binary = os.environ.get("ORGDRIVE_BIN", "orgdrive")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    power_loss = args.mode == "power-loss"
    relaxed = power_loss and args.durability == "relaxed"
    server_durability = args.server_durability or args.durability
    kind = "power losses" if power_loss else "SIGKILLs"
    print(f"crash test on {args.backend}: {args.crashes} {kind}, {args.workers} workers, server --durability "
          f"{server_durability}, expecting {'relaxed' if relaxed else 'full'} guarantees, seed {seed}", flush=True)
    began = time.time()
    work = tempfile.mkdtemp(prefix="orgdrive-crash-")
    try:
        run(args, binary, rng, work)
    except BaseException:
        if args.keep:
            print(f"kept {work} (disk/data/, server.log)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        raise
    shutil.rmtree(work)
    print(f"1 passed, 0 failed on {args.backend}: {args.crashes} {kind}, "
          f"{'what relaxed promises holds' if relaxed else 'every acknowledged write intact'} "
          f"({time.time() - began:.0f} s)")


def run(args, binary, rng, work):
    power_loss = args.mode == "power-loss"
    relaxed = power_loss and args.durability == "relaxed"
    server_durability = args.server_durability or args.durability
    # The power-loss simulator models everything under `disk`; the server creates its data
    # dir there, so the first power loss hits a first run (unless warm).
    disk = os.path.realpath(os.path.join(work, "disk"))
    data_dir = os.path.join(disk, "data")
    os.mkdir(disk)
    # A relaxed server makes nothing durable before a checkpoint, and a clean stop does not
    # checkpoint: a warm start (provisioning, a clean stop, `sync`) keeps the tenant alive.
    warm = args.warm_data_dir or (power_loss and server_durability == "relaxed")
    sim = None
    if power_loss:
        shim = powerloss.build_shim(work)
        powerloss.self_check(os.path.join(work, "self-check"), shim)
        print("power-loss simulator: self-check passed (writes, new entries, renames and removals "
              "not made durable by an fsync are lost, the rest kept)", flush=True)
        sim = powerloss.PowerLoss(os.path.join(work, "powerloss"), shim)
        sim.settle(disk)  # the durable state at the start
    server = Server(binary, data_dir, server_durability, os.path.join(work, "server.log"), args.backend)
    if server.meta:
        print(f"stores: PostgreSQL database {server.meta.partition('?')[0].rsplit('/', 1)[1]}, "
              f"S3 prefix {server.blob.rsplit('root=', 1)[1]} (kept: the test does not drop them)", flush=True)
    fsck = Fsck(binary, server, args.grace)
    if not fsck.grace:
        print("note: `orgdrive fsck` has no --grace: unreferenced objects younger than 10 minutes "
              "are not reported, so leaked blobs go unnoticed", flush=True)
    try:
        server.start(sim.env(disk) if sim else None)
        state = provision(server)
        if warm:
            server.stop()
            if sim:
                sim.settle(disk)  # as if `sync` ran: everything on disk is durable
            server.start(sim.env(disk) if sim else None)
        ledger = Ledger()
        for number in range(1, args.crashes + 1):
            print(run_crash(number, args, server, state, ledger, rng, sim, disk, fsck, relaxed), flush=True)
        ledger.round = Round()  # no crash since the last check: nothing may be lost now
        result = verify(Client(server.base, state), ledger, relaxed, everything=True)
        total = sum(len(r.versions) for r in ledger.files.values())
        files = sum(1 for r in ledger.files.values() if r.id)
        if relaxed:
            print(f"final check: {result.versions} versions of {files} files verified byte for byte, "
                  f"{total - result.versions} without content (allowed by relaxed)", flush=True)
        else:
            print(f"final check: all {result.versions} versions of {files} files verified byte for byte",
                  flush=True)
        server.stop()
        # After a clean stop nothing new may be unreferenced.
        Fsck.judge(fsck.run(env=sim.env(disk) if sim else None), ledger, relaxed, [])
        if sim:
            problems = sim.problems()
            check(not problems, "the power-loss shim reported:\n  " + "\n  ".join(problems[:20]))
    finally:
        if server.process and server.process.poll() is None:
            server.kill()


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, powerloss.SimulatorError, Down) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
