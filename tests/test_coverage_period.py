"""A Coverage counts for `benefit-covered` only when in force on the evaluation date (review 2026-11-24b item H1):
Coverage.period that ended before it, or starts after it, is `unknown` ("confirm eligibility"), and the CRD
coverage information then never asserts `covered`. The evaluation date is the planned infusion date
(2026-12-01 in eligible-infant; today is 2026-11-23). Each case through prefetch and through the FHIR server,
with identical answers."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

CRD = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


def _with_period(period: dict | None, **changes) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    coverage = next(r for r in resources if r["resourceType"] == "Coverage")
    coverage.update(changes)
    if period is not None:
        coverage["period"] = period
    return resources


def _benefit(answer: dict) -> dict:
    return criterion_outcome(answer, "benefit-covered")


def _card(answer: dict) -> dict:
    return criterion_card(answer, "benefit-covered")


def _coverage_information(answer: dict) -> dict:
    """{part url: value} of the CRD coverage-information extension on the order's update systemAction."""
    (action,) = answer["systemActions"]
    (ext,) = [e for e in action["resource"]["extension"] if e["url"] == CRD]
    return {p["url"]: p.get("valueCode") or p.get("valueReference") or p.get("valueCodeableConcept")
            for p in ext["extension"]}


@pytest.mark.parametrize("period, why, stated", [
    ({"start": "2026-01-01", "end": "2026-10-31"}, "ended 2026-10-31", "2026-01-01 to 2026-10-31"),  # the review's
    ({"start": "2026-01-01", "end": "2026-11-25"}, "ended 2026-11-25", "2026-01-01 to 2026-11-25"),  # in force today
    ({"start": "2027-01-01"}, "starts 2027-01-01", "from 2027-01-01"),
    ({"end": "2026-11"}, "ended 2026-11", "to 2026-11"),  # a partial end: all of November is before 2026-12-01
])
def test_a_coverage_not_in_force_on_the_infusion_date_is_unknown(client, period, why, stated):
    answer = answer_both_routes(client, _with_period(period))
    got = _benefit(answer)
    assert (got["status"], got["reasonCode"]) == ("unknown", "not-in-force")
    assert got["overall"] == "incomplete"
    card = _card(answer)
    assert card["summary"] == f"Coverage {why}: not in force on 2026-12-01; confirm eligibility (DR.005.D)"
    assert "Coverage/coverage-1" in card["detail"] and "the planned infusion date" in card["detail"]
    assert f"HealthChoices); period {stated} (Coverage/coverage-1)" in card["detail"]  # the evidence line
    assert f"not in force on 2026-12-01 ({why})" in answer["cards"][0]["summary"]
    crd = _coverage_information(answer)
    assert crd["covered"] == "conditional"  # never `covered` for a plan not in force
    assert crd["reason"]["text"] == (f"Coverage/coverage-1 is not in force on 2026-12-01 ({why}): confirm the "
                                     "patient's eligibility; coverage is not asserted (DR.005.D)")


@pytest.mark.parametrize("period", [
    {"start": "2026-01-01", "end": "2026-12-31"},
    {"start": "2026-01-01"},
    {"end": "2026-12-01"},  # the last day of coverage is the infusion date
    {"end": "2026-12"},  # ends some day in December: on or after 2026-12-01
    {"start": "2025-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
])
def test_a_coverage_in_force_on_the_date_is_met(client, period):
    answer = answer_both_routes(client, _with_period(period))
    got = _benefit(answer)
    assert (got["status"], got["overall"]) == ("met", "eligible")
    assert _coverage_information(answer)["covered"] == "covered"


def test_a_partial_start_around_the_date_is_unclear(client):
    answer = answer_both_routes(client, _with_period({"start": "2026-12"}))  # 2026-12-01, or later that month?
    got = _benefit(answer)
    assert (got["status"], got["reasonCode"]) == ("unknown", "period-unclear")
    assert _card(answer)["summary"] == ("Coverage period from 2026-12 not known to include 2026-12-01: confirm "
                                        "eligibility (DR.005.D)")
    assert _coverage_information(answer)["covered"] == "conditional"


def test_an_ended_aca_plan_is_not_an_exclusion(client):
    """The exclusion concerns the plan in force: an ended Individual & Family plan says nothing of today's."""
    resources = _with_period({"start": "2025-01-01", "end": "2025-12-31"}, type={"text": "Individual and Family (ACA)"})
    resources[[r["resourceType"] for r in resources].index("Coverage")].pop("class")
    got = _benefit(answer_both_routes(client, resources))
    assert (got["status"], got["reasonCode"]) == ("unknown", "not-in-force")


def test_the_coverage_in_force_decides_beside_an_ended_one(client):
    resources = _with_period({"start": "2025-01-01", "end": "2025-12-31"})
    current = copy.deepcopy(next(r for r in resources if r["resourceType"] == "Coverage"))
    current.update(id="coverage-2026", period={"start": "2026-01-01"})
    answer = answer_both_routes(client, resources + [current])
    got = _benefit(answer)
    assert (got["status"], got["evidence"]) == ("met", ["Coverage/coverage-2026"])
    crd = _coverage_information(answer)
    assert (crd["coverage"], crd["covered"]) == ({"reference": "Coverage/coverage-2026"}, "covered")


def test_a_coverage_with_an_unreadable_period_is_skipped_and_not_met(client):
    answer = answer_both_routes(client, _with_period({"end": "31/10/2026"}))
    got = _benefit(answer)
    assert got["status"] == "unknown" and got["overall"] != "eligible"
    issues = next(c for c in answer["cards"] if "could not be used by the Zolgensma PA check" in c["summary"])
    assert "Coverage/coverage-1" in issues["detail"]
