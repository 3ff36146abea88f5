"""Data and tokens survive a restart of the server process."""

from alibabacloud_dingtalk.storage_1_0 import models as m

from conftest import add_space, provision, runtime, start_server, storage_client


def test_space_survives_restart(tmp_path):
    server = start_server(tmp_path)
    try:
        tenant = provision(server, scopes=["Storage.Space.Write", "Storage.Space.Read"])
        created = add_space(storage_client(server), tenant,
                            m.AddSpaceRequestOption(name="kept", quota=4096)).body.space
        server.stop()
        server.start()
        client = storage_client(server)
        got = client.get_space_with_options(
            created.id, m.GetSpaceRequest(union_id=tenant.union_id),
            tenant.headers(m.GetSpaceHeaders), runtime())
        # Same space, and the token issued before the restart still works.
        assert got.body.space.to_map() == created.to_map()
        # Still idempotent after the restart.
        again = add_space(client, tenant, m.AddSpaceRequestOption(name="other")).body.space
        assert again.id == created.id
    finally:
        server.stop()
