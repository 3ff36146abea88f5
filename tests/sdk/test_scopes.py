"""Scopes: each operation needs its `Storage.*` scope, refused with 403
`Forbidden.AccessDenied.AccessTokenPermissionDenied` naming it in
`accessdenieddetail.requiredScopes`; GetCurrentApp needs none."""

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m
from Tea.exceptions import TeaException

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
    "GetDentryThumbnails": ("Storage.File.Read", lambda d, t: d.thumbnails(["0"])),
    "GetDentryOpenInfo": ("Storage.File.Read", lambda d, t: d.open_info(committed_file(d))),
    "RegisterOpenInfo": ("Storage.File.Write", lambda d, t: d.register_open_info(
        committed_file(d) if "Storage.File.Write" in t.scopes else "1", "ACME",
        ("PREVIEW", "https://office.example.com/p/1"))),
    # The lifecycle operations act on real dentries, bins, items and tasks when
    # the app can make them, on made-up ids when the scope it lacks is needed
    # for that (the scope is checked first).
    "RenameDentry": ("Storage.File.Write", lambda d, t: d.rename(folder(d, t), "renamed")),
    "MoveDentry": ("Storage.File.Write", lambda d, t: d.move(folder(d, t), "0")),
    "MoveDentries": ("Storage.File.Write", lambda d, t: d.moves([folder(d, t)], "0")),
    "CopyDentry": ("Storage.File.Write", lambda d, t: d.copy(folder(d, t), "0")),
    "CopyDentries": ("Storage.File.Write", lambda d, t: d.copies([folder(d, t)], "0")),
    "DeleteDentry": ("Storage.File.Write", lambda d, t: d.delete(folder(d, t))),
    "DeleteDentries": ("Storage.File.Write", lambda d, t: d.deletes([folder(d, t)])),
    "ListDentryVersions": ("Storage.File.Read", lambda d, t: d.versions(committed_file(d))),
    "RevertDentryVersion": ("Storage.File.Write", lambda d, t: d.revert(file_with_history(d, t), 1)),
    "UpdateDentryAppProperties": ("Storage.File.Write", lambda d, t: d.set_properties(
        folder(d, t), ("k", "v", "PUBLIC"))),
    "DeleteDentryAppProperties": ("Storage.File.Write", lambda d, t: d.remove_properties(
        folder(d, t), ["k"])),
    "AddPermission": ("Storage.Permission.Write", lambda d, t: d.grant(
        "0", "READER", ("USER", t.union_id))),
    # Needs a grant to update; granting needs the same scope.
    "UpdatePermission": ("Storage.Permission.Write", lambda d, t: [
        d.grant("0", "READER", ("USER", t.union_id)),
        d.update_grant("0", "EDITOR", ("USER", t.union_id))]),
    "DeletePermission": ("Storage.Permission.Write", lambda d, t: d.revoke(
        "0", "READER", ("USER", t.union_id))),
    "ListPermissions": ("Storage.Permission.Read", lambda d, t: d.grants("0")),
    "BatchQueryRoles": ("Storage.Permission.Read", lambda d, t: d.roles(["0"])),
    "GetTask": ("Storage.Task.Read", lambda d, t: d.task(
        task_of(d) if "Storage.Task.Read" in t.scopes else "1")),
    "GetRecycleBin": ("Storage.RecycleBin.Read", lambda d, t: d.recycle_bin()),
    "ListRecycleItems": ("Storage.RecycleBin.Read", lambda d, t: d.recycle_items(bin_of(d, t))),
    "GetRecycleItem": ("Storage.RecycleBin.Read", lambda d, t: d.recycle_item(*item_of(d, t)[::-1])),
    "RestoreRecycleItem": ("Storage.RecycleBin.Write", lambda d, t: d.restore(*item_of(d, t)[::-1])),
    "RestoreRecycleItems": ("Storage.RecycleBin.Write", lambda d, t: restore_batch(d, t)),
    "DeleteRecycleItem": ("Storage.RecycleBin.Write", lambda d, t: d.purge(*item_of(d, t)[::-1])),
    "DeleteRecycleItems": ("Storage.RecycleBin.Write", lambda d, t: d.purges(["1"], bin_of(d, t))),
    "ClearRecycleBin": ("Storage.RecycleBin.Write", lambda d, t: d.clear(bin_of(d, t))),
    "SubscribeEvent": ("Storage.Event.Write", lambda d, t: d.subscribe("SPACE")),
    "UnsubscribeEvent": ("Storage.Event.Write", lambda d, t: d.unsubscribe("SPACE")),
    "GetWebOfficeUrl": ("Storage.File.Read", lambda d, t: past_the_scope(
        d.web_office_url, committed_file(d))),
    "RefreshWebOfficeToken": ("Storage.File.Read", lambda d, t: past_the_scope(
        d.refresh_web_office, committed_file(d), "a", "b")),
}


def past_the_scope(call, *args):
    """The suite's server has no WOPI client: past the scope check, the
    WebOffice operations answer webOfficeNotConfigured (test_weboffice.py
    tests them on a server with one)."""
    try:
        call(*args)
    except TeaException as e:
        if e.code != "webOfficeNotConfigured":
            raise


def uploaded_key(d):
    """A real upload with its bytes PUT (the app still holds UploadInfo.Read)."""
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"bytes")[0] == 200
    return info.upload_key


def committed_file(d):
    """A real file (the app still holds UploadInfo.Read and File.Write)."""
    return d.upload(b"bytes", "f.txt").id


def folder(d, t):
    """A real folder when the app may make one (File.Write), else a made-up id."""
    return d.add_folder("folder", conflict="AUTO_RENAME").id if "Storage.File.Write" in t.scopes else "1"


def file_with_history(d, t):
    """A file with version 1 in its history, or a made-up id (without File.Write)."""
    if "Storage.File.Write" not in t.scopes:
        return "1"
    f = d.upload(b"v1", "h.txt")
    d.upload(b"v2", "h.txt", conflict="OVERWRITE")
    return f.id


def task_of(d):
    """The id of a real task: a folder with a child deleted for good."""
    parent = d.add_folder("tasked")
    d.upload(b"child", "child.txt", parent_id=parent.id)
    body = d.delete(parent.id)
    assert body.async_ and body.task_id, body.to_map()
    return body.task_id


def bin_of(d, t):
    """The space's bin when the app may read bins, else a made-up id."""
    return d.bin_id if "Storage.RecycleBin.Read" in t.scopes else "1"


def item_of(d, t):
    """(bin id, item id) of a real recycle item when the app may find one
    (RecycleBin.Read), else made-up ids."""
    if "Storage.RecycleBin.Read" not in t.scopes:
        return "1", "1"
    f = d.upload(b"binned", "binned.txt", conflict="AUTO_RENAME")
    d.delete(f.id, to_recycle_bin=True)
    return d.bin_id, d.binned(f.id).id


def restore_batch(d, t):
    bin_id, item_id = item_of(d, t)
    return d.restores([item_id], bin_id)


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
    GetAccessToken and GetCurrentApp (no scope) and the Stream gateway
    (app credentials) are in OPERATIONS."""
    from orgdrive_server import call_json

    document = call_json("GET", f"{server.base_url}/openapi.json")
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()
                  if isinstance(op, dict) and "operationId" in op}
    assert operations - {"GetAccessToken", "GetCurrentApp", "OpenStreamConnection"} == set(OPERATIONS)


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
