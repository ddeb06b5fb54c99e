"""JSON on the wire: orjson, plus pre-encoded fragments.

Socket.IO packets are encoded with orjson (several times faster than the
stdlib for batches of trace events), and a session keeps the history it has
already streamed as JSON text (TraceLog) rather than as Python dicts: a few
hundred sessions hold millions of events, and as live objects they made every
full garbage collection pause the server for hundreds of milliseconds.
"""

from __future__ import annotations

import json
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


# What a client sent when it cannot be read as an event: the catch-all handler answers it
# (with the packet's ack id), so a malformed message gets a clear error, not silence.
BAD_PACKET = "\x00bad packet"
_UNREADABLE = object()


def loads(text, **_stdlib_options):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        # What orjson refuses but JavaScript clients can send: NaN, Infinity, lone surrogates,
        # integers past 64 bits. The handlers' validation refuses those values with a message.
        return json.loads(text)
    except (ValueError, RecursionError):
        return _UNREADABLE


class TraceLog:
    """Trace events already streamed, as JSON text; one fragment for snapshots."""

    def __init__(self):
        self._chunks: list[bytes] = []   # each a JSON array body without brackets
        self.count = 0
        self.size = 0                    # bytes of JSON held

    def add(self, encoded: bytes, n: int) -> None:
        """`encoded` is the JSON array of n events."""
        if n:
            self._chunks.append(encoded[1:-1])
            self.count += n
            self.size += len(encoded)

    def fragment(self) -> Fragment:
        body = b",".join(self._chunks)
        self._chunks = [body] if body else []   # joined once, reused by the next snapshot
        return Fragment(b"[" + body + b"]")


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
                self.data = [BAD_PACKET, "it is not valid JSON (or nested too deeply)"]
            elif not isinstance(d, list) or not d or not isinstance(d[0], str):
                self.data = [BAD_PACKET, "an event is a JSON array that starts with the event's name"]
        elif self.data is _UNREADABLE:
            self.data = None
        return n
