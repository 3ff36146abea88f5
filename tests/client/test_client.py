"""`odc` against a real orgdrive server: every command, its output and its
exit codes, profiles and their private files, retries, an interrupted
1 GiB upload resumed to identical bytes, and `mirror` of a 2,000-file tree
(local <-> space, and between two servers)."""

import hashlib
import http.server
import json
import os
import signal
import stat
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from blake3 import blake3

import orgdrive_server
from conftest import Odc
from orgdrive_server import OrgdriveServer


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def lines(text):
    return [line for line in text.splitlines() if line]


# ---- profiles --------------------------------------------------------------

def test_profile_file_is_private_and_never_shows_the_secret(odc, tenant):
    mode = stat.S_IMODE(os.stat(odc.config).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(odc.config.parent).st_mode) == 0o700
    listed = odc.ok("profile", "ls")
    assert tenant.app_key in listed and tenant.union_id in listed
    assert tenant.app_secret not in listed
    assert tenant.app_secret in odc.config.read_text()


def test_a_config_others_can_read_is_refused(odc):
    os.chmod(odc.config, 0o644)
    done = odc.run("profile", "ls")
    assert done.returncode == 2
    assert "chmod 600" in done.stderr


def test_environment_overrides_and_replaces_profiles(tmp_path, server, tenant):
    bare = Odc(tmp_path / "bare")
    env = {"ODC_ENDPOINT": server.base_url, "ODC_APP_KEY": tenant.app_key,
           "ODC_APP_SECRET": tenant.app_secret, "ODC_UNION_ID": tenant.union_id}
    space = bare.ok("spaces", "create", env=env).strip()
    assert bare.ok("ls", f"{space}:/", env=env) == ""
    missing = bare.run("ls", f"{space}:/", env={**env, "ODC_APP_SECRET": ""})
    assert missing.returncode == 2 and "appSecret" in missing.stderr


def test_a_wrong_secret_is_an_authentication_failure(odc, space, server, tenant):
    done = odc.run("ls", f"{space}:/", env={"ODC_APP_SECRET": "not-the-secret"})
    assert done.returncode == 4, done.stderr
    assert "odc: " in done.stderr and "HTTP 4" in done.stderr
    assert "not-the-secret" not in done.stderr


def test_tokens_are_cached_privately(odc, space):
    odc.ok("ls", f"{space}:/")
    tokens = odc.config.parent / "tokens.json"
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    cached = json.loads(tokens.read_text())
    assert len(cached) == 1
    (entry,) = cached.values()
    assert entry["expiresAt"] > time.time() + 3600


# ---- spaces, folders, files --------------------------------------------------

def test_spaces_create_and_list(odc):
    a = odc.ok("spaces", "create", "--name", "alpha", "--quota", "1G").strip()
    again = odc.ok("spaces", "create", "--scene", "s", "--scene-id", "7").strip()
    same = odc.ok("spaces", "create", "--scene", "s", "--scene-id", "7").strip()
    assert again == same and a != again
    listed = lines(odc.ok("spaces", "ls"))
    assert [line.split("\t")[0] for line in listed] == [a, again]
    assert "of 1.00 GiB used" in listed[0] and listed[0].endswith("alpha")
    as_json = [json.loads(line) for line in lines(odc.ok("spaces", "ls", "--json"))]
    assert as_json[0]["quota"] == 1 << 30


def test_mkdir_put_get_stat_ls(odc, space, tmp_path):
    assert odc.ok("mkdir", f"{space}:/a/b/c").strip()
    src = tmp_path / "hello.txt"
    src.write_text("hello odc\n")
    assert odc.ok("put", src, f"{space}:/a/b/").strip() == "/a/b/hello.txt"
    assert odc.ok("put", src, f"{space}:/a/renamed.txt").strip() == "/a/renamed.txt"
    assert lines(odc.ok("ls", f"{space}:/a")) == ["b/", "renamed.txt"]
    long = lines(odc.ok("ls", "-l", f"{space}:/a/b"))
    assert long[0].startswith("d ") and long[0].endswith(" c")
    assert long[1].startswith("-") and " 10 " in long[1] and long[1].endswith(" hello.txt")
    entries = [json.loads(line) for line in lines(odc.ok("ls", "--json", f"{space}:/a/b"))]
    assert [(e["name"], e["type"]) for e in entries] == [("c", "FOLDER"), ("hello.txt", "FILE")]
    info = json.loads(odc.ok("stat", f"{space}:/a/b/hello.txt"))
    assert info["size"] == 10 and info["path"] == "/a/b/hello.txt"
    own = [p for props in info["appProperties"].values() for p in props]
    assert {p["name"] for p in own} == {"odcBlake3", "odcMtime"}
    assert next(p["value"] for p in own if p["name"] == "odcBlake3") == blake3(src.read_bytes()).hexdigest()
    out = tmp_path / "out"
    out.mkdir()
    odc.ok("get", f"{space}:/a/b/hello.txt", out)
    assert (out / "hello.txt").read_text() == "hello odc\n"
    # The download takes the source's modification time.
    assert int(os.stat(out / "hello.txt").st_mtime) == int(os.stat(src).st_mtime)


def test_ls_pages_through_large_folders(odc, space, tmp_path):
    tree = tmp_path / "many"
    tree.mkdir()
    for i in range(120):
        (tree / f"f{i:03}.txt").write_text(str(i))
    odc.ok("put", "-r", tree, f"{space}:/many")
    names = lines(odc.ok("ls", f"{space}:/many"))
    assert names == [f"f{i:03}.txt" for i in range(120)]


def test_put_and_get_whole_folders(odc, space, tmp_path):
    tree = tmp_path / "tree"
    (tree / "x" / "y").mkdir(parents=True)
    (tree / "top.txt").write_text("top")
    (tree / "x" / "y" / "deep.bin").write_bytes(os.urandom(300_000))
    (tree / "empty").mkdir()
    odc.ok("put", "-r", tree, f"{space}:/")
    assert lines(odc.ok("ls", f"{space}:/tree")) == ["empty/", "top.txt", "x/"]
    dest = tmp_path / "down"
    dest.mkdir()
    odc.ok("get", "-r", f"{space}:/tree", dest)
    assert (dest / "tree" / "top.txt").read_text() == "top"
    assert sha256(dest / "tree" / "x" / "y" / "deep.bin") == sha256(tree / "x" / "y" / "deep.bin")
    assert (dest / "tree" / "empty").is_dir()
    folder = odc.run("put", tree, f"{space}:/again")
    assert folder.returncode == 2 and "use -r" in folder.stderr


def test_multipart_upload_of_a_large_file(odc, space, tmp_path):
    src = tmp_path / "large.bin"
    src.write_bytes(os.urandom(5 * (1 << 20) + 12345))
    odc.ok("put", "--part-size", "1M", src, f"{space}:/large.bin")
    out = tmp_path / "large.out"
    odc.ok("get", f"{space}:/large.bin", out)
    assert sha256(out) == sha256(src)
    assert not list((odc.config.parent / "uploads").glob("*.json"))


def test_conflicts_overwrite_rename_or_fail(odc, space, tmp_path):
    src = tmp_path / "c.txt"
    src.write_text("one")
    odc.ok("put", src, f"{space}:/c.txt")
    src.write_text("two")
    odc.ok("put", src, f"{space}:/c.txt")
    assert json.loads(odc.ok("stat", f"{space}:/c.txt"))["version"] == 2
    assert odc.ok("put", "--conflict", "rename", src, f"{space}:/c.txt").strip() != "/c.txt"
    refused = odc.run("put", "--conflict", "fail", src, f"{space}:/c.txt")
    assert refused.returncode == 1
    assert refused.stderr.startswith("odc: ") and "HTTP 4" in refused.stderr
    assert len(lines(refused.stderr)) == 1


def test_mv_cp_rm_and_the_recycle_bin(odc, space, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("payload")
    odc.ok("mkdir", f"{space}:/from/inner")
    odc.ok("mkdir", f"{space}:/to")
    odc.ok("put", src, f"{space}:/from/inner/f.txt")
    assert odc.ok("mv", f"{space}:/from/inner/f.txt", f"{space}:/to/").strip() == "/to/f.txt"
    assert odc.ok("mv", f"{space}:/to/f.txt", f"{space}:/to/g.txt").strip() == "/to/g.txt"
    assert odc.ok("mv", f"{space}:/to/g.txt", f"{space}:/from/h.txt").strip() == "/from/h.txt"
    # A folder with contents is copied by a task: cp waits for it.
    assert odc.ok("cp", f"{space}:/from", f"{space}:/copy").strip() == "/copy"
    assert lines(odc.ok("ls", f"{space}:/copy")) == ["h.txt", "inner/"]
    other = odc.ok("spaces", "create").strip()
    assert odc.ok("cp", f"{space}:/from/h.txt", f"{other}:/").strip() == "/h.txt"

    odc.ok("rm", f"{space}:/copy")
    items = [json.loads(line) for line in lines(odc.ok("bin", "ls", "--json", space))]
    assert [(i["originalPath"], i["type"]) for i in items] == [("/copy", "FOLDER")]
    assert "copy" not in odc.ok("ls", f"{space}:/")
    odc.ok("bin", "restore", space, items[0]["id"])
    assert lines(odc.ok("ls", f"{space}:/copy")) == ["h.txt", "inner/"]
    odc.ok("rm", "--permanent", f"{space}:/copy/h.txt")
    assert odc.ok("bin", "ls", space) == ""
    odc.ok("rm", f"{space}:/copy", f"{space}:/to")
    assert len(lines(odc.ok("bin", "ls", space))) == 2
    refused = odc.run("bin", "purge", space)
    assert refused.returncode == 2 and "--all" in refused.stderr
    first = lines(odc.ok("bin", "ls", space))[0].split("\t")[0]
    odc.ok("bin", "purge", space, first)
    assert len(lines(odc.ok("bin", "ls", space))) == 1
    odc.ok("bin", "purge", "--all", space)
    assert odc.ok("bin", "ls", space) == ""


def test_versions(odc, space, tmp_path):
    src = tmp_path / "v.txt"
    for text in ("first", "second", "third"):
        src.write_text(text)
        odc.ok("put", src, f"{space}:/v.txt")
    versions = [json.loads(line) for line in lines(odc.ok("versions", "ls", "--json", f"{space}:/v.txt"))]
    assert sorted(v["version"] for v in versions) == [1, 2]
    odc.ok("versions", "get", f"{space}:/v.txt", 1, tmp_path / "v1.txt")
    assert (tmp_path / "v1.txt").read_text() == "first"
    assert "is now version 4" in odc.ok("versions", "revert", f"{space}:/v.txt", 1)
    odc.ok("get", f"{space}:/v.txt", tmp_path / "now.txt")
    assert (tmp_path / "now.txt").read_text() == "first"


def test_share_grants_and_removes_roles(odc, space, server, tenant):
    other = server.admin.create_user(tenant.corp_id, name="Bo", org_admin=False)["unionId"]
    odc.ok("mkdir", f"{space}:/shared")
    odc.ok("share", "add", f"{space}:/shared", "--role", "EDITOR", "--user", other)
    grants = [json.loads(line) for line in lines(odc.ok("share", "ls", "--json", f"{space}:/shared"))]
    assert {(g["role"]["id"], g["member"]["type"], g["member"]["id"]) for g in grants} >= {
        ("EDITOR", "USER", other)}
    odc.ok("share", "rm", f"{space}:/shared", "--role", "EDITOR", "--user", other)
    assert other not in odc.ok("share", "ls", f"{space}:/shared")
    unknown = odc.run("share", "add", f"{space}:/shared", "--role", "READER", "--user", "nobody")
    assert unknown.returncode == 1 and "paramError" in unknown.stderr


def test_du(odc, space, tmp_path):
    src = tmp_path / "d.bin"
    src.write_bytes(b"x" * 3000)
    odc.ok("put", src, f"{space}:/d/one.bin")
    odc.ok("put", src, f"{space}:/d/sub/two.bin")
    out = lines(odc.ok("du", f"{space}:/d"))
    assert out[0].startswith(f"space {space}: ") and "used" in out[0]
    assert out[1] == f"{space}:/d: 2 files, 5.86 KiB"


def test_exit_codes_of_missing_paths_and_bad_arguments(odc, space):
    missing = odc.run("ls", f"{space}:/nothing/here")
    assert missing.returncode == 3 and missing.stderr == f"odc: not found: {space}:/nothing/here\n"
    assert odc.run("ls", "no-remote-path").returncode == 2
    assert odc.run("ls", f"{space}:/a/../b").returncode == 2
    assert odc.run("frobnicate").returncode == 2
    unknown_space = odc.run("ls", "999999999:/")
    assert unknown_space.returncode in (1, 3, 4) and "odc: " in unknown_space.stderr


# ---- retries -------------------------------------------------------------------

class FlakyProxy:
    """Forwards to the server, answering the first `failures` requests of
    each operation with DingTalk's 503 `operationTimeout` (or every one,
    with failures=None); counts requests per path."""

    def __init__(self, target, failures, rewrite=None, keep_host=False, redirect_to=None):
        self.target, self.failures, self.seen = target.rstrip("/"), failures, {}
        self.rewrite = rewrite or (lambda path, data: data)
        self.bodies = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_any(self):
                path = self.path.split("?")[0]
                count = proxy.seen[path] = proxy.seen.get(path, 0) + 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.bodies.append(body)
                if redirect_to is not None:
                    self.send_response(307)
                    self.send_header("Location", redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if proxy.failures is None or count <= proxy.failures:
                    payload = json.dumps({"code": "operationTimeout", "message": "try again",
                                          "requestid": f"flaky{count}"}).encode()
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                dropped = ("content-length",) if keep_host else ("host", "content-length")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
                request = urllib.request.Request(proxy.target + self.path, data=body,
                                                 headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(request) as r:
                        status, data, ctype = r.status, r.read(), r.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    status, data, ctype = e.code, e.read(), e.headers.get("Content-Type")
                data = proxy.rewrite(path, data)
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_retries_with_backoff_on_503_then_succeeds(odc, space, server):
    proxy = FlakyProxy(server.base_url, failures=2)
    try:
        started = time.monotonic()
        assert odc.ok("ls", f"{space}:/", env={"ODC_ENDPOINT": proxy.url}) == ""
        # Two refusals of GetAccessToken and of ListDentries, each retried
        # after a pause of at least 200 ms, then 400 ms.
        assert proxy.seen["/v1.0/oauth2/accessToken"] == 3
        assert proxy.seen[f"/v1.0/storage/spaces/{space}/dentries"] == 3
        assert time.monotonic() - started >= 1.2
    finally:
        proxy.close()


def test_gives_up_after_five_tries_with_the_code(odc, space, server):
    proxy = FlakyProxy(server.base_url, failures=None)
    try:
        done = odc.run("ls", f"{space}:/", env={"ODC_ENDPOINT": proxy.url})
        assert done.returncode == 5
        assert done.stderr == "odc: operationTimeout: try again (HTTP 503, requestid flaky5)\n"
        assert proxy.seen == {"/v1.0/oauth2/accessToken": 5}
    finally:
        proxy.close()


def test_hostile_names_never_leave_the_destination(odc, space, server, tmp_path):
    """A server (here a proxy rewriting orgdrive's listings) answering names
    such as `..` or `a/b` cannot make get -r or mirror write outside the
    destination folder."""
    src = tmp_path / "f.txt"
    src.write_text("payload")
    for name in ("evil1.txt", "evil2.txt", "fine.txt"):
        odc.ok("put", src, f"{space}:/m/{name}")
    renames = {b'"evil1.txt"': b'"../escaped.txt"', b'"evil2.txt"': b'".."'}

    def rewrite(path, data):
        if path.endswith("/dentries"):
            for old, new in renames.items():
                data = data.replace(old, new)
        return data

    proxy = FlakyProxy(server.base_url, failures=0, rewrite=rewrite)
    try:
        dest = tmp_path / "inside" / "dest"
        dest.mkdir(parents=True)
        done = odc.run("mirror", f"{space}:/m", dest, env={"ODC_ENDPOINT": proxy.url})
        assert done.returncode == 0, done.stderr
        assert "not a usable file name" in done.stderr
        assert sorted(p.name for p in dest.iterdir()) == ["fine.txt"]
        assert not (tmp_path / "inside" / "escaped.txt").exists()
    finally:
        proxy.close()


def test_redirects_are_not_followed(odc, space, server, tenant):
    """A redirect would carry the app secret (or the token) to another host."""
    elsewhere = FlakyProxy(server.base_url, failures=None)
    redirecting = FlakyProxy(server.base_url, failures=None, redirect_to=elsewhere.url)
    try:
        done = odc.run("ls", f"{space}:/", env={"ODC_ENDPOINT": redirecting.url})
        assert done.returncode != 0
        assert elsewhere.seen == {}
        assert tenant.app_secret not in done.stderr
        assert any(b and tenant.app_secret.encode() in b for b in redirecting.bodies)
    finally:
        redirecting.close()
        elsewhere.close()


def test_a_download_longer_than_its_file_stops_at_once(odc, space, server, tmp_path):
    src = tmp_path / "s.txt"
    src.write_text("four")
    odc.ok("put", src, f"{space}:/s.txt")

    def pad(path, data):
        return data + b"x" * (1 << 20) if path.startswith("/blob") else data

    proxy = FlakyProxy(server.base_url, failures=0, rewrite=pad, keep_host=True)
    try:
        dest = tmp_path / "got"
        dest.mkdir()
        done = odc.run("get", f"{space}:/s.txt", dest, env={"ODC_ENDPOINT": proxy.url})
        assert done.returncode == 1, done.stderr
        assert "holds more than its 4 bytes" in done.stderr
        assert list(dest.iterdir()) == []  # no file, no partial left
        blob_gets = sum(n for path, n in proxy.seen.items() if path.startswith("/blob"))
        assert blob_gets == 1  # not retried
    finally:
        proxy.close()


# ---- an interrupted 1 GiB upload -----------------------------------------------

def test_interrupted_1gib_put_resumes_to_identical_bytes(odc, tmp_path):
    space = odc.ok("spaces", "create", "--quota", "4G").strip()
    src = tmp_path / "one-gib.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(1024):
            f.write(i.to_bytes(4, "big") + block[4:])
    uploads = odc.config.parent / "uploads"

    put = odc.popen("put", "--parallel", "2", src, f"{space}:/one-gib.bin")
    done_parts = 0
    deadline = time.monotonic() + 300
    while done_parts < 64 and time.monotonic() < deadline and put.poll() is None:
        for state in uploads.glob("*.json"):
            try:
                done_parts = len(json.loads(state.read_text())["done"])
            except (ValueError, OSError):
                pass
        time.sleep(0.005)
    put.send_signal(signal.SIGINT)
    _, status, rusage = os.wait4(put.pid, 0)
    stderr = put.stderr.read()
    assert os.waitstatus_to_exitcode(status) == 130, stderr
    assert "interrupted" in stderr, stderr
    assert 64 <= done_parts < 128
    # Nothing was committed: no partial file.
    assert odc.ok("ls", f"{space}:/") == ""
    # Memory is bounded by the parts in flight, not the file's size.
    assert rusage.ru_maxrss < 200 * 1024, rusage.ru_maxrss

    resumed = odc.run("put", src, f"{space}:/one-gib.bin")
    assert resumed.returncode == 0, resumed.stderr
    sent_before = int(resumed.stderr.split("resuming one-gib.bin: ")[1].split(" ")[0])
    assert sent_before >= 64
    assert not list(uploads.glob("*.json"))
    out = tmp_path / "back.bin"
    odc.ok("get", f"{space}:/one-gib.bin", out)
    assert sha256(out) == sha256(src)
    out.unlink()
    src.unlink()


# ---- mirror ----------------------------------------------------------------------

def make_tree(root, folders=20, per_folder=100):
    for d in range(folders):
        sub = root / f"d{d:02}" / "sub"
        sub.mkdir(parents=True)
        for f in range(per_folder // 2):
            (root / f"d{d:02}" / f"f{f:03}.txt").write_text(f"file {d} {f}\n")
            (sub / f"g{f:03}.bin").write_bytes(os.urandom(2000 + f))


def summary(out):
    """transferred N files (..), made F folders, deleted D, unchanged U -> (N, F, D, U)"""
    words = out.split()
    return (int(words[1]), int(words[words.index("made") + 1]),
            int(words[words.index("deleted") + 1].rstrip(",")), int(words[-1]))


def test_mirror_2000_files_incrementally_both_ways(odc, space, tmp_path):
    tree = tmp_path / "tree"
    make_tree(tree)
    assert sum(1 for p in tree.rglob("*") if p.is_file()) == 2000
    assert summary(odc.ok("mirror", tree, f"{space}:/m")) == (2000, 40, 0, 0)
    assert summary(odc.ok("mirror", tree, f"{space}:/m")) == (0, 0, 0, 2000)

    (tree / "d03" / "f007.txt").write_text("changed, longer than before\n")
    (tree / "d05" / "sub" / "g009.bin").unlink()
    plan = lines(odc.ok("mirror", "--dry-run", "--delete", tree, f"{space}:/m"))
    assert plan == ["copy   d03/f007.txt (28 bytes)", "delete d05/sub/g009.bin"]
    assert summary(odc.ok("mirror", "--delete", tree, f"{space}:/m")) == (1, 0, 1, 1998)
    assert "g009.bin" not in odc.ok("ls", f"{space}:/m/d05/sub")
    assert "g009.bin" in odc.ok("bin", "ls", space)

    # A file touched but not changed is found the same by its hash.
    os.utime(tree / "d01" / "f001.txt", (1, 1))
    assert summary(odc.ok("mirror", tree, f"{space}:/m")) == (0, 0, 0, 1999)

    back = tmp_path / "back"
    assert summary(odc.ok("mirror", f"{space}:/m", back)) == (1999, 40, 0, 0)
    for path in tree.rglob("*"):
        if path.is_file():
            assert (back / path.relative_to(tree)).read_bytes() == path.read_bytes()
    assert summary(odc.ok("mirror", f"{space}:/m", back)) == (0, 0, 0, 1999)
    (back / "stray.txt").write_text("not in the space")
    assert summary(odc.ok("mirror", "--delete", f"{space}:/m", back)) == (0, 0, 1, 1999)
    assert not (back / "stray.txt").exists()


def test_mirror_between_two_servers(odc, space, server, tmp_path):
    """A second orgdrive stands in for DingTalk's own service."""
    other = OrgdriveServer(tmp_path / "other-data", stderr=tmp_path / "other.log")
    other.start()
    try:
        remote_tenant = orgdrive_server.provision(other.base_url, other.admin, with_token=False)
        odc.add_profile("dingtalk", other.base_url, remote_tenant)
        far = odc.ok("-P", "dingtalk", "spaces", "create").strip()
        tree = tmp_path / "tree"
        make_tree(tree, folders=4, per_folder=20)
        (tree / "big.bin").write_bytes(os.urandom(3 * (1 << 20) + 7))
        odc.ok("put", "-r", tree, f"dingtalk:{far}:/")
        # DingTalk -> orgdrive, then a change there, then orgdrive -> DingTalk.
        assert summary(odc.ok("mirror", "--part-size", "1M", f"dingtalk:{far}:/tree", f"{space}:/copy")) == (
            81, 8, 0, 0)
        assert summary(odc.ok("mirror", f"dingtalk:{far}:/tree", f"{space}:/copy")) == (0, 0, 0, 81)
        changed = tmp_path / "changed.txt"
        changed.write_text("edited in orgdrive")
        odc.ok("put", changed, f"{space}:/copy/d00/f000.txt")
        assert summary(odc.ok("mirror", f"{space}:/copy", f"dingtalk:{far}:/tree")) == (1, 0, 0, 80)
        down = tmp_path / "down"
        odc.ok("-P", "dingtalk", "get", "-r", f"{far}:/tree", down)
        assert (down / "d00" / "f000.txt").read_text() == "edited in orgdrive"
        assert sha256(down / "big.bin") == sha256(tree / "big.bin")
    finally:
        other.stop()
