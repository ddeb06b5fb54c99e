"""TCC: the initiator, the transaction coordinator (TC) and the branch services.

Read it beside the package docstring, which states the rules. Each handler is
one step of the flow dtm and Seata implement:

  initiator  order --Prepare--> TC;  per branch: Register --> TC, then Try --> service;
             every Try ok: Submit --> TC;  a Try failed or unanswered: Abort --> TC
  TC         Prepare: global PREPARED (timeout armed);  Register: branch recorded
             Submit: SUBMITTED, Confirm every branch in order;  Abort or the timeout:
             ABORTING, Cancel every registered branch in reverse order; each call
             retried with exponential backoff until it succeeds; then SUCCEED / FAILED
  service    Try: freeze (available -> held);  Confirm: spend (held -> used);
             Cancel: release (held -> available); each through the fence

Everything the TC decides is written to its disk before the messages that depend
on it leave (persist before send).
"""

from __future__ import annotations

from ...kit import business
from ...kit.business import ServiceNode
from ...kit.deadlines import Deadlines, backoff
from ...kit.txtable import TxTable
from ...protocol import Node

INITIATOR, TC = "app", "tc"
FINAL = ("SUCCEED", "FAILED")
# What the TC calls in each phase, and in which order it walks the branches.
PHASE_CALL = {"SUBMITTED": "Confirm", "ABORTING": "Cancel"}


class TimedNode(Node):
    """Dispatch by message kind and timer name; many deadlines per timer (kit.deadlines)."""

    TIMERS: tuple[str, ...] = ()
    HANDLERS: dict = {}          # message kind -> handler(self, ctx, msg)
    TIMER_HANDLERS: dict = {}    # timer name -> handler(self, ctx, gid)

    def __init__(self, *args):
        super().__init__(*args)
        self.deadlines = Deadlines(self.TIMERS)

    def on_message(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_timer(self, ctx, name):
        for gid in self.deadlines.take_due(ctx, name):
            self.TIMER_HANDLERS[name](self, ctx, gid)
        self.deadlines.rearm(ctx, name)

    def later(self, ctx, timer, gid, ms):
        self.deadlines.set(ctx, timer, gid, ctx.now + ms)


# ---------------------------------------------------------------- initiator

class Initiator(TimedNode):
    """The application that places the order. Its progress is volatile: if it crashes,
    the TC's timeout aborts what it left in PREPARED."""

    role = "initiator"
    TIMERS = ("call",)

    def __init__(self, *args):
        super().__init__(*args)
        self.branches = [s.name for s in business.services(len(self.node_ids) - 2)]
        # gid -> ("PREPARING",) | ("REGISTERING", i) | ("TRYING", i) | ("SUBMITTING",) | ("ABORTING",) | (result,)
        self.step = TxTable(finished=("SUCCEEDED", "FAILED"))
        self.at: dict[str, int] = {}   # gid -> branch index being registered or tried

    def on_request(self, ctx, op, arg):
        if op != "order":
            return
        n = self.disk.get("next_gid", 1)
        gid = f"g{n}"
        ctx.persist(next_gid=n + 1)     # durable: a gid is never reused after a crash
        ctx.note("tcc.order", gid=gid)
        self.step[gid] = "PREPARING"
        self.call(ctx, gid)

    def call(self, ctx, gid):
        """(Re)send what this order waits for. A call to the TC is retried until answered;
        a Try is sent once: no answer in time means abort (the fence copes with a late one)."""
        step = self.step[gid]
        if step == "PREPARING":
            ctx.send(TC, "Prepare", gid=gid)
        elif step == "REGISTERING":
            i = self.at[gid]
            service = business.BY_NAME[self.branches[i]]
            ctx.send(TC, "Register", gid=gid, branch=service.name, amount=service.amount)
        elif step == "TRYING":
            service = business.BY_NAME[self.branches[self.at[gid]]]
            ctx.send(service.name, "Try", gid=gid, amount=service.amount)
        elif step in ("SUBMITTING", "ABORTING"):
            ctx.send(TC, "Submit" if step == "SUBMITTING" else "Abort", gid=gid)
        self.later(ctx, "call", gid, self.params["call_timeout"])

    def next_step(self, ctx, gid, step):
        self.step[gid] = step
        self.call(ctx, gid)

    def on_prepared(self, ctx, msg):
        gid = msg.body["gid"]
        if self.step.get(gid) == "PREPARING":
            self.at[gid] = 0
            self.next_step(ctx, gid, "REGISTERING")

    def on_registered(self, ctx, msg):
        gid, branch = msg.body["gid"], msg.body["branch"]
        if self.step.get(gid) != "REGISTERING" or self.branches[self.at[gid]] != branch:
            return
        if not msg.body["ok"]:
            # The TC gave up on this order already (its timeout): nothing more to try.
            ctx.note("tcc.register_refused", gid=gid, branch=branch)
            self.next_step(ctx, gid, "ABORTING")
            return
        self.next_step(ctx, gid, "TRYING")

    def on_try_done(self, ctx, msg):
        gid = msg.body["gid"]
        if self.step.get(gid) != "TRYING" or self.branches[self.at[gid]] != msg.src:
            return
        if not msg.body["ok"]:
            ctx.note("tcc.try_failed", gid=gid, branch=msg.src)
            self.next_step(ctx, gid, "ABORTING")
        elif self.at[gid] + 1 < len(self.branches):
            self.at[gid] += 1
            self.next_step(ctx, gid, "REGISTERING")
        else:
            ctx.note("tcc.submit", gid=gid)
            self.next_step(ctx, gid, "SUBMITTING")

    def on_outcome(self, ctx, msg):
        gid, status = msg.body["gid"], msg.body["status"]
        if self.step.get(gid) not in ("SUBMITTING", "ABORTING"):
            return
        self.deadlines.clear(ctx, "call", gid)
        self.at.pop(gid, None)
        result = "SUCCEEDED" if status in ("SUBMITTED", "SUCCEED") else "FAILED"
        self.step[gid] = result
        ctx.note("tcc.order_done" if result == "SUCCEEDED" else "tcc.order_failed", gid=gid)
        ctx.reply("order", {"gid": gid, "result": result})

    def call_due(self, ctx, gid):
        step = self.step.get(gid)
        if step == "TRYING":
            ctx.note("tcc.try_timeout", gid=gid, branch=self.branches[self.at[gid]])
            self.next_step(ctx, gid, "ABORTING")
        elif step not in (None, "SUCCEEDED", "FAILED"):
            self.call(ctx, gid)

    HANDLERS = {"Prepared": on_prepared, "Registered": on_registered, "TryDone": on_try_done,
                "Outcome": on_outcome}
    TIMER_HANDLERS = {"call": call_due}

    def view(self):
        steps = self.step.recent()
        for gid, i in self.at.items():
            if gid in steps:
                steps[gid] = f"{steps[gid]} {self.branches[i]}"
        label = (["tcc.label.initiator", {"gid": gid, "step": steps[gid]}] if (gid := next(reversed(steps), None))
                 else ["tcc.label.idle", {}])
        return {"role": self.role, "label": label, "next_gid": self.disk.get("next_gid", 1), "orders": steps}


# ---------------------------------------------------------------- transaction coordinator

class Coordinator(TimedNode):
    """The TC (dtm server, Seata TC). Durable: per global transaction its status and
    its registered branches; it drives Confirm or Cancel to the end, whoever crashed."""

    role = "coordinator"
    TIMERS = ("expire", "retry")

    def __init__(self, *args):
        super().__init__(*args)
        self.status = TxTable(finished=FINAL)   # a view of disk["globals"], kept small
        self.cursor: dict[str, int] = {}        # gid -> index of the branch being called
        self.attempt: dict[str, int] = {}       # gid -> failed calls to that branch so far

    def globals(self) -> dict:
        return self.disk.setdefault("globals", {})

    def on_start(self, ctx):
        ctx.persist(globals=self.globals())

    def on_recover(self, ctx):
        """Everything comes back from disk: PREPARED ones get their timeout again,
        SUBMITTED and ABORTING ones are driven on from their first branch (calls repeat:
        the fence makes them harmless)."""
        for gid, g in self.globals().items():
            self.status[gid] = g["status"]
            if g["status"] == "PREPARED":
                self.deadlines.set(ctx, "expire", gid, max(ctx.now, g["created"] + self.params["global_timeout"]))
            elif g["status"] in PHASE_CALL:
                ctx.note("tcc.recover", gid=gid, status=g["status"])
                self.start_phase(ctx, gid)

    def write(self, ctx, gid, **changes):
        """Change a global transaction's record on disk (a forced write)."""
        g = {**self.globals().get(gid, {}), **changes}
        self.globals()[gid] = g
        ctx.persist(globals=self.globals())
        self.status[gid] = g["status"]

    # -- the initiator's calls

    def on_prepare(self, ctx, msg):
        gid = msg.body["gid"]
        if gid not in self.globals():
            self.write(ctx, gid, status="PREPARED", branches=[], created=ctx.now)
            self.later(ctx, "expire", gid, self.params["global_timeout"])
            ctx.note("tcc.prepared", gid=gid)
        ctx.send(msg.src, "Prepared", gid=gid)

    def on_register(self, ctx, msg):
        gid, branch, amount = msg.body["gid"], msg.body["branch"], msg.body["amount"]
        g = self.globals().get(gid)
        ok = g is not None and g["status"] == "PREPARED"
        if ok and all(b != branch for b, _ in g["branches"]):
            # Recorded before the initiator may send Try: whatever happens next, Cancel reaches it.
            self.write(ctx, gid, branches=[*g["branches"], [branch, amount]])
            ctx.note("tcc.registered", gid=gid, branch=branch)
        ctx.send(msg.src, "Registered", gid=gid, branch=branch, ok=ok)

    def on_submit(self, ctx, msg):
        self.end_request(ctx, msg, "SUBMITTED")

    def on_abort(self, ctx, msg):
        self.end_request(ctx, msg, "ABORTING")

    def end_request(self, ctx, msg, wanted):
        gid = msg.body["gid"]
        g = self.globals().get(gid)
        if g is None:
            self.write(ctx, gid, status="FAILED", branches=[], created=ctx.now)   # never prepared: nothing to undo
        elif g["status"] == "PREPARED":
            self.deadlines.clear(ctx, "expire", gid)
            self.write(ctx, gid, status=wanted)
            ctx.note("tcc.submitted" if wanted == "SUBMITTED" else "tcc.aborting", gid=gid)
            ctx.send(msg.src, "Outcome", gid=gid, status=wanted)   # the initiator need not wait for phase two
            self.start_phase(ctx, gid)
            return
        # Whatever it decided first stands: a Submit after the timeout learns ABORTING.
        ctx.send(msg.src, "Outcome", gid=gid, status=self.globals()[gid]["status"])

    def expire_due(self, ctx, gid):
        g = self.globals().get(gid)
        if g is not None and g["status"] == "PREPARED":
            ctx.note("tcc.expired", gid=gid, ms=self.params["global_timeout"])
            self.write(ctx, gid, status="ABORTING")
            self.start_phase(ctx, gid)

    # -- phase two: Confirm every branch in order, or Cancel every registered one in reverse

    def order(self, gid) -> list:
        g = self.globals()[gid]
        return g["branches"] if g["status"] == "SUBMITTED" else g["branches"][::-1]

    def start_phase(self, ctx, gid):
        self.cursor[gid] = 0
        self.attempt[gid] = 0
        self.call_branch(ctx, gid)

    def call_branch(self, ctx, gid):
        g = self.globals()[gid]
        branches = self.order(gid)
        i = self.cursor[gid]
        if i == len(branches):
            self.finish(ctx, gid)
            return
        branch, amount = branches[i]
        ctx.send(branch, PHASE_CALL[g["status"]], gid=gid, amount=amount)
        wait = backoff(self.params["retry_base"], self.attempt[gid], self.params["retry_cap"])
        self.later(ctx, "retry", gid, wait)

    def on_branch_done(self, ctx, msg):
        gid = msg.body["gid"]
        g = self.globals().get(gid)
        if g is None or g["status"] not in PHASE_CALL or gid not in self.cursor:
            return
        expected = "ConfirmDone" if g["status"] == "SUBMITTED" else "CancelDone"
        branch = self.order(gid)[self.cursor[gid]][0] if self.cursor[gid] < len(g["branches"]) else None
        if msg.kind != expected or msg.src != branch:
            return   # a late answer to an earlier call
        if not msg.body["ok"]:
            return   # the branch could not do it now: the retry timer calls again
        self.cursor[gid] += 1
        self.attempt[gid] = 0
        self.call_branch(ctx, gid)

    def retry_due(self, ctx, gid):
        if gid in self.cursor and self.globals()[gid]["status"] in PHASE_CALL:
            self.attempt[gid] += 1
            branch = self.order(gid)[self.cursor[gid]][0]
            ctx.note("tcc.retry", gid=gid, branch=branch, call=PHASE_CALL[self.globals()[gid]["status"]],
                     attempt=self.attempt[gid] + 1)
            self.call_branch(ctx, gid)

    def finish(self, ctx, gid):
        status = "SUCCEED" if self.globals()[gid]["status"] == "SUBMITTED" else "FAILED"
        self.deadlines.clear(ctx, "retry", gid)
        del self.cursor[gid], self.attempt[gid]
        self.write(ctx, gid, status=status)
        ctx.note("tcc.succeed" if status == "SUCCEED" else "tcc.failed", gid=gid)

    HANDLERS = {"Prepare": on_prepare, "Register": on_register, "Submit": on_submit, "Abort": on_abort,
                "ConfirmDone": on_branch_done, "CancelDone": on_branch_done}
    TIMER_HANDLERS = {"expire": expire_due, "retry": retry_due}

    def view(self):
        recent = self.status.recent()
        gid = next(reversed(recent), None)
        label = ["tcc.label.coordinator", {"gid": gid, "status": recent[gid]}] if gid else ["tcc.label.idle", {}]
        g = self.globals().get(gid, {})
        return {"role": self.role, "label": label, "globals": recent,
                "branches": [b for b, _ in g.get("branches", [])]}

    def observe(self):
        """Every global transaction: status and registered branches (the live disk: read only)."""
        return {"role": self.role, "globals": self.globals()}


# ---------------------------------------------------------------- branch services

class Branch(ServiceNode):
    """A TCC branch: Try freezes, Confirm spends what was frozen, Cancel releases it.

    The fence (kit.business) is Seata's tcc_fence_log: its row is written in the
    same local transaction as the business effect, and it decides each call.
    The bugs turn parts of it off."""

    FORWARD = ("Try",)

    def handle(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_try(self, ctx, msg):
        gid, amount = msg.body["gid"], msg.body["amount"]
        what = "run" if "no_barrier" in self.bugs else business.fence_forward(self.row(gid))
        if what == "refuse":
            # Its Cancel came first (SUSPENDED): a Try that runs now would freeze funds forever.
            ctx.note("tcc.hanging_refused", gid=gid, node=self.id)
            ctx.send(msg.src, "TryDone", gid=gid, ok=False)
        elif what == "again":
            ctx.send(msg.src, "TryDone", gid=gid, ok=True)
        elif self.business_fails(ctx, gid, amount):
            # The local transaction rolls back, fence row and all: nothing is frozen.
            ctx.send(msg.src, "TryDone", gid=gid, ok=False)
        else:
            self.apply(ctx, gid, "try", amount, self.fenced(business.FORWARD))
            ctx.send(msg.src, "TryDone", gid=gid, ok=True)

    def on_confirm(self, ctx, msg):
        gid, amount = msg.body["gid"], msg.body["amount"]
        what = "run" if "no_barrier" in self.bugs else business.fence_confirm(self.row(gid))
        if what == "again" and "confirm_not_idempotent" in self.bugs:
            what = "run"   # BUG: the fence row is written but not read: a repeated Confirm spends again
        if what == "run":
            self.apply(ctx, gid, "confirm", amount, self.fenced(business.CONFIRMED))
        elif what == "again":
            ctx.note("tcc.confirm_again", gid=gid, node=self.id)
        ctx.send(msg.src, "ConfirmDone", gid=gid, ok=what in ("run", "again"))

    def on_cancel(self, ctx, msg):
        gid, amount = msg.body["gid"], msg.body["amount"]
        ctx.observe("cancel_seen", gid=gid)
        what = "run" if "no_barrier" in self.bugs else business.fence_undo(self.row(gid))
        if what == "run":
            self.apply(ctx, gid, "cancel", amount, self.fenced(business.UNDONE))
        elif what == "empty":
            # Cancel before any Try: nothing to release. The row also refuses a late Try.
            self.write_row(ctx, gid, business.SUSPENDED)
            ctx.note("tcc.empty_rollback", gid=gid, node=self.id)
        elif what == "again":
            ctx.note("tcc.cancel_again", gid=gid, node=self.id)
        ctx.send(msg.src, "CancelDone", gid=gid, ok=what != "refuse")

    def fenced(self, row):
        """The fence row to write with the effect; none when the fence is off (the bug)."""
        return None if "no_barrier" in self.bugs else row

    HANDLERS = {"Try": on_try, "Confirm": on_confirm, "Cancel": on_cancel}
