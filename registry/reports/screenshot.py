"""The rendering check: an HTML report opened in headless Chromium and saved as a PNG.

``python -m registry.reports.screenshot --demo 0.01 --out docs/report-sample.png`` (``make
report-screenshot``) loads a small seeded Korea deployment (:func:`registry.demo.scenario.korea_deployment`)
into a scratch store in process, builds the real ownership report from it and photographs its HTML;
without ``--demo`` it renders the fixture report (:mod:`registry.reports.sample`); ``--html FILE``
photographs an existing report instead. Chromium is Debian's ``chromium`` package, installed
by ``make system-deps``; it runs with a fresh profile directory, no sandbox (we are root in a
container), no GPU and no network activity of its own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from registry.reports.render import Format, render

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class ScreenshotError(RuntimeError):
    pass


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ScreenshotError("Chromium is not installed: run `make system-deps` (Debian package chromium)")


def screenshot(html_file: Path, png_file: Path, *, width: int = 1200, height: int = 2400, timeout: float = 120) -> Path:
    """Opens ``html_file`` in headless Chromium and writes a ``width`` x ``height`` PNG to ``png_file``."""
    chromium = find_chromium()
    png_file = png_file.resolve()
    png_file.parent.mkdir(parents=True, exist_ok=True)
    png_file.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpureg-chromium-") as profile:
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png_file}",
            html_file.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if result.returncode != 0 or not png_file.exists():
        raise ScreenshotError(
            f"chromium exited {result.returncode} without a screenshot; stderr:\n{result.stderr[-2000:]}"
        )
    if not png_file.read_bytes().startswith(PNG_SIGNATURE):
        raise ScreenshotError(f"{png_file} is not a PNG")
    return png_file


def screenshot_sample(png_file: Path, *, html_file: Path | None = None, height: int = 2400) -> Path:
    """Renders the sample report to HTML (kept at ``html_file`` if given) and photographs it."""
    from registry.reports.sample import sample_report

    with tempfile.TemporaryDirectory(prefix="gpureg-report-") as tmp:
        target = html_file or Path(tmp) / "report-sample.html"
        with target.open("wb") as out:
            render(sample_report(), Format.HTML, out)
        return screenshot(target, png_file, height=height)


def demo_ownership_html(html_file: Path, scale: float = 0.01, seed: int = 2025) -> Path:
    """The ownership report of a seeded demo deployment at ``scale``, loaded in process into a
    scratch SQLite store (with the programme's allocations), as HTML."""
    from projections.db import open_engine
    from projections.queries import ReadModels
    from registry.bootstrap import build_registry
    from registry.demo.load import load_in_process
    from registry.demo.scenario import korea_deployment
    from registry.demo.server_process import planned_settings
    from registry.reports.builders import ReportSession, ReportStore

    scenario = korea_deployment(scale=scale, seed=seed)
    with tempfile.TemporaryDirectory(prefix="gpureg-demo-") as tmp:
        settings = planned_settings(f"sqlite:///{tmp}/demo.db")
        registry = build_registry(settings)
        engine = open_engine(settings)
        try:
            read_models = ReadModels(engine, registry)
            load_in_process(registry, scenario)  # the scenario sets the partners' allocations (events)
            with ReportSession(ReportStore(registry, read_models)) as session, html_file.open("wb") as out:
                render(session.build("ownership"), Format.HTML, out)
        finally:
            engine.dispose()
            registry.close()
    return html_file


def screenshot_demo(png_file: Path, *, scale: float = 0.01, html_file: Path | None = None, height: int = 2400) -> Path:
    """Builds the demo deployment's ownership report (kept at ``html_file`` if given) and photographs it."""
    with tempfile.TemporaryDirectory(prefix="gpureg-report-") as tmp:
        target = demo_ownership_html(html_file or Path(tmp) / "ownership.html", scale)
        return screenshot(target, png_file, height=height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/report-sample.png"), help="PNG to write")
    parser.add_argument("--html", type=Path, help="an HTML report to photograph (default: the sample report)")
    parser.add_argument("--demo", type=float, metavar="SCALE",
                        help="photograph the real ownership report of a demo deployment at this scale (e.g. 0.01)")
    parser.add_argument("--keep-html", type=Path, help="where to keep the report's HTML")
    parser.add_argument("--height", type=int, default=2400, help="viewport height in pixels (width 1200)")
    args = parser.parse_args(argv)
    if args.html:
        path = screenshot(args.html, args.out, height=args.height)
    elif args.demo:
        path = screenshot_demo(args.out, scale=args.demo, html_file=args.keep_html, height=args.height)
    else:
        path = screenshot_sample(args.out, html_file=args.keep_html, height=args.height)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
