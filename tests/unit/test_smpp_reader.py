"""FrameReader: no whole PDU is lost around the bind_resp or in front of garbage."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from engine.smpp import codec
from engine.smpp.protocol import FramingError, split_frames
from engine.smpp.reader import ConnectionLost, FrameReader

GARBAGE = b"\xde\xad\xbe\xef" * 8


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def _enquire_links(n: int) -> list[bytes]:
    seq = codec.Sequencer()
    return [codec.encode_simple("enquire_link", seq) for _ in range(n)]


def test_split_frames_reports_the_whole_pdus_ahead_of_garbage() -> None:
    frames = _enquire_links(2)
    with pytest.raises(FramingError) as caught:
        split_frames(b"".join(frames) + GARBAGE)
    assert caught.value.frames == frames


def test_pdus_ahead_of_garbage_are_returned_then_the_stream_counts_as_broken(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    frames = _enquire_links(2)
    theirs.sendall(b"".join(frames) + GARBAGE)
    reader = FrameReader(ours)
    assert reader.read(1.0) == frames
    with pytest.raises(FramingError):
        reader.raise_if_broken()
    with pytest.raises(FramingError):
        reader.read(0.0)


def test_partial_pdu_waits_for_the_next_read(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    (one,) = _enquire_links(1)
    reader = FrameReader(ours)
    theirs.sendall(one[:7])
    assert reader.read(1.0) == []
    theirs.sendall(one[7:])
    assert reader.read(1.0) == [one]
    reader.raise_if_broken()


def test_held_frames_are_taken_once(pair: tuple[socket.socket, socket.socket]) -> None:
    reader = FrameReader(pair[0])
    frames = _enquire_links(2)
    reader.hold(frames)
    assert reader.take_held() == frames
    assert reader.take_held() == []


def test_peer_closing_is_connection_lost(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.close()
    with pytest.raises(ConnectionLost):
        FrameReader(ours).read(1.0)
