"""The mutations bench/mutations.py applies: one small edit each to a protocol's
node logic, imitating a bug real implementations (or the literature) have had.

Each entry: id, protocol, file, find (text occurring exactly once in that file),
replace (the mutated text, still valid Python) and what (the bug it imitates).
Only protocol node logic is edited: never a checker, the kit or the engine.
The list is a measurement, not a target: a mutation `check` misses stays here.

An entry with "equivalent" (a reason) cannot break the protocol within the
faults it claims to survive (Protocol.tolerates): 3PC is only safe without
message loss, and an edit that matters only once a message is lost is, for
3PC's claim, an equivalent mutant. The report scores with and without them.
"""

from __future__ import annotations

# protocol name -> the suffix of its test file (tests/test_<pkg>.py)
PACKAGES = {"2pc": "twopc", "raft": "raft", "3pc": "threepc", "tcc": "tcc", "saga": "saga",
            "saga_choreo": "saga_choreo", "outbox": "outbox", "cap": "cap", "mq_tx": "mq_tx",
            "paxos": "paxos", "multipaxos": "multipaxos", "vr": "vr"}

TWOPC = "engine/protocols/twopc/node.py"
RAFT = "engine/protocols/raft/node.py"

MUTANTS: list[dict] = [
    # ------------------------------------------------------------------ 2PC
    {
        "id": "2pc-01", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator sends Commit as soon as every vote is yes, before its COMMIT record is on disk",
        "find": '            self.deadlines.set(ctx, "flush", tx, ctx.now + self.params["log_delay"])\n',
        "replace": ('            self.deadlines.set(ctx, "flush", tx, ctx.now + self.params["log_delay"])\n'
                    '            for p in self.participants:\n'
                    '                ctx.send(p, "Commit", tx=tx)\n'),
    },
    {
        "id": "2pc-02", "protocol": "2pc", "file": TWOPC,
        "what": "participant votes yes without force-writing PREPARED (the promise lives only in memory)",
        "find": '        wal.append(ctx, self.disk, "PREPARED", tx, key)\n',
        "replace": "",
    },
    {
        "id": "2pc-03", "protocol": "2pc", "file": TWOPC,
        "what": "participant recovery replays PREPARED records but does not re-take their locks",
        "find": "                self.locks[record[2]] = tx\n",
        "replace": "",
    },
    {
        "id": "2pc-04", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator recovery treats a transaction with no COMMIT record as committed (presumed commit "
                "without a collecting record)",
        "find": ('                ctx.note("2pc.presumed_abort", tx=tx)\n'
                 '                self.phase[tx] = "ABORTED"\n'),
        "replace": ('                ctx.note("2pc.presumed_abort", tx=tx)\n'
                    '                self.phase[tx] = "COMMITTING"\n'
                    '                self.pending[tx] = list(self.participants)\n'
                    '                self.send_decision(ctx, tx)\n'),
    },
    {
        "id": "2pc-05", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator answers QueryOutcome with presumed ABORT while still collecting votes",
        "find": 'if self.phase.get(tx) in ("COLLECTING", "LOGGING"):',
        "replace": 'if self.phase.get(tx) == "LOGGING":',
    },
    {
        "id": "2pc-06", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator answers QueryOutcome with presumed ABORT while its COMMIT record is being written",
        "find": 'if self.phase.get(tx) in ("COLLECTING", "LOGGING"):',
        "replace": 'if self.phase.get(tx) == "COLLECTING":',
    },
    {
        "id": "2pc-07", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator decides COMMIT once a majority of participants voted yes, not all of them",
        "find": 'elif all(self.votes[tx].get(p) == "yes" for p in self.participants):',
        "replace": 'elif sum(v == "yes" for v in self.votes[tx].values()) * 2 > len(self.participants):',
    },
    {
        "id": "2pc-08", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator's COMMIT decision is not force-written (kept in memory, lost in a crash)",
        "find": '        wal.append(ctx, self.disk, "COMMIT", tx)\n',
        "replace": "",
    },
    {
        "id": "2pc-09", "protocol": "2pc", "file": TWOPC,
        "what": "abort of a transaction queued for a lock releases that key's lock, held by another transaction",
        "find": ("        if tx in self.waiting:          # aborted before it got the lock\n"
                 "            del self.waiting[tx]\n"),
        "replace": ("        if tx in self.waiting:          # aborted before it got the lock\n"
                    "            self.locks.pop(self.waiting.pop(tx), None)\n"),
    },
    {
        "id": "2pc-10", "protocol": "2pc", "file": TWOPC,
        "what": "participant recovery aborts an in-doubt (PREPARED) transaction on its own instead of asking",
        "find": ('                ctx.send(COORDINATOR, "QueryOutcome", tx=tx)\n'
                 '                self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])\n'),
        "replace": '                self.finish(ctx, tx, "ABORTED")\n',
    },
    {
        "id": "2pc-11", "protocol": "2pc", "file": TWOPC,
        "what": "participant answers a retransmitted Prepare with yes even when it has aborted the transaction",
        "find": 'ctx.send(COORDINATOR, "Vote", tx=tx, vote="no" if state == "ABORTED" else "yes")',
        "replace": 'ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")',
    },
    {
        "id": "2pc-12", "protocol": "2pc", "file": TWOPC,
        "what": "lock table looked up by transaction instead of key: a locked key is granted to a second Prepare",
        "find": "        holder = self.locks.get(key)\n",
        "replace": "        holder = self.locks.get(tx)\n",
    },
    {
        "id": "2pc-13", "protocol": "2pc", "file": TWOPC,
        "what": "releasing a lock wakes the first queued Prepare whatever key it waits for (wrong waiter woken)",
        "find": "        waiters = [w for w, wkey in self.waiting.items() if wkey == key]\n",
        "replace": "        waiters = list(self.waiting)\n",
    },
    {
        "id": "2pc-14", "protocol": "2pc", "file": TWOPC,
        "what": "recovered in-doubt participant asks the coordinator once and never again",
        "find": ('                ctx.send(COORDINATOR, "QueryOutcome", tx=tx)\n'
                 '                self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])\n'),
        "replace": '                ctx.send(COORDINATOR, "QueryOutcome", tx=tx)\n',
    },
    {
        "id": "2pc-15", "protocol": "2pc", "file": TWOPC,
        "what": "prepared participant never asks about the outcome, relying on the coordinator to push it",
        "find": ('        ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")\n'
                 '        self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])\n'),
        "replace": '        ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")\n',
    },
    {
        "id": "2pc-16", "protocol": "2pc", "file": TWOPC,
        "what": "coordinator stays silent about an aborted transaction it has forgotten instead of answering "
                "presumed abort",
        "find": "        if outcome is None:\n            ctx.note(\"2pc.not_yet\", tx=tx, node=msg.src)\n",
        "replace": ('        if outcome is None or (outcome == "ABORT" and tx not in self.pending):\n'
                    '            ctx.note("2pc.not_yet", tx=tx, node=msg.src)\n'),
    },
    {
        "id": "2pc-17", "protocol": "2pc", "file": TWOPC,
        "what": "early lock release: participant votes yes without holding the lock until the outcome",
        "find": "        self.keys[tx] = key\n        self.locks[key] = tx\n",
        "replace": "        self.keys[tx] = key\n",
    },
    # ------------------------------------------------------------------ Raft
    {
        "id": "raft-01", "protocol": "raft", "file": RAFT,
        "what": "vote granted and recorded in memory only; votedFor not persisted before the reply",
        "find": "                self.save_term_and_vote(ctx, self.term, src)   # on disk before the reply leaves\n",
        "replace": "                self.voted_for = src\n",
    },
    {
        "id": "raft-02", "protocol": "raft", "file": RAFT,
        "what": "currentTerm not persisted (only votedFor is): a restarted node goes back to an older term",
        "find": "            ctx.persist(term=term, votedFor=voted_for)\n",
        "replace": "            ctx.persist(votedFor=voted_for)\n",
    },
    {
        "id": "raft-03", "protocol": "raft", "file": RAFT,
        "what": "log up-to-date check compares the last index before the last term (inverted order)",
        "find": ('        up_to_date = b["lastLogTerm"] > last_term or (b["lastLogTerm"] == last_term\n'
                 '                                                      and b["lastLogIndex"] >= last_index)\n'),
        "replace": ('        up_to_date = b["lastLogIndex"] > last_index or (b["lastLogIndex"] == last_index\n'
                    '                                                        and b["lastLogTerm"] >= last_term)\n'),
    },
    {
        "id": "raft-04", "protocol": "raft", "file": RAFT,
        "what": "log up-to-date check compares only the last term, not the length (a shorter log wins a tie)",
        "find": 'up_to_date = b["lastLogTerm"] > last_term or (b["lastLogTerm"] == last_term',
        "replace": 'up_to_date = b["lastLogTerm"] >= last_term or (b["lastLogTerm"] == last_term',
    },
    {
        "id": "raft-05", "protocol": "raft", "file": RAFT,
        "what": "votedFor not cleared when a node adopts a newer term",
        "find": "            self.save_term_and_vote(ctx, term, None)\n",
        "replace": "            self.save_term_and_vote(ctx, term, self.voted_for)\n",
    },
    {
        "id": "raft-06", "protocol": "raft", "file": RAFT,
        "what": "replies from an older term are not dropped (stale vote grants and match indexes counted)",
        "find": '        elif body["term"] != self.term:\n            return\n',
        "replace": '        elif body["term"] > self.term:\n            return\n',
    },
    {
        "id": "raft-07", "protocol": "raft", "file": RAFT,
        "what": "leader commits an older-term entry by counting replicas (Figure 8), though it still appends a no-op",
        "find": "        if entry[0] != self.term and not self.bug_count_old_term:\n",
        "replace": "        if entry[0] > self.term and not self.bug_count_old_term:\n",
    },
    {
        "id": "raft-08", "protocol": "raft", "file": RAFT,
        "what": "follower truncates its log after the leader's entries even on a mere match (a delayed "
                "AppendEntries erases newer entries)",
        "find": ("        while j < n and prev + j < last and log[prev + j][0] == entries[j][0]:\n"
                 "            j += 1\n"),
        "replace": ("        while j < n and prev + j < last and log[prev + j][0] == entries[j][0]:\n"
                    "            j += 1\n"
                    "        if prev + n < last:\n"
                    "            del log[prev + n:]\n"
                    "            self.log_changed(ctx, prev + n + 1)\n"
                    "            last = len(log)\n"),
    },
    {
        "id": "raft-09", "protocol": "raft", "file": RAFT,
        "what": "follower's commitIndex = min(leaderCommit, its own last index) instead of the last new entry",
        "find": '            c = min(b["commitIndex"], last_new)\n',
        "replace": '            c = min(b["commitIndex"], len(log))\n',
    },
    {
        "id": "raft-10", "protocol": "raft", "file": RAFT,
        "what": "a follower accepts AppendEntries from a stale term (only a candidate checks the term)",
        "find": '        if b["term"] < self.term:     # a deposed leader: my reply tells it the current term\n',
        "replace": '        if b["term"] < self.term and self.role != FOLLOWER:     # a deposed leader\n',
    },
    {
        "id": "raft-11", "protocol": "raft", "file": RAFT,
        "what": "a higher term seen in a reply is ignored (leader/candidate does not step down)",
        "find": '        if body["term"] > self.term:\n',
        "replace": '        if body["term"] > self.term and kind in ("AppendEntries", "RequestVote"):\n',
    },
    {
        "id": "raft-12", "protocol": "raft", "file": RAFT,
        "what": "on a successful reply the leader sets matchIndex to its own last index, not what was sent",
        "find": '            m = b["matchIndex"]\n',
        "replace": "            m = len(self.log)\n",
    },
    {
        "id": "raft-13", "protocol": "raft", "file": RAFT,
        "what": "off-by-one in the back-off: nextIndex = hint + 1 (the follower never catches up)",
        "find": 'self.next_index[src] = max(self.match_index[src] + 1, min(b["rejectIndex"], b["hint"]))',
        "replace": 'self.next_index[src] = max(self.match_index[src] + 1, min(b["rejectIndex"], b["hint"]) + 1)',
    },
    {
        "id": "raft-14", "protocol": "raft", "file": RAFT,
        "what": "majority computed as ceil(n/2): with an even cluster two halves each elect and commit",
        "find": "        self.majority = majority(len(self.node_ids))\n",
        "replace": "        self.majority = (len(self.node_ids) + 1) // 2\n",
    },
    {
        "id": "raft-15", "protocol": "raft", "file": RAFT,
        "what": "commit quorum counts the leader twice (one replica too few)",
        "find": "        n = matches[self.majority - 2]        # I hold every entry myself: majority - 1 peers suffice\n",
        "replace": "        n = matches[max(0, self.majority - 3)]\n",
    },
    {
        "id": "raft-16", "protocol": "raft", "file": RAFT,
        "what": "follower applies entries as soon as it appends them (apply before commit)",
        "find": '            c = min(b["commitIndex"], last_new)\n',
        "replace": "            c = last_new\n",
    },
    {
        "id": "raft-17", "protocol": "raft", "file": RAFT,
        "what": "a candidate grants its vote to another candidate of the same term (its own vote forgotten)",
        "find": "        if self.voted_for not in (None, src):\n",
        "replace": "        if self.voted_for not in (None, src) and self.role != CANDIDATE:\n",
    },
    {
        "id": "raft-18", "protocol": "raft", "file": RAFT,
        "what": "election timeout not randomized (every node times out after the same delay)",
        "find": 'ctx.set_timer("election", self.timeout_base + (ctx.rng.randrange(width) if width > 0 else 0))',
        "replace": 'ctx.set_timer("election", self.timeout_base)',
    },
    {
        "id": "raft-19", "protocol": "raft", "file": RAFT,
        "what": "consistency check compares the entry at prevLogIndex with the leader's term, not prevLogTerm",
        "find": '        if prev and log[prev - 1][0] != b["prevLogTerm"]:\n',
        "replace": '        if prev and log[prev - 1][0] > b["term"]:\n',
    },
    {
        "id": "raft-20", "protocol": "raft", "file": RAFT,
        "what": "leader acknowledges a client write as soon as it is in its own log, before it is committed",
        "find": "        self.pending[index] = (op, self.term)   # replied to when applied\n",
        "replace": '        ctx.reply(op, {"ok": True, "index": index, "term": self.term})\n',
    },
    {
        "id": "raft-21", "protocol": "raft", "file": RAFT,
        "what": "a new leader initialises matchIndex to its own last index instead of 0",
        "find": "        self.match_index = {p: 0 for p in self.peers}\n",
        "replace": "        self.match_index = {p: nxt - 1 for p in self.peers}\n",
    },
    {
        "id": "raft-22", "protocol": "raft", "file": RAFT,
        "what": "off-by-one in AppendEntries: the entries sent start one after nextIndex",
        "find": "entries=log[prev:prev + self.max_entries], commitIndex=self.commit_index)",
        "replace": "entries=log[prev + 1:prev + 1 + self.max_entries], commitIndex=self.commit_index)",
    },
]

# ------------------------------------------------------------------ 3PC

THREEPC = "engine/protocols/threepc/node.py"


def _m(n, find, replace, what, equivalent=None):
    m = {"id": f"3pc-{n:02d}", "protocol": "3pc", "file": THREEPC, "find": find, "replace": replace, "what": what}
    if equivalent:
        m["equivalent"] = equivalent
    return m


MUTANTS += [
    # ------------------------------------------------------------ coordinator, phase one
    _m(1,
       'elif all(self.votes[tx].get(p) == "yes" for p in self.participants):',
       'elif all(v == "yes" for v in self.votes[tx].values()):',
       "coordinator checks only the votes received so far: precommits on the first yes, with votes still missing"),
    _m(2,
       'elif all(self.votes[tx].get(p) == "yes" for p in self.participants):',
       'elif 2 * sum(v == "yes" for v in self.votes[tx].values()) > len(self.participants):',
       "coordinator precommits once a majority voted yes (quorum thinking in an atomic-commit protocol)"),
    _m(3,
       'ctx.note("3pc.vote_timeout", tx=tx, missing=", ".join(missing))\n'
       '            self.decide(ctx, tx, "ABORT")',
       'ctx.note("3pc.vote_timeout", tx=tx, missing=", ".join(missing))\n'
       '            self.decide(ctx, tx, "COMMIT")',
       "vote timeout commits instead of aborting (a silent participant taken as a yes)"),
    # ------------------------------------------------------------ coordinator, phase two
    _m(4,
       '            self.later(ctx, "flush", tx, self.params["log_delay"])',
       '            for p in self.participants:\n'
       '                ctx.send(p, "PreCommit", tx=tx)   # before the PRECOMMIT write has finished\n'
       '            self.later(ctx, "flush", tx, self.params["log_delay"])',
       "coordinator sends PreCommit while the PRECOMMIT record is still being written (async log flush)"),
    _m(5,
       '        wal.append(ctx, self.disk, "PRECOMMIT", tx)\n',
       '',
       "coordinator keeps PRECOMMIT in memory only: never force-writes it before sending PreCommit"),
    _m(6,
       'if self.params["ack_timeout_decision"] == "commit" or tx in self.terminating:',
       'if self.params["ack_timeout_decision"] == "commit":',
       "ack-timeout abort variant also applied to the PreCommit round a recovered coordinator runs"),
    _m(7,
       '        if (phase == "PRECOMMIT") != (state == "PRECOMMITTED"):\n'
       '            return   # a late Ack of the other step\n',
       '',
       "coordinator does not match an Ack to its step: a late/duplicate PreCommit Ack counts as a decision Ack",
       equivalent="the coordinator only ends early; a participant that missed the decision was down and asks on restart"),
    # ------------------------------------------------------------ coordinator, phase three
    _m(8,
       '        wal.append(ctx, self.disk, decision, tx)\n',
       '',
       "coordinator does not force-write its COMMIT/ABORT decision before telling the client and participants"),
    _m(9,
       '        for p in self.acks[tx]:\n'
       '            ctx.send(p, kind, tx=tx)\n'
       '        self.later(ctx, "resend", tx, self.params["resend_interval"])',
       '        for p in self.acks[tx]:\n'
       '            ctx.send(p, kind, tx=tx)',
       "decision sent once and never re-sent until acknowledged"),
    _m(10,
       'if self.phase.get(tx) in ("COMMITTING", "ABORTING"):',
       'if self.phase.get(tx) == "COMMITTING":',
       "only commits are re-sent; an Abort is sent once (presumed-abort shortcut without the matching ack logic)"),
    _m(11,
       '        n = self.disk.get("next_tx", 1)\n'
       '        tx = f"tx{n}"\n'
       '        ctx.persist(next_tx=n + 1)   # durable, so an id is never reused after a crash',
       '        n = getattr(self, "next_tx", 1)\n'
       '        tx = f"tx{n}"\n'
       '        self.next_tx = n + 1   # in memory only: the id counter is not persisted',
       "transaction id counter not persisted: a restarted coordinator reuses transaction ids"),
    # ------------------------------------------------------------ coordinator, recovery
    _m(12,
       '                self.phase[tx] = "RECOVERING"\n'
       '                self.ask(ctx, tx)',
       '                self.decide(ctx, tx, "ABORT")',
       "recovering coordinator with a PRECOMMIT record and no decision aborts unilaterally (2PC presumed abort)"),
    _m(13,
       '                self.phase[tx] = "RECOVERING"\n'
       '                self.ask(ctx, tx)',
       '                self.decide(ctx, tx, "COMMIT")',
       "recovering coordinator with a PRECOMMIT record commits unilaterally (everyone voted yes, after all)",
       equivalent="only breaks 3PC once a message is lost, which 3PC does not claim to survive (a drop action breaks atomicity)"),
    _m(14,
       '                self.acks[tx] = list(self.participants)\n'
       '                self.send_decision(ctx, tx)',
       '                self.acks[tx] = list(self.participants)',
       "recovering coordinator with a logged decision but no END does not resume sending it"),
    _m(15,
       '        missing = [p for p in self.participants if p not in answers]\n'
       '        if missing:',
       '        missing = [p for p in self.participants if p not in answers]\n'
       '        if not answers:',
       "recovering coordinator applies the termination rules to whoever answered, not waiting for everyone"),
    _m(16,
       '        if state in OUTCOMES:\n'
       '            ctx.note("3pc.learned", tx=tx, node=msg.src, state=state)\n'
       '            self.decide(ctx, tx, "COMMIT" if state == "COMMITTED" else "ABORT")\n'
       '        elif tx in self.asking:',
       '        if tx in self.asking:',
       "recovering coordinator does not adopt a decision a participant reports; its rules then abort on COMMITTED"),
    _m(17,
       'self.decide(ctx, tx, "ABORT")      # all READY (a decided answer was adopted on arrival)',
       'self.decide(ctx, tx, "COMMIT")      # all READY, but the PRECOMMIT record says everyone voted yes',
       "recovering coordinator commits when every participant answers READY (trusting its PRECOMMIT record)"),
    # ------------------------------------------------------------ participant, votes and locks
    _m(18,
       'self.write(ctx, "READY", tx, key)   # the yes vote is durable before it leaves',
       'self.replay(("READY", tx, key))   # the yes vote kept in memory only',
       "participant does not force-write its yes vote (READY) before replying"),
    _m(19,
       'ctx.send(COORDINATOR, "Vote", tx=tx, vote="no" if state == "ABORTED" else "yes")',
       'ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")',
       "a repeated/late CanCommit gets a yes even though the participant has aborted"),
    _m(20,
       'if holder is not None or self.index == self.params["no_voter"]:',
       'if self.index == self.params["no_voter"]:',
       "participant votes yes without checking the lock: two transactions in doubt on the same key"),
    _m(21,
       'elif state in OUTCOMES and self.locks.get(self.keys.get(tx)) == tx:',
       'elif state == "COMMITTED" and self.locks.get(self.keys.get(tx)) == tx:',
       "lock released on commit only: an aborted transaction leaks its lock"),
    _m(22,
       '        for record in wal.records(self.disk):\n'
       '            self.replay(record)\n',
       '        for record in wal.records(self.disk):\n'
       '            self.replay(record)\n'
       '        self.locks = {}   # the lock table is volatile\n',
       "locks not re-acquired on recovery: a restarted participant in doubt no longer holds its key"),
    # ------------------------------------------------------------ participant, PreCommit and decision
    _m(23,
       '            self.write(ctx, "PRECOMMITTED", tx)\n'
       '            ctx.note("3pc.precommitted", tx=tx, node=msg.src)',
       '            self.replay(("PRECOMMITTED", tx))   # in memory only\n'
       '            ctx.note("3pc.precommitted", tx=tx, node=msg.src)',
       "participant does not force-write PRECOMMITTED before acknowledging PreCommit",
       equivalent="recovery decides only once every node has answered, so the lost record can only turn a commit into an abort after a crash, which AC1-AC5 allow"),
    _m(24,
       '        if state in OUTCOMES:   # decided already: say so, whoever is precommitting adopts it\n'
       '            ctx.send(msg.src, "Ack", tx=tx, state=state)\n'
       '            return\n',
       '',
       "participant that already decided acknowledges a PreCommit as if PRECOMMITTED (own state not checked)"),
    _m(25,
       '                self.deadlines.clear(ctx, "ready_timeout", tx)\n'
       '                self.later(ctx, "precommit_timeout", tx, self.params["precommit_timeout"])',
       '                self.later(ctx, "precommit_timeout", tx, self.params["precommit_timeout"])',
       "PreCommit arms the precommit timeout but does not cancel the (shorter) ready timeout"),
    _m(26,
       'if msg.src == COORDINATOR and tx in self.status:',
       'if msg.src == COORDINATOR and state in IN_DOUBT:',
       "participant acknowledges a decision only when it changes its state: a re-sent one it already knows is never acked"),
    # ------------------------------------------------------------ termination protocol
    _m(27,
       '        if state == "READY" and "commit_on_ready_timeout" in self.bugs:',
       '        if True:   # decide locally: READY -> abort, PRECOMMITTED -> commit\n'
       '            self.finish(ctx, tx, "ABORTED" if state == "READY" else "COMMITTED")\n'
       '            return\n'
       '        if state == "READY" and "commit_on_ready_timeout" in self.bugs:',
       "no termination protocol: a participant that times out applies Skeen's local rule alone",
       equivalent="only breaks 3PC once a message is lost, which 3PC does not claim to survive (a drop action breaks atomicity)"),
    _m(28,
       '    if "ABORTED" in found:\n'
       '        return "aborted"\n',
       '',
       "termination rules ignore ABORTED: a PRECOMMITTED or COMMITTED answer wins over an abort",
       equivalent="only breaks 3PC once a message is lost, which 3PC does not claim to survive (a drop action breaks atomicity)"),
    _m(29,
       '    if "PRECOMMITTED" in found:\n'
       '        return "precommitted"\n',
       '',
       "termination rules ignore PRECOMMITTED: every in-doubt state aborts (2PC-style termination)",
       equivalent="only breaks 3PC once a message is lost, which 3PC does not claim to survive (a drop action breaks atomicity)"),
    _m(30,
       '        if rule in ("aborted", "all_ready"):',
       '        if rule == "aborted":',
       "termination coordinator commits when everyone is READY (all_ready falls through to the commit path)"),
    _m(31,
       'leader = min([self.id, *candidates], key=number)',
       'leader = max([self.id, *candidates], key=number)',
       "termination election picks the highest-numbered participant while StateReq hands over to the lowest",
       equivalent="every node elects the same participant from the same durable states: same outcomes, another leader"),
    _m(32,
       'candidates = [p for p, s in answers.items() if s in IN_DOUBT and p not in rnd["restarted"]]',
       'candidates = [p for p, s in answers.items() if s in IN_DOUBT]',
       "termination election may pick a participant that just restarted (it never leads: it is recovering)"),
    _m(33,
       '        if state is None:\n'
       '            # It never voted',
       '        if state in OUTCOMES:\n'
       '            return   # only participants in doubt take part in termination\n'
       '        if state is None:\n'
       '            # It never voted',
       "participant that already decided ignores StateReq (asker sees it as crashed)"),
    # ------------------------------------------------------------ participant recovery
    _m(34,
       '            ctx.note("3pc.recover_in_doubt", tx=tx, state=state, item=self.keys[tx])\n'
       '            self.ask(ctx, tx)',
       '            ctx.note("3pc.recover_in_doubt", tx=tx, state=state, item=self.keys[tx])\n'
       '            self.start_round(ctx, tx)',
       "restarted participant runs the ordinary termination protocol among participants, as if it had timed out"),
    _m(35,
       '        elif len(answers) == len(self.node_ids) - 1:',
       '        elif len(answers) >= len(self.participants) - 1:',
       "recovering participant decides once the other participants answered, without waiting for the coordinator"),
    _m(36,
       '        if COORDINATOR in answers and COORDINATOR not in rnd["restarted"]:',
       '        if False:',
       "recovering participant does not defer to a coordinator that is up and still deciding"),
]

TCC = "engine/protocols/tcc/node.py"


def _t(n, find, replace, what, equivalent=None):
    m = {"id": f"tcc-{n:02d}", "protocol": "tcc", "file": TCC, "find": find, "replace": replace, "what": what}
    if equivalent:
        m["equivalent"] = equivalent
    return m


MUTANTS += [
    # ------------------------------------------------------------ the coordinator
    _t(1,
       '            self.write(ctx, gid, branches=[*g["branches"], [branch, amount]])\n',
       '            pass\n',
       "TC answers Registered without recording the branch: its Cancel will never reach it"),
    _t(2,
       '        ok = g is not None and g["status"] == "PREPARED"',
       '        ok = g is not None',
       "TC registers a branch of a global transaction already aborting (its Cancel walk has gone past)"),
    _t(3,
       '        if g is not None and g["status"] == "PREPARED":\n'
       '            ctx.note("tcc.expired"',
       '        if g is not None and g["status"] not in ("SUCCEED", "FAILED"):\n'
       '            ctx.note("tcc.expired"',
       "the global timeout also aborts transactions already SUBMITTED",
       equivalent="Submit clears the timeout and recovery re-arms it for PREPARED ones only: it never fires later"),
    _t(4,
       '            elif g["status"] in PHASE_CALL:\n'
       '                ctx.note("tcc.recover", gid=gid, status=g["status"])\n'
       '                self.start_phase(ctx, gid)\n',
       '',
       "TC recovery does not resume SUBMITTED or ABORTING transactions"),
    _t(5,
       '            if g["status"] == "PREPARED":\n'
       '                self.deadlines.set(ctx, "expire", gid, max(ctx.now, g["created"] + self.params["global_timeout"]))\n',
       '            if g["status"] == "PREPARED":\n'
       '                pass\n',
       "TC recovery forgets the timeout of PREPARED transactions (an initiator that died stays unresolved)"),
    _t(6,
       '        if not msg.body["ok"]:\n'
       '            return   # the branch could not do it now: the retry timer calls again\n',
       '',
       "TC moves to the next branch when a branch answers that it could not confirm or cancel",
       equivalent="a branch answers no only to a Confirm with no Try or a Cancel after Confirm: calls the TC never makes"),
    _t(7,
       '        return g["branches"] if g["status"] == "SUBMITTED" else g["branches"][::-1]',
       '        return g["branches"][:-1] if g["status"] == "ABORTING" else g["branches"]',
       "TC cancels every branch but the last registered one (the one whose Try may still be in flight)"),
    # ------------------------------------------------------------ the initiator
    _t(8,
       '            ctx.note("tcc.try_timeout", gid=gid, branch=self.branches[self.at[gid]])\n'
       '            self.next_step(ctx, gid, "ABORTING")\n',
       '            ctx.note("tcc.try_timeout", gid=gid, branch=self.branches[self.at[gid]])\n'
       '            self.next_step(ctx, gid, "SUBMITTING")\n',
       "initiator submits when a Try goes unanswered (optimistic: it probably worked)"),
    _t(9,
       '            self.at[gid] = 0\n'
       '            self.next_step(ctx, gid, "REGISTERING")\n',
       '            self.at[gid] = 0\n'
       '            self.next_step(ctx, gid, "TRYING")\n',
       "initiator sends the first branch's Try without registering it"),
    # ------------------------------------------------------------ the branches' fence
    _t(10,
       '            self.write_row(ctx, gid, business.SUSPENDED)\n',
       '',
       "an empty rollback writes no SUSPENDED row (a late Try is no longer refused)"),
    _t(11,
       '        elif what == "again":\n'
       '            ctx.send(msg.src, "TryDone", gid=gid, ok=True)\n',
       '        elif what == "again" and False:\n'
       '            ctx.send(msg.src, "TryDone", gid=gid, ok=True)\n',
       "a repeated Try freezes again"),
    _t(12,
       '        elif what == "empty":\n',
       '        elif what == "empty" and False:\n',
       "Cancel with no fence row is answered as done without writing SUSPENDED (and a retry is not noticed)"),
    _t(13,
       '        what = "run" if "no_barrier" in self.bugs else business.fence_confirm(self.row(gid))\n',
       '        what = "run" if "no_barrier" in self.bugs else business.fence_confirm(self.row(gid))\n'
       '        what = "run" if what == "missing" else what\n',
       "Confirm with no Try on record spends anyway",
       equivalent="the TC confirms only after every Try took effect: a Confirm never finds no row"),
]

SAGA = "engine/protocols/saga/node.py"
CHOREO = "engine/protocols/saga_choreo/node.py"


def _s(n, find, replace, what, equivalent=None, protocol="saga", file=SAGA):
    m = {"id": f"{protocol}-{n:02d}", "protocol": protocol, "file": file, "find": find, "replace": replace,
         "what": what}
    if equivalent:
        m["equivalent"] = equivalent
    return m


def _c(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="saga_choreo", file=CHOREO)


MUTANTS += [
    # ------------------------------------------------------------ the orchestrator
    _s(1,
       '            self.log(ctx, gid, SUBMITTED, step + 1)\n'
       '            self.send_action(ctx, gid, step + 1)\n',
       '            self.send_action(ctx, gid, step + 1)\n',
       "orchestrator sends the next step without logging it: a restart resumes an earlier step"),
    _s(2,
       '            elif record["status"] == ABORTING:\n'
       '                ctx.note("saga.resume_undo", gid=gid, step=step, node=self.steps[step - 1].name)\n'
       '                self.send_compensate(ctx, gid, step)\n',
       '',
       "a restarted orchestrator does not resume the sagas it was compensating"),
    _s(3,
       '        self.log(ctx, gid, ABORTING, step)\n'
       '        ctx.note("saga.abort", gid=gid, step=step)\n'
       '        self.send_compensate(ctx, gid, step)',
       '        self.log(ctx, gid, ABORTING, step - 1)\n'
       '        ctx.note("saga.abort", gid=gid, step=step)\n'
       '        self.send_compensate(ctx, gid, max(1, step - 1))',
       "the failed or unknown step is not compensated itself (only the steps before it)"),
    _s(4,
       '            self.log(ctx, gid, ABORTING, step - 1)   # C_step is done: C_{step-1} may run now\n'
       '            self.send_compensate(ctx, gid, step - 1)',
       '            self.log(ctx, gid, FAILED, step - 1)\n'
       '            ctx.reply("order", {"gid": gid, "outcome": FAILED})',
       "the orchestrator stops after the first compensation and declares the saga failed"),
    _s(5,
       '        if record["status"] == SUBMITTED and tries >= self.params["max_retries"]:',
       '        if record["status"] == SUBMITTED and tries >= self.params["max_retries"] and False:',
       "an unanswered step is retried forever, never compensated (a slow service stalls the saga)",
       equivalent="no invariant breaks: a retry is answered once faults stop and the saga ends; only the "
                  "lesson (compensate an unknown outcome) is lost, which the slow_step preset test catches"),
    _s(6,
       '        if not msg.body["ok"]:\n'
       '            # A temporary error: compensations must eventually succeed, so retry, later each time.',
       '        if not msg.body["ok"] and False:\n'
       '            # A temporary error: compensations must eventually succeed, so retry, later each time.',
       "a compensation that answered a temporary error is taken as done"),
    # ------------------------------------------------------------ the services' fence
    _s(7,
       '            self.write_row(ctx, gid, business.SUSPENDED)\n',
       '',
       "a null compensation writes no SUSPENDED row: a late action is no longer refused"),
    _s(8,
       '        elif decision == "again":\n'
       '            ctx.note("saga.action_again", gid=gid, node=self.id)',
       '        elif decision == "again" and False:\n'
       '            ctx.note("saga.action_again", gid=gid, node=self.id)',
       "a repeated action is refused instead of answered as done: the saga compensates a step that succeeded"),
    # ------------------------------------------------------------ the choreography
    _c(1,
       '        for eid in list(outbox):\n'
       '            self.publish(ctx, eid)\n',
       '        pass\n',
       "a restarted node does not restart its relay: its unacknowledged events wait forever"),
    _c(2,
       '        if eid in self.disk["inbox"] and not self.apply_again(msg):',
       '        if False:',
       "no inbox: a redelivered event is processed again"),
    _c(3,
       '            del self.disk["outbox"][eid]\n'
       '            ctx.persist(outbox=self.disk["outbox"])\n',
       '            del self.disk["outbox"][eid]\n',
       "an Ack removes the outbox row in memory only: after a crash the row is back (harmless re-send)",
       equivalent="a re-sent event finds its id in the inbox: it is acknowledged again and changes nothing"),
    _c(4,
       '        self.acknowledge(ctx, msg.src, eid)\n',
       '        if msg.kind != "Failed":\n'
       '            self.acknowledge(ctx, msg.src, eid)\n',
       "Failed events are never acknowledged: their senders re-send them forever"),
]

OUTBOX = "engine/protocols/outbox/node.py"
CAP = "engine/protocols/cap/node.py"


def _o(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="outbox", file=OUTBOX)


def _k(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="cap", file=CAP)


MUTANTS += [
    # ------------------------------------------------------------ the outbox
    _o(1,
       '            ctx.send(BROKER, "Publish", mid=mid, gid=gid)\n'
       '            self.waiting[mid] = ctx.now + self.params["poll_interval"]\n',
       '            ctx.send(BROKER, "Publish", mid=mid, gid=gid)\n'
       '            ctx.send(PAY, "MarkSent", mid=mid)\n'
       '            self.waiting[mid] = ctx.now + self.params["poll_interval"]\n',
       "the relay marks a row SENT as soon as it publishes, before the broker stored it"),
    _o(2,
       '            self.waiting.pop(mid, None)\n'
       '            ctx.send(PAY, "MarkSent", mid=mid)\n',
       '            self.waiting.pop(mid, None)\n',
       "the relay never marks rows SENT: it republishes every row at every poll, forever"),
    _o(3,
       '        ctx.send(c, "Deliver", delivery=did, mid=mid, gid=gid)\n'
       '        self.timing.set(ctx, "redeliver", (c, did), ctx.now + self.params["redeliver_interval"])\n',
       '        ctx.send(c, "Deliver", delivery=did, mid=mid, gid=gid)\n',
       "the broker delivers once and never again (at-most-once delivery)"),
    _o(4,
       '        for c, did in queued:\n'
       '            self.deliver(ctx, c, did, again=True)\n',
       '',
       "a restarted broker does not redeliver its queued messages"),
    _o(5,
       '        ctx.send(msg.src, "PublishAck", mid=mid)\n'
       '        for c, did in made:\n',
       '        ctx.send(msg.src, "PublishAck", mid=mid)\n'
       '        made = made[:1]\n'
       '        for c, did in made:\n',
       "the broker delivers a new message to its first subscriber only (no redelivery is scheduled for the others)"),
    # ------------------------------------------------------------ the CAP register
    _k(1,
       '        self.need = majority(len(self.replicas))',
       '        self.need = majority(len(self.replicas)) - 1',
       "CP quorums one short of a majority: two quorums need not meet"),
    _k(2,
       '            if tag == NO_TAG:\n'
       '                # Nothing was ever written at this majority: nothing to write back.\n'
       '                return self.cp_done(ctx, opid, op, tag, value)',
       '            if True:\n'
       '                # Nothing was ever written at this majority: nothing to write back.\n'
       '                return self.cp_done(ctx, opid, op, tag, value)',
       "CP read answers without writing back what it read (a later read may see an older value)"),
    _k(3,
       '        if self.tag == NO_TAG or not self.others:\n'
       '            return\n',
       '        return\n',
       "AP replicas never gossip: they never converge"),
]

MQTX = "engine/protocols/mq_tx/node.py"


def _q(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="mq_tx", file=MQTX)


MUTANTS += [
    _q(1,
       '        if step == SENDING:\n'
       '            if gid in self.paid:',
       '        if step == SENDING:\n'
       '            self.local_tx(ctx, gid, LOCAL)\n'
       '            return\n'
       '            if gid in self.paid:',
       "a producer whose half message got no HalfAck runs the local transaction anyway"),
    _q(2,
       '        verdict = VERDICT.get(status, UNKNOWN)\n',
       '        verdict = VERDICT.get(status, ROLLBACK)\n',
       "the check-back answers ROLLBACK for a transaction db has no outcome for (it may still commit)"),
    _q(3,
       '        ctx.send(msg.src, "TxStatus", gid=gid, status=status or UNKNOWN)',
       '        ctx.send(msg.src, "TxStatus", gid=gid, status=status or COMMITTED)',
       "db answers COMMITTED for a transaction it has no record of"),
    _q(4,
       '        elif verdict == UNKNOWN:\n',
       '        elif verdict == UNKNOWN and False:\n',
       "the broker takes an UNKNOWN answer as a ROLLBACK: a slow local transaction that later commits is lost"),
    _q(5,
       '        if gid in inbox and "consumer_not_idempotent" not in self.bugs:',
       '        if offset in inbox.values() and "consumer_not_idempotent" not in self.bugs:',
       "consumers dedupe by the broker's offset, not the producer's key: a duplicate put is applied twice"),
]

PAXOS = "engine/protocols/paxos/node.py"


def _p(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="paxos", file=PAXOS)


MUTANTS += [
    _p(1,
       '        if best is None:\n'
       '            self.proposal = self.value\n',
       '        if True:\n'
       '            self.proposal = self.value\n',
       "a proposer never adopts a value reported in the 1b messages: it proposes its own"),
    _p(2,
       '        if bkey(bal) >= bkey(self.max_bal):\n'
       '            self.save(ctx, maxBal=bal, maxVBal=bal, maxVal=b["val"])',
       '        if True:\n'
       '            self.save(ctx, maxBal=bal, maxVBal=bal, maxVal=b["val"])',
       "an acceptor accepts a 2a below its promise"),
    _p(3,
       '            if mbal is not None and bkey(mbal) > bkey(best[0] if best else None):',
       '            if mbal is not None and bkey(mbal) < bkey(best[0] if best else (10**9, "")):',
       "a proposer adopts the lowest-ballot vote reported instead of the highest"),
    _p(4,
       '        if bkey(bal) > bkey(self.max_bal):\n'
       '            self.save(ctx, maxBal=bal)',
       '        if bkey(bal) > bkey(self.max_bal):\n'
       '            self.max_bal = bal',
       "an acceptor's promise is kept in memory only (lost on restart)"),
]

MULTIPAXOS = "engine/protocols/multipaxos/node.py"
VR = "engine/protocols/vr/node.py"


def _m2(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="multipaxos", file=MULTIPAXOS)


def _v(n, find, replace, what, equivalent=None):
    return _s(n, find, replace, what, equivalent, protocol="vr", file=VR)


MUTANTS += [
    _m2(1,
        '                if s not in best or vb > best[s][0]:',
        '                if s not in best or vb < best[s][0]:',
        "a new leader re-proposes the lowest-ballot value reported for a slot instead of the highest"),
    _m2(2,
        '        if len(acks) >= self.majority:\n'
        '            del self.acks[s]',
        '        if len(acks) >= self.majority - 1:\n'
        '            del self.acks[s]',
        "a slot counts as chosen one Accepted short of a majority"),
    _m2(3,
        '        if len(self.promises) >= self.majority:',
        '        if len(self.promises) >= self.majority - 1:',
        "a leader ends phase 1 one promise short of a majority"),
    _v(1,
       '            best = max(dvcs, key=lambda d: (d["v\'"], d["n"]))',
       '            best = max(dvcs, key=lambda d: (d["n"], d["v\'"]))',
       "the new primary ranks the logs by op-number first, last-normal-view second"),
    _v(2,
       '        c = min(acks[self.f - 1], len(self.log))',
       '        c = min(acks[0], len(self.log))',
       "the primary commits an op once one backup has it (not f)"),
    _v(3,
       '        self.k = min(max(self.k, *(d["k"] for d in dvcs)), len(self.log))',
       '        self.k = min(self.k, len(self.log))',
       "the new primary keeps its own commit number instead of the largest reported",
       equivalent="the view's log holds every committed op either way; a lower k only delays their "
                  "execution until the next PREPAREOKs"),
]
