"""AddFolder, GetDentry, GetDentries: names, nesting, conflict strategies."""

from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dingtalk.storage_1_0 import models as m

from drive import Drive
from helpers import ISO_8601_UTC, expect_error


def test_add_folder_root_and_nested(server, tenant):
    d = Drive(server, tenant)
    docs = d.add_folder("  Docs ")
    assert (docs.name, docs.type, docs.parent_id, docs.path) == ("Docs", "FOLDER", "0", "/Docs")
    assert docs.id.isdigit() and docs.uuid and docs.space_id == d.space_id
    assert docs.size is None and docs.extension is None, "folders carry no size or extension"
    assert (docs.status, docs.storage_driver) == ("NORMAL", "DINGTALK")
    assert docs.creator_id == docs.modifier_id == tenant.union_id
    assert ISO_8601_UTC.match(docs.create_time) and ISO_8601_UTC.match(docs.modified_time)
    sub = d.add_folder("2024", parent_id=docs.id)
    deep = d.add_folder("Q1", parent_id=sub.id)
    assert deep.path == "/Docs/2024/Q1"
    assert d.get(deep.id).to_map() == deep.to_map()
    root = d.get("0")
    assert (root.id, root.type, root.path, root.parent_id) == ("0", "FOLDER", "/", None)
    expect_error(400, "paramError.parentId", d.add_folder, "x", parent_id="999999")
    file = d.upload(b"x", "f.txt")
    expect_error(400, "paramError.parentId", d.add_folder, "x", parent_id=file.id)


def test_folder_conflict_strategies(server, tenant):
    d = Drive(server, tenant)
    first = d.add_folder("Reports")
    assert d.add_folder("Reports").name == "Reports(1)"
    assert d.add_folder("Reports", conflict="AUTO_RENAME").name == "Reports(2)"
    assert d.add_folder("Reports", conflict="RETURN_DENTRY_IF_EXISTS").id == first.id
    assert d.add_folder("Reports", conflict="OVERWRITE").id == first.id
    expect_error(400, "paramError.name", d.add_folder, "Reports", conflict="RETURN_ERROR_IF_EXISTS")
    expect_error(400, "paramError.conflictStrategy", d.add_folder, "X", conflict="REPLACE")
    # A dotted folder name keeps its dot: the counter goes at the end.
    d.add_folder("v1.2")
    assert d.add_folder("v1.2").name == "v1.2(1)"
    names = sorted(e.name for e in d.walk()[0])
    assert names == ["Reports", "Reports(1)", "Reports(2)", "v1.2", "v1.2(1)"]


def test_concurrent_same_name_folders(server, tenant):
    d = Drive(server, tenant)

    def create(strategy):
        try:
            return Drive(server, tenant, d.space_id).add_folder("Race", conflict=strategy).name
        except Exception as e:  # noqa: BLE001 - counted below
            return getattr(e, "code", repr(e))

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, ["RETURN_ERROR_IF_EXISTS"] * 16))
    assert results.count("Race") == 1
    assert results.count("paramError.name") == 15
    with ThreadPoolExecutor(max_workers=16) as pool:
        renamed = list(pool.map(create, ["AUTO_RENAME"] * 16))
    assert sorted(renamed) == sorted(f"Race({k})" for k in range(1, 17))


def test_invalid_names_are_refused(server, tenant):
    d = Drive(server, tenant)
    for bad in ["", "   ", ".", "..", "ends.", "tab\there", "a*b", 'a"b', "a<b", "a>b", "a|b",
                "a/b", "a\\b", "bell\x07", "x" * 256]:
        expect_error(400, "paramError.name", d.add_folder, bad)
    assert d.add_folder("x" * 255).name == "x" * 255
    # AUTO_RENAME shortens the stem rather than pass the 255-character limit.
    renamed = d.add_folder("x" * 255).name
    assert len(renamed) <= 255 and renamed.endswith("x(1)"), renamed
    assert d.add_folder("数据 (copy) #1").name == "数据 (copy) #1"
    assert [e.name for e in d.walk()[0]].count("x" * 255) == 1
    assert renamed in [e.name for e in d.walk()[0]]


def test_get_dentries_reports_each_item(server, tenant):
    d = Drive(server, tenant)
    a = d.add_folder("a")
    f = d.upload(b"hello", "hello.txt", parent_id=a.id)
    items = d.gets([f.id, "123456789", a.id, "0"])
    assert [i.dentry_id for i in items] == [f.id, "123456789", a.id, "0"]
    assert [i.success for i in items] == [True, False, True, True]
    assert items[1].error_code == "paramError.dentryId" and items[1].dentry is None
    assert items[0].dentry.path == "/a/hello.txt" and items[0].dentry.size == 5
    assert all(i.space_id == d.space_id for i in items)
    expect_error(400, "paramError.dentryIds", d.gets, [str(i) for i in range(31)])
    expect_error(400, "paramError.dentryIds", d.gets, [])


def test_app_properties_on_folders(server, tenant):
    d = Drive(server, tenant)
    props = [m.AddFolderRequestOptionAppProperties(name="color", value="red", visibility="PUBLIC"),
             m.AddFolderRequestOptionAppProperties(name="secret", value="42", visibility="PRIVATE")]
    folder = d.add_folder("tagged", app_properties=props)
    got = d.get(folder.id).to_map()["appProperties"]
    # The Python SDK collapses map keys to "k" when parsing; the values survive.
    values = sorted((p["name"], p["value"], p["visibility"]) for v in got.values() for p in v)
    assert values == [("color", "red", "PUBLIC"), ("secret", "42", "PRIVATE")]
    too_many = [m.AddFolderRequestOptionAppProperties(name=f"p{i}", value="v", visibility="PUBLIC")
                for i in range(4)]
    expect_error(400, "paramError.appProperties", d.add_folder, "t2", app_properties=too_many)
