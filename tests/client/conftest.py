"""Harness of the `odc` client tests: a real orgdrive server (the binary of
$ORGDRIVE_BIN), a tenant provisioned through its admin API, and `odc` (the
binary of $ODC_BIN, default next to orgdrive) run as a user would run it,
with a config file of its own in a temporary HOME."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import orgdrive_server  # noqa: E402
from orgdrive_server import OrgdriveServer  # noqa: E402


def odc_binary():
    explicit = os.environ.get("ODC_BIN")
    if explicit:
        return explicit
    return str(Path(orgdrive_server.default_binary()).with_name("odc"))


class Odc:
    """Runs `odc` with a private config dir and the given profiles."""

    def __init__(self, home):
        self.home = Path(home)
        self.config = self.home / "config" / "client.json"

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ODC_")}
        env["HOME"] = str(self.home)
        env["ODC_CONFIG"] = str(self.config)
        env.update(extra or {})
        return env

    def add_profile(self, name, base_url, tenant, default=False):
        args = ["profile", "set", name, "--endpoint", base_url, "--app-key", tenant.app_key,
                "--union-id", tenant.union_id] + (["--default"] if default else [])
        self.ok(*args, input=tenant.app_secret + "\n")

    def run(self, *args, input=None, env=None, timeout=600, cwd=None):
        return subprocess.run([odc_binary(), "--quiet", *map(str, args)], capture_output=True,
                              text=True, input=input, env=self.env(env), timeout=timeout, cwd=cwd)

    def ok(self, *args, **kwargs):
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, f"odc {args} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def popen(self, *args, env=None):
        return subprocess.Popen([odc_binary(), "--quiet", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(env))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("orgdrive")
    srv = OrgdriveServer(root / "data", stderr=root / "server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def tenant(server):
    return orgdrive_server.provision(server.base_url, server.admin, with_token=False)


@pytest.fixture
def odc(tmp_path, server, tenant):
    """odc with profile `local` (the default) for `tenant`."""
    client = Odc(tmp_path / "home")
    client.add_profile("local", server.base_url, tenant, default=True)
    return client


@pytest.fixture
def space(odc):
    return odc.ok("spaces", "create", "--name", "tests").strip()


@pytest.fixture
def make_tenant_token(server):
    """An access token of a new app of `tenant`'s org holding `scopes`."""
    def make(tenant, scopes):
        app = server.admin.create_app(tenant.corp_id, scopes, name="scoped app")
        return orgdrive_server.get_access_token(server.base_url, app["appKey"], app["appSecret"])

    return make
