#!/usr/bin/env python3
"""Profiles orgdrive under one of the harness's loads, for the "Analysis" of
bench/RESULTS.md.

    python3 bench/perf_profile.py --orgdrive BIN --loadgen BIN SCENARIO... [--connections 64] [--duration 8]

SCENARIO: getspace getdentry listdentries download4k addfolder uploadcycle
upload-big download-big list1m (list1m builds a 1,000,000-entry folder first;
--entries to change).

For each scenario, on a fresh orgdrive (fresh data dir, default durability):
  1. `perf stat` of the server's syscalls (tracepoints), context switches and
     CPU time over one load phase, divided by the operations loadgen counted;
  2. `perf record -e cpu-clock --call-graph dwarf` of the server over a second
     load phase, reported flat (self time by symbol) and inclusive (children)
     for orgdrive's own crates, rusqlite/SQLite, hyper/axum and serde.
Writes bench/results/profiles/SCENARIO.txt (and prints it). Needs `perf`
(Debian linux-perf); hardware counters are not needed (cpu-clock sampling).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SYSCALLS = ["fsync", "fdatasync", "write", "writev", "pwrite64", "read", "pread64", "recvfrom", "sendto",
            "futex", "epoll_wait", "openat", "close", "renameat2", "rename", "newfstatat", "statx", "lseek",
            "sched_yield", "io_uring_enter", "fallocate", "ftruncate", "mkdirat", "unlinkat"]
HOT = ("orgdrive_", "rusqlite", "sqlite3", "serde_json", "md5", "sha2", "opendal", "writev", "fsync", "fdatasync")
# generic frames that enclose everything
SKIP = ("serve::{{closure}}", "serve::{async_fn", "tokio::runtime", "hyper::proto", "Oneshot", "RouteFuture",
        "std::thread", "from_fn::", "tower::", "catch_unwind", "__rust_begin_short_backtrace")


# CPU categories of a sample. First the whole stack is searched for STACK rules
# (in order); otherwise the frames are walked from the leaf up and the first
# frame matching a LEAF rule decides.
STACK = [
    ("fsync (kernel, incl. the I/O it waits on)", r"^(do_fsync|__x64_sys_fsync|__x64_sys_fdatasync)$"),
    ("MD5 of uploaded bytes", r"md5::"),
]
LEAF = [
    ("scheduler: context switches, wakeups, futex", r"^(finish_task_switch|__schedule|schedule$|schedule_|_raw_spin_unlock_irqrestore|_raw_spin_unlock_irq$|try_to_wake_up|futex_|__futex|do_futex|ttwu_|select_task_rq|enqueue_task|dequeue_task|irqentry_exit_to_user_mode|__wake_up)"),
    ("allocator (malloc/free)", r"^(malloc|_int_malloc|_int_free|cfree|free$|realloc|_int_realloc|malloc_consolidate|unlink_chunk|__libc_malloc|__GI___libc_free|__GI___libc_malloc|__GI___libc_realloc|tcache_)"),
    ("SQLite engine (C)", r"^(sqlite3|wal[A-Z]|pcache|btree|vdbe|pager[A-Z]|unixRead|unixWrite|seekAndWrite|robust_|memjrnl|subjournal|balance|moveToChild|getAndInitPage|insertCell|dropCell|fillInCell|computeCellSize|rehash|findCell|accessPayload)"),
    ("rusqlite driver (row copies, statement cache)", r"rusqlite::"),
    ("JSON (serde_json)", r"serde_json|serde_path_to_error"),
    ("ext4/VFS: file create, open, stat, read, write, rename", r"^(ext4_|__ext4|find_get_block|recently_deleted|find_inode_bit|filemap_|vfs_|do_filp_open|path_|link_path_walk|d_alloc|do_renameat|generic_perform_write|iowrite16|mark_buffer_dirty|__block_commit_write|do_sys_openat|do_statx|__x64_sys_openat|__x64_sys_statx|__x64_sys_rename|__x64_sys_unlink|__x64_sys_close|__fput|dput|__d_lookup|lookup_|walk_component|rwsem_spin_on_owner|down_write|up_write|ext4_)"),
    ("network: TCP send/recv, loopback softirq", r"^(tcp_|__tcp|sock_|__sys_recvfrom|__sys_sendto|do_writev|ip_|__ip|__netif|net_rx|process_backlog|skb_|__skb|kfree_skb|inet_|__inet|__dev_queue|loopback|__napi|handle_softirqs|__local_bh|__release_sock|release_sock|lock_sock)"),
    ("syscall entry/exit", r"^(do_syscall_64|entry_SYSCALL|syscall_exit|syscall$|__x64_sys|syscall_return|__GI___writev|__libc_recv|__GI___libc_write|__libc_pwrite|__GI___libc_read)"),
    ("memcpy/memmove/memcmp (user and kernel copies)", r"memmove|memcpy|memset|memcmp|^_copy_to_iter|^_copy_from_iter|^copy_folio|^copy_user|^rep_movs"),
    ("HTTP (hyper, axum, tower, http)", r"^<?(hyper|axum|tower|http::|httparse|http_body)"),
    ("hashing/signing (sha2, hmac)", r"sha2::|hmac::"),
    ("tokio runtime", r"^<?tokio"),
    ("orgdrive code", r"orgdrive"),
]


def categorize(data):
    """Shares of the samples in `data` per category (see STACK and LEAF)."""
    import re
    stack_rules = [(c, re.compile(r)) for c, r in STACK]
    leaf_rules = [(c, re.compile(r)) for c, r in LEAF]
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym", "--no-inline"],
                         capture_output=True, text=True).stdout
    counts, total = {}, 0
    for block in out.split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        if len(lines) < 2:
            continue
        frames = [ln.split(None, 1)[1] if " " in ln else "" for ln in lines[1:]]
        cat = None
        for c, rx in stack_rules:
            if any(rx.search(f) for f in frames):
                cat = c
                break
        if cat is None:
            for f in frames:
                for c, rx in leaf_rules:
                    if rx.search(f):
                        cat = c
                        break
                if cat:
                    break
        cat = cat or "other"
        counts[cat] = counts.get(cat, 0) + 1
        total += 1
    return [(c, n * 100.0 / total) for c, n in sorted(counts.items(), key=lambda kv: -kv[1])] if total else []


def available_events():
    out = subprocess.run(["perf", "list", "tracepoint"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip().startswith("syscalls:")}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="+")
    p.add_argument("--orgdrive", required=True)
    p.add_argument("--loadgen", required=True)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--freq", type=int, default=499, help="samples/s of perf record")
    p.add_argument("--big-mib", type=int, default=1024)
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--out", default=os.path.join(harness.HERE, "results", "profiles"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    events = available_events()
    for sc in a.scenarios:
        text = profile(a, sc, events)
        with open(os.path.join(a.out, f"{sc}.txt"), "w") as f:
            f.write(text)
        print(text)


def profile(a, sc, events):
    args = types.SimpleNamespace(quick=True, duration=a.duration, big_mib=a.big_mib, entries=a.entries,
                                 raw=os.devnull, keep=False, loadgen=a.loadgen, orgdrive=a.orgdrive,
                                 tree_entries=10_000, tree_subfolders=100)
    h = harness.Harness(args)
    h.duration, h.warmup = a.duration, 0.0
    try:
        return _profile(a, sc, events, h)
    finally:
        h.cleanup()


def _profile(a, sc, events, h):
    c = a.connections
    nbytes = a.big_mib * 1024 * 1024
    big = os.path.join(h.work, "big.bin")
    if sc == "list1m":
        h.entries = a.entries
        h.build_big()
        od = h.start_orgdrive(h.bigdir)
        b = h.big_info
        tok = h.token(od.base, b["appKey"], b["appSecret"])
        url = (f"{od.base}/v1.0/storage/spaces/{b['spaceId']}/dentries?parentId={b['folderId']}"
               f"&maxResults=50&unionId={b['unionId']}")
        c = 1
        argv = ["http", "--url", url, "--header", f"x-acs-dingtalk-access-token: {tok}"]
    else:
        od = h.start_orgdrive(os.path.join(h.work, "data"))
        st = h.provision(od.base)
        sp = f"/v1.0/storage/spaces/{st['spaceId']}"
        u = st["unionId"]
        auth = ["--header", f"x-acs-dingtalk-access-token: {st['token']}"]
        small = h.upload_small(st, "small.bin", os.urandom(4096))
        folder = h.api(st, "POST", f"{sp}/dentries/0/folders", {"name": "list"})["dentry"]["id"]
        h.loadgen("upload-cycle", *h.auth_args(st), "--parent-id", folder, "--prefix", "item", "--size", 4096,
                  "--connections", 4, "--requests", 60)
        if sc == "getspace":
            argv = ["http", "--url", f"{od.base}{sp}?unionId={u}", *auth]
        elif sc == "getdentry":
            argv = ["http", "--url", f"{od.base}{sp}/dentries/{small['id']}/query?unionId={u}", "--method", "POST",
                    "--body", "{}", "--header", "content-type: application/json", *auth]
        elif sc == "listdentries":
            argv = ["http", "--url", f"{od.base}{sp}/dentries?parentId={folder}&maxResults=50&unionId={u}", *auth]
        elif sc == "download4k":
            url, headers = h.download_info(st, small["id"])
            argv = ["http", "--url", url, *[x for hd in headers for x in ("--header", hd)]]
        elif sc == "addfolder":
            argv = ["add-folder", *h.auth_args(st)]
        elif sc == "uploadcycle":
            argv = ["upload-cycle", *h.auth_args(st), "--size", 4096]
        elif sc in ("upload-big", "download-big"):
            subprocess.run(["head", "-c", str(nbytes), "/dev/urandom"], stdout=open(big, "wb"), check=True)
            subprocess.run(["sync"])
            argv = None
        else:
            raise SystemExit(f"unknown scenario {sc}")

    def load_phase():
        """One load phase; returns (operations, loadgen result or transfer seconds)."""
        if argv is not None:
            res = h.loadgen(*argv, "--connections", c, "--duration", a.duration)
            return res["ok_all"], res
        info = h.api(st, "POST", f"{sp}/files/uploadInfos/query", {"protocol": "HEADER_SIGNATURE", "multipart": False})
        sig = info["headerSignatureInfo"]
        put_h = [x for k, v in (sig.get("headers") or {}).items() for x in ("-H", f"{k}: {v}")]
        if sc == "upload-big":
            code, secs, *_ = h.curl(["-X", "PUT", *put_h, "-T", big, sig["resourceUrls"][0]])
            h.api(st, "POST", f"{sp}/files/commit", {"uploadKey": info["uploadKey"], "name": f"big-{time.time()}.bin", "parentId": "0"})
            return 1, {"seconds": secs, "mbps": round(nbytes / 1e6 / secs, 1)}
        if not hasattr(h, "big_id"):
            code, secs, *_ = h.curl(["-X", "PUT", *put_h, "-T", big, sig["resourceUrls"][0]])
            h.big_id = h.api(st, "POST", f"{sp}/files/commit", {"uploadKey": info["uploadKey"], "name": "big.bin", "parentId": "0"})["dentry"]["id"]
            subprocess.run(["sync"])
        url, headers = h.download_info(st, h.big_id)
        code, secs, *_ = h.curl([*[x for hd in headers for x in ("-H", hd)], url])
        return 1, {"seconds": secs, "mbps": round(nbytes / 1e6 / secs, 1)}

    pid = od.pid
    # 1. syscall counts
    evs = ["raw_syscalls:sys_enter"] if "raw_syscalls:sys_enter" in events or True else []
    evs += [f"syscalls:sys_enter_{s}" for s in SYSCALLS if f"syscalls:sys_enter_{s}" in events]
    evs += ["context-switches", "cpu-migrations", "task-clock"]
    stat_file = os.path.join(h.work, "stat.csv")
    stat = subprocess.Popen(["perf", "stat", "-x,", "-o", stat_file, "-e", ",".join(evs), "-p", str(pid)],
                            stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    ops, res1 = load_phase()
    stat.send_signal(signal.SIGINT)
    stat.wait()
    counts = {}
    for line in open(stat_file):
        parts = line.strip().split(",")
        if len(parts) > 3 and not line.startswith("#"):
            try:
                counts[parts[2]] = float(parts[0])
            except ValueError:
                pass
    # 2. CPU profile
    data = os.path.join(h.work, "perf.data")
    rec = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(a.freq), "--call-graph", "dwarf,16384",
                            "-p", str(pid), "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    ops2, res2 = load_phase()
    rec.send_signal(signal.SIGINT)
    rec.wait()

    def report(*extra):
        out = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", *extra],
                             capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            if line.startswith("#") or "%" not in line:
                continue
            row = " ".join(line.split()).replace(" - -", "")
            rows.append(row if len(row) <= 220 else row[:217] + "...")
        return rows

    flat = report("--no-children", "--sort", "dso,symbol", "--percent-limit", "0.8")[:45]
    threads = report("--no-children", "--sort", "comm", "--percent-limit", "0.5")[:15]
    incl = [r for r in report("--children", "--sort", "symbol", "--percent-limit", "1.0")
            if any(k in r.split("[.]", 1)[-1] for k in HOT)
            and not any(k in r for k in SKIP)][:35]
    L = [f"# profile: {sc} ({c} connection(s), {a.duration} s per phase)", ""]
    L.append(f"load phase 1 (perf stat): {json.dumps({k: res1.get(k) for k in ('rps', 'p50_ms', 'p99_ms', 'mbps', 'seconds') if k in res1})}")
    L.append(f"load phase 2 (perf record): {json.dumps({k: res2.get(k) for k in ('rps', 'p50_ms', 'p99_ms', 'mbps', 'seconds') if k in res2})}")
    L.append("")
    L.append(f"## server events per operation (phase 1: {ops} operations)")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        if k == "task-clock":
            L.append(f"  CPU time (task-clock, ms→µs){v * 1e3 / max(ops, 1):10.1f} µs/op")
        elif v:
            L.append(f"  {k.replace('syscalls:sys_enter_', ''):28s}{v / max(ops, 1):10.2f} /op")
    L.append("")
    L.append("## CPU by thread name (orgdrive-sqlite-writer runs the writes; tokio-runtime-w* run HTTP, JSON, handlers and the reads)")
    L += ["  " + r for r in threads]
    L.append("")
    L.append("## CPU by category (perf script: stack searched for fsync/MD5, else the first recognised frame from the leaf)")
    L += [f"  {pct:5.1f}%  {cat}" for cat, pct in categorize(data)]
    L.append("")
    L.append("## self time by symbol (perf record -e cpu-clock, server process, all threads)")
    L += ["  " + r for r in flat]
    L.append("")
    L.append("## inclusive time (children) of orgdrive / rusqlite / sqlite / serde_json / hashing frames")
    L += ["  " + r for r in incl]
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
