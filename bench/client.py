#!/usr/bin/env python3
"""The odc client's transfers (issue 14) next to their ceilings, in one run:

- 1,000 files of 4 KiB up (`odc put -r`) and down (`odc get -r`), next to
  rclone copying the same files over orgdrive's WebDAV (`/dav/`);
- one 1 GiB file up (`odc put`: a multipart upload of 8 MiB parts, 4 at a
  time) next to curl PUTting the same parts to the same kind of signed part
  URLs, 4 at a time (`curl --parallel`), with the same GetMultipartFileUploadInfos
  and CommitFile around it: the wire ceiling of that upload;
- the same file down (`odc get`) next to curl GETting the same signed URL.

    python3 bench/client.py --orgdrive BIN --odc BIN [--runs 3] [--files 1000] [--big-mib 1024]

Release binaries: `cargo build --release --bin orgdrive --bin odc`. Needs
rclone and curl, and room in $TMPDIR for the big file four times over (the
source, the parts, the server's copy, a download). Rounds alternate which
contender goes first; prints one JSON line per measurement and a markdown table.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from orgdrive_server import OrgdriveServer, call_json, get_access_token, provision  # noqa: E402

PASSWORD = "bench console password"


CLIENT_CPU = [0.0]  # CPU seconds (user + system) of the clients run so far


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv, env=None):
    t0, cpu0 = time.monotonic(), children_cpu()
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env)
    seconds = time.monotonic() - t0
    CLIENT_CPU[0] += children_cpu() - cpu0
    if done.returncode != 0:
        raise RuntimeError(f"{argv}: {done.stderr[-2000:]}")
    return seconds


def drop(path):
    shutil.rmtree(path, ignore_errors=True)


class Bench:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.server = OrgdriveServer(work / "data", binary=args.orgdrive, stderr=work / "server.log")
        self.server.start()
        try:
            self.setup(args, work)
        except BaseException:
            self.server.stop(check=False)
            raise

    def setup(self, args, work):
        self.tenant = provision(self.server.base_url, self.server.admin, with_token=False)
        self.server.admin.call("PUT", f"/orgs/{self.tenant.corp_id}/users/{self.tenant.union_id}/password",
                               {"password": PASSWORD})
        self.env = {**os.environ, "ODC_CONFIG": str(work / "odc" / "client.json"),
                    "ODC_ENDPOINT": self.server.base_url, "ODC_APP_KEY": self.tenant.app_key,
                    "ODC_APP_SECRET": self.tenant.app_secret, "ODC_UNION_ID": self.tenant.union_id}
        obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True,
                                  check=True).stdout.strip()
        self.rclone_env = {**os.environ, "RCLONE_CONFIG": "/dev/null",
                           "RCLONE_CONFIG_OD_TYPE": "webdav",
                           "RCLONE_CONFIG_OD_URL": f"{self.server.base_url}/dav",
                           "RCLONE_CONFIG_OD_VENDOR": "other",
                           "RCLONE_CONFIG_OD_USER": self.tenant.union_id,
                           "RCLONE_CONFIG_OD_PASS": obscured}
        self.space = subprocess.run([args.odc, "-q", "spaces", "create", "--quota", "200G"],
                                    capture_output=True, text=True, env=self.env,
                                    check=True).stdout.strip()
        self.token = get_access_token(self.server.base_url, self.tenant.app_key, self.tenant.app_secret)

    def odc(self, *argv):
        return run([self.args.odc, "-q", *argv], env=self.env)

    def rclone(self, *argv):
        return run(["rclone", *argv], env=self.rclone_env)

    def api(self, method, path, body=None):
        url = f"{self.server.base_url}{path}?unionId={self.tenant.union_id}"
        return call_json(method, url, body, {"x-acs-dingtalk-access-token": self.token})

    def curl_parts_up(self, parts, name):
        """The wire ceiling of odc's multipart upload: the same calls, curl sending the parts."""
        t0 = time.monotonic()
        sp = f"/v1.0/storage/spaces/{self.space}"
        key = self.api("POST", f"{sp}/files/multiPartUploadInfos/init", {"option": {}})["uploadKey"]
        numbers = list(range(1, len(parts) + 1))
        urls = {}
        for i in range(0, len(numbers), 30):
            answer = self.api("POST", "/v1.0/storage/spaces/files/multiPartUploadInfos/query",
                              {"uploadKey": key, "partNumbers": numbers[i:i + 30]})
            for info in answer["multipartHeaderSignatureInfos"]:
                urls[info["partNumber"]] = info["headerSignatureInfo"]["resourceUrls"][0]
        argv = ["curl", "-sS", "-f", "--parallel", "--parallel-max", "4", "-o", "/dev/null"]
        for n, part in zip(numbers, parts):
            argv += ["-T", str(part), urls[n]]
        run(argv)
        size = sum(p.stat().st_size for p in parts)
        self.api("POST", f"{sp}/files/commit", {"uploadKey": key, "name": name, "parentId": "0",
                                                "option": {"size": size, "conflictStrategy": "OVERWRITE"}})
        return time.monotonic() - t0

    def dentry_id(self, name):
        stat = subprocess.run([self.args.odc, "-q", "stat", f"{self.space}:/{name}"],
                              capture_output=True, text=True, env=self.env, check=True).stdout
        return json.loads(stat)["id"]

    def curl_down(self, name, dest):
        t0 = time.monotonic()
        dentry = self.dentry_id(name)
        info = self.api("POST", f"/v1.0/storage/spaces/{self.space}/dentries/{dentry}/downloadInfos/query",
                        {"option": {}})["headerSignatureInfo"]
        run(["curl", "-sS", "-f", "-o", dest, info["resourceUrls"][0]])
        return time.monotonic() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgdrive", required=True)
    parser.add_argument("--odc", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--big-mib", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="orgdrive-client-bench-"))
    figures, cpu = {}, {}

    def record(what, seconds, size):
        # The client's CPU time does not depend on the neighbours of a shared
        # machine as wall time does: it is reported beside it.
        client_cpu, CLIENT_CPU[0] = CLIENT_CPU[0], 0.0
        figures.setdefault(what, []).append(seconds)
        cpu.setdefault(what, []).append(client_cpu)
        print(json.dumps({"what": what, "seconds": round(seconds, 3),
                          "mb_per_s": round(size / seconds / 1e6, 1),
                          "client_cpu_s": round(client_cpu, 3)}), flush=True)

    try:
        bench = Bench(args, work)
    except BaseException:
        drop(work)
        raise
    try:
        small = work / "small"
        small.mkdir()
        for i in range(args.files):
            (small / f"f{i:05}.bin").write_bytes(os.urandom(4096))
        small_bytes = args.files * 4096
        big = work / "big.bin"
        with open(big, "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(1 << 20))
        big_bytes = args.big_mib << 20
        parts_dir = work / "parts"
        parts_dir.mkdir()
        subprocess.run(["split", "-b", "8M", "-d", "-a", "5", big, f"{parts_dir}/p"], check=True)
        parts = sorted(parts_dir.iterdir())

        def pair(first, second, r):
            """Runs both contenders; which one goes first alternates by round
            (the first of a pair meets a colder machine: page cache, the
            host's memory)."""
            for measure in (first, second) if r % 2 == 0 else (second, first):
                measure()

        for r in range(args.runs):
            # 1,000 small files: odc against rclone over WebDAV, both ways.
            pair(lambda: record("small put: odc put -r",
                                bench.odc("put", "-r", small, f"{bench.space}:/odc{r}"), small_bytes),
                 lambda: record("small put: rclone over WebDAV",
                                bench.rclone("copy", small, f"od:{bench.space}/rclone{r}"), small_bytes), r)
            down = work / f"down{r}"
            down.mkdir()
            pair(lambda: record("small get: odc get -r",
                                bench.odc("get", "-r", f"{bench.space}:/odc{r}", down), small_bytes),
                 lambda: record("small get: rclone over WebDAV",
                                bench.rclone("copy", f"od:{bench.space}/rclone{r}", down / "rclone"), small_bytes), r)
            drop(down)
            # One big file: odc against curl on the same kind of URLs.
            pair(lambda: record("1 GiB put: odc put", bench.odc("put", big, f"{bench.space}:/big-odc.bin"), big_bytes),
                 lambda: record("1 GiB put: curl, same parts and URLs", bench.curl_parts_up(parts, "big-curl.bin"),
                                big_bytes), r)
            out = work / "out.bin"

            def odc_get():
                record("1 GiB get: odc get", bench.odc("get", f"{bench.space}:/big-odc.bin", out), big_bytes)
                out.unlink()

            def curl_get():
                record("1 GiB get: curl, same URL", bench.curl_down("big-odc.bin", out), big_bytes)
                out.unlink()
            pair(odc_get, curl_get, r)
    finally:
        bench.server.stop()
        drop(work)

    def median(what):
        return statistics.median(figures[what])

    rows = [("1,000 × 4 KiB up", "small put: odc put -r", "small put: rclone over WebDAV", "≥ 2× rclone"),
            ("1,000 × 4 KiB down", "small get: odc get -r", "small get: rclone over WebDAV", "≥ 2× rclone"),
            ("1 GiB up", "1 GiB put: odc put", "1 GiB put: curl, same parts and URLs", "≥ 0.9× curl"),
            ("1 GiB down", "1 GiB get: odc get", "1 GiB get: curl, same URL", "≥ 0.9× curl")]
    print()
    print("| transfer | odc s (min/median/max) | baseline | baseline s (min/median/max) | odc speed ÷ baseline "
          "| target | client CPU s, odc / baseline (median) |")
    print("|---|---|---|---|---|---|---|")
    for label, odc, base, target in rows:
        o, b = figures[odc], figures[base]
        fmt = lambda xs: f"{min(xs):.2f} / {statistics.median(xs):.2f} / {max(xs):.2f}"  # noqa: E731
        print(f"| {label} | {fmt(o)} | {base.split(': ')[1]} | {fmt(b)} | "
              f"{median(base) / median(odc):.2f}× | {target} | "
              f"{statistics.median(cpu[odc]):.2f} / {statistics.median(cpu[base]):.2f} |")


if __name__ == "__main__":
    main()
