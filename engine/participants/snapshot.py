"""Area selection from memory: every selectable (address, number) pair as numpy columns.

A ``SelectionSnapshot`` answers exactly what ``select_participants`` answers from the store
(same rows, same nearest-first order, one entry per number) in a few milliseconds. Before each
selection it asks the store for ``max(participant_change.id)``; the database triggers of
migration 0005 log every insert, update and delete of a participant, phone or address there,
also those made by code that bypasses the participants service. The changed participants'
rows are masked out and reloaded into a small unsorted delta that is scanned brute force.

Non-exact rows are sorted by (pc4, participant, address, phone): a circle or polygon takes
whole PC4 slices, as the store does with ``pc4 IN (...)``. Exact rows are sorted by latitude.

On PostgreSQL change ids are not committed in id order: an id below the newest one seen may
still be in flight. Such gaps are asked for again until every transaction that was running
when the gap was seen has ended (``pg_snapshot_xmin``). A full build briefly takes a SHARE
lock on the log so that no change is in flight when it reads the newest id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.geo import polygon as poly
from engine.geo.distance import haversine_many
from engine.geo.service import Pc4Index
from engine.participants import snapshot_columns as sc
from engine.participants.selection import Area, Circle, Selection, _candidates

Array = npt.NDArray[Any]

#: More changed participants than this since the last look: rebuild instead of patching.
REBUILD_AFTER = 50_000
#: The delta is merged into the sorted base once it holds this many rows.
MERGE_AFTER = 20_000
#: A changed participant writes a few log rows (participant, phones, addresses).
_ROWS_PER_CHANGE = 8
PRUNE_BATCH = 100_000
_CHUNK = 900  # ids per IN list (SQLite allows 999 parameters on old builds)


class SnapshotUnavailable(RuntimeError):
    """The snapshot could not be brought up to date; select from the store instead."""


@dataclass
class _Log:
    """What this snapshot has applied of ``participant_change``."""

    seen: int = 0
    #: PostgreSQL: change ids below ``seen`` not visible yet -> xmax when they were noticed.
    gaps: dict[int, int] = field(default_factory=dict)
    pruned_at: float = 0.0


class SelectionSnapshot:
    """Per process (or per app), passed explicitly; safe for one thread at a time per call
    (callers share it under their own lock, as ``CachedGeo`` does)."""

    def __init__(self, *, rebuild_after: int = REBUILD_AFTER,
                 prune_every_s: float = 600.0, keep_changes: timedelta = timedelta(days=1)):
        self.rebuild_after = rebuild_after
        self.prune_every_s = prune_every_s
        self.keep_changes = keep_changes
        self.base: sc.Columns | None = None
        self.delta = sc.Columns.empty()
        self._log = _Log()
        self.vocab = sc.Vocab()
        self._n_loose = 0  # rows of base that are non-exact (they come first)
        self._pid_order: Array = np.empty(0, np.int64)
        self.builds = 0
        self.patches = 0

    # -- keeping up with the store ------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Bring the snapshot up to what is committed (a full build the first time).

        Reads on a connection of its own: through the caller's transaction it would apply
        uncommitted changes, which a rollback could undo (and on SQLite the rolled-back
        change ids would be handed out again and then be skipped)."""
        bind = session.get_bind()
        engine = bind.engine if isinstance(bind, Connection) else bind
        with engine.connect() as conn:
            self._refresh(conn)

    def _refresh(self, conn: Connection) -> None:
        if self.base is None:
            self._build(conn)
            return
        pg = conn.dialect.name == "postgresql"
        newest, oldest, xmin = _log_bounds(conn, pg)
        changed = self._changed(conn, newest, oldest, xmin, pg)
        if changed is None:
            self._build(conn)
        elif changed:
            self._patch(conn, changed)
        self._maybe_prune(conn, newest, oldest)

    def _changed(self, conn: Connection, newest: int | None, oldest: int | None,
                 xmin: int | None, pg: bool) -> set[int] | None:
        """Participants changed since the last look; None when only a rebuild is safe."""
        log = self._log
        if oldest is not None and oldest > min([log.seen + 1, *log.gaps]):
            return None  # pruned before this snapshot saw it
        if (newest or 0) < log.seen:
            return None  # the log was emptied by hand: ids may start over
        if (newest or 0) - log.seen > _ROWS_PER_CHANGE * self.rebuild_after:
            return None  # a bulk load: not worth reading its log
        changed: set[int] = set()
        if log.gaps:
            found = _rows(conn, "id IN ({})", sorted(log.gaps))
            changed.update(pid for _, pid in found)
            for cid, _ in found:
                log.gaps.pop(cid, None)
            for cid, seen_xmax in list(log.gaps.items()):
                if xmin is None or seen_xmax <= xmin:
                    del log.gaps[cid]  # its transaction ended before `found` was read
        if newest is not None and newest > log.seen:
            rows = conn.execute(text("SELECT id, participant_id FROM participant_change "
                                     "WHERE id > :seen"), {"seen": log.seen}).all()
            ids = {int(r[0]) for r in rows}
            top = max(ids, default=log.seen)
            if pg:
                xmax = _xmax(conn)
                log.gaps.update({i: xmax for i in range(log.seen + 1, top) if i not in ids})
            changed.update(int(r[1]) for r in rows)
            log.seen = top
        return None if len(changed) > self.rebuild_after else changed

    def _build(self, conn: Connection) -> None:
        seen = _newest_quiesced(conn)
        self.vocab = sc.Vocab()
        cols = sc.Columns.concat(list(sc.load(conn, None, self.vocab)))
        self._set_base(cols)
        self.delta = sc.Columns.empty()
        self._log = _Log(seen=seen, pruned_at=datetime.now(UTC).timestamp())
        self.builds += 1

    def _set_base(self, cols: sc.Columns) -> None:
        order = np.lexsort((cols.phone_id, cols.address_id, cols.pid,
                            np.where(cols.exact, 0, cols.pc4), cols.exact))
        self.base = cols.take(order)
        self._n_loose = int(np.count_nonzero(~self.base.exact))
        exact_part = slice(self._n_loose, None)
        # Exact rows by latitude so that a box is one searchsorted away.
        lat_order = np.argsort(self.base.lat[exact_part], kind="stable") + self._n_loose
        self.base = self.base.take(np.concatenate(
            [np.arange(self._n_loose, dtype=np.int64), lat_order]))
        self._pid_order = np.argsort(self.base.pid, kind="stable")

    def _patch(self, conn: Connection, changed: set[int]) -> None:
        assert self.base is not None
        ids = np.array(sorted(changed), dtype=np.int64)
        sorted_pids = self.base.pid[self._pid_order]
        lo = np.searchsorted(sorted_pids, ids, side="left")
        hi = np.searchsorted(sorted_pids, ids, side="right")
        for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
            self.base.alive[self._pid_order[a:b]] = False
        keep = self.delta.take(np.nonzero(~np.isin(self.delta.pid, ids))[0])
        self.delta = sc.Columns.concat([keep, *sc.load(conn, sorted(changed), self.vocab)])
        self.patches += 1
        if len(self.delta) > MERGE_AFTER:
            live = self.base.take(np.nonzero(self.base.alive)[0])
            self._set_base(sc.Columns.concat([live, self.delta]))
            self.delta = sc.Columns.empty()

    def _maybe_prune(self, conn: Connection, newest: int | None, oldest: int | None) -> None:
        now = datetime.now(UTC).timestamp()
        if newest is None or oldest is None or now - self._log.pruned_at < self.prune_every_s:
            return
        self._log.pruned_at = now
        # A bounded batch per call: after a bulk load the log holds millions of rows.
        prune_changes(conn, min(newest, oldest + PRUNE_BATCH),
                      datetime.now(UTC) - self.keep_changes)

    # -- selecting ------------------------------------------------------------------------

    def select(self, session: Session, area: Area, at: datetime, *,
               exclude_e164: frozenset[str] = frozenset(), testers_only: bool = False,
               index: Pc4Index | None = None) -> Selection:
        """What ``select_participants`` returns, from memory after a cheap freshness check."""
        self.refresh(session)
        idx = index or Pc4Index.load(session)
        pc4s, box = _candidates(idx, area)
        codes = np.unique(sc.encode(self.vocab, pc4s, "pc4"))  # ascending: the store's order
        cols, rows, presorted = self._candidate_rows(codes, box, testers_only)
        exclude = sc.encode(self.vocab, exclude_e164, "e164")
        return _finish(cols, rows, presorted, area, at, exclude, self.vocab)

    def _candidate_rows(self, pc4_codes: Array, box: tuple[float, float, float, float],
                        testers_only: bool) -> tuple[sc.Columns, Array, bool]:
        """The rows the store's two queries would return: columns, row numbers in them, and
        whether those are already in the store's order (no delta rows mixed in)."""
        assert self.base is not None
        b, n = self.base, self._n_loose
        s, w, north, e = box
        lo = np.searchsorted(b.pc4[:n], pc4_codes, side="left")
        hi = np.searchsorted(b.pc4[:n], pc4_codes, side="right")
        parts = [np.arange(x, y) for x, y in zip(lo.tolist(), hi.tolist(), strict=True)]
        # BETWEEN includes both ends.
        elo = int(np.searchsorted(b.lat[n:], s, side="left"))
        ehi = int(np.searchsorted(b.lat[n:], north, side="right"))
        band = np.arange(n + elo, n + ehi)
        parts.append(band[(b.lon[band] >= w) & (b.lon[band] <= e)])
        picked = np.concatenate(parts)
        keep = b.alive[picked]
        if testers_only:
            keep &= b.tester[picked]
        picked = picked[keep]
        d = self.delta
        in_delta = np.where(d.exact, (d.lat >= s) & (d.lat <= north) & (d.lon >= w)
                            & (d.lon <= e), np.isin(d.pc4, pc4_codes))
        if testers_only:
            in_delta &= d.tester
        if not in_delta.any():
            return b, picked, True
        cols = sc.Columns.concat([b.take(picked), d.take(np.nonzero(in_delta)[0])])
        return cols, np.arange(len(cols)), False

    def memory_bytes(self) -> int:
        base = self.base.nbytes() if self.base is not None else 0
        return base + self.delta.nbytes() + self._pid_order.nbytes


def _finish(c: sc.Columns, rows: Array, presorted: bool, area: Area, at: datetime,
            exclude: Array, vocab: sc.Vocab) -> Selection:
    if len(rows) == 0:
        return Selection()
    dist = _distances(area, c.lat[rows], c.lon[rows])
    limit = area.radius_m if isinstance(area, Circle) else np.inf
    ok = (dist <= limit) & np.isfinite(dist) & sc.valid_at(c.days[rows], c.start[rows],
                                                             c.end[rows], at)
    if len(exclude):
        ok &= ~np.isin(c.e164[rows], exclude)
    rows, dist = rows[ok], dist[ok]
    # The store's order: nearest first; among equals its (pc4, participant, address, phone)
    # order for non-exact rows, which come before exact rows (latitude order). Base rows
    # are kept in that order, so without delta rows a stable sort by distance is enough.
    if presorted:
        order = np.argsort(dist, kind="stable")
    else:
        ex = c.exact[rows]
        order = np.lexsort((c.phone_id[rows], c.address_id[rows], c.pid[rows],
                            np.where(ex, c.lat[rows], c.pc4[rows].astype(np.float64)), ex,
                            dist))
    _, first = np.unique(c.e164[rows[order]], return_index=True)  # nearest sighting per number
    pick = order[np.sort(first)]
    out = rows[pick]
    return Selection({
        "participant_id": c.pid[out].tolist(),
        "e164": sc.decode_e164s(vocab, c.e164[out]),
        "phone_kind": sc.decode(vocab.kinds, c.kind[out]),
        "channel": sc.decode(vocab.channels, c.channel[out]),
        "distance_m": dist[pick].tolist(),
        "pc4": sc.decode_pc4s(vocab, c.pc4[out]),
    })


def _distances(area: Area, lats: Array, lons: Array) -> Array:
    # Same arithmetic as selection._distances, so equal inputs give equal distances.
    if isinstance(area, Circle):
        return haversine_many(area.lat, area.lon, lats, lons)
    ring = area.outer
    clat = sum(p[1] for p in ring) / len(ring)
    clon = sum(p[0] for p in ring) / len(ring)
    d = haversine_many(clat, clon, lats, lons)
    return np.where(poly.contains(ring, lons, lats), d, np.inf)


# -- the change log ------------------------------------------------------------------------


_BOUNDS = ("SELECT (SELECT max(id) FROM participant_change), "
           "(SELECT min(id) FROM participant_change)")
_BOUNDS_PG = _BOUNDS + ", pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


def _log_bounds(conn: Connection, pg: bool) -> tuple[int | None, int | None, int | None]:
    """Newest and oldest change id (two index look-ups) and, on PostgreSQL, the oldest
    transaction still running."""
    row = conn.execute(text(_BOUNDS_PG if pg else _BOUNDS)).one()
    return row[0], row[1], (row[2] if pg else None)


def _xmax(conn: Connection) -> int:
    return int(conn.execute(text(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")).scalar_one())


def _rows(conn: Connection, where: str, ids: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = ", ".join(str(int(x)) for x in ids[i:i + _CHUNK])
        # Only integers are spliced in.
        sql = "SELECT id, participant_id FROM participant_change WHERE " + where.format(chunk)  # noqa: S608
        out.extend((int(a), int(b)) for a, b in conn.execute(text(sql)).all())
    return out


def _newest_quiesced(conn: Connection) -> int:
    """The newest change id such that no smaller one is still in flight."""
    newest = "SELECT coalesce(max(id), 0) FROM participant_change"
    if conn.dialect.name != "postgresql":
        return int(conn.execute(text(newest)).scalar_one())  # SQLite commits in id order
    # A separate connection, so the lock ends at once and never in the caller's transaction;
    # a timeout rather than waiting forever on a writer of the caller's own session.
    try:
        with conn.engine.connect() as own, own.begin():
            own.execute(text("SET LOCAL lock_timeout = '5s'"))
            own.execute(text("LOCK TABLE participant_change IN SHARE MODE"))
            return int(own.execute(text(newest)).scalar_one())
    except OperationalError as exc:
        raise SnapshotUnavailable("participant_change stayed locked by a writer") from exc


def prune_changes(conn: Connection, below: int, before: datetime) -> int:
    """Delete log rows with ids below ``below`` older than ``before`` (pass at most the
    newest id: it is kept, so ids stay monotonic). Snapshots that had not seen a pruned row
    notice ``min(id)`` passing them and rebuild. Runs on its own connection and gives up at
    once when the store is busy: pruning can always wait, a selection cannot."""
    sqlite = conn.dialect.name == "sqlite"
    # SQLite keeps CURRENT_TIMESTAMP as 'YYYY-MM-DD HH:MM:SS' text (UTC).
    cut: object = before.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if sqlite else before
    with conn.engine.connect() as own:
        try:
            with own.begin():
                own.execute(text("PRAGMA busy_timeout = 50" if sqlite
                                 else "SET LOCAL lock_timeout = '50ms'"))
                res = own.execute(text("DELETE FROM participant_change WHERE id < :below "
                                       "AND changed_at < :before"),
                                  {"below": below, "before": cut})
                return int(res.rowcount or 0)
        except OperationalError:
            return 0  # busy: the next prune will do it
        finally:
            if sqlite:  # the pooled connection gets its patience back
                own.execute(text("PRAGMA busy_timeout = 30000"))
