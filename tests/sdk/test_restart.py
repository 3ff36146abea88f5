"""Data and tokens survive a restart of the server process."""

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import Server, add_space, get_token, runtime, storage_client


def test_space_survives_restart(tmp_path):
    server = Server(tmp_path / "data")
    server.start()
    try:
        org = server.admin("POST", "/orgs", {"name": "Durable"})
        app = server.admin("POST", f"/orgs/{org['corpId']}/apps",
                           {"name": "a", "scopes": ["Storage.Space.Write", "Storage.Space.Read"]})
        user = server.admin("POST", f"/orgs/{org['corpId']}/users", {"name": "u"})
        token = get_token(server, app["appKey"], app["appSecret"]).access_token

        class T:  # the minimum add_space needs
            union_id = user["unionId"]

            @staticmethod
            def headers(cls, tok=None):
                h = cls()
                h.x_acs_dingtalk_access_token = tok or token
                return h

        created = add_space(storage_client(server), T, m.AddSpaceRequestOption(name="kept", quota=4096)).body.space
        server.stop()
        server.start()
        client = storage_client(server)
        got = client.get_space_with_options(
            created.id, m.GetSpaceRequest(union_id=user["unionId"]), T.headers(m.GetSpaceHeaders), runtime())
        assert got.body.space.to_map() == created.to_map()
        # Still idempotent after the restart.
        again = add_space(client, T, m.AddSpaceRequestOption(name="other")).body.space
        assert again.id == created.id
    finally:
        server.stop()
