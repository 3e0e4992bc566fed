"""Encodings of the selection snapshot's columns: numbers and PC4s survive the round trip,
odd strings included, and the window test is the store's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.participants import snapshot_columns as sc
from engine.participants.windows import Window

NUMBERS = ["+31612345678", "+3185123", "+31 6 1234", "0612345678", "+0123", "", "+٣١٢",
           "+1234567890123456789"]
PC4S = ["1012", "7411", "0999", "AB12", "12", "١٢٣٤"]


def test_numbers_and_pc4s_round_trip() -> None:
    vocab = sc.Vocab()
    e164 = np.array([sc.e164_code(vocab, s) for s in NUMBERS], dtype=np.int64)
    pc4 = np.array([sc.pc4_code(vocab, s) for s in PC4S], dtype=np.int32)
    assert sc.decode_e164s(vocab, e164) == NUMBERS
    assert sc.decode_pc4s(vocab, pc4) == PC4S
    assert len(set(e164.tolist())) == len(NUMBERS)


def test_unknown_odd_strings_match_nothing() -> None:
    vocab = sc.Vocab()
    sc.e164_code(vocab, "odd one")
    codes = sc.encode(vocab, frozenset({"+31612345678", "odd one", "never seen"}), "e164")
    assert sorted(codes.tolist()) == [-1, 31612345678]
    assert vocab.odd_e164 == ["odd one"]


def _window_columns(windows: list[tuple[int, int | None, int | None]]) -> list[np.ndarray]:
    return [np.array([w[0] for w in windows], dtype=np.int16),
            np.array([-1 if w[1] is None else w[1] for w in windows], dtype=np.int16),
            np.array([-1 if w[2] is None else w[2] for w in windows], dtype=np.int16)]


minutes = st.one_of(st.none(), st.integers(0, 1440))


@given(st.lists(st.tuples(st.integers(0, 127), minutes, minutes), min_size=1, max_size=30),
       st.integers(0, 7 * 24 * 60 - 1))
def test_window_test_is_the_stores(windows: list[tuple[int, int | None, int | None]],
                                   offset_min: int) -> None:
    at = datetime(2026, 11, 23, tzinfo=UTC) + timedelta(minutes=offset_min)
    got = sc.valid_at(*_window_columns(windows), at).tolist()
    want = [(d == 127 and s is None) or Window(d, s, e).contains(at) for d, s, e in windows]
    assert got == want
