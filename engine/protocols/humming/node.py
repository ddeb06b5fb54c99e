"""HummingNode: one chain member running Machi's chain manager (Humming Consensus).

Read it beside "Machi: an immutable file store" / the high-level chain-manager
design (basho/machi, doc/high-level-chain-mgr): the iteration steps are named
after the document's labels (A20, A30, A40, B10, C100, C103, C200, C300).

A projection is a dict
    {epoch, csum, author, members, upi, rep, down, mode}
(`rep` is the design's "repairing" list). Its identity is (epoch, csum): two
islands may both write epoch 42; the checksum tells them apart.

Every member keeps a projection store on its disk: write-once registers keyed
by epoch, one "public" store (anyone may write) and one "private" store (only
the owner writes). Writing a written key answers ErrorWritten and the register
keeps its first value. The chain manager talks to its peers *only* through
these stores:

    ReadLatest    {iter}                       read a store's newest public register
    Latest        {iter, proj, good}           its value (None if empty) and the owner's
                                               newest non-none private projection
    Write         {proj}                       write a public register
    Written       {epoch}                      ... done
    ErrorWritten  {epoch, proj}                ... already written: here is its value

The failure detector is that conversation: a peer is "up" iff its store
answered this iteration before the read timeout.

Data, so that "data loss" means something (a minimal model): a client's
`append` at the UPI head makes a write "<node><n>"; it travels the chain
upi ++ rep (Append, each member checks the epoch id matches its own), and the
last member acknowledges it (Ack to the head; the checker is told "acked").
Repair is modelled as the UPI tail copying its writes to a repairing node
(RepairCopy / RepairDone) and then waiting repair_ms before it may promote it.

What is durable: both stores ("pub", "priv"), the writes ("data") and the
write counter. Everything else (the iteration, the answers, repair progress,
the churn history) is volatile and rebuilt empty after a restart.
"""

from __future__ import annotations

import hashlib
import json

from ...protocol import Node

HEAD, MIDDLE, TAIL, REPAIRING, OUTSIDE, WEDGED = "head", "middle", "tail", "repairing", "outside", "wedged"
SHOWN = 4          # registers shown per store in the view
CHURN_WINDOW = 8   # B10: the last 8 adopted (upi, rep) identical -> C103
PAUSE_ROUNDS = 4   # C103: intervals the churn breaker sleeps


def checksum(fields: dict) -> str:
    """A short deterministic checksum of a projection's other fields."""
    text = json.dumps({k: fields[k] for k in sorted(fields) if k != "csum"}, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def make_projection(epoch, author, members, upi, rep, mode) -> dict:
    down = [m for m in members if m not in upi and m not in rep]
    p = {"epoch": epoch, "author": author, "members": list(members), "upi": list(upi), "rep": list(rep),
         "down": down, "mode": mode}
    p["csum"] = checksum(p)
    return p


def pid(p):
    """A projection's identity: (epoch, csum)."""
    return None if p is None else (p["epoch"], p["csum"])


def rank(p) -> int:
    """-99 for the none projection (empty UPI); else N*|rep| + N^3*|upi|, N = chain length + 1."""
    if not p["upi"]:
        return -99
    n = len(p["members"]) + 1
    return n * len(p["rep"]) + n ** 3 * len(p["upi"])


def chain_text(p) -> str:
    return "→".join(p["upi"])


def _kept_in_order(old: list, new: list) -> bool:
    common_old = [x for x in old if x in new]
    common_new = [x for x in new if x in old]
    return common_old == common_new


def insane_reason(prev, new, me) -> str | None:
    """Why the transition prev -> new is not sane for node `me` (None: it is sane).

    The design's rules: the epoch increases; UPI and repairing are disjoint and hold no
    duplicates; the UPI's order is preserved (the repairing list's is not checked: here
    repairing nodes are repaired in parallel, so its order means nothing); a node joins the UPI only at its tail and only
    from the previous repairing list; in CP mode the old and new UPI overlap. From or to
    the none projection only the first two rules apply. AP island merge (the old and new
    UPI share nobody): the join rule is waived for a node that is itself not in the new
    UPI (it will be repaired), a choice documented in the package docstring."""
    if prev is not None and new["epoch"] <= prev["epoch"]:
        return "epoch"
    upi, rep = new["upi"], new["rep"]
    if len(set(upi)) != len(upi) or len(set(rep)) != len(rep) or set(upi) & set(rep):
        return "lists"
    if prev is None or not prev["upi"] or not upi:
        return None
    if not _kept_in_order(prev["upi"], upi):
        return "order"
    overlap = [x for x in upi if x in prev["upi"]]
    if new["mode"] == "cp" and not overlap:
        return "overlap"
    if not overlap and me not in upi:
        return None                     # AP island merge
    joined = [x for x in upi if x not in prev["upi"]]
    if any(x not in prev["rep"] for x in joined) or upi[:len(overlap)] != overlap:
        return "join"
    if joined != [x for x in prev["rep"] if x in joined]:
        return "join"
    return None


class HummingNode(Node):
    role = OUTSIDE

    def __init__(self, node_id, node_ids, params, bugs, disk):
        super().__init__(node_id, node_ids, params, bugs, disk)
        self.mode = params["mode"]
        self.stagger = params["stagger"] != "none"
        self.bug_promote_early = "promote_early" in bugs
        self.bug_no_sanity = "no_sanity" in bugs
        self.bug_overwrite = "overwrite" in bugs
        self._reset()

    def _reset(self):
        self.iter = 0
        self.answers = None          # node -> (public latest, newest non-none private) this iteration
        self.retries = 0
        self.recent = []             # last adopted (upi, rep), for the churn breaker
        self.pause_until = 0
        self.repair = {}             # (tail) repairing node -> {"start", "copied"}
        self.copied = set()          # epochs whose ErrorWritten value this node already spread
        self.breakers = 0

    # ------------------------------------------------------------ disk
    def on_start(self, ctx):
        ctx.persist(pub={}, priv={}, data=[], wseq=0, adopted=0)
        self._first_tick(ctx)

    def on_recover(self, ctx):
        self._reset()
        self._first_tick(ctx)

    def _first_tick(self, ctx):
        interval = self.params["interval"]
        ctx.set_timer("tick", ctx.rng.randint(1, interval) if self.stagger else interval)

    @staticmethod
    def _newest(store):
        return store[max(store, key=int)] if store else None

    @property
    def current(self):
        return self._newest(self.disk["priv"])

    def last_good(self):
        priv = self.disk["priv"]
        for k in sorted(priv, key=int, reverse=True):
            if priv[k]["upi"]:
                return priv[k]
        return None

    def store_write(self, ctx, proj):
        """Write a public register of my store; returns the register's value afterwards."""
        key = str(proj["epoch"])
        pub = self.disk["pub"]
        old = pub.get(key)
        if old is not None and (old["csum"] == proj["csum"] or not self.bug_overwrite):
            return old
        pub[key] = proj                          # in-place: durable at once
        ctx.observe("register", store=self.id, kind="public", epoch=proj["epoch"], csum=proj["csum"],
                    prev=None if old is None else old["csum"])
        if old is not None:
            ctx.note("humming.overwrite", node=self.id, epoch=proj["epoch"], old=old["csum"], new=proj["csum"])
        return proj

    def adopt(self, ctx, proj):
        """C100's last step: write my private register and use the projection."""
        key = str(proj["epoch"])
        priv = self.disk["priv"]
        if key in priv:
            return False
        priv[key] = proj
        ctx.persist(adopted=self.disk["adopted"] + 1)
        ctx.observe("register", store=self.id, kind="private", epoch=proj["epoch"], csum=proj["csum"], prev=None)
        ctx.observe("adopt", proj=proj)
        self.recent = (self.recent + [(tuple(proj["upi"]), tuple(proj["rep"]))])[-CHURN_WINDOW:]
        self.retries = 0
        if proj["upi"]:
            if proj["rep"]:
                ctx.note("humming.adopt.rep", epoch=proj["epoch"], upi=chain_text(proj), rep=",".join(proj["rep"]))
            else:
                ctx.note("humming.adopt", epoch=proj["epoch"], upi=chain_text(proj))
        else:
            ctx.note("humming.wedged", epoch=proj["epoch"])
        self.repair = {m: r for m, r in self.repair.items() if m in proj["rep"]}
        return True

    # ------------------------------------------------------------ messages
    def on_message(self, ctx, msg):
        if self.params["one_way"] == "a_to_b" and self.id == "b" and msg.src == "a":
            return                       # the asymmetric fault: b never hears from a
        getattr(self, "on_" + msg.kind)(ctx, msg)

    def on_ReadLatest(self, ctx, msg):
        ctx.send(msg.src, "Latest", iter=msg.body["iter"], proj=self._newest(self.disk["pub"]),
                 good=self.last_good())

    def on_Latest(self, ctx, msg):
        b = msg.body
        if self.answers is None or b["iter"] != self.iter:
            return
        self.answers[msg.src] = (b["proj"], b["good"])
        if len(self.answers) == len(self.node_ids):
            ctx.cancel_timer("decide")
            self.decide(ctx)

    def on_Write(self, ctx, msg):
        proj = msg.body["proj"]
        held = self.store_write(ctx, proj)
        if held["csum"] == proj["csum"]:
            ctx.send(msg.src, "Written", epoch=proj["epoch"])
        else:
            ctx.send(msg.src, "ErrorWritten", epoch=proj["epoch"], proj=held)

    def on_Written(self, ctx, msg):
        pass

    def on_ErrorWritten(self, ctx, msg):
        """C300: someone else's projection holds this epoch: copy it everywhere."""
        proj = msg.body["proj"]
        if proj["epoch"] in self.copied:
            return
        self.copied.add(proj["epoch"])
        ctx.note("humming.error_written", store=msg.src, epoch=proj["epoch"], csum=proj["csum"],
                 author=proj["author"])
        self.spread(ctx, proj)

    def spread(self, ctx, proj):
        self.store_write(ctx, proj)
        for p in self.peers:
            ctx.send(p, "Write", proj=proj)

    # ------------------------------------------------------------ data
    def on_request(self, ctx, op, arg):
        cur = self.current
        if op != "append":
            return
        if cur is None or not cur["upi"]:
            ctx.reply("append", "wedged")
            return
        if cur["upi"][0] != self.id:
            ctx.reply("append", "not_head")
            return
        w = f"{self.id}{self.disk['wseq'] + 1}"
        ctx.persist(wseq=self.disk["wseq"] + 1, data=self.disk["data"] + [w])
        self._pass_on(ctx, w, cur, 0)

    def _pass_on(self, ctx, w, cur, i):
        chain = cur["upi"] + cur["rep"]
        if i == len(chain) - 1:
            ctx.observe("acked", w=w, epoch=cur["epoch"], csum=cur["csum"], upi=cur["upi"])
            ctx.note("humming.acked", w=w, epoch=cur["epoch"])
            if chain[0] == self.id:
                ctx.reply("append", w)
            else:
                ctx.send(chain[0], "Ack", w=w, epoch=cur["epoch"])
        else:
            ctx.send(chain[i + 1], "Append", w=w, epoch=cur["epoch"], csum=cur["csum"], i=i + 1)

    def on_Append(self, ctx, msg):
        b = msg.body
        cur = self.current
        if pid(cur) != (b["epoch"], b["csum"]):
            ctx.note("humming.append_refused", w=b["w"], epoch=b["epoch"])
            return                          # wrong epoch: a wedged member drops the write
        if b["w"] not in self.disk["data"]:
            ctx.persist(data=self.disk["data"] + [b["w"]])
        self._pass_on(ctx, b["w"], cur, b["i"])

    def on_Ack(self, ctx, msg):
        ctx.reply("append", msg.body["w"])

    def on_RepairCopy(self, ctx, msg):
        b = msg.body
        cur = self.current
        if pid(cur) != (b["epoch"], b["csum"]) or self.id not in cur["rep"]:
            return
        have = set(self.disk["data"])
        ctx.persist(data=self.disk["data"] + [w for w in b["data"] if w not in have])
        ctx.send(msg.src, "RepairDone", epoch=b["epoch"])

    def on_RepairDone(self, ctx, msg):
        r = self.repair.get(msg.src)
        if r is not None:
            r["copied"] = True

    def _tend_repairs(self, ctx):
        """As the UPI tail, start repairing every node in my repairing list."""
        cur = self.current
        if cur is None or not cur["upi"] or cur["upi"][-1] != self.id:
            self.repair = {}
            return
        for m in cur["rep"]:
            if m not in self.repair:
                self.repair[m] = {"start": ctx.now, "copied": False}
                ctx.note("humming.repair_start", node=m)
            if not self.repair[m]["copied"] and not self.bug_promote_early:      # (again) until the node answers under my epoch
                ctx.send(m, "RepairCopy", epoch=cur["epoch"], csum=cur["csum"], data=self.disk["data"])

    def repaired(self, m, now) -> bool:
        if self.bug_promote_early:
            return True
        r = self.repair.get(m)
        return r is not None and r["copied"] and now - r["start"] >= self.params["repair_ms"]

    # ------------------------------------------------------------ the iteration
    def on_timer(self, ctx, name):
        if name == "tick":
            self.start_iteration(ctx)
        elif name == "decide":
            self.decide(ctx)

    def _next(self, ctx, ms):
        if self.stagger:
            ms = ms // 2 + ctx.rng.randint(0, ms)
        ctx.set_timer("tick", max(1, ms))

    def start_iteration(self, ctx):
        """A20: read the latest public projection of every member."""
        if ctx.now < self.pause_until:
            ctx.set_timer("tick", self.pause_until - ctx.now)
            return
        self._tend_repairs(ctx)
        self.iter += 1
        self.answers = {self.id: (self._newest(self.disk["pub"]), self.last_good())}
        for p in self.peers:
            ctx.send(p, "ReadLatest", iter=self.iter)
        ctx.set_timer("decide", self.params["read_timeout"])

    def majority(self) -> int:
        return len(self.node_ids) // 2 + 1

    def calc(self, ctx, base, up, epoch):
        """A30: P_newprop from base (P_latest, or my current after an insane transition)."""
        members, me = self.node_ids, self.id
        if self.mode == "cp" and len(up) < self.majority():
            return make_projection(epoch, me, members, [], [], self.mode)
        if base is None or not base["upi"]:
            # Restart from none: the newest non-none projection any responder adopted
            # (CP: only when every member answers); a fresh chain starts with [me].
            if self.mode == "cp" and len(up) < len(members):
                return make_projection(epoch, me, members, [], [], self.mode)
            goods = [g for _, g in self.answers.values() if g]
            if goods:
                g = max(goods, key=lambda p: (p["epoch"], rank(p), p["csum"]))
                upi = [m for m in g["upi"] if m in up]
                rep = [m for m in g["rep"] if m in up]
                if not upi and self.mode == "ap":
                    upi = [me]
                    rep = [m for m in rep if m != me]
            else:
                upi, rep = [me], []
        else:
            upi = [m for m in base["upi"] if m in up]
            rep = [m for m in base["rep"] if m in up]
        if not upi:
            return make_projection(epoch, me, members, [], [], self.mode)
        rep += [m for m in up if m not in upi and m not in rep]
        if upi[-1] == me and pid(base) == pid(self.current):
            done = [m for m in rep if self.repaired(m, ctx.now)]
            if done:
                upi += done
                rep = [m for m in rep if m not in done]
        return make_projection(epoch, me, members, upi, rep, self.mode)

    def reconcile(self, ctx, cur, latest, up, epoch):
        """After an insane P_latest: a proposal that is a sane step from both my projection
        and P_latest. The UPI keeps the members both agree on, in an order both agree on;
        repairing likewise; a node whose place conflicts is left out this round (it comes
        back as newly up)."""
        if not cur["upi"]:
            return self.calc(ctx, latest, up, epoch)

        def agreeing(candidates, a, b, taken):
            out = []
            for m in candidates:
                if m in up and m not in out and m not in taken and \
                        _kept_in_order(a, out + [m]) and _kept_in_order(b, out + [m]):
                    out.append(m)
            return out
        upi = [m for m in agreeing(cur["upi"], cur["upi"], latest["upi"], ()) if m in latest["upi"]]
        if not upi:
            upi = agreeing(cur["upi"], cur["upi"], latest["upi"], ())[:1]
        rest = cur["rep"] + latest["rep"] + cur["upi"] + latest["upi"]
        rep = agreeing(rest, [], [], upi)
        return make_projection(epoch, self.id, self.node_ids, upi, rep, self.mode)

    def decide(self, ctx):
        """A30..C300: the rest of one iteration, on the answers gathered."""
        answers = self.answers
        if answers is None:
            return
        up = [m for m in self.node_ids if m in answers]
        projs = [p for p, _ in answers.values() if p]
        cur = self.current
        interval, short = self.params["interval"], self.params["read_timeout"]
        if not projs:
            new = self.calc(ctx, None, up, 1)
            self.answers = None
            self.c300(ctx, new)
            self._next(ctx, 2 * short)
            return
        top = max(p["epoch"] for p in projs)
        latest = max((p for p in projs if p["epoch"] == top), key=lambda p: (rank(p), p["csum"]))
        for n, (p, _) in answers.items():               # read-repair
            if p is None or p["epoch"] < top:
                if n == self.id:
                    self.store_write(ctx, latest)
                else:
                    ctx.send(n, "Write", proj=latest)
        unanimous = (all(pid(p) == pid(latest) for p, _ in answers.values())
                     and all(m in answers for m in latest["upi"] + latest["rep"]))
        new = self.calc(ctx, latest, up, top + 1)
        self.answers = None
        # A40
        if cur is None or pid(latest) != pid(cur) or not unanimous:
            self.b10(ctx, latest, new, unanimous, up, top)
            return
        broken = [m for m in latest["upi"] + latest["rep"] if m not in up]
        if rank(new) > rank(latest) or latest["author"] not in up or broken:
            self.c300(ctx, new)
            self._next(ctx, 2 * short)
            return
        self.retries = 0
        self._next(ctx, interval)

    def b10(self, ctx, latest, new, unanimous, up, top):
        short = self.params["read_timeout"]
        relevant = not latest["upi"] or self.id in latest["upi"] + latest["rep"]
        if len(self.recent) == CHURN_WINDOW and len(set(self.recent)) == 1:
            # C103: the churn breaker
            self.recent = []
            self.breakers += 1
            none = make_projection(top + 1, self.id, self.node_ids, [], [], self.mode)
            ctx.note("humming.breaker", epoch=none["epoch"])
            self.c300(ctx, none)
            self.pause_until = ctx.now + PAUSE_ROUNDS * self.params["interval"]
            ctx.set_timer("tick", PAUSE_ROUNDS * self.params["interval"])
            return
        if unanimous and relevant:
            self.c100(ctx, latest, up, top)
            return
        self.retries += 1
        if self.retries > 2:
            self.c300(ctx, new)
            self._next(ctx, 2 * short)
            return
        if rank(latest) >= rank(new) and latest["author"] != self.id:
            ctx.note("humming.wait", author=latest["author"], epoch=latest["epoch"])   # C200
            self._next(ctx, 2 * short)
            return
        self.c300(ctx, new)
        self._next(ctx, 2 * short)

    def c100(self, ctx, latest, up, top):
        cur = self.current
        why = None if cur is None else insane_reason(cur, latest, self.id)
        if why is None or (self.bug_no_sanity and why != "epoch"):
            self.adopt(ctx, latest)
            self._tend_repairs(ctx)
            self._next(ctx, self.params["interval"])
            return
        # Not sane for me: propose from my own projection instead.
        ctx.note("humming.insane", epoch=latest["epoch"], author=latest["author"], why=why)
        self.retries += 1
        self.c300(ctx, self.reconcile(ctx, cur, latest, up, top + 1))
        self._next(ctx, 2 * self.params["read_timeout"])

    def c300(self, ctx, new):
        """Write P_newprop to every public store."""
        if new["upi"] and new["rep"]:
            ctx.note("humming.propose.rep", epoch=new["epoch"], upi=chain_text(new), rep=",".join(new["rep"]))
        elif new["upi"]:
            ctx.note("humming.propose", epoch=new["epoch"], upi=chain_text(new))
        else:
            ctx.note("humming.propose.none", epoch=new["epoch"])
        held = self.store_write(ctx, new)
        if held["csum"] != new["csum"] and held["epoch"] not in self.copied:
            self.copied.add(held["epoch"])
            self.spread(ctx, held)
            return
        for p in self.peers:
            ctx.send(p, "Write", proj=new)

    # ------------------------------------------------------------ what people see
    def _role(self, cur):
        if cur is None:
            return OUTSIDE
        if not cur["upi"]:
            return WEDGED
        if self.id in cur["rep"]:
            return REPAIRING
        if self.id not in cur["upi"]:
            return OUTSIDE
        if cur["upi"][0] == self.id:
            return HEAD
        return TAIL if cur["upi"][-1] == self.id else MIDDLE

    def _registers(self, store):
        keys = sorted(store, key=int)[-SHOWN:]
        return {k: f"{store[k]['csum']}/{store[k]['author']}" for k in keys}

    def view(self):
        cur = self.current
        data = self.disk["data"]
        v = {
            "role": self._role(cur),
            "epoch": None if cur is None else cur["epoch"],
            "csum": None if cur is None else cur["csum"],
            "upi": [] if cur is None else list(cur["upi"]),
            "rep": [] if cur is None else list(cur["rep"]),
            "public": self._registers(self.disk["pub"]),
            "private": self._registers(self.disk["priv"]),
            "adopted": self.disk["adopted"],
            "breakers": self.breakers,
            "writes": len(data),
            "data": data[-6:],
        }
        if cur is None:
            v["label"] = ["humming.label.fresh", {}]
        elif not cur["upi"]:
            v["label"] = ["humming.label.none", {"epoch": cur["epoch"]}]
        elif cur["rep"]:
            v["label"] = ["humming.label.rep", {"epoch": cur["epoch"], "upi": chain_text(cur),
                                                "rep": ",".join(cur["rep"])}]
        else:
            v["label"] = ["humming.label", {"epoch": cur["epoch"], "upi": chain_text(cur)}]
        return v
