"""The findings part of the compliance report: open findings by severity, each finding with its rule,
citation and resolution trail. Served by the compliance projection when the catalog has one."""

from __future__ import annotations

from collections.abc import Iterator

from registry.reports.builders.common import Context
from registry.reports.model import Block, Paragraph

MISSING = (
    "Findings are not part of this report: this build of the registry has no compliance projection, so "
    "recorded facts are not yet checked against the finding rules."
)


def available(ctx: Context) -> bool:
    return "compliance" in ctx.read_models.projections


def summary(ctx: Context) -> Iterator[Block]:
    if not available(ctx):
        yield Paragraph(MISSING)


def blocks(ctx: Context) -> Iterator[Block]:
    yield Paragraph(MISSING)
