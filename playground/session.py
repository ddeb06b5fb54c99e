"""One live run: an engine Simulation plus playback, the action log and who watches.

Pure data and engine calls: no Flask, no sockets, no locks, no clock. The
manager (manager.py) owns locking, timing and emitting; this class owns the
rules of playback, seeking and forking.

Trace events live in two places: `sim.trace` holds the ones not yet streamed
(the engine appends there), `log` holds every streamed one as JSON text. Each
method leaves new events in sim.trace for the caller to stream, in the same
critical section, with take_events() or snapshot().
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable

from engine import ProtocolError, ScenarioError, Simulation, checkpoint, registry
from engine import limits as engine_limits
from engine.lesson import Chapters, chapters_for, stop_reason
from engine.scenario import Scenario, encode_token, validate_action
from engine.sim import WHY_NOT

from .payloads import ApiError, bad, engine_error
from .wire import Fragment, TraceLog, encode

# Called after each heap entry of long work (a seek, fork, load): yields to other
# clients when its time slice is spent (pacing.Pacer; a no-op lambda in scripts).
Pace = Callable[[], None]
ARCHIVE_EVERY = 2_000    # heap entries: a long rebuild keeps its events as JSON, not dicts


def run_over() -> ApiError:
    return bad("the run is over; seek back or restart to change it", "refused.run_over")


def archive(sim: Simulation, log: TraceLog, feed=None) -> bytes:
    """Move the run's pending trace events into `log` as JSON; return that JSON array.
    `feed` (Chapters.feed) sees them first: a lesson's chapters are found in every event."""
    trace = sim.trace
    if feed is not None:
        feed(trace)
    data = encode(trace)
    log.add(data, len(trace))
    trace.clear()
    return data


class Checkpoints:
    """Engine checkpoints of one run (engine/checkpoint.py), one every `every` trace events.

    Seeking back and forking resume from the nearest one instead of replaying from
    t=0. Each is taken right after a whole heap entry, never after a bare
    run_until(t): then its state (min_action_at included) is exactly what a replay
    from t=0 reaches there. With each: the actions it had applied (at <= its now),
    to tell whether it still fits an action list.

    Memory: at most `most` of them. Past that every other one goes (the first and
    the newest stay) and the spacing doubles, so a run of any length keeps at most
    `most` checkpoints, evenly spread. `bytes` is what they hold.
    """

    def __init__(self, every: int, most: int):
        self.base_every = self.every = max(1, every)
        self.most = max(2, most)
        self.items: list[tuple[checkpoint.Checkpoint, list[dict]]] = []
        self.next_seq = 0
        # The run's end when it was extended after these were taken (Session.extend): a run
        # resumed from one ends there, not where the checkpoint's own run did.
        self.until: int | None = None

    @property
    def bytes(self) -> int:
        """What they hold (at most `most` of them: summed when asked)."""
        return sum(c.size for c, _ in self.items)

    def start(self, sim: Simulation) -> None:
        """A fresh run (nothing processed yet): forget the old one's, take the first."""
        self.items, self.every = [], self.base_every
        self._take(sim)

    def maybe(self, sim: Simulation) -> None:
        """After a whole heap entry: one more if `every` events went by since the last."""
        if sim.seq >= self.next_seq:
            self._take(sim)

    def _take(self, sim: Simulation) -> None:
        cp = checkpoint.take(sim)
        self.items.append((cp, [dict(a) for a in sim.actions if a["at"] <= cp.now]))
        self._thin()

    def _thin(self) -> None:
        """Past `most`, every other one goes (the first and the newest stay) and the spacing
        doubles; the next is due `every` events after the newest."""
        while len(self.items) > self.most:
            keep = self.items[::2]
            if keep[-1] is not self.items[-1]:
                keep.append(self.items[-1])
            self.items = keep
            self.every *= 2
        self.next_seq = (self.items[-1][0].seq if self.items else 0) + self.every

    def before(self, t: int, actions: list[dict], handled: int | None = None,
               max_seq: int | None = None) -> checkpoint.Checkpoint | None:
        """The latest checkpoint at or before virtual time t (and at or before heap entry
        `handled`, trace event `max_seq`) whose applied actions are the ones `actions`
        has up to its time."""
        by_time = sorted(actions, key=lambda a: a["at"])
        for cp, past in reversed(self.items):
            if cp.now > t or (handled is not None and cp.handled > handled) or \
                    (max_seq is not None and cp.seq > max_seq):
                continue
            if sorted(past, key=lambda a: a["at"]) == [a for a in by_time if a["at"] <= cp.now]:
                return cp
        return None

    def resume(self, cp: checkpoint.Checkpoint, proto, actions: list[dict]) -> Simulation:
        """A run from `cp` with the action list `actions` (scheduled as a replay of it would)."""
        for c, past in self.items:
            if c is cp:
                # The applied actions in the checkpoint's own order, then the future in list order.
                return self.extended(checkpoint.resume(cp, proto, past + [a for a in actions if a["at"] > cp.now]))
        raise ValueError("not one of this run's checkpoints")

    def extended(self, sim: Simulation) -> Simulation:
        """A resumed run, ending where the session's run ends now (it may have been extended)."""
        if self.until is not None and sim.until != self.until:
            sim.until = self.until
            sim.scenario = dataclasses.replace(sim.scenario, until=self.until)
        return sim

    def copy(self) -> Checkpoints:
        c = Checkpoints(self.base_every, self.most)
        c.items, c.every, c.next_seq, c.until = list(self.items), self.every, self.next_seq, self.until
        return c

    def drop_after(self, seq: int, now: int | None = None) -> list:
        """Forget the checkpoints past trace event `seq` (and, with `now`, those at or after
        that virtual time: an action stamped there changes what follows them); return them."""
        keep, dropped = [], []
        for item in self.items:
            cp = item[0]
            (keep if cp.seq <= seq and (now is None or cp.now < now) else dropped).append(item)
        self.items = keep
        self.next_seq = (keep[-1][0].seq if keep else 0) + self.every
        return dropped

    def adopt(self, items: list) -> None:
        """Take back checkpoints of this same run that lie after the last one held."""
        for item in items:
            if not self.items or item[0].seq > self.items[-1][0].seq:
                self.items.append(item)
        self._thin()


@dataclasses.dataclass
class Ahead:
    """What a seek back left ahead of the run: the same run's later events (streamed
    before, cut from the log) and its checkpoints there. A seek forward into it
    resumes from the latest of those checkpoints before its target and takes the
    events up to that checkpoint from here, instead of running the whole way again.
    Any action changes the run's future: then it is forgotten."""
    start: int                 # trace event number of log's first event
    log: TraceLog
    items: list                # Checkpoints entries past `start`, in order
    chapters: list             # the chapters found past `start` (lesson.Chapters.cut), in order

    @property
    def end(self) -> int:
        return self.start + self.log.count


def run_to(sim: Simulation, t: int, pace: Pace, max_seq: int | None = None,
           log: TraceLog | None = None, cps: Checkpoints | None = None, feed=None) -> bool:
    """run_until(t), calling pace() after every heap entry.

    Stops early, after a whole heap entry, once the run holds `max_seq` trace
    events, and returns True. With `log`, events are archived there as JSON as
    the run goes (bytes, not dicts: a long rebuild stays small in memory).
    """
    n = 0
    while not sim.done:
        nt = sim.next_event_time()
        if nt is None or nt > t:
            break
        if max_seq is not None and sim.seq >= max_seq:
            return True
        sim.step_entry()
        if cps is not None:
            cps.maybe(sim)
        n += 1
        if log is not None and n % ARCHIVE_EVERY == 0:
            archive(sim, log, feed)
        pace()
    sim.run_until(t)
    return False


def run_capped(sim: Simulation, t: int, max_events: int, cps: Checkpoints | None = None) -> bool:
    """run_until(t) unless that would emit more than max_events; True if capped.

    When capped, the simulation stops after a whole heap entry, so nothing is
    half-applied and min_action_at stays just after the last processed event.
    """
    seq0 = sim.seq
    entries = 0
    while not sim.done:
        nt = sim.next_event_time()
        if nt is None or nt > t:
            break
        # Entries that emit nothing (stale timers) still cost CPU: bound them too.
        if sim.seq - seq0 >= max_events or entries >= 4 * max_events:
            return True
        sim.step_entry()
        if cps is not None:
            cps.maybe(sim)
        entries += 1
    sim.run_until(t)
    return False


class Session:
    def __init__(self, session_id: str, control: str, scenario: Scenario, now: float,
                 max_trace_events: int = 100_000, checkpoint_every: int = 5_000, max_checkpoints: int = 32):
        self.id = session_id
        self.control = control
        self.room = "s:" + session_id
        self.proto = registry.get(scenario.protocol)
        self.base = scenario          # settings; the action log is sim.actions
        self.sim: Simulation | None = None
        self.playing = False
        self.speed = float(self.proto.default_speed)
        self.t = 0.0                  # virtual ms reached (float: slow speeds move < 1 ms per tick)
        # The furthest virtual time this run has been played to (seeking back keeps it):
        # actions up to it have been seen, so acting before it forks; later ones (a
        # preset's script not yet reached) are still the future and stay.
        self.horizon = 0.0
        self.log = TraceLog()         # trace events already streamed
        self.max_trace_events = max_trace_events
        # Engine checkpoints of the run, to seek back and fork from (Checkpoints).
        self.checkpoints = Checkpoints(checkpoint_every, max_checkpoints)
        self.ahead: Ahead | None = None          # what a seek back left ahead (a seek forward reuses it)
        self.participants: dict[str, str] = {}   # client sid -> "controller" | "viewer"
        self.lagging: set[str] = set()           # participants skipped until their socket drains
        self.creator: str | None = None          # the connection that created it, and its address:
        self.address: str | None = None          # creation limits count sessions per each
        self.last_tick = now
        self.last_activity = now
        self.failure: str | None = None          # a protocol handler raised; see fail()
        self.lock = threading.Lock()
        self._token_key: tuple | None = None
        self._token = ""
        # The behaviour version of the protocol the run's link was made with (Scenario.behaviour);
        # the run itself always follows today's rules. See behaviour_note().
        self.made_with = scenario.behaviour
        # Guided lessons (engine/lesson.py): the chapters found so far, where playback stops,
        # and why it last stopped by itself (None once anything else moves it).
        self.chapters = Chapters(chapters_for(scenario, self.proto))
        self.stops: dict = dict((scenario.lesson or {}).get("stops", {}))
        self.stopped: dict | None = None

    # ------------------------------------------------------------ building

    def load(self, scenario: Scenario, t: float, pace: Pace, keep_horizon: bool = False) -> bool:
        """Replace the run with a fresh one of `scenario`, paused at virtual time t
        (keep_horizon: the same run, seen up to where it was, e.g. after a seek back).

        Returns True when the run holds as many events as a session may before t:
        it stops there (too_long) and the caller says so after the snapshot.
        """
        if not 0 <= t <= scenario.until:
            raise bad(f"t={t} is out of range [0, {scenario.until}]")
        sim = Simulation(scenario)
        log = TraceLog()              # the caller sends a snapshot: everything is new
        cps = Checkpoints(self.checkpoints.base_every, self.checkpoints.most)
        cps.start(sim)
        chapters = Chapters(chapters_for(scenario, registry.get(scenario.protocol)))
        # ProtocolError: nothing changed yet.
        capped = run_to(sim, math.floor(t), pace, self.max_trace_events, log, cps, chapters.feed)
        self.chapters = chapters
        self.stops = dict((scenario.lesson or {}).get("stops", {}))
        self.stopped = None
        self.proto = registry.get(scenario.protocol)
        self.base = scenario
        self.sim = sim
        self.log = log
        self.checkpoints = cps
        self.ahead = None
        self._token_key = None
        self.playing = False
        self.failure = None
        self.t = float(sim.now) if capped else float(t)
        if not keep_horizon:
            self.horizon = self.t
            self.made_with = scenario.behaviour   # a new run (create, configure); a seek keeps it
        self._settle()
        return capped

    def current_scenario(self) -> Scenario:
        # In time order, as a token decodes to (stable: same-time actions keep the order they ran in).
        actions = sorted((dict(a) for a in self.sim.actions), key=lambda a: a["at"])
        # The run on screen follows today's rules, whatever link it came from: its token says so.
        return dataclasses.replace(self.base, actions=actions, behaviour=self.proto.behaviour)

    def behaviour_note(self) -> dict | None:
        """None, or what the page tells a person whose link was made under another version
        of the protocol's behaviour: {"made", "now", "changes": strings keys, oldest first}."""
        now = self.proto.behaviour
        if self.made_with == now:
            return None
        return {"made": self.made_with, "now": now, "changes": self.proto.behaviour_changes(self.made_with)}

    def token(self) -> str:
        key = (id(self.sim), len(self.sim.actions))
        if key != self._token_key:
            self._token = self.current_scenario().to_token()
            self._token_key = key
        return self._token

    # ------------------------------------------------------------ playback

    def _end_time(self) -> float:
        sim = self.sim
        return float(sim.until if sim.stopped_reason is None else sim.now)

    def _settle(self) -> None:
        if self.sim.done:
            self.t = self._end_time()
            self.playing = False
        self.horizon = max(self.horizon, self.t)
        self.chapters.feed(self.sim.trace)       # pending events first: they come before t
        self.chapters.reach(self.t, self.sim.seq)

    def advance(self, now: float, max_elapsed: float, max_events: int) -> None:
        """One tick: move virtual time by speed x real time elapsed, within the event cap."""
        elapsed = min(max(now - self.last_tick, 0.0), max_elapsed)
        self.last_tick = now
        sim = self.sim
        # Rounded so float noise in clock differences never loses a whole virtual ms to floor().
        target = min(round(self.t + self.speed * elapsed * 1000.0, 6), float(sim.until))
        self.stopped = None           # playing again: the last stop is behind
        if self._stopping(self.stops):
            how = self._play_to_stop(math.floor(target), self.stops, max_events)
            if how == "stopped":
                self.t = max(self.t, float(self.stopped["t"]))
            elif how == "capped":
                self.t = max(self.t, float(sim.now))
            else:
                self.t = target
            self._settle()
            return
        if run_capped(sim, math.floor(target), max_events, self.checkpoints):
            self.t = max(self.t, float(sim.now))   # playback slows down instead of flooding
        else:
            self.t = target
        self._settle()

    # ------------------------------------------------------------ lessons: stops and chapters

    @staticmethod
    def _stopping(stops: dict) -> bool:
        return bool(stops.get("chapters") or stops.get("violation") or stops.get("send") or stops.get("state"))

    def _play_to_stop(self, t: int, stops: dict, max_events: int, pace: Pace | None = None) -> str:
        """Play to virtual time t one heap entry at a time, pausing right after the entry
        that emits an event `stops` asks for (or at a time chapter's time): the engine is
        never ahead of the shown time, and the batch ends with that event. Returns "ran"
        (reached t), "stopped" (self.stopped says why) or "capped" (max_events emitted)."""
        sim, chapters = self.sim, self.chapters
        seq0, entries = sim.seq, 0
        while not sim.done:
            nt = sim.next_event_time()
            at = chapters.next_at() if stops.get("chapters") else None
            if at is not None and at <= t and (nt is None or nt > at):
                sim.run_until(at)           # nothing is due by `at`: this only moves time on
                chapters.feed(sim.trace)
                for i in chapters.reach(at, sim.seq):
                    return self._stop("chapter", sim.seq, at, i)
            if nt is None or nt > t:
                break
            if sim.seq - seq0 >= max_events or entries >= 4 * max_events:
                return "capped"
            mark = len(sim.trace)
            sim.step_entry()
            self.checkpoints.maybe(sim)
            entries += 1
            for ev in sim.trace[mark:]:
                found = chapters.feed((ev,))
                if found and stops.get("chapters"):
                    return self._stop("chapter", ev["seq"], ev["t"], found[-1])
                why = stop_reason(stops, ev)
                if why:
                    return self._stop(why, ev["seq"], ev["t"])
            if pace is not None:
                if entries % ARCHIVE_EVERY == 0:
                    archive(sim, self.log, chapters.feed)
                pace()
        sim.run_until(t)
        return "ran"

    def _stop(self, reason: str, seq: int, t: int, chapter: int | None = None) -> str:
        self.playing = False
        self.stopped = {"reason": reason, "seq": seq, "t": t}
        if chapter is not None:
            self.stopped["chapter"] = chapter
        return "stopped"

    def set_stops(self, stops: dict) -> None:
        """Where playback pauses from now on (validated: engine.scenario.validate_stops). The
        share link keeps them: they are the lesson's stops."""
        self.stops = dict(stops)
        lesson = {k: v for k, v in (self.base.lesson or {}).items() if k != "stops"}
        if self._stopping(stops):
            lesson["stops"] = dict(stops)
        self.base = dataclasses.replace(self.base, lesson=lesson or None)
        self._token_key = None

    def chapter_next(self, pace: Pace) -> tuple[bool, int]:
        """Run on, paused, to the next chapter (or to the run's end when none is left).
        Returns (capped, keep) like seek."""
        self.playing = False
        self.check_live()
        total = self.chapters.total
        if total is not None and len(self.chapters.found) >= total:
            raise bad("this is the lesson's last chapter", "refused.last_chapter")
        self._archive()
        keep = self.log.count
        self.stopped = None
        how = self._play_to_stop(self.sim.until, {"chapters": True}, self.max_trace_events - self.sim.seq, pace)
        self.t = float(self.sim.until) if how == "ran" else float(self.sim.now)
        if how == "stopped":
            self.t = float(self.stopped["t"])
        self._settle()
        return how == "capped", keep

    def chapter_prev(self, pace: Pace) -> tuple[bool, int]:
        """Back to the start of the current chapter, or to the one before when the run
        stands at the current one's start. Returns (capped, keep) like seek."""
        found = self.chapters.found
        if not found:
            raise bad("no chapter has been reached yet", "refused.first_chapter")
        cur = found[-1]
        at_start = self.t == cur["t"] and (self.stopped is None or self.stopped.get("chapter") in (None, cur["index"]))
        if at_start:
            if len(found) < 2:
                raise bad("this is the lesson's first chapter", "refused.first_chapter")
            cur = found[-2]
        timed = self.chapters.list is not None and "at" in self.chapters.list[cur["index"]]["on"]
        target = dict(cur)
        capped, keep = self.seek(cur["t"], pace, upto=None if timed else cur["seq"] + 1)
        self.stopped = {"reason": "chapter", "seq": target["seq"], "t": target["t"], "chapter": target["index"]}
        return capped, keep

    def step(self) -> None:
        self.playing = False
        self.stopped = None
        self.check_live()
        if self.sim.next_event_time() is None:
            # An idle run (2PC before any request, or after its transaction ended) would
            # otherwise step straight to its end.
            if self.sim.now > 0:
                raise bad("nothing more is scheduled: the run is quiet; send a request or cause a fault to go on",
                          "refused.quiet")
            raise bad("nothing is scheduled yet: send a request or cause a fault first", "refused.idle")
        self.sim.step_event()
        self.checkpoints.maybe(self.sim)
        self.t = max(self.t, float(self.sim.now))
        self._settle()

    def seek(self, t: float, pace: Pace, upto: int | None = None, rebuild: bool = False) -> tuple[bool, int]:
        """Same scenario, same actions, same trace, paused at t (or where the run reaches
        its event limit before t: then capped is True). Returns (capped, keep): every
        client keeps the first `keep` trace events it has and then takes the pending
        ones (seek_payload), which leaves it holding exactly this run's trace up to t.

        Back (or out of a failed run): resume from the nearest checkpoint at or before
        t, not from t=0. The log is cut to what the resumed run has emitted; since the
        run is the same, those events are the ones clients already hold (no resend).
        Forward: the run goes on from where it is, and the new events are pending.

        `upto` (a chapter's start, going back): stop right after the heap entry that emits
        trace event upto - 1, the point playback paused at, not after every event at t.
        `rebuild`: resume from a checkpoint even at or after the current time (extend)."""
        if not 0 <= t <= self.sim.until:
            raise bad(f"seek value {t} is out of range [0, {self.sim.until}]")
        self.playing = False
        self.stopped = None
        if t >= self.t and self.failure is None and upto is None and not rebuild:
            self._archive()
            keep = self.log.count
            self._jump_ahead(math.floor(t))
            capped = run_to(self.sim, math.floor(t), pace, self.max_trace_events, self.log,
                            self.checkpoints, self.chapters.feed)
            self.t = float(self.sim.now) if capped else float(t)
            self._settle()
            return capped, keep
        target = math.floor(t)
        actions = self.current_scenario().actions
        # Its events up to the log's end are ones clients hold (pending ones may not even encode).
        limit = self.max_trace_events if upto is None else min(upto, self.max_trace_events)
        cp = self.checkpoints.before(target, actions, max_seq=min(self.log.count, limit))
        if cp is None:   # not expected (the first one is at t=0 with no action applied): rebuild
            try:
                return self.load(self.current_scenario(), t, pace, keep_horizon=True), 0
            except ProtocolError as e:
                raise engine_error(f"the protocol fails before t={t}: {e}") from None
        try:
            sim = self.checkpoints.resume(cp, self.proto, actions)
            capped = run_to(sim, target, pace, limit) and sim.seq >= self.max_trace_events
        except ProtocolError as e:   # the current run is untouched
            raise engine_error(f"the protocol fails before t={t}: {e}") from None
        # The resumed run re-emitted events the log (and every client) already holds: keep
        # those, and send only what lies past the log's end (the old run's unsent events).
        keep = min(sim.seq, self.log.count)
        del sim.trace[:keep - cp.seq]
        rest = self.log.split_off(keep)
        dropped = self.checkpoints.drop_after(sim.seq)
        gone = self.chapters.cut(keep, float(sim.now) if capped or upto is not None else float(t))
        self._remember_ahead(keep, rest, dropped, gone)
        self.sim = sim
        self._token_key = None
        self.failure = None
        self.t = float(sim.now) if capped or upto is not None else float(t)
        self._settle()
        return capped, keep

    def _remember_ahead(self, start: int, rest: TraceLog, items: list, chapters: list) -> None:
        """After a seek back to event `start`: `rest` (the events cut from the log), the
        checkpoints dropped past it and the chapters found there lie ahead, and so does what
        lay ahead before."""
        old, end = self.ahead, start + rest.count
        if old is not None and old.start <= end < old.end:
            rest.extend(old.log.split_off(end - old.start))
            last = items[-1][0].seq if items else start
            items = items + [it for it in old.items if it[0].seq > last]
            top = chapters[-1]["index"] if chapters else -1
            chapters = chapters + [c for c in old.chapters if c["index"] > top]
        self.ahead = Ahead(start, rest, items, chapters) if rest.count else None

    def _jump_ahead(self, target: int) -> None:
        """Seek forward into what a seek back left ahead (Ahead): resume from its latest
        checkpoint at or before `target`; the events up to it come from there, not from
        running the whole way again. Byte-identical, since it is the same run."""
        ahead, sim = self.ahead, self.sim
        cur = self.log.count                        # == sim.seq: pending events are archived
        if ahead is None or sim.trace or not ahead.start <= cur < ahead.end:
            if ahead is not None and cur >= ahead.end:
                self.ahead = None
            return
        usable = [it for it in ahead.items
                  if cur <= it[0].seq <= ahead.end and it[0].now <= target and it[0].handled >= sim.handled]
        if not usable:
            return
        cp, past = usable[-1]
        actions = self.current_scenario().actions
        self.sim = self.checkpoints.extended(
            checkpoint.resume(cp, self.proto, past + [a for a in actions if a["at"] > cp.now]))
        passed = ahead.log.split_off(cur - ahead.start)     # events [cur, end)
        later = passed.split_off(cp.seq - cur)              # passed: [cur, cp.seq); later: [cp.seq, end)
        # The chapters of the stretch not run again are the ones found there before (the same
        # run): taken back as they were, not found by decoding the stretch (a long run's
        # stretch is megabytes of JSON: 50-90 ms in one go).
        self.chapters.restore(ahead.chapters, cp.seq)
        self.log.extend(passed)
        self.checkpoints.adopt([it for it in ahead.items if it[0].seq <= cp.seq])
        rest = [it for it in ahead.items if it[0].seq > cp.seq]
        self.ahead = Ahead(cp.seq, later, rest, [c for c in ahead.chapters if c["seq"] >= cp.seq]) \
            if later.count else None
        self._token_key = None

    def extend(self, ms: float, pace: Pace) -> tuple[int | None, bool]:
        """Make the run `ms` longer (up to the engine's longest run): the same run, with a
        later end. Returns (keep, resumed): keep is None when the run had not ended (its
        simulation just ends later), else the events every client keeps (a `seek` payload,
        as for seek): a run that had ended was rebuilt from a checkpoint to where it stood,
        so its end-of-run checks (made at the old end) are gone; it then plays on."""
        sim = self.sim
        if sim.stopped_reason is not None or self.too_long():
            raise ApiError("limit", "this run has as many events as one run may hold; it cannot go on",
                           "refused.too_long")
        until = min(engine_limits.MAX_UNTIL_MS, sim.until + math.floor(ms))
        if until <= sim.until:
            raise ApiError("limit", f"a run lasts at most {engine_limits.MAX_UNTIL_MS} ms; this one does already",
                           "refused.max_until", {"ms": engine_limits.MAX_UNTIL_MS})
        ended = sim.done
        self.base = dataclasses.replace(self.base, until=until)
        self.checkpoints.until = until
        self._token_key = None
        # What a seek back left ahead may end in the old end's checks: forget it.
        self.ahead = None
        if not ended:
            self.checkpoints.extended(sim)
            return None, False
        _, keep = self.seek(self.t, pace, rebuild=True)
        self.ahead = None
        self.playing = not self.sim.done
        return keep, True

    def fail(self, message: str) -> None:
        """A protocol handler raised: the run cannot go on past this point."""
        self.failure = message
        self.playing = False

    def check_live(self) -> None:
        if self.failure is not None:
            raise engine_error(f"the protocol failed here; seek back or restart ({self.failure})")
        if self.sim.done:
            raise run_over()
        if self.too_long():
            raise self.too_long_error()

    def too_long_error(self) -> ApiError:
        return ApiError("limit", "this run has streamed as many events as one session may hold; seek back or restart",
                        "refused.too_long")

    def too_long(self) -> bool:
        return self.sim.seq >= self.max_trace_events

    # ------------------------------------------------------------ actions

    def act(self, action, pace: Pace) -> tuple[dict, list[dict]]:
        """Stamp, validate and schedule a live action. Returns (action, the actions cut).

        Acting before the horizon (after a seek back) forks: the actions already
        seen after the stamp are cut, and the run is replayed without them to
        exactly where it is now. Actions beyond the horizon (a preset's script
        not yet reached) are not in the past; they stay.
        """
        if not isinstance(action, dict):
            raise bad("action must be an object")
        if "at" in action:
            raise bad("action must not carry 'at': the server stamps the earliest legal time")
        self.check_live()
        sim = self.sim
        stamp = sim.min_action_at
        if stamp > sim.until:
            raise run_over()
        try:
            a = validate_action({**action, "at": stamp}, self.proto, sim.ids, sim.until)
        except ScenarioError as e:
            raise bad(str(e)) from None
        seen = math.floor(self.horizon)
        cut = [x for x in sim.actions if stamp <= x["at"] <= seen]
        kept = [x for x in sim.actions if not stamp <= x["at"] <= seen]
        forked = bool(cut)
        if len(kept) >= engine_limits.MAX_ACTIONS:
            raise ApiError("limit", f"too many actions in one run (limit {engine_limits.MAX_ACTIONS})",
                           "refused.too_many_actions", {"limit": engine_limits.MAX_ACTIONS})
        self._check_share_size(kept + [a])
        # Cheap check on the current run first: its state now equals the replay's.
        why = sim.why_not(a)
        if why:
            code, args = why
            raise bad(WHY_NOT[code].format(**args), f"refused.{code}", args)
        target, cps = self._replay(kept, pace) if forked else (sim, self.checkpoints)
        try:
            target.add_action(a, strict=True)
        except ScenarioError as e:
            raise bad(str(e)) from None
        self.sim = target
        self.checkpoints = cps
        self.ahead = None         # the run's future has changed
        if not self.playing:
            # Paused: apply now so the person sees the effect at once.
            run_to(target, stamp, pace, cps=cps)
            self.t = max(self.t, float(stamp))
            self._settle()
        if forked:
            self.horizon = self.t     # what lay ahead of here belongs to the run that was cut
        return a, cut

    def _check_share_size(self, actions: list[dict]) -> None:
        data = {**dataclasses.replace(self.base, behaviour=self.proto.behaviour).to_dict(), "actions": actions}
        token = encode_token(data)
        if len(token) > engine_limits.MAX_TOKEN_CHARS:
            raise ApiError("limit", "this run has too many actions to share as a link; restart to add more",
                           "refused.share_too_big")

    def _replay(self, actions: list[dict], pace: Pace) -> tuple[Simulation, Checkpoints]:
        """The current run rebuilt with only `actions`, stopped at the same heap entry:
        resumed from the nearest checkpoint that fits `actions` (their difference lies
        ahead of the run, so the latest one does), not replayed from t=0. Returns it with
        its checkpoints (the old ones up to there, then its own)."""
        old = self.sim
        cps = self.checkpoints.copy()
        cp = cps.before(old.now, actions, old.handled)
        if cp is None:   # not expected: the first checkpoint applied no action
            new = Simulation(dataclasses.replace(self.base, actions=actions))
            cps.start(new)
        else:
            new = cps.resume(cp, self.proto, actions)
            cps.drop_after(cp.seq)
        while new.handled < old.handled and new.step_entry():
            cps.maybe(new)
            pace()
        new.min_action_at = max(new.min_action_at, old.min_action_at)
        if new.seq != old.seq or new.now != old.now:
            raise RuntimeError(f"replay diverged: seq {new.seq} != {old.seq} or t {new.now} != {old.now}")
        # Same events as the old run: streamed ones are in the log, pending ones stay pending.
        new.trace[:] = old.trace
        return new, cps

    # ------------------------------------------------------------ payloads

    def playback(self) -> dict:
        # controller: whether anyone controls the run now (a class sees the teacher leave).
        d = {"playing": self.playing, "speed": self.speed, "t": round(self.t, 3),
             "done": self.sim.done, "viewers": len(self.participants), "until": self.sim.until,
             "controller": "controller" in self.participants.values()}
        if self.stops:
            d["stops"] = self.stops
        chapter = self.chapters.current()
        if chapter["found"] or chapter["total"] is not None:
            d["chapter"] = chapter
        if self.stopped is not None:
            d["stopped"] = self.stopped
        return d

    def _archive(self) -> bytes:
        """Move pending trace events into the log; return them as a JSON array."""
        return archive(self.sim, self.log, self.chapters.feed)

    def has_pending(self) -> bool:
        return bool(self.sim.trace)

    def seek_payload(self, keep: int, wall: float) -> dict:
        """The `seek` payload: keep your first `keep` events, then add these (as a batch)."""
        self._archive()
        return {**self.take_events(wall), "events": self.log.tail(keep), "seq": keep}

    def memory(self) -> dict:
        """Bytes this session holds beyond its live run: streamed trace and checkpoints."""
        cps = self.checkpoints
        ahead = self.ahead
        return {"trace_bytes": self.log.size + (ahead.log.size if ahead else 0), "checkpoints": len(cps.items),
                "checkpoint_bytes": cps.bytes + sum(c.size for c, _ in (ahead.items if ahead else ()))}

    LIVE_BYTES = 64 * 1024   # the live run's own objects, roughly (a few nodes' state, the heap)

    def bytes_held(self) -> int:
        """What the memory budget counts: trace and checkpoint bytes, plus an estimate of the
        live run (a fixed allowance and, as its state's size, its newest checkpoint's)."""
        m = self.memory()
        items = self.checkpoints.items
        return m["trace_bytes"] + m["checkpoint_bytes"] + self.LIVE_BYTES + (items[-1][0].size if items else 0)

    def take_events(self, wall: float) -> dict:
        """The `events` payload: everything not yet streamed."""
        return {"session": self.id, "events": Fragment(self._archive()), "playback": self.playback(),
                "token": self.token(), "sent_at": wall, "timers": self.armed_timers(),
                "deadlines": self.sim.armed_spans()}

    def armed_timers(self) -> dict:
        """Timers armed now on each live node: what the node menu may offer to force."""
        sim = self.sim
        return {n: sorted(sim.timers[n]) for n in sim.ids if sim.up[n]}

    def snapshot(self, role: str, describe: dict) -> dict:
        """Everything so far; whoever gets it needs no earlier `events` batch."""
        self._archive()
        sim = self.sim
        return {"session": self.id, "role": role,
                "control": self.control if role == "controller" else None,
                "protocol": describe, "scenario": self.current_scenario().to_dict(),
                "token": self.token(), "layout": self.proto.layout(sim.ids), "nodes": list(sim.ids),
                "events": self.log.fragment(), "playback": self.playback(), "viewers": len(self.participants),
                "timers": self.armed_timers(), "deadlines": sim.armed_spans(),
                "behaviour": self.behaviour_note(), "lesson": self.chapters.spec}
