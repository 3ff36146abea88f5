"""Scopes: each operation needs its `Storage.*` scope, refused with 403
`Forbidden.AccessDenied.AccessTokenPermissionDenied` naming it in
`accessdenieddetail.requiredScopes`; GetCurrentApp needs none."""

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import ALL_SCOPES, add_space, runtime
from drive import Drive, put
from helpers import expect_error

# Operation -> (the scope it needs, what to call: f(drive, tenant)).
OPERATIONS = {
    "AddSpace": ("Storage.Space.Write", lambda d, t: add_space(d.client, t)),
    "GetSpace": ("Storage.Space.Read", lambda d, t: d.space()),
    "GetOrg": ("Storage.Org.Read", lambda d, t: d.client.get_org_with_options(
        t.corp_id, m.GetOrgRequest(union_id=t.union_id), t.headers(m.GetOrgHeaders), runtime())),
    "AddFolder": ("Storage.File.Write", lambda d, t: d.add_folder("new")),
    "CommitFile": ("Storage.File.Write", lambda d, t: d.commit(uploaded_key(d), "new.txt")),
    "GetDentry": ("Storage.File.Read", lambda d, t: d.get("0")),
    "GetDentries": ("Storage.File.Read", lambda d, t: d.gets(["0"])),
    "ListDentries": ("Storage.File.Read", lambda d, t: d.list()),
    "ListAllDentries": ("Storage.File.Read", lambda d, t: d.list_all()),
    "GetFileUploadInfo": ("Storage.UploadInfo.Read", lambda d, t: d.upload_info()),
    "InitMultipartFileUpload": ("Storage.UploadInfo.Read", lambda d, t: d.init_multipart()),
    # Without UploadInfo.Read the app cannot open a multipart upload of its own:
    # the key is made up (the scope is checked first); the full app uses a real one.
    "GetMultipartFileUploadInfos": ("Storage.UploadInfo.Read", lambda d, t: d.part_urls(
        d.init_multipart().upload_key if "Storage.UploadInfo.Read" in t.scopes else "someKey", [1])),
    "GetFileDownloadInfo": ("Storage.DownloadInfo.Read", lambda d, t: d.download_info(committed_file(d))),
}


def uploaded_key(d):
    """A real upload with its bytes PUT (the app still holds UploadInfo.Read)."""
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"bytes")[0] == 200
    return info.upload_key


def committed_file(d):
    """A real file (the app still holds UploadInfo.Read and File.Write)."""
    return d.upload(b"bytes", "f.txt").id


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_each_operation_needs_its_scope(server, make_tenant, operation):
    scope, call = OPERATIONS[operation]
    # Every other scope: the one left out is what the refusal names.
    lacking = make_tenant(scopes=[s for s in ALL_SCOPES if s != scope])
    # The app's own space, so that nothing but the scope stands in the way
    # (an app without Space.Write cannot make one: AddSpace needs no space).
    d = Drive(server, lacking, space_id="1") if scope == "Storage.Space.Write" else Drive(server, lacking)
    err = expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", call, d, lacking)
    assert err.data["accessdenieddetail"] == {"requiredScopes": [scope]}, err.data
    # With every scope, the same call on the same kind of resources works.
    full = make_tenant()
    call(Drive(server, full, space_id="1") if operation == "AddSpace" else Drive(server, full), full)


def test_the_table_covers_every_implemented_storage_operation(server):
    """The OpenAPI document lists the implemented operations: all but
    GetAccessToken and GetCurrentApp (no scope) are in OPERATIONS."""
    from orgdrive_server import call_json

    document = call_json("GET", f"{server.base_url}/openapi.json")
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()
                  if isinstance(op, dict) and "operationId" in op}
    assert operations - {"GetAccessToken", "GetCurrentApp"} == set(OPERATIONS)


def test_get_current_app_needs_no_scope(server, client, make_tenant):
    bare = make_tenant(scopes=[])
    app = client.get_current_app_with_options(
        m.GetCurrentAppRequest(union_id=bare.union_id), bare.headers(m.GetCurrentAppHeaders), runtime()).body.app
    assert (app.app_id, app.corp_id) == (bare.app_id, bare.corp_id)
    # ... while everything else is refused.
    err = expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", add_space, client, bare)
    assert err.data["accessdenieddetail"]["requiredScopes"] == ["Storage.Space.Write"]


def test_all_scopes_is_what_the_server_grants(server):
    """tests/support's ALL_SCOPES equals `orgdrive admin app create --all-scopes`
    (and the demo app's scopes), and the admin API accepts every one of them."""
    org = server.admin.create_org(name="scope probe")
    _, app = server.cli("admin", "app", "create", "--corp-id", org["corpId"], "--name", "probe",
                        "--all-scopes")
    assert app["scopes"] == list(ALL_SCOPES)
    created = server.admin.create_app(org["corpId"], ALL_SCOPES)
    assert created["scopes"] == list(ALL_SCOPES)
    listed = {a["appId"]: a["scopes"] for a in server.admin.list_apps(org["corpId"])}
    assert listed == {app["appId"]: list(ALL_SCOPES), created["appId"]: list(ALL_SCOPES)}
    demo = [line.split()[-1] for line in server.banner if line.strip().startswith("corpId:")]
    for corp_id in demo:
        assert [a["scopes"] for a in server.admin.list_apps(corp_id)] == [list(ALL_SCOPES)]
    status, _, body = server.admin.raw("POST", f"/orgs/{org['corpId']}/apps",
                                       {"name": "typo", "scopes": ["Storage.Space.write"]})
    assert (status, body["code"]) == (400, "paramError.scopes"), body
