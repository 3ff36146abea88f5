#!/usr/bin/env python3
"""What `/metrics` costs (issue 13): GetSpace req/s at 64 connections while a
scraper fetches `/metrics` every second, against the same load with nobody
scraping. The two alternate, each measured over the same window length.
With `--baseline BIN` (a build before the metrics), that build's GetSpace
req/s is measured in the same rounds: what counting every request costs.

    python3 bench/metrics.py --orgdrive BIN --loadgen BIN [--baseline BIN] [--seconds 10] [--runs 5]

Needs the release binaries (bench/run.sh builds them). Prints one JSON line
per run and a summary line; writes nothing else.
"""

import argparse
import json
import os
import sys
import time
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
    ap.add_argument("--baseline", help="an orgdrive build without metrics, measured alongside")
    a = ap.parse_args()
    h = harness.Harness.for_script(a.orgdrive, a.loadgen, a.seconds)
    try:
        def serving(binary, name):
            h.a.orgdrive = binary
            od = h.start_orgdrive(os.path.join(h.work, f"data-{name}"), name=name)
            st = h.provision(od.base)
            return od, h.getspace_load(st)

        od, argv = serving(a.orgdrive, "orgdrive")
        base = serving(a.baseline, "baseline") if a.baseline else None
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

        rounds = [("without", argv, quiet), ("scraped", argv, scraping)]
        if base:
            rounds.append(("baseline", base[1], quiet))
        rps = {name: [] for name, _, _ in rounds}
        sizes = []
        for run in range(a.runs):
            for name, load, window in rounds:
                res, done = h.loadgen(*load, during=window)
                rps[name].append(res["rps"])
                if name == "scraped":
                    sizes.append(done[-1])
                print(json.dumps({"run": run, "server": name, "rps": res["rps"],
                                  "p99_ms": res["p99_ms"], "errors": res.get("errors", 0),
                                  "cpu_s": res["cpu_s"]}), flush=True)
    finally:
        h.cleanup()
    without, during = rps["without"], rps["scraped"]
    log(f"metrics page: {med(sizes)} bytes")
    print(f"GetSpace req/s (64 connections): {med(without):.0f} without scraping, "
          f"{med(during):.0f} scraped every second: {med(during) / med(without):.3f}x "
          f"(runs: {without} / {during})")
    if base:
        baseline = rps["baseline"]
        print(f"GetSpace req/s of the baseline build: {med(baseline):.0f}; this build, "
              f"unscraped: {med(without) / med(baseline):.3f}x (runs: {baseline})")

if __name__ == "__main__":
    main()
