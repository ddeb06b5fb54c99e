"""A Paxos-aware fault for random schedules (a Jepsen-style nemesis), or None.

Four moves, each aimed at a rule the protocol needs:
  duel      both proposers are asked for different values a few ms apart (two
            ballots in flight at once: one value per ballot, adoption in phase 1)
  bounce    an acceptor that has promised or voted crashes and restarts at once
            (are its promise and vote still on its disk?)
  forget    a proposer crashes, restarts and is asked again at once: a learner that
            forgot the decision runs a new ballot, which must find the chosen value
  split     the proposers are cut apart, each with some acceptors (quorums that may
            or may not intersect, depending on how quorums are counted)
Returns ordinary actions, so a schedule still replays as data. It reads the nodes as
a checker does, through sim.observe.
"""

from __future__ import annotations

from .node import PROPOSERS, acceptor_ids


def fuzz_action(rng, sim, at):
    """One move of the nemesis (Paxos.fuzz_action); reads `sim`, never changes it."""
    move = rng.random()
    if move < 0.3:
        a, b = rng.sample(range(1, 100), 2)
        return [{"at": at, "do": "request", "node": "p1", "op": "propose", "arg": f"v{a}"},
                {"at": at + rng.randint(0, 60), "do": "request", "node": "p2", "op": "propose", "arg": f"v{b}"}]
    if move < 0.55:
        busy = [n for n in acceptor_ids(sim.ids) if sim.up[n] and sim.observe(n)["maxBal"] is not None]
        if busy:
            n = rng.choice(busy)
            return [{"at": at, "do": "crash", "node": n}, {"at": at + 1, "do": "restart", "node": n}]
        return None
    if move < 0.8:
        p = rng.choice(PROPOSERS)
        if not sim.up[p]:
            return None
        return [{"at": at, "do": "crash", "node": p}, {"at": at + 1, "do": "restart", "node": p},
                {"at": at + 2, "do": "request", "node": p, "op": "propose", "arg": f"v{rng.randrange(1, 100)}"}]
    accs = acceptor_ids(sim.ids)
    rng.shuffle(accs)
    cut = rng.randint(1, len(accs) - 1)
    return {"at": at, "do": "partition", "groups": [sorted(["p1", *accs[:cut]]), sorted(["p2", *accs[cut:]])]}
