"""GetDentryThumbnails (README "Thumbnails"): a thumbnail is made in the
background after an image is committed, scaled to fit 256 px, served on a
signed URL; it belongs to the content (copies share it) and leaves with it.
Other files answer per item with an errorCode."""

import os
import shutil
import struct
import subprocess
import time
import zlib

import pytest

from drive import Drive, blob_files, get
from images import png  # noqa: F401  (test_open_info takes it from here too)
from helpers import expect_error


def pdf(rgb=(0.0, 0.6, 0.0), pages=1):
    """A PDF of US-letter pages, each filled (but a 50 pt margin) with the
    colour `rgb` (0..1 each), written here from the PDF specification."""
    count = pages
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
               + b"] /Count %d >>" % count]
    paint = ("%.3f %.3f %.3f rg 50 50 512 692 re f" % rgb).encode()
    for i in range(count):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>"
                       % (4 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(paint) + paint + b"\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def video(tmp_path, colour="blue", size="320x240"):
    """A one-second MP4 of one colour, made with ffmpeg."""
    path = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"color=c={colour}:s={size}:d=1", "-pix_fmt", "yuv420p", "-y", str(path)],
                   check=True, timeout=60)
    return path.read_bytes()


def needs(tool):
    """scripts/test-all.sh installs the converters; without one, the test fails loudly."""
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (scripts/test-all.sh installs poppler-utils and ffmpeg)")


def centre_colour(data):
    from PIL import Image  # tests/sdk/requirements.txt
    import io
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))


def near(colour, expected, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected))


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def settled(d, dentry_id, timeout=20):
    """The item once it is no longer `thumbnailNotReady`."""
    deadline = time.time() + timeout
    while True:
        (item,) = d.thumbnails([dentry_id])
        if item.success or item.error_code != "thumbnailNotReady" or time.time() > deadline:
            return item
        time.sleep(0.1)


def test_an_image_gets_a_thumbnail_scaled_to_fit(server, tenant):
    d = Drive(server, tenant)
    wide = d.upload(png(600, 300), "wide.png").id
    small = d.upload(png(40, 90), "small.PNG").id
    item = settled(d, wide)
    assert (item.success, item.dentry_id, item.space_id) == (True, wide, d.space_id), item.to_map()
    assert (item.thumbnail.width, item.thumbnail.height) == (256, 128)
    status, _, body = get(item.thumbnail.url)
    assert status == 200 and png_size(body) == (256, 128)
    item = settled(d, small)
    assert (item.thumbnail.width, item.thumbnail.height) == (40, 90), "never enlarged"
    # Several at once, in request order.
    items = d.thumbnails([small, wide])
    assert [i.dentry_id for i in items] == [small, wide] and all(i.success for i in items)


def test_what_gets_no_thumbnail(server, tenant):
    d = Drive(server, tenant)
    text = d.upload(b"just text", "notes.txt").id
    folder = d.add_folder("pictures").id
    bomb = d.upload(png(1, 1, claimed=(60_000, 60_000)), "bomb.png").id
    too_many_pixels = d.upload(png(1, 1, claimed=(8_000, 6_000)), "big.png").id
    broken = d.upload(b"\x89PNG not really", "broken.png").id
    codes = {i.dentry_id: (i.success, i.error_code) for i in d.thumbnails([text, folder, "404"])}
    assert codes == {
        text: (False, "thumbnailNotSupported"),
        folder: (False, "thumbnailNotSupported"),
        "404": (False, "paramError.dentryId"),
    }
    # A header claiming 60000 x 60000 pixels, or 48 megapixels, fails (the
    # limits, read from the header), as do bytes that are no image: recorded
    # once, answered from then on.
    for dentry_id in (bomb, too_many_pixels, broken):
        item = settled(d, dentry_id)
        assert (item.success, item.error_code) == (False, "thumbnailFailed"), item.to_map()
    expect_error(400, "paramError.dentryIds", d.thumbnails, [])
    expect_error(400, "paramError.dentryIds", d.thumbnails, [text] * 31)


@pytest.mark.embedded
def test_copies_share_a_thumbnail_and_it_leaves_with_the_content(server, tenant):
    def thumbs():
        return {f for f in blob_files(server.data_dir) if "/thumbs/" in f}

    d = Drive(server, tenant)
    before = thumbs()
    pic = d.upload(png(300, 300), "pic.png").id
    assert settled(d, pic).success
    made = thumbs() - before
    assert len(made) == 1, made
    copy = d.copy(pic, "0").dentry.id
    (item,) = d.thumbnails([copy])
    assert item.success, "the copy shares the content, and so the thumbnail"
    d.delete(pic)
    assert made <= thumbs(), "the copy still uses it"
    d.delete(copy)
    assert not made & thumbs(), "the thumbnail left with the last file of its content"


def test_a_pdf_gets_its_first_page_as_thumbnail(server, tenant):
    needs("pdftoppm")
    d = Drive(server, tenant)
    doc = d.upload(pdf(pages=2), "report.pdf").id
    item = settled(d, doc)
    assert item.success, item.to_map()
    # A US-letter page scaled to fit 256 px: 198 x 256.
    assert (item.thumbnail.width, item.thumbnail.height) == (198, 256)
    status, _, body = get(item.thumbnail.url)
    assert status == 200 and png_size(body) == (198, 256)
    assert near(centre_colour(body), (0, 153, 0)), centre_colour(body)
    # Not a PDF inside: recorded as failed.
    broken = d.upload(b"%PDF-1.4 broken", "broken.pdf").id
    item = settled(d, broken)
    assert (item.success, item.error_code) == (False, "thumbnailFailed"), item.to_map()


def test_a_video_gets_a_frame_as_thumbnail(server, tenant, tmp_path):
    needs("ffmpeg")
    d = Drive(server, tenant)
    clip = d.upload(video(tmp_path, "blue", "320x240"), "clip.mp4").id
    item = settled(d, clip)
    assert item.success, item.to_map()
    assert (item.thumbnail.width, item.thumbnail.height) == (256, 192)
    status, _, body = get(item.thumbnail.url)
    assert status == 200 and png_size(body) == (256, 192)
    assert near(centre_colour(body), (0, 0, 255)), centre_colour(body)
    # A list that would make ffmpeg open another file (here: that very clip)
    # is refused: only container demuxers, only the copied input.
    listing = (f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{tmp_path / 'clip.mp4'}\n"
               "#EXT-X-ENDLIST\n").encode()
    sneaky = d.upload(listing, "sneaky.mp4").id
    item = settled(d, sneaky)
    assert (item.success, item.error_code) == (False, "thumbnailFailed"), item.to_map()
