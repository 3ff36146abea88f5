"""Tests of an app against orgdrive through the official DingTalk Python SDK
(`pip install alibabacloud-dingtalk`), with the credentials of
examples/seed.json. Copy, then replace these with your app's own tests."""

import urllib.request

import pytest
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth2_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuth2Client
from alibabacloud_dingtalk.storage_1_0 import models as m
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import TeaException

APP_KEY, APP_SECRET = "dingciapp0001", "ci-app-secret-0001-change-me-for-real-use"
UNION_ID = "ci-alice"


@pytest.fixture
def storage(orgdrive):
    """(client, headers factory, spaceId) for the seeded space ci/shared."""
    config = open_api_models.Config(protocol="http", endpoint=orgdrive)
    token = OAuth2Client(config).get_access_token(oauth2_models.GetAccessTokenRequest(
        app_key=APP_KEY, app_secret=APP_SECRET)).body.access_token
    client = StorageClient(config)

    def headers(cls):
        h = cls()
        h.x_acs_dingtalk_access_token = token
        return h

    space = client.add_space_with_options(
        m.AddSpaceRequest(union_id=UNION_ID, option=m.AddSpaceRequestOption(scene="ci", scene_id="shared")),
        headers(m.AddSpaceHeaders), util_models.RuntimeOptions()).body.space
    return client, headers, space.id


def names(client, headers, space_id):
    listed = client.list_dentries_with_options(
        space_id, m.ListDentriesRequest(union_id=UNION_ID, parent_id="0"),
        headers(m.ListDentriesHeaders), util_models.RuntimeOptions()).body
    return sorted(d.name for d in listed.dentries)


def upload(client, headers, space_id, data, name):
    info = client.get_file_upload_info_with_options(
        space_id, m.GetFileUploadInfoRequest(union_id=UNION_ID, protocol="HEADER_SIGNATURE"),
        headers(m.GetFileUploadInfoHeaders), util_models.RuntimeOptions()).body
    sig = info.header_signature_info
    put = urllib.request.Request(sig.resource_urls[0], data=data, method="PUT", headers=sig.headers or {})
    urllib.request.urlopen(put).read()
    return client.commit_file_with_options(
        space_id, m.CommitFileRequest(union_id=UNION_ID, upload_key=info.upload_key, name=name, parent_id="0"),
        headers(m.CommitFileHeaders), util_models.RuntimeOptions()).body.dentry


def test_the_seeded_files_are_there(storage):
    assert names(*storage) == ["docs", "images"]


def test_an_upload_lands(storage):
    upload(*storage, b"report", "report.txt")
    assert names(*storage) == ["docs", "images", "report.txt"]


def test_each_test_starts_from_the_seed(storage):
    # The upload of the test before is gone: the autouse fixture reset the server.
    assert names(*storage) == ["docs", "images"]


def test_the_app_copes_with_a_timeout(storage, arm_fault):
    arm_fault(kind="error", operation="CommitFile", code="operationTimeout", count=1)
    with pytest.raises(TeaException) as caught:
        upload(*storage, b"first try", "retry.txt")
    assert caught.value.code == "operationTimeout" and caught.value.data["statusCode"] == 503
    upload(*storage, b"second try", "retry.txt")  # what the app's retry would do
    assert "retry.txt" in names(*storage)
