#!/usr/bin/env python3
"""Crash test of tasks: SIGKILL the server while it moves or copies a folder of 500
entries between two spaces as a task, restart it, and check that the task ends SUCCESS
(or FAIL) with the tree whole in exactly one place.

One tenant, two spaces A and B. A folder `tree` (with 450 sub-folders and 50 small files
spread over them: 501 entries with the folder itself) starts in A. Each round submits
either a cross-space move of `tree` to the other space, or a copy of it into the other
space (the copy is deleted again before the next round), waits a random 0–25 ms, SIGKILLs
the server, runs `orgdrive fsck --grace 0` on the data dir, restarts the server and polls
GetTask until the task finishes. Then:

  - a move: `tree` is wholly in one space (ListAllDentries: 501 entries there, none in the
    other), in the target when the task says SUCCESS, in the source when FAIL; its id,
    uuid and file bytes are unchanged; usedQuota of each space is the bytes it holds;
  - a copy: the source is untouched, and the target holds the whole copy (SUCCESS) or
    nothing of it (FAIL);
  - fsck reports nothing;
  - the outbox holds exactly one event per move or copy that happened (and per deleted
    copy): written in the transaction of the change, never by a task that failed, never
    twice by a task run again after the restart.

The summary says how many tasks the kill interrupted: those the restarted server logged
as resumed ("resumed interrupted tasks").

With --backend postgres+s3 (default: ORGDRIVE_TEST_BACKEND, else embedded) the server keeps
its metadata in a fresh PostgreSQL database and its contents under a fresh S3 prefix
(tests/support: ORGDRIVE_TEST_PG_URL, ORGDRIVE_TEST_BLOB_URL); fsck gets --meta/--blob and
the outbox is read from the database with psql. A store shared by nodes resumes at start
only the tasks whose node's claim expired, so that server runs with `--task-claim 1` and
each restart comes at least that long after the kill: the restarted server resumes the
interrupted task itself (it logs the same line), as a lone node on PostgreSQL does.

Usage: python3 tests/crash/task_crash.py [--rounds 10] [--backend embedded|postgres+s3] [--seed N]
       (ORGDRIVE_BIN names the binary)
"""

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash_test import BACKENDS, Client, Failure, Server, check, provision, request  # noqa: E402
from orgdrive_server import default_binary  # noqa: E402

FOLDERS = 450
FILES = 50
ENTRIES = 1 + FOLDERS + FILES
# With postgres+s3: seconds a node's claim on a task lasts (`serve --task-claim`); a restart
# waits this long after the kill, so that the restarted server takes the task over at start.
TASK_CLAIM_SECS = 1


def upload(client, space_id, parent_id, name, data):
    path = f"/v1.0/storage/spaces/{space_id}"
    status, info = client.call("POST", f"{path}/files/uploadInfos/query",
                               {"protocol": "HEADER_SIGNATURE", "multipart": False})
    check(status == 200, f"GetFileUploadInfo: {status} {info}")
    sig = info["headerSignatureInfo"]
    status, _ = request("PUT", sig["resourceUrls"][0], raw=data, headers=sig.get("headers") or {})
    check(status == 200, f"PUT: {status}")
    status, body = client.call("POST", f"{path}/files/commit",
                               {"uploadKey": info["uploadKey"], "name": name, "parentId": parent_id})
    check(status == 200, f"CommitFile: {status} {body}")
    return body["dentry"]


def build_tree(client, space_id):
    path = f"/v1.0/storage/spaces/{space_id}"
    status, body = client.call("POST", f"{path}/dentries/0/folders", {"name": "tree"})
    check(status == 200, f"AddFolder: {status} {body}")
    tree = body["dentry"]
    folders = [tree["id"]]
    for i in range(FOLDERS):
        parent = folders[i // 10]  # a tree of fan-out 10, a few levels deep
        status, body = client.call("POST", f"{path}/dentries/{parent}/folders", {"name": f"d{i}"})
        check(status == 200, f"AddFolder: {status} {body}")
        folders.append(body["dentry"]["id"])
    files = {}
    for i in range(FILES):
        data = f"file {i} ".encode() * (i + 1)
        dentry = upload(client, space_id, folders[(i * 7) % len(folders)], f"f{i}.txt", data)
        files[dentry["id"]] = hashlib.sha256(data).hexdigest()
    total = sum(len(f"file {i} ".encode() * (i + 1)) for i in range(FILES))
    return tree, files, total


def count_all(client, space_id):
    count, token = 0, None
    while True:
        query = f"/v1.0/storage/spaces/{space_id}/dentries/listAll"
        body = {"option": {"maxResults": 50, **({"nextToken": token} if token else {})}}
        status, page = client.call("POST", query, body)
        check(status == 200, f"ListAllDentries: {status} {page}")
        count += len(page.get("dentries", []))
        token = page.get("nextToken")
        if not token:
            return count


def used(client, space_id):
    status, body = client.call("GET", f"/v1.0/storage/spaces/{space_id}")
    check(status == 200, f"GetSpace: {status} {body}")
    return body["space"].get("usedQuota", 0)


def wait_task(client, task_id, timeout=60):
    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline:
        status, body = client.call("GET", f"/v1.0/storage/tasks/{task_id}")
        check(status == 200, f"GetTask {task_id}: {status} {body}")
        task = body["task"]
        first = first or task["status"]
        if task["status"] in ("SUCCESS", "FAIL"):
            return task, first
        time.sleep(0.02)
    raise Failure(f"task {task_id} still {task['status']} after {timeout} s")


def fsck(binary, server):
    done = subprocess.run([binary, "fsck", *server.store_args(), "--grace", "0"],
                          capture_output=True, text=True, env=server.store_env(), timeout=300)
    lines = done.stdout.splitlines()
    check(done.returncode == 0 and len(lines) == 1 and lines[0].startswith("checked "),
          f"fsck ({done.returncode}):\n{done.stdout}{done.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--backend", choices=BACKENDS,
                        default=os.environ.get("ORGDRIVE_TEST_BACKEND") or "embedded",
                        help="the server's stores (postgres+s3: ORGDRIVE_TEST_PG_URL, ORGDRIVE_TEST_BLOB_URL)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    os.environ["ORGDRIVE_TEST_BACKEND"] = args.backend  # the shared helper then agrees with --backend
    print(f"task crash test on {args.backend}: {args.rounds} rounds, seed {seed}")
    binary = default_binary()
    with tempfile.TemporaryDirectory(prefix="orgdrive-task-crash-") as work:
        data_dir = os.path.join(work, "data")
        shared = args.backend != "embedded"
        server = Server(binary, data_dir, "full", os.path.join(work, "server.log"), args.backend,
                        extra_args=["--task-claim", str(TASK_CLAIM_SECS)] if shared else [])
        server.start()
        try:
            run(args, rng, binary, server)
        except Exception:
            print(f"server log tail:\n{server.log_tail(40)}", file=sys.stderr)
            raise
        finally:
            if server.running:
                server.stop()
        fsck(binary, server)
    print(f"task crash test passed on {args.backend}")


def event_counts(server):
    """eventType -> how many, read from the outbox beside the running server."""
    return {kind: int(n) for kind, n in
            server.meta_rows("SELECT event_type, COUNT(*) FROM events GROUP BY event_type")}


def run(args, rng, binary, server):
    state = provision(server)
    client = Client(server.base, state)
    status, other = client.call("POST", "/v1.0/storage/spaces", {"option": {"sceneId": "2"}})
    check(status == 200, f"AddSpace: {status} {other}")
    spaces = [state["spaceId"], other["space"]["id"]]
    tree, files, total = build_tree(client, spaces[0])
    where, interrupted = 0, 0
    happened = {"storage_dentry_moved": 0, "storage_dentry_copied": 0, "storage_dentry_deleted": 0}
    for number in range(1, args.rounds + 1):
        source, target = spaces[where], spaces[1 - where]
        copy = rng.random() < 0.5
        op = "copy" if copy else "move"
        status, body = client.call("POST", f"/v1.0/storage/spaces/{source}/dentries/{tree['id']}/{op}",
                                   {"targetSpaceId": target, "targetFolderId": "0"})
        check(status == 200 and body.get("async") and body.get("taskId"),
              f"{op} of a 500-entry folder across spaces runs as a task: {status} {body}")
        time.sleep(rng.uniform(0, 0.025))
        server.kill()
        killed_at = time.monotonic()
        fsck(binary, server)
        log_offset = os.path.getsize(server.log_path)
        if server.backend != "embedded":
            time.sleep(max(0.0, killed_at + TASK_CLAIM_SECS + 0.2 - time.monotonic()))
        server.start()
        client = Client(server.base, state)
        task, first = wait_task(client, body["taskId"])
        with open(server.log_path, errors="replace") as log:
            log.seek(log_offset)
            resumed = "resumed interrupted tasks" in log.read()
        interrupted += resumed
        counts = [count_all(client, s) for s in spaces]
        if copy:
            if task["status"] == "SUCCESS":
                check(counts[where] == ENTRIES and counts[1 - where] == ENTRIES,
                      f"round {number}: a successful copy leaves both whole: {counts}")
                check(used(client, target) == total, f"round {number}: the copy is charged")
                copy_id = body["dentry"]["id"]
                status, gone = client.call("DELETE", f"/v1.0/storage/spaces/{target}/dentries/{copy_id}")
                check(status == 200 and gone.get("async"), f"delete of the copy: {status} {gone}")
                done, _ = wait_task(client, gone["taskId"])
                check(done["status"] == "SUCCESS", f"delete of the copy: {done}")
                happened["storage_dentry_copied"] += 1
                happened["storage_dentry_deleted"] += 1
            check(count_all(client, target) == 0 and count_all(client, source) == ENTRIES,
                  f"round {number}: after the copy ({task['status']}) only the source remains")
        else:
            moved = task["status"] == "SUCCESS"
            if moved:
                where = 1 - where
                happened["storage_dentry_moved"] += 1
            check(counts[where] == ENTRIES and counts[1 - where] == 0,
                  f"round {number}: the tree is wholly in one place after a move "
                  f"that ended {task['status']}: {counts}")
        check(used(client, spaces[where]) == total and used(client, spaces[1 - where]) == 0,
              f"round {number}: usedQuota follows the tree")
        status, got = client.call("POST", f"/v1.0/storage/spaces/{spaces[where]}/dentries/{tree['id']}/query", {})
        check(status == 200 and got["dentry"]["uuid"] == tree["uuid"], f"round {number}: the tree keeps its ids")
        counts = event_counts(server)
        check(all(counts.get(kind, 0) == n for kind, n in happened.items()),
              f"round {number}: one event per change: {counts}, expected {happened}")
        print(f"round {number}: {op} ended {task['status']}"
              f"{' after a resume' if resumed else ''}; tree in space {where}")
    for dentry_id, digest in files.items():
        status, info = client.call(
            "POST", f"/v1.0/storage/spaces/{spaces[where]}/dentries/{dentry_id}/downloadInfos/query", {})
        check(status == 200, f"GetFileDownloadInfo: {status} {info}")
        status, data = request("GET", info["headerSignatureInfo"]["resourceUrls"][0])
        check(status == 200 and hashlib.sha256(data).hexdigest() == digest, f"file {dentry_id} bytes")
    print(f"{interrupted} of {args.rounds} tasks were interrupted by the kill and resumed at "
          f"the restart; every file kept its bytes")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
