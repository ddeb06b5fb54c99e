"""All live sessions of one process: limits, membership, locking, ticking, streaming.

Flask-free: it talks to clients through an `io` object with emit/enter/leave/
sleep (sockets.SocketIOAdapter in the app, a fake in unit tests), and reads
time through injectable clocks so tests can drive `tick()` deterministically.

Locking: each session has its own lock, held while its run changes and while
the resulting payload is emitted, so batches reach a room in order and a
joining client's snapshot fits exactly between two batches. The manager's
lock only guards its dicts. Order is always session lock -> manager lock.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator

from engine import ProtocolError, Scenario, registry
from engine import limits as engine_limits

from .limits import Limits
from .pacing import Pacer
from .payloads import ApiError, bad, engine_error, number, scenario_for, stops
from .session import Session

log = logging.getLogger(__name__)

# A connection's routing key (`?route=` on its Socket.IO URL): the part of a session id before
# its first dot. A proxy in front of several processes hashes on it (docs/scale-out.md), so
# every connection to one session reaches the process that holds it.
ROUTE = re.compile(r"[A-Za-z0-9_-]{1,24}")


def route_of(session_id: str) -> str:
    """The routing key a session id carries: 'K7x.abc' -> 'K7x'; an id without a dot is its own."""
    return session_id.split(".", 1)[0]


class SessionManager:
    def __init__(self, io, limits: Limits | None = None, clock=time.monotonic, wall=time.time,
                 secret: bytes | None = None, timer=time.perf_counter):
        self.io = io
        # Control tokens are HMAC(secret, session id): any process that shares the secret can
        # tell a session's controller after the process that made it died (failover).
        self.secret = secret or secrets.token_bytes(32)
        # With a secret given (shared by a cluster's processes, or kept across restarts), a
        # session that is not here may come back under its id: a watcher should wait for it.
        self.resumable = secret is not None
        self.routes: dict[str, str] = {}          # client sid -> the routing key it connected with
        self.limits = limits or Limits()
        self.clock = clock            # monotonic seconds: playback timing
        self.wall = wall              # epoch seconds: `sent_at`, comparable across processes
        self.timer = timer            # monotonic seconds: how long work has run without yielding
        self.sessions: dict[str, Session] = {}
        self.playing: dict[str, Session] = {}          # what the ticker visits
        self.lagging: dict[str, Session] = {}          # ...and these: a client's batches wait
        self.client_sessions: dict[str, dict[str, None]] = {}   # client sid -> session ids (ordered set)
        self._lock = threading.Lock()
        self._long_work = threading.Lock()    # held by the one long job running (pacing.Pacer)
        self._mine = threading.local()        # per green thread: waited()
        self._describe: dict[str, dict] = {}
        self._last_expire: float | None = None   # set by the first tick
        self.join_codes = None        # joincodes.JoinCodes, set by create_app: /j/CODE and `code`
        self.departures: list[tuple[Session, str]] = []   # (session, sid) disconnect left to the ticker

    # ------------------------------------------------------------ helpers

    def _yield(self) -> None:
        self.io.sleep(0)

    @contextlib.contextmanager
    def _pacer(self) -> Iterator[Pacer]:
        """For one piece of work on a client's behalf: yields every work_slice_s, and past
        its first slice runs alone among such work (pacing.py)."""
        pace = Pacer(self._yield, self.timer, self.limits.work_slice_s, self._long_work)
        try:
            yield pace
        finally:
            pace.done()
            self._mine.waited = self.waited() + pace.waited

    def waited(self) -> float:
        """Seconds this green thread's work has spent yielded to others so far (Pacer.waited):
        fairness.py charges a command its elapsed time less this."""
        return getattr(self._mine, "waited", 0.0)

    def describe(self, name: str) -> dict:
        d = self._describe.get(name)
        if d is None:
            d = self._describe[name] = registry.get(name).describe()
        return d

    def get(self, session_id: str) -> Session:
        s = self.sessions.get(session_id)
        if s is None:
            raise ApiError("unknown_session", "no such session (it may have expired); start a new run",
                           "refused.unknown_session", extra={"resumable": True} if self.resumable else None)
        return s

    def _controlled(self, session_id: str, control: str | None) -> Session:
        s = self.get(session_id)
        if control is None or not hmac.compare_digest(control.encode(), s.control.encode()):
            raise ApiError("forbidden", "you are watching this session; only its controller can change it",
                           "refused.forbidden")
        return s

    def control_for(self, session_id: str) -> str:
        mac = hmac.new(self.secret, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def connected(self, sid: str, route: str | None) -> None:
        """A client connected, with the routing key from its URL (None: it gave none)."""
        if route is None:
            return
        if not isinstance(route, str) or ROUTE.fullmatch(route) is None:
            raise bad("route must be 1 to 24 letters, digits, '-' or '_'")
        with self._lock:
            self.routes[sid] = route

    def _new_id(self, sid: str) -> str:
        route = self.routes.get(sid)
        suffix = secrets.token_urlsafe(9)
        return f"{route}.{suffix}" if route else suffix

    def _set_playing(self, s: Session) -> None:
        with self._lock:
            if s.playing and self.sessions.get(s.id) is s:
                self.playing[s.id] = s
            else:
                self.playing.pop(s.id, None)

    def _add_participant(self, s: Session, sid: str, role: str) -> None:
        lim = self.limits
        with self._lock:
            if self.sessions.get(s.id) is not s:
                raise ApiError("unknown_session", "no such session (it has expired); start a new run",
                               "refused.unknown_session")
            mine = self.client_sessions.setdefault(sid, {})
            if sid not in s.participants:
                if len(s.participants) >= lim.max_participants:
                    raise ApiError("limit", f"this session is full ({lim.max_participants} people)",
                                   "refused.session_full", {"n": lim.max_participants})
                if len(mine) >= lim.max_sessions_per_client:
                    raise ApiError("limit", f"one connection may be in at most {lim.max_sessions_per_client} "
                                            "sessions; leave one first",
                                   "refused.per_client", {"n": lim.max_sessions_per_client})
            mine[s.id] = None
            s.participants[sid] = role
        # A client that went away meanwhile (its disconnect may already have been handled)
        # must not stay behind as a ghost that keeps the session alive and counted.
        try:
            self.io.enter(sid, s.room)
            gone = not self.io.connected(sid)
        except (KeyError, ValueError):   # python-socketio refuses a sid it no longer knows
            gone = True
        if gone:
            self._remove_participant(s, sid)
            raise ApiError("unknown_session", "your connection closed while joining", "refused.unknown_session")
        s.last_activity = self.clock()

    def _remove_participant(self, s: Session, sid: str) -> bool:
        with self._lock:
            mine = self.client_sessions.get(sid)
            if mine is not None:
                mine.pop(s.id, None)
                if not mine:
                    del self.client_sessions[sid]
            found = s.participants.pop(sid, None) is not None
            s.lagging.discard(sid)
        if found:
            s.last_activity = self.clock()
        return found

    def _emit_playback(self, s: Session) -> None:
        self.io.emit("playback", {"session": s.id, **s.playback()}, to=s.room)

    def _emit_events(self, s: Session) -> None:
        self.io.emit("events", s.take_events(self.wall()), to=s.room)

    def _send_snapshot(self, s: Session, sid: str, role: str) -> None:
        """One client's snapshot, with its role (the control token only to a controller)."""
        self.io.emit("snapshot", s.snapshot(role, self.describe(s.base.protocol)), to=sid)

    def _behind(self, s: Session, sid: str) -> bool:
        """Has this client anything not yet written to its socket? Then a snapshot (a whole
        history, megabytes) waits: the client is marked lagging, gets no batch and no snapshot
        now, and one fresh snapshot when it has drained. Stricter than for batches: one
        snapshot stuck behind a reader that stopped must not be joined by another."""
        if sid in s.lagging:
            return True
        backlog = getattr(self.io, "backlog", None)
        if backlog is None or backlog(sid) < 1:
            return False
        s.lagging.add(sid)
        with self._lock:
            if self.sessions.get(s.id) is s:
                self.lagging[s.id] = s     # visited by the ticker until it catches up
        return True

    def _offer_snapshot(self, s: Session, sid: str, role: str) -> None:
        """A snapshot, like a batch, never queues behind a client that is not reading: at
        most one waits for it, sent by the ticker once its socket has drained."""
        if not self._behind(s, sid):
            self._send_snapshot(s, sid, role)

    def _catch_up(self, s: Session, now: float) -> None:
        """A playing run advanced to `now` before a pause, speed change or step acts on it:
        the page has shown time moving on since the last tick, and must not see it step back."""
        if s.playing and s.participants:
            self._tick_one(s, now, self.limits.max_events_per_tick)

    def _emit_room_snapshot(self, s: Session) -> None:
        """Everyone in the room gets a snapshot with their own role: one encode for
        all viewers, one per controller (the control token goes only to them)."""
        behind = [sid for sid in s.participants if self._behind(s, sid)]   # theirs comes when drained
        controllers = [sid for sid, role in s.participants.items() if role == "controller" and sid not in behind]
        describe = self.describe(s.base.protocol)
        if len(controllers) + len(behind) < len(s.participants):
            self.io.emit("snapshot", s.snapshot("viewer", describe), to=s.room,
                         skip=sorted(controllers + behind) or None)
        if controllers:
            payload = s.snapshot("controller", describe)
            for sid in controllers:
                self.io.emit("snapshot", payload, to=sid)

    def _emit_seek(self, s: Session, keep: int) -> None:
        """A seek: everyone keeps the first `keep` events it has and adds the new ones (a
        few bytes for a seek back, the events played for a seek forward), instead of the
        whole history again. A client whose batches wait (lagging) gets its snapshot when
        it has caught up, as ever."""
        self.io.emit("seek", s.seek_payload(keep, self.wall()), to=s.room, skip=sorted(s.lagging) or None)

    def _fail(self, s: Session, e: Exception) -> None:
        log.warning("session %s: %s", s.id, e)
        s.fail(str(e))
        self._set_playing(s)
        self.io.emit("error", engine_error(str(e)).payload(), to=s.room)

    # ------------------------------------------------------------ client operations

    def _make_room(self, sid: str, addr: str | None) -> None:
        """Room for one more session, or a refusal.

        A session outlives its creator's leave (a reload rejoins it), so what a connection
        or an address has created and left counts too: at its limit, its oldest session
        that nobody is in is deleted to make room (a student forking again and again, a
        class behind one address), and only when every one of them is in use is the new
        one refused. A create-and-leave loop cannot fill the server.
        """
        lim = self.limits
        per_client = ApiError("limit", f"one connection may be in at most {lim.max_sessions_per_client} "
                                       "sessions; leave one first",
                              "refused.per_client", {"n": lim.max_sessions_per_client})
        per_address = ApiError("limit", f"this address has {lim.max_sessions_per_address} sessions in use, "
                                        "the most it may have; leave some or try again later",
                               "refused.per_address", {"n": lim.max_sessions_per_address})
        with self._lock:
            if len(self.client_sessions.get(sid, ())) >= lim.max_sessions_per_client:
                raise per_client
            pools = [([s for s in self.sessions.values() if s.creator == sid], lim.max_sessions_per_client,
                      per_client)]
            if addr is not None:
                pools.append(([s for s in self.sessions.values() if s.address == addr],
                              lim.max_sessions_per_address, per_address))
            for made, limit, refusal in pools:
                if len(made) >= limit:
                    empty = [s for s in made if not s.participants]
                    if not empty:
                        raise refusal
                    old = min(empty, key=lambda s: s.last_activity)
                    del self.sessions[old.id]
                    self.playing.pop(old.id, None)
                    self.lagging.pop(old.id, None)
            if len(self.sessions) >= lim.max_sessions:
                raise ApiError("limit", f"the server is running its maximum of {lim.max_sessions} sessions; "
                                        "try again later", "refused.server_full", {"n": lim.max_sessions})
            self._memory_room(addr, refuse=True)

    # ------------------------------------------------------------ memory budget

    def memory_by_address(self) -> dict:
        """address -> bytes its sessions hold (Session.bytes_held). Call with self._lock held."""
        usage: dict = {}
        for s in self.sessions.values():
            usage[s.address] = usage.get(s.address, 0) + s.bytes_held()
        return usage

    def _evict_one(self, usage: dict, addr) -> bool:
        """Delete `addr`'s oldest session nobody is in (never one someone is in)."""
        empty = [s for s in self.sessions.values() if s.address == addr and not s.participants]
        if not empty:
            return False
        old = min(empty, key=lambda s: s.last_activity)
        usage[addr] -= old.bytes_held()
        del self.sessions[old.id]
        self.playing.pop(old.id, None)
        self.lagging.pop(old.id, None)
        log.info("memory budget: evicted idle session %s of %s", old.id, addr)
        return True

    def _memory_room(self, addr, refuse: bool) -> None:
        """Keep sessions within max_memory_bytes in all (the oldest idle sessions of the
        heaviest address go first) and, for a create from `addr`, that address within
        max_memory_per_address_bytes (its own oldest idle sessions go). With `refuse`, the
        create is refused when either stays over. Call with self._lock held."""
        lim = self.limits
        usage = self.memory_by_address()
        if addr is not None:     # a create: the address makes room from its own idle sessions first
            while usage.get(addr, 0) >= lim.max_memory_per_address_bytes and self._evict_one(usage, addr):
                pass
        while sum(usage.values()) >= lim.max_memory_bytes:
            candidates = [a for a in sorted(usage, key=lambda a: -usage[a])
                          if any(s.address == a and not s.participants for s in self.sessions.values())]
            if not candidates or not self._evict_one(usage, candidates[0]):
                break
        if not refuse:
            return
        if addr is not None and usage.get(addr, 0) >= lim.max_memory_per_address_bytes:
            mb = round(usage[addr] / 1e6)
            raise ApiError("limit", f"this address's sessions hold {mb} MB, its share of the server's memory; "
                                    "leave or close some runs first", "refused.memory", {"mb": mb})
        if sum(usage.values()) >= lim.max_memory_bytes:
            raise ApiError("limit", "the server's memory for runs is full; try again later",
                           "refused.memory_full")

    def create(self, sid: str, scenario: Scenario, t: float | None, addr: str | None = None,
               resume: tuple[str, str] | None = None) -> dict:
        """A new session running `scenario`, paused at t (None: at 0, playing as it says).

        `resume` = (session id, control token) of a session whose process is gone: when the token
        is that id's (tokens are HMACs of ids under the secret the processes share), the run comes
        back under the same id, so every watcher's rejoin finds it. If the id is live already
        (someone resumed it first) the caller joins it as its controller; a token that does not
        match (another secret: a lone server restarted) gives a new session, as without `resume`."""
        lim = self.limits
        session_id = None   # the resumed id, when resuming
        if resume is not None and hmac.compare_digest(resume[1].encode(), self.control_for(resume[0]).encode()):
            if resume[0] in self.sessions:
                return {**self.join(sid, resume[0], resume[1]), "resumed": True}
            session_id = resume[0]
        self._make_room(sid, addr)
        new_id = session_id or self._new_id(sid)
        s = Session(new_id, self.control_for(new_id), scenario, self.clock(),
                    lim.max_trace_events, lim.checkpoint_every, lim.max_checkpoints)
        s.creator, s.address = sid, addr
        try:
            with self._pacer() as pace:
                capped = s.load(scenario, 0 if t is None else t, pace)
        except ProtocolError as e:
            raise engine_error(str(e)) from None
        with self._lock:
            if len(self.sessions) >= lim.max_sessions:
                raise ApiError("limit", "the server is full; try again later",
                               "refused.server_full", {"n": lim.max_sessions})
            if s.id in self.sessions:
                # Two resumes of one id raced (each loaded its run outside the lock): the first wins.
                raise ApiError("conflict", "this run was just brought back by someone else; join it",
                               "refused.resume_raced")
            self.sessions[s.id] = s
        with s.lock:
            try:
                self._add_participant(s, sid, "controller")
                self._offer_snapshot(s, sid, "controller")
            except Exception:
                self._remove_participant(s, sid)   # no orphan session holding a place
                with self._lock:
                    self.sessions.pop(s.id, None)
                raise
            if capped:
                self.io.emit("error", s.too_long_error().payload(), to=sid)
        out = {"ok": True, "session": s.id, "control": s.control}
        if resume is not None:
            out["resumed"] = session_id is not None
        return out

    def join(self, sid: str, session_id: str, control: str | None) -> dict:
        s = self.get(session_id)
        role = "viewer"
        if control is not None and hmac.compare_digest(control.encode(), s.control.encode()):
            role = "controller"
        with s.lock:
            if s.participants.get(sid) == role:
                # Already in, as this: it has the snapshot and every batch since (sending the
                # whole history again for each repeated join is how one client ate the memory).
                return {"ok": True, "session": s.id, "role": role}
            self._add_participant(s, sid, role)
            self._offer_snapshot(s, sid, role)
            self._emit_playback(s)   # the viewer count changed
        return {"ok": True, "session": s.id, "role": role}

    def leave(self, sid: str, session_id: str) -> dict:
        s = self.get(session_id)
        with s.lock:
            if self._remove_participant(s, sid):
                self.io.leave(sid, s.room)
                self._emit_playback(s)
        return {"ok": True}

    def disconnect(self, sid: str) -> None:
        """The transport is gone (the server already dropped it from its rooms).

        Never waits for a session's lock. Engine.IO closes a connection that stopped
        answering pings from inside a send to it, and runs this there: within an emit
        by whoever holds that session's lock (the ticker's batch, a seek's message),
        which would wait for itself forever; the ticker, stuck so, stopped every
        session of the process. A session busy now lets it go on the next tick."""
        with self._lock:
            ids = list(self.client_sessions.get(sid, ()))
        for session_id in ids:
            s = self.sessions.get(session_id)
            if s is not None:
                self._depart(s, sid)
        with self._lock:
            self.client_sessions.pop(sid, None)
            self.routes.pop(sid, None)

    def join_code(self, session_id: str, control: str | None) -> dict:
        """The session's join code (the same one each time): /j/CODE redirects to its watch link."""
        s = self._controlled(session_id, control)
        if self.join_codes is None:
            raise ApiError("internal", "this server gives no join codes", "refused.internal")
        code = self.join_codes.issue(s.id, s.base.protocol, self.clock())
        return {"ok": True, "code": code, "path": f"/j/{code}", "qr": f"/j/{code}.svg",
                "watch": f"/play/{s.base.protocol}?session={s.id}"}

    def _depart(self, s: Session, sid: str) -> None:
        if not s.lock.acquire(blocking=False):
            with self._lock:
                self.departures.append((s, sid))
            return
        try:
            if self._remove_participant(s, sid) and s.participants:
                self._emit_playback(s)
        finally:
            s.lock.release()

    def _departed(self) -> None:
        """The disconnects that found their session busy (disconnect): again."""
        with self._lock:
            todo, self.departures = self.departures, []
        for s, sid in todo:
            if self.sessions.get(s.id) is s:
                self._depart(s, sid)

    def control(self, session_id: str, control: str | None, cmd: str, value) -> dict:
        s = self._controlled(session_id, control)
        lim = self.limits
        with s.lock:
            now = self.clock()
            s.last_activity = now
            try:
                if cmd == "play":
                    s.check_live()
                    s.playing = True
                    s.last_tick = now
                    self._emit_playback(s)
                elif cmd == "pause":
                    self._catch_up(s, now)
                    s.playing = False
                    self._emit_playback(s)
                elif cmd == "speed":
                    speed = float(number("speed", value, lim.min_speed, lim.max_speed))
                    self._catch_up(s, now)    # the time so far ran at the old speed
                    s.speed = speed
                    self._emit_playback(s)
                elif cmd == "step":
                    self._catch_up(s, now)    # step from where the page shows the run
                    s.step()
                    self._emit_events(s)
                elif cmd == "extend":
                    ms = number("extend value", value, 1, engine_limits.MAX_UNTIL_MS)
                    self._catch_up(s, now)
                    with self._pacer() as pace:
                        keep, rebuilt = s.extend(ms, pace)
                    s.last_tick = now
                    if rebuilt:
                        self._emit_seek(s, keep)     # the old end's checks are gone from the run
                    self._emit_playback(s)           # the new `until`, and playing again
                elif cmd == "stops":
                    s.set_stops(stops(value))
                    self._emit_events(s)       # the playback and the link (it keeps the stops)
                elif cmd in ("chapter_next", "chapter_prev"):
                    self._catch_up(s, now)
                    go = s.chapter_next if cmd == "chapter_next" else s.chapter_prev
                    with self._pacer() as pace:
                        capped, keep = go(pace)
                    self._emit_seek(s, keep)
                    if capped:
                        self.io.emit("error", s.too_long_error().payload(), to=s.room)
                elif cmd in ("seek", "restart"):
                    t = 0 if cmd == "restart" else number("seek value", value, 0, s.sim.until)
                    with self._pacer() as pace:
                        capped, keep = s.seek(t, pace)
                    self._emit_seek(s, keep)
                    if capped:
                        self.io.emit("error", s.too_long_error().payload(), to=s.room)
                else:  # payloads.parse_control only lets known commands through
                    raise bad(f"unknown command {cmd!r}")
            except ProtocolError as e:
                self._fail(s, e)
                raise engine_error(str(e)) from None
            finally:
                self._set_playing(s)
            return {"ok": True, "playback": s.playback()}

    def action(self, session_id: str, control: str | None, action) -> dict:
        s = self._controlled(session_id, control)
        with s.lock:
            s.last_activity = self.clock()
            try:
                with self._pacer() as pace:
                    a, cut = s.act(action, pace)
            except ProtocolError as e:
                self._fail(s, e)
                raise engine_error(str(e)) from None
            if cut:
                self._emit_room_snapshot(s)
            elif not s.playing:
                self._emit_events(s)
            self._set_playing(s)
            return {"ok": True, "action": a, "forked": bool(cut), "cut": cut}

    def configure(self, session_id: str, control: str | None, data: dict) -> dict:
        s = self._controlled(session_id, control)
        scenario = scenario_for(data, s.base.protocol)
        with s.lock:
            s.last_activity = self.clock()
            try:
                with self._pacer() as pace:
                    capped = s.load(scenario, 0, pace)
            except ProtocolError as e:
                raise engine_error(str(e)) from None
            finally:
                self._set_playing(s)
            self._emit_room_snapshot(s)
            if capped:
                self.io.emit("error", s.too_long_error().payload(), to=s.room)
            return {"ok": True, "token": s.token()}

    # ------------------------------------------------------------ ticking

    def tick(self) -> int:
        """Advance every playing session by the real time since its last tick and
        stream one `events` batch to each. Returns how many sessions were visited."""
        lim = self.limits
        if self.departures:
            self._departed()
        with self._lock:
            active = list(self.playing.values())
        visited = 0
        slice_end = self.timer() + lim.yield_every_s
        # One budget of events per tick for the whole process, shared out: many busy sessions
        # each play more slowly instead of slowing every client down.
        share = min(lim.max_events_per_tick,
                    max(lim.min_events_per_tick, lim.max_events_per_tick_total // max(1, len(active))))
        for s in active:
            # A session busy with a seek or an action is simply visited next tick.
            if not s.lock.acquire(blocking=False):
                continue
            try:
                now = self.clock()
                if not s.playing:
                    self._set_playing(s)
                elif not s.participants:
                    s.last_tick = now       # nobody watching: time stands still
                else:
                    self._tick_one(s, now, share)
                    visited += 1
                    if not s.playing:
                        self._set_playing(s)
            finally:
                s.lock.release()
            # Yield between sessions once a slice of work is done: other clients
            # never wait longer than that, and a tick over hundreds of sessions
            # does not pay an event-loop round trip for each one.
            if self.timer() >= slice_end:
                self._yield()
                slice_end = self.timer() + lim.yield_every_s
        if self.lagging:
            self._resync_lagging(active)
        now = self.clock()
        if self._last_expire is None:
            self._last_expire = now
        if now - self._last_expire >= lim.expire_every_s:
            self._last_expire = now
            self.expire(now)
        return visited

    def _tick_one(self, s: Session, now: float, max_events: int) -> None:
        lim = self.limits
        wall = self.wall()
        t0 = s.t
        try:
            s.advance(now, lim.max_tick_elapsed_s, max_events)
        except ProtocolError as e:
            self._fail(s, e)
        except Exception as e:   # never let one run's fault skip the other sessions of this tick
            log.exception("session %s: advancing failed", s.id)
            self._fail(s, e)
        try:
            # One batch per tick, and only if events came, time moved or playback stopped.
            if s.has_pending() or s.t != t0 or not s.playing:
                slow, caught_up = self._sort_out_lagging(s)
                self.io.emit("events", s.take_events(wall), to=s.room, skip=slow + caught_up or None)
                for sid in caught_up:   # everything it missed, this batch included
                    self._send_snapshot(s, sid, s.participants[sid])
        except Exception:   # e.g. a protocol view that is not JSON: stop this session only
            log.exception("session %s: cannot stream its events", s.id)
            s.fail("the server could not send this run's events")
            self.io.emit("error", ApiError("internal", "internal server error; this run is paused",
                                           "refused.internal_paused").payload(), to=s.room)
            return
        if s.playing and s.too_long():
            s.playing = False
            self._emit_playback(s)
            self.io.emit("error", s.too_long_error().payload(), to=s.room)

    def _sort_out_lagging(self, s: Session) -> tuple[list[str], list[str]]:
        """(still behind, caught up): the participants this tick's batch skips. Behind: its
        socket has not yet taken max_backlog_packets already sent to it. Caught up: it was
        behind and has taken everything; it gets a fresh snapshot instead of this batch."""
        backlog = getattr(self.io, "backlog", None)
        if backlog is None:
            return [], []
        limit = self.limits.max_backlog_packets
        for sid in [sid for sid in s.participants if sid not in s.lagging and backlog(sid) >= limit]:
            s.lagging.add(sid)
            log.info("session %s: a client is %d packets behind; its batches wait", s.id, limit)
        caught_up = sorted(sid for sid in s.lagging if backlog(sid) == 0)
        s.lagging.difference_update(caught_up)
        with self._lock:
            if s.lagging and self.sessions.get(s.id) is s:
                self.lagging[s.id] = s     # visited until it catches up, playing or not
            else:
                self.lagging.pop(s.id, None)
        return sorted(s.lagging), caught_up

    def _resync_lagging(self, playing: list[Session]) -> None:
        """Sessions no longer playing whose clients fell behind: the ones that caught up
        get their snapshot now (a run that stopped sends no batch to wait for)."""
        with self._lock:
            waiting = [s for s in self.lagging.values() if s not in playing]
        for s in waiting:
            if not s.lock.acquire(blocking=False):
                continue
            try:
                _, caught_up = self._sort_out_lagging(s)
                for sid in caught_up:
                    self._send_snapshot(s, sid, s.participants[sid])
            finally:
                s.lock.release()

    def expire(self, now: float | None = None) -> list[str]:
        """Delete sessions nobody has been in for idle_expiry_s (after dropping any
        participant whose connection is gone without a disconnect reaching us)."""
        now = self.clock() if now is None else now
        with self._lock:
            ghosts = [(s, sid) for s in self.sessions.values() for sid in s.participants
                      if not self.io.connected(sid)]
        for s, sid in ghosts:
            self._remove_participant(s, sid)
        with self._lock:
            dead = [s for s in self.sessions.values()
                    if not s.participants and now - s.last_activity > self.limits.idle_expiry_s]
            for s in dead:
                del self.sessions[s.id]
                self.playing.pop(s.id, None)
                self.lagging.pop(s.id, None)
            before = set(self.sessions)
            self._memory_room(None, refuse=False)   # runs grow as they play: back within budget
            dead_ids = [s.id for s in dead] + sorted(before - set(self.sessions))
            live = set(self.sessions)
        if self.join_codes is not None:
            self.join_codes.sweep(live, now)   # outside the lock: it may talk to Redis
        return dead_ids
