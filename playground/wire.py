"""JSON on the wire: orjson, plus pre-encoded fragments.

Socket.IO packets are encoded with orjson (several times faster than the
stdlib for batches of trace events), and a session keeps the history it has
already streamed as JSON text (TraceLog) rather than as Python dicts: a few
hundred sessions hold millions of events, and as live objects they made every
full garbage collection pause the server for hundreds of milliseconds.
"""

from __future__ import annotations

import json
import re
import sys

import orjson
from socketio.packet import BINARY_EVENT, EVENT, Packet

_OPTIONS = orjson.OPT_NON_STR_KEYS   # like the stdlib: int keys become strings
Fragment = orjson.Fragment


def encode(obj) -> bytes:
    return orjson.dumps(obj, option=_OPTIONS)


# dumps/loads: this module is the `json` of JsonPacket (the stdlib signature).
def dumps(obj, **_stdlib_options) -> str:
    return orjson.dumps(obj, option=_OPTIONS).decode()


# What a client sent when it cannot be read as an event, or names one it may not send: the
# catch-all handler answers it (with the packet's ack id) with the reason that follows it,
# so a malformed message gets a clear error, not silence.
BAD_PACKET = "\x00bad packet"
_UNREADABLE = object()


# Event names a client may not send: python-socketio routes "connect" and "disconnect"
# to the server's own handlers and "*" to the catch-all without its name; names starting
# with NUL are this module's (BAD_PACKET).
RESERVED = ("connect", "disconnect", "*")
_SURROGATE = re.compile("[\ud800-\udfff]")


class _LoneSurrogate:
    """What loads() returns for JSON holding a lone surrogate ("\\ud800"): not text."""


def has_lone_surrogate(value) -> bool:
    """True if any string (or key) in a decoded JSON value holds a lone surrogate."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def loads(text, **_stdlib_options):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        # What orjson refuses but JavaScript clients can send: NaN, Infinity, lone surrogates,
        # integers past 64 bits. The handlers' validation refuses numbers with a message; a
        # lone surrogate is refused here, since no Python code after this can encode it.
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _UNREADABLE
    return _LoneSurrogate if has_lone_surrogate(data) else data


class TraceLog:
    """Trace events already streamed, as JSON text, in pieces of about PIECE bytes.

    `fragment()` is all of them (a snapshot), `tail(seq)` the ones from event `seq`
    on (a forward seek), `truncate(seq)` keeps the first `seq` (a seek back). A cut
    inside a piece re-encodes that piece only, so each costs one small parse.
    """

    PIECE = 65_536

    def __init__(self):
        self._pieces: list[bytes] = []   # each a JSON array body without brackets
        self._counts: list[int] = []     # events in each piece
        self.count = 0
        self.size = 0                    # bytes of JSON held

    def add(self, encoded: bytes, n: int) -> None:
        """`encoded` is the JSON array of n events."""
        if not n:
            return
        body = encoded[1:-1]
        if self._pieces and len(self._pieces[-1]) < self.PIECE:   # many small batches: one piece
            self._pieces[-1] += b"," + body
            self._counts[-1] += n
        else:
            self._pieces.append(body)
            self._counts.append(n)
        self.count += n
        self.size += len(body) + 2

    def fragment(self) -> Fragment:
        return Fragment(b"[" + b",".join(self._pieces) + b"]")

    def _split(self, seq: int) -> tuple[int, list]:
        """(i, events): pieces before i hold events before `seq`; `events` are piece i's
        decoded (empty when `seq` starts a piece or is past the end)."""
        start = 0
        for i, n in enumerate(self._counts):
            if seq < start + n:
                return i, ([] if seq == start else orjson.loads(b"[" + self._pieces[i] + b"]"))
            start += n
        return len(self._pieces), []

    def _start_of(self, i: int) -> int:
        return sum(self._counts[:i])

    def tail(self, seq: int) -> Fragment:
        """The events from number `seq` on, as one JSON array."""
        seq = max(0, seq)
        if seq >= self.count:
            return Fragment(b"[]")
        i, decoded = self._split(seq)
        if not decoded:
            return Fragment(b"[" + b",".join(self._pieces[i:]) + b"]")
        head = encode(decoded[seq - self._start_of(i):])[1:-1]
        return Fragment(b"[" + b",".join([head, *self._pieces[i + 1:]]) + b"]")

    def split_off(self, seq: int) -> TraceLog:
        """Keep the first `seq` events; return the rest as a log of its own (numbered from 0).
        A cut inside a piece decodes that piece once and encodes its two halves."""
        rest = TraceLog()
        seq = max(0, seq)
        if seq >= self.count:
            return rest
        i, decoded = self._split(seq)
        pieces, counts = self._pieces[:i], self._counts[:i]
        if decoded:
            cut = seq - self._start_of(i)
            pieces.append(encode(decoded[:cut])[1:-1])
            counts.append(cut)
            rest.add(encode(decoded[cut:]), len(decoded) - cut)
            i += 1
        tail = TraceLog()
        tail._pieces, tail._counts = self._pieces[i:], self._counts[i:]
        tail.count, tail.size = sum(tail._counts), sum(len(p) + 2 for p in tail._pieces)
        rest.extend(tail)
        self._pieces, self._counts = pieces, counts
        self.count = seq
        self.size = sum(len(p) + 2 for p in pieces)
        return rest

    def extend(self, other: TraceLog) -> None:
        """Append another log's events after these."""
        self._pieces += other._pieces
        self._counts += other._counts
        self.count += other.count
        self.size += other.size

    def truncate(self, seq: int) -> None:
        """Keep the first `seq` events only."""
        self.split_off(seq)


class JsonPacket(Packet):
    """Socket.IO packets without binary attachments.

    The default Packet walks every payload recursively looking for bytes before
    encoding it; for batches of trace events that walk cost more than the JSON
    encoding itself. This server never sends bytes, and incoming binary
    attachments are still decoded (and then refused as non-objects). JSON is
    orjson, which also splices the pre-encoded fragments above.
    """

    uses_binary_events = False
    json = sys.modules[__name__]   # this module: dumps/loads above

    def decode(self, encoded_packet):
        n = super().decode(encoded_packet)
        if self.packet_type in (EVENT, BINARY_EVENT):
            d = self.data
            if d is _UNREADABLE:
                self.data = [BAD_PACKET, "could not read this message: it is not valid JSON (or nested too deeply)"]
            elif d is _LoneSurrogate:
                self.data = [BAD_PACKET, "could not read this message: it holds a lone surrogate (\\ud800-\\udfff), which is not text"]
            elif not isinstance(d, list) or not d or not isinstance(d[0], str):
                self.data = [BAD_PACKET, "could not read this message: an event is a JSON array that starts with the event's name"]
            elif d[0] in RESERVED or d[0].startswith("\x00"):
                # Answered by the catch-all, like any unknown event, with the packet's ack id.
                self.data = [BAD_PACKET, f"{d[0][:40]!r} is not an event a client may send"]
        elif self.data is _UNREADABLE or self.data is _LoneSurrogate:
            self.data = None
        return n
