"""The upload flow: GetFileUploadInfo -> PUT -> CommitFile, multipart,
conflict strategies for files, signed-URL checks, single use, restart."""

import hashlib
import os
import time
from pathlib import Path

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import Server, provision
from drive import Drive, get, get_sha256, put
from helpers import expect_error


def test_single_upload_and_download_round_trip(server, tenant):
    d = Drive(server, tenant)
    info = d.upload_info()
    assert (info.protocol, info.storage_driver) == ("HEADER_SIGNATURE", "DINGTALK")
    sig = info.header_signature_info
    assert sig.expiration_seconds == 900 and len(sig.resource_urls) == 1
    assert isinstance(sig.headers, dict)
    status, headers, _ = put(sig.resource_urls[0], sig.headers, b"hello world")
    assert status == 200
    f = d.commit(info.upload_key, "hello.txt", size=11)
    assert (f.type, f.name, f.size, f.extension, f.version) == ("FILE", "hello.txt", 11, "txt", 1)
    assert (f.category, f.path, f.parent_id) == ("DOCUMENT", "/hello.txt", "0")
    assert d.get(f.id).to_map() == {k: v for k, v in f.to_map().items() if k != "category"}

    status, headers, body = d.download(f.id)
    assert (status, body) == (200, b"hello world")
    assert headers["Content-Length"] == "11"
    assert headers["Content-Type"] == "text/plain"
    assert headers["ETag"].startswith('"')
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["Accept-Ranges"] == "bytes"


def test_utf8_names_in_content_disposition(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"%PDF", "年度报告 2024.pdf")
    status, headers, _ = d.download(f.id)
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''%E5%B9%B4%E5%BA%A6%E6%8A%A5%E5%91%8A%202024%2Epdf" in \
        headers["Content-Disposition"]


def test_range_requests(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(bytes(range(256)) * 4, "bytes.bin")
    status, headers, body = d.download(f.id, headers={"Range": "bytes=0-499"})
    assert (status, len(body), headers["Content-Range"]) == (206, 500, "bytes 0-499/1024")
    assert body == (bytes(range(256)) * 4)[:500]
    status, headers, body = d.download(f.id, headers={"Range": "bytes=-24"})
    assert (status, body, headers["Content-Range"]) == (206, bytes(range(232, 256)), "bytes 1000-1023/1024")
    status, headers, body = d.download(f.id, headers={"Range": "bytes=1000-"})
    assert (status, len(body)) == (206, 24)
    status, headers, body = d.download(f.id, headers={"Range": "bytes=1024-2000"})
    assert status == 416 and headers["Content-Range"] == "bytes */1024"
    assert b'"code"' in body


def test_64_mib_round_trip_keeps_every_byte(server, tenant, tmp_path):
    d = Drive(server, tenant)
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with open(source, "wb") as out:
        for _ in range(64):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            out.write(chunk)
    info = d.upload_info(size=64 << 20)
    sig = info.header_signature_info
    with open(source, "rb") as stream:
        assert put(sig.resource_urls[0], sig.headers, stream)[0] == 200
    f = d.commit(info.upload_key, "big.bin", size=64 << 20)
    assert f.size == 64 << 20
    url = d.download_info(f.id).header_signature_info.resource_urls[0]
    assert get_sha256(url) == (200, 64 << 20, digest.hexdigest())


def test_multipart_parts_in_any_order_and_reuploaded(server, tenant):
    d = Drive(server, tenant)
    init = d.init_multipart()
    assert init.storage_driver == "DINGTALK"
    key = init.upload_key
    parts = {1: os.urandom(200_000), 2: os.urandom(150_000), 3: b"tail"}
    urls = d.part_urls(key, [3, 1, 2])
    assert set(urls) == {1, 2, 3}
    for n in [3, 1, 2]:
        assert put(urls[n].resource_urls[0], urls[n].headers, b"garbage" if n == 2 else parts[n])[0] == 200
    # Part 2 again, with the right bytes, through a fresh URL.
    again = d.part_urls(key, [2])[2]
    assert put(again.resource_urls[0], again.headers, parts[2])[0] == 200
    whole = parts[1] + parts[2] + parts[3]
    f = d.commit(key, "joined.bin", size=len(whole))
    assert f.size == len(whole)
    assert d.download(f.id)[2] == whole
    assert d.space().used_quota == len(whole)


def test_multipart_checks(server, tenant):
    d = Drive(server, tenant)
    key = d.init_multipart().upload_key
    expect_error(400, "paramError.partNumbers", d.part_urls, key, [0])
    expect_error(400, "paramError.partNumbers", d.part_urls, key, [10001])
    expect_error(400, "paramError.partNumbers", d.part_urls, key, list(range(1, 32)))
    expect_error(400, "paramError.partNumbers", d.part_urls, key, [])
    expect_error(400, "paramError.uploadKey", d.part_urls, "nope", [1])
    single = d.upload_info().upload_key
    expect_error(400, "paramError.uploadKey", d.part_urls, single, [1])
    urls = d.part_urls(key, [1, 3])
    for n in (1, 3):
        put(urls[n].resource_urls[0], urls[n].headers, b"x")
    expect_error(400, "paramError.uploadKey", d.commit, key, "gap.bin")


def test_file_conflict_strategies(server, tenant):
    d = Drive(server, tenant)
    first = d.upload(b"one", "a.txt")
    assert d.upload(b"two", "a.txt").name == "a(1).txt"
    assert d.upload(b"three", "a.txt", conflict="AUTO_RENAME").name == "a(2).txt"
    same = d.upload(b"ignored", "a.txt", conflict="RETURN_DENTRY_IF_EXISTS")
    assert (same.id, same.size) == (first.id, 3)
    assert d.download(first.id)[2] == b"one"
    used = d.space().used_quota
    assert used == 3 + 3 + 5

    info = d.upload_info()
    put(info.header_signature_info.resource_urls[0], {}, b"four")
    expect_error(400, "paramError.name", d.commit, info.upload_key, "a.txt", conflict="RETURN_ERROR_IF_EXISTS")
    # The refused commit left the upload usable.
    assert d.commit(info.upload_key, "b.txt").name == "b.txt"

    new = d.upload(b"version two", "a.txt", conflict="OVERWRITE")
    assert (new.id, new.version, new.size) == (first.id, 2, 11)
    assert d.download(first.id)[2] == b"version two"
    assert d.download(first.id, version=1)[2] == b"one"
    expect_error(400, "paramError.version", d.download_info, first.id, version=7)
    # History versions keep counting against the quota.
    assert d.space().used_quota == used + 4 + 11
    folder = d.add_folder("dir")
    expect_error(400, "paramError.name", d.upload, b"x", "dir", conflict="OVERWRITE")
    assert d.upload(b"x", "dir").name == "dir(1)"
    expect_error(400, "paramError.dentryId", d.download_info, folder.id)


def test_overwrite_dentry_id_commits_a_new_version(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"v1", "doc.md")
    info = d.upload_info()
    put(info.header_signature_info.resource_urls[0], {}, b"v2!")
    g = d.commit(info.upload_key, "ignored.md", overwrite_dentry_id=f.id)
    assert (g.id, g.name, g.version, g.size) == (f.id, "doc.md", 2, 3)


def test_commit_checks(server, make_tenant):
    tenant = make_tenant()
    d = Drive(server, tenant)
    info = d.upload_info()
    url = info.header_signature_info.resource_urls[0]
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "early.txt")
    put(url, {}, b"12345")
    expect_error(400, "paramError.size", d.commit, info.upload_key, "a.txt", size=4)
    expect_error(400, "paramError.name", d.commit, info.upload_key, "bad|name")
    expect_error(400, "paramError.parentId", d.commit, info.upload_key, "a.txt", parent_id="777")
    expect_error(400, "paramError.conflictStrategy", d.commit, info.upload_key, "a.txt", conflict="NO")
    # Another user of the org cannot commit someone else's upload.
    other_user = server.admin("POST", f"/orgs/{tenant.corp_id}/users", {"name": "Bob"})
    bob = Drive(server, type(tenant)(**{**tenant.__dict__, "union_id": other_user["unionId"]}), d.space_id)
    expect_error(400, "paramError.uploadKey", bob.commit, info.upload_key, "a.txt")
    assert d.space().used_quota == 0, "nothing was committed"
    d.commit(info.upload_key, "a.txt", size=5)
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "again.txt")
    expect_error(400, "paramError.uploadKey", d.commit, "unknown-key", "a.txt")
    # The URL of a committed upload no longer accepts bytes.
    assert put(url, {}, b"late")[0] == 400


def test_pre_checks(server, make_tenant):
    tenant = make_tenant(capacity=1000)
    d = Drive(server, tenant)
    expect_error(400, "paramError.name", d.upload_info, name="a*b")
    expect_error(400, "paramError.parentId", d.upload_info, name="a", parent_id="4444")
    expect_error(400, "paramError.quota", d.upload_info, size=1001)
    expect_error(400, "paramError.md5", d.upload_info, md_5="xyz")
    info = d.upload_info(size=3, md_5=hashlib.md5(b"abc").hexdigest())
    url = info.header_signature_info.resource_urls[0]
    assert put(url, {}, b"abcd")[0] == 413, "more bytes than announced are refused while streaming"
    assert put(url, {}, b"abd")[0] == 200
    expect_error(400, "paramError.md5", d.commit, info.upload_key, "a.txt")
    status, headers, _ = put(url, {}, b"abc")
    assert status == 200 and headers["ETag"] == '"900150983cd24fb0d6963f7d28e17f72"', "MD5 of what arrived"
    assert d.commit(info.upload_key, "a.txt").size == 3


def test_signed_urls_refuse_tampering_and_wrong_methods(server, tenant):
    d = Drive(server, tenant)
    info = d.upload_info()
    url = info.header_signature_info.resource_urls[0]
    tampered = url.replace("expires=", "expires=1")
    status, _, body = put(tampered, {}, b"x")
    assert status == 403 and b'"signatureMismatch"' in body
    other_key = url.replace(info.upload_key, "A" * len(info.upload_key))
    assert put(other_key, {}, b"x")[0] == 403
    assert put(url.split("&signature=")[0], {}, b"x")[0] == 403
    # The PUT URL does not download, and a download URL does not upload.
    assert get(url)[0] == 403
    f = d.upload(b"data", "f.txt")
    down = d.download_info(f.id).header_signature_info.resource_urls[0]
    assert put(down, {}, b"overwrite?")[0] == 403
    assert get(down.replace("name=f.txt", "name=g.txt"))[0] == 403
    assert get(down)[2] == b"data"
    assert get(down, method="HEAD")[1]["Content-Length"] == "4"
    status, _, body = get(down.replace("/blob/objects/", "/blob/objects/x"))
    assert status == 403


def test_expired_urls_are_refused_and_abandoned_uploads_swept(tmp_path):
    server = Server(tmp_path / "data", extra_args=["--signed-url-ttl", "1", "--upload-ttl", "2"])
    server.start()
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        kept = d.upload(b"committed", "kept.txt")
        info = d.upload_info()
        assert info.header_signature_info.expiration_seconds == 1
        url = info.header_signature_info.resource_urls[0]
        assert put(url, {}, b"abandoned")[0] == 200
        blob = Path(server.data_dir) / "blobs" / "objects" / info.upload_key
        assert blob.exists()
        time.sleep(2.2)
        status, _, body = put(url, {}, b"late")
        assert status == 403 and b'"signatureExpired"' in body
        expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "late.txt")
        deadline = time.time() + 10
        while blob.exists() and time.time() < deadline:
            time.sleep(0.25)
        assert not blob.exists(), "the sweeper removes the bytes of expired uploads"
        kept_blob = Path(server.data_dir) / "blobs" / "objects"
        assert len(list(kept_blob.iterdir())) == 1, "committed content is never swept"
        assert d.get(kept.id).size == 9
    finally:
        server.stop()


def test_uploaded_but_uncommitted_survives_restart(tmp_path):
    server = Server(tmp_path / "data")
    server.start()
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        info = d.upload_info()
        assert put(info.header_signature_info.resource_urls[0], {}, b"across a restart")[0] == 200
        server.stop()
        server.start()
        d = Drive(server, tenant, d.space_id)
        f = d.commit(info.upload_key, "r.txt")
        assert d.download(f.id)[2] == b"across a restart"
    finally:
        server.stop()
