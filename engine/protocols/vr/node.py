"""Replicas and clients of Viewstamped Replication Revisited, as sans-I/O state machines.

Read it next to Liskov & Cowling, "Viewstamped Replication Revisited"
(MIT-CSAIL-TR-2012-021), section 4. One entry point per node (`on_message`)
routes a message kind to the handler named after it. The messages and their
fields are the paper's (i, j and c are node ids; v' and n' keep their primes):

    Request          {op, c, s}              client -> primary
    Prepare          {v, m, n, k}            primary -> backups; m = the request {op, c, s}
    PrepareOk        {v, n, i}               backup -> primary (n: every op up to n is in i's log)
    Reply            {v, s, x}               primary -> client; x = the service's result
    Commit           {v, k}                  idle primary -> backups (the heartbeat)
    StartViewChange  {v, i}                  replica -> every replica
    DoViewChange     {v, l, v', n, k, i}     replica -> the new primary (l: its log, v': last normal view)
    StartView        {v, l, n, k}            new primary -> every replica
    Recovery         {i, x}                  recovering replica -> every replica (x: a nonce)
    RecoveryResponse {v, x, l, n, k, j}      normal replica -> the recovering one (l, n, k: primary only)
    GetState         {v, n', i}              lagging replica -> the primary (n': what it keeps)
    NewState         {v, l, n, k}            primary -> the lagging replica (l: the log after n')

A log entry is [view, op, client, s]: the view in which the primary accepted
the request (what the page colours), the operation ("x=1", a write to a small
key-value store), and the request's client and number (the client table's key,
and the checker's at-most-once key). The op-number n is the log's length (no
checkpoints), and op n is log[n - 1].

The configuration is r1..rN in order; the primary of view v is config[v mod N].
f = (N - 1) / 2: a quorum is f + 1 replicas, which is why the primary waits for
f PrepareOks (its own log is the (f + 1)th copy).

Durable state. VRR writes nothing to disk: replicas keep everything in memory
and rely on no more than f of them failing at once. With param disk = "none"
(the paper) a replica's node.disk stays EMPTY, and a restarted replica comes
back with nothing: status recovering, a fresh nonce drawn from ctx.rng (the
engine's per-node generator keeps running across restarts, so no counter on
disk is needed), and it waits for f + 1 RecoveryResponses carrying its nonce,
one of them from the primary of the latest view they name, and adopts that
primary's log. With disk = "log" every replica keeps view, status, last normal
view, log and commit number on disk (the log list *is* disk["log"]; the rest is
written with ctx.persist before any message that depends on it), and a
restarted replica resumes from its disk as if it had only paused.

State transfer (paper 5.2). A backup that misses ops in its view (a Prepare
for n > op-number + 1, or a Commit with k > op-number) sends GetState{n' =
op-number} to the primary and splices the NewState in. A replica that learns of
a later view from its primary's Prepare or Commit (or, in view-change status,
from a Prepare or Commit of its own view: it missed the StartView) joins that
view in view-change status and asks for the state after its commit number
(n' = k): the paper sets op-number to commit-number there. Here the ops past k
stay in the log, untouched and unused, until the NewState replaces them, so
that a DoViewChange sent meanwhile still reports exactly the log of its last
normal view v' (claiming v' = the new view with a log cut to k could let a
later view change pick a log without ops committed in earlier views).

A client (c1, c2) keeps its request number s on its own disk, written before
the Request leaves: a restarted client must never reuse a number, or the
primary would answer its new request from the client table.

What the checker sees (engine.kit.log_safety's vocabulary, view = term):
observe() returns role ("primary" only in normal status), term (the view), log,
last_applied (ops executed), status and commit; every change to the log is
reported with ctx.observe("log_changed", index=i).
"""

from __future__ import annotations

from ...protocol import Node

PRIMARY, BACKUP, CHANGING, RECOVERING_ROLE, CLIENT = "primary", "backup", "changing", "recovering", "client"
NORMAL, VIEW_CHANGE, RECOVERING = "normal", "view-change", "recovering"
LOG_VIEW = 12     # a view shows at most the last LOG_VIEW entries (logStart says where they begin)


def entry_text(entry) -> str:
    """An entry as the log strip and messages show it: "view:op" ("1:x=3")."""
    return f"{entry[0]}:{entry[1]}"


def replica_ids(node_ids):
    return [n for n in node_ids if n.startswith("r")]


class Replica(Node):
    role = BACKUP

    # ------------------------------------------------------------ boot

    def on_start(self, ctx):
        self.boot(ctx, restarted=False)

    def on_recover(self, ctx):
        self.boot(ctx, restarted=True)

    def boot(self, ctx, restarted):
        p = self.params
        self.config = replica_ids(self.node_ids)
        self.others = [r for r in self.config if r != self.id]
        self.f = (len(self.config) - 1) // 2
        self.heartbeat = p["heartbeat"]
        self.view_timeout = p["view_timeout"]
        self.durable = p["disk"] == "log"
        self.bug_longest_log = "longest_log" in self.bugs
        disk = self.disk
        if self.durable:
            self.log = disk.setdefault("log", [])     # appending to it is the durable write
            self.vn = disk.get("view", 0)
            self.status = disk.get("status", NORMAL)
            self.lnv = disk.get("lnv", 0)
            self.k = disk.get("k", 0)
        else:                                          # VRR: nothing on disk, ever
            self.log = []
            self.vn = 0
            self.status = NORMAL
            self.lnv = 0
            self.k = 0
        # Volatile state.
        self.executed = 0          # ops 1..executed are applied to kv
        self.kv = {}
        self.table = {}            # client table: client -> [latest s, its result or None]
        self.ok = {}               # primary: backup -> highest op-number it acknowledged this view
        self.svc = []              # view change: replicas whose StartViewChange for my view I have
        self.dvc = {}              # new primary: replica -> its DoViewChange
        self.sent_dvc = False
        self.catching_up = False   # learned of my view from its primary; waiting for NewState
        self.getstate_at = None    # when I last asked for state (asked at most once a heartbeat)
        self.last_prepare_at = -self.heartbeat
        self.nonce = None          # recovering: the nonce of my Recovery
        self.responses = {}        # recovering: replica -> its RecoveryResponse
        self._log_view = None
        if restarted and not self.durable:
            self.start_recovery(ctx)
            return
        self.execute(ctx, reply=False)          # replay what the disk says is committed
        if self.is_primary():
            self.rebuild_table()
            ctx.set_timer("commit", self.heartbeat)
        else:
            self.reset_view_timer(ctx)
        if restarted:
            ctx.note("vr.resumed", view=self.vn, status=self.status, n=len(self.log), k=self.k)

    # ------------------------------------------------------------ helpers

    def primary_of(self, v):
        return self.config[v % len(self.config)]

    def is_primary(self):
        return self.status == NORMAL and self.primary_of(self.vn) == self.id

    def save(self, ctx):
        """With disk = "log": view, status, last normal view and commit number go to disk before
        any message that depends on them (the log is on disk already). Without: nothing."""
        if self.durable:
            ctx.persist(view=self.vn, status=self.status, lnv=self.lnv, k=self.k)

    def set_log(self, ctx, start, entries):
        """Keep log[:start], then `entries` (copied: a message body is never mutated)."""
        log = self.log
        del log[start:]
        log.extend(entries)
        ctx.observe("log_changed", index=start + 1)
        self._log_view = None

    def reset_view_timer(self, ctx):
        ctx.set_timer("view", self.view_timeout)

    def bcast(self, ctx, kind, **body):
        for r in self.others:
            ctx.send(r, kind, **body)

    def rebuild_table(self):
        """A new primary's client table: the executed ops set it already; add the newest request
        number of every op still in the log, so a retry of an uncommitted request is not
        appended a second time."""
        table = self.table
        for e in self.log[self.executed:]:
            c, s = e[2], e[3]
            if c not in table or s > table[c][0]:
                table[c] = [s, None]

    def execute(self, ctx, reply):
        """Apply ops up to the commit number in order (the up-call); the primary replies."""
        log = self.log
        while self.executed < self.k:
            n = self.executed + 1
            self.executed = n
            _, op, c, s = log[n - 1]
            key, _, value = op.partition("=")
            x = {"n": n, "was": self.kv.get(key)}
            self.kv = {**self.kv, key: value}
            t = self.table.get(c)
            if t is None or s >= t[0]:
                self.table[c] = [s, x]
            if reply:
                ctx.send(c, "Reply", v=self.vn, s=s, x=x)

    # ------------------------------------------------------------ timers

    def on_timer(self, ctx, name):
        if name == "view":
            if self.status != RECOVERING and not self.is_primary():
                if self.status == NORMAL:
                    ctx.note("vr.timeout", primary=self.primary_of(self.vn), view=self.vn + 1)
                else:
                    ctx.note("vr.timeout.again", view=self.vn, next=self.vn + 1)
                self.start_view_change(ctx, self.vn + 1)
        elif name == "commit" and self.is_primary():
            self.tick(ctx)
            ctx.set_timer("commit", self.heartbeat)
        elif name == "recovery" and self.status == RECOVERING:
            self.bcast(ctx, "Recovery", i=self.id, x=self.nonce)
            ctx.set_timer("recovery", self.view_timeout)

    def tick(self, ctx):
        """The primary's heartbeat: Prepare the newest op again to backups that have not
        acknowledged it (a lost Prepare), and Commit{v, k} when no Prepare went out lately."""
        n = len(self.log)
        if self.k < n and ctx.now - self.last_prepare_at >= self.heartbeat:
            e = self.log[n - 1]
            for b in self.others:
                if self.ok.get(b, 0) < n:
                    ctx.send(b, "Prepare", v=self.vn, m={"op": e[1], "c": e[2], "s": e[3]}, n=n, k=self.k)
        elif ctx.now - self.last_prepare_at >= self.heartbeat:
            self.bcast(ctx, "Commit", v=self.vn, k=self.k)

    # ------------------------------------------------------------ receiving

    def on_message(self, ctx, msg):
        kind = msg.kind
        b = msg.body
        if self.status == RECOVERING:
            if kind == "RecoveryResponse":
                self.on_recovery_response(ctx, msg.src, b)
            return                          # a recovering replica takes part in nothing else
        handler = self.HANDLERS.get(kind)
        if handler is not None:
            handler(self, ctx, msg.src, b)

    # ---- normal operation (paper 4.1)

    def on_request_msg(self, ctx, src, b):
        if not self.is_primary():
            return                          # only the primary serves; a client retries everywhere
        c, s, op = b["c"], b["s"], b["op"]
        t = self.table.get(c)
        if t is not None and s <= t[0]:
            if s == t[0] and t[1] is not None:
                ctx.note("vr.resend_reply", client=c, s=s)
                ctx.send(c, "Reply", v=self.vn, s=s, x=t[1])
            elif s == t[0]:
                ctx.note("vr.in_progress", client=c, s=s)
            else:
                ctx.note("vr.old_request", client=c, s=s, last=t[0])
            return
        self.log.append([self.vn, op, c, s])
        n = len(self.log)
        ctx.observe("log_changed", index=n)
        self._log_view = None
        self.table[c] = [s, None]
        ctx.note("vr.prepare", client=c, s=s, op=op, n=n, view=self.vn)
        self.last_prepare_at = ctx.now
        m = {"op": op, "c": c, "s": s}
        self.bcast(ctx, "Prepare", v=self.vn, m=m, n=n, k=self.k)

    def on_prepare(self, ctx, src, b):
        if not self.from_primary(ctx, src, b):
            return
        n = b["n"]
        log = self.log
        if n == len(log) + 1:
            m = b["m"]
            log.append([self.vn, m["op"], m["c"], m["s"]])
            ctx.observe("log_changed", index=n)
            self._log_view = None
            ctx.send(src, "PrepareOk", v=self.vn, n=n, i=self.id)
        elif n <= len(log):
            ctx.send(src, "PrepareOk", v=self.vn, n=len(log), i=self.id)    # a repeat: ack again
        else:
            self.get_state(ctx, src, len(log), "gap")
        self.learn_commit(ctx, b["k"])

    def on_commit(self, ctx, src, b):
        if not self.from_primary(ctx, src, b):
            return
        if b["k"] > len(self.log):
            self.get_state(ctx, src, len(self.log), "gap")
        self.learn_commit(ctx, b["k"])

    def from_primary(self, ctx, src, b):
        """Prepare and Commit: the checks common to both. True when I am a normal backup of
        the sender's view; a later view, or my own view while I am not normal, means I
        missed something: state transfer (paper 4.3 and 5.2)."""
        v = b["v"]
        if v < self.vn or src != self.primary_of(v) or src == self.id:
            return False                    # a deposed primary's (or my own old) message
        if v == self.vn and self.status == NORMAL:
            self.reset_view_timer(ctx)
            return True
        if v > self.vn or not self.catching_up:
            # Join view v but keep my log and last normal view as they are: a DoViewChange
            # I send before the new state arrives must tell only what I really have.
            ctx.note("vr.later_view", view=v, primary=src, k=self.k)
            self.vn = v
            self.status = VIEW_CHANGE
            self.catching_up = True
            self.svc = []
            self.dvc = {}
            self.sent_dvc = False
            self.ok = {}
            self.getstate_at = None
            ctx.cancel_timer("commit")
            self.save(ctx)
        self.reset_view_timer(ctx)
        self.get_state(ctx, src, self.k, None)      # only my committed prefix is surely in its log
        return False

    def get_state(self, ctx, primary, keep, why):
        if self.getstate_at is not None and ctx.now - self.getstate_at < self.heartbeat:
            return
        self.getstate_at = ctx.now
        if why == "gap":
            ctx.note("vr.gap", n=keep, primary=primary)
        ctx.send(primary, "GetState", v=self.vn, **{"n'": keep}, i=self.id)

    def learn_commit(self, ctx, k):
        k = min(k, len(self.log))
        if k > self.k:
            self.k = k
            self.save(ctx)
            ctx.note("vr.execute", k=k)
            self.execute(ctx, reply=False)

    def on_prepare_ok(self, ctx, src, b):
        if b["v"] != self.vn or not self.is_primary():
            return
        if b["n"] > self.ok.get(src, 0):
            self.ok[src] = b["n"]
            self.advance_commit(ctx)

    def advance_commit(self, ctx):
        """Committed: ops that f backups (and so f + 1 replicas with me) have in their logs."""
        acks = sorted(self.ok.values(), reverse=True)
        if len(acks) < self.f:
            return
        c = min(acks[self.f - 1], len(self.log))
        if c > self.k:
            self.k = c
            self.save(ctx)                  # the commit number is on disk before any Reply
            ctx.note("vr.commit", k=c, view=self.vn, f=self.f)
            self.execute(ctx, reply=True)

    def on_get_state(self, ctx, src, b):
        if not (self.status == NORMAL and b["v"] == self.vn):
            return
        start = min(b["n'"], len(self.log))
        ctx.send(src, "NewState", v=self.vn, l=self.log[start:], n=len(self.log), k=self.k)

    def on_new_state(self, ctx, src, b):
        if b["v"] != self.vn or src != self.primary_of(self.vn):
            return
        entries = b["l"]
        start = b["n"] - len(entries)
        if self.catching_up:
            if start > self.k:
                return                      # my entries past k may be from an older view
        elif self.status != NORMAL or start > len(self.log) or b["n"] <= len(self.log):
            return                          # nothing new (a late or repeated NewState)
        self.set_log(ctx, start, entries)
        self.status = NORMAL
        self.lnv = self.vn
        self.catching_up = False
        self.k = min(max(self.k, b["k"]), len(self.log))
        self.save(ctx)
        ctx.note("vr.new_state", view=self.vn, n=len(self.log), k=self.k)
        self.execute(ctx, reply=False)
        self.reset_view_timer(ctx)
        ctx.send(src, "PrepareOk", v=self.vn, n=len(self.log), i=self.id)

    # ---- view change (paper 4.2)

    def start_view_change(self, ctx, v):
        self.vn = v
        self.status = VIEW_CHANGE
        self.catching_up = False
        self.svc = []
        self.dvc = {}
        self.sent_dvc = False
        self.ok = {}
        ctx.cancel_timer("commit")
        self.save(ctx)
        self.bcast(ctx, "StartViewChange", v=v, i=self.id)
        self.reset_view_timer(ctx)       # if this view change stalls, try the next view
        self.maybe_do_view_change(ctx)

    def on_start_view_change(self, ctx, src, b):
        v = b["v"]
        if v > self.vn:
            ctx.note("vr.join", view=v, who=src)
            self.start_view_change(ctx, v)
        if v == self.vn and self.status == VIEW_CHANGE and not self.catching_up and src not in self.svc:
            self.svc = [*self.svc, src]
            self.maybe_do_view_change(ctx)

    def maybe_do_view_change(self, ctx):
        if self.sent_dvc or len(self.svc) < self.f:
            return
        self.sent_dvc = True
        p = self.primary_of(self.vn)
        body = {"v": self.vn, "l": list(self.log), "v'": self.lnv, "n": len(self.log), "k": self.k,
                "i": self.id}
        ctx.note("vr.do_view_change", view=self.vn, primary=p, lnv=self.lnv, n=len(self.log), count=len(self.svc))
        if p == self.id:
            self.on_do_view_change(ctx, self.id, body)
        else:
            ctx.send(p, "DoViewChange", **body)

    def on_do_view_change(self, ctx, src, b):
        v = b["v"]
        if v < self.vn or self.primary_of(v) != self.id:
            return
        if v > self.vn:
            ctx.note("vr.join", view=v, who=src)
            self.start_view_change(ctx, v)
        if self.status != VIEW_CHANGE or self.catching_up or v != self.vn:
            return                          # already started this view (a late DoViewChange)
        self.dvc[src] = b
        if len(self.dvc) >= self.f + 1 and self.id in self.dvc:
            self.start_view(ctx)

    def start_view(self, ctx):
        """f + 1 DoViewChanges, mine among them: the log with the largest last normal view
        (ties: the largest op-number) becomes the view's log; k is the largest k."""
        dvcs = list(self.dvc.values())
        if self.bug_longest_log:
            # BUG: keep my own log unless another is longer, whatever the views they come from.
            best = self.dvc[self.id]
            for d in dvcs:
                if d["n"] > best["n"]:
                    best = d
        else:
            best = max(dvcs, key=lambda d: (d["v'"], d["n"]))
        self.set_log(ctx, 0, best["l"])
        self.k = min(max(self.k, *(d["k"] for d in dvcs)), len(self.log))
        self.status = NORMAL
        self.lnv = self.vn
        self.ok = {r: 0 for r in self.others}
        self.svc = []
        self.save(ctx)
        froms = ", ".join(sorted(self.dvc))
        if self.bug_longest_log:
            ctx.note("vr.start_view.longest", view=self.vn, who=best["i"], n=best["n"], lnv=best["v'"], froms=froms)
        else:
            ctx.note("vr.start_view", view=self.vn, who=best["i"], n=best["n"], lnv=best["v'"], froms=froms,
                     k=self.k)
        self.dvc = {}
        self.bcast(ctx, "StartView", v=self.vn, l=list(self.log), n=len(self.log), k=self.k)
        self.rebuild_table()
        self.execute(ctx, reply=True)
        ctx.cancel_timer("view")
        self.last_prepare_at = ctx.now
        ctx.set_timer("commit", self.heartbeat)

    def on_start_view(self, ctx, src, b):
        v = b["v"]
        if v < self.vn or (v == self.vn and self.status == NORMAL) or src != self.primary_of(v):
            return
        self.vn = v
        self.set_log(ctx, 0, b["l"])
        self.status = NORMAL
        self.lnv = v
        self.catching_up = False
        self.svc = []
        self.dvc = {}
        self.k = min(max(self.k, b["k"]), len(self.log))
        self.save(ctx)
        ctx.note("vr.adopt", view=v, primary=src, n=len(self.log), k=self.k)
        self.execute(ctx, reply=False)
        ctx.cancel_timer("commit")
        self.reset_view_timer(ctx)
        if len(self.log) > self.k:
            ctx.send(src, "PrepareOk", v=v, n=len(self.log), i=self.id)

    # ---- recovery (paper 4.3)

    def start_recovery(self, ctx):
        self.status = RECOVERING
        self.nonce = ctx.rng.getrandbits(32)
        ctx.note("vr.recovering", nonce=self.nonce, need=self.f + 1)
        self.bcast(ctx, "Recovery", i=self.id, x=self.nonce)
        ctx.set_timer("recovery", self.view_timeout)

    def on_recovery(self, ctx, src, b):
        if self.status != NORMAL:
            return                          # only a normal replica answers
        if self.is_primary():
            ctx.send(src, "RecoveryResponse", v=self.vn, x=b["x"], l=list(self.log), n=len(self.log),
                     k=self.k, j=self.id)
        else:
            ctx.send(src, "RecoveryResponse", v=self.vn, x=b["x"], l=None, n=None, k=None, j=self.id)

    def on_recovery_response(self, ctx, src, b):
        if b["x"] != self.nonce:
            return                          # an answer to an older Recovery
        old = self.responses.get(src)
        if old is None or b["v"] >= old["v"]:
            self.responses = {**self.responses, src: b}
        if len(self.responses) < self.f + 1:
            return
        top = max(r["v"] for r in self.responses.values())
        p = self.primary_of(top)
        r = self.responses.get(p)
        if r is None or r["v"] != top or r["l"] is None:
            return                          # the latest view's primary has not answered yet
        self.vn = top
        self.set_log(ctx, 0, r["l"])
        self.k = min(r["k"], len(self.log))
        self.status = NORMAL
        self.lnv = top
        self.nonce = None
        self.responses = {}
        ctx.cancel_timer("recovery")
        ctx.note("vr.recovered", view=top, primary=p, n=len(self.log), k=self.k)
        self.execute(ctx, reply=False)
        self.reset_view_timer(ctx)
        ctx.send(p, "PrepareOk", v=top, n=len(self.log), i=self.id)

    HANDLERS = {
        "Request": on_request_msg, "Prepare": on_prepare, "PrepareOk": on_prepare_ok, "Commit": on_commit,
        "GetState": on_get_state, "NewState": on_new_state, "StartViewChange": on_start_view_change,
        "DoViewChange": on_do_view_change, "StartView": on_start_view, "Recovery": on_recovery,
    }

    # ------------------------------------------------------------ view

    def current_role(self):
        if self.status == RECOVERING:
            return RECOVERING_ROLE
        if self.status == VIEW_CHANGE:
            return CHANGING
        return PRIMARY if self.primary_of(self.vn) == self.id else BACKUP

    def view(self):
        lv = self._log_view
        if lv is None:
            log = self.log
            start = max(0, len(log) - LOG_VIEW)
            lv = self._log_view = ([entry_text(e) for e in log[start:]], start + 1)
        role = self.current_role()
        v = {"role": role, "status": self.status, "view": self.vn, "primary": self.primary_of(self.vn),
             "lastNormalView": self.lnv, "opNumber": len(self.log), "commitNumber": self.k,
             "log": lv[0], "logStart": lv[1], "kv": self.kv,
             "clientTable": {c: t[0] for c, t in self.table.items()}}
        if role == PRIMARY:
            v["acks"] = dict(self.ok)
            v["label"] = ["vr.label.primary", {"view": self.vn, "n": len(self.log), "k": self.k}]
        elif role == BACKUP:
            v["label"] = ["vr.label.backup", {"view": self.vn, "n": len(self.log), "k": self.k}]
        elif role == CHANGING:
            v["startViewChanges"] = list(self.svc)
            if self.dvc:
                v["doViewChanges"] = sorted(self.dvc)
            v["label"] = ["vr.label.changing", {"view": self.vn, "svc": len(self.svc), "f": self.f}]
        else:
            v["nonce"] = self.nonce
            v["label"] = ["vr.label.recovering", {"got": len(self.responses), "need": self.f + 1}]
        return v

    def observe(self):
        return {"role": self.current_role(), "term": self.vn,
                "log": self.log, "last_applied": self.executed, "status": self.status, "commit": self.k}


class Client(Node):
    """A client: one request outstanding at a time, numbered s = 1, 2, ... (s on its disk).
    It sends to the primary of the view it believes in and, when no Reply comes in time,
    to every replica (only the primary acts on it)."""

    role = CLIENT

    def on_start(self, ctx):
        self.disk.setdefault("s", 0)
        self.boot()

    def on_recover(self, ctx):
        self.boot()
        ctx.note("vr.client_restarted", s=self.disk["s"])

    def boot(self):
        self.config = replica_ids(self.node_ids)
        self.timeout = self.params["client_timeout"]
        self.vn = 0               # the view it believes in (from Replies)
        self.pending = None         # [op, s] of the request in flight
        self.queue = []             # requests waiting their turn

    def on_request(self, ctx, op, arg):
        if op != "request":
            return
        key, sep, _ = (arg or "").partition("=")
        if not sep or not key:
            ctx.note("vr.bad_request", arg=arg or "")
            ctx.reply(op, {"ok": False, "error": "expected key=value"})
            return
        self.queue.append(arg)
        if self.pending is None:
            self.send_next(ctx)

    def send_next(self, ctx):
        op = self.queue.pop(0)
        s = self.disk["s"] + 1
        ctx.persist(s=s)             # a new number, on disk before the Request leaves
        self.pending = [op, s]
        p = self.config[self.vn % len(self.config)]
        ctx.note("vr.client_send", s=s, op=op, primary=p, view=self.vn)
        ctx.send(p, "Request", op=op, c=self.id, s=s)
        ctx.set_timer("retry", self.timeout)

    def on_timer(self, ctx, name):
        if name == "retry" and self.pending is not None:
            op, s = self.pending
            ctx.note("vr.client_retry", s=s)
            for r in self.config:
                ctx.send(r, "Request", op=op, c=self.id, s=s)
            ctx.set_timer("retry", self.timeout)

    def on_message(self, ctx, msg):
        if msg.kind != "Reply":
            return
        b = msg.body
        self.vn = max(self.vn, b["v"])
        if self.pending is None or b["s"] != self.pending[1]:
            return                       # a late or repeated Reply
        op, s = self.pending
        x = b["x"]
        self.pending = None
        ctx.cancel_timer("retry")
        ctx.note("vr.client_done", s=s, op=op, n=x["n"], view=b["v"])
        ctx.reply("request", {"ok": True, "client": self.id, "s": s, "index": x["n"], "was": x["was"]})
        if self.queue:
            self.send_next(ctx)

    def view(self):
        s = self.disk.get("s", 0)
        v = {"role": CLIENT, "s": s, "view": self.vn, "queued": list(self.queue)}
        if self.pending is not None:
            v["pending"] = self.pending[0]
            v["label"] = ["vr.label.client.waiting", {"s": self.pending[1], "op": self.pending[0]}]
        else:
            v["label"] = ["vr.label.client", {"s": s}]
        return v

    def observe(self):
        return {"role": CLIENT}
