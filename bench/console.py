#!/usr/bin/env python3
"""The console's weight and speed (issue 13): the bytes of the first page
(sign-in page, stylesheet, script; gzip-compressed and raw), the first and
the folder page's load in headless Chromium (navigation timing:
domInteractive, loadEventEnd), and the server time of a folder page of a
folder of `--entries` entries (default 1,000,000; loadgen on one
connection, first page and a later page by keyset, name order and size
order), beside ListDentries of the same folder (the API call it wraps) as
the baseline measured in the same run.

    python3 bench/console.py --orgdrive BIN --loadgen BIN [--entries 1000000] [--requests 300]

Needs the release binaries (bench/run.sh builds them), Chromium, chromedriver
and Selenium (the test command installs them). Prints one JSON line per
measurement and a summary.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import log  # noqa: E402

PASSWORD = "bench console password"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, cookie=None, data=None):
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers, answer.read()


def sign_in(base, union_id):
    form = urllib.parse.urlencode({"kind": "person", "union_id": union_id, "password": PASSWORD}).encode()
    status, headers, _ = fetch(f"{base}/console/sign-in", data=form)
    assert status == 303, status
    return headers.get("Set-Cookie").split(";")[0]


def browser_timing(base, cookie_value, paths):
    """domInteractive and loadEventEnd (ms) of each path in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    try:
        driver.get(f"{base}/console/sign-in")
        driver.add_cookie({"name": "orgdrive_session", "value": cookie_value, "path": "/console"})
        timings = {}
        for label, path in paths:
            driver.get(base + path)
            t = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return {interactive: n.domInteractive, load: n.loadEventEnd,"
                " transferred: n.transferSize};")
            timings[label] = {k: round(v, 1) for k, v in t.items()}
        return timings
    finally:
        driver.quit()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgdrive", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=300)
    a = ap.parse_args()
    h = harness.Harness.for_script(a.orgdrive, a.loadgen)
    results = {}
    try:
        data = os.path.join(h.work, "big-folder")
        log(f"building a folder of {a.entries} entries through orgdrive-sqlite")
        b = h.loadgen("build-folder", "--data-dir", data, "--entries", a.entries, timeout=3600)
        subprocess.run([a.orgdrive, "admin", "user", "passwd", "--data-dir", data,
                        "--corp-id", b["corpId"], b["unionId"]],
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        od = h.start_orgdrive(data, "orgdrive")
        base = od.base
        cookie = sign_in(base, b["unionId"])

        # The first page's weight: what a browser fetches to show the sign-in page.
        weight = {}
        for name, path in (("sign-in", "/console/sign-in"), ("css", "/console/assets/console.css"),
                           ("js", "/console/assets/console.js")):
            status, _, body = fetch(base + path)
            assert status == 200, (path, status)
            weight[name] = {"bytes": len(body), "gzip_bytes": len(gzip.compress(body, 9))}
        total = sum(w["bytes"] for w in weight.values())
        print(json.dumps({"bench": "console.first_page_weight", **weight, "total_bytes": total}))
        results["first_page_bytes"] = total

        folder = f"/console/spaces/{b['spaceId']}?folder={b['folderId']}"
        status, _, page = fetch(base + folder, cookie)
        assert status == 200 and page.count(b"<tr data-name=") == 50, (status, page[:300])
        later = re.search(rb'class="next" href="([^"]+)"', page).group(1).decode().replace("&amp;", "&")
        status, _, page2 = fetch(base + later, cookie)
        assert status == 200 and page2.count(b"<tr data-name=") == 50, status

        token = h.token(base, b["appKey"], b["appSecret"])
        api = (f"{base}/v1.0/storage/spaces/{b['spaceId']}/dentries?parentId={b['folderId']}"
               f"&maxResults=50&unionId={b['unionId']}")
        loads = [
            ("console.folder_page.first", base + folder, f"Cookie: {cookie}"),
            ("console.folder_page.later", base + later, f"Cookie: {cookie}"),
            ("console.folder_page.by_size", base + folder + "&order_by=size&order=desc", f"Cookie: {cookie}"),
            ("api.list_dentries.first", api, f"x-acs-dingtalk-access-token: {token}"),
        ]
        for name, url, header in loads:
            res = h.loadgen("http", "--url", url, "--header", header, "--connections", 1,
                            "--requests", a.requests, "--warmup", 0.5)
            print(json.dumps({"bench": name, "entries": a.entries, **res}))
            results[name] = res
        timing = browser_timing(base, cookie.split("=", 1)[1],
                                [("sign-in", "/console/sign-in"), ("folder", folder)])
        print(json.dumps({"bench": "console.browser_timing", **timing}))
        results["browser"] = timing
        h.stop(od)
    finally:
        h.cleanup()
    first, api_first = results["console.folder_page.first"], results["api.list_dentries.first"]
    print(json.dumps({
        "summary": "console",
        "entries": a.entries,
        "first_page_bytes": results["first_page_bytes"],
        "folder_page_p50_ms": first["p50_ms"], "folder_page_p99_ms": first["p99_ms"],
        "later_page_p99_ms": results["console.folder_page.later"]["p99_ms"],
        "by_size_p99_ms": results["console.folder_page.by_size"]["p99_ms"],
        "list_dentries_p50_ms": api_first["p50_ms"],
        "folder_page_vs_list_dentries_p50": round(first["p50_ms"] / api_first["p50_ms"], 2),
        "browser": results["browser"],
    }))


if __name__ == "__main__":
    main()
