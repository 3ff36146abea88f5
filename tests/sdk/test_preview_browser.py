"""Preview pages in a real browser (README "Open links and preview pages"):
headless Chromium (Debian's `chromium`, installed by scripts/test-all.sh)
opens the preview link of an image and of a PDF, takes a screenshot, and the
screenshot shows the file's colour where the file is drawn. The screenshots
are kept under pytest's tmp dir."""

import io
import shutil
import subprocess

import pytest

from drive import Drive
from test_thumbnails import pdf, png

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1000, 800


def solid_png(width, height, rgb):
    from PIL import Image  # tests/sdk/requirements.txt
    out = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(out, "PNG")
    return out.getvalue()


def screenshot(url, path, profile):
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing (scripts/test-all.sh installs Debian's chromium)")
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                    f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={path}", url],
                   check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from PIL import Image
    return Image.open(path).convert("RGB")


def share(image, rgb, box, tolerance=30):
    """The share of the pixels in `box` within `tolerance` of `rgb`."""
    region = image.crop(box)
    pixels = list(region.getdata())
    near = [p for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, rgb))]
    return len(near) / len(pixels)


def test_an_image_preview_renders_in_chromium(server, tenant, tmp_path):
    d = Drive(server, tenant)
    colour = (200, 30, 60)
    file = d.upload(solid_png(800, 500, colour), "red.png").id
    shot = screenshot(d.open_info(file).url, tmp_path / "image.png", tmp_path / "profile")
    assert shot.size == (WIDTH, HEIGHT)
    # The image is drawn centred below the header: its middle is the colour.
    assert share(shot, colour, (300, 250, 700, 500)) > 0.95, shot.getpixel((500, 400))
    # And the page is not all that colour (the header is there).
    assert share(shot, colour, (0, 0, WIDTH, 40)) < 0.05


def test_a_pdf_preview_renders_in_chromium(server, tenant, tmp_path):
    d = Drive(server, tenant)
    file = d.upload(pdf(rgb=(0.0, 0.6, 0.0)), "green.pdf").id
    url = d.open_info(file).url
    shot = screenshot(url, tmp_path / "pdf.png", tmp_path / "profile")
    # The first page, rendered by the server, fills the width below the header.
    assert share(shot, (0, 153, 0), (300, 300, 700, 700)) > 0.95, shot.getpixel((500, 500))
