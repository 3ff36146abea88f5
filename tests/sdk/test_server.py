"""The server process and its flags (README "Configuration"): the admin token,
the demo account, --public-url, --signing-key, --durability relaxed,
--ephemeral, graceful shutdown on SIGTERM. Each test runs a server of its own."""

import os
import stat
import time
from pathlib import Path

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import (ALL_SCOPES, OrgdriveServer, add_space, get_token, new_secret, provision, runtime,
                      start_server, storage_client)
from drive import Drive, SlowPut, get, put
from helpers import expect_http_error
from orgdrive_server import http_json


def banner_value(server, label):
    values = [line.split(":", 1)[1].strip() for line in server.banner if line.strip().startswith(label + ":")]
    return values[0] if values else None


def test_generated_admin_token_is_kept_in_the_data_dir(tmp_path):
    server = start_server(tmp_path)
    try:
        token_file = Path(server.data_dir) / "admin.token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        assert len(token) >= 32 and server.admin_token == token
        assert any(token in line for line in server.banner), "a generated token is printed once"
        assert server.admin.list_orgs()
        wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # always another token
        status, headers, body = http_json("GET", f"{server.admin_base_url}/admin/v1/orgs", None,
                                          {"Authorization": "Bearer " + wrong})
        assert status in (401, 403) and body["code"] == "InvalidAuthentication"
        server.restart()
        assert token_file.read_text().strip() == token
        assert server.admin.list_orgs()
    finally:
        server.stop()


def test_admin_token_is_printed_only_when_generated(tmp_path):
    server = start_server(tmp_path / "generated")
    try:
        token = server.admin_token
        assert any(token in line for line in server.banner)
        server.restart()
        assert not any(token in line for line in server.banner), "a kept token is not printed again"
    finally:
        server.stop()
    given = new_secret()
    server = start_server(tmp_path / "given", admin_token=given)
    try:
        assert server.admin.list_orgs(), "the given token is the admin token"
        assert not any(given in line for line in server.banner), server.banner
    finally:
        server.stop()


def test_secrets_shorter_than_32_bytes_are_refused_at_start(tmp_path):
    for flag in ["--admin-token", "--signing-key"]:
        server = OrgdriveServer(tmp_path / flag.strip("-"), [flag, "x" * 31], stderr=tmp_path / "refused.log")
        with pytest.raises(RuntimeError, match="before it was ready"):
            try:
                server.start()
            finally:
                server.stop(check=False)  # if it did start
        assert server.exit_status not in (None, 0), f"{flag} of 31 bytes: exit {server.exit_status}"
    server = start_server(tmp_path, ["--admin-token", "a" * 32, "--signing-key", "k" * 32])
    try:
        assert server.admin_token == "a" * 32 and server.admin.list_orgs()
    finally:
        server.stop()


def test_first_start_creates_a_working_demo_account(tmp_path):
    server = start_server(tmp_path)
    try:
        corp_id, app_key = banner_value(server, "corpId"), banner_value(server, "appKey")
        app_secret, union_id = banner_value(server, "appSecret"), banner_value(server, "unionId")
        assert corp_id and app_key and app_secret and union_id, server.banner
        [app] = server.admin.list_apps(corp_id)
        assert app["scopes"] == list(ALL_SCOPES)
        token = get_token(server, app_key, app_secret).access_token
        client = storage_client(server)
        request = m.AddSpaceRequest(union_id=union_id)
        headers = m.AddSpaceHeaders()
        headers.x_acs_dingtalk_access_token = token
        assert client.add_space_with_options(request, headers, runtime()).body.space.corp_id == corp_id
        server.restart()
        assert banner_value(server, "corpId") is None, "the demo is made on the first start only"
        assert [o["corpId"] for o in server.admin.list_orgs()] == [corp_id]
    finally:
        server.stop()


def test_no_demo_creates_nothing(tmp_path):
    server = start_server(tmp_path, ["--no-demo"])
    try:
        assert server.admin.list_orgs() == []
        assert banner_value(server, "corpId") is None
    finally:
        server.stop()


def test_admin_api_on_its_own_listener(tmp_path):
    server = start_server(tmp_path, admin_listen=True)
    try:
        assert server.admin_base_url != server.base_url
        org = server.admin.create_org(name="on the admin listener")
        assert org["corpId"] in [o["corpId"] for o in server.admin.list_orgs()]
        # Not on the API listener.
        response = http_json("GET", f"{server.base_url}/admin/v1/orgs", None,
                             {"Authorization": f"Bearer {server.admin_token}"})
        expect_http_error(404, "resource.not.found", response)
        # The storage API is where it was.
        tenant = provision(server)
        assert add_space(storage_client(server), tenant).body.space.id
    finally:
        server.stop()


@pytest.mark.embedded
def test_public_url_is_the_base_of_signed_urls(tmp_path):
    public = "https://drive.example.test:8443"
    server = start_server(tmp_path, ["--public-url", public])
    try:
        d = Drive(server, provision(server))
        info = d.upload_info()
        url = info.header_signature_info.resource_urls[0]
        assert url.startswith(public + "/blob/"), url
        # The signature does not cover the base: through the real address it works.
        assert put(url.replace(public, server.base_url), {}, b"behind a proxy")[0] == 200
        f = d.commit(info.upload_key, "p.txt")
        down = d.download_info(f.id).header_signature_info.resource_urls[0]
        assert down.startswith(public + "/blob/"), down
        assert get(down.replace(public, server.base_url))[2] == b"behind a proxy"
        parts = d.part_urls(d.init_multipart().upload_key, [1])
        assert parts[1].resource_urls[0].startswith(public + "/blob/")
    finally:
        server.stop()


@pytest.mark.embedded
def test_signing_key_keeps_urls_valid_across_restarts(tmp_path):
    server = start_server(tmp_path)
    try:
        d = Drive(server, provision(server))
        f = d.upload(b"signed", "s.txt")
        # Default: the key kept in DATA_DIR/signing.key.
        kept = d.download_info(f.id).header_signature_info.resource_urls[0]
        server.restart()
        assert get(kept)[:3:2] == (200, b"signed")

        key, other = new_secret(), new_secret()
        server.restart(["--signing-key", key])
        down = d.download_info(f.id).header_signature_info.resource_urls[0]
        pending = d.upload_info()
        server.restart(["--signing-key", key])
        assert get(down)[:3:2] == (200, b"signed")
        assert put(pending.header_signature_info.resource_urls[0], {}, b"later")[0] == 200
        # Another key: every URL signed with the first is refused.
        server.restart(["--signing-key", other])
        expect_http_error(403, "signatureMismatch", get(down))
        expect_http_error(403, "signatureMismatch", put(pending.header_signature_info.resource_urls[0], {}, b"x"))
        server.restart(["--signing-key", key])
        assert get(down)[:3:2] == (200, b"signed")
        assert d.download(d.commit(pending.upload_key, "later.txt").id)[2] == b"later"
    finally:
        server.stop()


def test_relaxed_durability_serves_and_keeps_data_over_a_clean_restart(tmp_path):
    server = start_server(tmp_path, ["--durability", "relaxed"])
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        content = os.urandom(300_000)
        folder = d.add_folder("kept")
        f = d.upload(content, "r.bin", parent_id=folder.id)
        server.restart()
        d = Drive(server, tenant, d.space_id)
        assert d.get(f.id).path == "/kept/r.bin"
        assert d.download(f.id)[2] == content
        assert d.space().used_quota == len(content)
        server.stop()
        status, report = server.cli("fsck", check=False)
        assert status == 0, report
    finally:
        server.stop()


@pytest.mark.embedded
def test_sigterm_finishes_requests_in_flight(tmp_path):
    server = start_server(tmp_path)
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        info = d.upload_info()
        content = os.urandom(2 << 20)
        slow = SlowPut(info.header_signature_info.resource_urls[0], len(content))
        try:
            slow.send(content[:1 << 20])
            time.sleep(0.3)
            server.terminate()
            time.sleep(0.5)
            assert server.running, "the server waits for the request in flight"
            slow.send(content[1 << 20:])
            status, _, body = slow.finish()
        finally:
            slow.close()
        assert status == 200, body
        assert server.wait(timeout=30) == 0, "then it exits 0"
        server.start()
        f = Drive(server, tenant, d.space_id).commit(info.upload_key, "in-flight.bin", size=len(content))
        assert d.download(f.id)[2] == content
    finally:
        server.stop()


@pytest.mark.embedded
def test_ephemeral_data_dir_is_deleted_on_exit(tmp_path):
    server = OrgdriveServer(None, stderr=tmp_path / "server.log").start()
    try:
        data_dir = Path(server.data_dir)
        assert (data_dir / "meta.sqlite").exists()
        d = Drive(server, provision(server))
        assert d.download(d.upload(b"gone soon", "e.txt").id)[2] == b"gone soon"
    finally:
        server.stop()
    assert not data_dir.exists()
