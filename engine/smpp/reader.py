"""Whole PDUs from one bind's socket, with none lost at the edges of a session.

Two edges used to drop PDUs the SMSC had sent correctly:

* Behind the bind_resp. An SMSC sends the receipts it kept for the account right after it
  accepts a bind, often in the same TCP segment. The bind handshake reads until the
  bind_resp; the frames after it are :meth:`FrameReader.hold`-ed for the session instead of
  being thrown away. Dropped, they were never acknowledged, so the SMSC kept them and did not
  send them again, and a submitted SMS waited for its receipt for ever.
* In front of garbage. The whole PDUs ahead of the bad bytes in one read (submit_sm_resp,
  receipts) are still returned. Only the stream after them is lost: :meth:`read` raises the
  :class:`FramingError` on the next call, or at once through :meth:`raise_if_broken`.
"""

from __future__ import annotations

import select
import socket

from engine.smpp.protocol import FramingError, split_frames


class ConnectionLost(Exception):
    pass


class FrameReader:
    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buf = b""
        self._held: list[bytes] = []
        self._broken: FramingError | None = None

    def read(self, timeout: float) -> list[bytes]:
        """The whole PDUs received within ``timeout`` (maybe none); the rest waits in a buffer."""
        self.raise_if_broken()
        readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        if not readable:
            return []
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionLost("SMSC closed the connection")
        try:
            frames, self._buf = split_frames(self._buf + data)
        except FramingError as exc:
            self._broken, self._buf = exc, b""
            return exc.frames
        return frames

    def raise_if_broken(self) -> None:
        """Raise once garbage was seen, so nothing more is sent on a stream that cannot answer."""
        if self._broken is not None:
            raise self._broken

    def hold(self, frames: list[bytes]) -> None:
        """Keep frames a handshake read past its own answer; the session handles them first."""
        self._held.extend(frames)

    def take_held(self) -> list[bytes]:
        held, self._held = self._held, []
        return held
