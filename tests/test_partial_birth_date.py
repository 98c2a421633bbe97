"""A birth date recorded only in part (FHIR date allows "2025-03" or "2025"; review R11, fix-cov item 5): parsed
leniently as the days it can mean, decided strictly. A criterion reading it is met only if it holds whichever day it
was, not met only if it fails whichever day, otherwise unknown, and the card says the birth date is partial. Each
case through prefetch and through the FHIR server (FakeFhir), with identical answers. Evaluated as of the planned
infusion date, 2026-12-01."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.translate.ranges import RangeOption, pick_range

AGE = "age-under-2"
GA = "gestational-age"


def _born(stated: str, ga_at_birth: float | None = None) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    next(r for r in resources if r["resourceType"] == "Patient")["birthDate"] = stated
    if ga_at_birth is not None:
        next(r for r in resources if r.get("id") == "ga-birth")["valueQuantity"]["value"] = ga_at_birth
    return resources


def test_a_month_that_keeps_the_child_under_2_whichever_day_is_met(client):
    answer = answer_both_routes(client, _born("2025-03"))
    got = criterion_outcome(answer, AGE)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "under-2-partial-birth-date", "eligible")
    summary = answer["cards"][0]["detail"]
    assert "age under 2: born 2025-03 (partial date: 2025-03-01 to 2025-03-31) (Patient/eligible-infant)" in summary


def test_a_month_across_the_second_birthday_is_unknown(client):
    """Born in December 2024: 2 years old on 2026-12-01 if born on the 1st, not if born later in the month."""
    answer = answer_both_routes(client, _born("2024-12"))
    got = criterion_outcome(answer, AGE)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "birth-date-partial", "incomplete")
    card = criterion_card(answer, AGE)
    assert card["summary"] == ("Birth date recorded only as 2024-12: age under 2 on 2026-12-01 cannot be confirmed; "
                               "record the full date")
    assert "born between 2024-12-01 and 2024-12-31" in card["detail"]
    assert "second birthday falls between 2026-12-01 and 2026-12-31" in card["detail"]
    assert "DR.005.D 5" in card["detail"] and "Patient/eligible-infant" in card["detail"]
    assert "birth date partial (2024-12)" in answer["cards"][0]["summary"]


def test_a_month_wholly_before_the_cutoff_is_not_met(client):
    answer = answer_both_routes(client, _born("2024-11"))
    got = criterion_outcome(answer, AGE)
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "age-2-or-more-partial-birth-date",
                                                                  "not-eligible")
    card = criterion_card(answer, AGE)
    assert card["summary"].startswith("Patient is 2 years or older on 2026-12-01 (birth date recorded as 2024-11)")
    assert "the second birthday was 2026-11-30 at the latest" in card["detail"]


def test_a_year_alone_across_the_cutoff_is_unknown(client):
    got = criterion_outcome(answer_both_routes(client, _born("2024")), AGE)
    assert (got["status"], got["reasonCode"]) == ("unknown", "birth-date-partial")


@pytest.mark.parametrize(("stated", "status", "reason"), [
    ("2026-10", "unknown", "birth-date-partial"),  # 32 weeks + 4.4 (born the 31st) or + 8.7 weeks (born the 1st)
    ("2026-09", "met", "term-reached"),  # 32 + at least 8.9 weeks
])
def test_corrected_gestational_age_is_decided_only_when_every_day_agrees(client, stated, status, reason):
    answer = answer_both_routes(client, _born(stated, ga_at_birth=32))
    got = criterion_outcome(answer, GA)
    assert (got["status"], got["reasonCode"]) == (status, reason)
    if status == "unknown":
        card = criterion_card(answer, GA)
        assert card["summary"].startswith(f"Birth date recorded only as {stated}: corrected gestational age")
        assert "DR.005.D 4" in card["detail"] and f"between {stated}-01 and {stated}-" in card["detail"]
    else:  # the evidence says the birth date is partial
        assert f"born {stated} (partial date: {stated}-01 to {stated}-30)" in answer["cards"][0]["detail"]


def test_a_partial_birth_date_in_the_future_is_not_a_birth_date(client):
    got = criterion_outcome(answer_both_routes(client, _born("2027-01")), AGE)
    assert got["status"] == "unknown"


def test_an_age_limited_reference_range_applies_only_when_it_does_whichever_day():
    """Liver tests' limits by age (translate/ranges.py): no day of the partial birth date is guessed."""
    infant = RangeOption(None, 45.0, {"low": {"value": 0, "code": "mo"}, "high": {"value": 12, "code": "mo"}}, False)
    when = date(2026, 11, 17)
    # born in 2026-03: 7-8 months old on the result's date, within 0-12 months whichever day
    assert pick_range((infant,), (date(2026, 3, 1), date(2026, 3, 31)), when, "U/L")[1] == 45.0
    # born in 2025-11: 11 or 12 months old: the infant range may or may not apply
    high, notes = pick_range((infant,), (date(2025, 11, 1), date(2025, 11, 30)), when, "U/L")[1:]
    assert high is None and "birth date partial" in notes["high"]


def test_a_medicare_line_for_a_child_with_a_partial_birth_date_is_to_be_confirmed(client):
    resources = _born("2025-03")
    coverage = next(r for r in resources if r["resourceType"] == "Coverage")
    coverage.update(type={"text": "Medicare"})
    coverage.pop("class")
    answer = answer_both_routes(client, resources)
    got = criterion_outcome(answer, "benefit-covered")
    assert (got["status"], got["reasonCode"]) == ("unknown", "medicare-child")
    assert "born 2025-03" in criterion_card(answer, "benefit-covered")["summary"]


def _readiness(client, stated: str) -> dict:
    from cds_service.services import READINESS, SERVICES
    resources = copy.deepcopy(load("readiness-all-done"))
    next(r for r in resources if r["resourceType"] == "Patient")["birthDate"] = stated
    return answer_both_routes(client, resources, url="/cds-services/zolgensma-readiness", name="readiness-all-done",
                              hook="patient-view", sources=SERVICES[READINESS].sources)


def test_readiness_plans_only_before_the_earliest_possible_second_birthday(client):
    """Readiness (before any order): a child under 2 whichever day a partial birth date means is followed; a
    plan is never dated past the earliest day the second birthday can be."""
    full = _readiness(client, "2026-03-10")["cards"]
    partial = _readiness(client, "2025-03")["cards"]
    assert full and partial
    assert partial[0]["summary"] == full[0]["summary"]  # an infusion in December: under 2 whichever day


def test_readiness_stays_quiet_when_the_child_may_be_2_already(client):
    """Born in November 2024: on today (2026-11-23) perhaps 2 already; not a child this service plans for."""
    assert _readiness(client, "2024-11")["cards"] == []
