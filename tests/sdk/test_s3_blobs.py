"""File bytes on an S3 server (scripts/s3.sh): upload and download URLs are
the bucket's own presigned URLs, so bytes never pass through orgdrive;
multipart uploads with DingTalk's 1 MiB parts are committed by server-side
copies under a part manifest and served by orgdrive across parts.

Run with `eval "$(bash scripts/s3.sh)"` then `pytest tests/sdk/test_s3_blobs.py`.
Without the S3 environment these tests FAIL (they are never skipped)."""

import hashlib
import os
import secrets
import subprocess
import struct
import urllib.parse
import zlib

import pytest

from conftest import provision, start_server
from drive import Drive, get, put
from helpers import expect_error
from test_thumbnails import png, png_size, settled
from test_weboffice import CLIENT, parse, wopi

# Embedded metadata (its fsck reads DATA_DIR/meta.sqlite) with S3 contents.
pytestmark = [pytest.mark.s3, pytest.mark.embedded]

MIB = 1 << 20
# Fewest bytes of a part that is not an upload's last: 100 KB.
MIN_PART = 100 << 10


def s3_url():
    url = os.environ.get("ORGDRIVE_TEST_BLOB_URL", "")
    if not url.startswith("s3://") or not os.environ.get("AWS_ACCESS_KEY_ID"):
        pytest.fail("ORGDRIVE_TEST_BLOB_URL / AWS_ACCESS_KEY_ID are not set: start the S3 "
                    "server with `eval \"$(bash scripts/s3.sh)\"`", pytrace=False)
    return url


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A server whose content store is a fresh prefix of the test bucket."""
    root = f"/sdk-{secrets.token_hex(6)}"
    url = f"{s3_url()}&root={urllib.parse.quote(root, safe='')}"
    tmp = tmp_path_factory.mktemp("orgdrive-s3")
    server = start_server(tmp, ["--blob", url, "--wopi-client-url", CLIENT])
    yield server
    server.stop()


@pytest.fixture
def d(s3):
    return Drive(s3, provision(s3))


def bucket_endpoint():
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(s3_url()).query)
    return query["endpoint"][0]


def data(size, seed):
    return hashlib.shake_256(f"{seed}".encode()).digest(size)


def assert_presigned(url):
    """A URL of the bucket itself (query-signed by SigV4), not orgdrive's."""
    assert url.startswith(bucket_endpoint() + "/"), url
    assert "X-Amz-Signature=" in url, url


def assert_bucket_consistent(server):
    """`orgdrive fsck` over the bucket: every content object and manifest is
    referenced, every part belongs to a manifest, every size is as recorded."""
    url = next(a for i, a in enumerate(server.extra_args) if server.extra_args[i - 1] == "--blob")
    run = subprocess.run(
        [server.binary, "fsck", "--data-dir", str(server.data_dir), "--blob", url, "--grace", "0"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_single_upload_is_a_presigned_put_and_downloads_from_the_bucket(d):
    body = data(300_000, "single")
    info = d.upload_info(size=len(body), md_5=hashlib.md5(body).hexdigest())
    sig = info.header_signature_info
    assert_presigned(sig.resource_urls[0])
    assert sig.expiration_seconds == 900
    status, _, _ = put(sig.resource_urls[0], sig.headers, body)
    assert status == 200
    f = d.commit(info.upload_key, "single.bin", size=len(body))
    assert f.size == len(body)
    down = d.download_info(f.id).header_signature_info
    assert_presigned(down.resource_urls[0])
    status, headers, got = get(down.resource_urls[0], down.headers)
    assert (status, got) == (200, body)
    assert headers["Content-Disposition"].startswith("attachment;")
    status, _, got = get(down.resource_urls[0], {**down.headers, "Range": "bytes=1000-1999"})
    assert (status, got) == (206, body[1000:2000])
    # A tampered signature is refused by the bucket.
    url = down.resource_urls[0]
    at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    bad = url[:at] + ("1" if url[at] == "0" else "0") + url[at + 1:]
    assert get(bad, down.headers)[0] == 403


def test_a_put_after_the_commit_does_not_change_the_file(d):
    info = d.upload_info()
    sig = info.header_signature_info
    assert put(sig.resource_urls[0], sig.headers, b"committed bytes")[0] == 200
    f = d.commit(info.upload_key, "kept.txt")
    # The presigned PUT is still valid until it expires: the bucket takes it...
    assert put(sig.resource_urls[0], sig.headers, b"swapped!")[0] == 200
    # ...but the file's content was copied out of the upload's reach.
    assert d.download(f.id)[2] == b"committed bytes"
    assert d.get(f.id).size == len(b"committed bytes")
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "again.txt")


def upload_parts(d, parts, **check):
    key = d.init_multipart(**check).upload_key
    urls = d.part_urls(key, list(range(1, len(parts) + 1)))
    for n, part in enumerate(parts, 1):
        assert_presigned(urls[n].resource_urls[0])
        assert put(urls[n].resource_urls[0], urls[n].headers, part)[0] == 200
    return key


@pytest.mark.parametrize("sizes", [[MIB, MIB, 12_345], [MIB] * 4, [777], [5 * MIB, 5 * MIB + 3, 1000]])
def test_multipart_with_dingtalk_part_sizes(d, sizes):
    """1 MiB parts (DingTalk's) are kept as parts under a manifest and served
    by orgdrive; parts S3 can join (all but the last >= 5 MiB) are composed
    into one object in the bucket and downloaded from it."""
    parts = [data(size, f"{len(sizes)}-{n}") for n, size in enumerate(sizes)]
    whole = b"".join(parts)
    key = upload_parts(d, parts, size=len(whole), md_5=hashlib.md5(whole).hexdigest())
    f = d.commit(key, f"multi-{len(sizes)}.bin", size=len(whole))
    assert f.size == len(whole)
    status, headers, got = d.download(f.id)
    assert status == 200 and got == whole
    assert headers["Content-Length"] == str(len(whole))
    composed = all(size >= 5 * MIB for size in sizes[:-1])
    down = d.download_info(f.id).header_signature_info
    if composed:
        assert_presigned(down.resource_urls[0])
    else:
        # Served by orgdrive across the parts.
        assert "/blob/manifests/" in down.resource_urls[0]
    if len(parts) > 1:
        # Range-exact across a part boundary.
        edge = sizes[0]
        status, headers, got = d.download(f.id, headers={"Range": f"bytes={edge - 100}-{edge + 99}"})
        assert (status, got) == (206, whole[edge - 100:edge + 100])
        assert headers["Content-Range"] == f"bytes {edge - 100}-{edge + 99}/{len(whole)}"
        status, _, got = d.download(f.id, headers={"Range": f"bytes=-{sizes[-1] + 10}"})
        assert (status, got) == (206, whole[-(sizes[-1] + 10):])
    # A copy shares the content; deleting the original leaves the copy whole.
    copy = d.copy(f.id, conflict="AUTO_RENAME").dentry
    d.delete(f.id, to_recycle_bin=False)
    assert d.download(copy.id)[2] == whole


def test_multipart_checks_gaps_sizes_and_md5(d):
    key = d.init_multipart().upload_key
    urls = d.part_urls(key, [1, 3])
    for n in (1, 3):
        assert put(urls[n].resource_urls[0], urls[n].headers, b"x" * MIN_PART)[0] == 200
    expect_error(400, "paramError.uploadKey", d.commit, key, "gap.bin")
    part2 = d.part_urls(key, [2])[2]
    # A part that is not the last under 100 KB: refused, before any copy.
    assert put(part2.resource_urls[0], part2.headers, b"y" * 10)[0] == 200
    e = expect_error(400, "paramError.size", d.commit, key, "gap.bin")
    assert "part 2 has 10 bytes" in e.message
    assert put(part2.resource_urls[0], part2.headers, b"y" * MIN_PART)[0] == 200
    expect_error(400, "paramError.size", d.commit, key, "gap.bin", size=3 * MIN_PART + 1)
    assert d.commit(key, "gap.bin", size=3 * MIN_PART).size == 3 * MIN_PART
    bad_md5 = upload_parts(d, [b"a" * MIN_PART, b"b" * 10], md_5="0" * 32)
    expect_error(400, "paramError.md5", d.commit, bad_md5, "md5.bin")
    single = d.upload_info(md_5="0" * 32)
    assert put(single.header_signature_info.resource_urls[0], {}, b"abc")[0] == 200
    expect_error(400, "paramError.md5", d.commit, single.upload_key, "md5.txt")


def test_quota_exceeded_at_commit_writes_nothing(s3):
    tenant = provision(s3, capacity=5 * MIB)
    d = Drive(s3, tenant, quota=2 * MIB)
    # Nothing announced: the bucket takes the bytes, the commit refuses them.
    parts = [data(MIB, "q1"), data(MIB, "q2"), data(10, "q3")]
    key = upload_parts(d, parts)
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, data(2 * MIB + 1, "q4"))[0] == 200
    expect_error(400, "paramError.quota", d.commit, key, "big.bin")
    expect_error(400, "paramError.quota", d.commit, info.upload_key, "big2.bin")
    assert [x.name for x in d.list().dentries or []] == []
    assert d.space().used_quota == 0
    assert_bucket_consistent(s3)
    # Exactly at the quota fits.
    ok = upload_parts(d, [data(MIB, "q5"), data(MIB, "q6")])
    f = d.commit(ok, "fits.bin")
    assert f.size == 2 * MIB and d.space().used_quota == 2 * MIB
    assert_bucket_consistent(s3)


def test_thumbnails_and_wopi_read_multipart_content(d):
    """Thumbnails and the WOPI host read a manifest's content through the
    content store; a WOPI save lands in the bucket as a single object."""
    # Padded with a text chunk (decoders skip it) so that each part has
    # the 100 KB a part but the last must have.
    text = b"Comment\x00" + b"x" * (2 * MIN_PART)
    padding = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    image = png(600, 300)
    image = image[:-12] + padding + image[-12:]  # before IEND, the last 12 bytes
    half = len(image) // 2
    key = upload_parts(d, [image[:half], image[half:]])
    picture = d.commit(key, "wide.png").id
    item = settled(d, picture)
    assert item.success, item.to_map()
    status, _, body = get(item.thumbnail.url)
    assert status == 200 and png_size(body) == (256, 128)

    key = upload_parts(d, [b"draft " * 50_000, b"one"])
    doc = d.commit(key, "plan.docx").id
    src, token = parse(d.web_office_url(doc).web_office_url)
    status, _, content = wopi(src, token, "/contents")
    assert status == 200 and content == b"draft " * 50_000 + b"one"
    lock = {"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "s3-session"}
    assert wopi(src, token, method="POST", headers=lock, body=b"")[0] == 200
    save = {"X-WOPI-Override": "PUT", "X-WOPI-Lock": "s3-session"}
    assert wopi(src, token, "/contents", "POST", save, b"draft two")[0] == 200
    down = d.download_info(doc).header_signature_info
    assert_presigned(down.resource_urls[0])
    assert get(down.resource_urls[0], down.headers)[2] == b"draft two"
    # The first version (a manifest) is still served, by orgdrive.
    assert d.download(doc, version=1)[2] == b"draft " * 50_000 + b"one"
    assert_bucket_consistent(d.server)
