"""Seeded fault plans of the sandbox: the spec grammar, deterministic decisions, rates, bodies."""

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from desbumi.errors import InputError
from desbumi.sandbox.faults import Fault, FaultPlan, fault_body

SPEC = "500:0.05,502:0.02,429:0.05,reset:0.02,truncate:0.02,slow:0.05@2s"
DATA = "/api/v2/assets/aTest/data/"


def kinds(plan: FaultPlan, n: int = 10_000, path: str = DATA) -> Counter:
    return Counter(f.kind if f else None for f in (plan.decide(i, "GET", path) for i in range(n)))


@pytest.mark.parametrize("spec", ["", "none", "NONE", "  ", None])
def test_no_faults(spec):
    plan = FaultPlan.parse(spec, seed=3)
    assert not plan.active
    assert all(plan.decide(i, "GET", DATA) is None for i in range(1000))


@pytest.mark.parametrize("spec, words", [
    ("500", ["'500'", "KIND:RATE"]),
    ("418:0.1", ["'418' is not a fault kind"]),
    ("500:x", ["rate 'x'"]),
    ("500:1.5", ["outside 0..1"]),
    ("500:0.6,502:0.6", ["add up to 1.2"]),
    ("slow:0.1@fast", ["'fast' is not a duration"]),
    ("500:0.1@2s", ["takes no '@'"]),
    ("429:0.1@0.5", ["whole seconds"]),
    ("500:0.1,,502:0.1", ["empty item"]),
    ("502:0.1/", ["scope"]),
])
def test_bad_specs_name_the_bad_part(spec, words):
    with pytest.raises(InputError) as info:
        FaultPlan.parse(spec, seed=1)
    for word in words:
        assert word in info.value.message
    assert info.value.hint and "500:0.05" in info.value.hint


def test_parse_reads_parameters_and_scopes():
    plan = FaultPlan.parse("slow:0.1@250ms, 429:0.1@3s, 503:0.1, 504:0.1@1.5/data, 502:0.1", seed=1)
    by_kind = {r.kind: r for r in plan.rules}
    assert by_kind["slow"].delay == 0.25
    assert by_kind["429"].retry_after == 3 and by_kind["503"].retry_after == 1
    assert by_kind["504"].delay == 1.5 and by_kind["504"].scope == "/data"
    assert by_kind["502"].scope is None and by_kind["502"].status == 502
    assert FaultPlan.parse("slow:0.1", seed=1).rules[0].delay == 1.0


def test_decisions_depend_only_on_seed_and_index():
    a = FaultPlan.parse(SPEC, seed=42)
    b = FaultPlan.parse(SPEC, seed=42)
    forward = [a.decide(i, "GET", DATA) for i in range(3000)]
    with ThreadPoolExecutor(8) as pool:  # any order, any thread
        backward = list(pool.map(lambda i: b.decide(i, "GET", DATA), reversed(range(3000))))[::-1]
    assert forward == backward
    other = [FaultPlan.parse(SPEC, seed=43).decide(i, "GET", DATA) for i in range(3000)]
    assert forward != other


def test_rates_are_roughly_honoured_over_10000_requests():
    counts = kinds(FaultPlan.parse(SPEC, seed=7))
    expected = {"500": 0.05, "502": 0.02, "429": 0.05, "reset": 0.02, "truncate": 0.02, "slow": 0.05}
    for kind, rate in expected.items():
        assert abs(counts[kind] / 10_000 - rate) < 0.012, (kind, counts[kind])
    assert abs(counts[None] / 10_000 - 0.79) < 0.02


def test_a_scoped_fault_only_hits_its_paths_and_moves_nothing():
    plan = FaultPlan.parse("502:0.3/data,500:0.1", seed=5)
    on_data = kinds(plan, 5000)
    elsewhere = kinds(plan, 5000, path="/api/v2/assets/aTest/")
    assert on_data["502"] > 1300 and elsewhere["502"] == 0
    assert elsewhere["500"] == on_data["500"]  # the same requests get the unscoped fault


def test_status_fault_bodies_are_shaped_like_production():
    status, headers, body = Fault("502", 502).response()
    head = dict(headers)
    assert status == 502 and head["Content-Type"] == "text/html"
    assert b"<title>502 Bad Gateway</title>" in body and b"nginx" in body
    assert int(head["Content-Length"]) == len(body)
    assert b"504 Gateway Time-out" in fault_body(504)[0]
    body, content_type = fault_body(500)
    assert content_type.startswith("text/html") and b"Server Error (500)" in body and len(body) < 200
    status, headers, body = Fault("429", 429, retry_after=3).response()
    assert dict(headers)["Retry-After"] == "3" and dict(headers)["Content-Type"] == "application/json"
    assert json.loads(body) == {"detail": "Request was throttled. Expected available in 3 seconds."}
    status, headers, body = Fault("503", 503, retry_after=1).response()
    assert status == 503 and dict(headers)["Retry-After"] == "1" and "detail" in json.loads(body)


def test_non_status_faults_have_no_response_and_truncate_cuts_inside_the_body():
    plan = FaultPlan.parse("truncate:1", seed=9)
    cuts = set()
    for i in range(200):
        fault = plan.decide(i, "GET", DATA)
        assert fault.kind == "truncate" and fault.status is None
        with pytest.raises(ValueError):
            fault.response()
        at = fault.truncate_at(10_000)
        assert 0 < at < 10_000
        cuts.add(at)
        assert fault == plan.decide(i, "GET", DATA)
    assert len(cuts) > 50
    assert Fault("truncate").truncate_at(1) == 0


def test_describe_is_readable():
    text = FaultPlan.parse("slow:0.05@2s,429:0.01@4/data", seed=3).describe()
    assert "slow 5.0%, 2s" in text and "429 1.0%, Retry-After 4s on paths with /data" in text
    assert FaultPlan.parse("none").describe() == "no faults"
