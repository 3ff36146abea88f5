"""One way for Python test code to run orgdrive and provision it.

Standard library only, so that every Python runner in the tree can use it
(the SDK conformance suite, schemathesis' provisioning, the crash test, the
benchmark harness) whatever virtualenv it runs in:

    sys.path.insert(0, str(REPO / "tests" / "support"))
    from orgdrive_server import OrgdriveServer, ALL_SCOPES

    with OrgdriveServer(tmp_dir / "data", extra_args=["--signed-url-ttl", "5"]) as server:
        tenant = server.provision()               # org + app (ALL_SCOPES) + user + token
        server.admin.call("GET", "/orgs")         # admin API, JSON in and out
        server.restart()                          # same port, same data dir
        server.kill()                             # SIGKILL (crash tests); start() again

What it does, once:
  * start `orgdrive serve` on a free loopback port over a data dir (or
    `--ephemeral` when no data dir is given) with extra arguments, and wait
    for the banner's `ready in` line (stdout is drained afterwards, so the pipe
    never fills; the lines are kept in `output`);
  * know the admin token: the one passed (`admin_token=`, sent as
    `--admin-token`), else the one the server keeps in `DATA_DIR/admin.token`
    (it is printed in the banner only when it was generated), else the
    banner's;
  * stop with SIGTERM and check the exit status is 0; restart on the same
    port; SIGKILL;
  * call the admin API (`AdminClient`, also usable on a server started by
    someone else) and provision an org + app + user + access token
    (`provision`).

Secrets (admin token, signing key) must be at least 32 characters:
`new_secret()` makes one.

With ORGDRIVE_TEST_BACKEND=postgres+s3, every server keeps its metadata in a
fresh PostgreSQL database (on the server of ORGDRIVE_TEST_PG_URL) and its
contents under a fresh prefix of the S3 bucket of ORGDRIVE_TEST_BLOB_URL
(scripts/postgres.sh and scripts/s3.sh start both), with a signing key of
its own; `meta=`, `blob=` and `signing_key=` choose them explicitly (two
nodes of one deployment share all three).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

# Every storage scope orgdrive knows, in reference order: what
# `orgdrive admin app create --all-scopes` grants (crates/orgdrive-core/src/scope.rs,
# `Scope::ALL`). The admin HTTP API has no "all scopes" switch (an app created
# without `scopes` gets none), so this is the one list the Python tests share;
# tests/sdk/test_scopes.py checks it against what the binary grants.
ALL_SCOPES = (
    "Storage.Space.Write",
    "Storage.Space.Read",
    "Storage.Org.Read",
    "Storage.File.Write",
    "Storage.File.Read",
    "Storage.UploadInfo.Read",
    "Storage.DownloadInfo.Read",
    "Storage.Permission.Write",
    "Storage.Permission.Read",
    "Storage.RecycleBin.Read",
    "Storage.RecycleBin.Write",
    "Storage.Task.Read",
    "Storage.Event.Write",
)

# Shortest admin token / signing key the server accepts.
MIN_SECRET_CHARS = 32


def new_secret():
    """A random secret fit for `--admin-token` / `--signing-key` (43 characters)."""
    return secrets.token_urlsafe(32)


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- HTTP ------------------------------------------------------------------

class HttpError(Exception):
    """A JSON call answered with status >= 400."""

    def __init__(self, method, url, status, headers, body):
        self.method, self.url, self.status, self.headers, self.body = method, url, status, headers, body
        super().__init__(f"{method} {url} -> {status}: {body}")

    @property
    def code(self):
        return self.body.get("code") if isinstance(self.body, dict) else None


def _decode(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def http_json(method, url, body=None, headers=None, timeout=30):
    """Sends `body` (JSON-encoded unless bytes/None) and returns
    (status, headers, decoded JSON body or raw bytes); never raises on a status."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if body is not None and not request.has_header("Content-type"):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, _decode(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, _decode(e.read())


def call_json(method, url, body=None, headers=None, timeout=30):
    """Like `http_json` but returns only the body and raises HttpError on >= 400."""
    status, response_headers, decoded = http_json(method, url, body, headers, timeout)
    if status >= 400:
        raise HttpError(method, url, status, response_headers, decoded)
    return decoded


class AdminClient:
    """The admin API (`/admin/v1`, bearer token) of a server at `base_url`."""

    def __init__(self, base_url, token):
        self.base_url, self.token = base_url.rstrip("/"), token

    def _headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def raw(self, method, path, body=None):
        """(status, headers, body) of an admin call, whatever the status."""
        return http_json(method, f"{self.base_url}/admin/v1{path}", body, self._headers())

    def call(self, method, path, body=None):
        """The decoded answer of an admin call; HttpError on >= 400."""
        return call_json(method, f"{self.base_url}/admin/v1{path}", body, self._headers())

    def create_org(self, name=None, capacity=None):
        body = {"name": name or f"org-{uuid.uuid4().hex[:8]}"}
        if capacity is not None:
            body["capacity"] = capacity
        return self.call("POST", "/orgs", body)

    def create_app(self, corp_id, scopes=ALL_SCOPES, name="test app", app_key=None, app_secret=None):
        body = {"name": name, "scopes": list(scopes)}
        if app_key is not None:
            body["appKey"] = app_key
        if app_secret is not None:
            body["appSecret"] = app_secret
        return self.call("POST", f"/orgs/{corp_id}/apps", body)

    def create_user(self, corp_id, name="Ann", org_admin=True, union_id=None):
        body = {"name": name, "orgAdmin": org_admin}
        if union_id is not None:
            body["unionId"] = union_id
        return self.call("POST", f"/orgs/{corp_id}/users", body)

    def list_orgs(self):
        return self.call("GET", "/orgs")["items"]

    def list_apps(self, corp_id):
        return self.call("GET", f"/orgs/{corp_id}/apps")["items"]

    def delete_org(self, corp_id):
        return self.call("DELETE", f"/orgs/{corp_id}")

    def delete_app(self, corp_id, app_id):
        return self.call("DELETE", f"/orgs/{corp_id}/apps/{app_id}")

    def delete_user(self, corp_id, union_id):
        return self.call("DELETE", f"/orgs/{corp_id}/users/{union_id}")


def get_access_token(base_url, app_key, app_secret):
    """GetAccessToken over plain HTTP: the token string."""
    body = call_json("POST", f"{base_url.rstrip('/')}/v1.0/oauth2/accessToken",
                     {"appKey": app_key, "appSecret": app_secret})
    return body["accessToken"]


@dataclass
class Tenant:
    """An org, one of its apps and one of its users, and an access token of the app."""

    corp_id: str
    app_id: str
    app_key: str
    app_secret: str
    union_id: str
    token: str | None = None
    scopes: tuple = ()


def provision(base_url, admin, scopes=ALL_SCOPES, capacity=None, corp_id=None, union_id=None,
              with_token=True, org_admin=True, app_name="test app", user_name="Ann"):
    """Creates what a storage client needs through the admin API: an org (or
    uses `corp_id`), an app holding `scopes`, a user (or uses `union_id`), and,
    with `with_token`, an access token of the app (GetAccessToken)."""
    if corp_id is None:
        corp_id = admin.create_org(capacity=capacity)["corpId"]
    app = admin.create_app(corp_id, scopes, name=app_name)
    if union_id is None:
        union_id = admin.create_user(corp_id, name=user_name, org_admin=org_admin)["unionId"]
    token = get_access_token(base_url, app["appKey"], app["appSecret"]) if with_token else None
    return Tenant(corp_id, app["appId"], app["appKey"], app["appSecret"], union_id, token,
                  tuple(app["scopes"]))


# ---- the server process ------------------------------------------------------

def default_binary():
    return os.environ.get("ORGDRIVE_BIN", "orgdrive")


def required_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: start the test services first "
            "(`export ORGDRIVE_TEST_PG_URL=$(bash scripts/postgres.sh)`, "
            "`eval \"$(bash scripts/s3.sh)\"`)")
    return value


def fresh_s3_prefix(blob_url):
    """`blob_url` (an s3:// --blob URL) with a root prefix of its own, so
    that servers sharing the bucket never see each other's objects."""
    root = "/t-" + uuid.uuid4().hex[:16]
    return blob_url + ("&" if "?" in blob_url else "?") + "root=" + root


# The databases this process created, by server URL: dropped when it exits
# (a local PostgreSQL kept every test's database, 16 MB each, until the
# disk filled).
_created_databases: dict[str, list[str]] = {}


def _drop_created_databases():
    for server_url, names in _created_databases.items():
        script = "".join(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);\n" for name in names)
        try:
            done = subprocess.run(["psql", "-q", server_url], input=script,
                                  capture_output=True, text=True, timeout=600)
            failed = done.returncode != 0 or "ERROR" in done.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            failed, done = True, e
        if failed:
            print(f"orgdrive_server: could not drop the test databases {names}: {done}")


def fresh_postgres_database(server_url):
    """Creates an empty database on the PostgreSQL server of `server_url`
    (a `postgres://user:password@host:port/db` URL whose role may create
    databases) with `psql`, and returns its URL. It is dropped when this
    process exits."""
    name = "od_" + uuid.uuid4().hex[:16]
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server_url, "-c",
                    f"CREATE DATABASE {name}"],
                   check=True, capture_output=True, text=True, timeout=60)
    if not _created_databases:
        atexit.register(_drop_created_databases)
    _created_databases.setdefault(server_url, []).append(name)
    base, _, query = server_url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base + ("?" + query if query else "")


class OrgdriveServer:
    """One `orgdrive serve` process on a loopback port; can be stopped, killed
    and started again on the same port and data dir.

    data_dir     the data dir; None runs with `--ephemeral` (its path is read
                 from the banner, so `data_dir` is known once started)
    extra_args   further `serve` arguments, for every start
    admin_token  passed as `--admin-token`; None: the server's own (read back
                 from DATA_DIR/admin.token after start)
    admin_listen give the admin API a listener of its own (`--admin-listen`
                 on a second free port); `admin` then talks to it
    env          extra environment variables for the process
    stderr       where the server's log goes: None (discarded), a path, or a
                 file object
    stdout_copy  optional path: every stdout line is also written there
    """

    def __init__(self, data_dir=None, extra_args=(), *, binary=None, admin_token=None, port=None,
                 host="127.0.0.1", admin_listen=False, env=None, stderr=None, stdout_copy=None,
                 ready_timeout=30, meta=None, blob=None, signing_key=None):
        self.binary = str(binary or default_binary())
        self.data_dir = None if data_dir is None else str(data_dir)
        self.ephemeral = data_dir is None
        self.extra_args = [str(a) for a in extra_args]
        self.given_admin_token = admin_token
        self.host = host
        self.port = port or free_port(host)
        self.admin_port = free_port(host) if admin_listen else None
        self.env = dict(env or {})
        self.stderr = stderr
        self.stdout_copy = stdout_copy
        self.ready_timeout = ready_timeout
        # Metadata on PostgreSQL: the URL given, else (with
        # ORGDRIVE_TEST_BACKEND=postgres+s3) a fresh database made at first
        # start. Contents on S3 likewise: `blob`, else a fresh prefix.
        self.meta = meta
        self.blob = blob
        # A shared metadata store needs the nodes' common signing key.
        self.signing_key = signing_key
        self.process = None
        self.output = []          # stdout lines of the current process
        self.banner = []          # stdout lines up to and including "ready in"
        self.admin_token = admin_token
        self.exit_status = None   # of the last process, once it exited
        self._stderr_file = None
        self._lines = None

    # -- addresses
    @property
    def endpoint(self):
        """host:port, the form the DingTalk SDK's `endpoint` takes."""
        return f"{self.host}:{self.port}"

    @property
    def base_url(self):
        return f"http://{self.endpoint}"

    @property
    def admin_base_url(self):
        port = self.admin_port or self.port
        return f"http://{self.host}:{port}"

    @property
    def admin(self):
        return AdminClient(self.admin_base_url, self.admin_token)

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    # -- life cycle
    def argv(self, extra_args=None):
        args = [self.binary, "serve", "--listen", self.endpoint]
        args += ["--ephemeral"] if self.ephemeral else ["--data-dir", self.data_dir]
        if os.environ.get("ORGDRIVE_TEST_BACKEND") == "postgres+s3":
            if self.meta is None:
                self.meta = fresh_postgres_database(required_env("ORGDRIVE_TEST_PG_URL"))
            if self.blob is None:
                self.blob = fresh_s3_prefix(required_env("ORGDRIVE_TEST_BLOB_URL"))
        extra = self.extra_args if extra_args is None else [str(a) for a in extra_args]
        if self.blob is not None and "--blob" not in extra:
            args += ["--blob", self.blob]
        if self.meta is not None:
            self.signing_key = self.signing_key or new_secret()
            args += ["--meta", self.meta]
            self.env.setdefault("ORGDRIVE_SIGNING_KEY", self.signing_key)
        if self.given_admin_token is not None:
            args += ["--admin-token", self.given_admin_token]
        if self.admin_port:
            args += ["--admin-listen", f"{self.host}:{self.admin_port}"]
        return args + (self.extra_args if extra_args is None else [str(a) for a in extra_args])

    def spawn(self, extra_args=None):
        """Starts the process without waiting for readiness (see `wait_ready`)."""
        assert not self.running, "already running"
        if self.stderr is None:
            err = subprocess.DEVNULL
        elif isinstance(self.stderr, (str, os.PathLike)):
            self._stderr_file = open(self.stderr, "a")
            err = self._stderr_file
        else:
            err = self.stderr
        self.output, self.banner = [], []
        self._lines = queue.Queue()
        self.process = subprocess.Popen(
            self.argv(extra_args), stdout=subprocess.PIPE, stderr=err, text=True,
            env={**os.environ, **self.env})
        threading.Thread(target=self._drain, args=(self.process, self._lines, self.output),
                         daemon=True).start()
        return self.process

    def _drain(self, process, lines, output):
        copy = open(self.stdout_copy, "a") if self.stdout_copy else None
        try:
            for line in process.stdout:
                line = line.rstrip("\n")
                output.append(line)
                if copy:
                    copy.write(line + "\n")
                    copy.flush()
                lines.put(line)
        finally:
            lines.put(None)
            if copy:
                copy.close()

    def wait_ready(self):
        """Waits for the banner's `ready in` line; RuntimeError if the process
        exits first or the time runs out."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"orgdrive not ready after {self.ready_timeout} s: {self.output}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                status = self.exit_status = self.process.wait()
                self.process = None
                raise RuntimeError(
                    f"orgdrive exited ({status}) before it was ready: {self.output}{self._log_tail()}")
            self.banner.append(line)
            if line.startswith("data dir: ") and self.ephemeral:
                self.data_dir = line[len("data dir: "):].removesuffix(" (ephemeral)")
            if line.startswith("ready in"):
                break
        self.admin_token = self._resolve_admin_token()
        return self

    def start(self, extra_args=None):
        """Starts the server (with `extra_args` instead of the constructor's,
        if given, for this start only) and waits until it is ready."""
        self.spawn(extra_args)
        return self.wait_ready()

    def _resolve_admin_token(self):
        if self.given_admin_token is not None:
            return self.given_admin_token
        try:
            return (Path(self.data_dir) / "admin.token").read_text().strip()
        except OSError:
            pass
        for line in self.banner:
            # "admin token: <token>" or "admin token: <token> (new; stored in ...)";
            # "admin token: in <file>" names only where it is.
            words = line[len("admin token: "):].split()
            if line.startswith("admin token: ") and words and words[0] != "in":
                return words[0]
        raise RuntimeError("cannot find the admin token (no admin.token, not in the banner)")

    def terminate(self):
        """Sends SIGTERM and returns at once."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout=30):
        """Waits for the process to exit; returns its exit status."""
        status = self.exit_status = self.process.wait(timeout=timeout)
        self.process = None
        self._close_log()
        return status

    def stop(self, timeout=30, check=True):
        """SIGTERM, wait; with `check`, the exit status must be 0. Returns it."""
        if not self.running:
            self.process = None
            self._close_log()
            return None
        self.terminate()
        status = self.wait(timeout)
        if check:
            assert status == 0, f"orgdrive must exit 0 on SIGTERM, exited {status}{self._log_tail()}"
        return status

    def kill(self):
        """SIGKILL (a crash), and wait for it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self._close_log()

    def restart(self, extra_args=None):
        self.stop()
        return self.start(extra_args)

    def _close_log(self):
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def _log_tail(self, lines=30):
        if isinstance(self.stderr, (str, os.PathLike)) and os.path.exists(self.stderr):
            tail = Path(self.stderr).read_text(errors="replace").splitlines()[-lines:]
            return "\nserver log:\n" + "\n".join(tail)
        return ""

    def __enter__(self):
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.stop()
        else:
            self.stop(check=False)

    # -- conveniences
    def provision(self, **kwargs):
        """`provision` against this server (see there)."""
        return provision(self.base_url, self.admin, **kwargs)

    def cli(self, *args, check=True):
        """Runs `orgdrive <args> --data-dir DATA_DIR` (admin, fsck) and returns
        (exit status, decoded JSON stdout or text)."""
        argv = [self.binary, *map(str, args), "--data-dir", self.data_dir]
        # The stores this server runs on (ORGDRIVE_SIGNING_KEY is in self.env).
        if self.meta is not None:
            argv += ["--meta", self.meta]
        if self.blob is not None and args and args[0] == "fsck":
            argv += ["--blob", self.blob]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **self.env})
        if check and done.returncode != 0:
            raise RuntimeError(f"orgdrive {' '.join(map(str, args))} exited {done.returncode}: "
                               f"{done.stdout}{done.stderr}")
        try:
            return done.returncode, json.loads(done.stdout)
        except ValueError:
            return done.returncode, done.stdout
