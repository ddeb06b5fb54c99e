"""Zab's invariants (the DSN 2011 paper, section 3), on engine.kit.log_safety.

An epoch is the kit's term, a server's history its log, lastCommitted its
last_applied (delivered = committed, in order), and the "leader" is an
*established* leader: a LEADING server once it has adopted its epoch's initial
history (from SYNCHRONIZATION on; before that, in DISCOVERY, it has not yet
learned the quorum's history and may lack committed transactions).

Kept from the kit, renamed to Zab's properties:

  election_safety      -> one_leader_per_epoch: at most one established leader per epoch
  leader_append_only   -> primary_order_local: an established leader only appends to its
                          history during its epoch (what it broadcasts, it broadcasts in
                          the order it proposed it)
  leader_completeness  -> primary_order_global: a newly established leader's initial
                          history holds every transaction delivered so far, in place
                          (so transactions of earlier epochs come first)
  state_machine_safety -> agreement: delivered sequences are prefixes of one another
                          (total order)
  acked_committed      -> acked_delivered: a client told its write succeeded (index,
                          zxid) was told the truth

Replaced, and why:

  log_matching        -> zxid_consistency: matched by zxid rather than (index, term):
                         a zxid names one transaction, so every history holding zxid z
                         holds the same value there and the same zxid before it (hence
                         the same prefix). Checked with integrity (every entry was
                         proposed by the leader of its epoch: only proposed values are
                         delivered) and zxid_order (zxids strictly increase along a
                         history)
  committed_electable -> committed_on_quorum: Raft's rule (a lagging log cannot win a
                         vote) does not bind Zab, whose discovery phase fetches the
                         newest history of a quorum. What that phase relies on is stated
                         directly: the newest delivered transaction is in the durable
                         history of a quorum (crashed servers' disks included)
  one_vote_per_term   -> left out (FLE votes change within a round by design) and
                         replaced by epoch_order: on every disk acceptedEpoch >=
                         currentEpoch, and neither ever decreases

It reads ZabServer.observe(), the "log_changed" and "proposed" facts, the engine-owned
disks (sim.disk) and the clients' replies. Never a node's attributes.
"""

from __future__ import annotations

from ...kit.log_safety import BOOTED, LogSafetyChecker
from ...kit.quorum import majority
from ...kit.strings import distinct
from .node import ESTABLISHED, entry_text, ztext


class ZabChecker(LogSafetyChecker):
    LEADER = ESTABLISHED
    ONE_VOTE = False
    DISK_LOG = "history"
    invariants = ("one_leader_per_epoch", "primary_order_local", "primary_order_global", "agreement",
                  "zxid_consistency", "integrity", "zxid_order", "committed_on_quorum", "epoch_order",
                  "acked_delivered")
    VIOLATIONS = {
        "two_leaders": ("one_leader_per_epoch", "viol.one_leader_per_epoch"),
        "leader_changed_log": ("primary_order_local", "viol.primary_order_local"),
        "logs_differ": ("zxid_consistency", "viol.zxid_consistency"),
        "leader_incomplete": ("primary_order_global", "viol.primary_order_global"),
        "applied_other": ("agreement", "viol.agreement"),
        "applied_other_again": ("agreement", "viol.agreement.again"),
        "acked_uncommitted": ("acked_delivered", "viol.acked_delivered"),
        "unproposed": ("integrity", "viol.integrity"),
        "zxid_not_increasing": ("zxid_order", "viol.zxid_order"),
        "committed_lost": ("committed_on_quorum", "viol.committed_on_quorum"),
        "epochs_crossed": ("epoch_order", "viol.epoch_order"),
        "epoch_lowered": ("epoch_order", "viol.epoch_order.lowered"),
    }
    entry_text = staticmethod(entry_text)

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.q = majority(len(node_ids))
        self.proposed = {}      # zxid -> value, as leaders proposed them
        self.epochs = {}        # node -> (acceptedEpoch, currentEpoch) last seen on its disk

    def observe(self, node_id, fact, args):
        if fact == "proposed":
            self.proposed[tuple(args["zxid"])] = args["value"]
        else:
            super().observe(node_id, fact, args)

    def acked_entry(self, op, result):
        if isinstance(result, dict) and result.get("ok") and "zxid" in result:
            return result["index"], tuple(result["zxid"])
        return None

    def check_acked(self, found):
        applied = self.applied
        for node, index, zxid in self.acked:
            if index > len(applied) or tuple(applied[index - 1][0]) != zxid:
                found.append(self.v("acked_uncommitted", (node,), node=node, index=index, zxid=ztext(zxid)))
        self.acked = []

    # ------------------------------------------------------------ after every event

    def after_event(self, sim, n, msg):
        if n is None:
            return []
        dirty = self.changed[n]
        found = super().after_event(sim, n, msg)
        obs = sim.observe(n)
        if obs is None:
            self.leading.pop(n, None)
            return found
        disk = sim.disk[n]
        acc, cur = disk["acceptedEpoch"], disk["currentEpoch"]
        if acc < cur:
            found.append(self.v("epochs_crossed", (n,), node=n, accepted=acc, current=cur))
        before = self.epochs.get(n)
        if before is not None and (acc < before[0] or cur < before[1]):
            found.append(self.v("epoch_lowered", (n,), node=n, accepted=acc, current=cur, was_accepted=before[0],
                                was_current=before[1]))
        self.epochs[n] = (acc, cur)
        if dirty and self.applied:
            self.check_quorum_holds(sim, found)
        return found

    # ------------------------------------------------------------ the kit's hooks, fitted

    def check_log(self, n, log, dirty, found):
        """zxid_consistency, integrity and zxid_order for the entries from index `dirty` on."""
        if dirty == BOOTED:
            dirty = 1
        entry_at = self.entry_at
        proposed = self.proposed
        prev = tuple(log[dirty - 2][0]) if dirty > 1 else (0, 0)
        for i in range(dirty, len(log) + 1):
            z, value = log[i - 1]
            z = tuple(z)
            if z <= prev:
                found.append(self.v("zxid_not_increasing", (n,), node=n, index=i, zxid=ztext(z), prev=ztext(prev)))
                return
            p = proposed.get(z)
            if p != value:
                found.append(self.v("unproposed", (n,), node=n, zxid=ztext(z), value=value))
                return
            rec = entry_at.get(z)
            if rec is None:
                entry_at[z] = (value, prev, n)
            elif rec[0] != value or rec[1] != prev:
                found.append(self.v("logs_differ", distinct(rec[2], n), node=n, other=rec[2], zxid=ztext(z)))
                return
            prev = z

    def check_electable(self, sim, found):
        """Replaced by committed_on_quorum (see the module docstring)."""
        self.check_quorum_holds(sim, found)

    def check_quorum_holds(self, sim, found):
        i = len(self.applied)
        entry = self.applied[i - 1]
        holders = []
        for m in self.node_ids:
            h = sim.disk[m].get("history") or ()
            if len(h) >= i and h[i - 1] == entry:
                holders.append(m)
        if len(holders) < self.q:
            found.append(self.v("committed_lost", distinct(self.applied_by[i - 1]), index=i,
                                entry=self.entry_text(entry), zxid=ztext(entry[0]), holders=", ".join(holders) or "-",
                                q=self.q))
