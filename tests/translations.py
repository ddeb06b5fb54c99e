"""Checks shared by the protocol tests: translated strings match what a run emits."""

import json
import re


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


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
