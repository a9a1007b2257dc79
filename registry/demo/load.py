"""Loading a scenario: straight into the application (tests, benchmarks' baseline)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.application import allocation_commands as ac
from registry.application import commands as c
from registry.application.service import Registry
from registry.demo.scenario import DEMO_ACTOR, Scenario, Step

#: The command model of each use case, by Registry method name.
COMMANDS: dict[str, type[c.Command]] = {
    "register_party": c.RegisterParty,
    "register_site": c.RegisterSite,
    "register_gpu_model": c.RegisterGpuModel,
    "register_authorization": c.RegisterAuthorization,
    "amend_reference": c.AmendReference,
    "place_order": c.PlaceOrder,
    "correct_order": c.CorrectOrder,
    "request_clearance": c.RequestClearance,
    "grant_clearance": c.GrantClearance,
    "deny_clearance": c.DenyClearance,
    "revoke_clearance": c.RevokeClearance,
    "register_serials": c.RegisterSerials,
    "ship": c.Ship,
    "receive": c.Receive,
    "install": c.Install,
    "assign": c.Assign,
    "transfer": c.Transfer,
    "return_for_rma": c.ReturnForRma,
    "report_lost": c.ReportLost,
    "decommission": c.Decommission,
    "split_batch": c.SplitBatch,
    "set_allocation": ac.SetAllocation,
}


def run_step(registry: Registry, step: Step, actor: str = DEMO_ACTOR) -> Any:
    command = c.parse(COMMANDS[step.method], step.payload)
    return getattr(registry, step.method)(actor, command)


def load_in_process(
    registry: Registry, scenario: Scenario, progress: Callable[[int], None] | None = None
) -> int:
    """Run every step against the application directly; returns the number of steps."""
    n = 0
    for step in scenario.steps():
        run_step(registry, step)
        n += 1
        if progress is not None:
            progress(1)
    return n
