"""Scenario validation, defaults, and the share token round trip."""

import base64
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import ScenarioError, from_dict, from_json, from_token, limits, registry
from engine.scenario import encode_token

IDS = ["n1", "n2", "n3", "n4", "n5"]

node = st.sampled_from(IDS)
action = st.one_of(
    st.builds(lambda at, n: {"at": at, "do": "crash", "node": n}, st.integers(0, 20000), node),
    st.builds(lambda at, n: {"at": at, "do": "restart", "node": n}, st.integers(0, 20000), node),
    st.builds(lambda at, m: {"at": at, "do": "drop", "msg": m}, st.integers(0, 20000), st.integers(1, 10**9)),
    st.builds(lambda at, m: {"at": at, "do": "duplicate", "msg": m}, st.integers(0, 20000), st.integers(1, 10**6)),
    st.builds(lambda at, k: {"at": at, "do": "partition", "groups": [IDS[:k], IDS[k:]]},
              st.integers(0, 20000), st.integers(1, 4)),
    st.builds(lambda at: {"at": at, "do": "heal"}, st.integers(0, 20000)),
    st.builds(lambda at, v: {"at": at, "do": "set", "param": "loss", "value": v},
              st.integers(0, 20000), st.floats(0, 0.9)),
)
scenarios = st.fixed_dictionaries({
    "protocol": st.just("forward"),
    "seed": st.integers(0, limits.MAX_SEED),
    "nodes": st.just(5),
    "until": st.just(20000),
    "params": st.fixed_dictionaries({"tokens": st.integers(1, 1000)}),
    "network": st.fixed_dictionaries({"latency": st.just([10, 30]), "loss": st.floats(0, 0.9)}),
    "actions": st.lists(action, max_size=30),
})


@given(scenarios)
@settings(max_examples=150, deadline=None)
def test_token_round_trip_is_identity(data):
    s = from_dict(data)
    back = from_token(s.to_token())
    assert back == s
    assert from_json(s.to_json()) == s


def test_defaults_and_preset_merging():
    s = from_dict({"protocol": "forward"})
    proto = registry.get("forward")
    assert s.nodes == proto.nodes_default and s.until == proto.default_until
    assert s.params == {"tokens": 20}
    assert s.network == {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}


def test_actions_are_sorted_stably_by_time():
    s = from_dict({"protocol": "forward", "actions": [
        {"at": 50, "do": "crash", "node": "n2"}, {"at": 10, "do": "heal"}, {"at": 50, "do": "restart", "node": "n2"}]})
    assert [(a["at"], a["do"]) for a in s.actions] == [(10, "heal"), (50, "crash"), (50, "restart")]


@pytest.mark.parametrize("data, message", [
    ({"protocol": "nope"}, "unknown protocol 'nope'"),
    ({"protocol": "forward", "nodes": 99}, "nodes=99 is out of range"),
    ({"protocol": "forward", "nodes": "5"}, "nodes must be an integer"),
    ({"protocol": "forward", "colour": 1}, "unknown scenario field 'colour'"),
    ({"protocol": "forward", "params": {"speed": 1}}, "unknown parameter 'speed'"),
    ({"protocol": "forward", "params": {"tokens": 0}}, "param tokens=0 is out of range"),
    ({"protocol": "forward", "bugs": ["x"]}, "unknown bug 'x'"),
    ({"protocol": "forward", "network": {"latency": [30, 10]}}, "latency min 30 is above max 10"),
    ({"protocol": "forward", "network": {"loss": 2}}, "network.loss=2 is out of range"),
    ({"protocol": "forward", "network": {"jitter": 2}}, "unknown network field 'jitter'"),
    ({"protocol": "forward", "until": 10**9}, "until=1000000000 is out of range"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "crash", "node": "n9"}]}, "crash: unknown node 'n9'"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "explode"}]}, "unknown action 'explode'"),
    ({"protocol": "forward", "actions": [{"at": -1, "do": "heal"}]}, "action.at=-1 is out of range"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "heal", "x": 1}]}, "unknown field in heal action 'x'"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "partition", "groups": [["n1"], ["n1"]]}]},
     "node n1 is in two groups"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "request", "node": "n1", "op": "x"}]},
     "unknown operation 'x'"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "timeout", "node": "n1", "timer": "x"}]},
     "unknown timer 'x'"),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "heal"}] * (limits.MAX_ACTIONS + 1)}, "too many actions"),
    ({"protocol": "forward", "preset": "nope"}, "unknown preset 'nope'"),
])
def test_bad_scenarios_are_clear_errors(data, message):
    with pytest.raises(ScenarioError) as e:
        from_dict(data)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("token", [
    "", "!!!!", "abc", "A" * (limits.MAX_TOKEN_CHARS + 1),
    base64.urlsafe_b64encode(b"not zlib").decode(),
    base64.urlsafe_b64encode(zlib.compress(b"not json")).decode(),
    base64.urlsafe_b64encode(zlib.compress(b"[1, 2]")).decode(),
    base64.urlsafe_b64encode(zlib.compress(b" " * (limits.MAX_SCENARIO_BYTES * 4))).decode(),
    encode_token({"protocol": "forward", "nodes": 1000}),
])
def test_malformed_tokens_are_rejected_cleanly(token):
    with pytest.raises(ScenarioError):
        from_token(token)


def test_a_share_link_cut_short_is_refused_not_half_read():
    """A truncated link could still hold complete JSON: the checksum at the end must be there too."""
    token = encode_token(from_dict({"protocol": "forward", "seed": 5}).to_dict())
    assert from_token(token).seed == 5
    for cut in range(1, 12):
        with pytest.raises(ScenarioError, match="malformed"):
            from_token(token[:-cut])


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_random_text_is_never_a_crash(text):
    for parse in (from_token, from_json):
        try:
            parse(text)
        except ScenarioError:
            pass


def test_token_is_url_safe_and_compact():
    acts = [{"at": 100 * i, "do": "crash" if i % 2 else "restart", "node": "n2"} for i in range(1, 40)]
    token = from_dict({"protocol": "forward", "actions": acts}).to_token()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(token) < len(json.dumps(acts)) / 2


@pytest.mark.parametrize("data, message", [
    ({"protocol": "forward", "network": {"loss": 10**400}}, "network.loss=" ),
    ({"protocol": "forward", "actions": [{"at": 1, "do": "set", "param": "duplicate", "value": -10**400}]},
     "network.duplicate="),
])
def test_huge_numbers_are_range_errors(data, message):
    with pytest.raises(ScenarioError, match=message):
        from_dict(data)


def test_lone_surrogates_and_deep_nesting_are_clear_errors():
    bad_text = {"protocol": "raft", "actions": [{"at": 5, "do": "request", "node": "n1", "op": "put",
                                                 "arg": "x=\ud800"}]}
    with pytest.raises(ScenarioError, match="not valid text"):
        from_dict(bad_text)
    deep = '{"protocol": ' + "[" * 30000 + "]" * 30000 + "}"
    with pytest.raises(ScenarioError, match="nested too deeply"):
        from_json(deep)
    token = base64.urlsafe_b64encode(zlib.compress(deep.encode())).decode()
    with pytest.raises(ScenarioError, match="malformed"):
        from_token(token)


# ---------------------------------------------------------------- behaviour versions ("v")

@pytest.fixture
def forward_at_3(monkeypatch):
    """The demo protocol as if its behaviour had changed twice since links were first made."""
    monkeypatch.setattr(registry.get("forward"), "behaviour", 3)


@pytest.mark.parametrize("v, message", [
    ("2", "v (the version of forward's behaviour the link was made with) must be a whole number"),
    (2.0, "must be a whole number"), (True, "must be a whole number"), (None, "must be a whole number"),
    (0, "v=0 is not a version of forward's behaviour"), (-1, "v=-1 is not a version"),
    (10**6, "at most 10000"),
])
def test_a_bad_version_is_a_clear_error(v, message):
    for parse in (lambda: from_dict({"protocol": "forward", "v": v}),
                  lambda: from_token(encode_token({"protocol": "forward", "v": v}))):
        with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
            parse()
        assert "\n" not in str(e.value)


def test_a_link_without_a_version_was_made_with_version_1(forward_at_3):
    """Every link made before versions existed (and every link of a protocol still at 1) has no "v"."""
    old = encode_token({"protocol": "forward", "seed": 4})
    assert from_token(old).behaviour == 1
    assert from_json('{"protocol": "forward", "seed": 4}').behaviour == 1
    assert from_token(encode_token({"protocol": "forward", "v": 2})).behaviour == 2
    assert from_token(encode_token({"protocol": "forward", "v": 7})).behaviour == 7   # a newer server's link


def test_a_scenario_made_now_carries_the_current_version_and_keeps_it(forward_at_3):
    fresh = from_dict({"protocol": "forward", "seed": 4})
    assert fresh.behaviour == 3
    assert fresh.to_dict()["v"] == 3
    assert from_token(fresh.to_token()) == fresh and from_json(fresh.to_json()) == fresh
    old = from_token(encode_token({"protocol": "forward", "seed": 4}))
    assert "v" not in old.to_dict()
    assert from_token(old.to_token()) == old and from_json(old.to_json()) == old
    assert old.with_actions([{"at": 5, "do": "heal"}]).behaviour == 1    # still the old link's claim


def test_a_scenario_at_version_1_is_the_same_bytes_as_before_versions():
    """Links made today are the links of yesterday: no "v" is written while it is 1."""
    s = from_dict({"protocol": "forward", "seed": 4})
    assert s.behaviour == registry.get("forward").behaviour == 1
    assert "v" not in s.to_dict()
    assert s.to_token() == encode_token({"protocol": "forward", "seed": 4, "nodes": 5, "params": {"tokens": 20},
                                         "network": {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0},
                                         "bugs": [], "actions": [], "until": s.until})
