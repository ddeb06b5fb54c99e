"""The mutations bench/mutations.py applies: one small edit each to a protocol's
node logic, imitating a bug real implementations (or the literature) have had.

Each entry: id, protocol, file, find (text occurring exactly once in that file),
replace (the mutated text, still valid Python) and what (the bug it imitates).
Only protocol node logic is edited: never a checker, the kit or the engine.
The list is a measurement, not a target: a mutation `check` misses stays here.
"""

from __future__ import annotations

# protocol name -> the suffix of its test file (tests/test_<pkg>.py)
PACKAGES = {"2pc": "twopc", "raft": "raft", "3pc": "threepc"}

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
