"""JSON on the wire: orjson, plus pre-encoded fragments.

Socket.IO packets are encoded with orjson (several times faster than the
stdlib for batches of trace events), and a session keeps the history it has
already streamed as JSON text (TraceLog) rather than as Python dicts: a few
hundred sessions hold millions of events, and as live objects they made every
full garbage collection pause the server for hundreds of milliseconds.
"""

from __future__ import annotations

import sys

import orjson
from socketio.packet import Packet

_OPTIONS = orjson.OPT_NON_STR_KEYS   # like the stdlib: int keys become strings
Fragment = orjson.Fragment


def encode(obj) -> bytes:
    return orjson.dumps(obj, option=_OPTIONS)


# dumps/loads: this module is the `json` of JsonPacket (the stdlib signature).
def dumps(obj, **_stdlib_options) -> str:
    return orjson.dumps(obj, option=_OPTIONS).decode()


def loads(text, **_stdlib_options):
    return orjson.loads(text)


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
