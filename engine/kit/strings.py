"""A protocol's translated strings, kept as data in its package's strings.toml.

Every key holds {"en": ..., "zh": ...}; "{name}" placeholders are filled from a
note's or a violation's args. The key scheme is written down once, in
docs/architecture.md ("Strings"). In TOML a dotted key is quoted:

    ["2pc.begin"]
    en = "{tx} begins: ..."
    zh = "{tx} 开始：..."
"""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

LANGS = ("en", "zh")


def load_strings(package_file: str, name: str = "strings.toml") -> dict[str, dict[str, str]]:
    """Read `name` beside `package_file` (pass __file__). Keys keep their order in the file."""
    path = Path(package_file).with_name(name)
    with path.open("rb") as f:
        data = tomllib.load(f)
    for key, texts in data.items():
        if not isinstance(texts, dict) or sorted(texts) != sorted(LANGS):
            raise ValueError(f"{path}: [{key!r}] must have exactly en and zh")
    return data


def distinct(*nodes) -> tuple:
    """Node ids for a Violation, each once, in order."""
    return tuple(dict.fromkeys(nodes))
