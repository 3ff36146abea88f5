#!/usr/bin/env python3
"""A/B of a durable write load between a baseline build and a candidate build of
orgdrive, measured in the same run, alternating, with the harness's load generator
(bench/loadgen): full 4 KiB upload cycles (GetFileUploadInfo -> PUT -> CommitFile,
`upload-cycle`, the default) or another of its write loads (`--op add-folder`).

Used to price what hardening costs on the write path (a PUT now reserves its bytes
in one more transaction before it streams). Both servers run release builds with
default durability (full) on data dirs in the same temp dir.

    python3 bench/upload_ab.py --base BIN --candidate BIN --loadgen BIN \
        [--op upload-cycle|add-folder] [--rounds 3] [--seconds 10] [--connections 64]

`bash bench/upload_ab.sh [BASE_REV]` builds the three binaries and runs this.
Only 127.0.0.1 is used; every run is bounded in time."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from orgdrive_server import OrgdriveServer, call_json, new_secret  # noqa: E402
sys.path.insert(0, HERE)
from harness import proc_cpu_s  # noqa: E402


def start(binary, data_dir, extra):
    server = OrgdriveServer(data_dir, extra, binary=binary, admin_token=new_secret(),
                            env={"ORGDRIVE_LOG": "warn"})
    server.start()
    tenant = server.provision()
    space = call_json("POST", f"{server.base_url}/v1.0/storage/spaces?unionId={tenant.union_id}",
                      {}, {"x-acs-dingtalk-access-token": tenant.token})
    auth = ["--base", server.base_url, "--space", space["space"]["id"],
            "--union-id", tenant.union_id, "--token", tenant.token]
    return server, auth


def cycles(loadgen, op, auth, seconds, connections):
    sized = ["--size", "4096"] if op == "upload-cycle" else []
    out = subprocess.run([loadgen, op, *auth, *sized,
                          "--connections", str(connections), "--duration", str(seconds),
                          "--warmup", "1"], capture_output=True, text=True, check=True,
                         timeout=seconds + 120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result.get("errors"):
        raise SystemExit(f"errors during the load: {result}")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True)
    p.add_argument("--candidate", required=True)
    p.add_argument("--loadgen", required=True)
    p.add_argument("--op", choices=("upload-cycle", "add-folder"), default="upload-cycle")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=64)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="orgdrive-ab-") as work:
        base, base_auth = start(a.base, os.path.join(work, "base"), [])
        cand, cand_auth = start(a.candidate, os.path.join(work, "candidate"), ["--min-free-disk", "0"])
        figures = {"base": [], "candidate": []}
        try:
            for round_ in range(a.rounds):
                for name, server, auth in (("base", base, base_auth), ("candidate", cand, cand_auth)):
                    cpu = proc_cpu_s(server.pid)
                    r = cycles(a.loadgen, a.op, auth, a.seconds, a.connections)
                    # ok_all: every operation answered, the warmup's included.
                    ops = r["ok_all"]
                    r["cpu_us_per_op"] = (proc_cpu_s(server.pid) - cpu) * 1e6 / ops
                    figures[name].append(r)
                    print(f"round {round_ + 1} {name}: {r['rps']:.0f} ops/s, "
                          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                          f"server CPU {r['cpu_us_per_op']:.1f} µs/op", flush=True)
        finally:
            base.stop(check=False)
            cand.stop(check=False)
    rps = {k: [r["rps"] for r in v] for k, v in figures.items()}
    for name, values in rps.items():
        print(f"{name}: min {min(values):.0f} / median {statistics.median(values):.0f} / "
              f"max {max(values):.0f} ops/s")
    for name, runs in figures.items():
        cpu = [r["cpu_us_per_op"] for r in runs]
        print(f"{name}: server CPU min {min(cpu):.1f} / median {statistics.median(cpu):.1f} / "
              f"max {max(cpu):.1f} µs/op")
    ratio = statistics.median(rps["candidate"]) / statistics.median(rps["base"])
    print(f"candidate / base (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
