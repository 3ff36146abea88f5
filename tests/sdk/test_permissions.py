"""Permissions and roles (README "Permissions"): who may do what follows from
the operator's effective role, the strongest of the implicit owner roles
(the creator of a USER space, any operator of the app that owns an APP space,
an org admin) and the live grants on the dentry or an ancestor.

The role x operation matrix runs every implemented storage operation as an
operator holding each role (granted on the space root), no grant, an expired
temporary grant, a grant used through another app of the org, and as a user
of another org, and asserts allow or deny with the exact error code. The
expectations come from the README's role table (`NEEDS` below), written
independently of the server's own table."""

import json

import pytest
from Tea.exceptions import TeaException

from conftest import add_space, provision, runtime, start_server
from drive import Drive, get, put
from helpers import expect_error
from orgdrive_server import http_json
from alibabacloud_dingtalk.storage_1_0 import models as m

ROLES = ["READER", "DOWNLOADER", "EDITOR", "MANAGER", "OWNER"]
# A WOPI client, so that GetWebOfficeUrl / RefreshWebOfficeToken answer here.
WOPI_CLIENT = "https://office.example/browser/x/cool.html?"


def at_least(role):
    return ROLES[ROLES.index(role):]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: the clock tests move its clock."""
    root = tmp_path_factory.mktemp("permissions")
    srv = start_server(root, ["--allow-clock-control", "--wopi-client-url", WOPI_CLIENT])
    yield srv
    srv.stop()


def advance_clock(server, seconds):
    status, _, body = http_json("POST", f"{server.admin_base_url}/admin/v1/clock/advance",
                                {"seconds": seconds},
                                {"Authorization": f"Bearer {server.admin_token}"})
    assert status == 200, body


def as_user(tenant, union_id):
    """The tenant's app acting for another user."""
    return type(tenant)(**{**tenant.__dict__, "union_id": union_id})


class World:
    """A USER space of a (non-admin) owner with a folder, a file with one
    history version inside it, a second folder, a binned file, and a
    READER grant of a third user on the folder (for the grant operations)."""

    def __init__(self, server, owner_type=None):
        self.server = server
        # Grants in an APP space are temporary, in a USER space permanent.
        self.duration = 3600 if owner_type == "APP" else None
        self.owner = provision(server, org_admin=False)
        self.corp_id = self.owner.corp_id
        option = {"owner_type": owner_type} if owner_type else {}
        self.d = Drive(server, self.owner, **option)
        self.space_id = self.d.space_id
        self.folder = self.d.add_folder("folder").id
        self.folder2 = self.d.add_folder("folder2").id
        self.file = self.d.upload(b"one", "x.txt", self.folder).id
        self.d.upload(b"two", "x.txt", self.folder, conflict="OVERWRITE")
        binned = self.d.upload(b"gone", "z.txt").id
        self.d.delete(binned, to_recycle_bin=True)
        self.bin = self.d.bin_id
        self.item = self.d.binned(binned).id
        self.third = server.admin.create_user(self.corp_id, name="Third", org_admin=False)["unionId"]
        self.user = server.admin.create_user(self.corp_id, name="User", org_admin=False)["unionId"]
        self.d.grant(self.folder, "READER", ("USER", self.third), duration=self.duration)

    def drive_of(self, tenant):
        return Drive(self.server, tenant, self.space_id)


def batch(items):
    """A batch answer with one item: its outcome, raised as the call would."""
    (item,) = items
    if not item.success:
        raise Denied(item.error_code)
    return item


def unless_refused(items):
    """A batch answer whose one item may fail, except for a permission refusal."""
    (item,) = items
    if item.error_code == "permissionDenied":
        raise Denied(item.error_code)
    return item


def unless_not_configured(call, *args, **kwargs):
    """A call that may answer webOfficeNotConfigured (past the permission check)."""
    try:
        return call(*args, **kwargs)
    except TeaException as e:
        if e.code != "webOfficeNotConfigured":
            raise
        return e


class Denied(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


# Operation -> (least role that may, what the operator u does in world w).
# `None` as the role: every operator of the org may (BatchQueryRoles answers
# the roles held).
NEEDS = {
    "GetSpace": ("READER", lambda u, w: u.space()),
    "GetDentry": ("READER", lambda u, w: u.get(w.file)),
    "GetDentries": ("READER", lambda u, w: batch(u.gets([w.file]))),
    "ListDentries": ("READER", lambda u, w: u.list(w.folder)),
    "ListAllDentries": ("READER", lambda u, w: u.list_all()),
    "ListDentryVersions": ("READER", lambda u, w: u.versions(w.file)),
    "GetFileDownloadInfo": ("DOWNLOADER", lambda u, w: u.download_info(w.file)),
    # A text file has no thumbnail: only a permission refusal counts here.
    "GetDentryThumbnails": ("READER", lambda u, w: unless_refused(u.thumbnails([w.file]))),
    "GetDentryOpenInfo": ("READER", lambda u, w: u.open_info(w.file)),
    # No edit link registered: past the permission check, webOfficeNotConfigured.
    "GetDentryOpenInfo(EDIT)": ("EDITOR", lambda u, w: unless_not_configured(
        u.open_info, w.file, type="EDIT")),
    "RegisterOpenInfo": ("EDITOR", lambda u, w: u.register_open_info(
        w.file, "ACME", ("EDIT", "https://office.example.com/edit/1"))),
    "AddFolder": ("EDITOR", lambda u, w: u.add_folder("new", w.folder)),
    "GetFileUploadInfo": ("EDITOR", lambda u, w: u.upload_info(parent_id=w.folder)),
    "InitMultipartFileUpload": ("EDITOR", lambda u, w: u.init_multipart(parent_id=w.folder)),
    "CommitFile": ("EDITOR", lambda u, w: u.upload(b"new", "new.txt", w.folder)),
    "RenameDentry": ("EDITOR", lambda u, w: u.rename(w.file, "renamed.txt")),
    "RevertDentryVersion": ("EDITOR", lambda u, w: u.revert(w.file, 1)),
    "UpdateDentryAppProperties": ("EDITOR", lambda u, w: u.set_properties(w.file, ("k", "v", "PUBLIC"))),
    "DeleteDentryAppProperties": ("EDITOR", lambda u, w: u.remove_properties(w.file, ["k"])),
    "CopyDentry": ("EDITOR", lambda u, w: u.copy(w.file, w.folder2)),
    "CopyDentries": ("EDITOR", lambda u, w: batch(u.copies([w.file], w.folder2))),
    "MoveDentry": ("MANAGER", lambda u, w: u.move(w.file, w.folder2)),
    "MoveDentries": ("MANAGER", lambda u, w: batch(u.moves([w.file], w.folder2))),
    "DeleteDentry": ("MANAGER", lambda u, w: u.delete(w.file, to_recycle_bin=True)),
    "DeleteDentries": ("MANAGER", lambda u, w: batch(u.deletes([w.file], to_recycle_bin=True))),
    "GetRecycleBin": ("MANAGER", lambda u, w: u.recycle_bin()),
    "ListRecycleItems": ("MANAGER", lambda u, w: u.recycle_items(w.bin)),
    "GetRecycleItem": ("MANAGER", lambda u, w: u.recycle_item(w.item, w.bin)),
    "RestoreRecycleItem": ("MANAGER", lambda u, w: u.restore(w.item, w.bin)),
    "RestoreRecycleItems": ("MANAGER", lambda u, w: batch(u.restores([w.item], w.bin))),
    "DeleteRecycleItem": ("MANAGER", lambda u, w: u.purge(w.item, w.bin)),
    "DeleteRecycleItems": ("MANAGER", lambda u, w: u.purges([w.item], w.bin)),
    "ClearRecycleBin": ("MANAGER", lambda u, w: u.clear(w.bin)),
    "ListPermissions": ("MANAGER", lambda u, w: u.grants(w.folder)),
    "AddPermission": ("MANAGER", lambda u, w: u.grant(
        w.folder, "EDITOR", ("USER", w.third), duration=w.duration)),
    "UpdatePermission": ("MANAGER", lambda u, w: u.update_grant(
        w.folder, "EDITOR", ("USER", w.third), duration=w.duration)),
    "DeletePermission": ("MANAGER", lambda u, w: u.revoke(w.folder, "READER", ("USER", w.third))),
    "AddPermission(OWNER)": ("OWNER", lambda u, w: u.grant(
        w.folder, "OWNER", ("USER", w.third), duration=w.duration)),
    "BatchQueryRoles": (None, lambda u, w: u.roles([w.file])),
    "SubscribeEvent": ("READER", lambda u, w: u.subscribe("SPACE", w.space_id)),
    "GetWebOfficeUrl": ("DOWNLOADER", lambda u, w: u.web_office_url(w.file)),
    # The operator's own pair when they may have one (else any pair: the
    # role is checked before the tokens).
    "RefreshWebOfficeToken": ("DOWNLOADER", lambda u, w: u.refresh_web_office(
        w.file, *own_web_office_pair(u, w.file))),
}


def own_web_office_pair(u, file_id):
    try:
        body = u.web_office_url(file_id)
        return body.web_office_access_token, body.web_office_refresh_token
    except TeaException:
        return "not-a-token", "not-a-token"


# Operations the matrix leaves to other tests: AddSpace, GetOrg and
# GetCurrentApp act on no space; GetMultipartFileUploadInfos needs the
# operator's own multipart key (test_upload_needs_the_role_when_urls_are_issued);
# GetTask reads a task of the caller's app (test_lifecycle); UnsubscribeEvent
# only removes the caller's app's own subscription, and the Stream gateway
# (OpenStreamConnection) takes app credentials, no operator (test_events).
NOT_IN_MATRIX = {"AddSpace", "GetOrg", "GetCurrentApp", "GetMultipartFileUploadInfos", "GetTask",
                 "UnsubscribeEvent", "OpenStreamConnection"}


def outcome(call, u, w):
    """'ok', or the (HTTP status, code) of the refusal."""
    try:
        call(u, w)
        return "ok"
    except TeaException as e:
        return (e.data.get("statusCode") if isinstance(e.data, dict) else None, e.code)
    except Denied as e:
        return ("item", e.code)


def expected(least, role):
    if least is None or (role is not None and role in at_least(least)):
        return "ok"
    return "denied"


def check(result, want, operation, subject):
    if want == "ok":
        assert result == "ok", f"{subject} may {operation}: {result}"
    else:
        assert result in ((403, "permissionDenied"), ("item", "permissionDenied")), \
            f"{subject} may not {operation}: {result}"


@pytest.mark.parametrize("operation", list(NEEDS))
@pytest.mark.parametrize("role", ROLES + [None])
def test_role_matrix(server, operation, role):
    """Each role (granted on the space root; None = no grant) against each operation."""
    w = World(server)
    if role is not None:
        w.d.grant("0", role, ("USER", w.user))
    u = w.drive_of(as_user(w.owner, w.user))
    least, call = NEEDS[operation]
    check(outcome(call, u, w), expected(least, role), operation, role or "no grant")


@pytest.mark.parametrize("operation", list(NEEDS))
def test_matrix_through_another_app_of_the_org(server, operation):
    """Roles follow the operator: an EDITOR grant works the same through a
    second app of the org (and the owner's implicit OWNER too)."""
    w = World(server)
    w.d.grant("0", "EDITOR", ("USER", w.user))
    other_app = provision(server, corp_id=w.corp_id, union_id=w.user)
    least, call = NEEDS[operation]
    check(outcome(call, w.drive_of(other_app), w), expected(least, "EDITOR"), operation,
          "EDITOR through another app")


@pytest.mark.parametrize("operation", list(NEEDS))
def test_matrix_with_an_expired_temporary_grant(server, operation):
    """APP space: a temporary OWNER grant works until its expiry, checked at
    request time, then the operator (through another app: the owning app
    is OWNER for its operators anyway) holds nothing."""
    w = World(server, owner_type="APP")
    w.d.grant("0", "OWNER", ("USER", w.user), duration=60)
    other_app = provision(server, corp_id=w.corp_id, union_id=w.user)
    u = w.drive_of(other_app)
    assert u.space().id == w.space_id, "the grant works before its expiry"
    advance_clock(server, 61)
    least, call = NEEDS[operation]
    check(outcome(call, u, w), expected(least, None), operation, "an expired grant")


@pytest.mark.parametrize("operation", list(NEEDS))
def test_matrix_from_another_org(server, operation):
    """A user of another org never sees anything of this org: every id
    answers as unknown (400 paramError.<id field>), never as refused."""
    w = World(server)
    stranger = provision(server)
    u = w.drive_of(stranger)
    least, call = NEEDS[operation]
    result = outcome(call, u, w)
    assert result != "ok", f"another org may {operation}"
    if operation == "BatchQueryRoles":
        assert result == (400, "paramError.spaceId"), result
        return
    status, code = result
    assert status in (400, "item") and code.startswith("paramError."), f"{operation}: {result}"


def test_the_matrix_covers_every_implemented_operation(server):
    status, _, doc = http_json("GET", f"{server.base_url}/openapi.json")
    assert status == 200
    implemented = {op["operationId"] for item in doc["paths"].values() for op in item.values()
                   if isinstance(op, dict) and "operationId" in op} - {"GetAccessToken"}
    covered = {name.split("(")[0] for name in NEEDS} | NOT_IN_MATRIX
    assert implemented <= covered, implemented - covered


def test_grants_inherit_through_three_levels_and_a_deeper_grant_only_raises(server):
    w = World(server)
    a = w.d.add_folder("a").id
    b = w.d.add_folder("b", a).id
    c = w.d.add_folder("c", b).id
    deep = w.d.upload(b"deep", "deep.txt", c).id
    w.d.grant(a, "DOWNLOADER", ("USER", w.user))
    u = w.drive_of(as_user(w.owner, w.user))
    assert u.get(deep).name == "deep.txt"
    assert get(u.download_info(deep).header_signature_info.resource_urls[0])[2] == b"deep"
    assert [x.name for x in u.list(c).dentries] == ["deep.txt"]
    expect_error(403, "permissionDenied", u.add_folder, "no", c)
    # Outside the granted folder: nothing.
    expect_error(403, "permissionDenied", u.get, w.file)
    expect_error(403, "permissionDenied", u.list, "0")
    expect_error(403, "permissionDenied", u.space)
    # A deeper grant raises the role there only; a weaker one lowers nothing.
    w.d.grant(c, "EDITOR", ("USER", w.user))
    w.d.grant(b, "READER", ("USER", w.user))
    assert u.add_folder("yes", c).name == "yes"
    expect_error(403, "permissionDenied", u.add_folder, "no", b)
    assert u.download_info(deep) is not None, "READER on b does not lower DOWNLOADER from a"
    assert w.d.role_map([a, b, c, deep, w.file]) == {
        a: ["OWNER"], b: ["OWNER"], c: ["OWNER"], deep: ["OWNER"], w.file: ["OWNER"]}
    assert u.role_map([a, b, c, deep, w.file, "0", "404"]) == {
        a: ["DOWNLOADER"], b: ["DOWNLOADER"], c: ["EDITOR"], deep: ["EDITOR"], w.file: [],
        "0": [], "404": []}
    # Uploading with a folder-level role names the folder in preCheck.
    info = u.upload_info(parent_id=c)
    sig = info.header_signature_info
    assert put(sig.resource_urls[0], sig.headers, b"mine")[0] == 200
    assert u.commit(info.upload_key, "mine.txt", c).name == "mine.txt"
    expect_error(403, "permissionDenied", u.upload_info)


def test_a_dept_grant_reaches_members_of_sub_departments(server):
    w = World(server)
    admin = server.admin
    top = admin.call("POST", f"/orgs/{w.corp_id}/depts", {"name": "Top"})["deptId"]
    mid = admin.call("POST", f"/orgs/{w.corp_id}/depts", {"name": "Mid", "parentId": top})["deptId"]
    low = admin.call("POST", f"/orgs/{w.corp_id}/depts", {"name": "Low", "parentId": mid})["deptId"]
    admin.call("POST", f"/orgs/{w.corp_id}/depts/{low}/members", {"unionId": w.user})
    u = w.drive_of(as_user(w.owner, w.user))
    expect_error(403, "permissionDenied", u.get, w.file)
    expect_error(400, "paramError.members.corpId", w.d.grant, w.folder, "READER", ("DEPT", top))
    w.d.grant(w.folder, "READER", ("DEPT", top, w.corp_id))
    assert u.get(w.file).id == w.file
    # Leaving the department ends it (the directory change reaches the check).
    admin.call("DELETE", f"/orgs/{w.corp_id}/depts/{low}/members/{w.user}")
    expect_error(403, "permissionDenied", u.get, w.file)
    # An ORG grant reaches everyone of the org.
    w.d.grant(w.folder2, "READER", ("ORG", w.corp_id))
    assert not u.list(w.folder2).dentries
    assert u.role_map([w.folder2]) == {w.folder2: ["READER"]}


def test_app_space_takes_only_temporary_grants_and_they_expire(server):
    w = World(server, owner_type="APP")
    other_app = provision(server, corp_id=w.corp_id, union_id=w.user)
    u = w.drive_of(other_app)
    # The owning app is OWNER for any of its operators: no role of their own needed.
    assert w.drive_of(as_user(w.owner, w.user)).get(w.file).id == w.file
    # Through another app the operator needs a grant.
    expect_error(403, "permissionDenied", u.get, w.file)
    # A permanent grant is refused; the duration has a range.
    expect_error(400, "paramError.duration", w.d.grant, w.folder, "READER", ("USER", w.user))
    for bad in (0, 3601):
        expect_error(400, "paramError.duration", w.d.grant, w.folder, "READER", ("USER", w.user),
                     duration=bad)
    # Granted by an operator with no role of their own (the owning app grants).
    granter = w.drive_of(as_user(w.owner, w.third))
    granter.grant(w.folder, "READER", ("USER", w.user), duration=100)
    assert u.get(w.file).id == w.file
    (grant,) = [g for g in w.d.grants(w.folder).permissions if g.member.id == w.user]
    assert (grant.duration, grant.role.id, grant.member.id, grant.operator_id) == \
        (100, "READER", w.user, w.third)
    advance_clock(server, 101)
    expect_error(403, "permissionDenied", u.get, w.file)
    listed = {g.member.id for g in w.d.grants(w.folder).permissions}
    assert listed == {w.third}, "an expired grant is not listed"
    assert u.role_map([w.file]) == {w.file: []}


def test_user_space_takes_only_permanent_grants_from_managers(server):
    w = World(server)
    expect_error(400, "paramError.duration", w.d.grant, w.folder, "READER", ("USER", w.user),
                 duration=60)
    editor = w.drive_of(as_user(w.owner, w.third))
    w.d.grant("0", "EDITOR", ("USER", w.third))
    # An EDITOR may not grant; a MANAGER may, up to MANAGER; OWNER needs an OWNER.
    expect_error(403, "permissionDenied", editor.grant, w.folder, "READER", ("USER", w.user))
    w.d.update_grant("0", "MANAGER", ("USER", w.third))
    editor.grant(w.folder, "READER", ("USER", w.user))
    expect_error(403, "permissionDenied", editor.grant, w.folder, "OWNER", ("USER", w.user))
    w.d.grant(w.folder2, "OWNER", ("USER", w.user))
    expect_error(403, "permissionDenied", editor.update_grant, w.folder2, "READER", ("USER", w.user))
    expect_error(403, "permissionDenied", editor.revoke, w.folder2, "OWNER", ("USER", w.user))
    # Nothing of the refused calls was stored.
    roles = {(g.member.id, g.role.id) for g in w.d.grants(w.folder2).permissions}
    assert roles == {(w.user, "OWNER")}


def test_grant_input_errors(server):
    w = World(server)
    other_org = provision(server)
    cases = [
        ("paramError.roleId", {"role": "ADMIN"}),
        ("paramError.members", {"members": []}),
        ("paramError.members", {"members": [("USER", w.user)] * 31}),
        ("paramError.members.type", {"members": [("TAG", "t1")]}),
        ("paramError.members.type", {"members": [("ROBOT", "r")]}),
        ("paramError.members.id", {"members": [("USER", "nobody")]}),
        ("paramError.members.id", {"members": [("USER", other_org.union_id)]}),
        ("paramError.members.id", {"members": [("ORG", other_org.corp_id)]}),
        ("paramError.members.id", {"members": [("DEPT", "404", w.corp_id)]}),
        ("paramError.members.corpId", {"members": [("USER", w.user, other_org.corp_id)]}),
    ]
    for code, case in cases:
        role = case.get("role", "READER")
        members = case.get("members", [("USER", w.user)])
        expect_error(400, code, w.d.grant, w.folder, role, *members)
    expect_error(400, "paramError.dentryId", w.d.grant, "404", "READER", ("USER", w.user))
    expect_error(400, "paramError.members", w.d.update_grant, w.folder, "EDITOR", ("USER", w.user))
    assert {g.member.id for g in w.d.grants(w.folder).permissions} == {w.third}, "nothing stored"
    # A userId names the same user as the unionId.
    user_id = [u for u in w.server.admin.call("GET", f"/orgs/{w.corp_id}/users")["items"]
               if u["unionId"] == w.user][0]["userId"]
    w.d.grant(w.folder, "DOWNLOADER", ("USER", user_id))
    w.d.grant(w.folder, "EDITOR", ("USER", w.user))
    listed = {g.member.id: g.role.id for g in w.d.grants(w.folder).permissions}
    assert listed == {w.third: "READER", w.user: "EDITOR"}
    # Removing a grant of another role leaves it; of its role, removes it.
    w.d.revoke(w.folder, "READER", ("USER", w.user))
    assert w.d.role_map([w.folder]) == {w.folder: ["OWNER"]}
    assert as_role(w, w.folder) == ["EDITOR"]
    w.d.revoke(w.folder, "EDITOR", ("USER", w.user))
    assert as_role(w, w.folder) == []


def as_role(w, dentry_id):
    return w.drive_of(as_user(w.owner, w.user)).role_map([dentry_id])[dentry_id]


def test_list_permissions_pages_and_filters(server):
    w = World(server)
    users = [w.server.admin.create_user(w.corp_id, name=f"U{i}", org_admin=False)["unionId"]
             for i in range(7)]
    w.d.grant(w.folder, "EDITOR", *[("USER", u) for u in users[:3]])
    w.d.grant(w.folder, "DOWNLOADER", *[("USER", u) for u in users[3:]])
    seen, token, pages = [], None, 0
    while True:
        body = w.d.grants(w.folder, max_results=3, next_token=token)
        pages += 1
        seen += [(g.member.type, g.member.id, g.role.id) for g in body.permissions]
        for g in body.permissions:
            assert (g.space_id, g.dentry_id, g.role.name, g.member.corp_id) == \
                (w.space_id, w.folder, g.role.id, w.corp_id)
            assert g.create_time and g.modified_time and g.operator_id == w.owner.union_id
            assert g.duration is None
        token = body.next_token
        if not token:
            break
    assert pages == 3 and len(seen) == 8 == len(set(seen)), seen
    assert seen == sorted(seen, key=lambda s: (s[0], s[1]))
    editors = w.d.grants(w.folder, filter_role_ids=["EDITOR"]).permissions
    assert sorted(g.member.id for g in editors) == sorted(users[:3])
    expect_error(400, "paramError.filterRoleIds", w.d.grants, w.folder, filter_role_ids=["ROOT"])
    expect_error(400, "paramError.maxResults", w.d.grants, w.folder, max_results=0)
    expect_error(400, "paramError.nextToken", w.d.grants, w.folder2, next_token=token or "00")


def test_batch_query_roles_wire(server):
    w = World(server)
    # The SDK sends the ids as one JSON text in the query; the server answers
    # one key per id (the Python SDK collapses the keys when parsing).
    body = w.d.roles([w.file, w.folder])
    assert body.role_map is not None
    for bad in ("", "not json", json.dumps({"a": 1}), json.dumps([1, 2]), json.dumps([])):
        status, _, answer = w.d.raw("POST", "/dentries/permissions/roles/batchQuery", None,
                                    dentryIdList=bad)
        assert (status, answer["code"]) == (400, "paramError.dentryIdList"), (bad, answer)
    status, _, answer = w.d.raw("POST", "/dentries/permissions/roles/batchQuery", None,
                                dentryIdList=json.dumps([str(i) for i in range(31)]))
    assert (status, answer["code"]) == (400, "paramError.dentryIdList")


def test_the_bin_suspends_grants_a_restore_brings_them_back_a_delete_removes_them(server):
    w = World(server)
    sub = w.d.add_folder("sub", w.folder).id
    w.d.grant(sub, "EDITOR", ("USER", w.user))
    assert as_role(w, sub) == ["EDITOR"]
    w.d.settle(w.d.delete(w.folder, to_recycle_bin=True))
    assert as_role(w, sub) == [], "a binned dentry is reached by no grant"
    expect_error(400, "paramError.dentryId", w.d.grants, sub)
    item = w.d.binned(w.folder)
    w.d.settle(w.d.restore(item.id, w.bin))
    assert w.d.get(sub).name == "sub"
    assert as_role(w, sub) == ["EDITOR"], "a restore brings the item back as it was"
    # A permanent delete removes them for good.
    w.d.settle(w.d.delete(w.folder))
    again = w.d.add_folder("folder").id
    assert w.d.grants(again).permissions in ([], None)


def test_moves_keep_grants_only_with_preserve_permissions(server):
    w = World(server)
    kept = w.d.add_folder("kept").id
    dropped = w.d.add_folder("dropped").id
    w.d.grant(kept, "EDITOR", ("USER", w.user))
    w.d.grant(dropped, "EDITOR", ("USER", w.user))
    w.d.move(kept, w.folder2, preseve_permissions=True)
    w.d.moves([dropped], w.folder2)
    assert as_role(w, kept) == ["EDITOR"]
    assert as_role(w, dropped) == []
    # A grant of the old place does not follow; one of the new place applies.
    w.d.grant(w.folder2, "READER", ("USER", w.user))
    moved = w.d.upload(b"m", "m.txt", kept).id
    assert as_role(w, moved) == ["EDITOR"]
    assert as_role(w, dropped) == ["READER"]
    # A move to the folder it is in changes nothing, its grants included.
    w.d.move(kept, w.folder2)
    assert as_role(w, kept) == ["EDITOR"]
    # Grants are of their space: across spaces they never go along (the
    # target space's own rules decide, e.g. only temporary grants there).
    elsewhere = Drive(server, w.owner, scene_id="elsewhere")
    w.d.settle(w.d.move(kept, "0", target_space_id=elsewhere.space_id, preseve_permissions=True))
    u = Drive(server, as_user(w.owner, w.user), elsewhere.space_id)
    assert u.role_map([kept]) == {kept: []}
    assert elsewhere.grants(kept).permissions in ([], None)
    # Copies carry no grants: they get what their new place grants.
    copy = w.d.copy(w.folder2, "0")
    w.d.settle(copy)
    assert as_role(w, copy.dentry.id) == []


def test_a_file_the_owner_moves_takes_the_grants_of_its_new_place_at_once(server):
    # The owner's file moves are applied without reading the file first
    # (a plain move): what a user may do on the file follows it at once,
    # and a file with a grant of its own still drops or keeps it.
    w = World(server)
    src, dst = w.d.add_folder("src").id, w.d.add_folder("dst").id
    w.d.grant(src, "READER", ("USER", w.user))
    w.d.grant(dst, "EDITOR", ("USER", w.user))
    plain = w.d.upload(b"p", "p.txt", src).id
    assert as_role(w, plain) == ["READER"]
    assert w.d.move(plain, dst).dentry.parent_id == dst
    assert as_role(w, plain) == ["EDITOR"]
    w.d.move(plain, w.folder2)
    assert as_role(w, plain) == []
    granted = w.d.upload(b"g", "g.txt", src).id
    w.d.grant(granted, "MANAGER", ("USER", w.user))
    w.d.move(granted, w.folder2)
    assert as_role(w, granted) == []
    kept = w.d.upload(b"k", "k.txt", src).id
    w.d.grant(kept, "MANAGER", ("USER", w.user))
    w.d.move(kept, w.folder2, preseve_permissions=True)
    assert as_role(w, kept) == ["MANAGER"]


def test_app_properties_private_stays_with_its_app(server):
    w = World(server)
    other = provision(server, corp_id=w.corp_id, union_id=w.owner.union_id)
    mine, theirs = w.d, w.drive_of(other)
    mine.set_properties(w.file, ("open", "1", "PUBLIC"), ("secret", "2", "PRIVATE"))
    theirs.set_properties(w.file, ("their", "3", "PRIVATE"))
    by_app = theirs.properties(w.file)
    assert {p["name"] for p in by_app.get(w.owner.app_id, [])} == {"open"}
    assert {p["name"] for p in by_app.get(other.app_id, [])} == {"their"}
    by_app = mine.properties(w.file)
    assert {p["name"] for p in by_app.get(w.owner.app_id, [])} == {"open", "secret"}
    assert other.app_id not in by_app


def test_upload_needs_the_role_when_urls_are_issued(server):
    w = World(server)
    u = w.drive_of(as_user(w.owner, w.user))
    w.d.grant(w.folder, "EDITOR", ("USER", w.user))
    key = u.init_multipart(parent_id=w.folder).upload_key
    assert u.part_urls(key, [1])
    w.d.update_grant(w.folder, "READER", ("USER", w.user))
    expect_error(403, "permissionDenied", u.part_urls, key, [1])
    expect_error(403, "permissionDenied", u.upload_info, parent_id=w.folder)
    expect_error(403, "permissionDenied", u.download_info, w.file)


def test_the_org_bin_shows_every_apps_items_the_operator_manages(server):
    w = World(server)
    # The owner, through a second app of the org: the ORG bin shows the item
    # binned in the first app's space; that app's APP bin is not this app's.
    other = provision(server, corp_id=w.corp_id, union_id=w.owner.union_id)
    theirs = w.drive_of(other)
    org_bin = theirs.recycle_bin("ORG", w.corp_id).id
    assert w.item in [i.id for i in theirs.all_recycle_items(org_bin)[0]]
    app_bin = theirs.recycle_bin("APP", other.app_id).id
    assert w.item not in [i.id for i in theirs.all_recycle_items(app_bin)[0]]
    # A user who does not manage the space sees nothing of it there, and
    # cannot restore or purge it by id.
    u = w.drive_of(as_user(w.owner, w.user))
    assert w.item not in [i.id for i in u.all_recycle_items(org_bin)[0]]
    expect_error(400, "paramError.recycleItemId", u.restore, w.item, org_bin)
    expect_error(400, "paramError.recycleItemId", u.recycle_item, w.item, org_bin)
    u.purges([w.item], org_bin)
    u.clear(org_bin)
    assert theirs.recycle_item(w.item, org_bin).id == w.item, "nothing was purged"
    # Once MANAGER, they do.
    w.d.grant("0", "MANAGER", ("USER", w.user))
    assert w.item in [i.id for i in u.all_recycle_items(org_bin)[0]]
    u.settle(u.restore(w.item, org_bin))
    assert [d.name for d in w.d.list().dentries if d.name == "z.txt"] == ["z.txt"]


def test_a_manager_cannot_remove_or_replace_an_owner_grant_by_other_means(server):
    w = World(server)
    manager = w.drive_of(as_user(w.owner, w.user))
    w.d.grant("0", "MANAGER", ("USER", w.user))
    w.d.grant(w.file, "OWNER", ("USER", w.third))
    # AddPermission replaces a member's grant: over an OWNER grant it needs OWNER.
    expect_error(403, "permissionDenied", manager.grant, w.file, "READER", ("USER", w.third))
    # A move drops the moved dentries' grants: over an OWNER grant it needs OWNER.
    expect_error(403, "permissionDenied", manager.move, w.file, w.folder2)
    expect_error(403, "permissionDenied", manager.move, w.folder, w.folder2)
    roles = {g.member.id: g.role.id for g in w.d.grants(w.file).permissions}
    assert roles == {w.third: "OWNER"}
    # Keeping the grants, or staying in the folder, is a MANAGER's to do.
    sub = w.d.add_folder("sub", w.folder).id
    manager.move(w.file, sub, preseve_permissions=True)
    manager.move(w.file, sub)
    assert {g.member.id: g.role.id for g in w.d.grants(w.file).permissions} == {w.third: "OWNER"}
    # The owner may drop it.
    w.d.move(w.file, w.folder2)
    assert w.d.grants(w.file).permissions in ([], None)


def test_a_scenes_space_is_answered_only_to_its_owner(server):
    w = World(server)
    other = w.drive_of(as_user(w.owner, w.user))
    request = m.AddSpaceRequestOption(scene="default", scene_id="0")
    expect_error(403, "permissionDenied", add_space, other.client, other.tenant, request)
    # Even with a role in it: a space is not handed out as someone else's own
    # (its owner could otherwise squat a scene another user will ask for).
    w.d.grant("0", "EDITOR", ("USER", w.user))
    expect_error(403, "permissionDenied", add_space, other.client, other.tenant, request)
    app_space = m.AddSpaceRequestOption(scene="default", scene_id="0", owner_type="APP")
    expect_error(403, "permissionDenied", add_space, other.client, other.tenant, app_space)
    # Its owner gets it again, and a space of the app is the app's operators'.
    assert add_space(w.d.client, w.owner, request).body.space.id == w.space_id
    shared = m.AddSpaceRequestOption(scene="team", scene_id="1", owner_type="APP")
    made = add_space(w.d.client, w.owner, shared).body.space.id
    assert add_space(other.client, other.tenant, shared).body.space.id == made


def test_a_deleted_users_grants_go_with_them(server):
    w = World(server)
    admin = server.admin
    gone = admin.create_user(w.corp_id, name="Gone", org_admin=False, union_id="ghost-" + w.corp_id)
    w.d.grant(w.folder, "MANAGER", ("USER", gone["unionId"]))
    admin.delete_user(w.corp_id, gone["unionId"])
    again = admin.create_user(w.corp_id, name="Again", org_admin=False, union_id=gone["unionId"])
    assert w.drive_of(as_user(w.owner, again["unionId"])).role_map([w.folder]) == {w.folder: []}
    assert {g.member.id for g in w.d.grants(w.folder).permissions} == {w.third}


def test_overwriting_by_a_move_or_copy_is_a_delete_at_the_target(server):
    """OVERWRITE bins the file it replaces: the target needs MANAGER, as a delete."""
    w = World(server)
    editor = w.drive_of(as_user(w.owner, w.user))
    w.d.grant("0", "EDITOR", ("USER", w.user))
    mine = editor.upload(b"mine", "x.txt", w.folder2).id
    expect_error(403, "permissionDenied", editor.copy, mine, w.folder, conflict="OVERWRITE")
    (item,) = editor.copies([mine], w.folder, conflict="OVERWRITE")
    assert (item.success, item.error_code) == (False, "permissionDenied")
    assert w.d.get(w.file).name == "x.txt", "nothing was replaced"
    # Other strategies only add: an EDITOR's to do.
    assert editor.copy(mine, w.folder).dentry.name != "x.txt"
    w.d.update_grant("0", "MANAGER", ("USER", w.user))
    editor.copy(mine, w.folder, conflict="OVERWRITE")
    assert w.d.binned(w.file).dentry_id == w.file


def test_an_app_wide_bin_pages_only_through_what_it_shows(server):
    w = World(server)
    for i in range(3):
        binned = w.d.upload(b"b", f"b{i}.txt").id
        w.d.delete(binned, to_recycle_bin=True)
    u = w.drive_of(as_user(w.owner, w.user))
    org_bin = u.recycle_bin("ORG", w.corp_id).id
    body = u.recycle_items(org_bin, max_results=1)
    assert (body.recycle_items or []) == [] and not body.next_token, body.to_map()
    # Managing the space, the same pages show its four items, one at a time.
    w.d.grant("0", "MANAGER", ("USER", w.user))
    items, pages = u.all_recycle_items(org_bin, page_size=1)
    assert len(items) == 4 and len({i.id for i in items}) == 4, [i.to_map() for i in items]
