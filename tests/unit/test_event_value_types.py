"""The value types movement events carry (positions, moves) are stored compactly and events of
the older stored shape load as them."""

from __future__ import annotations

from eventsourcing.persistence import JSONTranscoder

from registry.application.transcodings import register_domain_transcodings
from registry.domain.batch import GpuBatch, Move, Position, Stage
from registry.domain.serials import SerialSet


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    register_domain_transcodings(transcoder)
    return transcoder


def test_a_move_is_stored_as_its_plain_row_and_decodes_to_an_equal_move() -> None:
    move = Move(Position(Stage.INSTALLED, "aa", "bb"), Position(Stage.ASSIGNED, "aa", "bb", "cc"), 3)
    transcoder = _transcoder()
    data = transcoder.encode({"moves": [move]})
    assert data == b'{"moves":[{"_type_":"move","_data_":["installed|aa|bb|","assigned|aa|bb|cc",3]}]}'
    assert transcoder.decode(data) == {"moves": [move]}


def test_a_position_keeps_a_stage_member_as_its_plain_value() -> None:
    position = Position(Stage.LOST, "aa")
    assert type(position.stage) is str
    assert position == Position.parse("lost|aa||")
    assert not Position.parse("split|||").is_unit_stage


def test_a_movement_event_of_class_version_1_is_upcast_to_moves() -> None:
    state = {"moves": [["pending||bb|", "in_transit||bb|", 4]], "serials": []}
    GpuBatch.Shipped.upcast_v1_v2(state)
    assert state["moves"] == [Move(Position("pending", owner="bb"), Position("in_transit", owner="bb"), 4)]
    assert [m.as_row() for m in state["moves"]] == [["pending||bb|", "in_transit||bb|", 4]]


def test_a_receipt_of_class_version_1_is_upcast_to_moves_and_serial_sets() -> None:
    serials = [f"SN{n:04d}" for n in range(1, 9)]
    state = {
        "moves": [["in_transit||bb|", "received|aa|bb|", 8]], "serials": serials,
        "missing_serials": ["SN0009"], "unexpected_serials": [], "quantity": 8,
    }
    GpuBatch.Received.upcast_v1_v2(state)
    GpuBatch.Received.upcast_v2_v3(state)
    assert GpuBatch.Received.class_version == 3
    assert state["serials"] == SerialSet(serials) and state["serials"].compact() == [["SN", "0001", "0008"]]
    assert list(state["missing_serials"]) == ["SN0009"]
    assert len(state["unexpected_serials"]) == 0
    assert state["moves"] == [Move(Position("in_transit", owner="bb"), Position("received", "aa", "bb"), 8)]
