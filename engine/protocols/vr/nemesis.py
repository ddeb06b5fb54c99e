"""A VR-aware adversary for random schedules (Protocol.fuzz_action), or None.

Why VR needs its own crashes. VRR keeps nothing on disk and promises safety only
while at most f replicas are down at a time, a replica counting as down from
its crash until its recovery completes (a recovering replica holds nothing).
Every crash a schedule makes keeps to that bound (may_crash, which the engine's
blind crash move consults too): with disk = "none" a replica crashes only while
fewer than f replicas are down or recovering; with disk = "log" any replica
crashes at any time, all of them at once included (a power loss, which the
disk survives). Clients crash freely either way. Past the bound VRR loses
committed ops by design, which is a lesson (the power_loss preset), not a finding.

The moves (ordinary actions, so a schedule replays as data; the nemesis reads
the run as a checker does, through sim.observe, sim.up and sim.actions):
  - crash a replica (the primary half the time: a view change) and restart it
    a little later (recovery);
  - with disk = "log": a power loss, every replica down, back a little later;
  - crash and restart a client (its request number is on its disk);
  - cut the primary off with a minority (it keeps preparing ops it can never
    commit, which a view change elsewhere must discard);
  - the deposed primary's story (the presets deposed_primary and longest_log):
    cut the primary off with both clients, each of which sends it a request,
    then move one client to the other side for one retry, where a new view
    commits its op, and back.
    While that primary is deposed (a primary of an older view than another's)
    with a log as long as the newest primary's or longer, yet without an op the
    newest primary committed, cut the newest primary off from all the others,
    so that the next view change hears from the deposed primary's long but old
    log (the hazard that the rule "largest last normal view first" is for);
  - a client request.
"""

from __future__ import annotations

from .node import PRIMARY, RECOVERING_ROLE, replica_ids


def replicas_down(sim, replicas) -> list:
    """Replicas down or recovering (a recovering replica holds nothing yet)."""
    obs = {r: sim.observe(r) for r in replicas}
    return [r for r in replicas if obs[r] is None or obs[r]["role"] == RECOVERING_ROLE]


def may_crash(sim, node) -> bool:
    """VR's bound for any crash a schedule makes: without a disk, fewer than f replicas
    down or recovering before this one; with disk = "log", and for clients, any time."""
    replicas = replica_ids(sim.ids)
    if node not in replicas or sim.params.get("disk") == "log":
        return True
    f = (len(replicas) - 1) // 2
    return len(replicas_down(sim, replicas)) < f


def fuzz_action(rng, sim, at, random_request):
    ids = sim.ids
    replicas = replica_ids(ids)
    clients = [c for c in ids if c not in replicas]
    f = (len(replicas) - 1) // 2
    durable = sim.params.get("disk") == "log"
    obs = {n: sim.observe(n) for n in ids}
    down = replicas_down(sim, replicas)
    primaries = [r for r in replicas if obs[r] is not None and obs[r]["role"] == PRIMARY]
    hi = sim.network.latency[1]

    def request():
        node, op, arg = random_request(rng, ids)
        return {"at": at, "do": "request", "node": node, "op": op, "arg": arg}

    def bounce(r):
        """Crash replica r and restart it a little later (recovery), if VR's bound allows."""
        if not durable and len(down) >= f:
            return None
        return [{"at": at, "do": "crash", "node": r}, {"at": at + rng.randint(1, 10 * hi + 200), "do": "restart",
                                                        "node": r}]

    if any(a["at"] >= at and a["do"] == "partition" for a in sim.actions):
        return request()            # the deposed primary's story is still being set up
    if primaries:
        views = {r: obs[r]["term"] for r in primaries}
        newest = max(primaries, key=lambda r: views[r])
        deposed = [r for r in primaries if views[r] < views[newest] and lacks(obs[r]["log"], obs[newest])]
        if deposed and rng.random() < 0.9:     # cut the newest primary off, the others together
            return {"at": at, "do": "partition", "groups": [[newest], sorted(n for n in ids if n != newest)]}
    move = rng.random()
    if move < 0.35:
        up = [r for r in replicas if sim.up[r]]
        if up:
            victims = [r for r in up if r in primaries] if primaries and rng.random() < 0.5 else up
            return bounce(rng.choice(victims))
    elif move < 0.42 and durable:
        back = at + rng.randint(1, 4 * hi + 100)
        return ([{"at": at, "do": "crash", "node": r} for r in replicas if sim.up[r]]
                + [{"at": back, "do": "restart", "node": r} for r in replicas])
    elif move < 0.48:
        up = [c for c in clients if obs[c] is not None]
        if up:
            c = rng.choice(up)
            return [{"at": at, "do": "crash", "node": c}, {"at": at + rng.randint(1, 300), "do": "restart", "node": c}]
    elif move < 0.65 and primaries and sim.network.groups is None:
        return deposed_primary(rng, sim, at, replicas, clients, rng.choice(primaries))
    elif move < 0.8 and primaries:
        p = rng.choice(primaries)
        others = [r for r in replicas if r != p]
        rng.shuffle(others)
        k = rng.randrange(len(replicas) // 2)     # the primary's side stays a minority
        side = [p, *others[:k]]
        rest = others[k:]
        for c in clients:                         # a client on either side
            (side if rng.random() < 0.5 else rest).append(c)
        return {"at": at, "do": "partition", "groups": [sorted(side), sorted(rest)]}
    return request()


def lacks(log, newest):
    """Is `log` as long as the newest primary's or longer, yet without an op that primary
    committed? (The hazard VR's rule, the largest last normal view first, exists for.)"""
    mine = newest["log"]
    if len(log) < len(mine):
        return False
    for i in range(newest["commit"]):
        if i >= len(log) or log[i] != mine[i]:
            return True
    return False


def deposed_primary(rng, sim, at, replicas, clients, p):
    """Cut primary p off with both clients, each of which sends it a request (ops p can
    never commit); once the others have had time to start a new view and a client to
    retry, move one client to their side for one retry, where its op commits in the new
    view, and back: the new view's log now lacks p's ops, and p's lacks its op."""
    params = sim.params
    hi = sim.network.latency[1]
    a, b = rng.sample(clients, 2)
    rest = sorted(r for r in replicas if r != p)
    # After a view change and a client's retry (a retry goes to every replica, p too):
    later = at + max(params["view_timeout"], params["client_timeout"]) + 8 * hi
    back = later + params["client_timeout"] + 6 * hi      # one retry of b's, then b goes back to p
    return [{"at": at, "do": "partition", "groups": [sorted([p, a, b]), rest]},
            {"at": at + 1, "do": "request", "node": a, "op": "request", "arg": f"x={rng.randrange(1, 10)}"},
            {"at": at + 1, "do": "request", "node": b, "op": "request", "arg": f"y={rng.randrange(1, 10)}"},
            {"at": later, "do": "partition", "groups": [sorted([p, a]), sorted([*rest, b])]},
            {"at": back, "do": "partition", "groups": [sorted([p, a, b]), rest]}]
