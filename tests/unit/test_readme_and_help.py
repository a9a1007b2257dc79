"""The README and the CLI help say only what the code does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer.main

from bench.readme import README, block, current_block
from registry.cli import app, query_hint
from registry.reports.builders import file_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_speed_figures_are_the_latest_bench_results() -> None:
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())

    assert current_block(README.read_text()) == block(results)


def test_gpureg_serve_has_no_readmodel_url_flag_and_the_readme_does_not_say_it_has() -> None:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]

    assert "--readmodel-url" not in {o for p in serve.params for o in p.opts}
    assert "serve --readmodel-url" not in README.read_text()


def test_the_report_out_help_describes_the_default_file_name_the_code_writes() -> None:
    report = typer.main.get_command(app).commands["report"]  # type: ignore[attr-defined]
    (out,) = [p for p in report.commands["ownership"].params if p.name == "out"]
    help_text = out.help
    written = file_name("ownership", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), ".pdf")

    assert written == "ownership-report-20261231T235959Z.pdf"
    assert "<kind>-report-<as-of time, UTC, e.g. 20261231T235959Z>" in help_text


def test_the_demo_query_hint_names_the_store_it_loaded_or_the_target_it_loaded_into() -> None:
    own = query_hint("sqlite:///var/demo.db", None)
    target = query_hint("sqlite:///var/demo.db", "127.0.0.1:6000")

    assert "gpureg serve --database-url sqlite:///var/demo.db" in own and "127.0.0.1:50051" in own
    assert "gpureg serve" not in target and "http://127.0.0.1:6000/registry.api.v1" in target
    assert "make run" not in own + target


def test_the_readme_sentence_names_the_machine_the_results_describe_as_fields() -> None:
    from bench.readme import sentence

    results = json.loads((README.parent / "bench" / "results" / "latest.json").read_text())
    results["meta"]["machine"] = {"cpu_model": "Some CPU", "cores": 6}
    assert "SQLite, a 6-core machine (Some CPU))" in sentence(results)
    results["meta"]["machine"] = "Some CPU, 4 cores (shared)"
    assert "SQLite, a 4-core machine)" in sentence(results)
