"""ZabServer: one ZooKeeper server running Fast Leader Election and Zab.

Read it next to Junqueira, Reed and Serafini, "Zab: High-performance broadcast
for primary-backup systems" (DSN 2011), Algorithm 1 (phases 1-3), and
Medeiros, "ZooKeeper's atomic broadcast protocol: Theory and practice" (FLE,
phase 0). States LOOKING, FOLLOWING, LEADING; phases ELECTION -> DISCOVERY ->
SYNCHRONIZATION -> BROADCAST.

Messages (ZooKeeper's own names in brackets):
    Vote      {leader, zxid, peerEpoch, round, state}      FLE notification
    CEPOCH    {acceptedEpoch}                              [FOLLOWERINFO]
    NEWEPOCH  {epoch}                                      [LEADERINFO]
    ACKEPOCH  {epoch, currentEpoch, lastZxid, history}
    NEWLEADER {epoch, history}                             (the leader's history: DIFF/SNAP/TRUNC + NEWLEADER)
    ACKLD     {epoch, zxid}                                [ACK of NEWLEADER]
    COMMITLD  {epoch, zxid}                                [UPTODATE]
    PROPOSE   {epoch, zxid, prev, value}                   [PROPOSAL]
    ACK       {epoch, zxid}
    COMMIT    {epoch, zxid}
    PING      {epoch, zxid}   leader: its last committed zxid; follower: its last zxid

A zxid is [epoch, counter], compared lexicographically; the counter restarts at 1
in every epoch. A history entry is [zxid, value].

Durable (node.disk, written before any message that depends on it):
    acceptedEpoch, acceptedFrom (the leader whose NEWEPOCH set it), currentEpoch,
    history (appending to the list is the durable write).
Volatile: state, phase, FLE round (logicalclock: volatile in ZooKeeper too), the
vote and the votes received, lastCommitted, the leader's response sets.

The network is not FIFO (ZooKeeper has TCP): a follower appends a PROPOSE only
if its `prev` is its last zxid, and the leader resends what a follower lacks on
every tick; the follower repeats its handshake message (CEPOCH, ACKEPOCH, ACKLD)
on every tick until the leader's answer arrives.

Timers (a person may force any): election (LOOKING: resend the vote, or the
finalize wait), tick (heartbeat and retransmission), sync (follower: the leader
is silent; leader: no quorum heard, or not established in time -> LOOKING).

Param election: "fle" orders votes by (peerEpoch, zxid, sid) as ZooKeeper does;
"id" orders them by sid only, as the Zab paper allows (phase 0 may pick any
prospective leader; discovery then fetches the quorum's newest history).

Bugs (self.bug_* flags): leader_own_history (discovery keeps the leader's own
history instead of the most recent in its quorum), skip_epoch_check (a follower
takes NEWEPOCH/NEWLEADER of an older epoch).
"""

from __future__ import annotations

from ...kit.quorum import majority
from ...protocol import Node

LOOKING, FOLLOWING, LEADING = "looking", "following", "leading"
ESTABLISHED = "established"      # what the checker calls the leader once it adopted its epoch's history
ELECTION, DISCOVERY, SYNC, BROADCAST = "ELECTION", "DISCOVERY", "SYNCHRONIZATION", "BROADCAST"
STATE_NAME = {LOOKING: "LOOKING", FOLLOWING: "FOLLOWING", LEADING: "LEADING"}
LOG_VIEW = 12
RESEND = 4         # proposals resent per follower per tick
ZERO = (0, 0)


def ztext(z) -> str:
    return f"{z[0]}.{z[1]}"


def entry_text(entry) -> str:
    """A history entry for a violation or the strip: "epoch:value" ("1:x=1")."""
    return f"{entry[0][0]}:{entry[1]}"


def last_zxid(history):
    return tuple(history[-1][0]) if history else ZERO


def sid(node_id) -> int:
    return int(node_id[1:])


class ZabServer(Node):
    role = LOOKING

    # ------------------------------------------------------------ boot

    def on_start(self, ctx):
        disk = self.disk
        disk.setdefault("acceptedEpoch", 0)
        disk.setdefault("acceptedFrom", None)
        disk.setdefault("currentEpoch", 0)
        disk.setdefault("history", [])
        self.boot(ctx)

    def on_recover(self, ctx):
        self.boot(ctx)
        ctx.note("zab.recovered", accepted=self.disk["acceptedEpoch"], current=self.disk["currentEpoch"],
                 zxid=ztext(last_zxid(self.history)))

    def boot(self, ctx):
        p = self.params
        self.tick = p["tick"]
        self.sync_limit = p["sync_limit"]
        self.finalize = p["finalize"]
        self.by_id = p["election"] == "id"
        self.q = majority(len(self.node_ids))
        self.bug_own_history = "leader_own_history" in self.bugs
        self.bug_skip_epoch = "skip_epoch_check" in self.bugs
        self.history = self.disk["history"]
        self.round = 0
        self.committed = 0        # lastCommitted: entries 1..committed delivered, in order
        self.pending = {}         # leader: index -> op of a client write waiting to commit
        self._hist_view = None
        self.start_looking(ctx, None)

    # ------------------------------------------------------------ helpers

    def changed(self, ctx, index):
        ctx.observe("log_changed", index=index)
        self._hist_view = None

    def vote_key(self, v):
        """FLE's total order on votes (leader, zxid, peerEpoch): (peerEpoch, zxid, sid); by sid alone with
        election = "id"."""
        if self.by_id:
            return (sid(v[0]),)
        return (v[2], v[1], sid(v[0]))

    def my_vote(self):
        return (self.id, last_zxid(self.history), self.disk["currentEpoch"])

    def send_vote(self, ctx, dst):
        v = self.vote if self.state == LOOKING else (self.leader, last_zxid(self.history), self.disk["currentEpoch"])
        ctx.send(dst, "Vote", leader=v[0], zxid=list(v[1]), peerEpoch=v[2], round=self.round,
                 state=STATE_NAME[self.state])

    def index_of(self, zxid):
        """Position (1-based) of zxid in the leader's history of this epoch, or 0."""
        z = tuple(zxid)
        if z[0] == self.epoch and z[1] >= 1:
            return self.base + z[1]
        i = len(self.history)
        while i > 0 and tuple(self.history[i - 1][0]) > z:
            i -= 1
        return i if i and tuple(self.history[i - 1][0]) == z else 0

    def deliver(self, ctx, upto):
        """Deliver (commit) entries in order up to index `upto`."""
        h = self.history
        while self.committed < min(upto, len(h)):
            self.committed += 1
            e = h[self.committed - 1]
            op = self.pending.pop(self.committed, None)
            if op is not None:
                ctx.reply(op, {"ok": True, "index": self.committed, "zxid": list(e[0])})

    # ------------------------------------------------------------ phase 0: Fast Leader Election

    def start_looking(self, ctx, why):
        self.state = LOOKING
        self.phase = ELECTION
        self.leader = None
        self.epoch = None
        ctx.cancel_timer("tick")
        ctx.cancel_timer("sync")
        for op in self.pending.values():
            ctx.reply(op, {"ok": False, "error": "leader lost"})
        self.pending = {}
        self.round += 1
        self.vote = self.my_vote()
        self.recv = {self.id: self.vote}
        self.outside = {}          # non-LOOKING answers: sid -> (leader, state)
        self.finalizing = False
        if why is not None:
            ctx.note(f"zab.looking.{why}", round=self.round, zxid=ztext(self.vote[1]), epoch=self.vote[2])
        for p in self.peers:
            self.send_vote(ctx, p)
        ctx.set_timer("election", 4 * self.tick)

    def on_vote(self, ctx, src, b):
        if self.state != LOOKING:
            if b["state"] == "LOOKING":       # tell a looking server who leads
                self.send_vote(ctx, src)
            return
        theirs = (b["leader"], tuple(b["zxid"]), b["peerEpoch"])
        if b["state"] != "LOOKING":
            self.outside[src] = (b["leader"], b["state"])
            self.recv.pop(src, None)
            self.try_join(ctx, b)
            return
        self.outside.pop(src, None)
        if b["round"] > self.round:
            self.round = b["round"]
            mine = self.my_vote()
            self.vote = theirs if self.vote_key(theirs) > self.vote_key(mine) else mine
            self.recv = {self.id: self.vote}
            for p in self.peers:
                self.send_vote(ctx, p)
        elif b["round"] < self.round:
            self.send_vote(ctx, src)
            return
        elif self.vote_key(theirs) > self.vote_key(self.vote):
            ctx.note("zab.switch", leader=theirs[0], zxid=ztext(theirs[1]), epoch=theirs[2], was=self.vote[0])
            self.vote = theirs
            self.recv[self.id] = theirs
            for p in self.peers:
                self.send_vote(ctx, p)
        self.recv[src] = theirs
        self.check_votes(ctx)

    def check_votes(self, ctx):
        n = sum(1 for v in self.recv.values() if v == self.vote)
        if n >= self.q:
            if not self.finalizing:
                self.finalizing = True
                ctx.set_timer("election", self.finalize)
        elif self.finalizing:
            self.finalizing = False
            ctx.set_timer("election", 4 * self.tick)

    def try_join(self, ctx, b):
        """A quorum (me included) says L leads, and L itself says LEADING: join it."""
        lead = b["leader"]
        if lead == self.id or self.outside.get(lead, (None, None))[1] != "LEADING":
            return
        n = 1 + sum(1 for v in self.outside.values() if v[0] == lead)
        if n >= self.q:
            self.round = max(self.round, b["round"])
            ctx.note("zab.join", leader=lead)
            self.follow(ctx, lead)

    def decide(self, ctx):
        lead = self.vote[0]
        ctx.note("zab.elected", leader=lead, round=self.round, zxid=ztext(self.vote[1]), epoch=self.vote[2],
                 count=sum(1 for v in self.recv.values() if v == self.vote))
        if lead == self.id:
            self.lead(ctx)
        else:
            self.follow(ctx, lead)

    # ------------------------------------------------------------ phase 1: discovery

    def lead(self, ctx):
        self.state = LEADING
        self.phase = DISCOVERY
        self.leader = self.id
        self.epoch = None
        self.cepoch = {self.id: self.disk["acceptedEpoch"]}
        self.ackepoch = {}
        self.ackld = []
        self.acked = {}            # follower -> entries it is known to hold
        self.followers = []        # followers in BROADCAST (they acknowledged NEWLEADER)
        self.heard = set()
        self.base = 0
        self.counter = 0
        ctx.cancel_timer("election")
        ctx.set_timer("sync", 2 * self.sync_limit)
        ctx.set_timer("tick", self.tick)

    def follow(self, ctx, lead):
        self.state = FOLLOWING
        self.phase = DISCOVERY
        self.leader = lead
        self.epoch = None          # the epoch whose NEWEPOCH I acknowledged
        ctx.cancel_timer("election")
        ctx.set_timer("sync", 2 * self.sync_limit)
        ctx.set_timer("tick", self.tick)
        ctx.send(lead, "CEPOCH", acceptedEpoch=self.disk["acceptedEpoch"])

    def on_cepoch(self, ctx, src, b):
        if self.state != LEADING:
            return
        if self.epoch is None:
            self.cepoch[src] = b["acceptedEpoch"]
            if len(self.cepoch) < self.q:
                return
            e = max(self.cepoch.values()) + 1
            ctx.persist(acceptedEpoch=e, acceptedFrom=self.id)
            self.epoch = e
            self.ackepoch = {self.id: (self.disk["currentEpoch"], last_zxid(self.history), list(self.history))}
            ctx.note("zab.newepoch", epoch=e, count=len(self.cepoch))
            for f in self.cepoch:
                if f != self.id:
                    ctx.send(f, "NEWEPOCH", epoch=e)
        else:
            ctx.send(src, "NEWEPOCH", epoch=self.epoch)

    def on_newepoch(self, ctx, src, b):
        e = b["epoch"]
        if self.phase != DISCOVERY:
            return
        disk = self.disk
        acc = disk["acceptedEpoch"]
        if e > acc or (e == acc and disk["acceptedFrom"] == src) or self.bug_skip_epoch:
            if e > acc:
                ctx.persist(acceptedEpoch=e, acceptedFrom=src)
            elif e < acc:     # BUG: the promise to epoch acc is forgotten
                ctx.note("zab.stale_accepted", epoch=e, accepted=acc, leader=src)
            self.epoch = e
            self.send_ackepoch(ctx)
        else:
            ctx.note("zab.stale_refused", epoch=e, accepted=acc, leader=src)
            self.start_looking(ctx, None)

    def send_ackepoch(self, ctx):
        ctx.send(self.leader, "ACKEPOCH", epoch=self.epoch, currentEpoch=self.disk["currentEpoch"],
                 lastZxid=list(last_zxid(self.history)), history=list(self.history))

    def on_ackepoch(self, ctx, src, b):
        if self.state != LEADING or b["epoch"] != self.epoch:
            return
        self.heard.add(src)
        if self.phase == DISCOVERY:
            self.ackepoch[src] = (b["currentEpoch"], tuple(b["lastZxid"]), b["history"])
            if len(self.ackepoch) >= self.q:
                self.establish(ctx)
        else:      # a late joiner (or a repeat): synchronize it with my history as it is now
            ctx.send(src, "NEWLEADER", epoch=self.epoch, history=list(self.history))

    def establish(self, ctx):
        """The quorum's most recent history, by (currentEpoch, lastZxid), becomes the epoch's initial history."""
        best = max(self.ackepoch, key=lambda n: (self.ackepoch[n][0], self.ackepoch[n][1], n == self.id))
        if self.bug_own_history:
            best = self.id      # BUG: keep my own history, whatever the quorum holds
        cur, z, hist = self.ackepoch[best]
        old = self.history
        same = 0
        while same < min(len(old), len(hist)) and old[same] == hist[same]:
            same += 1
        new = [list(e) for e in hist]
        ctx.persist(currentEpoch=self.epoch, history=new)
        self.history = new
        if same < len(old) or len(new) > same:
            self.changed(ctx, same + 1)
        self.committed = min(self.committed, same)
        self.base = len(new)
        self.counter = 0
        self.phase = SYNC
        self.ackld = [self.id]
        self.acked = {}
        ctx.note("zab.adopt", source=best, epoch=self.epoch, zxid=ztext(z), cur=cur, count=len(self.ackepoch))
        for f in self.ackepoch:
            if f != self.id:
                ctx.send(f, "NEWLEADER", epoch=self.epoch, history=list(new))

    # ------------------------------------------------------------ phase 2: synchronization

    def on_newleader(self, ctx, src, b):
        e = b["epoch"]
        disk = self.disk
        if self.phase != DISCOVERY or e != self.epoch:
            if self.phase in (SYNC, BROADCAST) and e == self.epoch:
                self.send_ackld(ctx)        # a repeat: never truncate twice
            return
        if disk["acceptedEpoch"] != e and not self.bug_skip_epoch:
            ctx.note("zab.stale_refused", epoch=e, accepted=disk["acceptedEpoch"], leader=src)
            self.start_looking(ctx, None)
            return
        old = self.history
        hist = b["history"]
        same = 0
        while same < min(len(old), len(hist)) and old[same] == hist[same]:
            same += 1
        new = [list(x) for x in hist]
        ctx.persist(currentEpoch=e, history=new)
        self.history = new
        if same < len(old):
            ctx.note("zab.truncate", count=len(old) - same, first=ztext(old[same][0]), value=old[same][1],
                     epoch=e, leader=src)
        if same < len(old) or len(new) > same:
            self.changed(ctx, same + 1)
        self.committed = min(self.committed, same)
        self.phase = SYNC
        ctx.note("zab.synced", epoch=e, leader=src, entries=len(new))
        self.send_ackld(ctx)

    def send_ackld(self, ctx):
        ctx.send(self.leader, "ACKLD", epoch=self.epoch, zxid=list(last_zxid(self.history)))

    def on_ackld(self, ctx, src, b):
        if self.state != LEADING or b["epoch"] != self.epoch or self.phase == DISCOVERY:
            return
        self.heard.add(src)
        idx = self.index_of(b["zxid"])
        self.acked[src] = max(self.acked.get(src, 0), idx)
        if self.phase == SYNC:
            if src not in self.ackld:
                self.ackld.append(src)
            if len(self.ackld) >= self.q:
                self.phase = BROADCAST
                self.followers = [f for f in self.ackld if f != self.id]
                self.deliver(ctx, self.base)
                ctx.note("zab.established", epoch=self.epoch, count=len(self.ackld), entries=self.base)
                z = list(last_zxid(self.history[:self.committed]))
                for f in self.followers:
                    ctx.send(f, "COMMITLD", epoch=self.epoch, zxid=z)
                ctx.set_timer("sync", self.sync_limit)
                self.heard = set()
        else:
            if src not in self.followers:
                self.followers.append(src)
                ctx.note("zab.joined_broadcast", node=src, epoch=self.epoch)
            ctx.send(src, "COMMITLD", epoch=self.epoch, zxid=list(last_zxid(self.history[:self.committed])))
            self.try_commit(ctx)

    def on_commitld(self, ctx, src, b):
        if b["epoch"] != self.epoch or self.phase not in (SYNC, BROADCAST):
            return
        if self.phase == SYNC:
            self.phase = BROADCAST
            ctx.note("zab.follower_broadcast", epoch=self.epoch, leader=src)
        self.commit_upto(ctx, b["zxid"])

    def commit_upto(self, ctx, zxid):
        """Commit my next pending entries, in order, while their zxid is at most `zxid`."""
        z = tuple(zxid)
        h = self.history
        i = self.committed
        while i < len(h) and tuple(h[i][0]) <= z:
            i += 1
        if i > self.committed:
            self.deliver(ctx, i)

    # ------------------------------------------------------------ phase 3: broadcast

    def on_request(self, ctx, op, arg):
        if op != "write":
            return
        if self.state != LEADING:
            ctx.note("zab.not_leader", leader=self.leader or "?")
            ctx.reply(op, {"ok": False, "leader": self.leader})
            return
        if self.phase != BROADCAST:
            ctx.note("zab.not_ready", phase=self.phase)
            ctx.reply(op, {"ok": False, "error": "not in broadcast"})
            return
        value = arg or "x=1"
        prev = list(last_zxid(self.history))
        self.counter += 1
        z = [self.epoch, self.counter]
        self.history.append([z, value])           # on disk before the PROPOSE leaves
        idx = len(self.history)
        self.changed(ctx, idx)
        ctx.observe("proposed", zxid=z, value=value)
        self.pending[idx] = op
        ctx.note("zab.propose", zxid=ztext(z), value=value, epoch=self.epoch)
        for f in self.followers:
            ctx.send(f, "PROPOSE", epoch=self.epoch, zxid=z, prev=prev, value=value)

    def on_propose(self, ctx, src, b):
        if self.phase not in (SYNC, BROADCAST):
            return
        if b["epoch"] != self.disk["currentEpoch"]:
            return
        h = self.history
        last = last_zxid(h)
        if tuple(b["prev"]) == last:
            h.append([list(b["zxid"]), b["value"]])
            self.changed(ctx, len(h))
            ctx.send(src, "ACK", epoch=b["epoch"], zxid=list(b["zxid"]))
        elif tuple(b["zxid"]) <= last:
            ctx.send(src, "ACK", epoch=b["epoch"], zxid=list(last))

    def on_ack(self, ctx, src, b):
        if self.state != LEADING or b["epoch"] != self.epoch or self.phase != BROADCAST:
            return
        self.heard.add(src)
        if src not in self.followers:
            return
        idx = self.index_of(b["zxid"])
        if idx > self.acked.get(src, 0):
            self.acked[src] = idx
            self.try_commit(ctx)

    def try_commit(self, ctx):
        """Commit in zxid order while a quorum (me included) holds the next entry."""
        old = self.committed
        n = self.committed
        while n < len(self.history) and 1 + sum(1 for f in self.followers if self.acked.get(f, 0) > n) >= self.q:
            n += 1
        if n == old:
            return
        for i in range(old, n):
            z = self.history[i][0]
            ctx.note("zab.commit", zxid=ztext(z), value=self.history[i][1], epoch=self.epoch)
            for f in self.followers:
                ctx.send(f, "COMMIT", epoch=self.epoch, zxid=list(z))
        self.deliver(ctx, n)

    def on_commit(self, ctx, src, b):
        if self.phase != BROADCAST or b["epoch"] != self.disk["currentEpoch"]:
            return
        h = self.history
        i = self.committed
        if i < len(h) and tuple(h[i][0]) == tuple(b["zxid"]):
            self.deliver(ctx, i + 1)

    def on_ping(self, ctx, src, b):
        if self.state == LEADING:
            if b["epoch"] == self.epoch and self.phase == BROADCAST:
                self.heard.add(src)
                if src in self.followers:
                    idx = self.index_of(b["zxid"])
                    if idx > self.acked.get(src, 0):
                        self.acked[src] = idx
                        self.try_commit(ctx)
        elif self.phase == BROADCAST and b["epoch"] == self.disk["currentEpoch"]:
            self.commit_upto(ctx, b["zxid"])

    # ------------------------------------------------------------ dispatch and timers

    def on_message(self, ctx, msg):
        kind = msg.kind
        src = msg.src
        b = msg.body
        if kind == "Vote":
            self.on_vote(ctx, src, b)
            return
        if self.state == FOLLOWING:
            if src != self.leader:
                return
            ctx.set_timer("sync", (self.sync_limit if self.phase == BROADCAST else 2 * self.sync_limit))
            handler = FOLLOWER_HANDLERS.get(kind)
        elif self.state == LEADING:
            handler = LEADER_HANDLERS.get(kind)
        else:
            return
        if handler is not None:
            handler(self, ctx, src, b)

    def on_timer(self, ctx, name):
        if name == "election":
            if self.state != LOOKING:
                return
            if self.finalizing and sum(1 for v in self.recv.values() if v == self.vote) >= self.q:
                self.decide(ctx)
            else:
                self.finalizing = False
                for p in self.peers:
                    self.send_vote(ctx, p)
                ctx.set_timer("election", 4 * self.tick)
        elif name == "tick":
            if self.state == LEADING:
                self.leader_tick(ctx)
            elif self.state == FOLLOWING:
                self.follower_tick(ctx)
            else:
                return
            ctx.set_timer("tick", self.tick)
        elif name == "sync":
            if self.state == FOLLOWING:
                ctx.note("zab.leader_lost", leader=self.leader, phase=self.phase)
                self.start_looking(ctx, "follower")
            elif self.state == LEADING:
                if self.phase != BROADCAST:
                    self.start_looking(ctx, "leader")
                elif len(self.heard & set(self.followers)) + 1 < self.q:
                    ctx.note("zab.lost_quorum", epoch=self.epoch, heard=len(self.heard & set(self.followers)) + 1)
                    self.start_looking(ctx, "leader")
                else:
                    self.heard = set()
                    ctx.set_timer("sync", self.sync_limit)

    def leader_tick(self, ctx):
        if self.phase != BROADCAST:
            return
        h = self.history
        cz = list(last_zxid(h[:self.committed]))
        for f in self.followers:
            ctx.send(f, "PING", epoch=self.epoch, zxid=cz)
            a = self.acked.get(f, 0)
            for i in range(a, min(len(h), a + RESEND)):
                prev = list(h[i - 1][0]) if i > 0 else [0, 0]
                ctx.send(f, "PROPOSE", epoch=self.epoch, zxid=list(h[i][0]), prev=prev, value=h[i][1])

    def follower_tick(self, ctx):
        if self.phase == DISCOVERY:
            if self.epoch is None:
                ctx.send(self.leader, "CEPOCH", acceptedEpoch=self.disk["acceptedEpoch"])
            else:
                self.send_ackepoch(ctx)
        elif self.phase == SYNC:
            self.send_ackld(ctx)
        else:
            ctx.send(self.leader, "PING", epoch=self.epoch, zxid=list(last_zxid(self.history)))

    # ------------------------------------------------------------ view

    def view(self):
        hv = self._hist_view
        if hv is None:
            h = self.history
            start = max(0, len(h) - LOG_VIEW)
            hv = self._hist_view = ([entry_text(e) for e in h[start:]], start + 1)
        disk = self.disk
        z = ztext(last_zxid(self.history))
        v = {"role": self.state, "phase": self.phase, "round": self.round, "leader": self.leader,
             "acceptedEpoch": disk["acceptedEpoch"], "currentEpoch": disk["currentEpoch"],
             "history": hv[0], "logStart": hv[1], "lastCommitted": self.committed, "lastZxid": z}
        if self.state == LOOKING:
            v["vote"] = f"{self.vote[0]} ({ztext(self.vote[1])}, {self.vote[2]})"
            v["label"] = ["zab.label.looking", {"round": self.round, "vote": self.vote[0], "zxid": z}]
        else:
            epoch = self.epoch if self.epoch is not None else "?"
            v["label"] = ["zab.label", {"state": STATE_NAME[self.state], "phase": self.phase, "epoch": epoch,
                                        "zxid": z}]
            if self.state == LEADING:
                if self.phase == DISCOVERY:
                    v["responses"] = sorted(self.ackepoch if self.epoch is not None else self.cepoch)
                elif self.phase == SYNC:
                    v["responses"] = sorted(self.ackld)
                else:
                    v["responses"] = dict(sorted(self.acked.items()))
        return v

    def observe(self):
        """The checker's vocabulary (kit.log_safety): role ("established" once a leader adopted its epoch's
        history), term (the leader's epoch, else currentEpoch), log (the history), last_applied."""
        est = self.state == LEADING and self.phase in (SYNC, BROADCAST)
        return {"role": ESTABLISHED if est else self.state,
                "term": self.epoch if est else self.disk["currentEpoch"],
                "log": self.history, "last_applied": self.committed, "phase": self.phase,
                "leader": self.leader}


FOLLOWER_HANDLERS = {
    "NEWEPOCH": ZabServer.on_newepoch,
    "NEWLEADER": ZabServer.on_newleader,
    "COMMITLD": ZabServer.on_commitld,
    "PROPOSE": ZabServer.on_propose,
    "COMMIT": ZabServer.on_commit,
    "PING": ZabServer.on_ping,
}
LEADER_HANDLERS = {
    "CEPOCH": ZabServer.on_cepoch,
    "ACKEPOCH": ZabServer.on_ackepoch,
    "ACKLD": ZabServer.on_ackld,
    "ACK": ZabServer.on_ack,
    "PING": ZabServer.on_ping,
}
