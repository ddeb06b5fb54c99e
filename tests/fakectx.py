"""Driving one node by hand in a test: a Context that records what the node does.

Each send is recorded with `snapshot(disk)` taken at that moment, so a test can
check that what a message depends on was on disk before it left (persist before
send). Client replies are recorded among the sends as ("client", op, result, None).
"""

import random

from engine.protocol import Message


class FakeCtx:
    def __init__(self, node, snapshot=lambda disk: None):
        self.node = node
        self.snapshot = snapshot
        self.sent = []
        self.facts = []      # what the node told the checker (ctx.observe)
        self.timers = {}
        self.rng = random.Random(0)
        self.now = 0
        self.node_ids = node.node_ids

    def send(self, dst, kind, **body):
        self.sent.append((dst, kind, body, self.snapshot(self.node.disk)))

    def set_timer(self, name, delay):
        self.timers[name] = delay

    def cancel_timer(self, name):
        self.timers.pop(name, None)

    def timer_armed(self, name):
        return name in self.timers

    def persist(self, **fields):
        self.node.disk.update(fields)

    def note(self, key, /, **args):
        pass

    def observe(self, fact, /, **args):
        self.facts.append((fact, args))

    def reply(self, op, result):
        self.sent.append(("client", op, result, None))


def make_node(proto, node_id, ids, snapshot, bugs=(), disk=None):
    """A node of `proto` with default parameters, started, and its FakeCtx."""
    params = {p.name: p.default for p in proto.params}
    node = proto.create_node(node_id, ids, params, frozenset(bugs), {} if disk is None else disk)
    ctx = FakeCtx(node, snapshot)
    node.on_start(ctx)
    return node, ctx


def deliver(node, ctx, src, kind, **body):
    """Deliver one message to the node; what it sent in answer."""
    ctx.sent.clear()
    node.on_message(ctx, Message(1, src, node.id, kind, body, 0, 0))
    return ctx.sent
