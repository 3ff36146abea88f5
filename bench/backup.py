#!/usr/bin/env python3
"""Backup benchmark (issue 12): `orgdrive backup` of a data dir holding many
small files and of one holding large files, full and incremental, next to
`cp -r` of the same data dir (the ceiling, measured in the same run), and
GetSpace's p99 while a backup runs against without.

    python3 bench/backup.py --orgdrive BIN --loadgen BIN [--files 100000] [--big-files 10] [--big-mib 1024]

Needs the release binaries (bench/run.sh builds them; `cargo build --release
--bin orgdrive`, `cargo build --release --manifest-path bench/loadgen/Cargo.toml`)
and room in $TMPDIR for three copies of the data (the data dir, the cp -r copy,
the backup): 10 x 1 GiB needs some 32 GiB. Prints one JSON line per figure and
a markdown table; writes nothing else. Page caches are not dropped: cp -r and
the backup read the same warm files.
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
from harness import log  # noqa: E402


def timed(argv):
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.monotonic() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{argv}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def du_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def settle():
    subprocess.run(["sync"])
    time.sleep(2)


def cp_ceiling(src, dest):
    """cp -r of the data dir, then sync (a backup ends durable too): seconds."""
    seconds, _ = timed(["sh", "-c", 'cp -r "$0" "$1" && sync', src, dest])
    return seconds


def upload_big(h, st, source, count):
    sp = f"/v1.0/storage/spaces/{st['spaceId']}"
    for i in range(count):
        info = h.api(st, "POST", f"{sp}/files/uploadInfos/query", {"protocol": "HEADER_SIGNATURE"})
        sig = info["headerSignatureInfo"]
        headers = [x for k, v in (sig.get("headers") or {}).items() for x in ("-H", f"{k}: {v}")]
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-T", source, *headers,
                        sig["resourceUrls"][0]], check=True)
        h.api(st, "POST", f"{sp}/files/commit", {"uploadKey": info["uploadKey"], "name": f"big-{i}", "parentId": "0"})


def one_dir(h, a, name, fill):
    """Fills a fresh data dir with `fill`, then measures backups of it."""
    data = os.path.join(h.work, f"data-{name}")
    od = h.start_orgdrive(data)
    st = h.provision(od.base)
    t0 = time.monotonic()
    fill(st)
    log(f"{name}: filled in {time.monotonic() - t0:.1f} s")
    subprocess.run(["sync"])
    size = du_bytes(data)
    out = {"set": name, "data_dir_bytes": size}
    target = os.path.join(h.work, f"backup-{name}")
    # Copies of a small data dir are kept until all are measured: ext4 makes
    # new files slowly right after many were deleted (it skips recently
    # freed inodes), so deleting one copy before making the next would slow
    # whichever comes next. A large data dir has few files (and no room).
    keep = size < 2 << 30
    cp, full, incremental, made = [], [], [], []
    for run in range(a.runs):
        # cp and the backup alternate, each after the disk settled: this
        # VM's disk is shared and its speed drifts within minutes.
        settle()
        copy = os.path.join(h.work, f"cp-{name}-{run}")
        cp.append(cp_ceiling(data, copy))
        made.append(copy)
        run_target = f"{target}-{run}"
        made.append(run_target)
        if not keep:
            for path in made[:-1]:
                shutil.rmtree(path, ignore_errors=True)
        settle()
        seconds, summary = timed([a.orgdrive, "backup", "--data-dir", data, "--to", run_target])
        full.append(seconds)
        summary = json.loads(summary.strip().splitlines()[-1])
        seconds, again = timed([a.orgdrive, "backup", "--data-dir", data, "--to", run_target])
        incremental.append(seconds)
        assert json.loads(again.strip().splitlines()[-1])["copied"] == 0
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
    out.update(objects=summary["objects"], object_bytes=summary["objectBytes"],
               cp_s=cp, full_s=full, incremental_s=incremental,
               full_mbps=[round(size / 1e6 / s, 1) for s in full],
               cp_mbps=[round(size / 1e6 / s, 1) for s in cp])
    if name == "small":
        # GetSpace p99 at 64 connections, without and during a full backup
        # (the measurement window is the backup's own duration).
        argv = h.getspace_load(st)
        quiet, during, loaded_s = [], [], []
        for run in range(a.runs):
            quiet.append(h.loadgen(*argv, "--duration", 10)["p99_ms"])
            shutil.rmtree(target, ignore_errors=True)
            res, (seconds, _) = h.loadgen(*argv, during=lambda: timed(
                [a.orgdrive, "backup", "--data-dir", data, "--to", target]))
            during.append(res["p99_ms"])
            loaded_s.append(round(seconds, 2))
        # The backup's seconds under that load (it yields to it: see pacing.rs).
        out.update(getspace_p99_ms=quiet, getspace_p99_during_backup_ms=during,
                   full_under_load_s=loaded_s)
    h.stop(od)
    shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return out


def med(values):
    return sorted(values)[len(values) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgdrive", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--files", type=int, default=100_000, help="4 KiB files of the small set")
    ap.add_argument("--big-files", type=int, default=10, help="files of the large set")
    ap.add_argument("--big-mib", type=int, default=1024, help="MiB per large file")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    h = harness.Harness.for_script(a.orgdrive, a.loadgen)
    results = []
    try:
        def small(st):
            h.loadgen("upload-cycle", *h.auth_args(st), "--size", 4096, "--connections", 16,
                      "--requests", a.files, timeout=3600)

        def big(st):
            source = os.path.join(h.work, "big.bin")
            with open(source, "wb") as f:
                for _ in range(a.big_mib):
                    f.write(os.urandom(1 << 20))
            upload_big(h, st, source, a.big_files)
            os.remove(source)

        results.append(one_dir(h, a, "small", small))
        if a.big_files:
            results.append(one_dir(h, a, "large", big))
    finally:
        h.cleanup()
    print()
    print("| data dir | objects | bytes | cp -r + sync (s) | full backup (s) | ratio (cp ÷ backup) | incremental, nothing new (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['set']} | {r['objects']:,} | {r['data_dir_bytes']:,} | {med(r['cp_s']):.2f} "
              f"| {med(r['full_s']):.2f} | {med(r['cp_s']) / med(r['full_s']):.2f}× "
              f"| {med(r['incremental_s']):.2f} |")
    small = results[0]
    print(f"\nGetSpace p99 (64 connections): {med(small['getspace_p99_ms'])} ms without, "
          f"{med(small['getspace_p99_during_backup_ms'])} ms during a full backup "
          f"(runs: {small['getspace_p99_ms']} / {small['getspace_p99_during_backup_ms']})")


if __name__ == "__main__":
    main()
