"""RenameDentry, MoveDentry(s), CopyDentry(s), DeleteDentry(s) and GetTask:
names, conflict strategies (on move, copy and restore), moves and copies
within and across spaces with the quota of both, what runs at once and what
as a task, batches with per-item results and their limits."""

from concurrent.futures import ThreadPoolExecutor

from drive import Drive
from helpers import ISO_8601_UTC, expect_error

MISSING = "999999999"


def fill(server, tenant, space_id, parent_id, folders, files_each):
    """`folders` folders under `parent_id`, each with `files_each` small files
    (distinct contents); returns the total bytes of the files."""
    d = Drive(server, tenant, space_id)
    made = [d.add_folder(f"sub{i:02}", parent_id=parent_id) for i in range(folders)]

    def upload(job):
        folder, k = job
        data = f"{folder.name}/{k}".encode()
        Drive(server, tenant, space_id).upload(data, f"f{k:03}.txt", parent_id=folder.id)
        return len(data)

    jobs = [(folder, k) for folder in made for k in range(files_each)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(upload, jobs))


def paths(d):
    """Paths of every dentry of the space (ListAllDentries), sorted."""
    return sorted(e.path for e in d.all_entries())


# ---- RenameDentry -----------------------------------------------------------------

def test_rename_file_and_folder(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"hello", "a.txt")
    renamed = d.rename(f.id, "  picture.png ")
    assert (renamed.id, renamed.uuid, renamed.name, renamed.path) == (f.id, f.uuid, "picture.png", "/picture.png")
    assert (renamed.extension, renamed.size, renamed.version) == ("png", 5, 1)
    assert renamed.modifier_id == tenant.union_id and ISO_8601_UTC.match(renamed.modified_time)
    assert d.get(f.id).to_map() == renamed.to_map()
    # The category follows the extension (ListDentries carries it).
    listed = {e.id: e for e in d.walk()[0]}
    assert (listed[f.id].name, listed[f.id].category) == ("picture.png", "IMAGE")
    assert d.rename(f.id, "notes").extension is None
    assert {e.id: e for e in d.walk()[0]}[f.id].category == "OTHER"
    assert d.download(f.id)[2] == b"hello"

    # A folder: its subtree's paths follow.
    docs = d.add_folder("Docs")
    inner = d.add_folder("2024", parent_id=docs.id)
    g = d.upload(b"x", "g.md", parent_id=inner.id)
    papers = d.rename(docs.id, "Papers")
    assert (papers.id, papers.type, papers.path) == (docs.id, "FOLDER", "/Papers")
    assert d.get(g.id).path == "/Papers/2024/g.md"
    assert d.get(inner.id).path == "/Papers/2024"
    # Its own name again: nothing to rename, no conflict.
    assert d.rename(docs.id, "Papers").name == "Papers"


def test_rename_refusals(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"1", "a.txt")
    taken = d.upload(b"2", "taken.txt")
    folder = d.add_folder("Folder")
    expect_error(400, "paramError.name", d.rename, f.id, "taken.txt")
    expect_error(400, "paramError.name", d.rename, f.id, "Folder")
    expect_error(400, "paramError.name", d.rename, folder.id, "taken.txt")
    expect_error(403, "permissionDenied", d.rename, "0", "root")
    expect_error(400, "paramError.dentryId", d.rename, MISSING, "x.txt")
    for bad in ["a*b", "\u00a0", "a\u202eb.txt"]:
        expect_error(400, "paramError.newName", d.rename, f.id, bad)
    # Nothing changed.
    assert sorted(e.name for e in d.walk()[0]) == ["Folder", "a.txt", "taken.txt"]
    assert d.get(taken.id).name == "taken.txt"


# ---- MoveDentry / CopyDentry ------------------------------------------------------

def test_move_within_a_space_keeps_ids_and_runs_at_once(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"abc", "a.txt")
    dest = d.add_folder("dest")
    moved = d.move(f.id, dest.id)
    assert (moved.async_, moved.task_id) == (False, None)
    assert (moved.dentry.id, moved.dentry.uuid, moved.dentry.space_id) == (f.id, f.uuid, d.space_id)
    assert (moved.dentry.parent_id, moved.dentry.path, moved.dentry.name) == (dest.id, "/dest/a.txt", "a.txt")
    assert d.get(f.id).path == "/dest/a.txt"
    # A folder with children moves at once within its space; the subtree follows.
    tree = d.add_folder("tree")
    leaf = d.upload(b"leaf", "leaf.txt", parent_id=d.add_folder("branch", parent_id=tree.id).id)
    moved = d.move(tree.id, dest.id)
    assert (moved.async_, moved.task_id, moved.dentry.path) == (False, None, "/dest/tree")
    assert d.get(leaf.id).path == "/dest/tree/branch/leaf.txt"
    # To the folder it is in, under its own name: no conflict, no rename.
    again = d.move(f.id, dest.id)
    assert (again.dentry.id, again.dentry.name) == (f.id, "a.txt")
    assert d.space().used_quota == 3 + 4
    assert d.download(f.id)[2] == b"abc"


def test_move_and_copy_across_spaces_charge_the_right_space(server, tenant):
    a = Drive(server, tenant)
    b = Drive(server, tenant, scene_id="2")
    data = b"x" * 100
    f = a.upload(data, "report.pdf")
    assert (a.space().used_quota, b.space().used_quota) == (100, 0)

    moved = a.move(f.id, "0", target_space_id=b.space_id)
    assert (moved.async_, moved.task_id) == (False, None), "a file moves at once"
    assert (moved.dentry.uuid, moved.dentry.id, moved.dentry.space_id) == (f.uuid, f.id, b.space_id)
    assert moved.dentry.path == "/report.pdf"
    assert (a.space().used_quota, b.space().used_quota) == (0, 100)
    expect_error(400, "paramError.dentryId", a.get, f.id)
    assert b.get(f.id).uuid == f.uuid
    assert b.download(f.id)[2] == data

    copied = b.copy(f.id, "0", target_space_id=a.space_id)
    assert (copied.async_, copied.task_id) == (False, None), "a file copies at once"
    c = copied.dentry
    assert c.id != f.id and c.uuid != f.uuid, "a copy has ids of its own"
    assert (c.space_id, c.name, c.size, c.version) == (a.space_id, "report.pdf", 100, 1)
    assert (a.space().used_quota, b.space().used_quota) == (100, 100), "a copy is charged to its space"
    assert a.download(c.id)[2] == data and b.download(f.id)[2] == data

    # An empty folder moves and copies at once too.
    empty = a.add_folder("empty")
    assert a.move(empty.id, "0", target_space_id=b.space_id).async_ is False
    assert b.copy(empty.id, "0", target_space_id=a.space_id).async_ is False
    assert sorted(e.name for e in a.walk()[0]) == ["empty", "report.pdf"]
    assert sorted(e.name for e in b.walk()[0]) == ["empty", "report.pdf"]


def test_copy_within_a_space(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"12345", "a.txt")
    same = d.copy(f.id, "0")
    assert (same.async_, same.dentry.name, same.dentry.parent_id) == (False, "a(1).txt", "0")
    assert same.dentry.id != f.id and same.dentry.uuid != f.uuid
    assert d.space().used_quota == 10
    assert d.download(same.dentry.id)[2] == b"12345"
    # The copy has no history: version 1, whatever the source's.
    d.upload(b"v2", "a.txt", conflict="OVERWRITE")
    copy2 = d.copy(f.id, d.add_folder("dir").id).dentry
    assert (copy2.version, copy2.size, copy2.path) == (1, 2, "/dir/a.txt")


def test_conflict_strategies_on_move(server, tenant):
    d = Drive(server, tenant)
    x = d.add_folder("X")
    old = d.upload(b"old", "a.txt", parent_id=x.id)

    def incoming():
        return d.upload(b"new!", "a.txt")

    renamed = d.move(incoming().id, x.id)
    assert renamed.dentry.name == "a(1).txt", "AUTO_RENAME is the default"
    assert d.move(incoming().id, x.id, conflict="AUTO_RENAME").dentry.name == "a(2).txt"

    source = incoming()
    existing = d.move(source.id, x.id, conflict="RETURN_DENTRY_IF_EXISTS")
    assert (existing.async_, existing.dentry.id, existing.dentry.parent_id) == (False, old.id, x.id)
    assert d.get(source.id).parent_id == "0", "the source stays where it was"

    expect_error(400, "paramError.name", d.move, source.id, x.id, conflict="RETURN_ERROR_IF_EXISTS")
    assert d.get(source.id).parent_id == "0"

    used = d.space().used_quota
    over = d.move(source.id, x.id, conflict="OVERWRITE")
    assert (over.dentry.id, over.dentry.name, over.dentry.parent_id) == (source.id, "a.txt", x.id)
    assert d.download(source.id)[2] == b"new!"
    expect_error(400, "paramError.dentryId", d.get, old.id)
    # The replaced file went to the recycle bin: still counted, recoverable.
    item = d.binned(old.id)
    assert (item.original_name, item.original_path, item.size) == ("a.txt", "/X/a.txt", 3)
    assert d.space().used_quota == used
    back = d.restore(item.id)
    assert d.get(back.dentry_id).name == "a(3).txt"
    assert d.download(back.dentry_id)[2] == b"old"

    # A folder never overwrites nor is overwritten.
    d.add_folder("F", parent_id=x.id)
    folder = d.add_folder("F")
    expect_error(400, "paramError.name", d.move, folder.id, x.id, conflict="OVERWRITE")
    file_f = d.upload(b"f", "F", parent_id=d.add_folder("elsewhere").id)
    expect_error(400, "paramError.name", d.move, file_f.id, x.id, conflict="OVERWRITE")
    expect_error(400, "paramError.conflictStrategy", d.move, folder.id, x.id, conflict="REPLACE")


def test_conflict_strategies_on_copy(server, tenant):
    d = Drive(server, tenant)
    x = d.add_folder("X")
    old = d.upload(b"old", "a.txt", parent_id=x.id)
    source = d.upload(b"new!", "a.txt")
    assert d.space().used_quota == 7

    assert d.copy(source.id, x.id).dentry.name == "a(1).txt"
    assert d.copy(source.id, x.id, conflict="AUTO_RENAME").dentry.name == "a(2).txt"
    assert d.space().used_quota == 15

    existing = d.copy(source.id, x.id, conflict="RETURN_DENTRY_IF_EXISTS")
    assert (existing.async_, existing.dentry.id) == (False, old.id)
    assert d.space().used_quota == 15, "nothing was copied"

    expect_error(400, "paramError.name", d.copy, source.id, x.id, conflict="RETURN_ERROR_IF_EXISTS")
    assert d.space().used_quota == 15

    over = d.copy(source.id, x.id, conflict="OVERWRITE").dentry
    assert over.id not in (source.id, old.id) and (over.name, over.parent_id) == ("a.txt", x.id)
    assert d.download(over.id)[2] == b"new!"
    item = d.binned(old.id)
    assert (item.original_name, item.original_path) == ("a.txt", "/X/a.txt")
    assert d.space().used_quota == 19, "the copy is charged; the binned file still counts"
    assert sorted(e.name for e in d.walk(x.id)[0]) == ["a(1).txt", "a(2).txt", "a.txt"]


def test_conflict_strategies_on_restore(server, tenant):
    d = Drive(server, tenant)

    def case(name):
        """A folder where a.txt went to the bin and another a.txt took its place."""
        folder = d.add_folder(name)
        gone = d.upload(b"binned", "a.txt", parent_id=folder.id)
        assert d.delete(gone.id, to_recycle_bin=True).async_ is False
        live = d.upload(b"live", "a.txt", parent_id=folder.id)
        assert live.name == "a.txt"
        return folder, gone, live, d.binned(gone.id)

    folder, gone, live, item = case("error")
    expect_error(400, "paramError.name", d.restore, item.id, conflict="RETURN_ERROR_IF_EXISTS")
    assert d.recycle_item(item.id).id == item.id, "still in the bin"

    folder, gone, live, item = case("existing")
    kept = d.restore(item.id, conflict="RETURN_DENTRY_IF_EXISTS")
    assert (kept.async_, kept.space_id, kept.dentry_id) == (False, d.space_id, live.id)
    assert d.recycle_item(item.id).id == item.id, "nothing was restored"
    assert [e.name for e in d.walk(folder.id)[0]] == ["a.txt"]

    for strategy in (None, "AUTO_RENAME"):
        folder, gone, live, item = case(f"auto {strategy}")
        auto = d.restore(item.id, conflict=strategy)
        assert (auto.async_, auto.task_id, auto.space_id) == (False, None, d.space_id)
        restored = d.get(auto.dentry_id)
        assert (restored.uuid, restored.name, restored.parent_id) == (gone.uuid, "a(1).txt", folder.id)
        assert d.download(auto.dentry_id)[2] == b"binned"
        expect_error(400, "paramError.recycleItemId", d.recycle_item, item.id)
        assert d.download(live.id)[2] == b"live"

    folder, gone, live, item = case("overwrite")
    over = d.restore(item.id, conflict="OVERWRITE")
    restored = d.get(over.dentry_id)
    assert (restored.uuid, restored.name) == (gone.uuid, "a.txt")
    assert d.download(over.dentry_id)[2] == b"binned"
    assert [e.name for e in d.walk(folder.id)[0]] == ["a.txt"]
    # The live file it replaced is in the bin now, recoverable.
    replaced = d.binned(live.id)
    assert (replaced.original_name, replaced.original_path, replaced.size) == ("a.txt", "/overwrite/a.txt", 4)


def test_refused_moves_and_copies(server, tenant, make_tenant):
    d = Drive(server, tenant)
    a = d.add_folder("A")
    b = d.add_folder("B", parent_id=a.id)
    f = d.upload(b"f", "f.txt", parent_id=b.id)
    for call in (d.move, d.copy):
        expect_error(400, "paramError.targetFolderId", call, a.id, a.id)
        expect_error(400, "paramError.targetFolderId", call, a.id, b.id)
        expect_error(400, "paramError.targetFolderId", call, b.id, b.id)
        expect_error(403, "permissionDenied", call, "0", a.id)
        expect_error(400, "paramError.dentryId", call, MISSING, a.id)
        expect_error(400, "paramError.targetFolderId", call, f.id, MISSING)
        expect_error(400, "paramError.targetFolderId", call, b.id, f.id)
        expect_error(400, "paramError.targetSpaceId", call, f.id, "0", target_space_id=MISSING)
    # Another org's space is as unknown as a missing one.
    foreign = Drive(server, make_tenant())
    expect_error(400, "paramError.targetSpaceId", d.move, f.id, "0", target_space_id=foreign.space_id)
    expect_error(403, "permissionDenied", d.delete, "0")
    expect_error(403, "permissionDenied", d.delete, "0", to_recycle_bin=True)
    expect_error(400, "paramError.dentryId", d.delete, MISSING)
    # Nothing moved.
    assert d.get(f.id).path == "/A/B/f.txt"
    assert [e.path for e in d.walk()[0]] == ["/A"]


def test_move_takes_both_spellings_of_the_permissions_flag(server, tenant):
    d = Drive(server, tenant)
    dest = d.add_folder("dest")
    f, g, h, k = (d.upload(b"x", f"{n}.txt") for n in "fghk")
    # The SDKs' own spellings: `presevePermissions` (MoveDentry), `preservePermissions` (MoveDentries).
    assert d.move(f.id, dest.id, preseve_permissions=True).dentry.parent_id == dest.id
    assert d.moves([g.id], dest.id, preserve_permissions=True)[0].success is True
    # ... and each operation with the other one (plain HTTP: the SDK cannot send it).
    body = {"targetSpaceId": d.space_id, "targetFolderId": dest.id, "option": {"preservePermissions": False}}
    status, _, reply = d.raw("POST", f"/dentries/{h.id}/move", body)
    assert (status, reply["async"], reply["dentry"]["parentId"]) == (200, False, dest.id), reply
    assert "taskId" not in reply, "a synchronous answer carries no taskId"
    body = {"dentryIds": [k.id], "targetSpaceId": d.space_id, "targetFolderId": dest.id,
            "option": {"presevePermissions": True}}
    status, _, reply = d.raw("POST", "/dentries/batchMove", body)
    assert status == 200 and reply["resultItems"][0]["success"] is True, reply
    assert sorted(e.name for e in d.walk(dest.id)[0]) == ["f.txt", "g.txt", "h.txt", "k.txt"]


# ---- tasks ----------------------------------------------------------------------

def test_a_500_entry_folder_moves_across_spaces_and_copies_as_a_task(server, tenant):
    a = Drive(server, tenant)
    b = Drive(server, tenant, scene_id="2")
    big = a.add_folder("big")
    size = fill(server, tenant, a.space_id, big.id, folders=20, files_each=24)
    tree = paths(a)
    assert len(tree) == 1 + 20 + 480
    assert a.space().used_quota == size

    moved = a.move(big.id, "0", target_space_id=b.space_id)
    assert moved.async_ is True and moved.task_id, moved.to_map()
    assert (moved.dentry.name, moved.dentry.space_id, moved.dentry.uuid) == ("big", b.space_id, big.uuid)
    task = a.wait_task(moved.task_id)
    assert (task.status, task.fail_count) == ("SUCCESS", 0), task.to_map()
    assert task.success_count == task.total_count > 0
    assert task.fail_message is None
    assert ISO_8601_UTC.match(task.begin_time) and ISO_8601_UTC.match(task.end_time)
    assert task.begin_time <= task.end_time
    assert paths(b) == tree and paths(a) == []
    assert (a.space().used_quota, b.space().used_quota) == (0, size)
    assert b.get(big.id).uuid == big.uuid

    copied = b.copy(big.id, "0", target_space_id=a.space_id)
    assert copied.async_ is True and copied.task_id
    assert copied.dentry.id != big.id and copied.dentry.uuid != big.uuid
    assert b.wait_task(copied.task_id).status == "SUCCESS"
    assert paths(a) == paths(b) == tree
    assert (a.space().used_quota, b.space().used_quota) == (size, size)
    copy_root = a.get(copied.dentry.id)
    assert (copy_root.name, copy_root.path) == ("big", "/big")
    sub = a.walk(copied.dentry.id)[0]
    assert len(sub) == 20 and all(e.type == "FOLDER" for e in sub)
    files = {e.name: e for e in a.walk(sub[0].id)[0]}
    assert len(files) == 24
    assert a.download(files["f007.txt"].id)[2] == f"{sub[0].name}/7".encode()

    # A permanent delete of a folder with children runs as a task and frees its bytes.
    deleted = a.delete(copied.dentry.id)
    assert deleted.async_ is True and deleted.task_id
    assert a.wait_task(deleted.task_id).status == "SUCCESS"
    assert paths(a) == [] and a.space().used_quota == 0
    assert b.space().used_quota == size


def test_get_task_is_for_the_app_that_started_it(server, tenant, make_tenant):
    d = Drive(server, tenant)
    folder = d.add_folder("f")
    d.upload(b"x", "x.txt", parent_id=folder.id)
    started = d.delete(folder.id, to_recycle_bin=True)
    assert started.async_ is True
    assert d.wait_task(started.task_id).status == "SUCCESS"
    other_app = Drive(server, make_tenant(corp_id=tenant.corp_id, union_id=tenant.union_id))
    expect_error(400, "paramError.taskId", other_app.task, started.task_id)
    expect_error(400, "paramError.taskId", d.task, MISSING)
    # Another user of the same app sees it.
    bob = server.admin.create_user(tenant.corp_id, name="Bob", org_admin=False)["unionId"]
    as_bob = Drive(server, type(tenant)(**{**tenant.__dict__, "union_id": bob}), d.space_id)
    assert as_bob.task(started.task_id).status == "SUCCESS"


# ---- batches -----------------------------------------------------------------------

def test_batches_report_each_item(server, tenant):
    d = Drive(server, tenant)
    other = Drive(server, tenant, scene_id="2")
    dest = d.add_folder("dest")
    good = d.upload(b"good", "good.txt")
    ids = [good.id, MISSING, "0"]

    def check_failures(items):
        assert [i.dentry_id for i in items] == ids
        assert all(i.space_id == d.space_id for i in items)
        missing, root = items[1], items[2]
        assert (missing.success, missing.error_code, missing.async_) == (False, "paramError.dentryId", False)
        assert (root.success, root.error_code, root.async_) == (False, "permissionDenied", False)
        for failed in (missing, root):
            assert failed.target_space_id is None and failed.target_dentry_id is None
            assert failed.task_id is None

    moved = d.moves(ids, dest.id)
    check_failures(moved)
    ok = moved[0]
    assert (ok.success, ok.error_code, ok.async_, ok.task_id) == (True, None, False, None)
    assert (ok.target_space_id, ok.target_dentry_id) == (d.space_id, good.id)
    assert d.get(good.id).parent_id == dest.id

    copied = d.copies(ids, "0")
    check_failures(copied)
    ok = copied[0]
    assert (ok.success, ok.async_, ok.target_space_id) == (True, False, d.space_id)
    assert ok.target_dentry_id != good.id
    assert d.get(ok.target_dentry_id).path == "/good.txt"

    deleted = d.deletes([ok.target_dentry_id, MISSING, "0"])
    assert [(i.success, i.error_code, i.async_) for i in deleted] == [
        (True, None, False), (False, "paramError.dentryId", False), (False, "permissionDenied", False)]
    assert deleted[0].dentry_id == ok.target_dentry_id and deleted[0].space_id == d.space_id
    expect_error(400, "paramError.dentryId", d.get, ok.target_dentry_id)

    # Folders with children: an item running as a task has no success nor
    # errorCode yet, and already its target ids.
    tree = d.add_folder("tree")
    d.upload(b"leaf", "leaf.txt", parent_id=tree.id)
    [item] = d.copies([tree.id], "0", target_space_id=other.space_id)
    assert (item.async_, item.success, item.error_code) == (True, None, None), item.to_map()
    assert item.task_id and item.target_space_id == other.space_id and item.target_dentry_id
    assert d.wait_task(item.task_id).status == "SUCCESS"
    assert [e.name for e in other.walk(item.target_dentry_id)[0]] == ["leaf.txt"]

    [item] = d.moves([tree.id], "0", target_space_id=other.space_id)
    assert (item.async_, item.success, item.error_code) == (True, None, None), item.to_map()
    assert (item.target_space_id, item.target_dentry_id) == (other.space_id, tree.id)
    assert d.wait_task(item.task_id).status == "SUCCESS"
    assert sorted(e.name for e in other.walk()[0]) == ["tree", "tree(1)"]

    moved_tree = Drive(server, tenant, other.space_id)
    [item] = moved_tree.deletes([tree.id], to_recycle_bin=True)
    assert (item.async_, item.success, item.error_code) == (True, None, None), item.to_map()
    assert moved_tree.wait_task(item.task_id).status == "SUCCESS"
    assert moved_tree.binned(tree.id).type == "FOLDER"


def test_batch_limits(server, tenant):
    d = Drive(server, tenant)
    many = [str(900000 + i) for i in range(51)]
    expect_error(400, "paramError.dentryIds", d.moves, many[:31])
    expect_error(400, "paramError.dentryIds", d.copies, many[:31])
    expect_error(400, "paramError.dentryIds", d.deletes, many)
    for call in (d.moves, d.copies, d.deletes):
        expect_error(400, "paramError.dentryIds", call, [])
    # At the limit, every id is answered.
    assert [i.error_code for i in d.moves(many[:30])] == ["paramError.dentryId"] * 30
    assert [i.error_code for i in d.copies(many[:30])] == ["paramError.dentryId"] * 30
    assert [i.error_code for i in d.deletes(many[:50])] == ["paramError.dentryId"] * 50
