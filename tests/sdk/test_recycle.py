"""The recycle bin: DeleteDentry(s) to the bin or for good, GetRecycleBin for
each scope, ListRecycleItems paging, GetRecycleItem, RestoreRecycleItem(s),
DeleteRecycleItem(s), ClearRecycleBin, and the quota and disk bytes each
frees."""

import pytest
import os
import time

from conftest import provision, start_server
from drive import Drive, blob_bytes
from helpers import ISO_8601_UTC, expect_error, expect_http_error

MISSING = "999999999"


def test_delete_to_the_bin_and_restore_round_trip(server, tenant):
    d = Drive(server, tenant)
    docs = d.add_folder("docs")
    data = os.urandom(10_000)
    f = d.upload(data, "a.bin", parent_id=docs.id)
    deleted = d.delete(f.id, to_recycle_bin=True)
    assert (deleted.async_, deleted.task_id) == (False, None), "a file is deleted at once"
    expect_error(400, "paramError.dentryId", d.get, f.id)
    assert d.walk(docs.id)[0] == []
    assert d.space().used_quota == len(data), "binned bytes count until purged"

    recycle_bin = d.recycle_bin()
    assert (recycle_bin.scope, recycle_bin.scope_id) == ("SPACE", d.space_id) and recycle_bin.id
    items, _ = d.all_recycle_items(recycle_bin.id)
    assert len(items) == 1
    item = items[0]
    assert (item.space_id, item.dentry_id, item.type, item.size) == (d.space_id, f.id, "FILE", len(data))
    assert (item.original_name, item.original_path) == ("a.bin", "/docs/a.bin")
    assert item.operator_id == tenant.union_id and ISO_8601_UTC.match(item.operator_time)
    assert item.id
    assert d.recycle_item(item.id, recycle_bin.id).to_map() == item.to_map()

    restored = d.restore(item.id, recycle_bin.id)
    assert (restored.async_, restored.task_id, restored.space_id) == (False, None, d.space_id)
    back = d.get(restored.dentry_id)
    assert (back.uuid, back.path, back.size, back.name) == (f.uuid, "/docs/a.bin", len(data), "a.bin")
    assert d.download(restored.dentry_id)[2] == data
    assert d.all_recycle_items(recycle_bin.id)[0] == []
    expect_error(400, "paramError.recycleItemId", d.recycle_item, item.id, recycle_bin.id)
    expect_error(400, "paramError.recycleItemId", d.restore, item.id, recycle_bin.id)
    assert d.space().used_quota == len(data)


def test_a_folder_with_children_goes_to_the_bin_and_back_as_a_task(server, tenant):
    d = Drive(server, tenant)
    folder = d.add_folder("project")
    sub = d.add_folder("sub", parent_id=folder.id)
    files = {d.upload(bytes([65 + i]) * (i + 1), f"{i}.txt", parent_id=sub.id).id: i + 1 for i in range(3)}
    deleted = d.delete(folder.id, to_recycle_bin=True)
    assert deleted.async_ is True and deleted.task_id
    assert d.wait_task(deleted.task_id).status == "SUCCESS"
    assert d.walk()[0] == []
    item = d.binned(folder.id)
    assert (item.type, item.size, item.original_path) == ("FOLDER", 6, "/project")
    assert len(d.all_recycle_items()[0]) == 1, "one item for the folder and what was under it"

    restored = d.restore(item.id)
    assert restored.async_ is True and restored.task_id
    assert (restored.space_id, restored.dentry_id) == (d.space_id, folder.id)
    assert d.wait_task(restored.task_id).status == "SUCCESS"
    assert sorted(e.name for e in d.walk(sub.id)[0]) == ["0.txt", "1.txt", "2.txt"]
    for dentry_id, size in files.items():
        assert d.get(dentry_id).size == size
    # An empty folder goes to the bin and back at once.
    empty = d.add_folder("empty")
    assert d.delete(empty.id, to_recycle_bin=True).async_ is False
    assert d.restore(d.binned(empty.id).id).async_ is False


def test_recycle_bins_of_each_scope(server, tenant):
    d = Drive(server, tenant)
    other = Drive(server, tenant, scene_id="2")
    space_bin = d.recycle_bin("SPACE", d.space_id)
    other_bin = other.recycle_bin("SPACE", other.space_id)
    app_bin = d.recycle_bin("APP", tenant.app_id)
    org_bin = d.recycle_bin("ORG", tenant.corp_id)
    assert [(b.scope, b.scope_id) for b in (space_bin, other_bin, app_bin, org_bin)] == [
        ("SPACE", d.space_id), ("SPACE", other.space_id), ("APP", tenant.app_id), ("ORG", tenant.corp_id)]
    assert len({space_bin.id, other_bin.id, app_bin.id, org_bin.id}) == 4
    # The same scope answers the same bin.
    assert d.recycle_bin("SPACE", d.space_id).to_map() == space_bin.to_map()
    assert d.recycle_bin("ORG", tenant.corp_id).id == org_bin.id

    mine = d.upload(b"mine", "mine.txt")
    theirs = other.upload(b"theirs", "theirs.txt")
    d.delete(mine.id, to_recycle_bin=True)
    other.delete(theirs.id, to_recycle_bin=True)

    def binned(bin_id):
        return sorted(i.dentry_id for i in d.all_recycle_items(bin_id)[0])

    assert binned(space_bin.id) == [mine.id]
    assert binned(other_bin.id) == [theirs.id]
    # The app's and the org's bins show the items of every space they cover.
    assert binned(app_bin.id) == sorted([mine.id, theirs.id])
    assert binned(org_bin.id) == sorted([mine.id, theirs.id])
    item = d.binned(mine.id)
    assert d.recycle_item(item.id, org_bin.id).to_map() == item.to_map()
    expect_error(400, "paramError.recycleItemId", d.recycle_item, item.id, other_bin.id)

    expect_error(400, "paramError.recycleBinScope", d.recycle_bin, "GROUP", d.space_id)
    for call in (d.recycle_items, d.clear):
        expect_error(400, "paramError.recycleBinId", call, MISSING)
    expect_error(400, "paramError.recycleBinId", d.recycle_item, item.id, MISSING)
    expect_error(400, "paramError.recycleBinId", d.restore, item.id, MISSING)
    expect_error(400, "paramError.recycleBinId", d.purge, item.id, MISSING)


def test_list_recycle_items_in_pages(server, tenant):
    d = Drive(server, tenant)
    ids = []
    for i in range(7):
        f = d.upload(b"x" * i, f"{i}.txt")
        d.delete(f.id, to_recycle_bin=True)
        ids.append(f.id)
    items, pages = d.all_recycle_items(page_size=3)
    assert sorted(i.dentry_id for i in items) == sorted(ids), "each item once"
    assert len({i.id for i in items}) == 7 and pages >= 3
    first = d.recycle_items(max_results=3)
    assert 0 < len(first.recycle_items) <= 3 and first.next_token
    whole = d.recycle_items()
    assert len(whole.recycle_items) == 7 and not whole.next_token, "the default page holds 50"
    assert sorted(i.id for i in whole.recycle_items) == sorted(i.id for i in items)


def test_restore_when_the_original_folder_is_gone_lands_at_the_root(server, tenant):
    d = Drive(server, tenant)
    folder = d.add_folder("gone")
    f = d.upload(b"orphan", "orphan.txt", parent_id=folder.id)
    d.delete(f.id, to_recycle_bin=True)
    assert d.delete(folder.id).async_ is False, "an empty folder is deleted at once"
    item = d.binned(f.id)
    assert item.original_path == "/gone/orphan.txt"
    restored = d.restore(item.id)
    back = d.get(restored.dentry_id)
    assert (back.parent_id, back.path, back.uuid) == ("0", "/orphan.txt", f.uuid)
    assert d.download(restored.dentry_id)[2] == b"orphan"
    # Also when the folder itself is in the bin.
    folder = d.add_folder("binned")
    g = d.upload(b"g", "g.txt", parent_id=folder.id)
    d.delete(g.id, to_recycle_bin=True)
    d.delete(folder.id, to_recycle_bin=True)
    assert d.get(d.restore(d.binned(g.id).id).dentry_id).path == "/g.txt"


def test_restore_items_in_a_batch(server, tenant):
    d = Drive(server, tenant)
    bin_id = d.bin_id
    f = d.upload(b"f", "f.txt")
    d.delete(f.id, to_recycle_bin=True)
    item = d.binned(f.id)
    results = d.restores([item.id, MISSING], bin_id)
    assert [r.recycle_item_id for r in results] == [item.id, MISSING]
    assert all(r.recycle_bin_id == bin_id for r in results)
    ok, missing = results
    assert (ok.success, ok.error_code, ok.async_, ok.task_id) == (True, None, False, None)
    assert (ok.space_id, ok.dentry_id) == (d.space_id, f.id)
    assert d.get(ok.dentry_id).uuid == f.uuid
    assert (missing.success, missing.error_code, missing.async_) == (False, "paramError.recycleItemId", False)
    assert missing.space_id is None and missing.dentry_id is None

    # A folder with children restores as a task.
    folder = d.add_folder("tree")
    d.upload(b"leaf", "leaf.txt", parent_id=folder.id)
    assert d.settle(d.delete(folder.id, to_recycle_bin=True))
    [item] = d.restores([d.binned(folder.id).id], conflict="RETURN_ERROR_IF_EXISTS")
    assert (item.async_, item.success, item.error_code) == (True, None, None), item.to_map()
    assert (item.space_id, item.dentry_id) == (d.space_id, folder.id) and item.task_id
    assert d.wait_task(item.task_id).status == "SUCCESS"
    assert [e.name for e in d.walk(folder.id)[0]] == ["leaf.txt"]

    many = [str(900000 + i) for i in range(51)]
    expect_error(400, "paramError.recycleItemIds", d.restores, many[:31])
    expect_error(400, "paramError.recycleItemIds", d.restores, [])
    assert [r.error_code for r in d.restores(many[:30])] == ["paramError.recycleItemId"] * 30


def test_purge_items_one_by_one_and_in_a_batch(server, tenant):
    d = Drive(server, tenant)
    files = [d.upload(b"z" * 100, f"{i}.bin") for i in range(3)]
    for f in files:
        d.delete(f.id, to_recycle_bin=True)
    assert d.space().used_quota == 300
    items = [d.binned(f.id) for f in files]

    assert d.purge(items[0].id).success is True
    expect_error(400, "paramError.recycleItemId", d.recycle_item, items[0].id)
    expect_error(400, "paramError.recycleItemId", d.restore, items[0].id)
    expect_error(400, "paramError.recycleItemId", d.purge, items[0].id)
    assert d.space().used_quota == 200

    # Unknown ids are ignored.
    assert d.purges([items[1].id, items[2].id, MISSING]).success is True
    assert d.all_recycle_items()[0] == []
    assert d.space().used_quota == 0
    assert d.purges([MISSING]).success is True

    many = [str(900000 + i) for i in range(51)]
    expect_error(400, "paramError.recycleItemIds", d.purges, many)
    assert d.purges(many[:50]).success is True


@pytest.mark.embedded
def test_clear_recycle_bin_frees_quota_and_disk(tmp_path):
    server = start_server(tmp_path)
    try:
        tenant = provision(server)
        d = Drive(server, tenant)
        keep = d.upload(b"kept", "keep.txt")
        big = d.upload(os.urandom(1 << 20), "big.bin")
        folder = d.add_folder("folder")
        for i in range(2):
            d.upload(os.urandom(100_000), f"{i}.bin", parent_id=folder.id)
        d.delete(big.id, to_recycle_bin=True)
        d.settle(d.delete(folder.id, to_recycle_bin=True))
        total = 4 + (1 << 20) + 200_000
        assert d.space().used_quota == total, "binned bytes count until purged"
        on_disk = blob_bytes(server.data_dir)
        assert on_disk >= total

        assert d.clear().success is True
        assert d.all_recycle_items()[0] == []
        assert d.space().used_quota == 4
        deadline = time.time() + 10
        while blob_bytes(server.data_dir) > on_disk - (total - 4) and time.time() < deadline:
            time.sleep(0.1)
        assert blob_bytes(server.data_dir) <= on_disk - (total - 4), "the purged contents left the disk"
        assert d.download(keep.id)[2] == b"kept"
        expect_error(400, "paramError.dentryId", d.get, big.id)

        # Empty: clearing again is fine, with no body, an empty body or `{}`.
        assert d.clear().success is True
        for body in (None, b"", {}):
            status, _, reply = d.storage_raw("POST", f"/recycleBins/{d.bin_id}/clear", body)
            assert (status, reply) == (200, {"success": True})
        status, headers, reply = d.storage_raw("POST", f"/recycleBins/{d.bin_id}/clear", [])
        expect_http_error(400, "paramError", (status, headers, reply))
    finally:
        server.stop()


def test_permanent_delete_frees_quota_at_once(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"p" * 1000, "p.bin")
    assert d.space().used_quota == 1000
    deleted = d.delete(f.id)
    assert (deleted.async_, deleted.task_id) == (False, None)
    assert d.space().used_quota == 0, "permanent is the default"
    expect_error(400, "paramError.dentryId", d.get, f.id)
    assert d.all_recycle_items()[0] == []

    g = d.upload(b"g" * 10, "g.bin", conflict="OVERWRITE")
    d.upload(b"g" * 20, "g.bin", conflict="OVERWRITE")
    assert d.space().used_quota == 30, "history counts"
    assert d.delete(g.id, to_recycle_bin=False).async_ is False
    assert d.space().used_quota == 0, "and goes with the file"
    assert d.all_recycle_items()[0] == []

    h = d.upload(b"h" * 10, "h.bin")
    assert d.delete(h.id, to_recycle_bin=True).async_ is False
    assert d.space().used_quota == 10
    assert d.binned(h.id).size == 10


def test_to_recycle_bin_is_a_case_insensitive_query_boolean(server, tenant):
    """The Python SDK sends `True`/`False`; other clients `true`/`false`."""
    d = Drive(server, tenant)
    for value, binned in [("true", True), ("TRUE", True), ("false", False), ("False", False)]:
        f = d.upload(b"q", f"{value}.txt")
        status, _, reply = d.raw("DELETE", f"/dentries/{f.id}", toRecycleBin=value)
        assert (status, reply) == (200, {"async": False}), (value, reply)
        assert any(i.dentry_id == f.id for i in d.all_recycle_items()[0]) == binned, value
    f = d.upload(b"q", "maybe.txt")
    expect_http_error(400, "paramError.toRecycleBin", d.raw("DELETE", f"/dentries/{f.id}", toRecycleBin="maybe"))
    assert d.get(f.id).name == "maybe.txt"
