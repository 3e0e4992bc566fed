"""Shared helpers for the AMI tests: paths to the shared fixtures and transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.dialer.transcripts import Transcript, load_transcript

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared").resolve()
FIXTURES = SHARED / "fixtures"
AMI_INDEX = FIXTURES / "ami" / "index.json"
TRANSCRIPTS = SHARED / "asterisk" / "transcripts"


def ami_index() -> list[dict[str, Any]]:
    if not AMI_INDEX.exists():
        return []
    files: list[dict[str, Any]] = json.loads(AMI_INDEX.read_text())["files"]
    return files


def fixture_bytes(entry: dict[str, Any]) -> bytes:
    return (FIXTURES / entry["file"]).read_bytes()


def transcript(prefix: str) -> Transcript:
    """Load the transcript whose file name starts with ``prefix`` (e.g. ``"01"``)."""
    (path,) = sorted(TRANSCRIPTS.glob(f"{prefix}-*.txt"))
    return load_transcript(path)


def transcript_paths() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("[0-9][0-9]-*.txt"))
