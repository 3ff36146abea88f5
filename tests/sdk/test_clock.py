"""The test clock (`--allow-clock-control`, README "Configuration"): the admin
API moves the server's clock forward, so that expiry — access tokens, signed
URLs — is tested without waiting; refused unless the server was started with it.
Each test runs a server of its own (the clock is the server process's)."""

import pytest
from conftest import provision, start_server
from drive import Drive, get
from helpers import expect_error, expect_http_error
from orgdrive_server import http_json


def clock(server, method="GET", body=None):
    path = "/admin/v1/clock" + ("/advance" if method == "POST" else "")
    return http_json(method, f"{server.admin_base_url}{path}", body,
                     {"Authorization": f"Bearer {server.admin_token}"})


@pytest.mark.embedded
def test_moving_the_clock_expires_tokens_and_signed_urls(tmp_path):
    server = start_server(tmp_path, ["--allow-clock-control"])
    try:
        d = Drive(server, provision(server))
        f = d.upload(b"ticking", "t.txt")
        url = d.download_info(f.id).header_signature_info.resource_urls[0]
        status, _, before = clock(server)
        assert status == 200 and before["offsetSeconds"] == 0
        # The signed URL (900 s) expires; the token (7200 s) still works.
        status, _, after = clock(server, "POST", {"seconds": 901})
        assert status == 200 and after["offsetSeconds"] == 901, after
        assert after["nowMs"] >= before["nowMs"] + 901_000
        expect_http_error(403, "signatureExpired", get(url))
        assert d.space().id == d.space_id
        fresh = d.download_info(f.id).header_signature_info.resource_urls[0]
        assert get(fresh)[2] == b"ticking", "a URL issued after the move is valid"
        # Past the token's 7200 s: every call with it is refused.
        assert clock(server, "POST", {"seconds": 7200})[0] == 200
        expect_error(400, "InvalidAuthentication", d.space)
        for bad in ({"seconds": -1}, {"seconds": 10**12}):
            status, _, body = clock(server, "POST", bad)
            assert (status, body["code"]) == (400, "paramError.seconds"), body
    finally:
        server.stop()


def test_the_clock_stays_put_without_the_flag(tmp_path):
    server = start_server(tmp_path)
    try:
        status, _, body = clock(server, "POST", {"seconds": 60})
        assert (status, body["code"]) == (403, "permissionDenied"), body
        status, _, now = clock(server)
        assert status == 200 and now["offsetSeconds"] == 0
        status, _, body = http_json("POST", f"{server.admin_base_url}/admin/v1/clock/advance",
                                    {"seconds": 60})
        assert status == 401 or status == 403, (status, body)
    finally:
        server.stop()
