"""Checking import rows without the store, in batches, optionally in worker processes.

Checking a row (parse, validate, geocode, classify its numbers) is pure Python and costs about
as much as writing it; on two cores a worker process checks the next batches while the importing
process writes the current one. Only plain values cross the process boundary: rows as dicts of
strings in, :class:`bulk.Ready` or :class:`bulk.Rejection` tuples out, in file order.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.errors import EngineError
from engine.geo.models import Pc4Area
from engine.geo.service import Pc4Index
from engine.participants import service
from engine.participants.bulk import Checked, Ready, Rejection, Verdict
from engine.participants.csv_read import MalformedCsv, read_rows, row_to_input

Rows = list[tuple[int, dict[str, str]]]
#: Below this file size the worker's start-up (~1 s of imports) costs more than it saves.
PARALLEL_FROM_BYTES = 4 << 20
_PC4_COLS = ("pc4", "lat", "lon", "place", "municipality_code", "municipality", "province",
             "residents", "source")


#: What a bad row raises while it is parsed and checked (its rejection, not a failure).
ROW_ERRORS = (ValidationError, ValueError, EngineError)


def rejection(exc: Exception) -> Rejection:
    """The (code, message) a user reads in the import report for one failed row."""
    if isinstance(exc, EngineError):
        return Rejection.of(exc)
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return Rejection("validation_error", f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
    return Rejection("invalid_value", str(exc))


def check_row(row: dict[str, str], index: Pc4Index) -> Verdict:
    if not row.get("external_ref"):
        return None  # the store decides whether it is new: the per-row path
    try:
        prepared = service.prepare(row_to_input(row), index)
    except ROW_ERRORS as exc:
        return rejection(exc)
    if prepared.external_ref != row["external_ref"]:
        return None  # normalised: let register() judge it
    return Ready.of(prepared)


def _verdicts(rows: Rows, index: Pc4Index) -> list[Verdict]:
    return [check_row(row, index) for _, row in rows]


def _join(rows: Rows, verdicts: list[Verdict]) -> list[Checked]:
    return [(lineno, row, v) for (lineno, row), v in zip(rows, verdicts, strict=True)]


def default_workers(path: Path) -> int:
    """One worker beside the writing process when the file is big and a second core exists."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 1 if (cores or 1) > 1 and path.stat().st_size >= PARALLEL_FROM_BYTES else 0


def checked_batches(path: Path, index: Pc4Index, batch: int, workers: int) -> Iterator[
        list[Checked]]:
    """The file's rows in batches of ``batch``, checked, in file order."""
    batches = _chunks(read_rows(path), batch)
    if workers < 1:
        yield from (_join(rows, _verdicts(rows, index)) for rows in batches)
        return
    # spawn, not fork: the caller may run threads (a progress bar) whose locks a fork copies.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(_plain(index),))
    # The rows stay here; only the verdicts come back (half the bytes to unpickle).
    inflight: deque[tuple[Rows, Future[list[Verdict]]]] = deque()
    try:
        try:
            for rows in batches:
                inflight.append((rows, pool.submit(_check_in_worker, rows)))
                # Two batches ahead per worker keeps it busy while this process writes.
                if len(inflight) > 2 * workers:
                    yield _joined(*inflight.popleft())
        except MalformedCsv:  # the rows read before a malformed line are imported all the same
            while inflight:
                yield _joined(*inflight.popleft())
            raise
        while inflight:
            yield _joined(*inflight.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _joined(rows: Rows, verdicts: Future[list[Verdict]]) -> list[Checked]:
    try:
        done = verdicts.result()
    except BrokenProcessPool as exc:
        raise EngineError(
            f"the row-checking process ended unexpectedly (out of memory?) at line {rows[0][0]}; "
            "the rows before it are imported: import the file again to finish (imported rows "
            "stay as they are)", code="import_worker_lost") from exc
    return _join(rows, done)


def _chunks(rows: Iterable[tuple[int, dict[str, str]]], size: int) -> Iterator[Rows]:
    chunk: Rows = []
    try:
        for row in rows:
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except MalformedCsv:
        if chunk:  # read before the error: good rows
            yield chunk
        raise
    if chunk:
        yield chunk


def _plain(index: Pc4Index) -> list[tuple[Any, ...]]:
    return [tuple(getattr(r, c) for c in _PC4_COLS) for r in index.rows]


# Per worker process: the PC4 index arrives once through the pool's initializer instead of
# with every batch. A module attribute is the only place a pool initializer can leave it.
_worker_index: list[Pc4Index] = []


def _init_worker(rows: list[tuple[Any, ...]]) -> None:
    _worker_index.append(Pc4Index([Pc4Area(**dict(zip(_PC4_COLS, r, strict=True)))
                                   for r in rows]))
    # What exists now (modules, the index) lives as long as the worker: keep it out of the
    # collector's full scans, which otherwise grow with every import module loaded.
    gc.freeze()


def _check_in_worker(rows: Rows) -> list[Verdict]:
    return _verdicts(rows, _worker_index[0])
