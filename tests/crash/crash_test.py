#!/usr/bin/env python3
"""Crash test: acknowledged writes survive SIGKILL.

Workers drive a mixed load against a real `orgdrive serve` (folder creation,
uploads with commit, overwrites that add versions, abandoned uploads) and log
every operation the server acknowledged. At a random moment the server is
killed with SIGKILL and started again on the same data dir. After each
restart:
  - every acknowledged folder and file is there, and every file written since
    the previous crash has exactly the bytes of its last acknowledged write or
    of a later write that was attempted but not acknowledged (an
    unacknowledged write may have landed, but never half: no other bytes, no
    other size); files not written since keep the size verified then (content
    objects never change), and at the end every file is verified byte for byte;
  - nothing is visible that was never attempted;
  - `orgdrive fsck` reports no problem.

Usage: python3 tests/crash/crash_test.py [--crashes 20] [--workers 4]
       (ORGDRIVE_BIN names the binary; `--crashes 100` for the long run)
Only the standard library is used; requests go to 127.0.0.1 only."""

import argparse
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ADMIN = "crash-test-admin"
SCOPES = ["Storage.Space.Write", "Storage.Space.Read", "Storage.File.Write", "Storage.File.Read",
          "Storage.UploadInfo.Read", "Storage.DownloadInfo.Read"]


class Down(Exception):
    """The server is gone (killed): the operation's outcome is unknown."""


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
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError) as e:
        raise Down(str(e)) from e


class Server:
    def __init__(self, binary, data_dir):
        self.binary, self.data_dir = binary, data_dir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir,
             "--admin-token", ADMIN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.process.stdout:
            if line.startswith("ready in"):
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return
        raise RuntimeError("orgdrive exited before it was ready")

    def kill(self):
        self.process.kill()  # SIGKILL
        self.process.wait()

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0


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


def provision(server):
    h = {"Authorization": f"Bearer {ADMIN}"}
    org = json.loads(request("POST", f"{server.base}/admin/v1/orgs", {"name": "crash"}, h)[1])
    corp = org["corpId"]
    app = json.loads(request("POST", f"{server.base}/admin/v1/orgs/{corp}/apps",
                             {"name": "crash", "scopes": SCOPES}, h)[1])
    user = json.loads(request("POST", f"{server.base}/admin/v1/orgs/{corp}/users", {"name": "u"}, h)[1])
    token = json.loads(request("POST", f"{server.base}/v1.0/oauth2/accessToken",
                               {"appKey": app["appKey"], "appSecret": app["appSecret"]})[1])["accessToken"]
    state = {"unionId": user["unionId"], "token": token}
    status, space = Client(server.base, state).call("POST", "/v1.0/storage/spaces", {})
    assert status == 200, space
    state["spaceId"] = space["space"]["id"]
    return state


class Ledger:
    """What was attempted and what was acknowledged, shared by the workers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.folders = {}  # name -> id (acknowledged)
        # name -> {"acked": sha or None, "attempted": [sha, ...], "dirty": written since
        # the last check, "size": size seen at the last check}
        self.files = {}
        self.attempted_names = set()

    def attempt(self, name):
        with self.lock:
            self.attempted_names.add(name)


def worker(client, ledger, rng, stop):
    counter = 0
    while not stop.is_set():
        counter += 1
        choice = rng.random()
        try:
            if choice < 0.2:
                name = f"folder-{rng.getrandbits(48):x}"
                ledger.attempt(name)
                status, reply = client.call("POST", client.space_path("/dentries/0/folders"),
                                            {"name": name, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}})
                if status == 200:
                    with ledger.lock:
                        ledger.folders[name] = reply["dentry"]["id"]
                continue
            with ledger.lock:
                existing = rng.choice(sorted(ledger.files)) if ledger.files and choice < 0.45 else None
            name = existing or f"file-{rng.getrandbits(48):x}.bin"
            data = rng.randbytes(rng.choice([0, 1, 100, 4096, 65536, 300_000]))
            sha = hashlib.sha256(data).hexdigest()
            status, info = client.call("POST", client.space_path("/files/uploadInfos/query"),
                                       {"protocol": "HEADER_SIGNATURE", "multipart": False})
            if status != 200:
                continue
            url = info["headerSignatureInfo"]["resourceUrls"][0]
            if request("PUT", url, raw=data)[0] != 200:
                continue
            if choice > 0.95:
                continue  # abandoned upload: must never become visible
            with ledger.lock:
                entry = ledger.files.setdefault(name, {"acked": None, "attempted": [], "size": None})
                entry["attempted"].append(sha)
                entry["dirty"] = True
            ledger.attempt(name)
            status, reply = client.call("POST", client.space_path("/files/commit"), {
                "uploadKey": info["uploadKey"], "name": name, "parentId": "0",
                "option": {"conflictStrategy": "OVERWRITE", "size": len(data)}})
            if status == 200:
                with ledger.lock:
                    entry = ledger.files[name]
                    # Acknowledged: this write and nothing older is what counts now.
                    entry["acked"] = sha
                    entry["attempted"] = entry["attempted"][entry["attempted"].index(sha):]
        except Down:
            return


def verify(client, ledger, binary, data_dir, everything=False):
    """Checks the space against the ledger. Files written since the last check
    (or all, with `everything`) are downloaded and compared byte for byte; the
    others, whose content objects never change, must still be there with the
    size seen then."""
    entries, token = [], None
    while True:
        path = client.space_path("/dentries?parentId=0&maxResults=50") + (f"&nextToken={token}" if token else "")
        status, page = client.call("GET", path)
        assert status == 200, page
        entries += page["dentries"]
        token = page.get("nextToken")
        if not token:
            break
    visible = {e["name"]: e for e in entries}
    unknown = set(visible) - ledger.attempted_names
    assert not unknown, f"visible but never attempted: {sorted(unknown)[:5]}"
    for name, folder_id in ledger.folders.items():
        assert name in visible and visible[name]["id"] == folder_id, f"acknowledged folder {name} lost"
    downloaded = 0
    for name, entry in ledger.files.items():
        if entry["acked"] is None and name not in visible:
            continue  # never acknowledged, never landed: fine
        assert name in visible, f"acknowledged file {name} lost"
        if not (everything or entry.get("dirty")):
            assert visible[name]["size"] == entry["size"], f"{name}: size changed without a write"
            continue
        status, info = client.call("POST", client.space_path(f"/dentries/{visible[name]['id']}/downloadInfos/query"), {})
        assert status == 200, info
        status, data = request("GET", info["headerSignatureInfo"]["resourceUrls"][0])
        assert status == 200 and len(data) == visible[name]["size"], f"{name}: size differs from metadata"
        sha = hashlib.sha256(data).hexdigest()
        allowed = set(entry["attempted"]) | ({entry["acked"]} if entry["acked"] else set())
        assert sha in allowed, f"{name}: content is neither the acknowledged nor a later attempted write"
        # From now on the write that landed is the one that counts.
        entry["acked"] = sha
        entry["attempted"] = entry["attempted"][entry["attempted"].index(sha):] if sha in entry["attempted"] else []
        entry["size"], entry["dirty"] = len(data), False
        downloaded += 1
    fsck = subprocess.run([binary, "fsck", "--data-dir", data_dir], capture_output=True, text=True)
    assert fsck.returncode == 0, f"fsck after a crash:\n{fsck.stdout}{fsck.stderr}"
    return downloaded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    binary = os.environ.get("ORGDRIVE_BIN", "orgdrive")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"crash test: {args.crashes} crashes, {args.workers} workers, seed {seed}", flush=True)
    with tempfile.TemporaryDirectory() as data_dir:
        server = Server(binary, data_dir)
        server.start()
        state = provision(server)
        ledger = Ledger()
        started = time.time()
        for crash in range(1, args.crashes + 1):
            client = Client(server.base, state)
            stop = threading.Event()
            workers = [threading.Thread(target=worker, args=(client, ledger, random.Random(rng.random()), stop))
                       for _ in range(args.workers)]
            for w in workers:
                w.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.kill()
            stop.set()
            for w in workers:
                w.join()
            server.start()
            checked = verify(Client(server.base, state), ledger, binary, data_dir)
            print(f"crash {crash}: {len(ledger.folders)} folders, {len(ledger.files)} files, "
                  f"{checked} written since the last crash verified byte for byte", flush=True)
        total = verify(Client(server.base, state), ledger, binary, data_dir, everything=True)
        print(f"final check: all {total} files verified byte for byte", flush=True)
        server.stop()
        print(f"1 passed, 0 failed: {args.crashes} SIGKILLs, every acknowledged write intact "
              f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
