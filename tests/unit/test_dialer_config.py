"""Asterisk config rendering, Originate building (injection), trunk admin and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from engine.cli import main
from engine.dialer.asterisk_config import RenderError, RenderOptions, render_all
from engine.dialer.originate import BadOriginate, build_originate
from engine.dialer.settings import DialerSettings, TrunkSettings
from engine.dialer.trunk_admin import effective_trunks, set_enabled, set_trunk
from engine.dialer.trunks import Lease
from engine.errors import InvalidInput

TRUNKS = [
    TrunkSettings(name="kpn", endpoint="kpn", contact="sip:10.0.0.1:5060", max_channels=60),
    TrunkSettings(name="mob", endpoint="mob", contact="sip:10.0.0.2", dial_mode="local"),
]
SETTINGS = DialerSettings(trunks=TRUNKS)
LEASE = Lease("kpn", "local", "kpn", "direct")


def test_rendered_config_has_every_trunk_the_menu_and_the_line_cap() -> None:
    files = render_all(SETTINGS, TRUNKS, "local", RenderOptions())
    assert set(files) == {"pjsip.conf", "extensions.conf", "manager.conf", "queues.conf"}
    pjsip, ext = files["pjsip.conf"], files["extensions.conf"]
    assert "contact = sip:10.0.0.1:5060" in pjsip and "match = 10.0.0.2" in pjsip
    assert "[bnet-outbound]" in ext and "AGI(${BNET_AGI}/menu,${BNET_ATTEMPT})" in ext
    assert "agi://127.0.0.1:14573" in ext
    assert "GotoIf($[${CAP_COUNT} >= 60]?full)" in ext  # kpn's safety-net cap
    assert "UserEvent(OutboundCapped" in ext
    assert "eventfilter(action(include),name(OriginateResponse)) =" in files["manager.conf"]
    assert not re.search(r"@@\w+@@", "".join(files.values()))


def test_render_refuses_values_that_would_add_config_lines() -> None:
    evil = TrunkSettings(name="x", contact="sip:1.2.3.4\n[evil]")
    with pytest.raises(RenderError):
        render_all(DialerSettings(trunks=[evil]), [evil], "local", RenderOptions())


def originate(**kw: str) -> object:
    base = {"attempt_id": "a" * 32, "action_id": "b" * 32, "e164": "+31612345678",
            "purpose": "alert"}
    base.update(kw)
    return build_originate(**base, lease=LEASE, context="bnet-outbound",  # type: ignore[arg-type]
                           caller_id="Burgernet <08000011>", timeout_s=30)


def test_originate_carries_what_the_menu_needs() -> None:
    req = build_originate(
        attempt_id="a" * 32, action_id="b" * 32, e164="+31612345678", purpose="alert",
        lease=LEASE, context="bnet-outbound", caller_id="Burgernet <08000011>", timeout_s=30,
        msg_file="/var/lib/bnet/sounds/" + "c" * 64,
    )
    assert req.channel == "PJSIP/+31612345678@kpn"
    assert req.variables["BNET_ATTEMPT"] == "a" * 32
    assert req.variables["MSG_FILE"].endswith("c" * 64)
    local = build_originate(
        attempt_id="a" * 32, action_id="b" * 32, e164="+31612345678", purpose="alert",
        lease=Lease("mob", "local", "mob", "local"), context="bnet-outbound",
        caller_id="x", timeout_s=30,
    )
    assert local.channel == "Local/31612345678@bnet-dial-mob"
    assert local.other_channel_id == "a" * 32 + "-2"


@pytest.mark.parametrize(
    "bad",
    [
        {"e164": "+3161234\r\nAction: Ping"},
        {"e164": "0612345678"},
        {"action_id": "x\r\nVariable: INJECTED=yes"},
        {"msg_file": "/tmp/a\nAction: Hangup"},
        {"msg_url": "http://x/ a.wav"},
    ],
)
def test_originate_refuses_injection_and_bad_numbers(bad: dict[str, str]) -> None:
    with pytest.raises(BadOriginate):
        originate(**bad)


def test_trunk_admin_overlays_rows_and_validates(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        set_trunk(s, SETTINGS, "kpn", {"max_channels": "90", "prefixes": "+316,+31"}, by="t")
        set_enabled(s, SETTINGS, "mob", False, by="t")
        with pytest.raises(InvalidInput):
            set_trunk(s, SETTINGS, "kpn", {"max_channels": "-1"}, by="t")
        with pytest.raises(InvalidInput):
            set_trunk(s, SETTINGS, "kpn", {"colour": "red"}, by="t")
    with session_factory() as s:
        got = {t.name: t for t in effective_trunks(s, SETTINGS)}
    assert got["kpn"].max_channels == 90 and got["kpn"].prefixes == ["+316", "+31"]
    assert got["kpn"].contact == "sip:10.0.0.1:5060"  # untouched settings stay
    assert not got["mob"].enabled


def test_cli_trunks_and_render_config(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BNET_STORE__URL", sqlite_url)
    monkeypatch.setenv("BNET_REDIS__URL", "redis://127.0.0.1:1/0")  # stats unavailable: fine
    assert main(["trunks", "set", "trunk1", "max_channels=12", "max_cps=3"]) == 0
    assert main(["trunks", "disable", "trunk1"]) == 0
    assert main(["trunks", "list"]) == 0
    out = capsys.readouterr().out
    assert "trunk1" in out and "12" in out
    assert main(["trunks", "set", "trunk1", "bogus"]) == 2
    assert main(["asterisk", "render-config", "--out", str(tmp_path / "conf")]) == 0
    ext = (tmp_path / "conf" / "extensions.conf").read_text()
    assert "GotoIf($[${CAP_COUNT} >= 12]?full)" in ext
