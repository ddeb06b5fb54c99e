"""Protocol Playground engine: deterministic, pure Python, no I/O, no wall clock."""

from .protocol import Bug, Checker, Field, Message, Node, Operation, Param, Preset, Protocol, Violation
from .protocols import load_protocol_file, registry
from .scenario import Scenario, ScenarioError, from_dict, from_json, from_token
from .sim import ProtocolError, Simulation, run_scenario

__all__ = [
    "Bug", "Checker", "Field", "Message", "Node", "Operation", "Param", "Preset", "Protocol",
    "ProtocolError", "Scenario", "ScenarioError", "Simulation", "Violation", "from_dict",
    "from_json", "from_token", "load_protocol_file", "registry", "run_scenario",
]
