"""Events (README "Events"): SubscribeEvent / UnsubscribeEvent through the
official SDK; every event type received through the official Stream-mode SDK
(`dingtalk-stream`, unmodified) and through an HTTP callback receiver written
from DingTalk's published encryption; at-least-once delivery while a
receiver is down, de-duplicated by eventId, in order; and an event committed
before a SIGKILL still arrives after the restart."""

import signal
from dataclasses import replace
import threading
import time
from urllib.parse import quote_plus

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from conftest import ALL_SCOPES, provision, start_server
from drive import Drive
from event_receivers import VECTOR, CallbackReceiver, StreamReceiver, decrypt, sign, wait_for
from helpers import expect_error
from orgdrive_server import HttpError, call_json, http_json

AES_KEY = "a" * 20 + "B" * 20 + "c12"  # 43 characters of base64


def every_change(d, other_union_id):
    """One change of each kind in d's space; the (eventType, dentryId) each
    should produce, in order."""
    folder = d.add_folder("docs")
    f = d.upload(b"v1", "a.txt", folder.id)
    d.upload(b"version 2", "a.txt", folder.id, conflict="OVERWRITE")
    d.rename(f.id, "b.txt")
    d.move(f.id, "0")
    copy = d.copy(f.id, folder.id).dentry
    d.revert(f.id, 1)
    d.delete(copy.id, to_recycle_bin=True)
    d.restore(d.binned(copy.id).id)
    d.delete(copy.id)
    d.grant("0", "READER", ("USER", other_union_id))
    d.revoke("0", "READER", ("USER", other_union_id))
    return [
        ("storage_dentry_created", folder.id),
        ("storage_dentry_created", f.id),
        ("storage_dentry_version_added", f.id),
        ("storage_dentry_renamed", f.id),
        ("storage_dentry_moved", f.id),
        ("storage_dentry_copied", copy.id),
        ("storage_dentry_version_added", f.id),
        ("storage_dentry_recycled", copy.id),
        ("storage_dentry_restored", copy.id),
        ("storage_dentry_deleted", copy.id),
        ("storage_permission_changed", "0"),
        ("storage_permission_changed", "0"),
    ]


def kinds(payloads):
    return [(p["eventType"], p["dentryId"]) for p in payloads]


def first_seen(payloads):
    """Each eventId once, in order of first arrival (what a receiver keeps)."""
    seen, kept = set(), []
    for p in payloads:
        if p["eventId"] not in seen:
            seen.add(p["eventId"])
            kept.append(p)
    return kept


def other_user(server, tenant):
    return server.admin.create_user(tenant.corp_id, name="Bob", org_admin=False)["unionId"]


def register_callback(server, tenant, receiver, token="tok3n"):
    return server.admin.call("PUT", f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}/eventCallback",
                             {"url": receiver.url, "token": token, "aesKey": AES_KEY})


def test_subscribing_is_checked_and_idempotent(server, make_tenant):
    tenant = make_tenant(org_admin=False)
    d = Drive(server, tenant)  # the creator owns this USER space
    assert d.subscribe("SPACE").success and d.subscribe("SPACE").success
    assert d.subscribe("ORG").success
    assert d.unsubscribe("SPACE").success and d.unsubscribe("SPACE").success, "idempotent"
    expect_error(400, "paramError.scope", d.subscribe, "APP", "x")
    expect_error(400, "paramError.scopeId", d.subscribe, "ORG", "someOtherCorp")
    expect_error(400, "paramError.scopeId", d.subscribe, "SPACE", "999999999")
    status, _, body = d.storage_raw("POST", "/events/subscribe", {"scopeId": "x"})
    assert (status, body["code"]) == (400, "paramError.scope"), body
    # A space of the org the operator may not read: refused until granted.
    bob = make_tenant(corp_id=tenant.corp_id, org_admin=False)
    as_bob = Drive(server, bob, space_id=d.space_id)
    expect_error(403, "permissionDenied", as_bob.subscribe, "SPACE")
    d.grant("0", "READER", ("USER", bob.union_id))
    assert as_bob.subscribe("SPACE").success
    # Another org's space is not found; the scope Storage.Event.Write is required.
    stranger = Drive(server, make_tenant())
    expect_error(400, "paramError.scopeId", stranger.subscribe, "SPACE", d.space_id)
    limited = make_tenant(scopes=[s for s in ALL_SCOPES if s != "Storage.Event.Write"],
                          corp_id=tenant.corp_id, union_id=tenant.union_id)
    expect_error(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied",
                 Drive(server, limited, space_id=d.space_id).subscribe, "SPACE")


def test_every_event_type_arrives_through_the_stream_sdk(server, make_tenant, tmp_path):
    tenant = make_tenant()
    d = Drive(server, tenant)
    d.add_folder("before the subscription")
    d.subscribe("ORG")
    receiver = StreamReceiver(server, tenant, tmp_path / "events.jsonl")
    try:
        expected = every_change(d, other_user(server, tenant))
        got = wait_for(receiver.events, len(expected))
        time.sleep(0.5)
        got = receiver.events()
    finally:
        receiver.close()
    assert kinds([g["data"] for g in got]) == expected, "each once, in commit order, nothing older"
    for g in got:
        h, data = g["headers"], g["data"]
        assert h["eventId"] == data["eventId"] and h["eventType"] == data["eventType"]
        assert h["eventCorpId"] == tenant.corp_id and h["eventUnifiedAppId"] == tenant.app_id
        assert h["topic"] == data["eventType"] and h["eventBornTime"] == data["eventTime"]
        assert data["spaceId"] == d.space_id and data["operatorId"] == tenant.union_id
    by_kind = {(g["data"]["eventType"]): g["data"] for g in reversed(got)}
    renamed = by_kind["storage_dentry_renamed"]
    assert (renamed["name"], renamed["previousName"]) == ("b.txt", "a.txt")
    moved = by_kind["storage_dentry_moved"]
    assert moved["parentId"] == "0" and moved["previousParentId"] != "0"
    assert moved["previousSpaceId"] == d.space_id
    copied = by_kind["storage_dentry_copied"]
    assert copied["sourceDentryId"] == moved["dentryId"] and copied["type"] == "FILE"
    assert by_kind["storage_dentry_recycled"]["recycleItemId"]
    first_grant = [g["data"] for g in got][-2]
    assert (first_grant["memberType"], first_grant["roleId"]) == ("USER", "READER")
    assert "roleId" not in [g["data"] for g in got][-1], "revoked: no role"


def test_a_stream_receiver_that_fails_gets_the_event_again_in_order(server, make_tenant, tmp_path):
    tenant = make_tenant()
    d = Drive(server, tenant)
    d.subscribe("SPACE")
    # The SDK answers the first two deliveries with code 500: retried after backoff.
    receiver = StreamReceiver(server, tenant, tmp_path / "events.jsonl", fail_first=2)
    try:
        ids = [d.add_folder(f"f{i}").id for i in range(3)]
        got = wait_for(receiver.events, 3, timeout=40)
    finally:
        receiver.close()
    assert [g["data"]["dentryId"] for g in got] == ids


def test_only_subscribed_scopes_arrive_and_unsubscribing_stops_them(server, make_tenant, tmp_path):
    tenant = make_tenant()
    mine, other = Drive(server, tenant), Drive(server, tenant, scene_id="other")
    mine.subscribe("SPACE")
    receiver = StreamReceiver(server, tenant, tmp_path / "events.jsonl")
    try:
        other.add_folder("not subscribed")
        kept = mine.add_folder("subscribed").id
        wait_for(receiver.events, 1)
        mine.unsubscribe("SPACE")
        mine.add_folder("after unsubscribing")
        time.sleep(1.5)
        got = receiver.events()
    finally:
        receiver.close()
    assert [g["data"]["dentryId"] for g in got] == [kept]


def test_the_gateway_checks_credentials_and_tickets(server, tenant):
    url = f"{server.base_url}/v1.0/gateway/connections/open"
    status, _, body = http_json("POST", url, {"clientId": tenant.app_key, "clientSecret": "wrong"})
    assert status in (400, 401) and body["code"] == "InvalidAuthentication", body
    status, _, body = http_json("POST", url, {"clientSecret": "x"})
    assert (status, body["code"]) == (400, "paramError.clientId"), body
    opened = call_json("POST", url, {"clientId": tenant.app_key, "clientSecret": tenant.app_secret,
                                     "subscriptions": [{"type": "EVENT", "topic": "*"}]})
    assert opened["endpoint"] == f"ws://{server.endpoint}/v1.0/gateway/connections/stream"
    stream = opened["endpoint"].replace("ws://", "http://")
    # A ticket opens one connection.
    first = connect(f"{opened['endpoint']}?ticket={quote_plus(opened['ticket'])}")
    try:
        with pytest.raises(InvalidStatus) as again:
            connect(f"{opened['endpoint']}?ticket={quote_plus(opened['ticket'])}")
        assert again.value.response.status_code == 400
    finally:
        first.close()
    tampered = opened["ticket"][:-1] + ("1" if opened["ticket"].endswith("0") else "0")
    for ticket in ["", "forged", tampered]:
        status, _, body = http_json("GET", f"{stream}?ticket={ticket}",
                                    headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                             "Sec-WebSocket-Version": "13",
                                             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert status in (400, 401), (ticket, status, body)
        assert isinstance(body, dict) and body["code"] == "InvalidAuthentication", (ticket, status, body)


def test_the_callback_receiver_follows_the_published_format():
    v = VECTOR
    assert decrypt(v["aes_key"], v["encrypt"]) == ('{"EventType":"check_url"}', v["owner_key"])
    assert sign(v["token"], v["timestamp"], v["nonce"], v["encrypt"]) == v["signature"]


def test_every_event_type_arrives_through_an_http_callback(server, make_tenant):
    tenant = make_tenant()
    receiver = CallbackReceiver("tok3n", AES_KEY, tenant.app_key)
    try:
        shown = register_callback(server, tenant, receiver)
        assert shown["url"] == receiver.url and "token" not in shown and "aesKey" not in shown
        assert receiver.messages == [{"EventType": "check_url"}], "registered after check_url"
        d = Drive(server, tenant)
        d.subscribe("ORG")
        expected = every_change(d, other_user(server, tenant))
        got = wait_for(receiver.events, len(expected))
    finally:
        receiver.close()
    assert not receiver.bad
    assert kinds(got) == expected
    assert all(g["EventType"] == g["eventType"] for g in got)


def test_a_callback_that_does_not_answer_check_url_is_refused(server, tenant):
    receiver = CallbackReceiver("tok3n", AES_KEY, "not the app key")
    path = f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}/eventCallback"
    try:
        receiver.up = False
        status, _, body = server.admin.raw("PUT", path, {"url": receiver.url, "token": "t",
                                                         "aesKey": AES_KEY})
        assert (status, body["code"]) == (400, "paramError.url"), body
        for bad, field in [({"url": "https://x/cb"}, "url"), ({"token": ""}, "token"),
                           ({"aesKey": "short"}, "aesKey"), ({"url": "http://x/\u0000"}, "url")]:
            sent = {"url": receiver.url, "token": "t", "aesKey": AES_KEY, **bad}
            status, _, body = server.admin.raw("PUT", path, sent)
            assert (status, body["code"]) == (400, f"paramError.{field}"), (bad, body)
        status, _, body = server.admin.raw("GET", path)
        assert status == 404 or body.get("code", "").startswith("paramError"), body
    finally:
        receiver.close()


def test_a_receiver_down_for_a_while_gets_everything_after(server, make_tenant):
    tenant = make_tenant()
    receiver = CallbackReceiver("tok3n", AES_KEY, tenant.app_key)
    try:
        register_callback(server, tenant, receiver)
        d = Drive(server, tenant)
        d.subscribe("SPACE")
        receiver.up = False
        ids = [d.add_folder(f"f{i}").id for i in range(5)]
        deadline = time.time() + 20
        while receiver.refused < 3 and time.time() < deadline:
            time.sleep(0.1)
        assert receiver.refused >= 3, "retried while down"
        assert receiver.events() == []
        receiver.up = True
        got = wait_for(receiver.events, 5, timeout=60)
    finally:
        receiver.close()
    kept = first_seen(got)
    assert [p["dentryId"] for p in kept] == ids, "every event, once per eventId, in order"


def test_an_event_committed_before_a_sigkill_arrives_after_the_restart(tmp_path):
    server = start_server(tmp_path / "node")
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        d.subscribe("SPACE")
        ids = [d.add_folder(f"f{i}").id for i in range(3)]
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server.start()
        receiver = StreamReceiver(server, tenant, tmp_path / "events.jsonl")
        try:
            got = wait_for(receiver.events, 3, timeout=40)
        finally:
            receiver.close()
        assert [p["dentryId"] for p in first_seen([g["data"] for g in got])] == ids
    finally:
        server.stop()


def test_admin_callback_calls_name_real_apps(server, tenant):
    try:
        server.admin.call("PUT", f"/orgs/{tenant.corp_id}/apps/nope/eventCallback",
                          {"url": "http://127.0.0.1:9/x", "token": "t", "aesKey": AES_KEY})
        raise AssertionError("an unknown app got a callback")
    except HttpError as e:
        assert e.status in (400, 404), e


def open_ticket(server, tenant):
    opened = call_json("POST", f"{server.base_url}/v1.0/gateway/connections/open",
                       {"clientId": tenant.app_key, "clientSecret": tenant.app_secret,
                        "subscriptions": [{"type": "EVENT", "topic": "*"}]})
    return f"{opened['endpoint']}?ticket={quote_plus(opened['ticket'])}"


def test_rotating_the_secret_closes_the_apps_streams_and_refuses_older_tickets(server, make_tenant):
    tenant = make_tenant()
    open_stream = connect(open_ticket(server, tenant), open_timeout=10)
    unused = open_ticket(server, tenant)
    time.sleep(0.01)  # the rotation comes after the tickets, in another millisecond
    rotated = server.admin.call("POST", f"/orgs/{tenant.corp_id}/apps/{tenant.app_id}/secret")
    try:
        with pytest.raises(ConnectionClosed):
            for _ in range(10):  # pings may come first
                open_stream.recv(timeout=5)
    finally:
        open_stream.close()
    with pytest.raises(InvalidStatus) as refused:
        connect(unused, open_timeout=10)
    assert refused.value.response.status_code in (400, 401)
    status, _, body = http_json("POST", f"{server.base_url}/v1.0/gateway/connections/open",
                                {"clientId": tenant.app_key, "clientSecret": tenant.app_secret})
    assert body["code"] == "InvalidAuthentication", (status, body)
    fresh = connect(open_ticket(server, replace(tenant, app_secret=rotated["appSecret"])), open_timeout=10)
    fresh.close()


def test_racing_handshakes_cannot_pass_the_per_app_cap(server, tenant):
    urls = [open_ticket(server, tenant) for _ in range(24)]
    opened, refused, lock = [], [], threading.Lock()

    def attempt(url):
        try:
            ws = connect(url, open_timeout=10)
            with lock:
                opened.append(ws)
        except InvalidStatus as e:
            with lock:
                refused.append(e.response.status_code)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert len(opened) == 8 and refused == [429] * 16, (len(opened), refused)
    finally:
        for ws in opened:
            ws.close()
    time.sleep(0.5)
    again = connect(open_ticket(server, tenant), open_timeout=10)  # places come back
    again.close()


def test_open_websockets_count_against_the_connection_caps(tmp_path):
    server = start_server(tmp_path / "node", ["--max-connections-per-ip", "3"])
    try:
        tenant = provision(server)
        urls = [open_ticket(server, tenant) for _ in range(4)]
        time.sleep(0.5)  # the server has seen the ticket calls' connections close
        sockets = []
        try:
            for url in urls:
                try:
                    sockets.append(connect(url, open_timeout=10))
                except (InvalidMessage, ConnectionClosedError, OSError):
                    break
            # Upgraded connections keep their places (other places may be held
            # by the provisioning's pooled connections).
            assert 1 <= len(sockets) <= 3, len(sockets)
            try:
                status, _, _ = http_json("GET", f"{server.base_url}/openapi.json", timeout=5)
                raise AssertionError(f"a connection over the cap was served ({status})")
            except OSError:
                pass
        finally:
            for ws in sockets:
                ws.close()
        time.sleep(0.5)
        status, _, _ = http_json("GET", f"{server.base_url}/openapi.json")
        assert status == 200, "the places came back"
    finally:
        server.stop()


def test_subscribing_again_follows_the_new_subscriber(server, make_tenant):
    owner = make_tenant(org_admin=False)
    d = Drive(server, owner)
    bob = make_tenant(corp_id=owner.corp_id, org_admin=False)
    receiver = CallbackReceiver("tok3n", AES_KEY, bob.app_key)
    try:
        register_callback(server, bob, receiver)
        as_bob = Drive(server, bob, space_id=d.space_id)
        d.grant("0", "READER", ("USER", bob.union_id))
        as_bob.subscribe("SPACE")
        first = d.add_folder("seen").id
        wait_for(receiver.events, 1)
        d.revoke("0", "READER", ("USER", bob.union_id))
        d.add_folder("not seen: bob may no longer read")
        time.sleep(1)
        # The space's owner subscribes bob's app again: it follows the owner now.
        owner_via_bobs_app = Drive(server, replace(bob, union_id=owner.union_id), space_id=d.space_id)
        owner_via_bobs_app.subscribe("SPACE")
        last = d.add_folder("seen again").id
        wait_for(receiver.events, 2)
        time.sleep(0.5)
    finally:
        receiver.close()
    assert [e["dentryId"] for e in receiver.events()] == [first, last]
