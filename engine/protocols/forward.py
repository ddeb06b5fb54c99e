"""A trivial forwarding protocol, used to benchmark the engine itself.

Node n1 starts `tokens` messages; every node that receives one forwards it to
a random other node. No invariants, no durable state.
"""

from ..protocol import Node, Param, Protocol


class ForwardNode(Node):
    role = "relay"

    def on_start(self, ctx):
        self.seen = 0
        if self.id == self.node_ids[0]:
            for i in range(self.params["tokens"]):
                ctx.send(self.peers[i % len(self.peers)], "token", n=i)

    def on_message(self, ctx, msg):
        self.seen += 1
        ctx.send(ctx.rng.choice(self.peers), "token", n=msg.body["n"])

    def view(self):
        return {"role": "relay", "seen": self.seen}


class Forward(Protocol):
    name = "forward"
    title = "Forwarding (benchmark)"
    category = "demo"
    summary = "Tokens hop between random nodes; measures the engine, teaches nothing."
    nodes_default = 5
    nodes_min = 2
    nodes_max = 9
    params = (Param("tokens", 20, 1, 1000, "messages kept in flight"),)
    roles = {"relay": "#6b7280"}
    default_speed = 1.0

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return ForwardNode(node_id, node_ids, params, bugs, disk)


PROTOCOL = Forward()
