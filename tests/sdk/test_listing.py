"""ListDentries and ListAllDentries: keyset pagination with every ordering,
stable while entries are added and removed.

Entries made one after another within a second show the same (one-second)
time, so every ordering is checked against its documented tie-break: the id
(a decimal snowflake increasing with creation, compared as an integer), in
the listing's direction."""

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


SORT_KEYS = {
    None: lambda e: e.modified_time,
    "MODIFIED_TIME": lambda e: e.modified_time,
    "CREATE_TIME": lambda e: e.create_time,
    "NAME": lambda e: e.name,
    "SIZE": lambda e: e.size or 0,
}


def assert_ordered(entries, key, descending, context):
    """`entries` are sorted by key(e), ties by integer id, both in the listing's direction."""
    keys = [(key(e), int(e.id)) for e in entries]
    assert keys == sorted(keys, reverse=descending), context
    assert len(set(keys)) == len(keys), context


def test_pagination_over_125_entries_every_ordering(server, tenant):
    d = Drive(server, tenant)
    folder, ids = make_tree(d, 125)
    walks = {}
    for order_by in [None, "MODIFIED_TIME", "CREATE_TIME", "NAME", "SIZE"]:
        for order in [None, "ASC", "DESC"]:
            entries, pages = d.walk(folder.id, page_size=50, order_by=order_by, order=order)
            seen = [e.id for e in entries]
            assert len(seen) == len(set(seen)) == 125, (order_by, order)
            assert set(seen) == ids
            assert pages == 3
            assert_ordered(entries, SORT_KEYS[order_by], order != "ASC", (order_by, order))
            walks[order_by, order] = seen
    # Many entries share a second (and a size): the tie-break decides most of the order.
    assert len({e.modified_time for e in d.walk(folder.id)[0]}) < 125
    # Defaults: MODIFIED_TIME, DESC.
    assert walks[None, None] == walks["MODIFIED_TIME", "DESC"] == walks[None, "DESC"]
    assert walks["MODIFIED_TIME", "ASC"] == walks["MODIFIED_TIME", "DESC"][::-1]
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


def test_page_size_defaults_to_50_and_is_clamped_to_50(server, tenant):
    d = Drive(server, tenant)
    folder = d.add_folder("53")
    ids = {d.add_folder(f"f{i:02}", parent_id=folder.id).id for i in range(53)}
    for max_results in [None, 50, 51, 500, 2**31]:
        first = d.list(folder.id, max_results=max_results)
        assert len(first.dentries) == 50, max_results
        assert first.next_token, max_results
        rest = d.list(folder.id, max_results=max_results, next_token=first.next_token)
        assert len(rest.dentries) == 3 and rest.next_token is None, max_results
        assert {e.id for e in first.dentries + rest.dentries} == ids, max_results
    small = d.list(folder.id, max_results=7)
    assert len(small.dentries) == 7 and small.next_token
    # ListAllDentries: the same default and clamp (54 entries: the folder and its 53).
    for max_results in [None, 500]:
        first = d.list_all(max_results=max_results)
        assert len(first.dentries) == 50 and first.next_token, max_results
        rest = d.list_all(max_results=max_results, next_token=first.next_token)
        assert len(rest.dentries) == 4 and rest.next_token is None, max_results


def test_list_parameters_are_checked(server, tenant):
    d = Drive(server, tenant)
    d.add_folder("a")
    assert d.list(with_thumbnail=True).dentries[0].name == "a"
    expect_error(400, "paramError.maxResults", d.list, max_results=0)
    expect_error(400, "paramError.maxResults", d.list, max_results=-1)
    expect_error(400, "paramError.maxResults", d.list_all, max_results=0)
    expect_error(400, "paramError.orderBy", d.list, order_by="COLOR")
    expect_error(400, "paramError.order", d.list, order="UP")
    expect_error(400, "paramError.nextToken", d.list, next_token="nonsense")
    expect_error(400, "paramError.parentId", d.list, parent_id="424242")
    body = d.list(max_results=1)
    assert body.next_token is None
    for _ in range(2):
        d.add_folder("b")
    token = d.list(max_results=1, order_by="NAME").next_token
    assert token
    expect_error(400, "paramError.nextToken", d.list, max_results=1, order_by="SIZE", next_token=token)
    expect_error(400, "paramError.nextToken", d.list, max_results=1, order_by="NAME", order="ASC",
                 next_token=token)


def test_a_cursor_only_continues_its_own_listing(server, tenant):
    d = Drive(server, tenant)
    one, two = d.add_folder("one"), d.add_folder("two")
    for parent in (one, two):
        for i in range(3):
            d.add_folder(f"x{i}", parent_id=parent.id)
    token = d.list(one.id, max_results=1, order_by="NAME").next_token
    assert len(d.list(one.id, max_results=1, order_by="NAME", next_token=token).dentries) == 1
    # The same ordering on another folder (or the root) is another listing.
    expect_error(400, "paramError.nextToken", d.list, two.id, max_results=1, order_by="NAME", next_token=token)
    expect_error(400, "paramError.nextToken", d.list, "0", max_results=1, order_by="NAME", next_token=token)
    # ListAllDentries and ListDentries do not take each other's cursors.
    expect_error(400, "paramError.nextToken", d.list_all, max_results=1, next_token=token)
    all_token = d.list_all(max_results=1).next_token
    assert all_token
    expect_error(400, "paramError.nextToken", d.list, one.id, max_results=1, next_token=all_token)
    expect_error(400, "paramError.nextToken", d.list_all, max_results=1, order="DESC", next_token=all_token)


def test_list_all_dentries_walks_the_whole_space(server, tenant):
    d = Drive(server, tenant)
    a = d.add_folder("a")
    b = d.add_folder("b", parent_id=a.id)
    files = [d.upload(b"1", f"f{i}.txt", parent_id=p) for i, p in enumerate(["0", a.id, b.id] * 20)]
    expected = {a.id, b.id} | {f.id for f in files}
    walks = {}
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
        assert_ordered(seen, lambda e: e.modified_time, order == "DESC", order)
        walks[order] = [e.id for e in seen]
    # ASC by default; here creation order, since nothing was modified after creation.
    assert walks[None] == walks["ASC"] == walks["DESC"][::-1]
    assert walks[None] == [a.id, b.id] + [f.id for f in files]
    paths = {e.id: e.path for e in d.list_all(max_results=50).dentries}
    assert paths[b.id] == "/a/b"
    assert paths[files[2].id] == "/a/b/f2.txt"
    expect_error(400, "paramError.order", d.list_all, order="SIDEWAYS")
