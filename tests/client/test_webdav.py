"""WebDAV at /dav/ against a real orgdrive server: the litmus compliance
suite (Debian's `litmus`), rclone (Debian's `rclone`) copying a tree in and
out, authentication (console password, app token, limits) and what a
broken upload leaves (nothing)."""

import base64
import http.client
import os
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest

import orgdrive_server

PASSWORD = "correct horse battery staple"


@pytest.fixture
def person(server, tenant):
    server.admin.call("PUT", f"/orgs/{tenant.corp_id}/users/{tenant.union_id}/password",
                      {"password": PASSWORD})
    return tenant


def request(server, method, path, user=None, password=PASSWORD, body=None, headers=None):
    """(status, headers, body) of one WebDAV request."""
    host, port = server.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = dict(headers or {})
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def litmus_summaries(output):
    return [line for line in output.splitlines() if line.startswith("<- summary for")]


def test_litmus_passes(server, person, odc, space, tmp_path):
    assert shutil.which("litmus"), "litmus is missing: the test command installs Debian's litmus"
    url = f"{server.base_url}/dav/{space}/"
    done = subprocess.run(["litmus", url, person.union_id, PASSWORD], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "TESTS": "basic copymove props locks http"})
    summaries = litmus_summaries(done.stdout)
    assert [s.split("`")[1].split("'")[0] for s in summaries] == ["basic", "copymove", "props", "locks", "http"], done.stdout
    for summary in summaries:
        assert " 0 failed" in summary, done.stdout


def rclone_env(server, user, password):
    obscured = subprocess.run(["rclone", "obscure", password], capture_output=True, text=True,
                              check=True).stdout.strip()
    return {**os.environ, "RCLONE_CONFIG_OD_TYPE": "webdav",
            "RCLONE_CONFIG_OD_URL": f"{server.base_url}/dav", "RCLONE_CONFIG_OD_VENDOR": "other",
            "RCLONE_CONFIG_OD_USER": user, "RCLONE_CONFIG_OD_PASS": obscured,
            "RCLONE_CONFIG": "/dev/null"}


def test_rclone_copies_a_tree_in_and_out(server, person, odc, space, tmp_path):
    assert shutil.which("rclone"), "rclone is missing: the test command installs Debian's rclone"
    tree = tmp_path / "tree"
    for d in range(5):
        (tree / f"dir {d}" / "nested").mkdir(parents=True)
        for f in range(20):
            (tree / f"dir {d}" / f"file-{f}.txt").write_text(f"{d}/{f}\n" * (f + 1))
            (tree / f"dir {d}" / "nested" / f"b{f}.bin").write_bytes(os.urandom(1000 + f))
    (tree / "large.bin").write_bytes(os.urandom(20 * (1 << 20) + 3))
    (tree / "unicodé 文件.txt").write_text("名字")
    env = rclone_env(server, person.union_id, PASSWORD)

    def rclone(*args):
        done = subprocess.run(["rclone", *args], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    rclone("copy", tree, f"od:{space}/in")
    # What rclone wrote is in the space, seen through the API.
    assert sorted(odc.ok("ls", f"{space}:/in").splitlines()) == sorted(
        ["dir 0/", "dir 1/", "dir 2/", "dir 3/", "dir 4/", "large.bin", "unicodé 文件.txt"])
    assert len(odc.ok("ls", f"{space}:/in/dir 3/nested").splitlines()) == 20
    rclone("check", tree, f"od:{space}/in")
    back = tmp_path / "back"
    rclone("copy", f"od:{space}/in", back)
    for path in tree.rglob("*"):
        if path.is_file():
            assert (back / path.relative_to(tree)).read_bytes() == path.read_bytes(), path


def test_authentication(server, person, space, make_tenant_token):
    path = f"/dav/{space}/"
    status, headers, _ = request(server, "PROPFIND", path, headers={"Depth": "0"})
    assert status == 401 and headers["www-authenticate"].startswith("Basic realm=")
    status, _, _ = request(server, "PROPFIND", path, person.union_id, "wrong password", headers={"Depth": "0"})
    assert status == 401
    status, _, _ = request(server, "PROPFIND", path, person.union_id, headers={"Depth": "0"})
    assert status == 207
    # An app's access token, with the app's scopes.
    token = orgdrive_server.get_access_token(server.base_url, person.app_key, person.app_secret)
    status, _, _ = request(server, "PROPFIND", path, person.union_id, token, headers={"Depth": "1"})
    assert status == 207
    reader = make_tenant_token(person, ("Storage.Space.Read", "Storage.File.Read",
                                        "Storage.DownloadInfo.Read"))
    status, _, _ = request(server, "PUT", f"{path}by-reader.txt", person.union_id, reader, body=b"x")
    assert status == 403
    status, _, _ = request(server, "PUT", f"{path}by-writer.txt", person.union_id, token, body=b"x")
    assert status == 201
    status, _, body = request(server, "GET", f"{path}by-writer.txt", person.union_id, reader)
    assert (status, body) == (200, b"x")
    # An app that may not write may not take a lock, nor give one back, the
    # user's own included.
    file = f"{path}by-writer.txt"
    assert request(server, "LOCK", file, person.union_id, reader, body=LOCKINFO)[0] == 403
    status, headers, _ = request(server, "LOCK", file, person.union_id, token, body=LOCKINFO)
    assert status == 200
    unlock = {"Lock-Token": headers["lock-token"]}
    assert request(server, "UNLOCK", file, person.union_id, reader, headers=unlock)[0] == 403
    assert request(server, "UNLOCK", file, person.union_id, token, headers=unlock)[0] == 204


def test_a_stranger_cannot_open_the_space(server, person, space):
    stranger = server.admin.create_user(person.corp_id, name="Stranger", org_admin=False)["unionId"]
    server.admin.call("PUT", f"/orgs/{person.corp_id}/users/{stranger}/password", {"password": PASSWORD})
    status, _, _ = request(server, "PROPFIND", f"/dav/{space}/", stranger, headers={"Depth": "1"})
    assert status in (403, 404)
    status, _, _ = request(server, "PUT", f"/dav/{space}/intruder.txt", stranger, body=b"x")
    assert status in (403, 404, 409)
    status, _, body = request(server, "PROPFIND", "/dav/", stranger, headers={"Depth": "1"})
    assert status == 207 and space.encode() not in body


def test_failed_passwords_are_limited(server, person, space):
    statuses = [request(server, "PROPFIND", f"/dav/{space}/", person.union_id, f"wrong {i}",
                        headers={"Depth": "0"})[0] for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_a_broken_upload_commits_nothing(server, person, odc, space):
    host, port = server.base_url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{person.union_id}:{PASSWORD}".encode()).decode()
    with socket.create_connection((host, int(port))) as s:
        s.sendall((f"PUT /dav/{space}/broken.bin HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Basic {token}\r\nContent-Length: 1000000\r\n\r\n").encode())
        s.sendall(b"y" * 100_000)
    # The server notices the closed connection; the file never appears.
    for _ in range(50):
        status, _, _ = request(server, "PROPFIND", f"/dav/{space}/broken.bin", person.union_id,
                               headers={"Depth": "0"})
        assert status == 404
    assert "broken.bin" not in odc.ok("ls", f"{space}:/")


def test_put_makes_versions_and_delete_goes_to_the_bin(server, person, odc, space):
    path = f"/dav/{space}/doc.txt"
    assert request(server, "PUT", path, person.union_id, body=b"one")[0] == 201
    assert request(server, "PUT", path, person.union_id, body=b"two!")[0] == 204
    assert odc.ok("stat", f"{space}:/doc.txt").count('"version": 2') == 1
    status, _, body = request(server, "GET", path, person.union_id, headers={"Range": "bytes=1-2"})
    assert (status, body) == (206, b"wo")
    assert request(server, "DELETE", path, person.union_id)[0] == 204
    assert "/doc.txt" in odc.ok("bin", "ls", space)


def test_paths_stay_inside_the_space(server, person, space):
    for raw in (f"/dav/{space}/../../admin/v1/orgs", f"/dav/{space}/%2e%2e/%2e%2e/etc/passwd",
                f"/dav/{space}/a%00b", "/dav/../console"):
        status, _, body = request(server, "GET", raw, person.union_id)
        assert status in (400, 404), (raw, status)
        assert b"corpId" not in body


def test_a_whole_space_is_never_walked_in_one_propfind(server, person, space):
    for headers in ({"Depth": "infinity"}, {"Depth": "infinity", "X-Litmus": "basic: 1"}):
        status, _, body = request(server, "PROPFIND", f"/dav/{space}/", person.union_id, headers=headers)
        # RFC 4918 (9.1): 403 with the precondition, not a server failure.
        assert status == 403 and b"propfind-finite-depth" in body


def test_a_deleted_folder_is_one_recycle_bin_item(server, person, odc, space):
    for path in ("/tree/", "/tree/sub/"):
        assert request(server, "MKCOL", f"/dav/{space}{path}", person.union_id)[0] == 201
    for name in ("/tree/a.txt", "/tree/sub/b.txt", "/tree/sub/c.txt"):
        assert request(server, "PUT", f"/dav/{space}{name}", person.union_id, body=b"x")[0] == 201
    assert request(server, "DELETE", f"/dav/{space}/tree/", person.union_id)[0] == 204
    items = odc.ok("bin", "ls", space).splitlines()
    assert len(items) == 1 and items[0].endswith("\t/tree/"), items


LOCKINFO = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            b'</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>tests</D:owner></D:lockinfo>')


def user_with_password(server, corp_id, name):
    union_id = server.admin.create_user(corp_id, name=name, org_admin=False)["unionId"]
    server.admin.call("PUT", f"/orgs/{corp_id}/users/{union_id}/password", {"password": PASSWORD})
    return union_id


def test_locks_need_write_rights_expire_and_belong_to_their_taker(server, person, odc, space, tmp_path):
    src = tmp_path / "l.txt"
    src.write_text("locked")
    odc.ok("put", src, f"{space}:/shared/locked.txt")
    reader = user_with_password(server, person.corp_id, "Reader")
    editor = user_with_password(server, person.corp_id, "Editor")
    odc.ok("share", "add", f"{space}:/shared", "--role", "READER", "--user", reader)
    odc.ok("share", "add", f"{space}:/shared", "--role", "EDITOR", "--user", editor)
    path = f"/dav/{space}/shared/locked.txt"
    # Never on `/` or a space's root (a lock there would stop everyone's writes).
    for root in ("/dav/", f"/dav/{space}/"):
        assert request(server, "LOCK", root, person.union_id, body=LOCKINFO)[0] == 403
        assert request(server, "UNLOCK", root, person.union_id,
                       headers={"Lock-Token": "<opaquelocktoken:x>"})[0] == 403
    # Only who may write locks.
    assert request(server, "LOCK", path, reader, body=LOCKINFO)[0] == 403
    status, headers, _ = request(server, "LOCK", path, person.union_id, body=LOCKINFO,
                                 headers={"Timeout": "Second-2"})
    assert status == 200
    token = headers["lock-token"]
    # Only who took it unlocks it.
    assert request(server, "UNLOCK", path, editor, headers={"Lock-Token": token})[0] == 403
    assert request(server, "PUT", path, editor, body=b"blocked")[0] == 423
    time.sleep(2.5)
    # Expired: the editor writes.
    assert request(server, "PUT", path, editor, body=b"after expiry")[0] == 204
    assert request(server, "UNLOCK", path, person.union_id, headers={"Lock-Token": token})[0] != 204


def test_a_user_past_the_lock_cap_is_told_to_wait_not_that_the_file_is_locked(
        server, person, space):
    user = person.union_id
    path = f"/dav/{space}/shared-locks.txt"
    assert request(server, "PUT", path, user, body=b"x")[0] == 201
    shared = LOCKINFO.replace(b"<D:exclusive/>", b"<D:shared/>")
    tokens = []
    for _ in range(1000):
        status, headers, _ = request(server, "LOCK", path, user, body=shared,
                                     headers={"Timeout": "Second-600"})
        assert status == 200
        tokens.append(headers["lock-token"])
    # The 1,001st: 503 until one of the user's locks expires (about 600 s),
    # not 423, which would say the file is locked.
    status, headers, _ = request(server, "LOCK", path, user, body=shared)
    assert status == 503
    assert 500 <= int(headers["retry-after"]) <= 600
    # Nor is a new lock that carries an `If` (a refresh has no body).
    status = request(server, "LOCK", path, user, body=shared,
                     headers={"If": "(Not <DAV:no-lock>)"})[0]
    assert status == 503
    # A refresh of a lock held is no new lock.
    refreshed = request(server, "LOCK", path, user,
                        headers={"If": f"({tokens[0]})", "Timeout": "Second-600"})[0]
    assert refreshed == 200
    # One given back, one may be taken.
    assert request(server, "UNLOCK", path, user, headers={"Lock-Token": tokens.pop()})[0] == 204
    status, headers, _ = request(server, "LOCK", path, user, body=shared)
    assert status == 200
    tokens.append(headers["lock-token"])
    for token in tokens:
        request(server, "UNLOCK", path, user, headers={"Lock-Token": token})


def test_a_lock_is_checked_on_the_path_it_locks(server, person, odc, space):
    user = person.union_id
    for folder in ("my%20docs", "caf%C3%A9"):
        assert request(server, "MKCOL", f"/dav/{space}/{folder}/", user)[0] == 201
        file = f"/dav/{space}/{folder}/a.txt"
        assert request(server, "PUT", file, user, body=b"a")[0] == 201
        status, headers, _ = request(server, "LOCK", file, user, body=LOCKINFO)
        assert status == 200, folder
        request(server, "UNLOCK", file, user, headers={"Lock-Token": headers["lock-token"]})
    # An editor of the folder named `%69mages` may lock it, and not, through
    # that spelling, `images`, which dav-server would lock (it decodes).
    assert request(server, "MKCOL", f"/dav/{space}/%2569mages/", user)[0] == 201
    assert request(server, "MKCOL", f"/dav/{space}/images/", user)[0] == 201
    editor = user_with_password(server, person.corp_id, "Image editor")
    odc.ok("share", "add", f"{space}:/%69mages", "--role", "EDITOR", "--user", editor)
    assert request(server, "LOCK", f"/dav/{space}/%2569mages", editor, body=LOCKINFO)[0] == 200
    status = request(server, "LOCK", f"/dav/{space}/%69mages", editor, body=LOCKINFO,
                     headers={"Depth": "infinity"})[0]
    assert status == 403
    assert request(server, "PUT", f"/dav/{space}/images/new.txt", user, body=b"n")[0] == 201


def test_a_lock_is_refreshed_by_its_taker_only(server, person, odc, space):
    user = person.union_id
    for folder in ("/team/", "/team/sub/"):
        assert request(server, "MKCOL", f"/dav/{space}{folder}", user)[0] == 201
    editor = user_with_password(server, person.corp_id, "Team editor")
    odc.ok("share", "add", f"{space}:/team", "--role", "EDITOR", "--user", editor)
    status, headers, _ = request(server, "LOCK", f"/dav/{space}/team/sub", user, body=LOCKINFO,
                                 headers={"Depth": "0", "Timeout": "Second-600"})
    assert status == 200
    token = headers["lock-token"]
    # The editor names it, refreshing from below (dav-server finds a lock on
    # an ancestor): refused, and the lock keeps its timeout.
    refresh = {"If": f"({token})", "Timeout": "Second-1"}
    status = request(server, "LOCK", f"/dav/{space}/team/sub/f.txt", editor, headers=refresh)[0]
    assert status == 403
    time.sleep(1.5)
    moved = request(server, "MOVE", f"/dav/{space}/team/sub/", editor,
                    headers={"Destination": f"/dav/{space}/team/sub2/"})[0]
    assert moved == 423
    own = {"If": f"({token})", "Timeout": "Second-600"}
    assert request(server, "LOCK", f"/dav/{space}/team/sub", user, headers=own)[0] == 200
    assert request(server, "UNLOCK", f"/dav/{space}/team/sub", user,
                   headers={"Lock-Token": token})[0] == 204


def test_what_the_caller_cannot_read_is_not_there(server, person, odc, space, tmp_path):
    src = tmp_path / "secret.txt"
    src.write_text("secret")
    odc.ok("put", src, f"{space}:/private/secret.txt")
    outsider = user_with_password(server, person.corp_id, "Outsider")
    for name in ("secret.txt", "missing.txt"):
        for method in ("PROPFIND", "GET"):
            status = request(server, method, f"/dav/{space}/private/{name}", outsider,
                             headers={"Depth": "0"})[0]
            assert status == 404, (method, name, status)


def test_several_ranges_get_the_whole_file(server, person, space):
    path = f"/dav/{space}/ranges.bin"
    data = bytes(range(256)) * 4
    assert request(server, "PUT", path, person.union_id, body=data)[0] == 201
    many = "bytes=" + ",".join(["0-"] * 200)
    status, _, body = request(server, "GET", path, person.union_id, headers={"Range": many})
    assert (status, body) == (200, data)
    status, _, body = request(server, "GET", path, person.union_id, headers={"Range": "bytes=1-2"})
    assert (status, body) == (206, data[1:3])


def test_what_a_writer_stored_never_runs_in_the_servers_origin(server, person, space):
    user = person.union_id
    page = b"<html><script>fetch('/dav/')</script></html>"
    for name in ("evil.html", "evil.svg"):
        path = f"/dav/{space}/{name}"
        assert request(server, "PUT", path, user, body=page)[0] == 201
        status, headers, body = request(server, "GET", path, user)
        assert (status, body) == (200, page)
        assert headers["content-disposition"] == "attachment"
        assert headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
    # A folder's listing stays a page (sandboxed): no attachment.
    status, headers, _ = request(server, "GET", f"/dav/{space}/", user)
    assert status == 200 and "content-disposition" not in headers
    assert "sandbox" in headers["content-security-policy"]
    # Nor does a console link lead out of the console to it.
    back = f"/console/../dav/{space}/evil.html"
    for spelt in (back, back.replace("..", "%2e%2e"),
                  f"/console/%3f/../../dav/{space}/evil.html"):
        status, headers, _ = request(server, "GET", f"/console/lang/en?back={urllib.parse.quote(spelt)}")
        assert status == 303
        assert headers["location"] == "/console", spelt


def test_a_name_the_drive_would_change_is_refused_before_anything_is_done(server, person, space):
    user = person.union_id
    base = f"/dav/{space}"
    assert request(server, "MKCOL", f"{base}/sub/", user)[0] == 201
    assert request(server, "PUT", f"{base}/t.txt", user, body=b"original")[0] == 201
    status, headers, _ = request(server, "LOCK", f"{base}/t.txt", user, body=LOCKINFO)
    assert status == 200
    # Spaces around a name would be stripped: the PUT would replace t.txt
    # around its lock.
    for spelt in ("t.txt%20", "%20t.txt", "t.txt%20%20"):
        assert request(server, "PUT", f"{base}/{spelt}", user, body=b"stray")[0] == 403, spelt
    request(server, "UNLOCK", f"{base}/t.txt", user, headers={"Lock-Token": headers["lock-token"]})
    assert request(server, "GET", f"{base}/t.txt", user)[2] == b"original"
    # A COPY or MOVE to a name refused later would have been half made.
    for method, target in (("COPY", "c.txt%20"), ("COPY", "c."), ("MOVE", "sub/bad."),
                           ("COPY", "x" * 300)):
        status = request(server, method, f"{base}/t.txt", user,
                         headers={"Destination": f"{base}/{target}"})[0]
        assert status == 403, (method, target, status)
    listing = request(server, "PROPFIND", f"{base}/", user, headers={"Depth": "1"})[2]
    assert b"t(1).txt" not in listing and b"t.txt" in listing
    assert b"t.txt" not in request(server, "PROPFIND", f"{base}/sub/", user,
                                   headers={"Depth": "1"})[2]


def test_a_create_only_put_is_decided_when_it_commits(server, person, space):
    """`If-None-Match: *` holds until the PUT commits, not only while its
    body is on its way: the second of two racing creations fails."""
    path = f"/dav/{space}/race.txt"
    host, port = server.base_url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{person.union_id}:{PASSWORD}".encode()).decode()
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
                      "If-None-Match: *\r\nContent-Length: 10\r\n\r\nslow-").encode())
        time.sleep(0.5)
        fast = request(server, "PUT", path, person.union_id, body=b"fast!",
                       headers={"If-None-Match": "*"})[0]
        assert fast == 201
        slow.sendall(b"write")
        answer = slow.recv(4096)
    assert int(answer.split(b" ")[1]) == 412, answer[:200]
    assert request(server, "GET", path, person.union_id)[2] == b"fast!"
    # Taken before it begins: refused at once, as before.
    again = request(server, "PUT", path, person.union_id, body=b"x", headers={"If-None-Match": "*"})
    assert again[0] == 412


def test_a_changed_password_or_a_deleted_user_is_refused_at_once(server, person, space):
    path = f"/dav/{space}/"
    assert request(server, "PROPFIND", path, person.union_id, headers={"Depth": "0"})[0] == 207
    server.admin.call("PUT", f"/orgs/{person.corp_id}/users/{person.union_id}/password",
                      {"password": "another password entirely"})
    assert request(server, "PROPFIND", path, person.union_id, headers={"Depth": "0"})[0] == 401
    gone = user_with_password(server, person.corp_id, "Gone")
    assert request(server, "PROPFIND", "/dav/", gone, headers={"Depth": "0"})[0] == 207
    server.admin.delete_user(person.corp_id, gone)
    assert request(server, "PROPFIND", "/dav/", gone, headers={"Depth": "0"})[0] == 401


def test_destinations_are_checked(server, person, space):
    user = person.union_id
    assert request(server, "MKCOL", f"/dav/{space}/d/", user)[0] == 201
    assert request(server, "PUT", f"/dav/{space}/d/f.txt", user, body=b"f")[0] == 201
    host = server.base_url.removeprefix("http://")
    name, port = host.split(":")
    cases = [
        ("COPY", f"/dav/{space}/d/f.txt", "/dav/", 403),
        ("COPY", f"/dav/{space}/d/f.txt", f"/dav/{space}/", 403),
        ("COPY", f"/dav/{space}/d/f.txt", f"http://evil.example/dav/{space}/x.txt", 502),
        ("COPY", f"/dav/{space}/d/f.txt", f"http://{name}:1/dav/{space}/x.txt", 502),
        # Not a URI: a relative reference, a host without a scheme.
        ("COPY", f"/dav/{space}/d/f.txt", "x.txt", 400),
        ("COPY", f"/dav/{space}/d/f.txt", f"{host}/dav/{space}/x.txt", 400),
        ("COPY", f"/dav/{space}/d/", f"/dav/{space}/d/inner/", 403),
        ("MOVE", f"/dav/{space}/d/", f"http://{host}/dav/{space}/d/sub/", 403),
        ("MOVE", f"/dav/{space}/d/f.txt", f"/dav/{space}/x/%2e%2e/g.txt", 400),
        # A `\` is a `/` to dav-server (as to a browser): `x\..\` is the space's
        # root, which an Overwrite would have emptied item by item.
        ("COPY", f"/dav/{space}/d/f.txt", f"http://{host}/dav/{space}/x\\..\\", 400),
        ("COPY", f"/dav/{space}/d/f.txt", f"http://{host}/dav/{space}/x%5C..%5c", 400),
        ("COPY", f"/dav/{space}/d/", f"http://{host}/dav/{space}/d\\copy", 400),
        # A URL's dot segments are resolved as dav-server resolves them: to the
        # space's root here.
        ("COPY", f"/dav/{space}/d/f.txt", f"http://{host}/dav/{space}/x/%2e%2e/", 403),
        ("COPY", f"/dav/{space}/d/f.txt", f"localhost:80/dav/{space}/x.txt", 400),
        # dav-server cuts a path at `?` before it resolves dot segments: the
        # space's root (emptied by an Overwrite), and `/dav/` (a panic).
        ("COPY", f"/dav/{space}/d/f.txt", f"/dav/{space}/x/..?", 400),
        ("MOVE", f"/dav/{space}/d/f.txt", f"/dav/{space}/.?", 400),
        ("COPY", f"/dav/{space}/d/f.txt", f"/dav/{space}/..?", 400),
        # Onto a folder holding the source (deleted first, with the source).
        ("MOVE", f"/dav/{space}/d/f.txt", f"/dav/{space}/d", 403),
        # Inside the source however spelt: an empty name, an escaped letter.
        ("COPY", f"/dav/{space}/d/", f"/dav/{space}//d/inner/", 403),
        ("MOVE", f"/dav/{space}/d/", f"http://{host}/dav/{space}/%64/inner/", 403),
        ("COPY", f"/dav/{space}/d/f.txt", "/console/x", 403),
    ]
    for method, src, dest, expected in cases:
        status = request(server, method, src, user, headers={"Destination": dest})[0]
        assert status == expected, (method, src, dest, status)
    listing = request(server, "PROPFIND", f"/dav/{space}/", user, headers={"Depth": "1"})[2]
    assert b"/d/" in listing
    assert request(server, "GET", f"/dav/{space}/d/f.txt", user)[2] == b"f"
    ok = request(server, "COPY", f"/dav/{space}/d/f.txt", user,
                 headers={"Destination": f"http://{host}/dav/{space}/d/g.txt"})[0]
    assert ok == 201
    # The same server however its name is spelt: case, a final dot, the
    # scheme's default port written out.
    for i, spelt in enumerate((name.upper(), name + ".")):
        ok = request(server, "COPY", f"/dav/{space}/d/f.txt", user,
                     headers={"Host": spelt + ":" + port,
                              "Destination": f"http://{host}/dav/{space}/d/h{i}.txt"})[0]
        assert ok == 201, spelt
    ok = request(server, "COPY", f"/dav/{space}/d/f.txt", user,
                 headers={"Host": "localhost",
                          "Destination": f"http://localhost:80/dav/{space}/d/k.txt"})[0]
    assert ok == 201


def test_names_are_decoded_once(server, person, odc, space):
    """A folder's name is taken as it is, whatever it holds: not ASCII,
    `?`, `#`, a `%` escape, `..` spelt as an escape. A write below it goes
    into it, never into another folder or another space (whose lock it
    would step around)."""
    user = person.union_id
    host = server.base_url.removeprefix("http://")

    def listing(path):
        status, _, body = request(server, "PROPFIND", f"/dav/{space}/{path}", user,
                                  headers={"Depth": "1"})
        assert status == 207, (path, status)
        return body

    for folder in ("%E6%96%87%E6%A1%A3", "a%3Fb", "a%23b", "%2541", "%252e%252e"):
        assert request(server, "MKCOL", f"/dav/{space}/{folder}/", user)[0] == 201, folder
        inside = f"/dav/{space}/{folder}"
        assert request(server, "PUT", f"{inside}/f.txt", user, body=b"in")[0] == 201, folder
        assert request(server, "MKCOL", f"{inside}/sub/", user)[0] == 201, folder
        copied = request(server, "COPY", f"{inside}/f.txt", user,
                         headers={"Destination": f"http://{host}{inside}/sub/g.txt"})[0]
        assert copied == 201, folder
        status, _, body = request(server, "GET", f"{inside}/sub/g.txt", user)
        assert (status, body) == (200, b"in"), folder
    # The folders a second decoding or a cut at `?` would have written to.
    for folder in ("a", "A"):
        assert request(server, "MKCOL", f"/dav/{space}/{folder}/", user)[0] == 201
        assert b"f.txt" not in listing(f"{folder}/"), folder

    # `%2e%2e` is a folder's name, not a step up: this PUT names a folder
    # of this space (missing), not the file of another space it would reach
    # a level up (stepping around any lock taken on it there).
    other = odc.ok("spaces", "create", "--name", "other").strip()
    target = f"/dav/{other}/t.txt"
    assert request(server, "PUT", target, user, body=b"theirs")[0] == 201
    stray = f"/dav/{space}/%252e%252e/{other}/t.txt"
    assert request(server, "PUT", stray, user, body=b"stray")[0] == 409
    assert request(server, "GET", target, user)[2] == b"theirs"


def test_a_reader_without_download_is_refused_before_the_answer(server, person, odc, space, tmp_path):
    src = tmp_path / "r.txt"
    src.write_text("not for readers")
    odc.ok("put", src, f"{space}:/r/r.txt")
    reader = user_with_password(server, person.corp_id, "Previewer")
    odc.ok("share", "add", f"{space}:/r", "--role", "READER", "--user", reader)
    status, _, body = request(server, "GET", f"/dav/{space}/r/r.txt", reader)
    assert status == 403 and b"not for readers" not in body


def test_a_put_larger_than_the_quota_is_refused_at_once(server, person, odc):
    small = odc.ok("spaces", "create", "--quota", "1M").strip()
    host, port = server.base_url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{person.union_id}:{PASSWORD}".encode()).decode()
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((f"PUT /dav/{small}/huge.bin HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Basic {token}\r\nContent-Length: 99999999999\r\n\r\n").encode())
        answer = b""
        try:
            for _ in range(2000):
                s.sendall(b"z" * 65536)
                s.settimeout(0.001)
                try:
                    answer += s.recv(4096)
                except (socket.timeout, BlockingIOError):
                    pass
                s.settimeout(10)
                if answer:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not answer:
            s.settimeout(10)
            answer = s.recv(4096)
    assert time.monotonic() - started < 5
    status = int(answer.split(b" ")[1])
    assert status in (413, 507), answer[:200]
