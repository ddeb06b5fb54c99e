"""The protocol kit: what protocol families share, so each protocol module holds only its own rules.

    strings       a protocol's translations, loaded from its strings.toml
    deadlines     many deadlines on one engine timer; retry with exponential backoff
    wal           a durable write-ahead log of records (forced writes)
    quorum        majorities and vote tallies
    txtable       a transaction -> state table that keeps views small
    atomic_commit checker for atomic commitment (AC1-AC5), used by 2PC and 3PC
    log_safety    checker for replicated-log safety, used by Raft (and later log protocols)
    linearizability  Wing & Gong's search (with Lowe's memoization) over a client history
    business      the order story the transaction patterns share: services' books, the
                  fence (empty rollback, hanging, idempotency), a service node, conservation

Nothing here knows a particular protocol; checkers observe only what nodes
report (Node.observe, ctx.observe) and the engine-owned disk.
"""
