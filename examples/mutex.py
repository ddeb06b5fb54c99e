"""A lock server in one file: an example of writing your own protocol.

Run it:   python -m engine --protocol-file examples/mutex.py run --protocol mutex
Break it: python -m engine --protocol-file examples/mutex.py check --protocol mutex --bug forget_holder

n1 is the lock server; every other node is a client that, on an "acquire"
request, asks for the lock, holds it for `hold` ms and releases it. The
server writes the holder to disk before it sends the grant. With the bug
"forget_holder" it keeps the holder only in memory, so after a crash it
grants the lock a second time while the first holder still has it.
"""

from engine import Bug, Checker, Field, Node, Operation, Param, Protocol, Violation


class LockServer(Node):
    role = "server"

    def on_start(self, ctx):
        self.queue = []  # volatile: clients retry, so a lost queue only delays them
        self.memory_holder = None

    def holder(self):
        return self.memory_holder if "forget_holder" in self.bugs else self.disk.get("holder")

    def set_holder(self, ctx, holder):
        if "forget_holder" in self.bugs:
            self.memory_holder = holder
        else:
            ctx.persist(holder=holder)  # durable before the grant goes out

    def on_message(self, ctx, msg):
        who = [msg.src, msg.body["req"]]
        if msg.kind == "acquire":
            if self.holder() is None:
                self.set_holder(ctx, who)
            if self.holder() == who:
                ctx.send(msg.src, "grant", req=msg.body["req"])
            elif who not in self.queue:
                self.queue.append(who)
        elif msg.kind == "release" and self.holder() == who:
            self.set_holder(ctx, None)
            if self.queue:
                nxt = self.queue.pop(0)
                self.set_holder(ctx, nxt)
                ctx.send(nxt[0], "grant", req=nxt[1])

    def view(self):
        return {"role": "server", "holder": self.holder(), "queue": list(self.queue)}


class Client(Node):
    role = "client"

    def on_start(self, ctx):
        self.waiting = None   # request id we are waiting on
        self.holding = None   # request id we hold the lock under

    def on_recover(self, ctx):
        self.on_start(ctx)
        last = self.disk.get("req", 0)
        if last:  # we may have held the lock when we crashed: give it back
            ctx.send(self.node_ids[0], "release", req=last)

    def on_request(self, ctx, op, arg):
        if self.waiting is None and self.holding is None:
            req = self.disk.get("req", 0) + 1
            ctx.persist(req=req)  # request ids never repeat, even across crashes
            self.waiting = req
            self._ask(ctx)

    def _ask(self, ctx):
        ctx.send(self.node_ids[0], "acquire", req=self.waiting)
        ctx.set_timer("retry", self.params["retry"])

    def on_message(self, ctx, msg):
        if msg.kind == "grant" and msg.body["req"] == self.waiting:
            self.holding, self.waiting = self.waiting, None
            ctx.cancel_timer("retry")
            ctx.set_timer("release", self.params["hold"])

    def on_timer(self, ctx, name):
        if name == "retry" and self.waiting is not None:
            self._ask(ctx)
        elif name == "release" and self.holding is not None:
            ctx.send(self.node_ids[0], "release", req=self.holding)
            self.holding = None

    def view(self):
        return {"role": "client", "holding": self.holding is not None, "waiting": self.waiting is not None,
                "req": self.disk.get("req", 0)}


class MutualExclusion(Checker):
    invariants = (("mutual_exclusion", "at most one client holds the lock"),)

    def after_event(self, sim, node_id, msg):
        holders = [n for n in sim.ids[1:] if sim.up[n] and sim.nodes[n].holding is not None]
        if len(holders) > 1:
            return [Violation("mutual_exclusion", f"{' and '.join(holders)} hold the lock at once", tuple(holders))]
        return []


class Mutex(Protocol):
    name = "mutex"
    title = "Lock server (example)"
    category = "demo"
    summary = "A lock server that must remember who holds the lock."
    nodes_default = 3
    nodes_min = 2
    nodes_max = 6
    params = (Param("hold", 1000, 1, 10_000, "how long a client keeps the lock (ms)"),
              Param("retry", 200, 10, 10_000, "client retry interval (ms)"))
    bugs = (Bug("forget_holder", "the server keeps the holder in memory only"),)
    operations = (Operation("acquire", roles=("client",)),)
    fields = (Field("holder", durable=True), Field("queue"), Field("holding"), Field("waiting"),
              Field("req", durable=True))
    roles = {"server": "#2563eb", "client": "#16a34a"}
    timers = ("retry", "release")
    checker_class = MutualExclusion
    fuzz_weights = {"request": 10, "crash": 4}

    def layout(self, ids):
        return {n: {"place": "center" if n == ids[0] else "ring"} for n in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = LockServer if node_id == node_ids[0] else Client
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, ids):
        return (rng.choice(ids[1:]), "acquire", None)


PROTOCOL = Mutex()
