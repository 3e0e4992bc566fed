"""A throwaway PostgreSQL cluster (initdb/pg_ctl) on a free port, run as the postgres user."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.embedded import free_port


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def pg_available() -> str:
    """Empty string when usable, else the reason to skip."""
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return ""


@contextmanager
def postgres_cluster() -> Iterator[str]:
    tmp = Path(tempfile.mkdtemp(prefix="bnet-pg-"))
    data = tmp / "data"
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-U", "bnet", "--auth=trust", "-E", "UTF8",
                      "--no-sync"]),
        check=True, capture_output=True,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres(["pg_ctl", "-D", str(data), "-o", opts, "-l", str(tmp / "log"), "-w",
                      "start"]),
        check=True, capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "bnet", "bnet"]),
            check=True, capture_output=True,
        )
        yield f"postgresql+psycopg://bnet@127.0.0.1:{port}/bnet"
    finally:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
