"""QueryService.GetParty through a real server with bearer tokens, on SQLite and PostgreSQL: a
compliance officer reads a party's recorded facts (name, country, roles, its ultimate parent and
that parent's headquarters country, the headquarters rule, the BIS red-flag facts and its
screening status), as the rule text asks every party to carry them ("every party needs its
ultimate parent and that parent's headquarters country", /work/shared/reference/export-controls.md);
a partner reads only its own party and its subsidiaries', another partner's party being NOT_FOUND
exactly like a party that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from registry.api.v1 import commands_pb2 as c
from registry.api.v1 import compliance_pb2 as cp
from registry.api.v1 import queries_pb2 as q
from tests.e2e.conftest import RunningServer
from tests.e2e.security_world import Credentials
from tests.e2e.test_partner_isolation import Deal, build_deal, not_found, same_refusal

ENTITY_LIST = b"entry_id,name,source_list\nEL-7,Pearl River Compute Holdings,Entity List (EL)\n"


@pytest.fixture
def world(start_server: Callable[..., RunningServer], store_url: str, tmp_path: Path) -> tuple[RunningServer, Deal, Credentials]:
    creds = Credentials.create(tmp_path)
    server = start_server(store_url, **creds.settings())
    d = build_deal(server.stubs(), creds.md("admin", subject="registry-admin"))
    d.ids["mainland"] = d.do("RegisterParty", c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="Pearl River Compute Holdings", country="CN", roles=["purchaser"], headquarters_country="CN")).aggregate_id
    d.ids["kr_sub"] = d.do("RegisterParty", c.RegisterPartyRequest(request_id=str(uuid.uuid4()),
        name="Han River AI Cloud", country="KR", roles=["purchaser", "end_user"], headquarters_country="KR",
        immediate_parent_id=d.ids["mainland"], address="PO Box 12, Seoul", address_type="vague",
        online_presence="little")).aggregate_id
    return server, d, creds


def _party(server: RunningServer, md: list[tuple[str, str]], party_id: str) -> q.PartyFacts:
    return server.stubs().queries.GetParty(q.GetPartyRequest(party_id=party_id), metadata=md, timeout=30).party


def test_a_compliance_officer_reads_a_partys_ultimate_parent_its_hq_country_red_flag_facts_and_screening(
    world: tuple[RunningServer, Deal, Credentials],
) -> None:
    server, d, creds = world
    officer = creds.md("compliance_officer", subject="carol")
    party = _party(server, officer, d.ids["kr_sub"])
    assert (party.party_id, party.name, party.country, party.headquarters_country) == (
        d.ids["kr_sub"], "Han River AI Cloud", "KR", "KR")
    assert list(party.roles) == ["end_user", "purchaser"]
    assert (party.immediate_parent_id, party.named_ultimate_parent_id) == (d.ids["mainland"], "")
    assert (party.ultimate_parent_id, party.ultimate_parent_name, party.ultimate_parent_headquarters_country) == (
        d.ids["mainland"], "Pearl River Compute Holdings", "CN")
    assert (party.headquarters_rule_applies, party.headquarters_rule_decided_by) == (True, "ultimate parent")
    assert (party.address, party.address_type, party.online_presence, party.forwarder_standing) == (
        "PO Box 12, Seoul", "vague", "little", "")
    assert party.screening.status == "not_screened" and not party.screening.blocking  # no list imported yet

    server.stubs().compliance.ImportScreeningList(cp.ImportScreeningListRequest(
        request_id=str(uuid.uuid4()), source="US CSL", content=ENTITY_LIST), metadata=officer, timeout=30)
    parent = _party(server, officer, d.ids["mainland"])
    assert (parent.ultimate_parent_id, parent.headquarters_rule_decided_by) == ("", "entity")
    assert (parent.screening.status, parent.screening.blocking, parent.screening.open_hits) == ("blocked", True, 1)
    assert list(parent.screening.sources) == ["US CSL"] and parent.screening.HasField("last_screened_at")
    assert _party(server, officer, d.ids["samsung"]).screening.status == "clear"


def test_a_partner_reads_its_own_and_its_subsidiarys_party_and_another_partners_is_not_found(
    world: tuple[RunningServer, Deal, Credentials],
) -> None:
    server, d, creds = world
    samsung = creds.md("partner", d.ids["samsung"], subject="samsung-ops")
    assert _party(server, samsung, d.ids["samsung"]).name == "Samsung Electronics"
    assert _party(server, samsung, d.ids["samsung_sds"]).ultimate_parent_name == "Samsung Electronics"
    missing = str(uuid.uuid4())
    theirs = not_found(lambda: _party(server, samsung, d.ids["sk"]))
    nowhere = not_found(lambda: _party(server, samsung, missing))
    same_refusal(theirs, d.ids["sk"], nowhere, missing)
    not_found(lambda: _party(server, samsung, d.ids["kr_sub"]))
    sds = creds.md("partner", d.ids["samsung_sds"], subject="sds-ops")
    not_found(lambda: _party(server, sds, d.ids["samsung"]))  # its parent is another party's record


def test_a_site_operator_may_not_read_parties_and_a_bad_id_is_invalid(
    world: tuple[RunningServer, Deal, Credentials],
) -> None:
    server, d, creds = world
    operator = creds.md("site_operator", d.ids["samsung"], subject="pyeongtaek-dc")
    with pytest.raises(grpc.RpcError) as denied:
        _party(server, operator, d.ids["samsung"])
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as invalid:
        _party(server, creds.md("auditor", subject="auditor"), "not-a-uuid")
    assert invalid.value.code() == grpc.StatusCode.INVALID_ARGUMENT
