"""The invariants of the CAP lesson, judged from what the clients saw.

Clients report each operation as they see it (ctx.observe): "invoke" when it is
sent, "response" with its outcome (ok with the tag it got, refused, or unknown),
"timeout" when the client gives up. The checker stamps each fact with a counter,
so "A answered before B began" is exact even within one millisecond.

  linearizable      (CP, safety) the completed operations so far are linearizable
                    (kit.linearizability), checked after every completed operation;
                    an operation with no answer (a timeout, an "unknown", a crashed
                    client) may have happened or not; a refused one never did. The
                    register's values are the writes themselves (the op id in a tag),
                    so two writes of the same text are never confused.
  refusal_harmless  (CP, safety) a refused write never shows up: no replica ever holds
                    its tag (read from the disks)
  converged         (AP, eventual) once quiet long enough for anti-entropy to reach
                    every replica, every replica holds the same tag and value

Stale reads are counted in both modes (`stale_reads`): a read that returned a tag
older than that of a write acknowledged before the read began. In AP they are not
violations: they are BASE's price, and the replicas narrate and count the ones
they find out about. In CP with no bug there are none.
"""

from __future__ import annotations

from ...kit.linearizability import Op, check
from ...protocol import Checker
from .node import NO_TAG, newer, replica_ids, shown, ts_text


def settle_time(params: dict, latency_hi: int, replicas: int) -> int:
    """How long after the last fault anti-entropy needs: the replica holding the newest
    tag sends it to each peer in turn, one per gossip_interval (N - 1 of them), the first
    within one interval; then a message's flight."""
    return (replicas + 1) * params["gossip_interval"] + 2 * latency_hi


class CAPChecker(Checker):
    invariants = ("linearizable", "refusal_harmless", "converged")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.cp = params.get("mode", "cp") == "cp"
        self.replicas = replica_ids(node_ids)
        self.tick = 0
        self.ops: dict[str, dict] = {}          # op id -> what its client saw, in invocation order
        self.done_writes: list[tuple[int, list]] = []   # (response tick, tag) of acknowledged writes
        self.refused_writes: set[str] = set()
        self.new_refusal = False
        self.fresh = False                      # an operation completed since the last check
        self.broken = False                     # linearizability already failed (reported once)
        self.stale_reads: list[dict] = []
        self.checks = 0                         # linearizability checks run
        self.judged = False                     # converged was judged (the run was calm long enough)

    def observe(self, node_id, fact, args):
        self.tick += 1
        if fact == "invoke":
            self.ops[args["op"]] = {"client": args["client"], "kind": args["kind"], "value": args["value"],
                                    "invoke": self.tick, "at": args["at"], "response": None, "outcome": None}
            return
        op = self.ops.get(args["op"])
        if op is None or fact != "response":
            return
        op.update(outcome=args["outcome"], response=self.tick, end=args["at"], tag=args["tag"])
        if args["outcome"] == "refused" and op["kind"] == "write":
            self.refused_writes.add(args["op"])
            self.new_refusal = True
        if args["outcome"] != "ok":
            return
        self.fresh = True
        if op["kind"] == "write":
            self.done_writes.append((self.tick, args["tag"]))
        else:
            self.count_stale(args["op"], op)

    def count_stale(self, opid, read):
        before = [tag for t, tag in self.done_writes if t < read["invoke"]]
        newest = max(before, key=lambda tag: (tag[0], tag[1]), default=NO_TAG)
        if newer(newest, read["tag"]):
            self.stale_reads.append({"op": opid, "client": read["client"], "tag": read["tag"], "newest": newest})

    # ------------------------------------------------------------ safety

    def after_event(self, sim, node_id, msg):
        if not self.cp:
            return []
        found = []
        if self.refused_writes:
            # A replica's copy changes only in its own handlers; a new refusal is checked everywhere.
            where = self.replicas if self.new_refusal else [node_id] if node_id in self.replicas else []
            self.new_refusal = False
            for r in where:
                tag = sim.disk[r].get("tag") or NO_TAG
                if tag[1] in self.refused_writes:
                    w = self.ops[tag[1]]
                    found.append(self.violation("refusal_harmless", "viol.refusal_harmless", [r, w["client"]],
                                                replica=r, client=w["client"], value=w["value"], op=tag[1]))
        if self.fresh and not self.broken:
            self.fresh = False
            found += self.judge_history()
        return found

    def history(self) -> list[Op]:
        """The operations as the linearizability search takes them: a write's value is its
        op id; a read's value is the op id in the tag it got (None: the initial value)."""
        out = []
        for opid, op in self.ops.items():
            outcome = op["outcome"]
            if op["kind"] == "write":
                value = opid
            elif outcome == "ok":
                value = op["tag"][1] if op["tag"][0] else None
            else:
                continue                        # a read with no answer constrains nothing
            response = op["response"] if outcome in ("ok", "refused") else None
            out.append(Op(op["client"], op["kind"], value, op["invoke"], response, ok=outcome != "refused"))
        return out

    def judge_history(self) -> list:
        self.checks += 1
        result = check(self.history())
        if result.ok:
            return []
        self.broken = True
        bad = result.op
        op = next(o for opid, o in self.ops.items() if o["invoke"] == bad.invoke)
        could = ", ".join(self.written(s) for s in result.states)
        key = "viol.linearizable.read" if bad.kind == "read" else "viol.linearizable.write"
        return [self.violation("linearizable", key, [bad.client], client=bad.client, value=self.written(bad.value),
                               start=op["at"], end=op.get("end", "?"), could=could)]

    def written(self, opid) -> str:
        """A write as people read it: "x2 (c1.3)"; the initial value: "∅"."""
        return shown(None) if opid is None else f"{self.ops[opid]['value']} ({opid})"

    # ------------------------------------------------------------ eventual

    def on_quiet(self, sim):
        if self.cp or sim.network.loss > 0:
            return []
        settle = settle_time(self.params, sim.network.latency[1], len(self.replicas))
        if sim.until - (sim.last_action_at or 0) < settle:
            return []
        self.judged = True
        first = self.replicas[0]
        a = sim.disk[first]
        for r in self.replicas[1:]:
            b = sim.disk[r]
            if b["tag"] != a["tag"]:
                return [self.violation("converged", "viol.converged", [first, r], a=first, b=r, ms=settle,
                                       a_value=shown(a["value"]), a_ts=ts_text(a["tag"]),
                                       b_value=shown(b["value"]), b_ts=ts_text(b["tag"]))]
        return []
