"""The error table of README "Behaviour decisions": each status with its code,
a JSON body {"code", "message", "requestid"} and the same request id in the
`x-acs-request-id` header. Where the SDK cannot send the request (malformed
JSON, a body that is not an object, a wrong method, an unknown path) it goes
over plain HTTP."""

from conftest import add_space
from drive import Drive
from helpers import expect_error, expect_http_error
from orgdrive_server import http_json


def storage_url(server, path, tenant):
    return f"{server.base_url}/v1.0/storage{path}?unionId={tenant.union_id}"


def test_malformed_and_non_object_json_bodies_are_param_errors(server, tenant):
    """The SDK always sends well-formed JSON objects: plain HTTP."""
    auth = {"x-acs-dingtalk-access-token": tenant.token, "Content-Type": "application/json"}
    url = storage_url(server, "/spaces", tenant)
    for body in [b"{bad", b'{"option": ', b"[]", b'"space"', b"42", b"null", b"  "]:
        expect_http_error(400, "paramError", http_json("POST", url, body, auth))
    # A wrong JSON type names its field.
    expect_http_error(400, "paramError.quota",
                      http_json("POST", url, {"option": {"quota": "lots"}}, auth))
    expect_http_error(400, "paramError.option", http_json("POST", url, {"option": 7}, auth))


def test_json_bodies_over_one_mib_are_refused(server, tenant):
    d = Drive(server, tenant)
    # Through the SDK: a folder name of 1 MiB makes the body too large.
    expect_error(413, "paramError", d.add_folder, "n" * (1 << 20))
    assert d.walk()[0] == []
    status, headers, body = d.raw("POST", "/dentries/0/folders", b"{" + b" " * (1 << 20) + b"}")
    expect_http_error(413, "paramError", (status, headers, body))


def test_unknown_paths_are_404(server, tenant):
    # All 46 operations are implemented: only paths that are no operation are unknown.
    auth = {"x-acs-dingtalk-access-token": tenant.token}
    for path in ["/v1.0/storage/nothing", "/v2.0/storage/spaces", "/", "/blob"]:
        expect_http_error(404, "resource.not.found", http_json("GET", f"{server.base_url}{path}", None, auth))


def test_known_paths_with_the_wrong_method_are_405(server, client, tenant):
    space = add_space(client, tenant).body.space
    auth = {"x-acs-dingtalk-access-token": tenant.token}
    for method, path in [("GET", "/spaces"), ("DELETE", f"/spaces/{space.id}"),
                         ("PUT", f"/spaces/{space.id}/files/commit"),
                         ("GET", f"/spaces/{space.id}/dentries/listAll"),
                         ("GET", "/currentApps/query"),
                         ("POST", f"/spaces/{space.id}/dentries/1"),
                         ("GET", f"/spaces/{space.id}/dentries/1/appProperties"),
                         ("GET", "/recycleBins/1/clear"), ("POST", "/recycleBins"),
                         ("PUT", "/recycleBins/1/recycleItems/1"), ("DELETE", "/tasks/1")]:
        response = http_json(method, storage_url(server, path, tenant), None, auth)
        expect_http_error(405, "methodNotAllowed", response)
    expect_http_error(405, "methodNotAllowed", http_json("GET", f"{server.base_url}/v1.0/oauth2/accessToken"))


def test_authentication_errors_over_http(server, tenant):
    url = storage_url(server, "/currentApps/query", tenant)
    expect_http_error(400, "InvalidAuthentication", http_json("POST", url))
    expect_http_error(400, "InvalidAuthentication",
                      http_json("POST", url, None, {"x-acs-dingtalk-access-token": "x" * 32}))
    expect_http_error(400, "InvalidAuthentication", http_json(
        "POST", f"{server.base_url}/v1.0/oauth2/accessToken",
        {"appKey": tenant.app_key, "appSecret": tenant.app_secret + "x"}))


def test_admin_api_errors_use_the_same_body(server):
    status, headers, body = http_json("GET", f"{server.admin_base_url}/admin/v1/orgs", None,
                                      {"Authorization": "Bearer " + "x" * 40})
    assert status in (401, 403)
    expect_http_error(status, "InvalidAuthentication", (status, headers, body))
    org = server.admin.create_org()
    app = server.admin.create_app(org["corpId"], app_key=f"key{org['corpId']}")
    duplicate = server.admin.raw("POST", f"/orgs/{org['corpId']}/apps",
                                 {"name": "again", "scopes": [], "appKey": app["appKey"]})
    expect_http_error(409, "conflict.appKey", duplicate)
    expect_http_error(400, "paramError", server.admin.raw("POST", "/orgs", b"{bad"))


def test_a_nul_character_is_refused_naming_its_field_before_any_store_sees_it(server, tenant):
    """U+0000 is in no id, name or value of the API, and PostgreSQL text
    cannot hold it: every backend answers 400 naming the field (a review
    found 500s on PostgreSQL), nothing is stored."""
    d = Drive(server, tenant)
    auth = {"x-acs-dingtalk-access-token": tenant.token}
    base = f"{server.base_url}/v1.0/storage/spaces"
    cases = [
        ("GET", f"{base}/{d.space_id}?unionId=a%00b", None, "paramError.unionId"),
        ("GET", f"{base}/1%002?unionId={tenant.union_id}", None, "paramError.spaceId"),
        ("GET", f"{base}/{d.space_id}/dentries?unionId={tenant.union_id}&parentId=0%00",
         None, "paramError.parentId"),
        ("POST", f"{base}/{d.space_id}/dentries/0/folders?unionId={tenant.union_id}",
         {"name": "ok", "option": {"appProperties": [
             {"name": "k", "value": "v\u0000", "visibility": "PUBLIC"}]}}, "paramError.value"),
        ("POST", f"{base}/{d.space_id}/dentries/0/folders?unionId={tenant.union_id}",
         {"name": "n\u0000"}, "paramError.name"),
    ]
    for method, url, body, code in cases:
        expect_http_error(400, code, http_json(method, url, body, auth))
    token = http_json("POST", f"{server.base_url}/v1.0/oauth2/accessToken",
                      {"appKey": "k\u0000", "appSecret": "s"})
    expect_http_error(400, "paramError.appKey", token)
    assert d.list().dentries == [], "nothing was created"
