#!/usr/bin/env python3
"""What `/metrics` costs (issue 13): GetSpace req/s at 64 connections while a
scraper fetches `/metrics` every second, against the same load with nobody
scraping. The two alternate, each measured over the same window length.

    python3 bench/metrics.py --orgdrive BIN --loadgen BIN [--seconds 10] [--runs 5]

Needs the release binaries (bench/run.sh builds them). Prints one JSON line
per run and a summary line; writes nothing else.
"""

import argparse
import json
import os
import sys
import time
import types
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ADMIN_TOKEN, log  # noqa: E402


def med(values):
    return sorted(values)[len(values) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgdrive", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    args = types.SimpleNamespace(quick=True, duration=a.seconds, big_mib=16, entries=1000,
                                 raw=os.devnull, keep=False, loadgen=a.loadgen,
                                 orgdrive=a.orgdrive, tree_entries=100, tree_subfolders=10)
    h = harness.Harness(args)
    try:
        od = h.start_orgdrive(os.path.join(h.work, "data"))
        st = h.provision(od.base)
        url = f"{od.base}/v1.0/storage/spaces/{st['spaceId']}?unionId={st['unionId']}"
        argv = ["http", "--url", url, "--header", f"x-acs-dingtalk-access-token: {st['token']}",
                "--connections", 64, "--warmup", 1]
        scrape = urllib.request.Request(f"{od.base}/metrics",
                                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

        def quiet():
            time.sleep(a.seconds)
            return 0

        def scraping():
            sizes, end = [], time.monotonic() + a.seconds
            while time.monotonic() < end:
                t0 = time.monotonic()
                with urllib.request.urlopen(scrape, timeout=10) as reply:
                    sizes.append(len(reply.read()))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
            return sizes

        without, during, sizes = [], [], []
        for run in range(a.runs):
            for name, window, into in (("without", quiet, without), ("scraped", scraping, during)):
                res, done = h.loadgen(*argv, during=window)
                into.append(res["rps"])
                if name == "scraped":
                    sizes.append(done[-1])
                print(json.dumps({"run": run, "scrape": name, "rps": res["rps"],
                                  "p99_ms": res["p99_ms"], "errors": res.get("errors", 0)}),
                      flush=True)
        h.stop(od)
    finally:
        h.cleanup()
    ratio = med(during) / med(without)
    log(f"metrics page: {med(sizes)} bytes")
    print(f"GetSpace req/s (64 connections): {med(without):.0f} without scraping, "
          f"{med(during):.0f} scraped every second: {ratio:.3f}x "
          f"(runs: {without} / {during})")


if __name__ == "__main__":
    main()
