"""GetWebOfficeUrl / RefreshWebOfficeToken (README "WebOffice (WOPI)") through
the SDK, and the WOPI host they point at: the URL is the configured WOPI
client's with WOPISrc and an access token that the WOPI endpoints accept;
refresh tokens rotate (a rotated one is refused and revokes its session);
tokens expire; a server without a WOPI client answers webOfficeNotConfigured."""

import os
import subprocess
import urllib.parse

import pytest

from conftest import get_token, provision, start_server
from drive import Drive
from helpers import expect_error
from orgdrive_server import http_json

CLIENT = "https://office.example/browser/x/cool.html?"


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    """A server of this module's own, with a WOPI client configured."""
    root = tmp_path_factory.mktemp("weboffice")
    srv = start_server(root, ["--wopi-client-url", CLIENT, "--allow-clock-control"])
    yield srv
    srv.stop()


def wopi(src, token, tail="", method="GET", headers=None, body=None):
    """A WOPI request to `src` (the WOPISrc) with `token`: (status, headers, body)."""
    url = f"{src}{tail}?access_token={urllib.parse.quote(token)}"
    return http_json(method, url, body, headers)


def parse(url):
    """(WOPISrc, access_token) of a webOfficeUrl, checking its shape."""
    assert url.startswith(CLIENT), url
    query = urllib.parse.parse_qs(url[len(CLIENT):], strict_parsing=True)
    assert set(query) == {"WOPISrc", "access_token", "access_token_ttl"}, query
    return query["WOPISrc"][0], query["access_token"][0]


def advance_clock(server, seconds):
    status, _, body = http_json("POST", f"{server.admin_base_url}/admin/v1/clock/advance",
                                {"seconds": seconds},
                                {"Authorization": f"Bearer {server.admin_token}"})
    assert status == 200, body


def test_the_url_leads_to_the_wopi_host(office):
    d = Drive(office, provision(office))
    file_id = d.upload(b"draft one", "plan.docx").id
    body = d.web_office_url(file_id)
    src, token = parse(body.web_office_url)
    assert src == f"{office.base_url}/wopi/files/{file_id}"
    assert token == body.web_office_access_token
    assert len(body.web_office_refresh_token) >= 43 and body.web_office_refresh_token != token

    status, _, info = wopi(src, token)
    assert status == 200, info
    assert (info["BaseFileName"], info["Size"], info["Version"]) == ("plan.docx", 9, "1")
    assert (info["UserId"], info["UserCanWrite"], info["SupportsLocks"]) == (d.uid, True, True)
    assert wopi(src, token, "/contents")[::2] == (200, b"draft one")

    # Lock, save, unlock: a new version, visible through the SDK.
    lock = {"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "session-1"}
    assert wopi(src, token, method="POST", headers=lock, body=b"")[0] == 200
    put = {"X-WOPI-Override": "PUT", "X-WOPI-Lock": "session-1"}
    status, headers, _ = wopi(src, token, "/contents", "POST", put, b"draft two")
    assert status == 200 and headers["X-WOPI-ItemVersion"] == "2"
    assert d.download(file_id)[2] == b"draft two"
    assert [v.version for v in d.versions(file_id).dentries] == [1]
    unlock = {"X-WOPI-Override": "UNLOCK", "X-WOPI-Lock": "session-1"}
    assert wopi(src, token, method="POST", headers=unlock, body=b"")[0] == 200
    # Saving without the lock now: refused, X-WOPI-Lock empty.
    status, headers, _ = wopi(src, token, "/contents", "POST", {"X-WOPI-Override": "PUT"}, b"x")
    assert (status, headers["X-WOPI-Lock"]) == (409, "")

    # The token is for this file only.
    other = d.upload(b"other", "other.docx").id
    assert wopi(f"{office.base_url}/wopi/files/{other}", token)[0] == 401
    assert wopi(src, "forged-token")[0] == 401


def test_refresh_tokens_rotate(office):
    d = Drive(office, provision(office))
    file_id = d.upload(b"text", "a.docx").id
    first = d.web_office_url(file_id)
    src, a1 = parse(first.web_office_url)
    r1 = first.web_office_refresh_token

    second = d.refresh_web_office(file_id, a1, r1)
    a2, r2 = second.web_office_access_token, second.web_office_refresh_token
    assert len({a1, a2, r1, r2}) == 4
    assert wopi(src, a2)[0] == 200
    # The new refresh token works (once); the old one is refused ...
    third = d.refresh_web_office(file_id, a2, r2)
    a3, r3 = third.web_office_access_token, third.web_office_refresh_token
    assert wopi(src, a3)[0] == 200
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id, a1, r1)
    # ... and its replay revoked the whole session.
    assert wopi(src, a3)[0] == 401
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id, a3, r3)


def test_validation(office):
    tenant = provision(office)
    d = Drive(office, tenant)
    file_id = d.upload(b"text", "a.docx").id
    folder = d.add_folder("docs").id
    body = d.web_office_url(file_id)
    a, r = body.web_office_access_token, body.web_office_refresh_token
    expect_error(400, "paramError.dentryId", d.web_office_url, folder)
    expect_error(400, "paramError.dentryId", d.web_office_url, "9999999")
    expect_error(400, "paramError.webOfficeAccessToken", d.refresh_web_office, file_id, None, r)
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id, a, None)
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id, a, "nope")
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id, r, a)
    # A pair is bound to its file and operator.
    other = d.upload(b"other", "b.docx").id
    expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, other, a, r)
    second_user = provision(office, corp_id=tenant.corp_id)
    stranger = Drive(office, second_user, space_id=d.space_id)
    expect_error(400, "paramError.webOfficeRefreshToken", stranger.refresh_web_office, file_id, a, r)
    # The pair still works for its owner (refusals changed nothing).
    assert d.refresh_web_office(file_id, a, r).web_office_access_token
    # Another org's space does not exist for the caller.
    outsider = Drive(office, provision(office), space_id=d.space_id)
    expect_error(400, "paramError.spaceId", outsider.web_office_url, file_id)


def test_tokens_expire(tmp_path):
    srv = start_server(tmp_path, ["--wopi-client-url", CLIENT, "--allow-clock-control"])
    try:
        d = Drive(srv, provision(srv))
        file_id = d.upload(b"text", "a.docx").id
        body = d.web_office_url(file_id)
        src, access = parse(body.web_office_url)
        advance_clock(srv, 31 * 60)
        assert wopi(src, access)[0] == 401, "access tokens live 30 minutes"
        fresh = d.refresh_web_office(file_id, access, body.web_office_refresh_token)
        assert wopi(src, fresh.web_office_access_token)[0] == 200
        advance_clock(srv, 25 * 3600)
        t = d.tenant  # the app's own access token expired too: a new one
        d.tenant = type(t)(**{**t.__dict__, "token": get_token(srv, t.app_key, t.app_secret).access_token})
        expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id,
                     fresh.web_office_access_token, fresh.web_office_refresh_token)
    finally:
        srv.stop()


def test_without_a_wopi_client(server, tenant):
    """The suite's shared server runs without --wopi-client-url."""
    d = Drive(server, tenant)
    file_id = d.upload(b"text", "a.docx").id
    err = expect_error(400, "webOfficeNotConfigured", d.web_office_url, file_id)
    assert "--wopi-client-url" in err.message
    expect_error(400, "webOfficeNotConfigured", d.refresh_web_office, file_id, "a", "b")
    # The WOPI host has nothing to offer either.
    assert http_json("GET", f"{server.base_url}/wopi/files/{file_id}?access_token=a")[0] == 401


@pytest.mark.parametrize("url", ["ftp://office.example/", "office.example/cool.html",
                                 "https://office.example/a b", "https://office.example/#x"])
def test_a_bad_client_url_stops_the_start(tmp_path, url):
    done = subprocess.run(
        [os.environ["ORGDRIVE_BIN"], "serve", "--ephemeral", "--listen", "127.0.0.1:0",
         "--wopi-client-url", url],
        capture_output=True, text=True, timeout=30)
    assert done.returncode != 0, done.stdout
    assert "wopi-client-url" in done.stderr, done.stderr


def test_tokens_never_reach_the_log(tmp_path):
    """At the most verbose log level, no WebOffice token (nor the WOPI URL's
    query) is written, whatever the request does."""
    srv = start_server(tmp_path, ["--wopi-client-url", CLIENT], env={"ORGDRIVE_LOG": "trace"})
    try:
        d = Drive(srv, provision(srv))
        file_id = d.upload(b"secret plans", "plan.docx").id
        body = d.web_office_url(file_id)
        src, access = parse(body.web_office_url)
        refresh = body.web_office_refresh_token
        assert wopi(src, access)[0] == 200
        lock = {"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}
        assert wopi(src, access, method="POST", headers=lock, body=b"")[0] == 200
        put = {"X-WOPI-Override": "PUT", "X-WOPI-Lock": "L"}
        assert wopi(src, access, "/contents", "POST", put, b"new plans")[0] == 200
        assert wopi(src, access + "x")[0] == 401
        fresh = d.refresh_web_office(file_id, access, refresh)
        expect_error(400, "paramError.webOfficeRefreshToken", d.refresh_web_office, file_id,
                     access, refresh)
    finally:
        srv.stop()
    log = (tmp_path / "server.log").read_text()
    assert "/wopi/files/" in log, "the requests were logged"
    for secret in (access, refresh, fresh.web_office_access_token, fresh.web_office_refresh_token):
        assert secret not in log


def test_open_info_edit_opens_the_wopi_client_unless_a_link_is_registered(office):
    d = Drive(office, provision(office))
    file_id = d.upload(b"draft one", "plan.docx").id
    d.upload(b"draft two", "plan.docx", conflict="OVERWRITE")
    body = d.open_info(file_id, type="EDIT")
    src, token = parse(body.url)
    assert src == f"{office.base_url}/wopi/files/{file_id}" and body.has_water_mark is False
    status, _, info = wopi(src, token)
    assert status == 200 and info["BaseFileName"] == "plan.docx", info
    # The current content only: a history version is reverted, not edited.
    expect_error(400, "paramError.version", d.open_info, file_id, type="EDIT", version=1)
    # A registered edit link comes first, as registered.
    d.register_open_info(file_id, "DINGTALK", ("EDIT", "https://edit.example/f/1"))
    assert d.open_info(file_id, type="EDIT").url == "https://edit.example/f/1"


def test_an_app_without_file_write_gets_a_read_only_editor(office):
    owner = provision(office)
    d = Drive(office, owner)
    file_id = d.upload(b"draft one", "plan.docx").id
    reader_app = provision(office, scopes=["Storage.File.Read", "Storage.Space.Read"],
                           corp_id=owner.corp_id, union_id=owner.union_id)
    src, token = parse(Drive(office, reader_app, space_id=d.space_id).web_office_url(file_id)
                       .web_office_url)
    status, _, info = wopi(src, token)
    assert status == 200 and info["UserCanWrite"] is False, info
    # Locking or saving is refused as for a user who may not write (404), and nothing changes.
    lock = {"X-WOPI-Override": "LOCK", "X-WOPI-Lock": "L"}
    assert wopi(src, token, method="POST", headers=lock, body=b"")[0] == 404
    put = {"X-WOPI-Override": "PUT", "X-WOPI-Lock": "L"}
    assert wopi(src, token, "/contents", "POST", put, b"overwritten")[0] == 404
    assert d.download(file_id)[2] == b"draft one"


def test_a_deleted_users_tokens_die_with_them_even_if_the_union_id_comes_back(office):
    owner = provision(office)
    d = Drive(office, owner)
    file_id = d.upload(b"draft one", "plan.docx").id
    union_id = "reused-" + os.urandom(4).hex()
    office.admin.create_user(owner.corp_id, name="First", org_admin=True, union_id=union_id)
    first = provision(office, corp_id=owner.corp_id, union_id=union_id)
    src, token = parse(Drive(office, first, space_id=d.space_id).web_office_url(file_id)
                       .web_office_url)
    assert wopi(src, token)[0] == 200
    office.admin.delete_user(owner.corp_id, union_id)
    assert wopi(src, token)[0] == 401
    office.admin.create_user(owner.corp_id, name="Second", org_admin=True, union_id=union_id)
    assert wopi(src, token)[0] == 401, "another person with the same unionId"
