"""/guide: which pattern when, and how consensus protocols differ, from measured runs.

The numbers come from static/data/guide.json, which bench/guide_data.py generates from
the engine (docs/guide.md); the words from static/i18n/guide.{en,zh}.json. Each claim
names the preset runs that show it (/play/<protocol>?preset=<preset>). The page renders
English and carries both dictionaries; static/js/page.js switches language in place.
"""

from __future__ import annotations

import functools
import json
import re

from flask import Blueprint, render_template

from engine import registry

from . import ROOT

guide_bp = Blueprint("guide", __name__)
DATA = ROOT / "static" / "data" / "guide.json"
STRINGS = ROOT / "static" / "i18n"
LANGS = ("en", "zh")

# The three cases a student asks about: the patterns that fit, the protocols whose numbers
# back the reason, the runs that show it, and the same faults under them side by side (/compare).
CASES = (
    {"id": "transfer", "protocols": ("2pc", "3pc", "tcc"),
     "runs": (("2pc", "commit"), ("2pc", "coordinator_crash"), ("3pc", "coordinator_crash"),
              ("tcc", "happy"), ("tcc", "lost_confirm_reply")),
     "side_by_side": "protocols=2pc,3pc,tcc&faults=coordinator_crash&run=0"},
    {"id": "booking", "protocols": ("saga", "saga_choreo", "tcc"),
     "runs": (("saga", "step_fails"), ("saga", "long_saga"), ("saga", "dirty_read"), ("saga", "slow_step"),
              ("saga_choreo", "step_fails")),
     "side_by_side": "protocols=tcc,saga&faults=business_failure&run=0"},
    {"id": "event", "protocols": ("outbox", "mq_tx"),
     "runs": (("outbox", "happy"), ("outbox", "relay_crash"), ("outbox", "dual_write_commit_first_crash"),
              ("mq_tx", "producer_crash"), ("outbox", "no_inbox")),
     "side_by_side": "protocols=outbox,mq_tx&faults=duplicate&run=0"},
)

# Transaction patterns: the words per column (guide.tx.<id>.<column>) and the runs per row.
TX_COLUMNS = ("consistency", "isolation", "blocking", "business", "when")
PATTERNS = (
    {"id": "2pc", "runs": (("2pc", "commit"), ("2pc", "coordinator_crash"), ("2pc", "participant_crash"),
                           ("2pc", "heuristic_abort"))},
    {"id": "3pc", "runs": (("3pc", "commit"), ("3pc", "coordinator_crash"), ("3pc", "precommit_lost"),
                           ("3pc", "slow_network"))},
    {"id": "tcc", "runs": (("tcc", "happy"), ("tcc", "try_fails"), ("tcc", "empty_rollback"), ("tcc", "hanging"),
                           ("tcc", "lost_confirm_reply"), ("tcc", "initiator_crash"))},
    {"id": "saga", "runs": (("saga", "happy"), ("saga", "step_fails"), ("saga", "dirty_read"),
                            ("saga", "slow_step"), ("saga", "compensation_keeps_failing"))},
    {"id": "saga_choreo", "runs": (("saga_choreo", "happy"), ("saga_choreo", "step_fails"),
                                   ("saga_choreo", "failed_event_dropped"), ("saga_choreo", "consumer_crash"),
                                   ("saga_choreo", "no_outbox"))},
    {"id": "outbox", "runs": (("outbox", "happy"), ("outbox", "declined"), ("outbox", "relay_crash"),
                              ("outbox", "broker_partition"), ("outbox", "dual_write_commit_first_crash"),
                              ("outbox", "no_inbox"))},
    {"id": "mq_tx", "runs": (("mq_tx", "happy"), ("mq_tx", "end_transaction_lost"), ("mq_tx", "producer_crash"),
                             ("mq_tx", "slow_local_tx_discarded"), ("mq_tx", "broker_crash_duplicate_put"),
                             ("mq_tx", "consumer_not_idempotent"))},
)

# Consensus: every claim (guide.cons.<id>.<column>) with the runs that show it.
CONS_COLUMNS = ("election", "repair", "durability", "reconfig", "optimises")
CONSENSUS = (
    {"id": "paxos", "claims": {
        "election": (("paxos", "dueling_fixed"), ("paxos", "dueling_random")),
        "repair": (("paxos", "minority_accepted"),),
        "durability": (("paxos", "acceptor_amnesia"), ("paxos", "small_quorum")),
        "reconfig": (),
        "optimises": (("paxos", "happy_path"), ("paxos", "nack_on"), ("paxos", "nack_off"))}},
    {"id": "multipaxos", "claims": {
        "election": (("multipaxos", "steady"), ("multipaxos", "dueling_leaders")),
        "repair": (("multipaxos", "failover_gaps"), ("multipaxos", "slow_acceptor"), ("multipaxos", "skip_phase1")),
        "durability": (("multipaxos", "failover_gaps"),),
        "reconfig": (),
        "optimises": (("multipaxos", "steady"),)}},
    {"id": "raft", "claims": {
        "election": (("raft", "first_election"), ("raft", "split_vote"), ("raft", "no_up_to_date_check")),
        "repair": (("raft", "partitioned_leader"), ("raft", "figure8"), ("raft", "figure8_commit"),
                   ("raft", "figure8_bug")),
        "durability": (("raft", "volatile_vote"), ("raft", "leader_crash")),
        "reconfig": (),
        "optimises": (("raft", "replication"), ("raft", "leader_crash"))}},
    {"id": "zab", "claims": {
        "election": (("zab", "fle_most_up_to_date"), ("zab", "leader_loses_quorum")),
        "repair": (("zab", "old_leader_truncated"), ("zab", "minority_acked"), ("zab", "leader_own_history")),
        "durability": (("zab", "stale_leader_fenced"), ("zab", "skip_epoch_check")),
        "reconfig": (),
        "optimises": (("zab", "fle_most_up_to_date"),)}},
    {"id": "vr", "claims": {
        "election": (("vr", "primary_crash"),),
        "repair": (("vr", "lagging_primary"), ("vr", "deposed_primary"), ("vr", "longest_log")),
        "durability": (("vr", "recovery"), ("vr", "power_loss"), ("vr", "power_loss_with_disk")),
        "reconfig": (),
        "optimises": (("vr", "normal"),)}},
    {"id": "humming", "claims": {
        "election": (("humming", "startup_jostle"), ("humming", "staggered"), ("humming", "unstaggered")),
        "repair": (("humming", "promote_before_repair"), ("humming", "no_sanity")),
        "durability": (("humming", "overwrite"),),
        "reconfig": (("humming", "symmetric_partition"), ("humming", "asymmetric_flapping")),
        "optimises": (("humming", "symmetric_partition"), ("humming", "cp_minority_wedge"))}},
)

@functools.cache
def strings() -> dict[str, dict[str, str]]:
    """The guide's words: {key: {"en": ..., "zh": ...}}."""
    per_lang = {lang: json.loads((STRINGS / f"guide.{lang}.json").read_text(encoding="utf-8")) for lang in LANGS}
    return {k: {lang: per_lang[lang].get(k, "") for lang in LANGS} for k in per_lang["en"]}


@functools.cache
def data() -> dict | None:
    """The measurements (None when the file is missing or unreadable: the page says so)."""
    try:
        return json.loads(DATA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def preset_runs() -> list[tuple[str, str]]:
    """Every (protocol, preset) the page links to, in page order, without repeats."""
    seen: dict[tuple[str, str], None] = {}
    for c in CASES:
        seen.update(dict.fromkeys(c["runs"]))
    for p in PATTERNS:
        seen.update(dict.fromkeys(p["runs"]))
    for p in CONSENSUS:
        for runs in p["claims"].values():
            seen.update(dict.fromkeys(runs))
    return list(seen)


def _cells(d: dict | None) -> dict[str, dict]:
    """{"<fault class>/<protocol>": {metric: summary}} from the data's rows."""
    out = {}
    for fam in (d or {}).get("families", {}).values():
        for r in fam.get("rows", []):
            out[f"{r['faults']}/{r['protocol']}"] = r["metrics"]
    return out


def _not_applied(d: dict | None) -> dict[str, dict]:
    """{"<fault class>/<protocol>": {"status", "what"}} where the class's fault had nothing to
    hit in any run (no such role or step, or it could never be placed): its figures are the fault-free run's, and the page
    says so instead of letting them pass for the protocol's answer to that fault."""
    out = {}
    for fam in (d or {}).get("families", {}).values():
        for r in fam.get("rows", []):
            for what, n in sorted(r.get("missing", {}).items()):
                status, _, thing = what.partition(":")
                if status in ("no_role", "no_step", "unresolved") and n == r["runs"]:
                    out.setdefault(f"{r['faults']}/{r['protocol']}", {"status": status, "what": thing})
    return out


def _columns(d: dict | None) -> dict[str, list[str]]:
    """Per family, the metrics that apply to at least one of its measured rows."""
    out = {}
    for name, fam in (d or {}).get("families", {}).items():
        out[name] = [m for m in d.get("metrics", []) if any(r["metrics"].get(m) is not None for r in fam["rows"])]
    return out


def fill(text: str, args: dict | None, words: dict[str, str]) -> str:
    """{name} placeholders filled as the page's t() does: an argument given as {key, text}
    is itself translated (from `words`, else its text)."""
    if not args:
        return text

    def one(m):
        v = args.get(m.group(1), m.group(0))
        return str(words.get(v["key"], v["text"])) if isinstance(v, dict) else str(v)
    return re.sub(r"\{(\w+)\}", one, text)


def _stale(d: dict | None) -> list[dict]:
    """Protocols whose behaviour changed since the data was measured."""
    out = []
    for name, then in sorted((d or {}).get("behaviour", {}).items()):
        if name not in registry.names(include_hidden=True):
            continue            # a protocol gone from the engine: nothing to compare
        now = registry.get(name).behaviour
        if now != then:
            out.append({"name": name, "then": then, "now": now})
    return out


def _page_strings(protocols: dict, runs: list[tuple[str, str]]) -> dict:
    """The guide's words plus the titles of its protocols and the names of the runs it links to."""
    out = dict(strings())
    for name, p in protocols.items():
        if "title" in p.strings:
            out[f"p:{name}:title"] = p.strings["title"]
    for name, preset in runs:
        key = f"preset.{preset}"
        if key in protocols[name].strings:
            out[f"p:{name}:{key}"] = protocols[name].strings[key]
    return out


@guide_bp.app_context_processor
def _guide_link():
    """The header's link to the guide, in both languages, for pages that show it."""
    def guide_link_strings():
        return {k: v for k, v in strings().items() if k.startswith("guide.link")}
    return {"guide_link_strings": guide_link_strings}


@guide_bp.get("/guide")
def guide():
    d = data()
    runs = preset_runs()
    families = (d or {}).get("families", {})
    names = [n for n, _ in runs] + [n for fam in families.values() for n in fam.get("protocols", [])]
    protos = {n: registry.get(n) for n in dict.fromkeys(names) if n in registry.names(include_hidden=True)}
    page_strings = _page_strings(protos, runs)
    en = {k: v["en"] for k, v in page_strings.items()}
    titles = {(name, preset): next((p.title for p in protos[name].presets if p.name == preset), preset)
              for name, preset in runs}
    return render_template(
        "guide.html", data=d, cells=_cells(d), not_applied=_not_applied(d), stale=_stale(d), columns=_columns(d),
        t=lambda key, args=None: fill(en.get(key, key), args, en),
        page_strings=page_strings, titles=titles,
        proto_titles={n: p.title for n, p in protos.items()},
        cases=CASES, patterns=PATTERNS, tx_columns=TX_COLUMNS, consensus=CONSENSUS, cons_columns=CONS_COLUMNS,
        measured={n for fam in families.values() for n in fam.get("measured", [])},
        units={f: fam.get("units", 1) for f, fam in families.items()})
