"""Checks shared by the protocol tests: translated strings match what a run emits."""

import json
import re

from engine.protocol import Checker


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def violation_of(proto, invariant, key, nodes, **args):
    """The violation a checker of `proto` builds (Checker.violation with the protocol's strings)."""
    checker = Checker({}, frozenset(), [])
    checker.strings = proto.strings
    return checker.violation(invariant, key, nodes, **args)


def check_violation_texts(proto, violations) -> None:
    """Each violation names a translated string whose English text is its message."""
    for v in violations:
        key, args = v.get("key"), v.get("args")
        assert key and key.startswith("viol.") and isinstance(args, dict), v
        assert key in proto.strings, key
        s = proto.strings[key]
        assert set(s) == {"en", "zh"} and s["en"] and s["zh"] and s["en"] != s["zh"], key
        assert placeholders(s["en"]) == placeholders(s["zh"]) == set(args), key
        assert s["en"].format(**args) == v["message"], key
        json.dumps(args)    # travels to the page as JSON
