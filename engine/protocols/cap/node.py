"""CAP and BASE: the replicas of one register and the two clients that use it.

Read it beside the package docstring, which states the rules.

  client   write v / read --Request--> its replica; waits for the Reply (ok, refused or
           unknown) or gives up after client_timeout
  replica  CP (ABD): Query a majority for the highest tag; Store a tag at a majority;
           no majority within quorum_timeout: refuse (or, once a write's Store is out,
           "unknown": it may still stick)
           AP: write and read locally at once; every gossip_interval send (tag, value) to
           the next peer in turn; the higher tag wins (last writer wins)

A tag is [ts, writer]: ts a counter, writer the tie-breaker. CP: the writer is the
operation ("c1.3"), so every write has its own tag. AP: the writer is the replica
that took the write and ts its Lamport clock. [0, ""] is the initial tag (no value).
Everything a message depends on is on the disk before it leaves (persist before send).
"""

from __future__ import annotations

from ...kit.deadlines import Deadlines
from ...kit.quorum import Tally, majority
from ...protocol import Node

REPLICA, CLIENT = "replica", "client"
CLIENTS = ("c1", "c2")
NO_TAG = [0, ""]
# What a client says when its replica does not say ok.
NOT_OK = {("write", "refused"): "cap.write_refused", ("read", "refused"): "cap.read_refused",
          ("write", "unknown"): "cap.write_unknown"}
RECENT_READS = 8       # reads an AP replica remembers serving, to find out later which were stale


def replica_ids(node_ids) -> list[str]:
    return [n for n in node_ids if n not in CLIENTS]


def home(client: str, node_ids) -> str:
    """The replica a client talks to: c1 the first, c2 the last (so a partition can cut
    c2 off with a minority)."""
    reps = replica_ids(node_ids)
    return reps[0] if client == CLIENTS[0] else reps[-1]


def ts_text(tag) -> str:
    """A tag as people read it: "2·r1" (ts 2, written by r1); "0" before any write."""
    return "0" if not tag or tag[0] == 0 else f"{tag[0]}·{tag[1]}"


def shown(value) -> str:
    return "∅" if value is None else str(value)


def newer(a, b) -> bool:
    """Is tag a above tag b? (ts first, then the writer as a tie-breaker)."""
    return (a[0], a[1]) > (b[0], b[1])


# ---------------------------------------------------------------- client

class Client(Node):
    """A client: one operation at a time, sent to its replica. Durable: its next
    operation number (an operation id is never reused) and its tallies."""

    role = CLIENT

    def __init__(self, *args):
        super().__init__(*args)
        self.replica = home(self.id, self.node_ids)
        self.waiting: dict | None = None     # {"op", "n", "kind", "value"}

    def on_request(self, ctx, op, arg):
        if op not in ("write", "read"):
            return
        if self.waiting is not None:
            ctx.note("cap.busy", client=self.id, op=self.waiting["op"])
            return
        n = self.disk.get("next_op", 1)
        ctx.persist(next_op=n + 1)
        opid = f"{self.id}.{n}"
        value = (arg or "x1") if op == "write" else None
        self.waiting = {"op": opid, "n": n, "kind": op, "value": value}
        ctx.observe("invoke", op=opid, client=self.id, kind=op, value=value, at=ctx.now)
        if op == "write":
            ctx.note("cap.send_write", client=self.id, value=value, replica=self.replica, op=opid)
        else:
            ctx.note("cap.send_read", client=self.id, replica=self.replica, op=opid)
        ctx.send(self.replica, "Request", op=opid, n=n, does=op, value=value)
        ctx.set_timer("timeout", self.params["client_timeout"])

    def on_message(self, ctx, msg):
        b = msg.body
        if msg.kind != "Reply" or self.waiting is None or b["op"] != self.waiting["op"]:
            return          # an answer to an operation this client already gave up on
        ctx.cancel_timer("timeout")
        w, outcome = self.waiting, b["outcome"]
        self.waiting = None
        ctx.observe("response", op=w["op"], outcome=outcome, tag=b.get("tag"), at=ctx.now)
        args = {"client": self.id, "replica": msg.src}
        if outcome == "ok":
            ts = ts_text(b["tag"])
            if w["kind"] == "write":
                ctx.note("cap.write_ok", value=w["value"], ts=ts, **args)
            else:
                ctx.note("cap.read_ok", value=shown(b["value"]), ts=ts, **args)
            ctx.reply(w["kind"], {"outcome": "ok", "value": b["value"], "ts": ts})
        else:
            ctx.note(NOT_OK[w["kind"], outcome], **args)
            ctx.reply(w["kind"], {"outcome": outcome})
        self.count(ctx, outcome)

    def on_timer(self, ctx, name):
        if name != "timeout" or self.waiting is None:
            return
        w = self.waiting
        self.waiting = None
        # No answer: the operation may have happened or not (the checker keeps it pending).
        ctx.observe("timeout", op=w["op"])
        ctx.note("cap.gave_up", client=self.id, replica=self.replica, ms=self.params["client_timeout"])
        ctx.reply(w["kind"], {"outcome": "timeout"})
        self.count(ctx, "unknown")

    def count(self, ctx, outcome):
        tally = dict(self.disk.get("results", {}))
        key = "ok" if outcome == "ok" else "refused" if outcome == "refused" else "unknown"
        tally[key] = tally.get(key, 0) + 1
        ctx.persist(results=tally)

    def on_recover(self, ctx):
        """What it was waiting for is forgotten: that operation stays unanswered."""

    def view(self):
        r = self.disk.get("results", {})
        counts = {"ok": r.get("ok", 0), "refused": r.get("refused", 0), "unknown": r.get("unknown", 0)}
        w = self.waiting
        if w is None:
            label = ["cap.label.client", counts]
        elif w["kind"] == "write":
            label = ["cap.label.client.write", {"value": w["value"]}]
        else:
            label = ["cap.label.client.read", {}]
        return {"role": self.role, "label": label, "replica": self.replica, "next_op": self.disk.get("next_op", 1),
                "waiting": dict(w) if w else None, "results": counts}


# ---------------------------------------------------------------- replica

class Replica(Node):
    """A replica of the register. Durable: its tag and value; the highest operation
    number it took from each client (a repeated Request is not run twice); AP also its
    Lamport clock, what it knows of each replica's writes, its conflict and stale-read
    counts and its last few reads. Volatile: the operations it coordinates (CP)."""

    role = REPLICA

    def __init__(self, *args):
        super().__init__(*args)
        self.cp = self.params["mode"] == "cp"
        self.replicas = replica_ids(self.node_ids)
        self.others = [r for r in self.replicas if r != self.id]
        self.need = majority(len(self.replicas))
        self.ops: dict[str, dict] = {}       # CP: op id -> coordination in progress
        self.deadlines = Deadlines(("quorum",))
        self.turn = 0                         # AP: the next peer to gossip to, in turn

    # ------------------------------------------------------------ start

    def on_start(self, ctx):
        ctx.persist(tag=list(NO_TAG), value=None, seen={})
        if not self.cp:
            ctx.persist(clock=0, known={}, vv={}, acked=None, conflicts=0, stale=0, served=[])
            ctx.set_timer("gossip", self.params["gossip_interval"])

    def on_recover(self, ctx):
        """The stored copy is on disk; coordinations in progress are lost (their clients
        time out)."""
        ctx.note("cap.recover", replica=self.id, value=shown(self.disk["value"]), ts=ts_text(self.disk["tag"]))
        if not self.cp:
            ctx.set_timer("gossip", self.params["gossip_interval"])

    @property
    def tag(self):
        return self.disk["tag"]

    # ------------------------------------------------------------ dispatch

    def on_message(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_timer(self, ctx, name):
        if name == "gossip":
            self.gossip(ctx)
        elif name == "quorum":
            for opid in self.deadlines.take_due(ctx, "quorum"):
                self.quorum_missed(ctx, opid)
            self.deadlines.rearm(ctx, "quorum")

    def on_client_request(self, ctx, msg):
        b, client = msg.body, msg.src
        seen = self.disk["seen"]
        if b["n"] <= seen.get(client, 0):
            # A repeated (or overtaken) request: running it again could undo a later write.
            ctx.note("cap.duplicate", replica=self.id, op=b["op"])
            return
        ctx.persist(seen={**seen, client: b["n"]})
        if not self.cp and b["does"] == "write":
            self.ap_write(ctx, client, b)
        elif not self.cp:
            self.ap_read(ctx, client, b)
        elif b["does"] == "read" and "local_read" in self.bugs:
            # BUG local_read: answer from this replica alone, no quorum asked.
            ctx.note("cap.local_read", replica=self.id, client=client, value=shown(self.disk["value"]))
            self.answer(ctx, client, b["op"], "ok", self.tag, self.disk["value"])
        else:
            self.cp_begin(ctx, client, b)

    def answer(self, ctx, client, opid, outcome, tag=None, value=None):
        ctx.send(client, "Reply", op=opid, outcome=outcome, tag=tag, value=value)

    # ------------------------------------------------------------ CP: ABD

    def cp_begin(self, ctx, client, b):
        """Phase 1 of a read or a write: ask a majority (this replica counts) for its tag."""
        opid = b["op"]
        tally = Tally()
        tally.add(self.id, True)
        self.ops[opid] = {"client": client, "kind": b["does"], "value": b["value"], "phase": "query",
                          "tally": tally, "best": list(self.tag), "best_value": self.disk["value"]}
        key = "cap.cp_write_begin" if b["does"] == "write" else "cap.cp_read_begin"
        ctx.note(key, replica=self.id, client=client, need=self.need, n=len(self.replicas))
        for r in self.others:
            ctx.send(r, "Query", op=opid)
        self.deadlines.set(ctx, "quorum", opid, ctx.now + self.params["quorum_timeout"])

    def on_query(self, ctx, msg):
        ctx.send(msg.src, "QueryReply", op=msg.body["op"], tag=self.tag, value=self.disk["value"])

    def on_query_reply(self, ctx, msg):
        op = self.ops.get(msg.body["op"])
        if op is None or op["phase"] != "query" or msg.src in op["tally"]:
            return
        op["tally"].add(msg.src, True)
        if newer(msg.body["tag"], op["best"]):
            op["best"], op["best_value"] = list(msg.body["tag"]), msg.body["value"]
        if op["tally"].reached(self.need):
            self.cp_store(ctx, msg.body["op"], op)

    def cp_store(self, ctx, opid, op):
        """Phase 2: a write stores (highest ts + 1, its op id, its value); a read writes the
        highest tag it saw back, so no later read can return anything older."""
        if op["kind"] == "write":
            tag, value = [op["best"][0] + 1, opid], op["value"]
            ctx.note("cap.cp_write_store", replica=self.id, value=value, ts=ts_text(tag), need=self.need)
        else:
            tag, value = op["best"], op["best_value"]
            if tag == NO_TAG:
                # Nothing was ever written at this majority: nothing to write back.
                return self.cp_done(ctx, opid, op, tag, value)
            ctx.note("cap.cp_read_back", replica=self.id, value=shown(value), ts=ts_text(tag), need=self.need)
        op.update(phase="store", tally=Tally(), tag=tag, value=value)
        self.store(ctx, tag, value)
        op["tally"].add(self.id, True)
        for r in self.others:
            ctx.send(r, "Store", op=opid, tag=tag, value=value)
        self.deadlines.set(ctx, "quorum", opid, ctx.now + self.params["quorum_timeout"])

    def store(self, ctx, tag, value):
        if newer(tag, self.tag):
            ctx.persist(tag=list(tag), value=value)

    def on_store(self, ctx, msg):
        b = msg.body
        self.store(ctx, b["tag"], b["value"])         # on disk before the ack leaves
        ctx.send(msg.src, "StoreAck", op=b["op"])

    def on_store_ack(self, ctx, msg):
        opid = msg.body["op"]
        op = self.ops.get(opid)
        if op is None or op["phase"] != "store" or msg.src in op["tally"]:
            return
        op["tally"].add(msg.src, True)
        if op["tally"].reached(self.need):
            self.cp_done(ctx, opid, op, op["tag"], op["value"])

    def cp_done(self, ctx, opid, op, tag, value):
        del self.ops[opid]
        self.deadlines.clear(ctx, "quorum", opid)
        key = "cap.cp_write_done" if op["kind"] == "write" else "cap.cp_read_done"
        ctx.note(key, replica=self.id, client=op["client"], value=shown(value), ts=ts_text(tag))
        self.answer(ctx, op["client"], opid, "ok", tag, value)

    def quorum_missed(self, ctx, opid):
        """No majority in time: CP gives up availability. Before any Store left nothing
        changed anywhere: refused. A write whose Store is out may still stick: unknown."""
        op = self.ops.pop(opid, None)
        if op is None:
            return
        args = {"replica": self.id, "client": op["client"], "got": op["tally"].granted(), "need": self.need}
        if op["phase"] == "store" and op["kind"] == "write":
            ctx.note("cap.cp_unknown", **args)
            self.answer(ctx, op["client"], opid, "unknown")
        else:
            ctx.note("cap.cp_refuse", **args)
            self.answer(ctx, op["client"], opid, "refused")

    # ------------------------------------------------------------ AP: last writer wins

    def ap_write(self, ctx, client, b):
        """Take the write at once: tag (Lamport clock + 1, this replica), acknowledge."""
        clock = max(self.disk["clock"], self.tag[0]) + 1
        known = {**self.disk["known"], self.id: self.disk["known"].get(self.id, 0) + 1}
        tag = [clock, self.id]
        ctx.persist(clock=clock, known=known, tag=tag, value=b["value"], vv=known, acked=ctx.now)
        ctx.note("cap.ap_write", replica=self.id, client=client, value=b["value"], ts=ts_text(tag))
        self.answer(ctx, client, b["op"], "ok", tag, b["value"])

    def ap_read(self, ctx, client, b):
        """Answer from the local copy at once: no quorum, so it may be stale. Remember the
        read, to find out later (from gossip) whether it was."""
        tag, value = self.tag, self.disk["value"]
        served = [*self.disk["served"], [ctx.now, list(tag), client]][-RECENT_READS:]
        ctx.persist(served=served)
        ctx.note("cap.ap_read", replica=self.id, client=client, value=shown(value), ts=ts_text(tag))
        self.answer(ctx, client, b["op"], "ok", tag, value)

    def gossip(self, ctx):
        """Anti-entropy: send this replica's copy to the next peer in turn."""
        ctx.set_timer("gossip", self.params["gossip_interval"])
        if self.tag == NO_TAG or not self.others:
            return
        peer = self.others[self.turn % len(self.others)]
        self.turn += 1
        ctx.send(peer, "Gossip", tag=self.tag, value=self.disk["value"], vv=self.disk["vv"],
                 acked=self.disk["acked"])

    def on_gossip(self, ctx, msg):
        """Merge a peer's copy: the higher tag wins. A write the winner had not seen is
        discarded: count it (the conflict last-writer-wins resolves by losing a write)."""
        b, d = msg.body, self.disk
        tag, vv = b["tag"], b["vv"]
        known_before = d["known"]
        known = dict(known_before)
        for r, k in vv.items():
            known[r] = max(known.get(r, 0), k)
        fields = {"known": known, "clock": max(d["clock"], tag[0])}
        conflicts = d["conflicts"]
        if newer(tag, self.tag):
            mine, mine_vv = self.tag, d["vv"]
            if mine != NO_TAG and vv.get(mine[1], 0) < mine_vv.get(mine[1], 0):
                conflicts += 1
                ctx.note("cap.ap_conflict_replaced", replica=self.id, lost=shown(d["value"]), lost_ts=ts_text(mine),
                         value=shown(b["value"]), ts=ts_text(tag), src=msg.src)
            else:
                ctx.note("cap.ap_newer", replica=self.id, value=shown(b["value"]), ts=ts_text(tag), src=msg.src)
            fields.update(tag=list(tag), value=b["value"], vv=dict(vv), acked=b["acked"])
        elif newer(self.tag, tag):
            dot = vv.get(tag[1], 0)
            if known_before.get(tag[1], 0) < dot and d["vv"].get(tag[1], 0) < dot:
                conflicts += 1
                ctx.note("cap.ap_conflict_discarded", replica=self.id, lost=shown(b["value"]), lost_ts=ts_text(tag),
                         value=shown(d["value"]), ts=ts_text(self.tag), src=msg.src)
        fields.update(conflicts=conflicts, **self.stale_found(ctx, tag, b["value"], b["acked"]))
        ctx.persist(**fields)

    def stale_found(self, ctx, tag, value, acked) -> dict:
        """Reads this replica served after a write was acknowledged elsewhere, with an older
        tag than that write's: stale (found out now, from gossip). Soft state, counted."""
        if acked is None:
            return {}
        served, kept, stale = self.disk["served"], [], self.disk["stale"]
        for read in served:
            at, read_tag, client = read
            if at > acked and newer(tag, read_tag):
                stale += 1
                ctx.note("cap.ap_stale", replica=self.id, client=client, at=at, ts=ts_text(read_tag),
                         value=shown(value), newer=ts_text(tag), acked=acked)
            else:
                kept.append(read)
        return {} if len(kept) == len(served) else {"served": kept, "stale": stale}

    HANDLERS = {"Request": on_client_request, "Query": on_query, "QueryReply": on_query_reply,
                "Store": on_store, "StoreAck": on_store_ack, "Gossip": on_gossip}

    # ------------------------------------------------------------ views

    def view(self):
        d = self.disk
        v = {"role": self.role, "value": d.get("value"), "ts": ts_text(d.get("tag"))}
        args = {"value": shown(d.get("value")), "ts": v["ts"]}
        if self.cp:
            v["coordinating"] = {opid: f"{op['kind']} {op['phase']} {op['tally'].granted()}/{self.need}"
                                 for opid, op in self.ops.items()}
            v["label"] = ["cap.label.cp", args]
        else:
            v.update(clock=d.get("clock", 0), known=dict(d.get("known", {})), conflicts=d.get("conflicts", 0),
                     stale=d.get("stale", 0))
            v["label"] = ["cap.label.ap", {**args, "conflicts": v["conflicts"], "stale": v["stale"]}]
        v["seen"] = dict(d.get("seen", {}))
        return v
