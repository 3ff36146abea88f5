"""AddFolder, GetDentry, GetDentries: names, nesting, conflict strategies."""

from concurrent.futures import ThreadPoolExecutor

from alibabacloud_dingtalk.storage_1_0 import models as m

from drive import Drive, put
from helpers import ISO_8601_UTC, expect_error


def test_add_folder_root_and_nested(server, tenant):
    d = Drive(server, tenant)
    docs = d.add_folder("  Docs ")
    assert (docs.name, docs.type, docs.parent_id, docs.path) == ("Docs", "FOLDER", "0", "/Docs")
    assert docs.id.isdigit() and docs.uuid and docs.space_id == d.space_id
    assert docs.size is None and docs.extension is None, "folders carry no size or extension"
    assert docs.version is None, "folders carry no version"
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
                "a/b", "a\\b", "bell\x07", "x" * 256,
                # names that show as nothing, and names reordered by bidirectional controls
                "\u00a0", " \u3000 ", "\u200b", "\ufeff\u2060", "\u3164", "\u2800", "\ufe0f",
                "invoice\u202efdp.exe", "\u2066x\u2069"]:
        expect_error(400, "paramError.name", d.add_folder, bad)
    for good in ["a\u00a0b", "שלום", "تقرير 2024", "👨\u200d👩\u200d👧", "한국어"]:
        assert d.add_folder(good).name == good
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
    expect_error(400, "paramError.dentryIds", d.gets, [])
    # 1 to 30 ids: exactly 30 are answered one by one, 31 are refused.
    thirty = [f.id, a.id] + [str(900000 + i) for i in range(28)]
    items = d.gets(thirty)
    assert [i.dentry_id for i in items] == thirty
    assert [i.success for i in items] == [True, True] + [False] * 28
    expect_error(400, "paramError.dentryIds", d.gets, thirty + ["0"])


FILE_ONLY = {"size", "extension", "version", "category"}


def test_folders_carry_no_size_extension_version_or_category(server, tenant):
    d = Drive(server, tenant)
    info = d.upload_info()
    put(info.header_signature_info.resource_urls[0], {}, b"hello")
    f = d.commit(info.upload_key, "hello.txt")
    assert (f.size, f.extension, f.version, f.category) == (5, "txt", 1, "DOCUMENT")
    # Through the SDK (its folder models have no `category`: ListDentries' has).
    a = d.add_folder("a")
    assert (a.size, a.extension, a.version) == (None, None, None)
    listed = {e.id: e for e in d.walk()[0]}
    assert (listed[a.id].category, listed[f.id].category) == (None, "DOCUMENT")
    assert not FILE_ONLY & set(listed[a.id].to_map())
    for view in (d.get(a.id), d.gets([a.id])[0].dentry, [e for e in d.list_all().dentries if e.id == a.id][0]):
        assert not FILE_ONLY & set(view.to_map()), view.to_map()
    # On the wire, every operation that returns a dentry.
    answers = {
        "AddFolder": d.raw("POST", "/dentries/0/folders", {"name": "b"})[2]["dentry"],
        "GetDentry": d.raw("POST", f"/dentries/{a.id}/query", {})[2]["dentry"],
        "GetDentries": d.raw("POST", "/dentries/query", {"dentryIds": [a.id]})[2]["resultItems"][0]["dentry"],
        "ListDentries": [e for e in d.raw("GET", "/dentries", parentId="0")[2]["dentries"] if e["id"] == a.id][0],
        "ListAllDentries": [e for e in d.raw("POST", "/dentries/listAll", {})[2]["dentries"] if e["id"] == a.id][0],
    }
    for operation, folder in answers.items():
        assert folder["type"] == "FOLDER" and not FILE_ONLY & set(folder), (operation, folder)
    file = d.raw("POST", f"/dentries/{f.id}/query", {})[2]["dentry"]
    assert {k: file[k] for k in FILE_ONLY} == {"size": 5, "extension": "txt", "version": 1, "category": "DOCUMENT"}


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
    three = too_many[:3]
    assert len(list(d.add_folder("t3", app_properties=three).to_map()["appProperties"].values())[0]) == 3
    twice = [m.AddFolderRequestOptionAppProperties(name="p", value=str(i)) for i in range(2)]
    expect_error(400, "paramError.appProperties", d.add_folder, "t4", app_properties=twice)
    odd = [m.AddFolderRequestOptionAppProperties(name="p", value="v", visibility="SECRET")]
    expect_error(400, "paramError.visibility", d.add_folder, "t5", app_properties=odd)
    assert sorted(e.name for e in d.walk()[0]) == ["t3", "tagged"], "refused folders are not created"


def test_app_property_defaults_keys_and_filtering(server, tenant):
    d = Drive(server, tenant)
    props = [m.AddFolderRequestOptionAppProperties(name="plain", value="1"),
             m.AddFolderRequestOptionAppProperties(name="shown", value="2", visibility="PUBLIC")]
    folder = d.add_folder("tagged", app_properties=props)
    expected = [{"name": "plain", "value": "1", "visibility": "PRIVATE"},
                {"name": "shown", "value": "2", "visibility": "PUBLIC"}]
    # The Python SDK parses the map under a placeholder key ("k"), so the keys
    # (the owning appId) are read over plain HTTP; the values through the SDK.
    values = [p for v in d.get(folder.id).to_map()["appProperties"].values() for p in v]
    assert sorted(values, key=lambda p: p["name"]) == expected, "visibility defaults to PRIVATE"
    status, _, body = d.raw("POST", f"/dentries/{folder.id}/query", {})
    assert status == 200, body
    props_by_app = body["dentry"]["appProperties"]
    assert list(props_by_app) == [tenant.app_id]
    assert sorted(props_by_app[tenant.app_id], key=lambda p: p["name"]) == expected
    # appIdsForAppProperties filters by owning app, in GetDentry and GetDentries.
    assert d.get(folder.id, app_ids_for_app_properties=[tenant.app_id]).to_map()["appProperties"]
    assert not d.get(folder.id, app_ids_for_app_properties=["12345"]).to_map().get("appProperties")
    assert not d.gets([folder.id], app_ids_for_app_properties=["12345"])[0].dentry.to_map().get("appProperties")
    assert d.gets([folder.id], app_ids_for_app_properties=[tenant.app_id])[0].dentry.to_map()["appProperties"]
    status, _, body = d.raw("POST", f"/dentries/{folder.id}/query",
                            {"option": {"appIdsForAppProperties": ["12345", tenant.app_id]}})
    assert list(body["dentry"]["appProperties"]) == [tenant.app_id]
    status, _, body = d.raw("POST", f"/dentries/{folder.id}/query",
                            {"option": {"appIdsForAppProperties": ["12345"]}})
    assert body["dentry"].get("appProperties", {}) == {}
    # Files carry them too (CommitFile).
    info = d.upload_info()
    put(info.header_signature_info.resource_urls[0], {}, b"x")
    f = d.commit(info.upload_key, "f.txt", app_properties=[
        m.CommitFileRequestOptionAppProperties(name="k", value="v")])
    status, _, body = d.raw("POST", f"/dentries/{f.id}/query", {})
    assert body["dentry"]["appProperties"] == {tenant.app_id: [{"name": "k", "value": "v", "visibility": "PRIVATE"}]}


def test_names_compare_exactly(server, tenant):
    d = Drive(server, tenant)
    docs = d.add_folder("Docs")
    lower = d.add_folder("docs", conflict="RETURN_ERROR_IF_EXISTS")
    upper = d.add_folder("DOCS", conflict="RETURN_ERROR_IF_EXISTS")
    assert len({docs.id, lower.id, upper.id}) == 3
    assert (lower.name, upper.name) == ("docs", "DOCS")
    assert d.add_folder("Docs", conflict="RETURN_DENTRY_IF_EXISTS").id == docs.id
    # A dotted folder name: the counter goes at the end, as for extension-less names.
    d.add_folder("a.tar.gz")
    assert d.add_folder("a.tar.gz").name == "a.tar.gz(1)"
