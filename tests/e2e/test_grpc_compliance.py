"""ComplianceService through the generated stubs on a real server: screening and its resolution,
classification with its evidence, rule-change impact, license requirements, authorization ledgers
and expiry warnings; bad input and unknown ids."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as pb
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer, Stubs
from tests.e2e.test_grpc_errors import details, field_violations, refused
from tests.e2e.test_grpc_subscriptions import caught_up, read_until, subscribe
from tests.e2e.world import World, as_actor, build_world, new_request_id, place_order, ts

CSL_HEADER = "_id,source,entity_number,type,programs,name,title,addresses,alt_names"
ENTITY_LIST = "Entity List (EL) - Bureau of Industry and Security"


def csl(*rows: tuple[str, str, str, str]) -> bytes:
    """A CSV in the Consolidated Screening List layout: (id, name, addresses, alt names) rows."""
    lines = [CSL_HEADER]
    for entry_id, name, addresses, alt_names in rows:
        lines.append(f'{entry_id},"{ENTITY_LIST}",,Entity,EAR,"{name}",,"{addresses}","{alt_names}"')
    return ("\n".join(lines) + "\n").encode()


LIST_WITH_SEOUL_CLOUD = csl(
    ("EL-1", "Seoul Cloud Co., Ltd.", "1 Teheran-ro, Seoul, KR", "SC Holdings"),
    ("EL-2", "Unrelated Trading LLC", "9 Harbour Rd, Dubai, AE", ""),
)


def register_model(
    api: Stubs, name: str, fp8: str, fp16: str, die_area: str, datacenter: bool = True, gpus: int = 1
) -> str:
    return api.commands.RegisterGpuModel(
        c.RegisterGpuModelRequest(request_id=new_request_id(),
            vendor="NVIDIA",
            name=name,
            dense_tops={"fp8": fp8, "fp16": fp16},
            bit_lengths={"fp8": 8, "fp16": 16},
            die_area_mm2=die_area,
            datacenter_marketed=datacenter,
            tdp_watts=400,
            gpus_per_unit=gpus,
        ),
        metadata=as_actor(),
    ).aggregate_id


def register_party(api: Stubs, name: str, country: str, hq: str, parent: str = "", immediate: str = "") -> str:
    return api.commands.RegisterParty(
        c.RegisterPartyRequest(request_id=new_request_id(),
            name=name,
            country=country,
            roles=["purchaser", "end_user"],
            headquarters_country=hq,
            ultimate_parent_id=parent,
            immediate_parent_id=immediate,
        ),
        metadata=as_actor(),
    ).aggregate_id


def register_authorization(api: Stubs, number: str, valid_to: datetime | None = None, **extra: Any) -> str:
    request = c.RegisterAuthorizationRequest(
        request_id=new_request_id(),
        auth_type=c.AUTHORIZATION_TYPE_LICENSE,
        number=number,
        eccns=["3A090"],
        destination_countries=["KR"],
        valid_from=ts(datetime(2025, 1, 1, tzinfo=UTC)),
        **extra,
    )
    if valid_to is not None:
        request.valid_to.CopyFrom(ts(valid_to))
    return api.commands.RegisterAuthorization(request, metadata=as_actor()).aggregate_id


def request_clearance(api: Stubs, w: World, batch: str, quantity: int, authorization: str = "") -> None:
    api.commands.RequestClearance(
        c.RequestClearanceRequest(request_id=new_request_id(),
            batch_id=batch,
            authorization_id=authorization,
            eccn="3A090.a",
            destination_country="KR",
            consignee_id=w.consignee,
            end_user_id=w.consignee,
            quantity=quantity,
            end_use="AI training",
        ),
        metadata=as_actor(),
    )


def import_list(api: Stubs, content: bytes, source: str = "US CSL", **extra: Any) -> pb.ImportScreeningListResponse:
    return api.compliance.ImportScreeningList(
        pb.ImportScreeningListRequest(**{"request_id": new_request_id(), "source": source, "content": content, **extra}),
        metadata=as_actor(),
    )


@pytest.fixture
def world(api: Stubs) -> World:
    return build_world(api)


# ------------------------------------------------------------------------------- screening


def test_a_screening_hit_blocks_a_clearance_until_an_officer_resolves_it_as_a_false_positive(
    start_server: Callable[..., RunningServer], store_url: str
) -> None:
    server = start_server(store_url)
    api = server.stubs()
    w = build_world(api)
    batch = place_order(api, w, quantity=8)
    request_clearance(api, w, batch, 8)
    imported = import_list(api, LIST_WITH_SEOUL_CLOUD, request_id="csl-2026-03")
    assert imported.version == 1 and imported.position == server.head() and not imported.replayed
    head = server.head()

    error = refused(
        lambda: api.commands.GrantClearance(
            c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch, authorization_id=w.authorization), metadata=as_actor()
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    found = details(error)
    assert found["ErrorInfo"].reason == "COMPLIANCE_REFUSAL" and found["ErrorInfo"].metadata["rule"] == "screening-hit"
    (violation,) = found["PreconditionFailure"].violations
    assert violation.type == "COMPLIANCE" and violation.subject == "screening-hit"
    assert "Seoul Cloud Co., Ltd." in violation.description and "compliance officer" in violation.description
    assert server.head() == head

    case = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=w.consignee)).screening_case
    assert case.blocking and case.screened_against_latest and case.party_name == "Seoul Cloud"
    (run,) = case.screenings
    assert (run.source, run.snapshot_id, run.hit_count, run.threshold) == ("US CSL", imported.aggregate_id, 1, 85.0)
    (hit,) = case.hits
    assert hit.resolution == pb.HIT_RESOLUTION_OPEN and hit.blocking and hit.current
    assert hit.score == 100.0 and hit.matched_name == "Seoul Cloud Co., Ltd." and hit.party_name == "Seoul Cloud"
    assert (hit.source, hit.snapshot_id) == ("US CSL", imported.aggregate_id)
    assert hit.sha256 == hashlib.sha256(LIST_WITH_SEOUL_CLOUD).hexdigest()
    assert (hit.entry.entry_id, hit.entry.source_list, hit.entry.name) == ("EL-1", ENTITY_LIST, "Seoul Cloud Co., Ltd.")
    assert list(hit.entry.alt_names) == ["SC Holdings"] and list(hit.entry.countries) == ["KR"]
    assert hit.entry.extra["programs"] == "EAR" and not hit.trail

    resolved = api.compliance.ResolveScreeningHit(
        pb.ResolveScreeningHitRequest(request_id=new_request_id(),
            party_id=w.consignee,
            hit_id=hit.hit_id,
            resolution=pb.HIT_RESOLUTION_FALSE_POSITIVE,
            note="different company: business registration 120-81 does not match the listed entity",
            expected_version=case.version,
        ),
        metadata=as_actor("officer-lee"),
    )
    assert resolved.aggregate_id == case.case_id and resolved.version == case.version + 1
    granted = api.commands.GrantClearance(
        c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch, authorization_id=w.authorization), metadata=as_actor()
    )

    assert granted.aggregate_id == batch
    assert api.queries.GetBatch(q.GetBatchRequest(batch_id=batch)).batch.clearance.status == "granted"
    after = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=w.consignee)).screening_case
    assert not after.blocking and after.version == resolved.version
    (resolved_hit,) = after.hits
    assert resolved_hit.resolution == pb.HIT_RESOLUTION_FALSE_POSITIVE and not resolved_hit.blocking
    assert [(s.resolution, s.actor) for s in resolved_hit.trail] == [(pb.HIT_RESOLUTION_FALSE_POSITIVE, "officer-lee")]
    assert resolved_hit.trail[0].note.startswith("different company")


def test_a_confirmed_hit_keeps_blocking_and_the_refusal_cites_the_list(api: Stubs, world: World) -> None:
    batch = place_order(api, world, quantity=2)
    request_clearance(api, world, batch, 2)
    import_list(api, LIST_WITH_SEOUL_CLOUD)
    (hit,) = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=world.consignee)).screening_case.hits
    api.compliance.ResolveScreeningHit(
        pb.ResolveScreeningHitRequest(request_id=new_request_id(),
            party_id=world.consignee, hit_id=hit.hit_id, resolution=pb.HIT_RESOLUTION_CONFIRMED, note="same entity"
        ),
        metadata=as_actor(),
    )

    error = refused(
        lambda: api.commands.GrantClearance(
            c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch, authorization_id=world.authorization)
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = details(error)["ErrorInfo"]
    assert info.metadata["rule"] == "screening-hit" and info.metadata["citation"] == ENTITY_LIST
    assert (info.metadata["fact.party_id"], info.metadata["fact.resolution"]) == (world.consignee, "confirmed")
    assert info.metadata["fact.hit_id"] == hit.hit_id and info.metadata["fact.role"] == "consignee"
    assert "is confirmed" in (error.details() or "")


def test_screening_a_party_again_records_a_run_and_honours_expected_version(
    server: RunningServer, api: Stubs, world: World
) -> None:
    error = refused(lambda: api.compliance.ScreenParty(pb.ScreenPartyRequest(request_id=new_request_id(), party_id=world.buyer)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "no screening list" in (error.details() or "")
    import_list(api, LIST_WITH_SEOUL_CLOUD)
    case = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=world.buyer)).screening_case
    assert case.version == 2 and not case.hits and not case.blocking  # opened, then screened by the import

    head = server.head()
    stale = refused(lambda: api.compliance.ScreenParty(pb.ScreenPartyRequest(request_id=new_request_id(), party_id=world.buyer, expected_version=1)))
    assert stale.code() == grpc.StatusCode.ABORTED and server.head() == head
    again = api.compliance.ScreenParty(
        pb.ScreenPartyRequest(request_id=new_request_id(), party_id=world.buyer, expected_version=2), metadata=as_actor()
    )

    assert (again.aggregate_id, again.version, again.position) == (case.case_id, 3, server.head())
    runs = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=world.buyer)).screening_case.screenings
    assert [r.source for r in runs] == ["US CSL"]


def test_a_party_never_screened_has_an_empty_case(api: Stubs, world: World) -> None:
    case = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=world.buyer)).screening_case

    assert (case.party_id, case.party_name, case.case_id, case.version) == (world.buyer, "Korea AI Compute Co", "", 0)
    assert case.screened_against_latest and not case.blocking and not case.hits


def test_list_snapshots_show_their_sha256_import_time_and_which_is_latest(
    server: RunningServer, api: Stubs, world: World
) -> None:
    first_time = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    second = csl(("EL-3", "Another Listed Co", "", ""))
    uk = b"name,countries\nSanctioned Ltd,RU\n"
    ids = [
        import_list(api, LIST_WITH_SEOUL_CLOUD, occurred_at=ts(first_time)).aggregate_id,
        import_list(api, second).aggregate_id,
        import_list(api, uk, source="UK sanctions").aggregate_id,
    ]

    pages, token = [], ""
    while True:
        page = api.compliance.ListScreeningLists(pb.ListScreeningListsRequest(page_size=2, page_token=token))
        pages.append(list(page.snapshots))
        token = page.next_page_token
        if not token:
            break
    snapshots = [s for p in pages for s in p]

    assert [len(p) for p in pages] == [2, 1]
    assert [s.snapshot_id for s in snapshots] == ids
    assert [s.sha256 for s in snapshots] == [hashlib.sha256(b).hexdigest() for b in (LIST_WITH_SEOUL_CLOUD, second, uk)]
    assert [(s.source, s.entry_count, s.latest) for s in snapshots] == [
        ("US CSL", 2, False),
        ("US CSL", 1, True),
        ("UK sanctions", 1, True),
    ]
    assert snapshots[0].imported_at.ToDatetime(tzinfo=UTC) == first_time
    assert snapshots[0].recorded_at.ToDatetime(tzinfo=UTC) > first_time
    assert {s.imported_by for s in snapshots} == {"officer-kim"}
    only_us = api.compliance.ListScreeningLists(pb.ListScreeningListsRequest(source="US CSL")).snapshots
    assert [s.snapshot_id for s in only_us] == ids[:2]


def test_an_import_retried_with_its_request_id_answers_the_first_result_and_writes_nothing(
    server: RunningServer, api: Stubs
) -> None:
    first = import_list(api, LIST_WITH_SEOUL_CLOUD, request_id="csl-import-1")
    head = server.head()

    again = import_list(api, LIST_WITH_SEOUL_CLOUD, request_id="csl-import-1")

    assert again.replayed and again.aggregate_id == first.aggregate_id and server.head() == head


def test_an_import_larger_than_the_message_limit_is_refused_and_writes_nothing(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, max_message_bytes=64 * 1024)
    api = server.stubs()
    big = csl(*[(f"EL-{n}", f"Listed Company Number {n}", "", "") for n in range(2000)])
    assert len(big) > 64 * 1024
    head = server.head()

    error = refused(lambda: import_list(api, big))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert server.head() == head


def test_a_subscriber_receives_a_list_import_larger_than_a_message_without_its_entries(
    start_server: Callable[..., RunningServer], sqlite_url: str
) -> None:
    server = start_server(sqlite_url, max_message_bytes=64 * 1024)
    api = server.stubs()
    content = ("name\n" + "".join(f"Listed Co {n}\n" for n in range(800))).encode()
    assert len(content) < 60 * 1024  # the request fits; the snapshot's entries as JSON would not
    imported = import_list(api, content)

    events, _ = read_until(subscribe(api, event_types=["ScreeningList.Imported"]), caught_up)

    (event,) = events
    payload = json.loads(event.payload_json)
    assert event.aggregate_id == imported.aggregate_id
    assert payload["entry_count"] == 800 and payload["sha256"] == hashlib.sha256(content).hexdigest()
    assert "entries" not in payload


# ---------------------------------------------------------------------------- classification


def test_classification_shows_its_evidence_for_a_b200_an_h20_and_a_gaming_card(api: Stubs, world: World) -> None:
    h20 = register_model(api, "H20", fp8="296", fp16="148", die_area="814")
    gaming = register_model(api, "RTX 4090 D", fp8="588", fp16="294", die_area="609", datacenter=False)

    b200 = api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=world.model))
    h20_result = api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=h20)).classification
    gaming_result = api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=gaming)).classification

    cl = b200.classification
    assert (cl.model_id, cl.model_name, cl.status, cl.eccn) == (
        world.model,
        "B200",
        pb.CONTROL_STATUS_CONTROLLED,
        "3A090.a",
    )
    assert list(cl.paragraphs) == ["3A090.a.1", "3A090.a.2"]
    assert cl.tpp == "36000" and dict(cl.tpp_by_precision) == {"fp8": "36000", "fp16": "36000"}
    assert cl.performance_density == "22.5000" and cl.ruleset_id == "3A090-2023-11"
    assert "88 FR 73458" in cl.ruleset_citation
    assert dict(cl.inputs.dense_tops) == {"fp8": "4500", "fp16": "2250"} and cl.inputs.die_area_mm2 == "1600"
    assert cl.inputs.datacenter_marketed and cl.inputs.gpus_per_unit == 1
    assert any(r.startswith("TPP 36000 = ") for r in cl.reasons) and "meets 3A090.a.1" in cl.reasons
    assert (b200.ruleset.ruleset_id, b200.ruleset.tpp_a, b200.ruleset.pd_a2) == ("3A090-2023-11", "4800", "5.92")
    assert b200.ruleset.effective_from.ToDatetime(tzinfo=UTC) == datetime(2023, 11, 17, tzinfo=UTC)

    assert (h20_result.status, h20_result.eccn, list(h20_result.paragraphs)) == (
        pb.CONTROL_STATUS_NOT_CONTROLLED,
        "",
        [],
    )
    assert (h20_result.tpp, h20_result.performance_density) == ("2368", "2.9091")
    assert "below every 3A090 threshold" in h20_result.reasons

    assert (gaming_result.status, gaming_result.eccn, list(gaming_result.paragraphs)) == (
        pb.CONTROL_STATUS_EXCLUDED_NOTE_2,
        "",
        ["3A090.a.2"],
    )
    assert any(r.startswith("Note 2 to ECCN 3A090") for r in gaming_result.reasons)


def test_a_server_of_controlled_gpus_classifies_as_4a090_and_a_ruleset_can_be_named(api: Stubs) -> None:
    hgx = register_model(api, "HGX B200", fp8="4500", fp16="2250", die_area="1600", gpus=8)

    by_id = api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=hgx, ruleset_id="3A090-2023-11"))
    by_date = api.compliance.ClassifyModel(
        pb.ClassifyModelRequest(model_id=hgx, as_of=ts(datetime(2024, 6, 1, tzinfo=UTC)))
    )

    assert by_id.classification.eccn == by_date.classification.eccn == "4A090.a"
    assert by_id.classification.inputs.gpus_per_unit == 8


def test_a_classification_before_any_ruleset_is_refused_naming_the_rule(api: Stubs, world: World) -> None:
    error = refused(
        lambda: api.compliance.ClassifyModel(
            pb.ClassifyModelRequest(model_id=world.model, as_of=ts(datetime(2022, 1, 1, tzinfo=UTC)))
        )
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details(error)["PreconditionFailure"].violations[0].subject == "classification-ruleset"


def test_rule_change_impact_lists_the_models_and_batches_whose_classification_would_change(
    api: Stubs, world: World
) -> None:
    h20 = register_model(api, "H20", fp8="296", fp16="148", die_area="814")
    h20_batch = place_order(api, world, quantity=16, model_id=h20)
    place_order(api, world, quantity=8)  # a B200 batch: 3A090.a either way

    impact = api.compliance.GetRuleChangeImpact(
        pb.GetRuleChangeImpactRequest(
            proposed_ruleset=pb.ProposedRuleset(ruleset_id="draft-2026", tpp_b1_low="2000", title="draft")
        )
    )
    unchanged = api.compliance.GetRuleChangeImpact(pb.GetRuleChangeImpactRequest(ruleset_id="3A090-2023-11"))

    assert impact.baseline_ruleset.ruleset_id == "3A090-2023-11"
    assert (impact.candidate_ruleset.ruleset_id, impact.candidate_ruleset.tpp_b1_low) == ("draft-2026", "2000")
    assert impact.candidate_ruleset.tpp_a == "4800"  # not given: the baseline's
    (model,) = impact.models
    assert (model.model_id, model.model_name) == (h20, "H20")
    assert (model.before.status, model.before.eccn) == (pb.CONTROL_STATUS_NOT_CONTROLLED, "")
    assert (model.after.status, model.after.eccn, list(model.after.paragraphs)) == (
        pb.CONTROL_STATUS_CONTROLLED,
        "3A090.b",
        ["3A090.b.1"],
    )
    assert [(b.batch_id, b.quantity, b.stage, b.clearance_status) for b in model.batches] == [
        (h20_batch, 16, "ordered", "none")
    ]
    assert not unchanged.models


# ---------------------------------------------------------------------- license requirements


def test_license_requirements_name_the_headquarters_rule_through_a_parent_and_the_destination_rule(
    api: Stubs, world: World
) -> None:
    parent = register_party(api, "Shenzhen Compute Group", "CN", "CN")
    subsidiary = register_party(api, "Lion City AI Pte Ltd", "SG", "SG", parent=parent)
    h20 = register_model(api, "H20", fp8="296", fp16="148", die_area="814")

    in_korea = api.compliance.GetLicenseRequirements(
        pb.GetLicenseRequirementsRequest(
            model_id=world.model,
            destination_country="KR",
            parties=[
                pb.PartyRole(role="end_user", party_id=subsidiary),
                pb.PartyRole(role="consignee", party_id=world.consignee),
            ],
        )
    )
    to_china = api.compliance.GetLicenseRequirements(
        pb.GetLicenseRequirementsRequest(
            model_id=world.model,
            destination_country="CN",
            parties=[pb.PartyRole(role="consignee", party_id=world.consignee)],
        )
    )
    h20_to_china = api.compliance.GetLicenseRequirements(
        pb.GetLicenseRequirementsRequest(model_id=h20, destination_country="CN")
    )

    assert in_korea.license_required and in_korea.classification.eccn == "3A090.a"
    (hq,) = in_korea.requirements
    assert (hq.rule_id, hq.citation, hq.party_id, hq.role) == (
        "headquarters-rule",
        "15 CFR 742.6(a)(6)(iii)(A)",
        subsidiary,
        "end_user",
    )
    assert "Shenzhen Compute Group" in hq.detail and list(hq.license_exceptions) == ["NAC"] and hq.title
    sub_check, consignee_check = in_korea.headquarters_checks
    assert (sub_check.role, sub_check.applies, sub_check.triggered_by_party_id) == ("end_user", True, parent)
    assert [(link.party_id, link.headquarters_country, link.relation) for link in sub_check.chain] == [
        (subsidiary, "SG", "entity"),
        (parent, "CN", "ultimate parent"),
    ]
    assert sub_check.decided_by == "ultimate parent" and not sub_check.review_party_ids
    assert (consignee_check.role, consignee_check.applies) == ("consignee", False)
    assert "D:5" not in in_korea.destination_groups and in_korea.country_groups_version

    (destination,) = to_china.requirements
    assert (destination.rule_id, destination.citation, destination.party_id) == (
        "destination-country-group",
        "15 CFR 742.6(a)(6)(iii)",
        "",
    )
    assert {"D:1", "D:5"} <= set(to_china.destination_groups)

    assert not h20_to_china.license_required and not h20_to_china.requirements
    assert h20_to_china.classification.status == pb.CONTROL_STATUS_NOT_CONTROLLED


# ---------------------------------------------------------------------------- authorizations


def test_the_ledger_shows_a_grant_drawing_the_batch_and_a_revoke_returning_it(api: Stubs, world: World) -> None:
    authorization = register_authorization(api, "D7654321", quantity_limit=100, value_limit="5000000", currency="USD")
    batch = place_order(api, world, quantity=8)
    request_clearance(api, world, batch, 8, authorization)
    api.commands.GrantClearance(
        c.GrantClearanceRequest(request_id=new_request_id(), batch_id=batch, authorization_id=authorization), metadata=as_actor("officer-kim")
    )

    granted = api.compliance.GetAuthorizationLedger(
        pb.GetAuthorizationLedgerRequest(authorization_id=authorization)
    ).ledger
    api.commands.RevokeClearance(
        c.RevokeClearanceRequest(request_id=new_request_id(), batch_id=batch, reason="end user under review"), metadata=as_actor("officer-park")
    )
    revoked = api.compliance.GetAuthorizationLedger(
        pb.GetAuthorizationLedgerRequest(authorization_id=authorization)
    ).ledger

    assert (granted.number, granted.auth_type, granted.currency) == ("D7654321", c.AUTHORIZATION_TYPE_LICENSE, "USD")
    assert granted.HasField("quantity_limit") and granted.quantity_limit == 100 and granted.value_limit == "5000000"
    assert not granted.HasField("valid_to")
    assert (granted.drawn_quantity, granted.returned_quantity, granted.remaining_quantity) == (8, 0, 92)
    assert (granted.drawn_value, granted.remaining_value) == ("250000.00", "4750000.00")
    assert [(h.batch_id, h.quantity) for h in granted.holdings] == [(batch, 8)]

    assert (revoked.drawn_quantity, revoked.returned_quantity, revoked.remaining_quantity) == (8, 8, 100)
    assert (revoked.returned_value, revoked.remaining_value) == ("250000.00", "5000000.00")
    assert not revoked.holdings
    drawn, returned = revoked.entries
    assert (drawn.kind, drawn.batch_id, drawn.quantity, drawn.value, drawn.actor) == (
        pb.LEDGER_ENTRY_KIND_DRAWN,
        batch,
        8,
        "250000.00",
        "officer-kim",
    )
    assert (returned.kind, returned.quantity, returned.actor) == (pb.LEDGER_ENTRY_KIND_RETURNED, 8, "officer-park")
    assert "end user under review" in returned.reason and not returned.related_batch_id
    assert returned.authorization_version == drawn.authorization_version + 1
    assert returned.occurred_at.ToDatetime(tzinfo=UTC) >= drawn.occurred_at.ToDatetime(tzinfo=UTC)


def test_expiry_warnings_list_authorizations_expiring_within_n_days_page_by_page(api: Stubs) -> None:
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    soon = register_authorization(api, "A-SOON", valid_to=as_of + timedelta(days=10), quantity_limit=50)
    later = register_authorization(api, "A-LATER", valid_to=as_of + timedelta(days=20))
    register_authorization(api, "A-FAR", valid_to=as_of + timedelta(days=100))
    register_authorization(api, "A-GONE", valid_to=as_of - timedelta(days=1))

    first = api.compliance.ListExpiringAuthorizations(
        pb.ListExpiringAuthorizationsRequest(within_days=30, as_of=ts(as_of), page_size=1)
    )
    second = api.compliance.ListExpiringAuthorizations(
        pb.ListExpiringAuthorizationsRequest(within_days=30, page_size=1, page_token=first.next_page_token)
    )

    (a,) = first.authorizations
    (b,) = second.authorizations
    assert (a.authorization_id, a.number, a.days_left, a.remaining_quantity) == (soon, "A-SOON", 10, 50)
    assert a.auth_type == c.AUTHORIZATION_TYPE_LICENSE and a.valid_to.ToDatetime(tzinfo=UTC) == as_of + timedelta(
        days=10
    )
    assert (b.authorization_id, b.days_left, b.HasField("remaining_quantity")) == (later, 20, False)
    assert first.next_page_token and not second.next_page_token
    assert second.as_of.ToDatetime(tzinfo=UTC) == as_of  # later pages keep the first page's time
    error = refused(
        lambda: api.compliance.ListExpiringAuthorizations(
            pb.ListExpiringAuthorizationsRequest(within_days=31, page_token=first.next_page_token)
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and set(field_violations(error)) == {"page_token"}


# ---------------------------------------------------------------------- bad input, unknown ids

BAD_INPUTS: dict[str, tuple[Callable[[Stubs, World], Any], set[str]]] = {
    "import that is not UTF-8": (
        lambda api, w: import_list(api, b"name,addresses\n\xff\xfe Trading,KR\n"),
        {"content"},
    ),
    "import without a name column": (
        lambda api, w: import_list(api, b"company,country\nAcme,KR\n"),
        {"content"},
    ),
    "import with neither content nor source": (
        lambda api, w: api.compliance.ImportScreeningList(pb.ImportScreeningListRequest(request_id=new_request_id())),
        {"content", "source"},
    ),
    "resolution that is not a decision": (
        lambda api, w: api.compliance.ResolveScreeningHit(
            pb.ResolveScreeningHitRequest(request_id=new_request_id(), party_id="p", resolution=pb.HIT_RESOLUTION_OPEN)
        ),
        {"party_id", "hit_id", "resolution", "note"},
    ),
    "classification of a malformed id": (
        lambda api, w: api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id="b200")),
        {"model_id"},
    ),
    "license requirements with bad fields": (
        lambda api, w: api.compliance.GetLicenseRequirements(
            pb.GetLicenseRequirementsRequest(
                model_id=w.model, destination_country="Korea", parties=[pb.PartyRole(role=" ", party_id="x")]
            )
        ),
        {"destination_country", "parties[0].role", "parties[0].party_id"},
    ),
    "rule change without a candidate": (
        lambda api, w: api.compliance.GetRuleChangeImpact(pb.GetRuleChangeImpactRequest()),
        {"ruleset_id"},
    ),
    "proposed thresholds that are not decimals": (
        lambda api, w: api.compliance.GetRuleChangeImpact(
            pb.GetRuleChangeImpactRequest(proposed_ruleset=pb.ProposedRuleset(tpp_a="-1", pd_a2="lots"))
        ),
        {"proposed_ruleset.tpp_a", "proposed_ruleset.pd_a2"},
    ),
    "expiry window and page size out of range": (
        lambda api, w: api.compliance.ListExpiringAuthorizations(
            pb.ListExpiringAuthorizationsRequest(within_days=0, page_size=-1)
        ),
        {"within_days", "page_size"},
    ),
    "a page token this server did not issue": (
        lambda api, w: api.compliance.ListScreeningLists(pb.ListScreeningListsRequest(page_token="nonsense")),
        {"page_token"},
    ),
    "ledger of a malformed id": (
        lambda api, w: api.compliance.GetAuthorizationLedger(pb.GetAuthorizationLedgerRequest()),
        {"authorization_id"},
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_compliance_input_is_invalid_argument_naming_each_field_and_writes_nothing(
    server: RunningServer, api: Stubs, world: World, case: str
) -> None:
    call, fields = BAD_INPUTS[case]
    head = server.head()

    error = refused(lambda: call(api, world))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields == set(field_violations(error)), field_violations(error)
    assert details(error)["ErrorInfo"].reason == "INVALID_FIELD"
    assert server.head() == head


def test_an_unknown_id_is_not_found_on_every_compliance_method(server: RunningServer, api: Stubs, world: World) -> None:
    missing = str(uuid.uuid4())
    import_list(api, LIST_WITH_SEOUL_CLOUD)
    head = server.head()

    calls: list[tuple[Callable[[], Any], str]] = [
        (lambda: api.compliance.ClassifyModel(pb.ClassifyModelRequest(model_id=missing)), "gpu_model"),
        (
            lambda: api.compliance.ClassifyModel(
                pb.ClassifyModelRequest(model_id=world.model, ruleset_id="3A090-2099")
            ),
            "ruleset",
        ),
        (lambda: api.compliance.GetRuleChangeImpact(pb.GetRuleChangeImpactRequest(ruleset_id="3A090-2099")), "ruleset"),
        (
            lambda: api.compliance.GetLicenseRequirements(
                pb.GetLicenseRequirementsRequest(
                    model_id=world.model,
                    destination_country="KR",
                    parties=[pb.PartyRole(role="end_user", party_id=missing)],
                )
            ),
            "party",
        ),
        (
            lambda: api.compliance.GetAuthorizationLedger(pb.GetAuthorizationLedgerRequest(authorization_id=missing)),
            "authorization",
        ),
        (
            lambda: api.compliance.GetAuthorizationLedger(
                pb.GetAuthorizationLedgerRequest(authorization_id=world.buyer)
            ),
            "authorization",
        ),
        (lambda: api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=missing)), "party"),
        (lambda: api.compliance.ScreenParty(pb.ScreenPartyRequest(request_id=new_request_id(), party_id=missing)), "party"),
        (
            lambda: api.compliance.ResolveScreeningHit(
                pb.ResolveScreeningHitRequest(request_id=new_request_id(),
                    party_id=missing, hit_id="h", resolution=pb.HIT_RESOLUTION_CONFIRMED, note="n"
                )
            ),
            "party",
        ),
    ]
    for call, kind in calls:
        error = refused(call)
        assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
        assert details(error)["ResourceInfo"].resource_type == kind
    assert server.head() == head


def test_resolving_a_hit_the_case_does_not_have_is_invalid_argument_on_hit_id(
    server: RunningServer, api: Stubs, world: World
) -> None:
    import_list(api, LIST_WITH_SEOUL_CLOUD)
    head = server.head()

    error = refused(
        lambda: api.compliance.ResolveScreeningHit(
            pb.ResolveScreeningHitRequest(request_id=new_request_id(),
                party_id=world.consignee, hit_id=str(uuid.uuid4()), resolution=pb.HIT_RESOLUTION_CONFIRMED, note="n"
            )
        )
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and set(field_violations(error)) == {"hit_id"}
    assert server.head() == head


def test_license_requirements_show_the_chain_and_that_an_intermediate_owner_in_d5_is_for_review_only(
    api: Stubs, world: World
) -> None:
    top = register_party(api, "Seoul Holdings", "KR", "KR")
    middle = register_party(api, "Macau Investments", "MO", "MO", immediate=top)
    entity = register_party(api, "Pangyo Compute", "KR", "KR", parent=top, immediate=middle)

    answer = api.compliance.GetLicenseRequirements(
        pb.GetLicenseRequirementsRequest(
            model_id=world.model, destination_country="KR",
            parties=[pb.PartyRole(role="end_user", party_id=entity)],
        )
    )

    assert not answer.license_required and not answer.requirements
    (check,) = answer.headquarters_checks
    assert [(link.party_id, link.relation, link.d5_or_macau) for link in check.chain] == [
        (entity, "entity", False),
        (middle, "intermediate owner", True),
        (top, "ultimate parent", False),
    ]
    assert (check.applies, check.decided_by, list(check.review_party_ids)) == (False, "", [middle])


def test_a_near_miss_below_the_threshold_is_shown_to_an_officer_and_does_not_block(api: Stubs, world: World) -> None:
    import_list(api, csl(
        ("EL-7", "Korea AI Computing Holdings", "7 Teheran-ro, Seoul, KR", ""),
        ("EL-8", "Unrelated Trading LLC", "9 Harbour Rd, Dubai, AE", ""),
    ))

    case = api.compliance.GetScreeningCase(pb.GetScreeningCaseRequest(party_id=world.buyer)).screening_case

    assert not case.hits and not case.blocking
    (run,) = case.screenings
    (near,) = run.near_misses
    assert (near.entry_id, near.matched_name) == ("EL-7", "Korea AI Computing Holdings")
    assert 60 <= near.score < run.threshold
