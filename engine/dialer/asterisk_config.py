"""Render the Asterisk configuration (pjsip, dialplan, manager, queues) from the templates in
``asterisk/`` and the trunk settings, for ``bnet asterisk render-config``.

Placeholders are ``@@name@@`` (``${...}`` belongs to the dialplan). Every value is checked
before it is written: a newline in a trunk setting would add configuration lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.dialer.settings import DialerSettings, TrunkSettings

__all__ = ["TEMPLATE_DIR", "RenderOptions", "render", "render_all"]

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "asterisk"
_PLACEHOLDER = re.compile(r"@@([a-z_]+)@@")
_SAFE = re.compile(r"[A-Za-z0-9 _.:/@+,\-*=()]*\Z")
#: Rendered file -> template.
OUTPUTS = {
    "pjsip.conf": "pjsip.conf.tmpl",
    "extensions.conf": "extensions.conf.tmpl",
    "manager.conf": "manager.conf.tmpl",
    "queues.conf": "queues.conf.tmpl",
}


class RenderError(ValueError):
    pass


@dataclass(frozen=True)
class RenderOptions:
    sip_bind: str = "0.0.0.0:5060"
    ami_bind: str = "127.0.0.1"
    ami_permit: str = "127.0.0.1/255.255.255.255"
    agent_contact: str = "sip:agent@127.0.0.1:15080"
    menu_queue_prio: int = 10


def render(template: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise RenderError(f"template placeholder @@{key}@@ has no value")
        return values[key]

    return _PLACEHOLDER.sub(sub, template)


def _checked(values: Mapping[str, object]) -> dict[str, str]:
    out = {}
    for key, value in values.items():
        text = ",".join(value) if isinstance(value, list | tuple) else str(value)
        if not _SAFE.match(text):
            raise RenderError(f"{key}: characters not allowed in Asterisk configuration")
        out[key] = text
    return out


def _contact_host(contact: str) -> str:
    host = contact.split(":", 1)[1] if contact.startswith("sip:") else contact
    host = host.split("@")[-1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _trunk_values(t: TrunkSettings, dial_timeout: int) -> dict[str, str]:
    return _checked(
        {
            "name": t.name,
            "endpoint": t.endpoint,
            "contact": t.contact,
            "contact_host": _contact_host(t.contact),
            "max_channels": t.max_channels,
            "max_cps": t.max_cps,
            "prefixes": t.prefixes,
            "dial_timeout": dial_timeout,
        }
    )


def render_all(
    settings: DialerSettings,
    trunks: Sequence[TrunkSettings],
    server: str,
    options: RenderOptions,
    template_dir: Path = TEMPLATE_DIR,
) -> dict[str, str]:
    """The rendered files for one Asterisk server (its trunks only)."""
    ami = next((s for s in settings.servers if s.name == server), None)
    if ami is None:
        raise RenderError(f"no Asterisk server named {server!r} in the dialer settings")
    mine = [t for t in trunks if t.server == server]
    tpl = {name: (template_dir / name).read_text(encoding="utf-8") for name in _TEMPLATES}
    endpoints = {t.endpoint: t for t in mine}  # trunks may share one endpoint
    values = _checked(
        {
            "sip_bind": options.sip_bind,
            "agent_contact": options.agent_contact,
            "fastagi": f"{settings.fastagi_host}:{settings.fastagi_port}",
            "outbound_context": settings.outbound_context,
            "menu_queue_prio": options.menu_queue_prio,
            "ami_port": ami.port,
            "ami_bind": options.ami_bind,
            "ami_permit": options.ami_permit,
            "ami_user": ami.username,
            "ami_secret": ami.secret,
        }
    )
    timeout = settings.originate_timeout_s
    values["trunks"] = "".join(
        render(tpl["pjsip_trunk.conf.tmpl"], _trunk_values(t, timeout)) for t in endpoints.values()
    )
    values["dial_contexts"] = "".join(
        render(tpl["extensions_dial.conf.tmpl"], _trunk_values(t, timeout)) for t in mine
    )
    return {out: render(tpl[name], values) for out, name in OUTPUTS.items()}


_TEMPLATES = (*OUTPUTS.values(), "pjsip_trunk.conf.tmpl", "extensions_dial.conf.tmpl")
