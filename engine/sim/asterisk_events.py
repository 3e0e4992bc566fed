"""AMI event builders of the Asterisk simulator, header for header as Asterisk 22 sends them.

Every layout here was copied from ``../shared/asterisk/transcripts`` (01-06, 13, 17-20): the
channel block (``Channel`` ... ``Linkedid``), the ``Dest*`` block of Dial events, the
``OriginateResponse`` headers, ``Cause``/``Cause-txt``/``TechCause`` and the privileges.
Values come from the simulator's own state, which holds no CR/LF (they were parsed from
lines), so ``frame()`` skips the injection checks to stay cheap at thousands of events/s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Pairs = list[tuple[str, str]]

CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
RTP_QOS = (
    (
        "RTPAUDIOQOS",
        "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
        "txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000",
    ),
    ("RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;"),
    ("RTPAUDIOQOSLOSS", "  minrxlost=000.000000;  maxrxlost=000.000000;"),
    ("RTPAUDIOQOSRTT", "     minrtt=000.000000;     maxrtt=000.000000;"),
    ("RTPAUDIOQOSMES", "   minrxmes=000.000000;   maxrxmes=000.000000;"),
)


@dataclass(slots=True)
class SimChannel:
    """One simulated Asterisk channel (what CoreShowChannels would list)."""

    name: str
    uniqueid: str
    linkedid: str
    context: str = "from-trunk"
    exten: str = "s"
    priority: int = 1
    state: int = 0
    cid_num: str = "<unknown>"
    cid_name: str = "<unknown>"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    application: str = "AppDial2"
    app_data: str = "(Outgoing Line)"
    created: float = 0.0
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)


def frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


def channel_block(ch: SimChannel, prefix: str = "") -> Pairs:
    return [
        (prefix + "Channel", ch.name),
        (prefix + "ChannelState", str(ch.state)),
        (prefix + "ChannelStateDesc", STATE_DESC.get(ch.state, "Unknown")),
        (prefix + "CallerIDNum", ch.cid_num),
        (prefix + "CallerIDName", ch.cid_name),
        (prefix + "ConnectedLineNum", ch.conn_num),
        (prefix + "ConnectedLineName", ch.conn_name),
        (prefix + "Language", "en"),
        (prefix + "AccountCode", ""),
        (prefix + "Context", ch.context),
        (prefix + "Exten", ch.exten),
        (prefix + "Priority", str(ch.priority)),
        (prefix + "Uniqueid", ch.uniqueid),
        (prefix + "Linkedid", ch.linkedid),
    ]


def channel_event(name: str, ch: SimChannel, *extra: tuple[str, str], priv: str = "call") -> Pairs:
    return [("Event", name), ("Privilege", f"{priv},all"), *channel_block(ch), *extra]


def newexten(ch: SimChannel, app: str, data: str) -> Pairs:
    ch.application, ch.app_data = app, data
    return channel_event(
        "Newexten",
        ch,
        ("Extension", ch.exten),
        ("Application", app),
        ("AppData", data),
        priv="dialplan",
    )


def varset(ch: SimChannel, variable: str, value: str) -> Pairs:
    ch.variables[variable] = value
    return channel_event("VarSet", ch, ("Variable", variable), ("Value", value), priv="dialplan")


def dial_event(
    name: str, dest: SimChannel, caller: SimChannel | None, *extra: tuple[str, str]
) -> Pairs:
    """DialBegin/DialState/DialEnd: an Originate's own dial has only the ``Dest*`` block."""
    out: Pairs = [("Event", name), ("Privilege", "call,all")]
    if caller is not None:
        out += channel_block(caller)
    return out + channel_block(dest, "Dest") + list(extra)


def hangup_request(ch: SimChannel, cause: int, tech_cause: int | None) -> Pairs:
    extra = [("Cause", str(cause))] + ([("TechCause", str(tech_cause))] if tech_cause else [])
    return channel_event("HangupRequest", ch, *extra)


def hangup(ch: SimChannel, cause: int, tech_cause: int | None = None) -> Pairs:
    extra = [("Cause", str(cause)), ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))]
    if tech_cause:
        extra.append(("TechCause", str(tech_cause)))
    return channel_event("Hangup", ch, *extra)


def originate_response(
    action_id: str,
    success: bool,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
    application: tuple[str, str] | None = None,
) -> Pairs:
    out: Pairs = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if action_id:
        out.append(("ActionID", action_id))
    out += [("Response", "Success" if success else "Failure"), ("Channel", channel)]
    if application is not None:
        out += [("Application", application[0]), ("Data", application[1])]
    else:
        out += [("Context", context), ("Exten", exten)]
    return [
        *out,
        ("Reason", str(reason)),
        ("Uniqueid", uniqueid),
        ("CallerIDNum", cid_num),
        ("CallerIDName", cid_name),
    ]


def device_state(device: str, state: str) -> Pairs:
    return [
        ("Event", "DeviceStateChange"),
        ("Privilege", "call,all"),
        ("Device", device),
        ("State", state),
    ]


def dtmf(ch: SimChannel, digit: str, end: bool) -> Pairs:
    if end:
        extra = [("Digit", digit), ("DurationMs", "280"), ("Direction", "Received")]
        return channel_event("DTMFEnd", ch, *extra, priv="dtmf")
    return channel_event("DTMFBegin", ch, ("Digit", digit), ("Direction", "Received"), priv="dtmf")


def user_event(ch: SimChannel, name: str, *extra: tuple[str, str]) -> Pairs:
    return channel_event("UserEvent", ch, ("UserEvent", name), *extra, priv="user")


def queue_event(name: str, ch: SimChannel, position: int, count: int) -> Pairs:
    extra = (("Queue", "centralist"), ("Position", str(position)), ("Count", str(count)))
    return channel_event(name, ch, *extra, priv="agent")


def agent_event(name: str, caller: SimChannel, agent: SimChannel, *extra: tuple[str, str]) -> Pairs:
    member = (("Queue", "centralist"), ("Interface", "PJSIP/agent"), ("MemberName", "Agent One"))
    return [
        ("Event", name),
        ("Privilege", "agent,all"),
        *channel_block(caller),
        *channel_block(agent, "Dest"),
        *member,
        *extra,
    ]


def core_show_channel(ch: SimChannel, action_id: str, duration_s: float) -> Pairs:
    secs = int(duration_s)
    return [
        ("Event", "CoreShowChannel"),
        ("ActionID", action_id),
        *channel_block(ch),
        ("Application", ch.application),
        ("ApplicationData", ch.app_data),
        ("Duration", f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"),
        ("BridgeId", ch.bridge_id),
    ]


def response(action_id: str | None, status: str, message: str, *extra: tuple[str, str]) -> Pairs:
    out: Pairs = [("Response", status)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    return [*out, ("Message", message), *extra]
