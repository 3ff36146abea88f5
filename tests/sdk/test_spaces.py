"""AddSpace and GetSpace through the official storage_1_0 client, per the seed
document: every request field, default, response field and error code."""

import re
from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, runtime, storage_client
from helpers import ISO_8601_UTC, expect_error

SEED_OPTION = dict(
    name="Test space", quota=1024,
    capabilities=m.AddSpaceRequestOptionCapabilities(
        can_search=True, can_rename=True, can_record_recent_file=True),
    scene="scene", scene_id="123", owner_type="USER")


def get_space(client, tenant, space_id, token=None):
    return client.get_space_with_options(
        space_id, m.GetSpaceRequest(union_id=tenant.union_id),
        tenant.headers(m.GetSpaceHeaders, token), runtime())


def test_seed_example_returns_every_field_of_the_response_table(client, tenant):
    reply = add_space(client, tenant, m.AddSpaceRequestOption(**SEED_OPTION))
    assert reply.status_code == 200
    space = reply.body.space
    wire = space.to_map()
    for field in ["id", "corpId", "creatorId", "ownerType", "ownerId", "modifierId", "usedQuota",
                  "quota", "status", "createTime", "modifiedTime", "appId", "scene", "sceneId",
                  "capabilities", "name", "partitions"]:
        assert field in wire, f"space.{field} missing from {wire}"
    assert space.id.isdigit()
    assert space.corp_id == tenant.corp_id
    assert space.app_id == tenant.app_id
    assert space.creator_id == space.modifier_id == space.owner_id == tenant.union_id
    assert space.owner_type == "USER"
    assert (space.used_quota, space.quota, space.status) == (0, 1024, "NORMAL")
    assert ISO_8601_UTC.match(space.create_time) and ISO_8601_UTC.match(space.modified_time)
    assert (space.scene, space.scene_id, space.name) == ("scene", "123", "Test space")
    caps = space.capabilities
    assert (caps.can_search, caps.can_rename, caps.can_record_recent_file) == (True, True, True)
    assert len(space.partitions) == 1
    partition = space.partitions[0]
    assert partition.partition_type == "PUBLIC_OSS_PARTITION"
    q = partition.quota
    assert (q.used, q.max, q.reserved, q.type) == (0, 1024, 1024, "PRIVATE")

    again = get_space(client, tenant, space.id)
    assert again.body.space.to_map() == wire


def test_defaults_when_no_option_is_given(client, tenant):
    space = add_space(client, tenant).body.space
    assert (space.scene, space.scene_id, space.owner_type) == ("default", "0", "USER")
    assert space.owner_id == tenant.union_id
    caps = space.capabilities
    assert (caps.can_search, caps.can_rename, caps.can_record_recent_file) == (False, False, False)
    assert space.name is None
    # No space cap and an unlimited org: nothing bounds the space, the partition is shared.
    assert space.quota is None
    assert space.partitions[0].quota.type == "SHARE"
    assert space.partitions[0].quota.max is None
    assert space.partitions[0].quota.used == 0
    # Capabilities given partly: the others default to false.
    partial = add_space(client, tenant, m.AddSpaceRequestOption(
        scene_id="2", capabilities=m.AddSpaceRequestOptionCapabilities(can_rename=True))).body.space
    caps = partial.capabilities
    assert (caps.can_search, caps.can_rename, caps.can_record_recent_file) == (False, True, False)


def test_app_owned_space_is_owned_by_the_app(client, tenant):
    space = add_space(client, tenant, m.AddSpaceRequestOption(owner_type="APP", scene_id="9")).body.space
    assert (space.owner_type, space.owner_id) == ("APP", tenant.app_id)
    assert space.creator_id == tenant.union_id


def test_space_without_cap_is_bounded_by_org_capacity(server, client, make_tenant):
    tenant = make_tenant(capacity=1 << 30)
    expect_error(400, "paramError.quota", add_space, client, tenant,
                 m.AddSpaceRequestOption(quota=(1 << 30) + 1, scene_id="2"))
    capped = add_space(client, tenant, m.AddSpaceRequestOption(quota=1 << 30, scene_id="3")).body.space
    assert capped.quota == 1 << 30
    assert (capped.partitions[0].quota.type, capped.partitions[0].quota.max) == ("PRIVATE", 1 << 30)
    space = add_space(client, tenant).body.space
    assert space.quota == 1 << 30
    # Without a cap of its own the space shares what the org has left.
    assert (space.partitions[0].quota.type, space.partitions[0].quota.max) == ("SHARE", None)
    # A refused call stores nothing.
    other_app = make_tenant(corp_id=tenant.corp_id, union_id=tenant.union_id)
    expect_error(400, "paramError.quota", add_space, client, other_app,
                 m.AddSpaceRequestOption(quota=(1 << 30) + 1))
    assert_app_owns_no_space(server, other_app)


def test_idempotent_on_scene_and_scene_id(client, tenant):
    first = add_space(client, tenant, m.AddSpaceRequestOption(name="one", scene="s", scene_id="1")).body.space
    again = add_space(client, tenant, m.AddSpaceRequestOption(name="two", quota=5, scene="s", scene_id="1"))
    assert again.body.space.to_map() == first.to_map()
    other = add_space(client, tenant, m.AddSpaceRequestOption(scene="s", scene_id="2")).body.space
    assert other.id != first.id
    default = add_space(client, tenant).body.space
    assert add_space(client, tenant).body.space.id == default.id


def test_sixteen_concurrent_identical_calls_return_one_space(server, tenant):
    option = m.AddSpaceRequestOption(name="raced", scene="race", scene_id="16")

    def call(_):
        return add_space(storage_client(server), tenant, option).body.space.id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(call, range(16)))
    assert len(ids) == 1, ids


def test_parameter_errors_name_the_field(server, client, tenant):
    cases = [
        (dict(name=""), "paramError.name"),
        (dict(name="   "), "paramError.name"),
        (dict(name="bell\x07"), "paramError.name"),
        (dict(quota=0), "paramError.quota"),
        (dict(scene="x" * 64, scene_id="1" * 65), "paramError.sceneId"),
        (dict(scene="场景"), "paramError.scene"),
        (dict(name="tab\tname"), "paramError.name"),
        (dict(name="n" * 256), "paramError.name"),
        (dict(scene="no spaces"), "paramError.scene"),
        (dict(scene="x" * 65), "paramError.scene"),
        (dict(scene_id="1-2"), "paramError.sceneId"),
        (dict(scene_id=""), "paramError.sceneId"),
        (dict(quota=-1), "paramError.quota"),
        (dict(quota="lots"), "paramError.quota"),
        (dict(owner_type="GROUP"), "paramError.ownerType"),
    ]
    for option, code in cases:
        expect_error(400, code, add_space, client, tenant, m.AddSpaceRequestOption(**option))
    assert_app_owns_no_space(server, tenant)


def assert_app_owns_no_space(server, tenant):
    """The admin API refuses (409) to delete an app that owns a space, whatever
    its scene: a successful delete proves that no call of the app stored one.
    (It also revokes the app's tokens: call this last.)"""
    status, _, body = server.admin.raw("DELETE", f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}")
    assert (status, body) == (200, {"success": True}), f"the app owns a space: {body}"


def test_deleting_an_app_that_owns_a_space_is_refused(server, client, tenant):
    """The control of assert_app_owns_no_space: one stored space is enough for a 409."""
    add_space(client, tenant, m.AddSpaceRequestOption(scene="odd", scene_id="7"))
    status, _, body = server.admin.raw("DELETE", f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}")
    assert (status, body["code"]) == (409, "conflict"), body
    status, _, body = server.admin.raw("DELETE", f"/orgs/{tenant.corp_id}")
    assert (status, body["code"]) == (409, "conflict"), body


def test_wrong_json_types_are_param_errors(server, client, tenant):
    caps = m.AddSpaceRequestOptionCapabilities(can_search="yes")
    expect_error(400, "paramError.canSearch", add_space, client, tenant,
                 m.AddSpaceRequestOption(capabilities=caps))
    expect_error(400, "paramError.sceneId", add_space, client, tenant, m.AddSpaceRequestOption(scene_id=12))
    assert_app_owns_no_space(server, tenant)


def test_authentication_and_operator_errors(server, client, make_tenant):
    tenant = make_tenant()
    expect_error(400, "InvalidAuthentication", add_space, client, tenant, token="forged-token")
    request = m.AddSpaceRequest(union_id=tenant.union_id)
    expect_error(400, "InvalidAuthentication", client.add_space_with_options,
                 request, m.AddSpaceHeaders(), runtime())
    expect_error(400, "paramError.unionId", client.add_space_with_options,
                 m.AddSpaceRequest(), tenant.headers(m.AddSpaceHeaders), runtime())
    expect_error(403, "permissionDenied", add_space, client, tenant, union_id="not-a-user")
    stranger = make_tenant()
    expect_error(403, "permissionDenied", add_space, client, tenant, union_id=stranger.union_id)

    reader = make_tenant(scopes=["Storage.Space.Read"])
    err = expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", add_space, client, reader)
    assert err.data["accessdenieddetail"]["requiredScopes"] == ["Storage.Space.Write"]
    writer = make_tenant(scopes=["Storage.Space.Write"])
    space = add_space(client, writer).body.space
    err = expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                       get_space, client, writer, space.id)
    assert err.data["accessdenieddetail"]["requiredScopes"] == ["Storage.Space.Read"]


def test_get_space_errors(client, make_tenant):
    tenant = make_tenant()
    expect_error(400, "paramError.spaceId", get_space, client, tenant, "12345")
    space = add_space(client, tenant).body.space
    other_org = make_tenant()
    expect_error(400, "paramError.spaceId", get_space, client, other_org, space.id)


def test_owner_type_is_case_insensitive(client, tenant):
    app = add_space(client, tenant, m.AddSpaceRequestOption(owner_type="app", scene_id="1")).body.space
    assert (app.owner_type, app.owner_id) == ("APP", tenant.app_id)
    user = add_space(client, tenant, m.AddSpaceRequestOption(owner_type="User", scene_id="2")).body.space
    assert (user.owner_type, user.owner_id) == ("USER", tenant.union_id)


def test_idempotency_is_per_app(server, client, tenant, make_tenant):
    option = m.AddSpaceRequestOption(name="shared scene", scene="team", scene_id="42")
    mine = add_space(client, tenant, option).body.space
    # Another app of the same org, acting for the same user: another space.
    other_app = make_tenant(corp_id=tenant.corp_id, union_id=tenant.union_id)
    theirs = add_space(client, other_app, option).body.space
    assert theirs.id != mine.id
    assert (theirs.app_id, mine.app_id) == (other_app.app_id, tenant.app_id)
    assert (theirs.scene, theirs.scene_id) == (mine.scene, mine.scene_id) == ("team", "42")
    # Each app keeps getting its own.
    assert add_space(client, tenant, option).body.space.id == mine.id
    assert add_space(client, other_app, option).body.space.id == theirs.id
    # Another app of the same org reaches a space through the operator's
    # roles: the user owns both spaces, whichever app acts for them.
    assert get_space(client, other_app, mine.id).body.space.id == mine.id
    assert get_space(client, tenant, theirs.id).body.space.id == theirs.id
    # A user of the org without a role there is refused, not hidden.
    stranger = make_tenant(corp_id=tenant.corp_id, org_admin=False)
    expect_error(403, "permissionDenied", get_space, client, stranger, mine.id)


def test_name_is_optional_and_trimmed(client, tenant):
    assert add_space(client, tenant, m.AddSpaceRequestOption(name="  Team drive  ")).body.space.name \
        == "Team drive"
    long = add_space(client, tenant, m.AddSpaceRequestOption(name="n" * 255, scene_id="2")).body.space
    assert long.name == "n" * 255
    both = add_space(client, tenant, m.AddSpaceRequestOption(scene="s" * 64, scene_id="9" * 64)).body.space
    assert (both.scene, both.scene_id) == ("s" * 64, "9" * 64)


def test_any_user_of_the_org_may_create_spaces(server, client, tenant):
    plain = server.admin.create_user(tenant.corp_id, name="Plain", org_admin=False)["unionId"]
    space = add_space(client, tenant, union_id=plain).body.space
    assert space.creator_id == space.owner_id == plain
    got = client.get_space_with_options(
        space.id, m.GetSpaceRequest(union_id=plain), tenant.headers(m.GetSpaceHeaders), runtime())
    assert got.body.space.id == space.id


def test_ids_and_times_have_the_documented_shapes(client, tenant):
    assert re.fullmatch(r"ding[0-9a-f]{16}", tenant.corp_id), tenant.corp_id
    assert re.fullmatch(r"[A-Za-z0-9]{22}", tenant.union_id), tenant.union_id
    assert re.fullmatch(r"[1-9][0-9]*", tenant.app_id), tenant.app_id
    first = add_space(client, tenant, m.AddSpaceRequestOption(scene_id="1")).body.space
    second = add_space(client, tenant, m.AddSpaceRequestOption(scene_id="2")).body.space
    assert re.fullmatch(r"[1-9][0-9]*", first.id) and re.fullmatch(r"[1-9][0-9]*", second.id)
    assert int(second.id) > int(first.id) > int(tenant.app_id), "snowflakes grow with time"
    assert ISO_8601_UTC.match(first.create_time) and first.create_time <= second.create_time
