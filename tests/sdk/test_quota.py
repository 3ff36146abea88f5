"""Quota: exact at the limit, never exceeded by racing uploads and commits;
bytes of uploads not yet committed are reserved from the moment their PUT
starts; usage visible in every view."""

import pytest
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dingtalk.storage_1_0 import models as m
from Tea.exceptions import TeaException

from conftest import runtime
from drive import Drive, SlowPut, put
from helpers import check_error, expect_error, expect_http_error


def uploaded(d, data):
    """An upload whose bytes are PUT but not committed yet."""
    info = d.upload_info()
    assert put(info.header_signature_info.resource_urls[0], {}, data)[0] == 200
    return info.upload_key


def get_org(d, tenant):
    return d.client.get_org_with_options(
        tenant.corp_id, m.GetOrgRequest(union_id=tenant.union_id), tenant.headers(m.GetOrgHeaders),
        runtime()).body.org


@pytest.mark.embedded
def test_space_quota_exactly_at_the_limit_and_one_byte_over(server, tenant):
    d = Drive(server, tenant, quota=1000)
    d.commit(uploaded(d, b"a" * 600), "600.bin")
    d.commit(uploaded(d, b"b" * 400), "400.bin")
    space = d.space()
    assert (space.used_quota, space.quota) == (1000, 1000)
    q = space.partitions[0].quota
    assert (q.used, q.max, q.reserved, q.type) == (1000, 1000, 0, "PRIVATE")
    # A full space refuses new bytes at the PUT already, and a pre-checked size at once.
    info = d.upload_info()
    expect_http_error(413, "paramError.size", put(info.header_signature_info.resource_urls[0], {}, b"x"))
    expect_error(400, "paramError.uploadKey", d.commit, info.upload_key, "one-too-many.bin")
    expect_error(400, "paramError.quota", d.upload_info, size=1)
    assert d.space().used_quota == 1000
    assert sorted(e.name for e in d.walk()[0]) == ["400.bin", "600.bin"], "nothing committed"


@pytest.mark.embedded
def test_org_capacity_bounds_every_space(server, make_tenant):
    tenant = make_tenant(capacity=500)
    d = Drive(server, tenant)
    e = Drive(server, tenant, scene_id="2")
    d.commit(uploaded(d, b"x" * 300), "a.bin")
    # 200 bytes are left in the org, whichever space asks.
    expect_error(400, "paramError.quota", e.upload_info, size=201)
    info = e.upload_info()
    expect_http_error(413, "paramError.size", put(info.header_signature_info.resource_urls[0], {}, b"y" * 201))
    assert put(info.header_signature_info.resource_urls[0], {}, b"y" * 200)[0] == 200
    assert e.commit(info.upload_key, "b.bin").size == 200
    q = get_org(d, tenant).partitions[0].quota
    assert (q.used, q.max, q.reserved, q.type) == (500, 500, 0, "PRIVATE")
    assert (d.space().used_quota, e.space().used_quota) == (300, 200)


@pytest.mark.embedded
def test_uploaded_bytes_are_held_until_commit(server, make_tenant):
    """Bytes PUT but not committed are reserved against the space quota and
    the org capacity: what they hold cannot be handed out twice."""
    tenant = make_tenant(capacity=1500)
    d = Drive(server, tenant, quota=1000)
    pending = uploaded(d, b"a" * 600)
    info = d.upload_info()
    url = info.header_signature_info.resource_urls[0]
    expect_http_error(413, "paramError.size", put(url, {}, b"b" * 401))
    assert put(url, {}, b"b" * 400)[0] == 200
    # The org: 1000 held by the space, 500 left for another space.
    e = Drive(server, tenant, scene_id="2")
    other = e.upload_info()
    expect_http_error(413, "paramError.size", put(other.header_signature_info.resource_urls[0], {}, b"c" * 501))
    # Each held upload commits; the space ends exactly full.
    d.commit(pending, "600.bin")
    d.commit(info.upload_key, "400.bin")
    assert d.space().used_quota == 1000
    assert put(other.header_signature_info.resource_urls[0], {}, b"c" * 500)[0] == 200
    e.commit(other.upload_key, "500.bin")
    assert get_org(d, tenant).partitions[0].quota.used == 1500


@pytest.mark.embedded
def test_a_put_in_flight_holds_its_bytes_against_the_quota(server, tenant):
    """Pending upload bytes are reserved when a PUT starts: two PUTs that each
    fit the space, but not together, cannot both stream at the same time."""
    d = Drive(server, tenant, quota=1000)
    first, second = d.upload_info(), d.upload_info()
    slow = SlowPut(first.header_signature_info.resource_urls[0], 800)
    try:
        slow.send(b"a" * 100)
        time.sleep(0.3)  # the server has the request and is reading its body
        expect_http_error(413, "paramError.size",
                          put(second.header_signature_info.resource_urls[0], {}, b"b" * 800))
        slow.send(b"a" * 700)
        assert slow.finish()[0] == 200
    finally:
        slow.close()
    f = d.commit(first.upload_key, "first.bin", size=800)
    assert d.download(f.id)[2] == b"a" * 800
    assert d.space().used_quota == 800


@pytest.mark.embedded
def test_a_small_put_without_room_is_refused_before_its_body(server, tenant):
    """A small PUT into a space without room is refused before a byte of its
    body is read (a slow client cannot hold the server's disk budget with
    bodies that will not fit: a review found that when small PUTs reserved
    only at their record)."""
    d = Drive(server, tenant, quota=10)
    info = d.upload_info()
    slow = SlowPut(info.header_signature_info.resource_urls[0], 800)
    try:
        slow.send(b"a" * 10)  # and no more: the answer comes without the body
        status, headers, body = slow.finish()
        check_error(413, "paramError.size", status, headers, body)
    finally:
        slow.close()
    assert d.space().used_quota == 0


def test_eight_concurrent_uploads_racing_the_last_bytes(server, tenant):
    """Eight uploads of 300 bytes into a 1000-byte space, their PUTs at once and
    then their commits at once: exactly three make it, whether the bytes are
    refused at the PUT (413 paramError.size; nothing to commit then) or at the
    commit (400 paramError.quota)."""
    d = Drive(server, tenant, quota=1000)
    infos = [d.upload_info() for _ in range(8)]
    start = threading.Barrier(8)

    def put_bytes(i):
        start.wait()
        return put(infos[i].header_signature_info.resource_urls[0], {}, bytes([i]) * 300)

    def commit(i):
        start.wait()
        try:
            Drive(server, tenant, d.space_id).commit(infos[i].upload_key, f"f{i}.bin")
            return "ok"
        except TeaException as e:
            return e.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        puts = list(pool.map(put_bytes, range(8)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        commits = list(pool.map(commit, range(8)))
    for (status, headers, body), committed in zip(puts, commits):
        if status == 200:
            assert committed in ("ok", "paramError.quota"), committed
        else:
            check_error(413, "paramError.size", status, headers, body)
            assert committed == "paramError.uploadKey", committed
    assert commits.count("ok") == 3, (puts, commits)
    assert d.space().used_quota == 900
    assert sorted(e.size for e in d.walk()[0]) == [300, 300, 300]


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
    assert get_org(d, tenant).partitions[0].quota.used == 1400
    app = d.client.get_current_app_with_options(
        m.GetCurrentAppRequest(union_id=tenant.union_id), tenant.headers(m.GetCurrentAppHeaders),
        runtime()).body.app
    assert app.partitions[0].quota.used == 1400
