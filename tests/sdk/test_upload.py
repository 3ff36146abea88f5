"""The upload flow: GetFileUploadInfo -> PUT -> CommitFile, multipart,
conflict strategies for files, signed-URL checks, single use, restart."""

import pytest
import hashlib
import os
import re
import time

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import provision, runtime, start_server
from drive import Drive, blob_files, get, get_sha256, put

# Fewest bytes of a part that is not an upload's last: 100 KB.
MIN_PART = 100 << 10
from helpers import expect_error, expect_http_error


@pytest.mark.embedded
def test_single_upload_and_download_round_trip(server, tenant):
    d = Drive(server, tenant)
    info = d.upload_info()
    assert (info.protocol, info.storage_driver) == ("HEADER_SIGNATURE", "DINGTALK")
    sig = info.header_signature_info
    assert sig.expiration_seconds == 900 and len(sig.resource_urls) == 1
    assert sig.headers == {}, "the signature is in the URL: no headers to send"
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


def test_upload_info_protocol_driver_and_multipart_flag(server, tenant):
    d = Drive(server, tenant)
    expect_error(400, "paramError.protocol", d.upload_info, protocol="OSS_PRESIGNED")
    expect_error(400, "paramError.storageDriver", d.upload_info, storage_driver="OSS")
    assert d.upload_info(storage_driver="DINGTALK").storage_driver == "DINGTALK"
    # `multipart` is accepted and ignored: still one URL for one PUT.
    info = d.upload_info(multipart=True)
    assert len(info.header_signature_info.resource_urls) == 1
    assert put(info.header_signature_info.resource_urls[0], {}, b"one piece")[0] == 200
    assert d.commit(info.upload_key, "m.txt").size == 9


@pytest.mark.embedded
def test_utf8_names_in_content_disposition(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"%PDF", "年度报告 2024.pdf")
    status, headers, _ = d.download(f.id)
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''%E5%B9%B4%E5%BA%A6%E6%8A%A5%E5%91%8A%202024%2Epdf" in \
        headers["Content-Disposition"]


@pytest.mark.embedded
def test_range_requests(server, tenant):
    d = Drive(server, tenant)
    whole = bytes(range(256)) * 4
    f = d.upload(whole, "bytes.bin")
    status, headers, body = d.download(f.id, headers={"Range": "bytes=0-499"})
    assert (status, len(body), headers["Content-Range"]) == (206, 500, "bytes 0-499/1024")
    assert body == whole[:500]
    status, headers, body = d.download(f.id, headers={"Range": "bytes=-24"})
    assert (status, body, headers["Content-Range"]) == (206, bytes(range(232, 256)), "bytes 1000-1023/1024")
    status, headers, body = d.download(f.id, headers={"Range": "bytes=1000-"})
    assert (status, body) == (206, whole[1000:])
    # Beyond the end: 416 paramError.range with the size.
    refused = d.download(f.id, headers={"Range": "bytes=1024-2000"})
    expect_http_error(416, "paramError.range", refused)
    assert refused[1]["Content-Range"] == "bytes */1024"
    # Multiple or malformed ranges are ignored: 200 and the whole file.
    for spec in ["bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=abc", "bytes=5-1", "bytes=-", "items=0-9",
                 "0-9"]:
        status, headers, body = d.download(f.id, headers={"Range": spec})
        assert (status, body) == (200, whole), spec
        assert "Content-Range" not in headers, spec
        assert headers["Content-Length"] == "1024", spec


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
    assert len(d.part_urls(key, list(range(1, 31)))) == 30, "30 parts per call is allowed"
    assert set(d.part_urls(key, [10000])) == {10000}
    expect_error(400, "paramError.uploadKey", d.part_urls, "nope", [1])
    single = d.upload_info().upload_key
    expect_error(400, "paramError.uploadKey", d.part_urls, single, [1])
    urls = d.part_urls(key, [1, 3])
    for n in (1, 3):
        assert put(urls[n].resource_urls[0], urls[n].headers, b"x" * MIN_PART)[0] == 200, n
    expect_error(400, "paramError.uploadKey", d.commit, key, "gap.bin")
    # Filling the gap makes it committable.
    part2 = d.part_urls(key, [2])[2]
    assert put(part2.resource_urls[0], part2.headers, b"y" * MIN_PART)[0] == 200
    f = d.commit(key, "filled.bin")
    assert d.download(f.id)[2] == (b"x" * MIN_PART + b"y" * MIN_PART + b"x" * MIN_PART)


def test_every_part_but_the_last_has_at_least_100_kb(server, tenant):
    """Parts of 100 KB to 5 GB (reference), as OSS and S3 refuse smaller
    ones when an upload is completed: CommitFile refuses an upload with a
    smaller part that is not its last (400 paramError.size, naming it); the
    upload stays open, and the part PUT again bigger commits."""
    d = Drive(server, tenant)
    key = d.init_multipart().upload_key
    urls = d.part_urls(key, [1, 2, 3])
    sizes = {1: MIN_PART, 2: MIN_PART - 1, 3: 1}
    for n, size in sizes.items():
        assert put(urls[n].resource_urls[0], urls[n].headers, bytes([n]) * size)[0] == 200, n
    e = expect_error(400, "paramError.size", d.commit, key, "small.bin")
    assert "part 2 has 102399 bytes" in e.message
    again = d.part_urls(key, [2])[2]
    assert put(again.resource_urls[0], again.headers, b"\x02" * MIN_PART)[0] == 200
    f = d.commit(key, "small.bin")
    # The last part may be as small as it is.
    assert f.size == 2 * MIN_PART + 1
    assert d.download(f.id)[2] == b"\x01" * MIN_PART + b"\x02" * MIN_PART + b"\x03"
    assert d.space().used_quota == f.size


@pytest.mark.embedded
def test_multipart_parts_together_may_not_exceed_the_announced_size(server, tenant):
    d = Drive(server, tenant)
    key = d.init_multipart(size=MIN_PART + 4).upload_key
    urls = d.part_urls(key, [1, 2])
    assert put(urls[1].resource_urls[0], {}, b"a" * MIN_PART)[0] == 200
    # MIN_PART + 6 > MIN_PART + 4: the second part is refused and stores nothing.
    expect_http_error(413, "paramError.size", put(urls[2].resource_urls[0], {}, b"b" * 6))
    assert put(urls[2].resource_urls[0], {}, b"b" * 4)[0] == 200
    f = d.commit(key, "ten.bin", size=MIN_PART + 4)
    assert d.download(f.id)[2] == b"a" * MIN_PART + b"b" * 4


def test_file_conflict_strategies(server, tenant):
    d = Drive(server, tenant)
    first = d.upload(b"one", "a.txt")
    assert d.upload(b"two", "a.txt").name == "a(1).txt"
    assert d.upload(b"three", "a.txt", conflict="AUTO_RENAME").name == "a(2).txt"
    assert d.download(first.id)[2] == b"one"
    used = d.space().used_quota
    assert used == 3 + 3 + 5

    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"four")[0] == 200
    expect_error(400, "paramError.name", d.commit, info.upload_key, "a.txt", conflict="RETURN_ERROR_IF_EXISTS")
    # The refused commit left the upload usable.
    assert d.commit(info.upload_key, "b.txt").name == "b.txt"
    used += 4

    v1_etag = d.download(first.id)[1]["ETag"]
    assert not v1_etag.startswith("W/"), "a strong ETag"
    new = d.upload(b"version two", "a.txt", conflict="OVERWRITE")
    assert (new.id, new.version, new.size) == (first.id, 2, 11)
    assert d.download(first.id)[2] == b"version two"
    assert d.download(first.id, version=1)[2] == b"one"
    # Content objects never change: version 1 keeps its ETag, version 2 has another.
    assert d.download(first.id, version=1)[1]["ETag"] == v1_etag
    assert d.download(first.id)[1]["ETag"] != v1_etag
    assert d.download(first.id, version=2)[2] == b"version two"
    expect_error(400, "paramError.version", d.download_info, first.id, version=7)
    # History versions keep counting against the quota.
    assert d.space().used_quota == used + 11
    folder = d.add_folder("dir")
    expect_error(400, "paramError.name", d.upload, b"x", "dir", conflict="OVERWRITE")
    assert d.upload(b"x", "dir").name == "dir(1)"
    expect_error(400, "paramError.dentryId", d.download_info, folder.id)


def test_return_dentry_if_exists_discards_the_upload(server, tenant):
    d = Drive(server, tenant)
    first = d.upload(b"one", "a.txt")
    used = d.space().used_quota
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"ignored")[0] == 200
    same = d.commit(info.upload_key, "a.txt", conflict="RETURN_DENTRY_IF_EXISTS")
    assert (same.id, same.size, same.version) == (first.id, 3, 1)
    assert d.download(first.id)[2] == b"one"
    assert d.space().used_quota == used, "the discarded upload is not charged"
    # The upload was consumed: its key commits nothing, under any name.
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "other.txt")
    assert [e.name for e in d.walk()[0]] == ["a.txt"]


def test_auto_rename_counter_goes_before_the_last_extension(server, tenant):
    d = Drive(server, tenant)
    names = [d.upload(bytes([i]), "a.tar.gz").name for i in range(3)]
    assert names == ["a.tar.gz", "a.tar(1).gz", "a.tar(2).gz"]
    plain = [d.upload(b"r", "README").name for _ in range(2)]
    assert plain == ["README", "README(1)"]
    renamed = [e for e in d.walk()[0] if e.name == "a.tar(1).gz"][0]
    assert renamed.extension == "gz"
    status, headers, body = d.download(renamed.id)
    assert (status, body) == (200, b"\x01")
    assert 'filename="a.tar(1).gz"' in headers["Content-Disposition"]


def test_names_are_case_sensitive(server, tenant):
    d = Drive(server, tenant)
    upper = d.upload(b"U", "Report.TXT")
    lower = d.upload(b"l", "report.txt", conflict="RETURN_ERROR_IF_EXISTS")
    assert (upper.name, lower.name) == ("Report.TXT", "report.txt") and upper.id != lower.id
    assert d.download(upper.id)[2] == b"U" and d.download(lower.id)[2] == b"l"


def test_commit_and_pre_check_names_are_trimmed(server, tenant):
    d = Drive(server, tenant)
    assert d.upload(b"p", "  padded.txt  ").name == "padded.txt"
    # Trimmed first, then checked: " ends. " is "ends.", which may not end with a dot.
    expect_error(400, "paramError.name", d.upload, b"x", " ends. ")
    expect_error(400, "paramError.name", d.upload, b"x", "    ")
    # The same rule for preCheckParam.name.
    expect_error(400, "paramError.name", d.upload_info, name=" ends. ")
    expect_error(400, "paramError.name", d.upload_info, name="   ")
    info = d.upload_info(name="  fine.txt  ")
    assert put(info.header_signature_info.resource_urls[0], {}, b"ok")[0] == 200
    assert d.commit(info.upload_key, "  fine.txt  ").name == "fine.txt"


def test_name_conflict_is_not_a_pre_check_error(server, tenant):
    d = Drive(server, tenant)
    d.upload(b"1", "taken.txt")
    info = d.upload_info(name="taken.txt", parent_id="0", size=1)
    assert put(info.header_signature_info.resource_urls[0], {}, b"2")[0] == 200
    # CommitFile's strategy decides.
    assert d.commit(info.upload_key, "taken.txt").name == "taken(1).txt"


def test_overwrite_dentry_id_commits_a_new_version(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"v1", "doc.md")
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"v2!")[0] == 200
    g = d.commit(info.upload_key, "ignored.md", overwrite_dentry_id=f.id)
    assert (g.id, g.name, g.version, g.size) == (f.id, "doc.md", 2, 3)
    assert d.download(f.id)[2] == b"v2!"


@pytest.mark.embedded
def test_commit_checks(server, make_tenant):
    tenant = make_tenant()
    d = Drive(server, tenant)
    info = d.upload_info()
    url = info.header_signature_info.resource_urls[0]
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "early.txt")
    assert put(url, {}, b"12345")[0] == 200
    expect_error(400, "paramError.size", d.commit, info.upload_key, "a.txt", size=4)
    expect_error(400, "paramError.name", d.commit, info.upload_key, "bad|name")
    expect_error(400, "paramError.parentId", d.commit, info.upload_key, "a.txt", parent_id="777")
    expect_error(400, "paramError.conflictStrategy", d.commit, info.upload_key, "a.txt", conflict="NO")
    # Another user of the org cannot commit someone else's upload: refused
    # without a role, and with one the key is still not theirs.
    other_user = server.admin.create_user(tenant.corp_id, name="Bob", org_admin=False)
    bob = Drive(server, type(tenant)(**{**tenant.__dict__, "union_id": other_user["unionId"]}), d.space_id)
    expect_error(403, "permissionDenied", bob.commit, info.upload_key, "a.txt")
    d.grant("0", "EDITOR", ("USER", bob.uid))
    expect_error(400, "paramError.uploadKey", bob.commit, info.upload_key, "a.txt")
    assert d.space().used_quota == 0, "nothing was committed"
    d.commit(info.upload_key, "a.txt", size=5)
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "again.txt")
    expect_error(400, "paramError.uploadKey", d.commit, "unknown-key", "a.txt")
    # The URL of a committed upload no longer accepts bytes.
    expect_http_error(400, "paramError.uploadKey", put(url, {}, b"late"))
    assert d.download(d.walk()[0][0].id)[2] == b"12345"


def test_upload_key_is_bound_to_its_space_and_app(server, tenant, make_tenant):
    d = Drive(server, tenant)
    elsewhere = Drive(server, tenant, scene_id="2")
    # Another app of the same org, acting for the same user, in a space of its own.
    other_app = make_tenant(corp_id=tenant.corp_id, union_id=tenant.union_id)
    foreign = Drive(server, other_app)

    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"mine")[0] == 200
    expect_error(400, "paramError.uploadKey", elsewhere.commit, info.upload_key, "x.txt")
    # Another app is told what a key that does not exist is told: no app
    # learns whether a key is open for another.
    def message(call, *args):
        return dict(expect_error(400, "paramError.uploadKey", call, *args).data)["message"]
    unknown = message(foreign.commit, "no-such-key", "x.txt")
    assert message(foreign.commit, info.upload_key, "x.txt") == unknown
    # ... nor in this space, where the same user (its owner) may act through
    # either app: the key stays bound to the app that opened it.
    expect_error(400, "paramError.uploadKey", Drive(server, other_app, d.space_id).commit, info.upload_key, "x.txt")
    multipart = d.init_multipart().upload_key
    assert message(foreign.part_urls, multipart, [1]) == unknown
    # None of the refusals used the key up.
    assert d.commit(info.upload_key, "x.txt").size == 4
    assert elsewhere.space().used_quota == 0 and foreign.space().used_quota == 0


@pytest.mark.embedded
def test_pre_checks(server, make_tenant):
    tenant = make_tenant(capacity=1000)
    d = Drive(server, tenant)
    expect_error(400, "paramError.name", d.upload_info, name="a*b")
    expect_error(400, "paramError.parentId", d.upload_info, name="a", parent_id="4444")
    file = d.upload(b"f", "file.txt")
    expect_error(400, "paramError.parentId", d.upload_info, name="a", parent_id=file.id)
    folder = d.add_folder("dir")
    assert d.upload_info(name="a", parent_id=folder.id).upload_key
    expect_error(400, "paramError.quota", d.upload_info, size=1000)
    assert d.upload_info(size=999).upload_key, "exactly what is left fits"
    expect_error(400, "paramError.md5", d.upload_info, md_5="xyz")
    info = d.upload_info(size=3, md_5=hashlib.md5(b"abc").hexdigest())
    url = info.header_signature_info.resource_urls[0]
    # More bytes than announced are refused while streaming, and store nothing.
    expect_http_error(413, "paramError.size", put(url, {}, b"abcd"))
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "a.txt")
    assert put(url, {}, b"abd")[0] == 200
    expect_error(400, "paramError.md5", d.commit, info.upload_key, "a.txt")
    status, headers, _ = put(url, {}, b"abc")
    assert status == 200 and headers["ETag"] == '"900150983cd24fb0d6963f7d28e17f72"', "MD5 of what arrived"
    assert d.commit(info.upload_key, "a.txt").size == 3


def _with_query(url, key, value):
    """`url` with query parameter `key` replaced by `value` (None: removed)."""
    base, query = url.split("?", 1)
    pairs = [p.split("=", 1) for p in query.split("&")]
    kept = [f"{k}={v}" for k, v in pairs if k != key]
    if value is not None:
        kept.append(f"{key}={value}")
    return f"{base}?{'&'.join(kept)}"


def _query(url, key):
    return dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))[key]


@pytest.mark.embedded
def test_signed_urls_refuse_tampering_and_wrong_methods(server, tenant):
    d = Drive(server, tenant)
    info = d.upload_info()
    url = info.header_signature_info.resource_urls[0]
    expires, signature = int(_query(url, "expires")), _query(url, "signature")
    mismatch = lambda response: expect_http_error(403, "signatureMismatch", response)  # noqa: E731
    # A changed key, expiry or signature; a missing signature; a garbage expiry.
    mismatch(put(url.replace(info.upload_key, "A" * len(info.upload_key)), {}, b"x"))
    mismatch(put(_with_query(url, "expires", expires + 1), {}, b"x"))
    mismatch(put(_with_query(url, "expires", expires - 1), {}, b"x"))
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    mismatch(put(_with_query(url, "signature", flipped), {}, b"x"))
    mismatch(put(_with_query(url, "signature", "not-hex"), {}, b"x"))
    mismatch(put(_with_query(url, "signature", None), {}, b"x"))
    mismatch(put(_with_query(url, "expires", "soon"), {}, b"x"))
    mismatch(put(_with_query(url, "expires", None), {}, b"x"))
    # The PUT URL does not download.
    mismatch(get(url))
    # None of that stored anything; the genuine URL still works.
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "nothing.txt")
    assert put(url, {}, b"data")[0] == 200
    f = d.commit(info.upload_key, "f.txt")

    down = d.download_info(f.id).header_signature_info.resource_urls[0]
    # A download URL does not upload, and its name, key and expiry are signed.
    mismatch(put(down, {}, b"overwrite?"))
    mismatch(get(down.replace("name=f.txt", "name=g.txt")))
    mismatch(get(_with_query(down, "name", None)))
    mismatch(get(re.sub(r"/blob/(\w+)/", r"/blob/\1/x", down, count=1)))
    mismatch(get(_with_query(down, "expires", int(_query(down, "expires")) + 60)))
    mismatch(get(_with_query(down, "signature", None)))
    assert get(down)[2] == b"data"
    assert get(down, method="HEAD")[1]["Content-Length"] == "4"


@pytest.mark.embedded
def test_expired_urls_are_refused_and_abandoned_uploads_swept(tmp_path):
    server = start_server(tmp_path, ["--signed-url-ttl", "1", "--upload-ttl", "2"])
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        kept = d.upload(b"committed", "kept.txt")
        committed_blobs = blob_files(server.data_dir)
        assert len(committed_blobs) == 1
        down = d.download_info(kept.id).header_signature_info
        assert down.expiration_seconds == 1
        info = d.upload_info()
        assert info.header_signature_info.expiration_seconds == 1
        url = info.header_signature_info.resource_urls[0]
        assert put(url, {}, b"abandoned")[0] == 200
        assert len(blob_files(server.data_dir)) == 2
        time.sleep(2.2)
        expect_http_error(403, "signatureExpired", put(url, {}, b"late"))
        expect_http_error(403, "signatureExpired", get(down.resource_urls[0]))
        expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "late.txt")
        deadline = time.time() + 10
        while len(blob_files(server.data_dir)) > 1 and time.time() < deadline:
            time.sleep(0.25)
        assert blob_files(server.data_dir) == committed_blobs, \
            "the sweeper removes the bytes of expired uploads, and never committed content"
        assert d.get(kept.id).size == 9
        assert d.download(kept.id)[2] == b"committed"
    finally:
        server.stop()


def test_uploaded_but_uncommitted_survives_restart(tmp_path):
    server = start_server(tmp_path)
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        info = d.upload_info()
        assert put(info.header_signature_info.resource_urls[0], {}, b"across a restart")[0] == 200
        server.restart()
        d = Drive(server, tenant, d.space_id)
        f = d.commit(info.upload_key, "r.txt")
        assert d.download(f.id)[2] == b"across a restart"
    finally:
        server.stop()


def test_get_file_upload_info_through_a_raw_sdk_request(server, tenant):
    """The SDK's own request object with every field the reference names."""
    d = Drive(server, tenant)
    request = m.GetFileUploadInfoRequest(
        union_id=tenant.union_id, protocol="HEADER_SIGNATURE", multipart=False,
        option=m.GetFileUploadInfoRequestOption(
            storage_driver="DINGTALK", prefer_region="SHANGHAI", prefer_intranet=False,
            pre_check_param=m.GetFileUploadInfoRequestOptionPreCheckParam(
                name="x.bin", parent_id="0", size=2, md_5=hashlib.md5(b"xy").hexdigest())))
    info = d.client.get_file_upload_info_with_options(
        d.space_id, request, tenant.headers(m.GetFileUploadInfoHeaders), runtime()).body
    assert put(info.header_signature_info.resource_urls[0], {}, b"xy")[0] == 200
    assert d.commit(info.upload_key, "x.bin").size == 2
