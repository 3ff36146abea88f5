"""Quota: checked and charged in the commit's transaction, exact at the
limit, never exceeded by racing commits; usage visible in every view."""

from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import runtime
from drive import Drive, put
from helpers import expect_error


def uploaded(d, data):
    """An upload whose bytes are PUT but not committed yet."""
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, data)[0] == 200
    return info.upload_key


def test_space_quota_exactly_at_the_limit_and_one_byte_over(server, tenant):
    d = Drive(server, tenant, quota=1000)
    keys = [uploaded(d, b"a" * 600), uploaded(d, b"b" * 400), uploaded(d, b"c")]
    d.commit(keys[0], "600.bin")
    d.commit(keys[1], "400.bin")
    space = d.space()
    assert (space.used_quota, space.quota) == (1000, 1000)
    q = space.partitions[0].quota
    assert (q.used, q.max, q.reserved, q.type) == (1000, 1000, 0, "PRIVATE")
    err = expect_error(400, "paramError.quota", d.commit, keys[2], "one-too-many.bin")
    assert "quota" in err.data["message"]
    assert d.space().used_quota == 1000
    assert sorted(e.name for e in d.walk()[0]) == ["400.bin", "600.bin"], "nothing committed"
    # A full space refuses new bytes at the PUT already.
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, b"x")[0] == 413
    expect_error(400, "paramError.quota", d.upload_info, size=1)


def test_org_capacity_bounds_every_space(server, make_tenant):
    tenant = make_tenant(capacity=500)
    d = Drive(server, tenant)
    e = Drive(server, tenant, scene_id="2")
    first, second = uploaded(d, b"x" * 300), uploaded(e, b"y" * 201)
    d.commit(first, "a.bin")
    expect_error(400, "paramError.quota", e.commit, second, "b.bin")
    org = d.client.get_org_with_options(
        tenant.corp_id, m.GetOrgRequest(union_id=tenant.union_id), tenant.headers(m.GetOrgHeaders),
        runtime()).body.org
    q = org.partitions[0].quota
    assert (q.used, q.max, q.reserved, q.type) == (300, 500, 200, "PRIVATE")


def test_eight_concurrent_commits_racing_the_last_bytes(server, tenant):
    d = Drive(server, tenant, quota=1000)
    keys = [uploaded(d, bytes([i]) * 300) for i in range(8)]

    def commit(i):
        try:
            Drive(server, tenant, d.space_id).commit(keys[i], f"f{i}.bin")
            return "ok"
        except Exception as e:  # noqa: BLE001 - the code is the result
            return getattr(e, "code", repr(e))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(commit, range(8)))
    assert results.count("ok") == 3, results
    assert results.count("paramError.quota") == 5, results
    assert d.space().used_quota == 900
    assert len(d.walk()[0]) == 3


def test_usage_is_reported_everywhere(server, make_tenant):
    tenant = make_tenant(capacity=10_000)
    d = Drive(server, tenant, quota=5000)
    other = Drive(server, tenant, scene_id="other")
    d.upload(b"1" * 1234, "a.bin")
    folder = d.add_folder("f")
    d.upload(b"2" * 66, "b.bin", parent_id=folder.id)
    other.upload(b"3" * 100, "c.bin")
    space = d.space()
    assert space.used_quota == 1300
    assert (space.partitions[0].quota.used, space.partitions[0].quota.reserved) == (1300, 3700)
    assert other.space().partitions[0].quota.used == 100
    org = d.client.get_org_with_options(
        tenant.corp_id, m.GetOrgRequest(union_id=tenant.union_id), tenant.headers(m.GetOrgHeaders),
        runtime()).body.org
    assert org.partitions[0].quota.used == 1400
    app = d.client.get_current_app_with_options(
        m.GetCurrentAppRequest(union_id=tenant.union_id), tenant.headers(m.GetCurrentAppHeaders),
        runtime()).body.app
    assert app.partitions[0].quota.used == 1400
