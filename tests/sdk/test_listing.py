"""ListDentries and ListAllDentries: keyset pagination with every ordering,
stable while entries are added and removed."""

from drive import Drive
from helpers import expect_error


def make_tree(d, count):
    folder = d.add_folder("many")
    ids = set()
    for i in range(count):
        if i % 3 == 0:
            ids.add(d.add_folder(f"folder-{i:03}", parent_id=folder.id).id)
        else:
            ids.add(d.upload(b"x" * (i % 7), f"file-{i:03}.txt", parent_id=folder.id).id)
    return folder, ids


def test_pagination_over_125_entries_every_ordering(server, tenant):
    d = Drive(server, tenant)
    folder, ids = make_tree(d, 125)
    for order_by in [None, "MODIFIED_TIME", "CREATE_TIME", "NAME", "SIZE"]:
        for order in [None, "ASC", "DESC"]:
            entries, pages = d.walk(folder.id, page_size=50, order_by=order_by, order=order)
            seen = [e.id for e in entries]
            assert len(seen) == len(set(seen)) == 125, (order_by, order)
            assert set(seen) == ids
            assert pages == 3
            key = {"NAME": lambda e: e.name, "SIZE": lambda e: e.size or 0,
                   "CREATE_TIME": lambda e: e.create_time}.get(order_by, lambda e: e.modified_time)
            values = [key(e) for e in entries]
            descending = order != "ASC"
            assert values == sorted(values, reverse=descending), (order_by, order)
    names = [e.name for e in d.walk(folder.id, order_by="NAME", order="ASC")[0]]
    assert names == sorted(names)
    files = [e for e in d.walk(folder.id)[0] if e.type == "FILE"]
    assert all(f.category == "DOCUMENT" and f.extension == "txt" for f in files)
    assert all(e.path == f"/many/{e.name}" for e in d.walk(folder.id)[0])


def test_pages_are_stable_while_entries_change(server, tenant):
    d = Drive(server, tenant)
    folder, ids = make_tree(d, 120)
    first = d.list(folder.id, max_results=40, order_by="NAME", order="ASC")
    seen = [e.id for e in first.dentries]
    # Meanwhile: new entries on both sides of the cursor.
    d.add_folder("aaa-new", parent_id=folder.id)
    d.add_folder("zzz-new", parent_id=folder.id)
    token = first.next_token
    while token:
        body = d.list(folder.id, max_results=40, order_by="NAME", order="ASC", next_token=token)
        seen += [e.id for e in body.dentries]
        token = body.next_token
    assert len(seen) == len(set(seen)), "no entry twice"
    assert ids <= set(seen), "every entry that existed throughout is seen"


def test_list_parameters_are_checked(server, tenant):
    d = Drive(server, tenant)
    d.add_folder("a")
    assert len(d.list(max_results=500).dentries) == 1, "maxResults above 50 is clamped"
    assert d.list(with_thumbnail=True).dentries[0].name == "a"
    expect_error(400, "paramError.maxResults", d.list, max_results=0)
    expect_error(400, "paramError.orderBy", d.list, order_by="COLOR")
    expect_error(400, "paramError.order", d.list, order="UP")
    expect_error(400, "paramError.nextToken", d.list, next_token="nonsense")
    expect_error(400, "paramError.parentId", d.list, parent_id="424242")
    body = d.list(max_results=1)
    assert body.next_token is None
    for _ in range(2):
        d.add_folder("b")
    token = d.list(max_results=1, order_by="NAME").next_token
    expect_error(400, "paramError.nextToken", d.list, max_results=1, order_by="SIZE", next_token=token)


def test_list_all_dentries_walks_the_whole_space(server, tenant):
    d = Drive(server, tenant)
    a = d.add_folder("a")
    b = d.add_folder("b", parent_id=a.id)
    files = [d.upload(b"1", f"f{i}.txt", parent_id=p) for i, p in enumerate(["0", a.id, b.id] * 20)]
    expected = {a.id, b.id} | {f.id for f in files}
    for order in [None, "ASC", "DESC"]:
        seen, token = [], None
        while True:
            body = d.list_all(max_results=7, next_token=token, order=order)
            seen += body.dentries
            token = body.next_token
            if not token:
                break
        assert [e.id for e in seen].count(files[0].id) == 1
        assert {e.id for e in seen} == expected and len(seen) == len(expected)
        times = [e.modified_time for e in seen]
        assert times == sorted(times, reverse=(order == "DESC"))
    paths = {e.id: e.path for e in d.list_all(max_results=50).dentries}
    assert paths[b.id] == "/a/b"
    expect_error(400, "paramError.order", d.list_all, order="SIDEWAYS")
