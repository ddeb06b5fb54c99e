"""A Zab-aware fault for random schedules (a Jepsen-style nemesis), or None.

Moves (ordinary actions, so a schedule replays as data; the nemesis reads the
run as a checker does, through sim.observe):

  - a stale leader: the leader in BROADCAST is cut off alone; the others give
    up on it at once (their sync timer forced) and start a new epoch; a little
    later one of them is moved to the old leader's side and gives up on its new
    leader, so that it meets a leader of an older epoch that still thinks it
    leads (its NEWEPOCH must be refused by epoch: skip_epoch_check);
  - leave one behind: a follower is cut off while the leader commits writes
    without it, then the leader crashes and the network heals (with election
    = "id" the one left behind may win the election: discovery must fetch
    the quorum's newest history, leader_own_history);
  - crash the leader and bring it back later (its uncommitted tail must be
    truncated in synchronization);
  - a client write through the leader.
"""

from __future__ import annotations

from .node import BROADCAST


def fuzz_action(rng, sim, at, random_request):
    ids = sim.ids
    up = {n: sim.observe(n) for n in ids if sim.up[n]}
    leaders = [n for n, o in up.items() if o["leader"] == n and o["phase"] == BROADCAST]
    hi = sim.network.latency[1]
    p = sim.params
    pending = any(a["at"] >= at and a["do"] in ("partition", "heal", "crash") for a in sim.actions)
    if pending:
        return None                   # a move of mine is still playing out
    if sim.network.groups is not None and (not leaders or rng.random() < 0.7):
        return {"at": at, "do": "heal"}
    if not leaders:
        return None
    leader = rng.choice(leaders)
    others = sorted(n for n in ids if n != leader)
    move = rng.random()
    by_id = p["election"] == "id"
    stale, behind_p = (0.2, 0.7) if by_id else (0.35, 0.5)
    if move < stale and sim.network.groups is None:
        rng.shuffle(others)
        k = len(ids) // 2 + 1 - 2                 # companions: with the mover, the old leader's side
        side = sorted([leader, *others[:k]])      # becomes a quorum that still says it leads
        rest = others[k:]
        mover = rest[0]
        later = at + 1 + p["finalize"] + 7 * hi + rng.randint(0, p["tick"])
        acts = [{"at": at, "do": "partition", "groups": [side, sorted(rest)]}]
        acts += [{"at": at + 1, "do": "timeout", "node": n, "timer": "sync"} for n in sorted(rest)]
        acts += [{"at": later, "do": "partition", "groups": [sorted([*side, mover]), sorted(rest[1:])]},
                 {"at": later + 1, "do": "timeout", "node": mover, "timer": "sync"}]
        return acts
    if move < behind_p and sim.network.groups is None:
        # With election = "id" the one left behind should be the next highest id, to win next.
        behind = max(others, key=lambda n: int(n[1:])) if by_id else rng.choice(others)
        w = at + 2 * hi
        acts = [{"at": at, "do": "partition", "groups": [[behind], sorted(n for n in ids if n != behind)]}]
        for k in range(rng.randint(1, 3)):
            acts.append({"at": w + k, "do": "request", "node": leader, "op": "write",
                         "arg": f"{'xyz'[rng.randrange(3)]}={rng.randrange(1, 10)}"})
        back = w + 6 * hi + 2 * p["tick"]
        acts += [{"at": back, "do": "crash", "node": leader}, {"at": back + 1, "do": "heal"},
                 {"at": back + rng.randint(2, 20 * hi + 400), "do": "restart", "node": leader}]
        return acts
    if move < 0.7:
        return [{"at": at, "do": "crash", "node": leader},
                {"at": at + rng.randint(1, 20 * hi + 400), "do": "restart", "node": leader}]
    _, op, arg = random_request(rng, ids)
    return {"at": at, "do": "request", "node": leader, "op": op, "arg": arg}
