"""Protocol registry.

Every module in this package that defines `PROTOCOL` (an instance of
engine.protocol.Protocol) is a protocol; adding a protocol means adding a
module here. A protocol may also be loaded from any file with
`load_protocol_file`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

from ..protocol import Protocol
from ..scenario import ScenarioError


class Registry:
    def __init__(self):
        self._protocols: dict[str, Protocol] | None = None
        self._extra: dict[str, Protocol] = {}

    def _load(self) -> dict[str, Protocol]:
        if self._protocols is None:
            found = {}
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
                if info.name.startswith("_"):
                    continue
                mod = importlib.import_module(f"{__name__}.{info.name}")
                proto = getattr(mod, "PROTOCOL", None)
                if isinstance(proto, Protocol):
                    found[proto.name] = proto
            # By protocol name, not module name: 2pc before 3pc (module twopc sorts after threepc).
            self._protocols = dict(sorted(found.items()))
        return self._protocols

    def add(self, proto: Protocol) -> None:
        self._extra[proto.name] = proto

    def names(self, include_hidden: bool = False) -> list[str]:
        names = list(self._load()) + [n for n in self._extra if n not in self._load()]
        if not include_hidden:
            names = [n for n in names if self.get(n).category != "demo"]
        return names

    def all(self, include_hidden: bool = False) -> list[Protocol]:
        return [self.get(n) for n in self.names(include_hidden)]

    def get(self, name: str) -> Protocol:
        if name in self._extra:
            return self._extra[name]
        protos = self._load()
        if name not in protos:
            known = ", ".join(protos)
            raise ScenarioError(f"unknown protocol {name!r}; expected one of: {known}"[:300])
        return protos[name]


registry = Registry()


def load_protocol_file(path: str) -> Protocol:
    """Import a user's protocol module from a file and register it."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"protocol file not found: {path}")
    mod_name = f"_user_protocol_{p.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, p)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"cannot import protocol file {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as e:  # noqa: BLE001 -- a user's file: report it, never crash the CLI
        raise ScenarioError(f"protocol file {path} failed to import: {type(e).__name__}: {e}") from None
    proto = getattr(mod, "PROTOCOL", None)
    if not isinstance(proto, Protocol):
        raise ScenarioError(f"protocol file {path} does not define PROTOCOL = <a Protocol instance>")
    registry.add(proto)
    return proto
