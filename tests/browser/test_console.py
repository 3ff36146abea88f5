"""The web console in a real browser: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver, against the real binary.

Each test writes a screenshot of every page it visits under
$ORGDRIVE_SCREENSHOTS (default: tests/browser/screenshots/, next to the
results), named by test and step.
"""

import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from images import png  # noqa: E402
from orgdrive_server import OrgdriveServer, call_json, http_json, provision  # noqa: E402

SHOTS = Path(os.environ.get("ORGDRIVE_SCREENSHOTS", ROOT / "tests" / "browser" / "screenshots"))
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = OrgdriveServer(tmp_path_factory.mktemp("console") / "data", ["--journal", "500"]).start()
    yield server
    server.stop()


def browser(lang="en-US"):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900", f"--lang={lang}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    return driver


class Person:
    """A browser signed in (or not yet) to the console, taking screenshots."""

    def __init__(self, server, name, lang="en-US"):
        self.server, self.name, self.step = server, name, 0
        self.driver = browser(lang)
        self.wait = WebDriverWait(self.driver, 20)

    def close(self):
        self.driver.quit()

    def shot(self, label):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.step += 1
        self.driver.save_screenshot(str(SHOTS / f"{self.name}-{self.step:02d}-{label}.png"))

    def open(self, path):
        self.driver.get(self.server.base_url + path)

    def find(self, css):
        return self.wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, css)))

    def sign_in(self, union_id, password):
        self.open("/console/sign-in")
        self.shot("sign-in")
        form = self.find("#sign-in-person")
        form.find_element(By.NAME, "union_id").send_keys(union_id)
        form.find_element(By.NAME, "password").send_keys(password)
        form.find_element(By.CSS_SELECTOR, "button").click()
        self.wait.until(lambda d: "/console/spaces" in d.current_url)

    def row(self, name):
        return self.find(f'tr[data-name="{name}"]')

    def row_or_state(self, name):
        """The row of `name` once an upload has brought it, or a failure
        that shows where the uploads stand."""
        try:
            return self.row(name)
        except Exception as error:
            raise AssertionError(f"no row {name}: {upload_state(self)}") from error


def make_space(server, tenant, name):
    """A USER space of the tenant's user, made through the API."""
    reply = call_json("POST", f"{server.base_url}/v1.0/storage/spaces?unionId={tenant.union_id}",
                      {"option": {"name": name}},
                      {"x-acs-dingtalk-access-token": tenant.token})
    return reply["space"]["id"]


def set_password(server, corp_id, union_id):
    server.admin.call("PUT", f"/orgs/{corp_id}/users/{union_id}/password", {"password": PASSWORD})


def test_a_person_uploads_browses_renames_deletes_restores_and_shares(server, tmp_path):
    ann_tenant = provision(server.base_url, server.admin)
    space_id = make_space(server, ann_tenant, "Team files")
    set_password(server, ann_tenant.corp_id, ann_tenant.union_id)
    bo = server.admin.create_user(ann_tenant.corp_id, name="Bo", org_admin=False)["unionId"]
    set_password(server, ann_tenant.corp_id, bo)

    ann = Person(server, "person")
    try:
        ann.sign_in(ann_tenant.union_id, PASSWORD)
        ann.find(f'a[href="/console/spaces/{space_id}"]')
        ann.shot("spaces")
        ann.open(f"/console/spaces/{space_id}")
        ann.find("#upload-input")
        ann.shot("empty-folder")

        # A 20 MiB upload, throttled to 8 MiB/s so that its progress shows.
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(20 << 20))
        ann.driver.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                          upload_throughput=8 << 20)
        ann.find("#upload-input").send_keys(str(big))
        seen = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and 100 not in seen:
            values = ann.driver.execute_script(
                "return Array.from(document.querySelectorAll('progress.file-progress'))"
                ".map(p => p.value)") or []
            if not values and seen:
                break  # done: the page reloaded with the new file
            moving_now = [v for v in values if 0 < v < 100]
            if moving_now and not any(0 < v < 100 for v in seen):
                ann.shot("uploading")
            seen.update(round(v) for v in values)
            time.sleep(0.05)
        moving = sorted(v for v in seen if 0 < v < 100)
        assert len(moving) >= 3, f"the progress bar moved through {moving}: {upload_state(ann)}"
        ann.driver.delete_network_conditions()
        ann.row_or_state("big.bin")
        assert "20.0 MiB" in ann.row("big.bin").text
        ann.shot("uploaded")

        # Browse: a folder, into it and back.
        form = ann.find('form[action$="/folders"]')
        form.find_element(By.NAME, "name").send_keys("Reports")
        form.find_element(By.CSS_SELECTOR, "button").click()
        ann.row("Reports").find_element(By.CSS_SELECTOR, "a.folder").click()
        ann.wait.until(lambda d: "folder=" in d.current_url)
        assert "/Reports" in ann.find("p.path").text
        ann.shot("subfolder")
        ann.open(f"/console/spaces/{space_id}")

        # Rename.
        rename = ann.row("big.bin").find_element(By.CSS_SELECTOR, "form.rename")
        field = rename.find_element(By.NAME, "new_name")
        field.clear()
        field.send_keys("renamed.bin")
        rename.find_element(By.CSS_SELECTOR, "button").click()
        ann.row("renamed.bin")
        ann.shot("renamed")

        # Delete -> recycle bin -> restore.
        ann.row("renamed.bin").find_element(By.CSS_SELECTOR, "form.delete button").click()
        ann.wait.until(ready.alert_is_present()).accept()
        ann.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-name="renamed.bin"]'))
        ann.open(f"/console/spaces/{space_id}/bin")
        ann.row("renamed.bin").find_element(By.CSS_SELECTOR, "button").click()
        ann.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-name="renamed.bin"]'))
        ann.shot("restored")
        ann.open(f"/console/spaces/{space_id}")
        ann.row("renamed.bin")

        # Share the space with Bo as a READER.
        ann.find("details.share summary").click()
        share = ann.find("#share")
        share.find_element(By.NAME, "member_id").send_keys(bo)
        share.find_element(By.CSS_SELECTOR, 'select[name="role_id"] option[value="READER"]').click()
        ann.shot("share")
        share.find_element(By.CSS_SELECTOR, "button").click()
        # The grant is made once the form's answer has replaced the page
        # (the browser must not close before).
        ann.wait.until(ready.staleness_of(share))
        ann.row("renamed.bin")
    finally:
        ann.close()

    other = Person(server, "reader")
    try:
        other.sign_in(bo, PASSWORD)
        other.find(f'a[href="/console/spaces/{space_id}"]').click()
        other.row("renamed.bin")
        other.shot("reader-sees-the-file")
        other.row("renamed.bin").find_element(By.CSS_SELECTOR, "form.delete button").click()
        other.wait.until(ready.alert_is_present()).accept()
        error = other.find("p.error")
        assert "permissionDenied" in error.text, error.text
        other.shot("reader-cannot-delete")
        other.open(f"/console/spaces/{space_id}")
        other.row("renamed.bin")
    finally:
        other.close()


def digest_in_browser(person, href):
    """SHA-256 of what the browser downloads from a console link."""
    return person.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.arrayBuffer())"
        ".then(b => crypto.subtle.digest('SHA-256', b)).then(h => done(Array.from(new Uint8Array(h))"
        ".map(x => x.toString(16).padStart(2, '0')).join('')), e => done('failed: ' + e));",
        href)


def upload_state(person):
    return person.driver.execute_script(
        "const memo = Object.keys(localStorage).filter(k => k.startsWith('orgdrive-upload:'))"
        ".map(k => JSON.parse(localStorage.getItem(k)));"
        "return {memo, bars: Array.from(document.querySelectorAll('progress.file-progress'), p => p.value),"
        "labels: Array.from(document.querySelectorAll('#upload-list li'), li => li.textContent)};")


def test_an_upload_in_parts_survives_a_dropped_connection_and_resumes_after_a_reload(server, tmp_path):
    """Parts of 1 MiB (the page's 8 MiB lowered by the test) at 2 MiB/s:
    the connection drops for two seconds mid-upload and the upload carries
    on by itself; a second upload is cut by a reload, and choosing the same
    file again sends only the parts that were missing. Both files arrive
    byte for byte."""
    tenant = provision(server.base_url, server.admin)
    space_id = make_space(server, tenant, "Resumes")
    set_password(server, tenant.corp_id, tenant.union_id)
    ann = Person(server, "resume")
    part = 1 << 20
    lower_part_size = f"document.getElementById('upload').dataset.partSize = '{part}'"
    try:
        ann.sign_in(tenant.union_id, PASSWORD)
        ann.open(f"/console/spaces/{space_id}")
        ann.find("#upload-input")
        ann.driver.execute_script(lower_part_size)
        first = tmp_path / "dropped.bin"
        first.write_bytes(os.urandom(8 * part + 12345))
        ann.driver.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                          upload_throughput=2 << 20)
        ann.find("#upload-input").send_keys(str(first))
        ann.wait.until(lambda d: any(len(m["done"]) >= 2 for m in upload_state(ann)["memo"]))
        ann.driver.set_network_conditions(offline=True, latency=0, download_throughput=0,
                                          upload_throughput=0)
        ann.wait.until(lambda d: any("Connection lost" in label for label in upload_state(ann)["labels"]))
        ann.shot("connection-lost")
        time.sleep(2)
        ann.driver.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                          upload_throughput=2 << 20)
        ann.row_or_state("dropped.bin")  # committed; the page reloaded
        assert upload_state(ann)["memo"] == [], "a committed upload is forgotten"
        href = ann.row("dropped.bin").find_element(By.CSS_SELECTOR, "a.download").get_attribute("href")
        assert digest_in_browser(ann, href) == hashlib.sha256(first.read_bytes()).hexdigest()

        # Cut by a reload after some parts, then chosen again: it resumes.
        second = tmp_path / "resumed.bin"
        second.write_bytes(os.urandom(10 * part))
        ann.driver.execute_script(lower_part_size)
        ann.driver.set_network_conditions(offline=False, latency=0, download_throughput=-1,
                                          upload_throughput=1 << 20)
        ann.find("#upload-input").send_keys(str(second))
        ann.wait.until(lambda d: any(len(m["done"]) >= 4 for m in upload_state(ann)["memo"]))
        ann.driver.refresh()
        ann.find("#upload-input")
        [memo] = upload_state(ann)["memo"]
        resumed_from = len(memo["done"]) * 100 / 10
        assert not ann.driver.find_elements(By.CSS_SELECTOR, 'tr[data-name="resumed.bin"]')
        ann.driver.execute_script(lower_part_size)
        ann.find("#upload-input").send_keys(str(second))
        first_seen = None
        deadline = time.monotonic() + 30
        while first_seen is None and time.monotonic() < deadline:
            bars = [v for v in upload_state(ann)["bars"] if v > 0]
            first_seen = bars[0] if bars else None
        assert first_seen is not None and first_seen >= resumed_from, (first_seen, resumed_from)
        ann.row_or_state("resumed.bin")
        ann.driver.delete_network_conditions()
        href = ann.row("resumed.bin").find_element(By.CSS_SELECTOR, "a.download").get_attribute("href")
        assert digest_in_browser(ann, href) == hashlib.sha256(second.read_bytes()).hexdigest()
        ann.shot("resumed")
    finally:
        ann.close()


def test_a_folder_tree_uploads_with_its_folders(server, tmp_path):
    """The folder picker: a tree with a nested folder lands as folders and
    files, and choosing it again merges into the folders already there."""
    tenant = provision(server.base_url, server.admin)
    space_id = make_space(server, tenant, "Trees")
    set_password(server, tenant.corp_id, tenant.union_id)
    tree = tmp_path / "album"
    (tree / "2026" / "winter").mkdir(parents=True)
    (tree / "cover.txt").write_text("cover")
    (tree / "2026" / "winter" / "snow.txt").write_text("snow")
    ann = Person(server, "folder-upload")
    try:
        ann.sign_in(tenant.union_id, PASSWORD)
        ann.open(f"/console/spaces/{space_id}")
        ann.find("#upload-folder-input").send_keys(str(tree))
        ann.row("album").find_element(By.CSS_SELECTOR, "a.folder").click()
        ann.row("cover.txt")
        ann.row("2026").find_element(By.CSS_SELECTOR, "a.folder").click()
        ann.row("winter").find_element(By.CSS_SELECTOR, "a.folder").click()
        href = ann.row("snow.txt").find_element(By.CSS_SELECTOR, "a.download").get_attribute("href")
        assert digest_in_browser(ann, href) == hashlib.sha256(b"snow").hexdigest()
        ann.shot("tree")
        ann.open(f"/console/spaces/{space_id}")
        ann.driver.execute_script("window.beforeTheUpload = true")
        ann.find("#upload-folder-input").send_keys(str(tree))
        ann.wait.until(lambda d: d.execute_script("return !window.beforeTheUpload"))  # reloaded
        names = [r.get_attribute("data-name") for r in ann.driver.find_elements(By.CSS_SELECTOR, "tr[data-name]")]
        assert names == ["album"], names
    finally:
        ann.close()


def test_an_image_shows_its_thumbnail_and_a_move_target_is_picked_by_browsing(server, tmp_path):
    tenant = provision(server.base_url, server.admin)
    space_id = make_space(server, tenant, "Pictures")
    set_password(server, tenant.corp_id, tenant.union_id)
    picture = tmp_path / "sunset.png"
    picture.write_bytes(png(640, 360))
    ann = Person(server, "thumbnail")
    try:
        ann.sign_in(tenant.union_id, PASSWORD)
        ann.open(f"/console/spaces/{space_id}")
        form = ann.find('form[action$="/folders"]')
        form.find_element(By.NAME, "name").send_keys("Album")
        form.find_element(By.CSS_SELECTOR, "button").click()
        ann.row("Album")
        ann.find("#upload-input").send_keys(str(picture))
        ann.row_or_state("sunset.png")
        # Made in the background after the commit: shown once ready, and
        # loaded by the browser under the console's Content-Security-Policy.
        deadline = time.monotonic() + 20
        loaded = 0
        while time.monotonic() < deadline and not loaded:
            ann.open(f"/console/spaces/{space_id}")
            loaded = ann.driver.execute_script(
                "const img = document.querySelector('tr[data-name=\"sunset.png\"] img.thumbnail');"
                "if (!img) return 0;"
                "return img.decode().then(() => img.naturalWidth, () => -1);")
            if not loaded:
                time.sleep(0.3)
        assert loaded == 256, f"the thumbnail, 256 px wide, was not shown: {loaded}"
        ann.shot("thumbnail")

        # Move the picture into Album, picking the folder by browsing.
        row = ann.row("sunset.png")
        row.find_element(By.CSS_SELECTOR, "details.relocate summary").click()
        row.find_element(By.CSS_SELECTOR, "a.pick").click()
        ann.find('li[data-name="Album"] a.folder').click()
        ann.wait.until(lambda d: d.find_element(By.ID, "browsed").text == "/Album")
        ann.shot("pick-target")
        ann.find("#pick-here button").click()
        ann.wait.until(lambda d: "folder=" in d.current_url)
        assert "/Album" in ann.find("p.path").text
        ann.row("sunset.png")
    finally:
        ann.close()


def test_an_operator_creates_an_app_and_both_languages_render(server):
    tenant = provision(server.base_url, server.admin)
    operator = Person(server, "operator")
    try:
        operator.open("/console/sign-in")
        form = operator.find("#sign-in-operator")
        form.find_element(By.NAME, "token").send_keys(server.admin_token)
        form.find_element(By.CSS_SELECTOR, "button").click()
        operator.find(f'a[href="/console/admin/orgs/{tenant.corp_id}"]').click()
        operator.shot("org")
        create = operator.find("#create-app")
        create.find_element(By.NAME, "name").send_keys("Made in a browser")
        create.find_element(By.CSS_SELECTOR, "button").click()
        key = operator.find("#app-key").text
        secret = operator.find("#app-secret").text
        operator.shot("app-created")
        token = call_json("POST", f"{server.base_url}/v1.0/oauth2/accessToken",
                          {"appKey": key, "appSecret": secret})["accessToken"]
        assert token
        # The request journal: the token fetched just now (never its secret), and
        # a call with the token, shown with its app.
        status = http_json("POST", f"{server.base_url}/v1.0/storage/spaces?unionId=nobody", {},
                           {"x-acs-dingtalk-access-token": token})[0]
        assert status == 403
        operator.open("/console/admin")
        operator.find("#journal-link").click()
        journal = operator.find("#journal").text
        assert "GetAccessToken" in journal and "permissionDenied" in journal and key in journal, journal[:2000]
        assert secret not in journal and token not in journal
        operator.shot("journal")
        # The switch: Chinese, then back.
        operator.find("header a.lang").click()
        operator.wait.until(lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN")
        assert "组织" in operator.find("header").text
        operator.shot("operator-zh")
    finally:
        operator.close()

    for lang, expected in (("zh-CN", "登录"), ("en-US", "Sign in")):
        visitor = Person(server, f"sign-in-{lang}", lang=lang)
        try:
            visitor.open("/console/sign-in")
            heading = visitor.find("h1").text
            assert heading == expected, heading
            visitor.shot("page")
        finally:
            visitor.close()
