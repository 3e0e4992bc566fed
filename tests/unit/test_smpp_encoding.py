"""GSM-7 / UCS-2 segmentation against the shared vectors and the shared GSM 03.38 table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.smpp.encoding import (
    ESC,
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsTextError,
    SmsTooLong,
    count_segments,
    decode_gsm7,
    encode_text,
    sanitize_text,
    segment,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
VECTORS_FILE = SHARED / "fixtures" / "sms" / "segmentation_vectors.jsonl"


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        return []
    return [json.loads(line) for line in VECTORS_FILE.read_text("utf-8").splitlines() if line]


VECTORS = _vectors()


def _concat(vector: dict[str, Any]) -> str:
    return "udh16" if vector["ref_bits"] == 16 else "udh8"


@pytest.mark.skipif(not VECTORS, reason="../shared fixtures not present")
@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_segmentation_vector(vector: dict[str, Any]) -> None:
    parts = segment(vector["text"], concat=_concat(vector), ref=7)
    assert len(parts) == vector["expected_segments"]
    assert {p.encoding for p in parts} == {vector["expected_encoding"]}
    assert sum(p.units for p in parts) == vector["expected_units"]
    assert "".join(p.text for p in parts) == vector["text"]
    if "expected_segment_units" in vector:
        assert [p.units for p in parts] == vector["expected_segment_units"]
    if "expected_segment_texts" in vector:
        assert [p.text for p in parts] == vector["expected_segment_texts"]
    info = count_segments(vector["text"], concat=_concat(vector))
    assert (info.encoding, info.segments, info.units) == (
        vector["expected_encoding"],
        vector["expected_segments"],
        vector["expected_units"],
    )


@pytest.mark.skipif(not VECTORS, reason="../shared fixtures not present")
@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_no_part_ends_in_a_lone_escape_or_half_surrogate(vector: dict[str, Any]) -> None:
    for part in segment(vector["text"], concat=_concat(vector), ref=7):
        body = part.payload[len(part.udh) :]
        if part.encoding == "GSM7":
            # An odd run of trailing ESC octets means the pair was cut.
            trailing = len(body) - len(body.rstrip(bytes([ESC])))
            assert trailing % 2 == 0
            assert decode_gsm7(body) == part.text
        else:
            assert body.decode("utf-16-be") == part.text  # strict: fails on a cut pair


def test_gsm_table_matches_shared_fixture() -> None:
    table_file = SHARED / "fixtures" / "sms" / "gsm7.json"
    if not table_file.exists():
        pytest.skip("../shared fixtures not present")
    table = json.loads(table_file.read_text("utf-8"))
    basic = {e["char"]: int(code, 16) for code, e in table["basic"].items() if e["char"]}
    ext = {e["char"]: int(code, 16) for code, e in table["extension"].items() if e["char"]}
    assert basic == GSM7_BASIC
    assert ext == GSM7_EXTENSION


def test_udh_8bit_reference_and_esm_class() -> None:
    parts = segment("a" * 161, ref=0x1A3)
    assert [p.udh for p in parts] == [bytes.fromhex("050003a30201"), bytes.fromhex("050003a30202")]
    assert all(p.esm_class == 0x40 for p in parts)
    assert parts[0].payload[6:] == b"a" * 153


def test_udh_16bit_reference() -> None:
    parts = segment("a" * 161, concat="udh16", ref=0x1A3)
    assert parts[1].udh == bytes.fromhex("06080401a30202")


def test_single_part_has_no_udh() -> None:
    (part,) = segment("Dit is een oproep voor Burgernet.")
    assert part.udh == b"" and part.esm_class == 0 and part.data_coding == 0


def test_message_payload_is_one_pdu_without_udh() -> None:
    (part,) = segment("x" * 400, concat="payload")
    assert part.use_message_payload and part.udh == b"" and part.payload == b"x" * 400
    assert count_segments("x" * 400, concat="payload").segments == 3


def test_emoji_goes_ucs2_with_surrogates_intact() -> None:
    (part,) = segment("Let op 🚨")
    assert part.encoding == "UCS2" and part.data_coding == 8
    assert part.payload == "Let op 🚨".encode("utf-16-be")


def test_extension_characters_encode_as_escape_pairs() -> None:
    assert encode_text("€[", "GSM7") == bytes([ESC, 0x65, ESC, 0x3C])


def test_control_characters_are_refused_with_their_position() -> None:
    with pytest.raises(SmsTextError, match="U\\+0007 at position 3"):
        segment("abc\x07def")


def test_sanitize_strips_controls_keeps_line_breaks() -> None:
    assert sanitize_text("a\tb\x00c\x1bd\ne\r") == "a bcd\ne\r"


def test_2000_characters_over_budget_names_segment_count() -> None:
    with pytest.raises(SmsTooLong, match="needs 14 segments \\(GSM7\\), at most 3 allowed"):
        segment("a" * 2000, max_segments=3)


def test_empty_text_is_refused() -> None:
    with pytest.raises(SmsTextError):
        segment("")


def test_ref_bits_shorthand_selects_16_bit_reference() -> None:
    parts = segment("a" * 161, ref_bits=16)
    assert [p.units for p in parts] == [152, 9]
