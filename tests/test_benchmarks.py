"""The benchmark's inputs stay what the README says they are (timings are never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import instructions  # noqa: E402
import json_only  # noqa: E402
import no_prefetch  # noqa: E402
import run  # noqa: E402


def test_benchmark_payload_is_a_full_25_resource_prefetch_of_an_eligible_patient():
    body, _ = run.full_request()
    assert run.prefetched_resources(body) == 25
    response = make_app().test_client().post(run.SIGN, json=body)
    outcome = response.json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert outcome["overall"] == "eligible"
    assert not outcome.get("dataIssues")


def test_json_only_ceiling_parses_the_same_payload():
    body, _ = run.full_request()
    response = json_only.app.test_client().post(run.SIGN, json=body)
    assert response.json == {"cards": [], "parsed": True}


@pytest.mark.parametrize("args", [["ceiling"], ["service"]] + [["service", "--stage", s] for s in instructions.STAGES])
def test_instruction_count_workloads_run(args):
    """What `make bench-instructions` runs under valgrind, run once without it."""
    subprocess.run([sys.executable, instructions.__file__, *args, "1"], check=True, timeout=120)


def test_paging_stand_in_with_a_long_history_stays_eligible():
    """Benchmark (c)'s stand-in (own process, pages as servers do), seeded with the eligible infant plus 2,500
    history Observations and 600 MedicationAdministrations: the service reads it to `eligible` (deadline raised:
    the benchmark, not this test, measures time)."""
    proc, base = no_prefetch.stand_in(no_prefetch.long_history(no_prefetch.load("eligible-infant"), 2500, 600))
    try:
        _, outcome, issues, requests_made = no_prefetch.no_prefetch(base, n=1, GATHER_DEADLINE_SECONDS=120)
    finally:
        proc.terminate()
        proc.join(30)
    assert outcome == "eligible", issues
    assert requests_made <= 50


def test_wrk_latency_parsing():
    out = "  Latency Distribution\n     50%    2.45ms\n     75%  800.00us\n     99%    1.20s\n"
    assert run._wrk_latency(out, "50%") == pytest.approx(0.00245)
    assert run._wrk_latency(out, "75%") == pytest.approx(0.0008)
    assert run._wrk_latency(out, "99%") == pytest.approx(1.2)
