"""A Multi-Paxos-aware fault for random schedules (a Jepsen-style nemesis), or None.

Four moves: leave one behind (cut a follower off, let the leader choose a
write without it, then take the leader away and make the one left behind
run phase 1: does it learn what was chosen while it was away?); two nodes
time out at once (dueling ballots); a client writes through the leader; the
leader is cut off with less than a majority around it (its Accepts go
unanswered and a new ballot takes over). Returns ordinary actions, so a
schedule still replays as data. It reads the nodes as a checker does,
through sim.observe.
"""

from __future__ import annotations

from .node import LEADER


def fuzz_action(rng, sim, at, random_request):
    """One move of the nemesis (MultiPaxos.fuzz_action); reads `sim`, never changes it."""
    ids = sim.ids
    up = {n: sim.observe(n) for n in ids if sim.up[n]}
    leaders = [n for n, o in up.items() if o["role"] == LEADER]
    hi = sim.network.latency[1]
    move = rng.random()
    if move < 0.35 and leaders:
        # Leave one behind: it misses a chosen write, then the old leader is gone and it leads.
        leader = rng.choice(leaders)
        behind = rng.choice([n for n in ids if n != leader])
        rest = [n for n in ids if n != behind]
        _, op, arg = random_request(rng, ids)
        _, op2, arg2 = random_request(rng, ids)
        later = at + 1 + 3 * hi
        return [{"at": at, "do": "partition", "groups": [[behind], rest]},
                {"at": at + 1, "do": "request", "node": leader, "op": op, "arg": arg},
                {"at": later, "do": "crash", "node": leader},
                {"at": later, "do": "heal"},
                {"at": later + 1, "do": "timeout", "node": behind, "timer": "election"},
                {"at": later + 2 + 3 * hi, "do": "request", "node": behind, "op": op2, "arg": arg2}]
    if move < 0.55:
        # Dueling ballots: two nodes start phase 1 at the same moment.
        armed = [n for n in up if sim.timers[n].get("election") is not None]
        if len(armed) >= 2:
            a, b = rng.sample(armed, 2)
            return [{"at": at, "do": "timeout", "node": a, "timer": "election"},
                    {"at": at, "do": "timeout", "node": b, "timer": "election"}]
        return None
    if not leaders:
        return None
    leader = rng.choice(leaders)
    if move < 0.8:
        _, op, arg = random_request(rng, ids)
        return {"at": at, "do": "request", "node": leader, "op": op, "arg": arg}
    others = [n for n in ids if n != leader]
    rng.shuffle(others)
    k = rng.randrange(len(ids) // 2)       # companions: the leader's side stays a minority
    return {"at": at, "do": "partition", "groups": [sorted([leader, *others[:k]]), sorted(others[k:])]}
