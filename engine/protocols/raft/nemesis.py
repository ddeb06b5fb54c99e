"""A Raft-aware fault for random schedules (a Jepsen-style nemesis), or None.

Four moves: two nodes time out at once (a contested term) while a third
bounces; a node that just voted crashes and restarts at once (does it
remember its vote?);
a client writes through the leader; the leader is cut off with less
than a majority around it (it accepts writes it can never commit).
Returns ordinary actions, so a schedule still replays as data. It reads
the nodes as a checker does, through sim.observe.
"""

from __future__ import annotations

from .node import LEADER


def fuzz_action(rng, sim, at, random_request):
    """One move of the nemesis (Raft.fuzz_action); reads `sim`, never changes it."""
    ids = sim.ids
    up = {n: sim.observe(n) for n in ids if sim.up[n]}
    move = rng.random()
    if move < 0.3:
        # Contest an election: two nodes time out at once and compete in one term,
        # and a third crashes and restarts while their vote requests are in flight.
        armed = [n for n in up if sim.timers[n].get("election") is not None]
        if len(armed) >= 3:
            a, b, v = rng.sample(armed, 3)
            lo, hi = sim.network.latency
            bounce = at + rng.randint(lo, hi)
            return [{"at": at, "do": "timeout", "node": a, "timer": "election"},
                    {"at": at, "do": "timeout", "node": b, "timer": "election"},
                    {"at": bounce, "do": "crash", "node": v},
                    {"at": bounce + 1, "do": "restart", "node": v}]
    elif move < 0.45:
        # Bounce a voter: crash a node that voted this term and bring it straight back.
        voters = [n for n, o in up.items() if o["voted_for"] not in (None, n) and o["role"] != LEADER]
        if voters:
            n = rng.choice(voters)
            return [{"at": at, "do": "crash", "node": n}, {"at": at + 1, "do": "restart", "node": n}]
    leaders = [n for n, o in up.items() if o["role"] == LEADER]
    if not leaders:
        return None
    leader = rng.choice(leaders)
    if rng.random() < 0.5:
        _, op, arg = random_request(rng, ids)
        return {"at": at, "do": "request", "node": leader, "op": op, "arg": arg}
    others = [n for n in ids if n != leader]
    rng.shuffle(others)
    k = rng.randrange(len(ids) // 2)       # companions: the leader's side stays a minority
    return {"at": at, "do": "partition", "groups": [sorted([leader, *others[:k]]), sorted(others[k:])]}
