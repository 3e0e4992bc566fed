"""Pure SMPP pieces on the shared PDU fixtures: framing, decoding, receipts, status classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.smpp import codec
from engine.smpp.encoding import segment
from engine.smpp.protocol import (
    FramingError,
    StatusClass,
    classify_status,
    id_forms,
    is_receipt,
    is_stop_request,
    receipt_from,
    split_frames,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PDUS_FILE = SHARED / "fixtures" / "smpp" / "pdus.jsonl"


def _pdus() -> dict[str, dict[str, Any]]:
    if not PDUS_FILE.exists():
        return {}
    rows = [json.loads(line) for line in PDUS_FILE.read_text("utf-8").splitlines() if line]
    return {row["name"]: row for row in rows}


PDUS = _pdus()
needs_fixtures = pytest.mark.skipif(not PDUS, reason="../shared fixtures not present")
RECEIPTS = sorted(
    name
    for name, row in PDUS.items()
    if row["fields"].get("command") == "deliver_sm"
    and "stat" in json.dumps(row["fields"].get("decoded", {}))
)


def _decode(name: str) -> codec.Pdu:
    return codec.decode(bytes.fromhex(PDUS[name]["hex"]), codec.Sequencer())


@needs_fixtures
@pytest.mark.parametrize("name", RECEIPTS)
def test_every_fixture_receipt_yields_id_and_final_state(name: str) -> None:
    pdu = _decode(name)
    receipt = receipt_from(pdu.text, pdu.receipted_message_id, pdu.message_state)
    assert receipt is not None and receipt.final
    assert is_receipt(pdu.esm_class)
    decoded = PDUS[name]["fields"]["decoded"]
    expected = decoded.get("receipt", {}).get("stat") or (
        "UNDELIV" if "UNDELIV" in json.dumps(decoded) else None
    )
    if expected:
        assert receipt.stat == expected


@needs_fixtures
def test_receipted_message_id_tlv_in_hex_matches_decimal_receipt_text() -> None:
    pdu = _decode("deliver_sm_receipt")
    receipt = receipt_from(pdu.text, pdu.receipted_message_id, pdu.message_state)
    assert receipt is not None
    # The TLV carries 38601fa (hex), the text id:0059113978 (decimal): the same message.
    assert "59113978" in id_forms(receipt.message_id)


@needs_fixtures
def test_mo_message_is_not_a_receipt() -> None:
    pdu = _decode("deliver_sm_mo_latin1")
    assert not is_receipt(pdu.esm_class)
    assert receipt_from(pdu.text, pdu.receipted_message_id, pdu.message_state) is None


@needs_fixtures
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("submit_sm_resp_rthrottled", StatusClass.BACKOFF),
        ("submit_sm_resp_rmsgqful", StatusClass.BACKOFF),
        ("submit_sm_resp_rinvsrcadr_with_id", StatusClass.PERMANENT),
        ("submit_sm_resp", StatusClass.OK),
    ],
)
def test_submit_resp_status_classes(name: str, expected: StatusClass) -> None:
    assert classify_status(_decode(name).status) is expected


@needs_fixtures
@pytest.mark.parametrize("name", [n for n in PDUS if n.startswith("malformed")])
def test_malformed_pdus_raise_a_known_error_not_a_crash(name: str) -> None:
    data = bytes.fromhex(PDUS[name]["hex"])
    try:
        frames, _rest = split_frames(data)
        for frame in frames:
            codec.decode(frame, codec.Sequencer())
    except (FramingError, codec.PduDecodeError):
        return
    # Some malformed PDUs are only incomplete: framing waits for more bytes, which is safe.
    assert not frames or PDUS[name].get("known_library_issues")


def test_split_frames_keeps_partial_pdu_for_the_next_read() -> None:
    seq = codec.Sequencer()
    one = codec.encode_simple("enquire_link", seq)
    frames, rest = split_frames(one + one[:7])
    assert frames == [one] and rest == one[:7]


def test_split_frames_refuses_impossible_lengths() -> None:
    with pytest.raises(FramingError):
        split_frames(b"\xde\xad\xbe\xef" * 8)


def test_submit_sm_round_trip_keeps_udh_and_coding() -> None:
    seq = codec.Sequencer()
    part = segment("Let op 🚨 " * 10, ref=5)[1]
    sequence, data = codec.encode_submit(seq, part, source="Burgernet", destination="+31612345678")
    back = codec.decode(data, seq)
    assert back.sequence == sequence and back.destination_addr == "31612345678"
    assert back.esm_class == 0x40 and back.data_coding == 8 and back.short_message == part.payload


def test_id_forms_cover_hex_and_decimal_readings() -> None:
    forms = id_forms("0000436949")
    assert forms[0] == "436949" and format(436949, "x") in forms
    assert "2587" in id_forms("A1B")
    assert id_forms("bc59b8aa-2fd2") == ["bc59b8aa-2fd2"]


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop. ", "afmelden", "Uitschrijven", "STOP BURGERNET"]
)
def test_stop_words(text: str) -> None:
    assert is_stop_request(text)


@pytest.mark.parametrize("text", ["stop die man!", "ik zag hem", "niet stoppen met zoeken"])
def test_tips_are_not_stop_requests(text: str) -> None:
    assert not is_stop_request(text)


@pytest.mark.parametrize(
    ("text", "concat", "source"),
    [
        ("Korte melding", "udh8", "Burgernet"),
        ("a" * 200 + " €", "udh16", "Burgernet"),
        ("Let op 🚨 rode jas", "udh8", "+3188001100"),
        ("x" * 300, "payload", "Burgernet"),
    ],
)
def test_hand_built_submit_sm_is_byte_equal_to_smpplib(text: str, concat: Any, source: str) -> None:
    from smpplib import smpp

    for part in segment(text, concat=concat, ref=9):
        ours_seq = codec.Sequencer()
        sequence, ours = codec.encode_submit(
            ours_seq, part, source=source, destination="+31612345678"
        )
        fields: dict[str, Any] = {
            "source_addr_ton": 1 if source.lstrip("+").isdigit() else 5,
            "source_addr_npi": 1 if source.lstrip("+").isdigit() else 0,
            "source_addr": source.lstrip("+"),
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": "31612345678",
            "esm_class": part.esm_class,
            "data_coding": part.data_coding,
            "registered_delivery": 1,
        }
        if part.use_message_payload:
            fields.update(message_payload=part.payload, short_message=None)
        else:
            fields["short_message"] = part.payload
        theirs = smpp.make_pdu("submit_sm", client=codec.Sequencer(), **fields).generate()
        assert sequence == 1 and ours == theirs


@pytest.mark.parametrize(
    "command", ["enquire_link", "enquire_link_resp", "deliver_sm_resp", "unbind"]
)
def test_hand_built_simple_pdus_decode_with_smpplib(command: str) -> None:
    data = codec.encode_simple(command, codec.Sequencer(), sequence=42)
    back = codec.decode(data, codec.Sequencer())
    assert (back.command, back.sequence, back.status) == (command, 42, 0)


@needs_fixtures
def test_concatenated_mo_part_is_read_without_its_udh() -> None:
    pdu = _decode("deliver_sm_ucs2_concat_8bit_ref")
    expected = PDUS["deliver_sm_ucs2_concat_8bit_ref"]["fields"]["decoded"]["text_utf16be"]
    assert pdu.text == expected
