"""ListDentryVersions, RevertDentryVersion and history downloads;
UpdateDentryAppProperties and DeleteDentryAppProperties."""

from alibabacloud_dingtalk.storage_1_0 import models as m

from drive import Drive
from helpers import expect_error, expect_http_error

MISSING = "999999999"


def history(d, dentry_id, page_size=None):
    """(version, size) of every history version, page by page."""
    found, token = [], None
    while True:
        body = d.versions(dentry_id, max_results=page_size, next_token=token)
        found += [(v.version, v.size) for v in body.dentries or []]
        token = body.next_token
        if not token:
            return found


def test_overwrites_make_history_and_revert_brings_it_back(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"one", "doc.txt")
    assert (d.versions(f.id).dentries or []) == [] and not d.versions(f.id).next_token
    d.upload(b"second", "doc.txt", conflict="OVERWRITE")
    current = d.upload(b"third!!", "doc.txt", conflict="OVERWRITE")
    assert (current.id, current.version, current.size) == (f.id, 3, 7)

    listed = d.versions(f.id)
    # History only (the current version is GetDentry's), newest first.
    assert [(v.version, v.size) for v in listed.dentries] == [(2, 6), (1, 3)]
    assert not listed.next_token
    for v in listed.dentries:
        assert (v.id, v.uuid, v.space_id, v.name, v.type) == (f.id, f.uuid, d.space_id, "doc.txt", "FILE")
        assert v.extension == "txt"
    # One per page.
    first = d.versions(f.id, max_results=1)
    assert [v.version for v in first.dentries] == [2] and first.next_token
    assert history(d, f.id, page_size=1) == [(2, 6), (1, 3)]
    # Every history version downloads (GetFileDownloadInfo option.version).
    assert [d.download(f.id, version=v)[2] for v in (1, 2, 3)] == [b"one", b"second", b"third!!"]

    used = d.space().used_quota
    assert d.revert(f.id, 1).success is True
    reverted = d.get(f.id)
    assert (reverted.version, reverted.size) == (4, 3)
    assert d.download(f.id)[2] == b"one"
    assert history(d, f.id) == [(3, 7), (2, 6), (1, 3)]
    assert d.download(f.id, version=3)[2] == b"third!!"
    assert d.space().used_quota == used + 3, "the new version is charged like new content"

    # Reverting again is another new version; any history version will do.
    assert d.revert(f.id, "3").success is True
    assert (d.get(f.id).version, d.download(f.id)[2]) == (5, b"third!!")


def test_revert_refusals(server, tenant):
    d = Drive(server, tenant)
    f = d.upload(b"v1", "a.txt")
    d.upload(b"v2", "a.txt", conflict="OVERWRITE")
    for version in ("7", "0", "-1", "abc", "2"):
        # 2 is the current version, not a history version.
        expect_error(400, "paramError.version", d.revert, f.id, version)
    expect_error(400, "paramError.dentryId", d.revert, MISSING, "1")
    expect_error(400, "paramError.version", d.download_info, f.id, version=7)
    assert (d.get(f.id).version, d.download(f.id)[2]) == (2, b"v2"), "nothing changed"
    # The Python SDK sends no body; an empty one or `{}` does as well.
    status, _, reply = d.raw("POST", f"/dentries/{f.id}/versions/1/revert", {})
    assert (status, reply) == (200, {"success": True})
    expect_http_error(400, "paramError", d.raw("POST", f"/dentries/{f.id}/versions/1/revert", []))
    assert d.get(f.id).version == 3


def props(d, dentry_id, app_id):
    """The app's properties on the dentry as (name, value, visibility), sorted."""
    return sorted((p["name"], p["value"], p["visibility"]) for p in d.properties(dentry_id).get(app_id, []))


def test_update_and_delete_app_properties(server, tenant):
    d = Drive(server, tenant)
    app = tenant.app_id
    folder = d.add_folder("tagged")
    assert d.set_properties(folder.id, ("color", "red", "PUBLIC")).success is True
    assert props(d, folder.id, app) == [("color", "red", "PUBLIC")]
    # Upsert by name; a missing visibility is PRIVATE.
    d.set_properties(folder.id, ("color", "blue", "PRIVATE"), ("size", "L"))
    assert props(d, folder.id, app) == [("color", "blue", "PRIVATE"), ("size", "L", "PRIVATE")]
    d.set_properties(folder.id, ("shape", "round", "PUBLIC"))
    assert len(props(d, folder.id, app)) == 3
    # A fourth property of the app is refused, and nothing changes.
    expect_error(400, "paramError.appProperties", d.set_properties, folder.id, ("fourth", "4", "PUBLIC"))
    expect_error(400, "paramError.visibility", d.set_properties, folder.id, ("color", "x", "SECRET"))
    assert props(d, folder.id, app) == [("color", "blue", "PRIVATE"), ("shape", "round", "PUBLIC"),
                                        ("size", "L", "PRIVATE")]
    # Updating the three in place is fine.
    d.set_properties(folder.id, ("color", "green", "PUBLIC"), ("size", "M"), ("shape", "square"))
    assert props(d, folder.id, app) == [("color", "green", "PUBLIC"), ("shape", "square", "PRIVATE"),
                                        ("size", "M", "PRIVATE")]

    assert d.remove_properties(folder.id, ["color", "nope"]).success is True
    assert props(d, folder.id, app) == [("shape", "square", "PRIVATE"), ("size", "M", "PRIVATE")]
    assert d.remove_properties(folder.id, ["unknown"]).success is True, "unknown names are ignored"
    d.set_properties(folder.id, ("fourth", "4", "PUBLIC"))
    assert len(props(d, folder.id, app)) == 3
    d.remove_properties(folder.id, ["shape", "size", "fourth"])
    assert props(d, folder.id, app) == []
    expect_error(400, "paramError.dentryId", d.set_properties, MISSING, ("a", "b", "PUBLIC"))
    expect_error(400, "paramError.dentryId", d.remove_properties, MISSING, ["a"])


def test_app_properties_from_add_folder_and_commit_file(server, tenant):
    d = Drive(server, tenant)
    app = tenant.app_id
    folder = d.add_folder("f", app_properties=[
        m.AddFolderRequestOptionAppProperties(name="origin", value="add", visibility="PUBLIC")])
    file = d.upload(b"x", "x.txt", app_properties=[
        m.CommitFileRequestOptionAppProperties(name="origin", value="commit")])
    assert props(d, folder.id, app) == [("origin", "add", "PUBLIC")]
    assert props(d, file.id, app) == [("origin", "commit", "PRIVATE")]
    # Through the SDK too (it parses the map under a placeholder key).
    got = [p for v in d.get(file.id).to_map()["appProperties"].values() for p in v]
    assert got == [{"name": "origin", "value": "commit", "visibility": "PRIVATE"}]
    # Edits apply on top of them.
    d.set_properties(file.id, ("origin", "edited", "PUBLIC"), ("extra", "1"))
    assert props(d, file.id, app) == [("extra", "1", "PRIVATE"), ("origin", "edited", "PUBLIC")]
    d.remove_properties(folder.id, ["origin"])
    assert props(d, folder.id, app) == []
