"""GetDentryOpenInfo and RegisterOpenInfo (README "Open links and preview
pages"): registered links come back exactly as registered, the most recent
of the requested type first; without one, PREVIEW answers a signed link to
orgdrive's own preview page (5 minutes to open), bound to the file and the
version; EDIT answers webOfficeNotConfigured. The pages are HTML with strict
headers; a tampered, expired or dead link gets an error page, never a 5xx."""

import os
import sqlite3
import urllib.parse

import pytest

from conftest import start_server
from drive import Drive, get
from helpers import expect_error
from orgdrive_server import http_json
from test_thumbnails import png


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server of this module's own: the expiry test moves its clock."""
    srv = start_server(tmp_path_factory.mktemp("open_info"), ["--allow-clock-control"])
    yield srv
    srv.stop()


def advance_clock(server, seconds):
    status, _, body = http_json("POST", f"{server.admin_base_url}/admin/v1/clock/advance",
                                {"seconds": seconds},
                                {"Authorization": f"Bearer {server.admin_token}"})
    assert status == 200, body


def page(url):
    """GETs a preview page; returns (status, headers, HTML text)."""
    status, headers, body = get(url)
    assert headers.get("Content-Type") == "text/html; charset=utf-8", (status, dict(headers))
    strict_headers(headers)
    return status, headers, body.decode()


def strict_headers(headers):
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp, csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "no-referrer"
    assert headers.get("Cache-Control") == "private, no-store"


def media_url(page_url, html, suffix):
    """The absolute URL of the page's first media link ending in `suffix`."""
    start = html.index('src="') + len('src="')
    src = html[start:html.index('"', start)]
    assert src.endswith(suffix), src
    return urllib.parse.urljoin(page_url, src)


def test_preview_shows_the_current_or_a_history_version(server, tenant):
    d = Drive(server, tenant)
    file = d.upload(b"first <b>draft</b>\n", "notes.txt").id
    d.upload(b"second & <script>alert(1)</script>\n", "notes.txt", conflict="OVERWRITE")
    info = d.open_info(file)
    assert info.has_water_mark is False
    assert info.url.startswith(f"{server.base_url}/preview/"), info.url
    status, _, html = page(info.url)
    assert status == 200, html
    assert "second &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "version 2" in html and "notes.txt" in html
    # An explicit version: the current one, or a history version.
    assert "second &amp;" in page(d.open_info(file, version=2).url)[2]
    old = page(d.open_info(file, type="PREVIEW", version=1).url)[2]
    assert "first &lt;b&gt;draft&lt;/b&gt;" in old and "version 1" in old
    # The owner may download: the page links the bytes of its version.
    start = old.index('<a href="') + len('<a href="')
    download = old[start:old.index('"', start)].replace("&amp;", "&")
    status, _, body = get(download)
    assert (status, body) == (200, b"first <b>draft</b>\n")
    expect_error(400, "paramError.version", d.open_info, file, version=3)
    expect_error(400, "paramError.version", d.open_info, file, version=-1)
    expect_error(400, "paramError.type", d.open_info, file, type="VIEW")
    # watermark and checkLogin are accepted; no watermark is drawn.
    assert d.open_info(file, water_mark=True, check_login=True).has_water_mark is False


def test_an_image_page_serves_its_bytes_inline_and_sandboxed(server, tenant):
    d = Drive(server, tenant)
    picture = png(64, 32)
    file = d.upload(picture, "a 'quoted' & (name).png").id
    url = d.open_info(file).url
    status, _, html = page(url)
    assert status == 200
    assert "a &#39;quoted&#39; &amp; (name).png" in html
    content = media_url(url, html, "/content")
    status, headers, body = get(content)
    assert (status, body) == (200, picture)
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"] == "inline"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = get(content, {"Range": "bytes=0-7"})
    assert (status, body) == (206, picture[:8])
    # Markup is never served inline: an HTML file is shown as text.
    html_file = d.upload(b"<h1>hi</h1>", "page.html").id
    url = d.open_info(html_file).url
    assert "<pre>&lt;h1&gt;hi&lt;/h1&gt;</pre>" in page(url)[2]
    assert 'src="' not in page(url)[2], "a text page has no media link"


def test_other_files_get_a_download_link_and_readers_none(server, tenant):
    d = Drive(server, tenant)
    file = d.upload(b"PK\x03\x04 archive", "bundle.zip").id
    html = page(d.open_info(file).url)[2]
    assert "No preview" in html and "Download bundle.zip" in html
    reader = server.admin.create_user(tenant.corp_id, name="Reader", org_admin=False)["unionId"]
    d.grant(file, "READER", ("USER", reader))
    as_reader = Drive(server, type(tenant)(**{**tenant.__dict__, "union_id": reader}), d.space_id)
    html = page(as_reader.open_info(file).url)[2]
    assert "No preview" in html and "Download" not in html and "/blob/" not in html


def test_links_expire_and_refuse_tampering(server, tenant):
    d = Drive(server, tenant)
    file = d.upload(png(8, 8), "p.png").id
    url = d.open_info(file).url
    status, _, html = page(url)
    assert status == 200
    content = media_url(url, html, "/content")
    base, token = url.rsplit("/", 1)
    space, dentry, version, flag, expires, signature = token.split(".")
    tampered = [
        f"{space}.{dentry}.{version}.{flag}.{int(expires) + 1}.{signature}",
        f"{space}.{dentry}.{version}.d.{expires}.{signature}" if flag == "n" else
        f"{space}.{dentry}.{version}.n.{expires}.{signature}",
        f"{space}.{dentry}.{version}.{flag}.{expires}.{'0' * 64}",
        f"{space}.{dentry}",
        "x" * 300,
        "%2e%2e",
    ]
    for bad in tampered:
        status, _, html = page(f"{base}/{bad}")
        assert status in (403, 404) and "Preview unavailable" in html, (bad, status)
    # A page link used as a media link, or the reverse, is refused (another purpose).
    assert get(f"{url}/content")[0] == 403
    assert page(content.rsplit("/", 1)[0])[0] == 403
    # The page's link opens within 5 minutes; its media links live longer.
    advance_clock(server, 301)
    status, _, html = page(url)
    assert status == 403 and "expired" in html
    assert get(content)[0] == 200
    # A file that is gone: 404.
    fresh = d.open_info(file).url
    d.delete(file, to_recycle_bin=True)
    assert page(fresh)[0] == 404
    assert get(content)[0] == 404


def test_folders_and_unknown_dentries(server, tenant):
    d = Drive(server, tenant)
    folder = d.add_folder("docs").id
    expect_error(400, "paramError.dentryId", d.open_info, folder)
    expect_error(400, "paramError.dentryId", d.open_info, "12345")
    expect_error(400, "paramError.dentryId", d.register_open_info, folder, "ACME",
                 ("PREVIEW", "https://x.example/p"))
    expect_error(400, "paramError.dentryId", d.register_open_info, "12345", "ACME",
                 ("PREVIEW", "https://x.example/p"))


def open_links(server):
    db = sqlite3.connect(f"file:{os.path.join(server.data_dir, 'meta.sqlite')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT dentry_id, provider, open_type, url FROM open_links").fetchall()
    finally:
        db.close()


@pytest.mark.embedded
def test_registered_links_come_first_as_registered(server, tenant):
    d = Drive(server, tenant)
    file = d.upload(b"report", "report.docx").id
    expect_error(400, "webOfficeNotConfigured", d.open_info, file, type="EDIT")
    odd = "https://Office.Example.com:8443/view?id=1&x=%20y#Frag"
    assert d.register_open_info(file, "MS_OFFICE", ("PREVIEW", odd)).success is True
    assert d.open_info(file).url == odd, "returned exactly as registered"
    # The most recent registration of the type wins; EDIT is separate.
    d.register_open_info(file, "WPS", ("PREVIEW", "https://wps.example.com/p/1"),
                         ("EDIT", "https://wps.example.com/e/1"))
    assert d.open_info(file).url == "https://wps.example.com/p/1"
    assert d.open_info(file, type="EDIT").url == "https://wps.example.com/e/1"
    # Registering again replaces the provider's link of that type (and makes it the newest).
    d.register_open_info(file, "MS_OFFICE", ("PREVIEW", "https://office.example.com/v2"))
    assert d.open_info(file).url == "https://office.example.com/v2"
    rows = [r for r in open_links(server) if r[0] == file]
    assert sorted(rows) == sorted([
        (file, "MS_OFFICE", "PREVIEW", "https://office.example.com/v2"),
        (file, "WPS", "PREVIEW", "https://wps.example.com/p/1"),
        (file, "WPS", "EDIT", "https://wps.example.com/e/1"),
    ])
    # They stay while the file is in the recycle bin, and leave with it for good.
    d.delete(file, to_recycle_bin=True)
    item = d.binned(file).id
    assert len([r for r in open_links(server) if r[0] == file]) == 3
    d.restore(item)
    assert d.open_info(file).url == "https://office.example.com/v2"
    d.delete(file, to_recycle_bin=False)
    assert not [r for r in open_links(server) if r[0] == file]


@pytest.mark.embedded
def test_register_open_info_checks_its_input(server, tenant):
    d = Drive(server, tenant)
    file = d.upload(b"x", "x.docx").id
    url = "https://x.example/p"
    for provider in ["", "a b", "<x>", "p" * 65, None]:
        expect_error(400, "paramError.provider", d.register_open_info, file, provider, ("PREVIEW", url))
    expect_error(400, "paramError.openInfos", d.register_open_info, file, "ACME")
    expect_error(400, "paramError.openInfos", d.register_open_info, file, "ACME",
                 *[("PREVIEW", url)] * 11)
    expect_error(400, "paramError.openInfos", d.register_open_info, file, "ACME",
                 ("PREVIEW", url), ("preview", url))
    for open_type in ["VIEW", "", None]:
        expect_error(400, "paramError.openType", d.register_open_info, file, "ACME", (open_type, url))
    for bad in ["javascript:alert(1)", "ftp://x/y", "https://", "https://u@x/", "https://x/a b",
                "/relative", "https://x/" + "a" * 2048, "", None]:
        expect_error(400, "paramError.url", d.register_open_info, file, "ACME", ("EDIT", bad))
    assert not [r for r in open_links(server) if r[0] == file], "refused calls wrote nothing"
    # At most 20 links per file.
    for i in range(10):
        d.register_open_info(file, f"P{i}", ("PREVIEW", url), ("EDIT", url))
    d.register_open_info(file, "P0", ("PREVIEW", url + "/again"))
    expect_error(400, "paramError.openInfos", d.register_open_info, file, "P10", ("PREVIEW", url))
    assert d.open_info(file).url == url + "/again"


def test_pdf_pages_video_and_audio(server, tenant, tmp_path):
    from test_thumbnails import centre_colour, near, needs, pdf, video
    needs("pdftoppm")
    d = Drive(server, tenant)
    doc = d.upload(pdf(rgb=(0.0, 0.0, 0.8), pages=3), "three.pdf").id
    url = d.open_info(doc).url
    status, _, html = page(url)
    assert status == 200
    assert html.count('class="page"') == 3, html
    first = media_url(url, html, "/pages/1")
    status, headers, body = get(first)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["Content-Security-Policy"].startswith("sandbox")
    assert near(centre_colour(body), (0, 0, 204)), centre_colour(body)
    for missing in ("4", "0", "21", "x", "99999999999"):
        assert get(first[:-1] + missing)[0] == 404, missing
    # A PDF's bytes are not served inline; a ".pdf" that is no PDF gets no pages.
    assert get(first.rsplit("/pages/", 1)[0] + "/content")[0] == 404
    fake = d.upload(b"not a pdf", "fake.pdf").id
    html = page(d.open_info(fake).url)[2]
    assert "No preview" in html and 'class="page"' not in html
    needs("ffmpeg")
    clip = video(tmp_path)
    url = d.open_info(d.upload(clip, "clip.mp4").id).url
    html = page(url)[2]
    assert "<video controls" in html
    status, headers, body = get(media_url(url, html, "/content"))
    assert (status, headers["Content-Type"], body) == (200, "video/mp4", clip)
    url = d.open_info(d.upload(b"ID3 not really", "song.mp3").id).url
    html = page(url)[2]
    assert "<audio controls" in html
    assert get(media_url(url, html, "/content"))[1]["Content-Type"] == "audio/mpeg"


def test_preview_tokens_stay_out_of_the_log(tmp_path):
    """A preview link's path is a credential: even the debug log names no token."""
    from conftest import provision
    srv = start_server(tmp_path, env={"ORGDRIVE_LOG": "debug"})
    try:
        d = Drive(srv, provision(srv))
        file = d.upload(png(4, 4), "p.png").id
        url = d.open_info(file).url
        status, _, html = page(url)
        assert status == 200
        assert get(media_url(url, html, "/content"))[0] == 200
        assert page(url[:-4] + "0000")[0] == 403
        assert get(srv.base_url + "/%70review/secret-pasted-in-a-path")[0] == 404
    finally:
        srv.stop()
    log = (tmp_path / "server.log").read_text()
    for token in (url.rsplit("/", 1)[1], media_url(url, html, "/content").rsplit("/", 2)[1]):
        assert token.rsplit(".", 1)[1] not in log, "a token's signature is in the log"
    assert "operation=Preview path=<hidden>" in log, "the requests are logged"
    # Nor does a path that no route serves, whatever it holds.
    assert "secret-pasted-in-a-path" not in log
