"""One test call with pjsua2 (optional dependency), for ``bnet probe``.

Follows the safety rules of ``../shared/pjsua2`` (example_call.py): one Endpoint per process,
no pjsua2 worker threads (the main thread polls ``libHandleEvents``), callbacks only queue
events, every Call/player/recorder referenced until torn down in order, NULL audio device.
"""

from __future__ import annotations

import gc
import queue
import time
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj  # the optional extra (PyPI pjsua2-python)

__all__ = ["ProbeOptions", "ProbeResult", "run_probe"]


@dataclass(frozen=True)
class ProbeOptions:
    target: str  # sip:<number>@host:port
    play: Path | None = None  # what the callee hears (the rendered message)
    record: Path | None = None  # what came back
    dtmf: str = ""  # sent 1 s after the answer (RFC 4733)
    ring_timeout_s: float = 30.0
    hold_s: float = 10.0  # hang up this long after the answer (earlier when --play ends)
    sip_port: int = 5090
    rtp_port: int = 44000
    bind: str = "127.0.0.1"


@dataclass
class ProbeResult:
    target: str
    answered: bool = False
    status: int | None = None  # final SIP status: 200, 486, 404, 503, 487 (we cancelled) ...
    reason: str = ""
    setup_ms: float | None = None  # INVITE to 200 OK
    first_response_ms: float | None = None  # INVITE to the first provisional/final response
    duration_s: float | None = None
    dtmf_sent: str = ""
    recorded_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Any, events: queue.Queue[tuple[str, Any]]) -> None:
        super().__init__(account)
        self.events = events
        self.media: list[Any] = []

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        self.events.put(("state", (info.state, info.lastStatusCode, info.lastReason)))

    def onCallMediaState(self, prm: Any) -> None:
        # Keep the CallInfo alive while iterating: ``getInfo().media`` of a temporary is a
        # dangling SWIG reference (an empty or garbage list).
        info = self.getInfo()
        for mi in info.media:
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.events.put(("media", mi.index))


def _endpoint(opts: ProbeOptions) -> Any:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.userAgent = "bnet-probe"
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
    cfg.medConfig.noVad = True
    cfg.medConfig.clockRate = 8000
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.codecSetPriority("PCMA/8000", 255)
    ep.codecSetPriority("PCMU/8000", 254)
    tcfg = pj.TransportConfig()
    tcfg.port, tcfg.boundAddress = opts.sip_port, opts.bind
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    return ep


def _account(opts: ProbeOptions) -> Any:
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:probe@{opts.bind}:{opts.sip_port}"
    acfg.mediaConfig.transportConfig.port = opts.rtp_port
    acfg.mediaConfig.transportConfig.portRange = 50
    acfg.mediaConfig.transportConfig.boundAddress = opts.bind
    account = pj.Account()
    account.create(acfg, True)
    return account


def run_probe(opts: ProbeOptions) -> ProbeResult:
    result = ProbeResult(opts.target)
    ep = _endpoint(opts)
    account = _account(opts)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    call: _Call | None = _Call(account, events)
    try:
        _drive(ep, call, events, opts, result)
    finally:
        _teardown(ep, call, events)
        call = None
        account.shutdown()
        del account
        gc.collect()
        ep.libDestroy()
    if opts.record is not None and opts.record.exists():
        result.recorded_s = _wav_seconds(opts.record)
    return result


def _drive(
    ep: Any,
    call: Any,
    events: queue.Queue[tuple[str, Any]],
    opts: ProbeOptions,
    result: ProbeResult,
) -> None:
    start = time.monotonic()
    call.makeCall(opts.target, pj.CallOpParam(True))
    answered_at: float | None = None
    hangup_at = start + opts.ring_timeout_s
    dtmf_at: float | None = None
    while True:
        ep.libHandleEvents(20)
        now = time.monotonic()
        while not events.empty():
            kind, data = events.get_nowait()
            if kind == "state":
                state, code, reason = data
                if result.first_response_ms is None and code:
                    result.first_response_ms = round((now - start) * 1000, 1)
                if state == pj.PJSIP_INV_STATE_CONFIRMED and answered_at is None:
                    answered_at = now
                    result.answered, result.setup_ms = True, round((now - start) * 1000, 1)
                    hangup_at = now + opts.hold_s
                    dtmf_at = now + 1.0 if opts.dtmf else None
                elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
                    result.status = 200 if result.answered else code
                    result.reason = reason
                    if answered_at is not None:
                        result.duration_s = round(now - answered_at, 2)
                    return
            elif kind == "media":
                _attach_media(call, data, opts, result)
        if dtmf_at is not None and now >= dtmf_at:
            dtmf_at = None
            _send_dtmf(call, opts.dtmf, result)
        if now >= hangup_at and call.isActive():
            hangup_at = now + 5.0  # CANCEL/BYE sent; wait for the DISCONNECTED state
            call.hangup(pj.CallOpParam(True))
        if now - start > opts.ring_timeout_s + opts.hold_s + 15:
            result.notes.append("no final state from the SIP stack; gave up")
            return


def _attach_media(call: Any, index: int, opts: ProbeOptions, result: ProbeResult) -> None:
    if call.media:
        return  # re-INVITE: already attached
    audio = call.getAudioMedia(index)
    if opts.record is not None:
        recorder = pj.AudioMediaRecorder()
        recorder.createRecorder(str(opts.record))
        audio.startTransmit(recorder)
        call.media.append(recorder)
    if opts.play is not None:
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(opts.play), pj.PJMEDIA_FILE_NO_LOOP)
        player.startTransmit(audio)
        call.media.append(player)
        result.notes.append(f"playing {opts.play.name}")


def _send_dtmf(call: Any, digits: str, result: ProbeResult) -> None:
    prm = pj.CallSendDtmfParam()
    prm.method = pj.PJSUA_DTMF_METHOD_RFC2833
    prm.digits = digits
    try:
        call.sendDtmf(prm)
        result.dtmf_sent = digits
    except pj.Error as exc:
        result.notes.append(f"DTMF not sent: {exc.info()}")


def _teardown(ep: Any, call: Any, events: queue.Queue[tuple[str, Any]]) -> None:
    # Recorders write their WAV header when destroyed: before the call and the library.
    del call.media[:]
    if call.isActive():
        call.hangup(pj.CallOpParam(True))
    deadline = time.monotonic() + 5
    while call.isActive() and time.monotonic() < deadline:
        ep.libHandleEvents(20)
    while not events.empty():
        events.get_nowait()


def _wav_seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return round(w.getnframes() / float(w.getframerate()), 2)
    except (wave.Error, EOFError, OSError):
        return None
