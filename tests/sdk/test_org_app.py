"""GetOrg and GetCurrentApp through the official storage_1_0 client."""

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, runtime
from helpers import ISO_8601_UTC, expect_error


def get_org(client, tenant, corp_id):
    return client.get_org_with_options(
        corp_id, m.GetOrgRequest(union_id=tenant.union_id), tenant.headers(m.GetOrgHeaders), runtime())


def test_get_org_reports_capacity_and_usage(client, make_tenant):
    tenant = make_tenant(capacity=10 * 1024 * 1024)
    add_space(client, tenant, m.AddSpaceRequestOption(quota=1024))
    org = get_org(client, tenant, tenant.corp_id).body.org
    assert org.corp_id == tenant.corp_id
    assert len(org.partitions) == 1
    p = org.partitions[0]
    assert p.partition_type == "PUBLIC_OSS_PARTITION"
    assert (p.quota.used, p.quota.max, p.quota.reserved, p.quota.type) == (
        0, 10 * 1024 * 1024, 10 * 1024 * 1024, "PRIVATE")


def test_unlimited_org_has_no_max(client, tenant):
    p = get_org(client, tenant, tenant.corp_id).body.org.partitions[0]
    assert (p.quota.used, p.quota.max, p.quota.type) == (0, None, "PRIVATE")


def test_get_org_of_another_org_is_denied(client, make_tenant):
    tenant, other = make_tenant(), make_tenant()
    expect_error(403, "permissionDenied", get_org, client, tenant, other.corp_id)
    reader = make_tenant(scopes=["Storage.Space.Read"])
    expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied", get_org, client, reader, reader.corp_id)


def test_get_current_app(client, tenant):
    reply = client.get_current_app_with_options(
        m.GetCurrentAppRequest(union_id=tenant.union_id), tenant.headers(m.GetCurrentAppHeaders), runtime())
    app = reply.body.app
    assert (app.app_id, app.corp_id, app.name) == (tenant.app_id, tenant.corp_id, "SDK suite app")
    assert ISO_8601_UTC.match(app.create_time) and ISO_8601_UTC.match(app.modified_time)
    assert len(app.partitions) == 1
    q = app.partitions[0].quota
    assert (q.used, q.max, q.type) == (0, None, "SHARE")
