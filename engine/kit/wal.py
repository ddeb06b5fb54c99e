"""A write-ahead log on a node's disk: a list of records, each a list [KIND, ...].

`append` is a forced write: when it returns the record is durable, so a
message sent after it may depend on it (persist before send). The log lives
at disk["log"], where checkers read it as the engine-owned disk.
"""

from __future__ import annotations


def records(disk: dict) -> list:
    return disk.get("log", [])


def append(ctx, disk: dict, *record) -> None:
    """Force-write one record."""
    log = disk.get("log", [])
    log.append(list(record))
    ctx.persist(log=log)


class LogReader:
    """Reads each node's log incrementally: new(disk) returns only the records added
    since the last call. A log that got shorter (records lost) is reported once."""

    def __init__(self, node_ids):
        self.seen = {n: 0 for n in node_ids}

    def new(self, node_id: str, disk: dict) -> tuple[list, bool]:
        """(records added since last time, whether the log lost records)."""
        log = disk.get("log", [])
        lost = len(log) < self.seen[node_id]
        if lost:
            self.seen[node_id] = len(log)
        fresh = log[self.seen[node_id]:]
        self.seen[node_id] = len(log)
        return fresh, lost
