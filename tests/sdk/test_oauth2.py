"""GetAccessToken through the official oauth2_1_0 client."""

from alibabacloud_dingtalk.oauth2_1_0 import models as oauth2_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuth2Client
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import config, get_token, runtime
from helpers import expect_error


def test_get_access_token_returns_a_token_valid_7200_seconds(server, tenant, client):
    body = get_token(server, tenant.app_key, tenant.app_secret)
    assert body.expire_in == 7200
    assert len(body.access_token) >= 32
    # The new token works, and so does the earlier one.
    for token in (body.access_token, tenant.token):
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
