#!/usr/bin/env python3
"""Where a backup's cost to GetSpace's p99 comes from (issue 12): one data
dir of 100,000 files of 4 KiB, then per run GetSpace's p99 at 64 connections
without a backup, during a backup to a directory on the data dir's disk, and
during one to tmpfs (/dev/shm: no disk, no writeback). Each backup's summary
gives its seconds per phase under that load.

    python3 bench/backup_p99.py --orgdrive BIN --loadgen BIN [--files 100000] [--runs 3]

Needs the release binaries (bench/run.sh builds them) and 0.5 GB free in
/dev/shm. Prints one JSON line per run; writes nothing else.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from backup import timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgdrive", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    h = harness.Harness.for_script(a.orgdrive, a.loadgen)
    shm = f"/dev/shm/orgdrive-backup-p99-{os.getpid()}"
    try:
        data = os.path.join(h.work, "data")
        od = h.start_orgdrive(data)
        st = h.provision(od.base)
        h.loadgen("upload-cycle", *h.auth_args(st), "--size", 4096, "--connections", 16,
                  "--requests", a.files, timeout=3600)
        subprocess.run(["sync"])
        argv = h.getspace_load(st)
        targets = {"disk": os.path.join(h.work, "backup"), "tmpfs": shm}
        for run in range(a.runs):
            out = {"run": run, "quiet_p99_ms": h.loadgen(*argv, "--duration", 5)["p99_ms"]}
            for name, target in targets.items():
                shutil.rmtree(target, ignore_errors=True)
                subprocess.run(["sync"])
                time.sleep(2)
                res, (seconds, summary) = h.loadgen(*argv, during=lambda: timed(
                    [a.orgdrive, "backup", "--data-dir", data, "--to", target]))
                out[f"{name}_p99_ms"] = res["p99_ms"]
                out[f"{name}_s"] = round(seconds, 2)
                out[f"{name}_phases_s"] = json.loads(summary.strip().splitlines()[-1])["seconds"]
            print(json.dumps(out), flush=True)
        h.stop(od)
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        h.cleanup()


if __name__ == "__main__":
    main()
