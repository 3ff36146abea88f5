"""Conformance suite harness: runs the real `orgdrive` binary and talks to it
through the official DingTalk Python SDK (alibabacloud-dingtalk), changing
nothing but the endpoint. Identities are provisioned through the admin API.

The binary is taken from $ORGDRIVE_BIN (the test command sets it)."""

import json
import os
import socket
import subprocess
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth2_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuth2Client
from alibabacloud_dingtalk.storage_1_0 import models as storage_models
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi import models as open_api_models

ADMIN_TOKEN = "sdk-suite-admin-token"
ALL_SCOPES = [
    "Storage.Space.Write", "Storage.Space.Read", "Storage.Org.Read", "Storage.File.Write",
    "Storage.File.Read", "Storage.UploadInfo.Read", "Storage.DownloadInfo.Read",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `orgdrive serve` process over a data dir; can be stopped and started again."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = str(data_dir)
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.process = None
        self.banner = []

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        binary = os.environ.get("ORGDRIVE_BIN", "orgdrive")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", self.endpoint, "--data-dir", self.data_dir,
             "--admin-token", ADMIN_TOKEN, *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.banner = []
        for line in self.process.stdout:
            self.banner.append(line.rstrip())
            if line.startswith("ready in"):
                return
        raise RuntimeError(f"orgdrive exited before it was ready: {self.banner}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            assert self.process.wait(timeout=10) == 0, "orgdrive must exit 0 on SIGTERM"
        self.process = None

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.endpoint}/admin/v1{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("orgdrive-data"))
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
class Tenant:
    corp_id: str
    app_id: str
    app_key: str
    app_secret: str
    union_id: str
    token: str

    def headers(self, cls, token=None):
        """An SDK headers object of class `cls` carrying this tenant's token."""
        h = cls()
        h.x_acs_dingtalk_access_token = self.token if token is None else token
        return h


def provision(server, scopes=ALL_SCOPES, capacity=None):
    """Creates an org (optionally with a capacity), an app with `scopes` and an
    org user through the admin API, and gets the app a token through the SDK."""
    org = server.admin("POST", "/orgs", {"name": f"org-{uuid.uuid4().hex[:6]}", "capacity": capacity})
    app = server.admin("POST", f"/orgs/{org['corpId']}/apps", {"name": "SDK suite app", "scopes": scopes})
    user = server.admin("POST", f"/orgs/{org['corpId']}/users", {"name": "Ann", "orgAdmin": True})
    token = get_token(server, app["appKey"], app["appSecret"]).access_token
    return Tenant(org["corpId"], app["appId"], app["appKey"], app["appSecret"], user["unionId"], token)


@pytest.fixture
def make_tenant(server):
    def make(scopes=ALL_SCOPES, capacity=None):
        return provision(server, scopes, capacity)

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
        request, tenant.headers(storage_models.AddSpaceHeaders, token), _runtime())


def _runtime():
    from alibabacloud_tea_util import models as util_models
    return util_models.RuntimeOptions()


def runtime():
    return _runtime()
