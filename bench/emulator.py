#!/usr/bin/env python3
"""Emulator mode (issue 15): start-up with `--ephemeral --seed` and reset,
next to stopping and restarting the server on the same seed, in one run.

The seed: 10 orgs, each with 5 apps, 50 users and 10 spaces (50 apps, 500
users, 100 spaces in all; no files, no passwords).

    python3 bench/emulator.py --orgdrive BIN [--runs 10] [--resets 5]

- start-up: from spawning `orgdrive serve --ephemeral --seed FILE` to its
  banner's `ready in` line (the process's own figure is printed too);
- reset: `POST /admin/v1/reset` on that server after a test's worth of
  changes (a file in one space of each org), client-side wall time, five
  times per start (the first reset of a server is reported apart);
- restart: stopping the server (SIGTERM, until it exited) and starting it
  again on the same seed, until ready: what a test suite does without reset.

Release binary: `cargo build --release --bin orgdrive`. Prints one JSON line
per measurement and a markdown table of min / median / max.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from orgdrive_server import OrgdriveServer, call_json, get_access_token  # noqa: E402


def make_seed(orgs=10, apps=5, users=50, spaces=10):
    seed = {"orgs": []}
    for o in range(orgs):
        org = {"corpId": f"dingbench{o:02}", "name": f"Bench org {o}", "apps": [], "users": [],
               "spaces": []}
        for a in range(apps):
            org["apps"].append({"appKey": f"dingbench{o:02}app{a}",
                                "appSecret": f"bench-secret-{o:02}-{a}-0123456789abcdef"})
        for u in range(users):
            org["users"].append({"unionId": f"bench{o:02}u{u:03}", "name": f"User {u}"})
        for s in range(spaces):
            org["spaces"].append({"appKey": f"dingbench{o:02}app{s % apps}",
                                  "unionId": f"bench{o:02}u{s:03}", "scene": "bench",
                                  "sceneId": f"s{s}"})
        seed["orgs"].append(org)
    return seed


def ready_ms(server):
    line = next(l for l in server.banner if l.startswith("ready in"))
    return int(line.split()[2])


def change_something(server, seed):
    """What a test leaves behind: a file in one space of each org."""
    for org in seed["orgs"]:
        app, space = org["apps"][0], org["spaces"][0]
        token = get_access_token(server.base_url, app["appKey"], app["appSecret"])
        headers = {"x-acs-dingtalk-access-token": token}
        q = f"?unionId={space['unionId']}"
        sp = call_json("POST", f"{server.base_url}/v1.0/storage/spaces{q}",
                       {"option": {"scene": "bench", "sceneId": space["sceneId"]}}, headers)["space"]
        base = f"{server.base_url}/v1.0/storage/spaces/{sp['id']}"
        info = call_json("POST", f"{base}/files/uploadInfos/query{q}", {"protocol": "HEADER_SIGNATURE"},
                         headers)
        sig = info["headerSignatureInfo"]
        put = urllib.request.Request(sig["resourceUrls"][0], data=b"left by a test", method="PUT",
                                     headers=sig.get("headers") or {})
        urllib.request.urlopen(put).read()
        call_json("POST", f"{base}/files/commit{q}",
                  {"uploadKey": info["uploadKey"], "name": "left.txt", "parentId": "0"}, headers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgdrive", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--resets", type=int, default=5, help="change + reset cycles per start")
    args = parser.parse_args()
    figures = {}

    def record(what, ms):
        figures.setdefault(what, []).append(ms)
        print(json.dumps({"what": what, "ms": round(ms, 2)}), flush=True)

    with tempfile.TemporaryDirectory(prefix="orgdrive-emulator-bench-") as work:
        seed = make_seed()
        seed_file = Path(work) / "seed.json"
        seed_file.write_text(json.dumps(seed))
        server = OrgdriveServer(None, ["--seed", seed_file], binary=args.orgdrive,
                                stderr=Path(work) / "server.log")
        try:
            for _ in range(args.runs):
                t0 = time.monotonic()
                server.start()
                record("start-up: spawn to ready (client)", (time.monotonic() - t0) * 1000)
                record("start-up: ready in (server's own figure)", ready_ms(server))
                # A test suite resets between its tests: the first reset of a
                # server is reported apart (its statements are not cached yet).
                for i in range(args.resets):
                    change_something(server, seed)
                    t0 = time.monotonic()
                    answer = call_json("POST", f"{server.admin_base_url}/admin/v1/reset", None,
                                       {"Authorization": f"Bearer {server.admin_token}"})
                    what = "first reset after start (client)" if i == 0 else "reset (client)"
                    record(what, (time.monotonic() - t0) * 1000)
                    assert answer["spaces"] == 100, answer
                change_something(server, seed)
                t0 = time.monotonic()
                server.stop()
                server.start()
                record("stop and restart on the same seed (client)", (time.monotonic() - t0) * 1000)
                server.stop()
        finally:
            if server.running:
                server.stop(check=False)

    print()
    print("| measurement | ms (min / median / max) |")
    print("|---|---|")
    for what, xs in figures.items():
        print(f"| {what} | {min(xs):.1f} / {statistics.median(xs):.1f} / {max(xs):.1f} |")
    restart = statistics.median(figures["stop and restart on the same seed (client)"])
    reset = statistics.median(figures["reset (client)"])
    print(f"\nrestart ÷ reset (medians): {restart / reset:.1f}×")


if __name__ == "__main__":
    main()
