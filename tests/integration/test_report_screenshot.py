"""The rendering check: the sample HTML report in headless Chromium (Debian's chromium), as a PNG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from registry.reports.screenshot import PNG_SIGNATURE, screenshot_sample


def test_the_sample_report_opens_in_headless_chromium_and_is_photographed(tmp_path: Path) -> None:
    html = tmp_path / "sample.html"
    png = screenshot_sample(tmp_path / "sample.png", html_file=html, height=1400)
    assert html.read_bytes().startswith(b"<!DOCTYPE html>")
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(png) as image:
        assert image.size == (1200, 1400)
        grey = image.convert("L")
        histogram = grey.histogram()
        dark = sum(histogram[:96])  # text, bars and rules
        assert dark > 0.01 * sum(histogram), "the page looks blank"
        # the header's accent rule: a dark blue line spans most of the content width near the top
        rgb = image.convert("RGB")
        rows = [
            y
            for y in range(0, 400)
            if sum(1 for x in range(120, 1080, 8) if rgb.getpixel((x, y)) == (31, 78, 121)) > 100
        ]
        assert rows, "the report header's rule is not where the stylesheet puts it"
