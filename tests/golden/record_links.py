"""Share links made once and kept: tests/golden/links.json.

    python tests/golden/record_links.py                          # add links for protocols with none
    python tests/golden/record_links.py --migrate raft --why "..."   # after bumping raft's behaviour

Teachers put share links into slides and reuse them for years, so the links in
links.json are never re-made: each keeps the token as it was made, the version
of its protocol's behaviour it was made with (`made_with`), the scenario it
decodes to and the sha256 of its trace. tests/test_links.py opens every one and
expects the same run while the protocol's behaviour is still `made_with`.

Once a protocol's behaviour is bumped (tests/test_behaviour_versions.py asks for
that when a trace changes), its links replay under the new rules: look at what
they show now, then record that with --migrate, which adds to each link
{"migrated": {"to": N, "sha256": the new trace's, "why": your sentence}} (and
"scenario" when the token now decodes differently). The token, made_with and the
original sha256 stay as they were made.

Without --migrate the script only adds links for protocols that have none (a
new protocol); it never changes a link that exists.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import from_dict, from_token, fuzz, limits, registry
from tests.golden.record_behaviour import shipped, trace_sha256

FILE = Path(__file__).resolve().parent / "links.json"
SEED = 2026    # the random fault schedules' seed


def link_sha256(token: str) -> str:
    """The trace a link opens to, as `python -m engine run --token T --jsonl` prints it."""
    return trace_sha256(["run", "--token", token, "--jsonl"])


def entry(name: str, proto, scenario) -> dict:
    token = scenario.to_token()
    assert len(token) <= limits.MAX_TOKEN_CHARS, (name, len(token))
    return {"name": name, "protocol": proto.name, "token": token, "made_with": proto.behaviour,
            "scenario": from_token(token).to_dict(), "sha256": link_sha256(token)}


def with_actions(scenario, extra: list[dict]):
    """The scenario with `extra` actions added, as the page's session hands it out: in time order."""
    actions = sorted(scenario.actions + extra, key=lambda a: a["at"])
    return dataclasses.replace(scenario, actions=actions)


def make_links(proto) -> list[dict]:
    """Three links: a lesson with a person's crash and restart, another lesson with a partition
    cut and healed, and a random fault schedule (crashes, partitions, drops, timeouts...)."""
    presets = [p.name for p in proto.presets]
    first = presets[min(1, len(presets) - 1)] if presets else None
    last = presets[-1] if presets else None
    out = []

    base = from_dict({"protocol": proto.name, **({"preset": first} if first else {})})
    ids = proto.node_ids(base.nodes)
    q = base.until // 4
    faults = [{"at": q, "do": "crash", "node": ids[0]}, {"at": 2 * q, "do": "restart", "node": ids[0]}]
    out.append(entry(f"{proto.name}/{first or 'free'}+crash", proto, with_actions(base, faults)))

    base = from_dict({"protocol": proto.name, **({"preset": last} if last else {})})
    ids = proto.node_ids(base.nodes)
    q = base.until // 5
    cut = [{"at": q, "do": "partition", "groups": [ids[:1], ids[1:]]}, {"at": 2 * q, "do": "heal"}]
    out.append(entry(f"{proto.name}/{last or 'free'}+partition", proto, with_actions(base, cut)))

    scenario, _ = fuzz.random_run(proto.name, SEED, actions=20)
    out.append(entry(f"{proto.name}/random-{SEED}", proto, scenario))
    return out


def load() -> list[dict]:
    return json.loads(FILE.read_text(encoding="utf-8"))["links"] if FILE.exists() else []


def save(links: list[dict]) -> None:
    FILE.write_text(json.dumps({"links": links}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def add_missing(links: list[dict]) -> list[str]:
    have = {link["protocol"] for link in links}
    added = []
    for proto in shipped():
        if proto.name not in have:
            new = make_links(proto)
            links += new
            added += [link["name"] for link in new]
    return added


def migrate(links: list[dict], protocol: str, why: str) -> list[str]:
    proto = registry.get(protocol)
    done = []
    for link in links:
        if link["protocol"] != protocol or link["made_with"] >= proto.behaviour:
            continue
        record = {"to": proto.behaviour, "sha256": link_sha256(link["token"]), "why": why}
        decoded = from_token(link["token"]).to_dict()
        if decoded != link["scenario"]:
            record["scenario"] = decoded
        link["migrated"] = record
        done.append(link["name"])
    return done


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--migrate", metavar="PROTOCOL", help="record how PROTOCOL's links replay after a bump")
    ap.add_argument("--why", help="with --migrate: one sentence on why the links' runs differ now")
    args = ap.parse_args()
    links = load()
    if args.migrate:
        if not args.why:
            ap.error("--migrate needs --why: say what changed for these links")
        names = migrate(links, args.migrate, args.why)
        print(f"migrated {len(names)} link(s): {', '.join(names) or '(none older than the current version)'}")
    else:
        names = add_missing(links)
        print(f"added {len(names)} link(s): {', '.join(names) or '(every protocol has its links)'}")
    save(links)
