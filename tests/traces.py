"""Reading a run's trace in the protocol tests: the events of one kind, and the end state."""


def notes(sim, key, node=None):
    return [e for e in sim.trace if e["type"] == "note" and e["key"] == key and (node is None or e["node"] == node)]


def sends(sim, kind, src=None, dst=None):
    return [e for e in sim.trace if e["type"] == "send" and e["kind"] == kind
            and (src is None or e["src"] == src) and (dst is None or e["dst"] == dst)]


def views(sim):
    """Every node's view at the end of the run."""
    return sim.summary()["nodes"]


def books(sim):
    """Every service's books at the end of the run (kit.business)."""
    return {n: v["books"] for n, v in views(sim).items() if "books" in v}


def safety(sim):
    """The safety violations (not the eventual ones)."""
    return [v for v in sim.violations if not v.get("eventual")]
