"""The orchestrated Saga: the orchestrator and the services, as Garcia-Molina & Salem
and dtm's saga describe them.

Read it beside the package docstring, which states the rules. Each handler is
one transition:

  orchestrator  order --> log submitted (step 1) --> Action T1
                ActionDone ok for T_i --> log step i+1 --> Action T_{i+1};  after T_n: log succeed
                ActionDone not ok (a business failure, final), or T_i unanswered after
                max_retries retries (outcome unknown) --> log aborting at i --> Compensate C_i
                CompensateDone ok for C_i --> log aborting at i-1 --> Compensate C_{i-1};
                after C_1: log failed
                CompensateDone not ok (a temporary error) --> retry C_i with backoff, forever
  service       Action      fence_forward: run (the local transaction, with its fence row),
                            again (answer as before), refuse (compensated first: hanging)
                Compensate  fence_undo: run (undo it), empty (never ran here: write
                            SUSPENDED, change nothing), again (already undone)

Every log write is on disk before the message that depends on it leaves. The
orchestrator's volatile state (retry counts, timers) is rebuilt from the saga
log alone after a restart.
"""

from __future__ import annotations

from ...kit import business
from ...kit.deadlines import Deadlines, backoff
from ...kit.txtable import TxTable
from ...protocol import Node

ORCHESTRATOR = "orch"
SUBMITTED, ABORTING, SUCCEED, FAILED = "submitted", "aborting", "succeed", "failed"
FINAL = (SUCCEED, FAILED)
# A compensation that keeps failing raises an alert after this many failures in a row
# (a person must look at it; the orchestrator keeps retrying anyway).
ALERT_AFTER = 3

def services_of(node_ids) -> list[business.Service]:
    """The saga's steps, in order: T1 at the first service, T2 at the second..."""
    return [business.BY_NAME[n] for n in node_ids if n in business.BY_NAME]


# ---------------------------------------------------------------- the orchestrator

class Orchestrator(Node):
    """dtm's server in saga mode: one global transaction per order, its log on disk.

    disk: next_gid (a counter, so an id is never reused after a crash);
          sagas {gid: {"status": submitted | aborting | succeed | failed, "step": i}},
          the saga log: submitted at i runs T_i, aborting at i runs C_i.
    memory: how many times the current step was tried (for the backoff), its deadlines.
    """

    role = "orchestrator"
    TIMERS = ("step_timeout", "retry")

    def __init__(self, *args):
        super().__init__(*args)
        self.steps = services_of(self.node_ids)
        self.deadlines = Deadlines(self.TIMERS)
        self.attempts: dict[str, int] = {}    # gid -> failed tries of its current step
        self.alerted: dict[str, None] = {}    # gids whose failing compensation raised the alert
        self.table = TxTable(finished=FINAL)  # gid -> what the inspector shows
        for gid, record in self.disk.get("sagas", {}).items():
            self.table[gid] = shown(record)

    def on_start(self, ctx):
        if "sagas" not in self.disk:
            ctx.persist(next_gid=1, sagas={})

    def on_recover(self, ctx):
        """Rebuild from the saga log: resume every unfinished saga where its log says."""
        self.on_start(ctx)
        for gid, record in self.disk["sagas"].items():
            step = record["step"]
            if record["status"] == SUBMITTED:
                # T_step may have run or not: asking again is safe, the fence answers "again".
                ctx.note("saga.resume_forward", gid=gid, step=step, node=self.steps[step - 1].name)
                self.send_action(ctx, gid, step)
            elif record["status"] == ABORTING:
                ctx.note("saga.resume_undo", gid=gid, step=step, node=self.steps[step - 1].name)
                self.send_compensate(ctx, gid, step)

    # -- the saga log

    def log(self, ctx, gid, status, step):
        """One forced write of the saga's record (a new dict: readers never see it change)."""
        sagas = self.disk["sagas"]
        sagas[gid] = {"status": status, "step": step}
        ctx.persist(sagas=sagas)
        self.table[gid] = shown(sagas[gid])

    def record(self, gid):
        return self.disk["sagas"].get(gid)

    # -- dispatch

    def on_request(self, ctx, op, arg):
        if op != "order":
            return
        n = self.disk["next_gid"]
        gid = f"g{n}"
        ctx.persist(next_gid=n + 1)
        self.log(ctx, gid, SUBMITTED, 1)   # logged before T1 leaves
        ctx.note("saga.order", gid=gid, steps=len(self.steps), node=self.steps[0].name)
        self.send_action(ctx, gid, 1)

    def on_message(self, ctx, msg):
        if msg.kind == "ActionDone":
            self.on_action_done(ctx, msg)
        elif msg.kind == "CompensateDone":
            self.on_compensate_done(ctx, msg)

    def on_timer(self, ctx, name):
        for gid in self.deadlines.take_due(ctx, name):
            if name == "step_timeout":
                self.step_timeout(ctx, gid)
            else:
                self.retry(ctx, gid)
        self.deadlines.rearm(ctx, name)

    # -- forward: T1 .. Tn, one at a time

    def send_action(self, ctx, gid, step):
        self.call(ctx, gid, step, "Action")

    def call(self, ctx, gid, step, kind):
        """Send T_step (Action) or C_step (Compensate) and wait step_timeout for its answer."""
        svc = self.steps[step - 1]
        ctx.send(svc.name, kind, gid=gid, step=step, amount=svc.amount)
        self.deadlines.clear(ctx, "retry", gid)
        self.deadlines.set(ctx, "step_timeout", gid, ctx.now + self.params["step_timeout"])

    def on_action_done(self, ctx, msg):
        gid, step = msg.body["gid"], msg.body["step"]
        record = self.record(gid)
        if record is None or record["status"] != SUBMITTED or record["step"] != step:
            return   # late or repeated: that step is settled already
        self.settled(ctx, gid)
        if not msg.body["ok"]:
            # A business failure (declined, out of stock) is final: no retry can change it.
            ctx.note("saga.step_failed", gid=gid, step=step, node=msg.src)
            self.abort(ctx, gid, step)
        elif step < len(self.steps):
            self.log(ctx, gid, SUBMITTED, step + 1)
            self.send_action(ctx, gid, step + 1)
        else:
            self.log(ctx, gid, SUCCEED, step)
            ctx.note("saga.succeed", gid=gid)
            ctx.reply("order", {"gid": gid, "outcome": SUCCEED})

    def abort(self, ctx, gid, step):
        """Log aborting, then compensate backward from the failed or unknown step itself
        (dtm compensates it too: if it never ran there, its compensation is null)."""
        self.log(ctx, gid, ABORTING, step)
        ctx.note("saga.abort", gid=gid, step=step)
        self.send_compensate(ctx, gid, step)

    # -- backward: C_i, then C_{i-1} .. C_1, each retried until it succeeds

    def send_compensate(self, ctx, gid, step):
        self.call(ctx, gid, step, "Compensate")

    def on_compensate_done(self, ctx, msg):
        gid, step = msg.body["gid"], msg.body["step"]
        record = self.record(gid)
        if record is None or record["status"] != ABORTING or record["step"] != step:
            return
        if not msg.body["ok"]:
            # A temporary error: compensations must eventually succeed, so retry, later each time.
            tries = self.attempts.get(gid, 0)
            ms = backoff(self.params["retry_base"], tries, self.params["retry_cap"])
            self.attempts[gid] = tries + 1
            ctx.note("saga.compensation_error", gid=gid, step=step, node=msg.src, ms=ms)
            if tries + 1 >= ALERT_AFTER and gid not in self.alerted:
                self.alerted[gid] = None
                ctx.note("saga.alert", gid=gid, step=step, node=msg.src, tries=tries + 1)
            self.deadlines.clear(ctx, "step_timeout", gid)
            self.deadlines.set(ctx, "retry", gid, ctx.now + ms)
            return
        self.settled(ctx, gid)
        if step > 1:
            self.log(ctx, gid, ABORTING, step - 1)   # C_step is done: C_{step-1} may run now
            self.send_compensate(ctx, gid, step - 1)
        else:
            self.log(ctx, gid, FAILED, 1)
            ctx.note("saga.failed", gid=gid)
            ctx.reply("order", {"gid": gid, "outcome": FAILED})

    # -- no answer in time

    def step_timeout(self, ctx, gid):
        record = self.record(gid)
        if record is None or record["status"] in FINAL:
            return
        step, tries = record["step"], self.attempts.get(gid, 0)
        node = self.steps[step - 1].name
        if record["status"] == SUBMITTED and tries >= self.params["max_retries"]:
            # Did T_step run? Nobody knows. Compensate it too: the fence makes a null
            # compensation harmless and refuses the Action if it arrives after it.
            ctx.note("saga.unknown", gid=gid, step=step, node=node, tries=tries + 1)
            self.settled(ctx, gid)
            self.abort(ctx, gid, step)
            return
        ms = backoff(self.params["retry_base"], tries, self.params["retry_cap"])
        self.attempts[gid] = tries + 1
        key = "saga.timeout" if record["status"] == SUBMITTED else "saga.compensation_timeout"
        ctx.note(key, gid=gid, step=step, node=node, ms=ms)
        self.deadlines.set(ctx, "retry", gid, ctx.now + ms)

    def retry(self, ctx, gid):
        record = self.record(gid)
        if record is None or record["status"] in FINAL:
            return
        if record["status"] == SUBMITTED:
            self.send_action(ctx, gid, record["step"])       # the fence makes a repeat harmless
        else:
            self.send_compensate(ctx, gid, record["step"])

    def settled(self, ctx, gid):
        """The current step has its answer: forget its retries and deadlines."""
        self.attempts.pop(gid, None)
        self.deadlines.clear(ctx, "step_timeout", gid)
        self.deadlines.clear(ctx, "retry", gid)

    # -- what a person sees

    def view(self):
        sagas = self.disk.get("sagas", {})
        newest = f"g{self.disk.get('next_gid', 1) - 1}"
        record = sagas.get(newest)
        if record is None:
            label = ["saga.label.idle", {}]
        else:
            status, step = record["status"], record["step"]
            node = self.steps[step - 1].name
            label = [f"saga.label.{status}", {"gid": newest, "step": step, "node": node}]
            if status in FINAL:
                label = [f"saga.label.{status}", {"gid": newest}]
        return {
            "role": self.role,
            "label": label,
            "next_gid": self.disk.get("next_gid", 1),
            "sagas": self.table.recent(),
            "retries": dict(self.attempts),
        }


def shown(record) -> str:
    """A saga log record as the inspector shows it: "submitted T2", "aborting C1", "failed"."""
    status = record["status"]
    if status == SUBMITTED:
        return f"submitted T{record['step']}"
    if status == ABORTING:
        return f"aborting C{record['step']}"
    return status


# ---------------------------------------------------------------- a service

class SagaService(business.ServiceNode):
    """One step of the saga: its local transaction T_i (available -> used) and its
    compensation C_i (used -> available), each guarded by the fence (dtm's
    sub-transaction barrier), whose row is written in the same local transaction.

    Volatile, as a person causes it from the menu: the refund gateway's outage
    (fail_compensation), and what a reader saw (read).
    """

    FORWARD = ("Action",)

    def __init__(self, *args):
        super().__init__(*args)
        self.gateway_errors = 0               # compensations left that fail for now
        self.reader_saw: dict[str, None] = {}  # gids whose action a reader saw, in order

    def on_request(self, ctx, op, arg):
        if op == "fail_compensation":
            self.gateway_errors = self.params["compensation_failures"]
            ctx.note("saga.gateway_down", node=self.id, count=self.gateway_errors)
            ctx.reply(op, "ok")
        elif op == "read":
            # No lock stops a reader: it sees every step that ran, finished saga or not.
            fence = self.disk["fence"]
            for gid, row in fence.items():
                if row == business.FORWARD:
                    self.reader_saw[gid] = None
            ctx.note("saga.read", node=self.id)
            ctx.reply(op, {"books": dict(self.disk["books"])})
        else:
            super().on_request(ctx, op, arg)

    def handle(self, ctx, msg):
        if msg.kind == "Action":
            self.on_action(ctx, msg)
        elif msg.kind == "Compensate":
            self.on_compensate(ctx, msg)

    def on_action(self, ctx, msg):
        gid, step, amount = msg.body["gid"], msg.body["step"], msg.body["amount"]
        if "no_barrier" in self.bugs:
            decision = "run"        # the bug: no fence row is read or written
        else:
            decision = business.fence_forward(self.row(gid))
        if decision == "run":
            if self.business_fails(ctx, gid, amount):
                # The local transaction rolls back, its fence row with it: nothing happened here.
                ctx.send(msg.src, "ActionDone", gid=gid, step=step, ok=False, why="business")
                return
            row = None if "no_barrier" in self.bugs else business.FORWARD
            self.apply(ctx, gid, "action", amount, row)
            ctx.send(msg.src, "ActionDone", gid=gid, step=step, ok=True, why="done")
        elif decision == "again":
            ctx.note("saga.action_again", gid=gid, node=self.id)
            ctx.send(msg.src, "ActionDone", gid=gid, step=step, ok=True, why="again")
        else:
            ctx.note("saga.hanging_refused", gid=gid, node=self.id)
            ctx.send(msg.src, "ActionDone", gid=gid, step=step, ok=False, why="refused")

    def on_compensate(self, ctx, msg):
        gid, step, amount = msg.body["gid"], msg.body["step"], msg.body["amount"]
        if "no_barrier" in self.bugs:
            decision = "run"
        else:
            decision = business.fence_undo(self.row(gid))
            if decision == "again" and "compensation_not_idempotent" in self.bugs:
                decision = "run"    # the bug: it undoes whatever it is told to, every time
        if decision == "run":
            if self.gateway_errors:
                self.gateway_errors -= 1
                ctx.note("saga.gateway_error", gid=gid, node=self.id)
                ctx.send(msg.src, "CompensateDone", gid=gid, step=step, ok=False, why="temporary")
                return
            row = None if "no_barrier" in self.bugs else business.UNDONE
            self.apply(ctx, gid, "compensation", amount, row)
            if gid in self.reader_saw:
                del self.reader_saw[gid]
                ctx.note("saga.dirty_read", gid=gid, node=self.id)
            why = "done"
        elif decision == "empty":
            # Null compensation: T_i never ran here. Change nothing, but leave a row so
            # that T_i, if it is still on its way, is refused when it comes (hanging).
            self.write_row(ctx, gid, business.SUSPENDED)
            ctx.observe("compensation_empty", gid=gid)
            ctx.note("saga.null_compensation", gid=gid, node=self.id)
            why = "empty"
        else:
            ctx.note("saga.compensate_again", gid=gid, node=self.id)
            why = "again"
        ctx.send(msg.src, "CompensateDone", gid=gid, step=step, ok=True, why=why)

    def view(self):
        v = super().view()
        v["gateway_errors"] = self.gateway_errors
        v["reader_saw"] = list(self.reader_saw)
        return v
