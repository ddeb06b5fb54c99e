"""Raft's invariants: the replicated-log safety properties of engine.kit.log_safety
(dissertation Figure 3.2 and the two lemmas they rest on), and Raft's own
eventual property, converges.

Like every checker it reads only what the nodes report (RaftNode.observe,
ctx.observe("log_changed", ...)) and the engine-owned disk.
"""

from __future__ import annotations

from ...kit.log_safety import LogSafetyChecker
from .node import LEADER, entry_text


def stable_leader_possible(params, latency_hi) -> bool:
    """Can a leader keep its followers? Its heartbeat must land before their timeout, and
    randomized timeouts must be spread wider than a round trip or votes may split forever."""
    width = params["election_timeout"] * params["election_spread"] // 100
    return params["heartbeat"] + latency_hi < params["election_timeout"] and width > 2 * latency_hi


class RaftChecker(LogSafetyChecker):
    """Raft's safety properties, checked incrementally (see kit.log_safety), and converges:

    eventually (all nodes up, network healed, long enough after the last action,
    timeouts randomized wider than a round trip) one leader, followed by every node
    in its term, and every node has committed what the leader has.
    """

    LEADER = LEADER
    invariants = (*LogSafetyChecker.invariants, "converges")
    entry_text = staticmethod(entry_text)

    def settle_time(self, sim) -> int | None:
        """How long after the last action a stable, caught-up cluster may be expected, or
        None when it may not: timeouts too close together can split the vote forever,
        and heartbeats slower than the election timeout let no leader last (Raft asks
        broadcastTime << electionTimeout, section 5.6)."""
        p = self.params
        hi = sim.network.latency[1]
        if sim.network.loss > 0 or not stable_leader_possible(p, hi):
            return None
        width = p["election_timeout"] * p["election_spread"] // 100
        longest = max(len(sim.disk[n].get("log") or ()) for n in self.node_ids)
        catch_up = (longest // p["max_entries"] + 1) * 2 * hi     # one round trip per AppendEntries batch
        return 20 * (p["election_timeout"] + width) + catch_up + 4 * p["heartbeat"]

    def on_quiet(self, sim):
        settle = self.settle_time(sim)
        if settle is None or sim.until - (sim.last_action_at or 0) < settle:
            return []
        nodes = {n: sim.observe(n) for n in self.node_ids}     # all up: on_quiet runs only then
        leaders = [n for n, node in nodes.items() if node["role"] == LEADER]
        top = max(node["term"] for node in nodes.values())
        leader = next((n for n in leaders if nodes[n]["term"] == top), None)
        if leader is None:
            return [self.violation("converges", "viol.converges.no_leader", self.node_ids, term=top, ms=settle)]
        lead = nodes[leader]
        behind = [n for n, node in nodes.items()
                  if n != leader and (node["term"] != top or node["leader"] != leader
                                      or node["commit_index"] != lead["commit_index"])]
        if behind:
            n = behind[0]
            return [self.violation("converges", "viol.converges.behind", (n, leader), node=n, leader=leader,
                                    term=nodes[n]["term"], index=nodes[n]["commit_index"],
                                    lead=lead["commit_index"])]
        return []
