#!/usr/bin/env python3
"""ListDentries while writes go on: what the reply cache gives, or costs,
when every write makes its answers stale (issue 7).

    python3 bench/mixed_reads.py --base BIN --candidate BIN --loadgen BIN [--rounds 3] [--seconds 8]

Each round, for the base and the candidate binary in turn (the order
alternates per round), on a fresh data dir: a folder of 60 files, then
ListDentries (page of 50) at 64 connections for `--seconds`, alone, and again
beside AddFolder at 1 connection (into the space's root: another folder, but
every write moves the store's write generation). Prints one line per load
and the medians of each binary.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import log  # noqa: E402


def listing_args(h, st, folder, seconds):
    url = f"{st['base']}/v1.0/storage/spaces/{st['spaceId']}/dentries?parentId={folder}&maxResults=50&unionId={st['unionId']}"
    return ["http", "--url", url, "--header", f"x-acs-dingtalk-access-token: {st['token']}",
            "--connections", 64, "--duration", seconds, "--warmup", 1]


def one_round(h, binary, seconds):
    h.a.orgdrive = binary
    data = os.path.join(h.work, "data")
    shutil.rmtree(data, ignore_errors=True)
    od = h.start_orgdrive(data)
    try:
        st = h.provision(od.base)
        sp = f"/v1.0/storage/spaces/{st['spaceId']}"
        folder = h.api(st, "POST", f"{sp}/dentries/0/folders", {"name": "list"})["dentry"]["id"]
        filled = h.loadgen("upload-cycle", *h.auth_args(st), "--parent-id", folder, "--prefix", "item",
                           "--size", 4096, "--connections", 4, "--requests", 60)
        assert filled["ok"] == 60 and filled["errors"] == 0, filled
        alone = h.loadgen(*listing_args(h, st, folder, seconds))
        writes = {}

        def writer():
            writes.update(h.loadgen("add-folder", *h.auth_args(st), "--connections", 1,
                                    "--duration", seconds + 1, "--warmup", 0))

        t = threading.Thread(target=writer)
        t.start()
        beside = h.loadgen(*listing_args(h, st, folder, seconds))
        t.join()
        return alone, beside, writes
    finally:
        h.stop(od)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--candidate", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    a = ap.parse_args()
    h = harness.Harness.for_script(a.base, a.loadgen, duration=a.seconds)
    figures = {"base": {"alone": [], "beside": [], "writes": []},
               "candidate": {"alone": [], "beside": [], "writes": []}}
    try:
        for r in range(a.rounds):
            order = [("base", a.base), ("candidate", a.candidate)]
            if r % 2:
                order.reverse()
            for name, binary in order:
                alone, beside, writes = one_round(h, binary, a.seconds)
                f = figures[name]
                f["alone"].append(alone["rps"])
                f["beside"].append(beside["rps"])
                f["writes"].append(writes.get("rps", 0))
                log(f"round {r + 1} {name}: ListDentries alone {alone['rps']:.0f} req/s "
                    f"(p99 {alone['p99_ms']} ms); beside AddFolder {beside['rps']:.0f} req/s "
                    f"(p99 {beside['p99_ms']} ms), AddFolder {writes.get('rps', 0):.0f}/s")
    finally:
        h.cleanup()
    for name, f in figures.items():
        print(f"{name}: ListDentries alone median {statistics.median(f['alone']):.0f} req/s; "
              f"beside 1-connection AddFolder median {statistics.median(f['beside']):.0f} req/s "
              f"(AddFolder median {statistics.median(f['writes']):.0f}/s)")


if __name__ == "__main__":
    main()
