"""PNG charts of a bench run (matplotlib, headless), saved next to the results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STYLE = {"sqlite": ("tab:blue", "SQLite"), "postgres": ("tab:orange", "PostgreSQL"),
         "noop": ("tab:gray", "no-op gRPC baseline")}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_chart(results: dict[str, Any], path: Path) -> Path:
    """p50 and p99 command latency per concurrency, per store, with the no-op baseline."""
    plt = _plt()
    fig, (ax_lat, ax_tp) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[str, list[dict[str, Any]]] = {"noop": results.get("noop", {}).get("commands", [])}
    for store, data in results.get("stores", {}).items():
        series[store] = data.get("commands", [])
    for name, rows in series.items():
        if not rows:
            continue
        color, label = STYLE.get(name, ("black", name))
        xs = [r["clients"] for r in rows]
        ax_lat.plot(xs, [r["latency"]["p50_ms"] for r in rows], "o-", color=color, label=f"{label} p50")
        ax_lat.plot(xs, [r["latency"]["p99_ms"] for r in rows], "s--", color=color, label=f"{label} p99")
        ax_tp.plot(xs, [r["throughput"] for r in rows], "o-", color=color, label=label)
    ax_lat.axhline(15, color="red", linewidth=0.8, linestyle=":", label="target p99 15 ms (16 clients)")
    for ax in (ax_lat, ax_tp):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([1, 16, 64])
        ax.set_xticklabels(["1", "16", "64"])
        ax.set_xlabel("concurrent clients")
        ax.grid(True, which="both", alpha=0.3)
    ax_lat.set_ylabel("latency (ms)")
    ax_lat.set_title("Command latency")
    ax_tp.set_ylabel("commands/s")
    ax_tp.set_title("Command throughput")
    ax_lat.legend(fontsize=7)
    ax_tp.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_chart(results: dict[str, Any], path: Path) -> Path:
    """The demo load over time: commands answered, and the lowest projection position against
    the log head (both as a fraction of the final figure), per store."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    for store, data in results.get("stores", {}).items():
        demo = data.get("demo") or {}
        timeline = demo.get("timeline") or {}
        color, label = STYLE.get(store, ("black", store))
        scale = demo.get("scale")
        suffix = f" (scale {scale:g})" if scale is not None else ""
        cmds = timeline.get("commands") or []
        if cmds:
            total = max(c for _, c in cmds) or 1
            ax.plot([t for t, _ in cmds], [c / total for _, c in cmds], "-", color=color,
                    label=f"{label}{suffix}: commands answered")
        proj = timeline.get("projections") or []
        if proj:
            final = max(p for _, p, _ in proj) or 1
            ax.plot([t for t, _, _ in proj], [p / final for _, p, _ in proj], ":", color=color,
                    label=f"{label}{suffix}: projections' position")
        done = demo.get("seconds_with_projections")
        if done:
            ax.axvline(done, color=color, linewidth=0.8, alpha=0.6)
    ax.axvline(60, color="red", linewidth=0.8, linestyle=":", label="target: full demo in 60 s")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("fraction done")
    ax.set_title("Demo load through the gRPC API")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
