#!/usr/bin/env python3
"""A/B of downloading a multipart file kept as a part manifest on an S3 store
(parts under 5 MiB: DingTalk's usual 1 MiB), which orgdrive streams across its
parts, between a baseline build and a candidate build, alternating in the same
run. Each server has the S3 bucket of `scripts/s3.sh` (a prefix of its own) and
an embedded metadata store; the file is uploaded once per server through the
API (InitMultipartFileUpload, GetMultipartFileUploadInfos, a PUT per part to
the bucket, CommitFile), then downloaded whole on orgdrive's signed URL,
`--rounds` times each, read to the end.

    eval "$(bash scripts/s3.sh)"
    python3 bench/manifest_download_ab.py --base BIN --candidate BIN \\
        [--parts 256] [--part-size 1048576] [--rounds 5]

Only 127.0.0.1 is used; every request is bounded in time."""

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from orgdrive_server import OrgdriveServer, call_json, fresh_s3_prefix, new_secret, required_env  # noqa: E402


def put(url, headers, body):
    request = urllib.request.Request(url, data=body, method="PUT", headers=dict(headers))
    with urllib.request.urlopen(request, timeout=120) as answer:
        answer.read()


def upload(server, parts, part_size):
    """A space and a file of `parts` parts of `part_size` bytes (the last one
    shorter); answers (download URL, size, SHA-256)."""
    tenant = server.provision()
    auth = {"x-acs-dingtalk-access-token": tenant.token}
    base = f"{server.base_url}/v1.0/storage"
    who = f"unionId={tenant.union_id}"
    space = call_json("POST", f"{base}/spaces?{who}", {}, auth)["space"]["id"]
    key = call_json("POST", f"{base}/spaces/{space}/files/multiPartUploadInfos/init?{who}",
                    {"option": {}}, auth)["uploadKey"]
    digest, size = hashlib.sha256(), 0
    numbers = list(range(1, parts + 1))
    for i in range(0, parts, 30):
        signed = call_json("POST", f"{base}/spaces/files/multiPartUploadInfos/query?{who}",
                           {"uploadKey": key, "partNumbers": numbers[i:i + 30]}, auth)
        for info in signed["multipartHeaderSignatureInfos"]:
            n = info["partNumber"]
            body = os.urandom(part_size if n < parts else part_size // 3 + 1)
            sig = info["headerSignatureInfo"]
            put(sig["resourceUrls"][0], sig.get("headers") or {}, body)
            info["body"] = body
        for info in sorted(signed["multipartHeaderSignatureInfos"], key=lambda i: i["partNumber"]):
            digest.update(info["body"])
            size += len(info["body"])
    file = call_json("POST", f"{base}/spaces/{space}/files/commit?{who}",
                     {"uploadKey": key, "name": "parts.bin", "parentId": "0"}, auth)["dentry"]
    info = call_json("POST", f"{base}/spaces/{space}/dentries/{file['id']}/downloadInfos/query?{who}",
                     {}, auth)
    url = info["headerSignatureInfo"]["resourceUrls"][0]
    assert "/blob/manifests/" in url, f"not a manifest file: {url}"
    return url, size, digest.hexdigest()


def download(url, size, sha256):
    start = time.monotonic()
    digest, got = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=600) as answer:
        while chunk := answer.read(1 << 20):
            digest.update(chunk)
            got += len(chunk)
    seconds = time.monotonic() - start
    assert (got, digest.hexdigest()) == (size, sha256), "the download differs from the upload"
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True)
    p.add_argument("--candidate", required=True)
    p.add_argument("--parts", type=int, default=256)
    p.add_argument("--part-size", type=int, default=1 << 20)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    blob = required_env("ORGDRIVE_TEST_BLOB_URL")
    with tempfile.TemporaryDirectory(prefix="orgdrive-manifest-ab-") as work:
        servers = {}
        try:
            for name, binary in (("base", a.base), ("candidate", a.candidate)):
                server = OrgdriveServer(os.path.join(work, name), ["--blob", fresh_s3_prefix(blob)],
                                        binary=binary, admin_token=new_secret(),
                                        env={"ORGDRIVE_LOG": "warn"})
                server.start()
                servers[name] = (server, *upload(server, a.parts, a.part_size))
            seconds = {name: [] for name in servers}
            for round_ in range(a.rounds):
                for name, (_, url, size, sha256) in servers.items():
                    s = download(url, size, sha256)
                    seconds[name].append(s)
                    print(f"round {round_ + 1} {name}: {s:.2f} s, {size / s / 1e6:.1f} MB/s", flush=True)
        finally:
            for server, *_ in servers.values():
                server.stop()
    size = servers["base"][2]
    print(f"\n{a.parts} parts of {a.part_size} bytes (last one shorter), {size} bytes, "
          f"{a.rounds} downloads each, seconds min / median / max:")
    for name, figures in seconds.items():
        print(f"  {name}: {min(figures):.2f} / {statistics.median(figures):.2f} / {max(figures):.2f} "
              f"({size / statistics.median(figures) / 1e6:.1f} MB/s at the median)")
    ratio = statistics.median(seconds["base"]) / statistics.median(seconds["candidate"])
    print(f"  candidate speed / base speed (medians): {ratio:.2f}x")


if __name__ == "__main__":
    main()
