"""GetAccessToken through the official oauth2_1_0 client; what makes a token
stop working (expiry, a deleted user or app)."""

import pytest
import hashlib
import sqlite3
import time
from pathlib import Path

from alibabacloud_dingtalk.oauth2_1_0 import models as oauth2_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuth2Client
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, config, get_token, provision, runtime, start_server, storage_client
from helpers import expect_error, expect_http_error
from orgdrive_server import http_json


def test_get_access_token_returns_a_token_valid_7200_seconds(server, tenant, client):
    body = get_token(server, tenant.app_key, tenant.app_secret)
    assert body.expire_in == 7200
    assert len(body.access_token) >= 32
    # The token fetched while the first is valid is the same, and works.
    assert body.access_token == tenant.token
    for token in (body.access_token,):
        reply = client.get_current_app_with_options(
            m.GetCurrentAppRequest(union_id=tenant.union_id),
            tenant.headers(m.GetCurrentAppHeaders, token), runtime())
        assert reply.body.app.app_id == tenant.app_id


def test_bad_credentials_are_refused(server, tenant):
    oauth2 = OAuth2Client(config(server))
    bad = oauth2_models.GetAccessTokenRequest(app_key=tenant.app_key, app_secret="not-the-secret")
    expect_error(400, "InvalidAuthentication", oauth2.get_access_token, bad)
    unknown = oauth2_models.GetAccessTokenRequest(app_key="no-such-app", app_secret=tenant.app_secret)
    expect_error(400, "InvalidAuthentication", oauth2.get_access_token, unknown)
    missing = oauth2_models.GetAccessTokenRequest(app_key=tenant.app_key)
    expect_error(400, "paramError.appSecret", oauth2.get_access_token, missing)


def current_app(client, tenant, token=None, union_id=None):
    return client.get_current_app_with_options(
        m.GetCurrentAppRequest(union_id=union_id or tenant.union_id),
        tenant.headers(m.GetCurrentAppHeaders, token), runtime()).body.app


@pytest.mark.embedded
def test_fetching_again_while_valid_returns_the_same_token_and_extends_it(server, tenant, client):
    before = token_expiry(server.data_dir, tenant.token)
    time.sleep(0.05)
    tokens = [get_token(server, tenant.app_key, tenant.app_secret) for _ in range(3)]
    assert {t.access_token for t in tokens} == {tenant.token}
    assert all(t.expire_in == 7200 for t in tokens)
    assert len(tenant.token) == 32 and tenant.token.isalnum(), tenant.token
    assert token_expiry(server.data_dir, tenant.token) > before, "its life was extended"
    assert current_app(client, tenant).app_id == tenant.app_id


def token_expiry(data_dir, token):
    db = sqlite3.connect(Path(data_dir) / "meta.sqlite", timeout=10)
    try:
        row = db.execute("SELECT expires_at FROM access_tokens WHERE token_hash = ?",
                         (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
    finally:
        db.close()
    assert row, "the token is not where the test expects it (schema changed?)"
    return row[0]


def set_token_expiry(data_dir, token, expires_at_ms):
    """No flag or admin call shortens a token's 7200 s, and the server's clock
    cannot be moved: the test rewrites the token's expiry where the server keeps
    it (meta.sqlite, `access_tokens`: SHA-256 hex of the token, expiry in ms),
    exactly as time passing would leave it."""
    db = sqlite3.connect(Path(data_dir) / "meta.sqlite", timeout=10)
    try:
        with db:
            changed = db.execute("UPDATE access_tokens SET expires_at = ? WHERE token_hash = ?",
                                 (expires_at_ms, hashlib.sha256(token.encode()).hexdigest())).rowcount
    finally:
        db.close()
    assert changed == 1, "the token is not where the test expects it (schema changed?)"


@pytest.mark.embedded
def test_expired_tokens_are_refused(tmp_path):
    server = start_server(tmp_path)
    try:
        tenant = provision(server)
        client = storage_client(server)
        # A token that expired before it was ever used.
        stale = get_token(server, tenant.app_key, tenant.app_secret).access_token
        set_token_expiry(server.data_dir, stale, int(time.time() * 1000) - 1000)
        expect_error(400, "InvalidAuthentication", current_app, client, tenant, stale)
        expect_error(400, "InvalidAuthentication", add_space, client, tenant, token=stale)
        expect_http_error(400, "InvalidAuthentication", http_json(
            "POST", f"{server.base_url}/v1.0/storage/currentApps/query?unionId={tenant.union_id}", None,
            {"x-acs-dingtalk-access-token": stale}))
        # After expiry, fetching gives a new token.
        short = get_token(server, tenant.app_key, tenant.app_secret).access_token
        assert short != stale
        # A token used (and so cached) while valid stops at its expiry, cache or not.
        expires_at = int(time.time() * 1000) + 2000
        set_token_expiry(server.data_dir, short, expires_at)
        assert current_app(client, tenant, short).app_id == tenant.app_id
        assert add_space(client, tenant, token=short).body.space.id
        time.sleep(max(0.0, expires_at / 1000 - time.time()) + 0.2)
        expect_error(400, "InvalidAuthentication", current_app, client, tenant, short)
        expect_error(400, "InvalidAuthentication", add_space, client, tenant, token=short)
        fresh = get_token(server, tenant.app_key, tenant.app_secret).access_token
        assert fresh not in (stale, short)
        assert current_app(client, tenant, fresh).app_id == tenant.app_id
    finally:
        server.stop()


def test_a_deleted_user_or_app_stops_at_once(server, client, make_tenant):
    tenant = make_tenant()
    bob = server.admin.create_user(tenant.corp_id, name="Bob", org_admin=False)["unionId"]
    other_app = make_tenant(corp_id=tenant.corp_id, union_id=tenant.union_id)
    bobs = m.AddSpaceRequestOption(scene_id="bob")
    # Warm every cache: each caller has just been seen.
    for _ in range(2):
        assert add_space(client, tenant, bobs, union_id=bob).body.space.creator_id == bob
        assert current_app(client, tenant, union_id=bob).app_id == tenant.app_id
        assert current_app(client, other_app).app_id == other_app.app_id
    server.admin.delete_user(tenant.corp_id, bob)
    expect_error(403, "permissionDenied", add_space, client, tenant, bobs, union_id=bob)
    expect_error(403, "permissionDenied", current_app, client, tenant, union_id=bob)
    assert add_space(client, tenant).body.space.creator_id == tenant.union_id, "others go on"
    server.admin.delete_app(other_app.corp_id, other_app.app_id)
    expect_error(400, "InvalidAuthentication", current_app, client, other_app)
    oauth2 = OAuth2Client(config(server))
    expect_error(400, "InvalidAuthentication", oauth2.get_access_token, oauth2_models.GetAccessTokenRequest(
        app_key=other_app.app_key, app_secret=other_app.app_secret))
    assert current_app(client, tenant).app_id == tenant.app_id
    # A deleted org (one without spaces) takes its apps' tokens along.
    lone = make_tenant()
    assert current_app(client, lone).app_id == lone.app_id
    server.admin.delete_org(lone.corp_id)
    expect_error(400, "InvalidAuthentication", current_app, client, lone)
