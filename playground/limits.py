"""Every limit the server enforces, in one place.

The engine's own limits (nodes, actions, scenario and token size, events per
run) live in engine/limits.py; these are the server's: how many sessions, how
many people, how fast a session may stream. An app overrides any of them with
config PLAYGROUND_LIMITS = {"max_sessions": 10, ...}.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_sessions: int = 500               # live sessions in one process
    max_participants: int = 250           # clients in one session's room
    max_sessions_per_client: int = 8     # rooms one connection may be in (create or join), and
                                          # sessions it may have created (they outlive a leave: at
                                          # the limit its oldest empty one is deleted to make room)
    max_sessions_per_address: int = 200   # sessions created from one client address, likewise (a
                                          # class behind one NAT; PLAYGROUND_PROXY_HOPS behind a proxy)
    idle_expiry_s: float = 600.0          # a session with nobody in it for this long is deleted
    max_payload_bytes: int = 131_072      # one Socket.IO message (a scenario is at most 64 KiB)
    max_id_chars: int = 64                # session ids and control tokens
    tick_s: float = 0.05                  # ticker period (real seconds)
    max_tick_elapsed_s: float = 0.25      # a stalled tick never jumps virtual time further
    max_events_per_tick: int = 1_000      # trace events per session per tick (event-rate limit)
    max_events_per_tick_total: int = 5_000  # ... and for all sessions together, shared out fairly
    min_events_per_tick: int = 100        # a session's share never drops below this
    max_trace_events: int = 100_000       # trace events one run may hold (~11 MB of JSON); then it
                                          # stops there: playing, seeking and opening a link alike
    max_backlog_packets: int = 100        # a client with this many packets not yet written to its
                                          # socket (~5 s of batches) gets no more batches until it
                                          # has caught up, then one fresh snapshot (a slow link
                                          # costs itself a jump, not the server its memory)
    checkpoint_every: int = 5_000         # trace events between engine checkpoints of a run (seek
                                          # back and fork resume from the nearest: <= 5,000 events
                                          # to replay, ~30 ms for Raft; each ~25-45 KB, ~2 ms to take)
    max_checkpoints: int = 32             # per session; past that every other one goes and the
                                          # spacing doubles (bound: 32 x one checkpoint's bytes)
    work_slice_s: float = 0.005           # long work for one client (seek, fork, configure, create
                                          # from a link) yields to the others at least this often
    yield_every_s: float = 0.002          # the ticker yields to other clients at least this often
    expire_every_s: float = 5.0           # how often idle sessions are swept
    # Fairness (playground/fairness.py): token buckets, refilled by the manager's clock.
    event_rate: float = 50.0              # Socket.IO events per second one connection may send
    event_burst: float = 100.0            # ...after a burst of this many (a held arrow key steps
                                          # at ~30/s: a teacher doing that is never refused)
    address_event_rate: float = 300.0     # and all connections of one address together (a class
    address_event_burst: float = 600.0    # behind one NAT)
    max_refusals: int = 50                # refused events within refusal_window_s: then disconnected
    refusal_window_s: float = 10.0
    max_connections_per_address: int = 256  # Socket.IO connections from one address at once
    cpu_rate_ms: float = 150.0            # server milliseconds per second one connection may spend on
    cpu_burst_ms: float = 1_500.0         # expensive commands (create, configure, seek, restart,
                                          # action), after a burst of this many; then refused.busy
    address_cpu_rate_ms: float = 300.0    # ...and all connections of one address together
    address_cpu_burst_ms: float = 3_000.0
    max_memory_bytes: int = 2 << 30       # trace + checkpoint bytes of all sessions; over it the
                                          # oldest empty sessions of the heaviest address go first
    max_memory_per_address_bytes: int = 512 << 20   # one address's share: over it, its creates
                                          # are refused (after its own empty sessions are evicted)
    header_timeout_s: float = 10.0        # eventlet server: a request's line and headers must
                                          # arrive within this (slowloris), idle keep-alive too
    max_http_connections_per_address: int = 320   # open TCP connections from one address
                                          # (eventlet server, no proxy hops); the rest are closed
    # "Find a bug" (playground/hunts.py): searches run in child processes or on RQ workers.
    max_hunts: int = 2                    # searches running at once in the whole server (the rest wait)
    max_hunts_waiting: int = 50           # ...and waiting; past that a new one is refused
    max_hunts_per_address: int = 3        # running or waiting, from one client address
    max_hunt_runs: int = 2_000            # runs one search may ask for (default 200)
    join_miss_rate: float = 0.2           # /j/CODE: unknown codes per second one address may try
    join_miss_burst: float = 20.0         # ...after this many (a class mistyping); then 429 for a while
    compare_cpu_rate_ms: float = 300.0    # /compare, /api/compare/plan: engine ms per second one
    compare_cpu_burst_ms: float = 5_000.0 # address may spend on comparisons not cached, after this
    min_speed: float = 0.01               # virtual ms per real ms
    max_speed: float = 10.0

    @classmethod
    def from_config(cls, overrides: dict | None) -> Limits:
        if not overrides:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown PLAYGROUND_LIMITS keys: {', '.join(unknown)}")
        return replace(cls(), **overrides)
