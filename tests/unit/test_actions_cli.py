"""``bnet tokens``, ``bnet regions`` and ``bnet dossier`` against a real store file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.actions import dossier
from engine.actions.models import DossierEntry
from engine.api.auth import authenticate
from engine.cli import main
from tests import actions_support

api_template = actions_support.api_template
api_url = actions_support.api_url
api_factory = actions_support.api_factory


@pytest.fixture
def config(tmp_path: Path, api_url: str) -> Path:
    path = tmp_path / "bnet.toml"
    path.write_text(f'[store]\nurl = "{api_url}"\n', encoding="utf-8")
    return path


def bnet(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_token_secret_is_printed_once_and_works(config, capsys, api_factory):
    code, out, err = bnet(config, capsys, "tokens", "create", "--name", "mk-oost", "--role",
                          "centralist", "--region", "ijsselland", "--expires-days", "30")
    secret = out.strip()
    assert code == 0 and secret.startswith("bnet_") and "shown only now" in err
    with api_factory() as s:
        principal = authenticate(s, f"Bearer {secret}")
    assert (principal.role, principal.region) == ("centralist", "ijsselland")
    code, listing, _ = bnet(config, capsys, "tokens", "list")
    assert principal.token_id in listing and secret not in listing and "active" in listing
    assert bnet(config, capsys, "tokens", "revoke", principal.token_id)[0] == 0
    assert "revoked" in bnet(config, capsys, "tokens", "list")[1]
    code, _, err = bnet(config, capsys, "tokens", "revoke", "tok_nope")
    assert code == 2 and "no token" in err


def test_regions_set_and_list(config, capsys):
    assert bnet(config, capsys, "regions", "set", "ijsselland", "GM0150,gm1773")[0] == 0
    code, out, _ = bnet(config, capsys, "regions", "list")
    assert out.strip() == "ijsselland\tGM0150,GM1773"
    code, _, err = bnet(config, capsys, "regions", "set", "x", "Deventer")
    assert code == 2 and "GM0150" in err


def test_dossier_verify_detects_an_edit_and_export(config, capsys, api_factory):
    with api_factory() as s, s.begin():
        for i in range(3):
            dossier.append(s, "a1", actor="centralist:x", kind="note", data={"n": i},
                           personal={"e164": "+31612345678"} if i == 1 else None)
    code, out, _ = bnet(config, capsys, "dossier", "verify", "a1")
    assert code == 0 and "3 entries, chain intact" in out
    code, out, _ = bnet(config, capsys, "dossier", "export", "a1", "--format", "csv")
    assert [r["seq"] for r in csv.DictReader(io.StringIO(out))] == ["1", "2", "3"]
    code, out, _ = bnet(config, capsys, "dossier", "export", "a1")
    assert json.loads(out)["verified"] is True
    with api_factory() as s, s.begin():
        row = s.scalar(select(DossierEntry).where(DossierEntry.seq == 2))
        assert row is not None
        row.data = {"n": 99}
    code, out, _ = bnet(config, capsys, "dossier", "verify", "a1")
    assert code == 1 and "BROKEN at entry 2" in out
    assert bnet(config, capsys, "dossier", "verify", "nope")[0] == 2
