"""The README's benchmark sentence, written from ``bench/results/latest.json`` (never by hand).

``make bench`` (a full run) rewrites the block between :data:`BEGIN` and :data:`END` in README.md;
``tests/unit/test_readme_figures.py`` fails when the block and the latest results disagree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench figures: written by `make bench` from bench/results/latest.json; do not edit -->"
END = "<!-- /bench figures -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def _value(results: dict[str, Any], metric: str, store: str = "sqlite") -> float:
    for row in results["figures"]:
        if row["store"] == store and row["metric"].startswith(metric):
            return float(row["value"])
    raise KeyError(f"{store}: no figure {metric!r} in the results")


def sentence(results: dict[str, Any]) -> str:
    """What the README says about speed, every number from ``results``."""
    meta = results["meta"]
    described = meta.get("machine", "")
    if isinstance(described, dict):  # the results' machine as fields (cpu_model, cores, ...)
        n = described.get("cores")
        model = described.get("cpu_model")
        machine = (f"{n}-core machine" if n else "machine") + (f" ({model})" if model else "")
    else:
        cores = re.search(r"(\d+) cores?", str(described))
        machine = f"{cores.group(1)}-core machine" if cores else "machine"
    return (
        f"In the latest full run ({str(meta['started'])[:10]}, SQLite, a {machine}) the full demo "
        f"loaded in {_value(results, 'demo load incl. projections'):.1f} s with its projections caught up, "
        f"the full compliance report took {_value(results, 'compliance report [gpureg report compliance]'):.2f} s, "
        f"and the server with its projection process held {_value(results, 'server RSS, demo loaded'):.0f} MiB; "
        f"commands ran at {_value(results, 'commands/s, 16 clients'):.0f}/s at 16 clients "
        f"({_value(results, 'p50 latency, 1 client'):.1f} ms each at one client)."
    )


def block(results: dict[str, Any]) -> str:
    return f"{BEGIN}\n{sentence(results)}\n{END}"


def current_block(text: str) -> str | None:
    found = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return found.group(0) if found else None


def update(results: dict[str, Any], readme: Path = README) -> bool:
    """Rewrite the README's block from ``results``; False when the README has no block."""
    text = readme.read_text()
    old = current_block(text)
    if old is None:
        return False
    readme.write_text(text.replace(old, block(results)))
    return True
