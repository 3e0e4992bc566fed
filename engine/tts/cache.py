"""Content-addressed audio cache: ``<cache_dir>/<sha256>.wav``, each rendered once.

Several RQ workers (processes, maybe on one box) may render the same message at once. A
per-hash ``flock`` serialises them; the file appears by atomic rename of a complete temporary
file, so a reader (Asterisk, the media route) never sees half a WAV.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

SHA256_RE = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    return SHA256_RE.fullmatch(value) is not None


def cache_path(cache_dir: Path, sha256: str) -> Path:
    if not is_sha256(sha256):
        raise ValueError("not a lowercase hex sha256")
    return cache_dir / f"{sha256}.wav"


@contextlib.contextmanager
def hash_lock(cache_dir: Path, sha256: str) -> Iterator[None]:
    """Exclusive lock for one hash, across threads and processes (flock per open file)."""
    lock_dir = cache_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{sha256}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_atomically(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``target``, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # Asterisk runs as another user and must be able to read it
        os.replace(tmp, target)
    finally:
        # rename() of two hard links to one file does nothing and leaves the temporary name.
        tmp.unlink(missing_ok=True)


def get_or_create(cache_dir: Path, sha256: str, write: Callable[[Path], None]) -> tuple[Path, bool]:
    """The cached file for ``sha256``, created with ``write`` if missing; (path, was_cached)."""
    target = cache_path(cache_dir, sha256)
    if target.is_file():
        mark_used(target)
        return target, True
    with hash_lock(cache_dir, sha256):
        if target.is_file():  # another worker finished it while we waited
            return target, True
        write_atomically(target, write)
    return target, False


def mark_used(path: Path) -> None:
    """A hit refreshes the mtime, so :func:`prune` keeps what is still being played."""
    with contextlib.suppress(OSError):  # a read-only cache still serves hits
        os.utime(path)


def prune(folder: Path, older_than_s: float, now: float, pattern: str = "*.wav") -> int:
    """Delete cached audio not rendered or used for ``older_than_s`` seconds; the count.

    Only content-addressed names are touched (``<sha256>.wav`` or ``bnet-<sha256>.wav``).
    """
    removed = 0
    for path in folder.glob(pattern):
        if not is_sha256(path.stem.removeprefix("bnet-")):
            continue
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
    return removed
