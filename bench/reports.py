"""Time and peak memory of every report kind in every format on the demo store, each in its own process.

``gpureg report KIND --format FMT --quiet`` is run once per (kind, format), at the log head, then the
past-time reports (as recorded by the time half-way through the log: compliance and custody; and the
ownership report as occurred by then), each measured from outside: wall time and peak RSS from
``wait4``; before the past-time reports, the store's as-of checkpoints are made once (``gpureg report
checkpoints``, timed on its own), as an operator keeps them. The compliance PDF is also rendered by
WeasyPrint, the former PDF writer (``python -m bench.reports weasyprint``), as the baseline of the PDF
figures: same report, same process shape. The targets (docs/reports.md): PDF <= 60 s and <= 500 MB,
HTML/CSV/JSON <= 5 s, a past-time report <= 5 s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.proc import run_measured

REPO = Path(__file__).resolve().parent.parent
KINDS = ("compliance", "ownership", "custody")
FORMATS = ("html", "csv", "json", "pdf")


def halfway(url: str) -> str:
    """The recorded time of the event half-way through the store's log (ISO-8601, UTC)."""
    from registry.bootstrap import build_registry
    from registry.config import Settings

    registry = build_registry(Settings(database_url=url))
    try:
        head = registry.head()
        event = registry.decode(next(iter(registry.read_log(max(head // 2, 1), 1))))
        return str(getattr(event, "timestamp").isoformat())  # noqa: B009 (the protocol does not declare it)
    finally:
        registry.close()


def _one(url: str, argv: list[str], out: Path) -> dict[str, Any]:
    run = run_measured([sys.executable, *argv], cwd=REPO, timeout=3600)
    result: dict[str, Any] = {"seconds": run.seconds, "peak_mb": run.peak_rss_mb,
                              "bytes": out.stat().st_size if out.exists() else 0}
    if run.returncode != 0:
        result["error"] = run.output[-1500:]
    return result


def measure_reports(url: str, workdir: Path, say: Callable[[str], None], quick: bool = False,
                    weasyprint: bool = True) -> dict[str, Any]:
    """Each kind and format at the log head, the past-time reports, and WeasyPrint's compliance PDF."""
    results: dict[str, Any] = {"head": {}, "past": {}, "baseline": {}}
    formats = ("html", "pdf") if quick else FORMATS
    for kind in KINDS:
        for fmt in formats:
            out = workdir / f"{kind}.{fmt}"
            r = _one(url, ["-m", "registry.cli", "report", kind, "--format", fmt, "--out", str(out),
                           "--database-url", url, "--quiet"], out)
            results["head"][f"{kind}/{fmt}"] = r
            say(f"  {kind} {fmt.upper()}: {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MiB, {r['bytes']:,} bytes"
                + (f"  [red]failed[/red] {r['error'][-200:]}" if "error" in r else ""))
    when = halfway(url)
    results["past"]["as_of"] = when
    # the as-of checkpoints an operator keeps (gpureg report checkpoints, incremental, e.g. from cron):
    # made once here, timed on their own; the past-time reports then replay only the tail after one
    r = _one(url, ["-m", "registry.cli", "report", "checkpoints", "--database-url", url], workdir / "none")
    results["past"]["checkpoints"] = r
    say(f"  as-of checkpoints (gpureg report checkpoints, once): {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MiB"
        + (f"  [red]failed[/red] {r['error'][-200:]}" if "error" in r else ""))
    past = [("compliance", ["--as-of", when]), ("custody", ["--as-of", when]),
            ("ownership", ["--as-occurred-by", when])]
    for kind, option in past[:1] if quick else past:
        out = workdir / f"{kind}-past.html"
        r = _one(url, ["-m", "registry.cli", "report", kind, "--format", "html", "--out", str(out),
                       "--database-url", url, "--quiet", *option], out)
        results["past"][f"{kind}/{option[0].lstrip('-')}"] = r
        say(f"  {kind} HTML {option[0]} {when}: {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MiB"
            + (f"  [red]failed[/red] {r['error'][-200:]}" if "error" in r else ""))
    if weasyprint and not quick:
        out = workdir / "compliance-weasyprint.pdf"
        r = _one(url, ["-m", "bench.reports", "weasyprint", url, str(out)], out)
        results["baseline"]["compliance/pdf (WeasyPrint)"] = r
        say(f"  compliance PDF by WeasyPrint (baseline): {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MiB"
            + (f"  [red]failed[/red] {r['error'][-200:]}" if "error" in r else ""))
    return results


def _weasyprint(url: str, out: str) -> None:
    """The compliance report at the log head, as PDF by the former WeasyPrint writer (the baseline)."""
    from projections.db import open_engine
    from projections.queries import ReadModels
    from registry.bootstrap import build_registry
    from registry.config import Settings
    from registry.reports.builders import ReportSession, ReportStore
    from registry.reports.content import content_digest
    from registry.reports.render import weasyprint_pdf_bytes

    settings = Settings(database_url=url)
    registry = build_registry(settings)
    engine = open_engine(settings)
    try:
        with ReportSession(ReportStore(registry, ReadModels(engine, registry))) as session:
            report = session.build("compliance")
            Path(out).write_bytes(weasyprint_pdf_bytes(report, content_digest(report)))
    finally:
        engine.dispose()
        registry.close()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "weasyprint":
        _weasyprint(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 2:  # python -m bench.reports URL [--quick]: this phase alone, on an existing store
        import json
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gpureg-bench-reports-") as tmp:
            print(json.dumps(measure_reports(sys.argv[1], Path(tmp), print, quick="--quick" in sys.argv), indent=1))
    else:
        sys.exit("usage: python -m bench.reports URL [--quick] | weasyprint URL OUT")
