"""Columns of a selection snapshot: loading selectable rows from the store, encoding strings
as integers (E.164 digits, PC4 numbers, small vocabularies) and decoding them again."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, text

from engine.participants.windows import Window

Array = npt.NDArray[Any]

_SQL = """SELECT a.participant_id, a.id, ph.id, a.lat, a.lon, a.pc4, a.exact, a.days_mask,
 coalesce(a.start_minute, -1), coalesce(a.end_minute, -1), p.channel_pref, p.is_tester,
 ph.e164, ph.kind
 FROM address a
 JOIN participant p ON p.id = a.participant_id
 JOIN phone ph ON ph.participant_id = a.participant_id
 WHERE p.status = 'active' AND p.consent_at IS NOT NULL AND ph.invalid_since IS NULL"""
_BATCH = 100_000
_IN_CHUNK = 900
_DTYPES: dict[str, Any] = {
    "pid": np.int64, "address_id": np.int64, "phone_id": np.int64, "lat": np.float64,
    "lon": np.float64, "pc4": np.int32, "exact": np.bool_, "days": np.int16,
    "start": np.int16, "end": np.int16, "channel": np.int8, "tester": np.bool_,
    "e164": np.int64, "kind": np.int8, "alive": np.bool_,
}


@dataclass
class Vocab:
    """Strings that do not fit the integer encodings, and the small vocabularies.
    Codes of odd strings are negative: ``-(position + 1)``."""

    odd_e164: list[str] = field(default_factory=list)
    odd_pc4: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=lambda: ["mobile", "landline"])
    channels: list[str] = field(default_factory=lambda: ["both", "sms", "voice"])
    _index: dict[tuple[str, str], int] = field(default_factory=dict)

    def code(self, table: str, value: str, *, add: bool = True) -> int | None:
        values: list[str] = getattr(self, table)
        key = (table, value)
        if key not in self._index:
            if not add:
                return None
            values.append(value)
            self._index[key] = len(values) - 1
        pos = self._index[key]
        return -(pos + 1) if table.startswith("odd") else pos

    def __post_init__(self) -> None:
        for table in ("kinds", "channels"):
            for i, v in enumerate(getattr(self, table)):
                self._index[(table, v)] = i


def e164_code(vocab: Vocab, s: str, *, add: bool = True) -> int | None:
    digits = s[1:]
    if s[:1] == "+" and 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit() \
            and digits[0] != "0":
        return int(digits)
    return vocab.code("odd_e164", s, add=add)


def pc4_code(vocab: Vocab, s: str, *, add: bool = True) -> int | None:
    if len(s) == 4 and s.isascii() and s.isdigit():
        return int(s)
    return vocab.code("odd_pc4", s, add=add)


@dataclass
class Columns:
    """One row per selectable (address, phone) pair."""

    pid: Array
    address_id: Array
    phone_id: Array
    lat: Array
    lon: Array
    pc4: Array
    exact: Array
    days: Array
    start: Array
    end: Array
    channel: Array
    tester: Array
    e164: Array
    kind: Array
    alive: Array

    @classmethod
    def empty(cls) -> Columns:
        return cls(**{name: np.empty(0, dtype) for name, dtype in _DTYPES.items()})

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})

    def take(self, idx: Array) -> Columns:
        return Columns(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def __len__(self) -> int:
        return len(self.pid)

    def nbytes(self) -> int:
        return sum(int(getattr(self, f.name).nbytes) for f in fields(self))


def load(conn: Connection, pids: Sequence[int] | None, vocab: Vocab) -> Iterator[Columns]:
    """Every selectable row, or those of ``pids``, in batches of columns."""
    if pids is None:
        result = conn.execute(text(_SQL), execution_options={"stream_results": True,
                                                              "yield_per": _BATCH})
        for rows in result.partitions(_BATCH):
            yield _columns(rows, vocab)
        return
    for i in range(0, len(pids), _IN_CHUNK):
        ids = ", ".join(str(int(p)) for p in pids[i:i + _IN_CHUNK])
        rows = conn.execute(text(f"{_SQL} AND a.participant_id IN ({ids})")).all()
        if rows:
            yield _columns(rows, vocab)


def _columns(rows: Sequence[Any], vocab: Vocab) -> Columns:
    (pid, aid, phid, lat, lon, pc4, exact, days, start, end, chan, tester, e164,
     kind) = zip(*rows, strict=True)
    n = len(rows)

    def ints(values: Any, dtype: Any) -> Array:
        return np.fromiter(values, dtype=dtype, count=n)

    return Columns(
        pid=ints(pid, np.int64), address_id=ints(aid, np.int64), phone_id=ints(phid, np.int64),
        lat=ints(lat, np.float64), lon=ints(lon, np.float64),
        pc4=ints((pc4_code(vocab, s) for s in pc4), np.int32),
        exact=np.array(exact, dtype=np.bool_), days=ints(days, np.int16),
        start=ints(start, np.int16), end=ints(end, np.int16),
        channel=ints((vocab.code("channels", c) for c in chan), np.int8),
        tester=np.array(tester, dtype=np.bool_),
        e164=ints((e164_code(vocab, s) for s in e164), np.int64),
        kind=ints((vocab.code("kinds", k) for k in kind), np.int8),
        alive=np.ones(n, dtype=np.bool_),
    )


def encode(vocab: Vocab, values: Sequence[str] | frozenset[str], kind: str) -> Array:
    """Codes of ``values`` known to the snapshot; unknown odd strings cannot match a row."""
    fn = e164_code if kind == "e164" else pc4_code
    codes = (fn(vocab, v, add=False) for v in values)
    return np.array([c for c in codes if c is not None], dtype=np.int64)


def decode_e164s(vocab: Vocab, codes: Array) -> list[str]:
    odd = vocab.odd_e164
    return [f"+{c}" if c >= 0 else odd[-c - 1] for c in codes.tolist()]


def decode_pc4s(vocab: Vocab, codes: Array) -> list[str]:
    uniq, inverse = np.unique(codes, return_inverse=True)
    names = np.array([f"{c:04d}" if c >= 0 else vocab.odd_pc4[-c - 1] for c in uniq.tolist()],
                     dtype=object)
    return list(names[inverse.reshape(-1)].tolist())


def decode(table: list[str], codes: Array) -> list[str]:
    return list(np.array(table, dtype=object)[codes].tolist())


def valid_at(days: Array, start: Array, end: Array, at: datetime) -> Array:
    """The store's window test: rows without a window always count; the few with one are
    tested once per distinct window with ``Window.contains`` itself."""
    windowed = (days != 127) | (start >= 0)
    ok: Array = ~windowed
    idx = np.nonzero(windowed)[0]
    if len(idx):
        key = (days[idx].astype(np.int64) << 32) | ((start[idx].astype(np.int64) + 1) << 16) \
            | (end[idx].astype(np.int64) + 1)
        uniq, inverse = np.unique(key, return_inverse=True)
        verdicts = np.array([_window(int(k)).contains(at) for k in uniq.tolist()], dtype=bool)
        ok[idx] = verdicts[inverse.reshape(-1)]
    return ok


def _window(key: int) -> Window:
    start, end = ((key >> 16) & 0xFFFF) - 1, (key & 0xFFFF) - 1
    return Window(key >> 32, start if start >= 0 else None, end if end >= 0 else None)
