"""Conformance suite harness: runs the real `orgdrive` binary and talks to it
through the official DingTalk Python SDK (alibabacloud-dingtalk), changing
nothing but the endpoint. Identities are provisioned through the admin API.

Starting, stopping and provisioning the server is tests/support/orgdrive_server.py,
shared with the other Python runners. The binary is taken from $ORGDRIVE_BIN
(the test command sets it)."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth2_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuth2Client
from alibabacloud_dingtalk.storage_1_0 import models as storage_models
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_gateway_dingtalk.client import Client as DingTalkGateway
from alibabacloud_tea_openapi import models as open_api_models
from Tea.exceptions import TeaException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import orgdrive_server  # noqa: E402
from orgdrive_server import ALL_SCOPES, OrgdriveServer, new_secret  # noqa: E402,F401

# The key under which an SDK error's data carries the HTTP response headers.
RESPONSE_HEADERS = "_responseHeaders"


def _observe_error_headers():
    """The SDK turns an error response into a TeaException whose data is the
    JSON body only. To check `x-acs-request-id` against the body's `requestid`,
    the DingTalk gateway's response hook is wrapped so that the exception's
    data also carries the response headers. Requests and the SDK's behaviour
    are unchanged: this only observes."""
    original = DingTalkGateway.modify_response
    if getattr(original, "_records_headers", False):
        return

    def modify_response(self, context, attribute_map):
        try:
            return original(self, context, attribute_map)
        except TeaException as e:
            if isinstance(e.data, dict):
                e.data[RESPONSE_HEADERS] = {
                    k.lower(): v for k, v in dict(context.response.headers or {}).items()}
            raise

    modify_response._records_headers = True
    DingTalkGateway.modify_response = modify_response


_observe_error_headers()


def start_server(tmp_path, extra_args=(), **kwargs):
    """A server of its own for one test, on `tmp_path/data`, logging to `tmp_path/server.log`."""
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    server = OrgdriveServer(tmp_path / "data", extra_args, stderr=tmp_path / "server.log", **kwargs)
    return server.start()


def restored_data_dir(root):
    """A data dir restored from a backup of the newest upgrade fixture
    (tests/upgrade/fixtures): so the whole suite runs on a drive that was
    migrated, backed up and restored, next to the fixture's own data."""
    import shutil
    import subprocess

    fixtures = Path(__file__).resolve().parents[1] / "upgrade" / "fixtures"
    source = root / "source"
    shutil.copytree(sorted(fixtures.iterdir())[-1] / "data", source)
    binary = orgdrive_server.default_binary()
    for args in (["backup", "--data-dir", source, "--to", root / "backup"],
                 ["restore", "--from", root / "backup", "--data-dir", root / "data"]):
        done = subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"orgdrive {args[0]} failed: {done.stderr}"
    return root / "data"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    # No --admin-token: the suite uses the one the server keeps in DATA_DIR/admin.token.
    root = tmp_path_factory.mktemp("orgdrive")
    data = root / "data"
    if os.environ.get("ORGDRIVE_TEST_BACKEND") != "postgres+s3":
        data = restored_data_dir(root)
    srv = OrgdriveServer(data, stderr=root / "server.log")
    srv.start()
    yield srv
    srv.stop()


def config(server):
    return open_api_models.Config(protocol="http", endpoint=server.endpoint)


def storage_client(server):
    return StorageClient(config(server))


def get_token(server, app_key, app_secret):
    client = OAuth2Client(config(server))
    reply = client.get_access_token(
        oauth2_models.GetAccessTokenRequest(app_key=app_key, app_secret=app_secret))
    return reply.body


@dataclass
class Tenant(orgdrive_server.Tenant):
    def headers(self, cls, token=None):
        """An SDK headers object of class `cls` carrying this tenant's token."""
        h = cls()
        h.x_acs_dingtalk_access_token = self.token if token is None else token
        return h


def provision(server, scopes=ALL_SCOPES, capacity=None, corp_id=None, union_id=None, org_admin=True):
    """Creates an org (or uses `corp_id`; optionally with a capacity), an app
    with `scopes` and an org user (or uses `union_id`) through the admin API,
    and gets the app a token through the SDK."""
    base = orgdrive_server.provision(
        server.base_url, server.admin, scopes, capacity, corp_id=corp_id, union_id=union_id,
        with_token=False, org_admin=org_admin, app_name="SDK suite app")
    token = get_token(server, base.app_key, base.app_secret).access_token
    return Tenant(**{**base.__dict__, "token": token})


@pytest.fixture
def make_tenant(server):
    def make(scopes=ALL_SCOPES, capacity=None, corp_id=None, union_id=None, org_admin=True):
        return provision(server, scopes, capacity, corp_id, union_id, org_admin)

    return make


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


@pytest.fixture
def client(server):
    return storage_client(server)


def add_space(client, tenant, option=None, union_id=None, token=None):
    request = storage_models.AddSpaceRequest(
        union_id=tenant.union_id if union_id is None else union_id, option=option)
    return client.add_space_with_options(
        request, tenant.headers(storage_models.AddSpaceHeaders, token), runtime())


def runtime():
    from alibabacloud_tea_util import models as util_models
    return util_models.RuntimeOptions()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "s3: needs the S3 server of scripts/s3.sh (ORGDRIVE_TEST_BLOB_URL); fails without it")
    config.addinivalue_line(
        "markers",
        "embedded: looks inside the embedded stores (meta.sqlite, DATA_DIR/blobs) or relies "
        "on orgdrive receiving the bytes (quota refused at the PUT, its own signed URLs and "
        "download headers, its clock for URL expiry); deselected with "
        "-m 'not embedded' when every server runs on PostgreSQL + S3")
