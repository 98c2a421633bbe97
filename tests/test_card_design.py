"""The card design (README "Card design"), checked on every scenario through both eligibility hooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir_fake import hook_request, scenario_names

from cds_service.extensions import CRITERION, ELIGIBILITY

SEVERITY = {"critical": 0, "warning": 1, "info": 2}
WORDING = json.loads((Path(__file__).resolve().parent.parent / "cards" / "criteria.json").read_text())
CRITERIA, COMMON = WORDING["criteria"], WORDING["commonReasons"]
SCENARIOS = [n for n in scenario_names() if n != "no-zolgensma"]


def _cards(client, name, hook):
    response = client.post(f"/cds-services/zolgensma-{hook}", json=hook_request(name, hook))
    assert response.status_code == 200
    return response.json["cards"]


def _phrase_start(criterion: dict) -> str:
    """The literal start of the phrase the first card names a problem by (cards/criteria.json `problem`, else
    the criterion's short name)."""
    reasons = {**COMMON, **CRITERIA[criterion["id"]]["reasons"]}
    phrase = reasons[criterion["reasonCode"]].get("problem") or CRITERIA[criterion["id"]]["short"]
    return phrase.replace("{short}", CRITERIA[criterion["id"]]["short"]).split("{")[0]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_first_card_answers_can_it_go_ahead_and_why(client, name, hook):
    cards = _cards(client, name, hook)
    first = cards[0]
    outcome = first["extension"][ELIGIBILITY]
    summary = first["summary"]
    assert len(summary) < 140
    problems = [c for c in outcome["criteria"] if c["status"] != "met"]
    warnings = [c for c in cards[1:] if c["indicator"] != "info"]
    if not problems and not warnings:
        assert summary.startswith("Zolgensma can go ahead: all 14 checks met")
    elif not problems:  # never an unqualified "can go ahead" while a warning card stands
        assert summary.startswith(f"Zolgensma can go ahead after {len(warnings)} check")
    else:
        # the problems by their reason's phrase (value, date), most severe first: not met, then review, then missing
        rank = {"not-met": 0, "review": 2, "unknown": 3}
        ordered = sorted(problems, key=lambda c: rank[c["status"]])
        named = [_phrase_start(c) for c in ordered]
        assert named[0] in summary, (summary, named)
        positions = [summary.index(n) for n in named if n in summary]
        assert positions == sorted(positions), (summary, named)
        assert all(n in summary for n in named) or "more" in summary
    # the first card's indicator is the worst of the response; the others come critical, warning, info
    assert SEVERITY[first["indicator"]] == min(SEVERITY[c["indicator"]] for c in cards)
    rest = [SEVERITY[c["indicator"]] for c in cards[1:]]
    assert rest == sorted(rest)


@pytest.mark.parametrize("name", SCENARIOS)
def test_met_criteria_compressed_full_table_in_the_outcome(client, name):
    first = _cards(client, name, "order-sign")[0]
    outcome = first["extension"][ELIGIBILITY]
    assert len(outcome["criteria"]) == 14 and all(c["reason"] for c in outcome["criteria"])
    assert "|---" not in first["detail"]  # no 14-row table on screen
    met = [c for c in outcome["criteria"] if c["status"] == "met"]
    if met:
        assert f"**Met ({len(met)} of 14):**" in first["detail"]
    for c in outcome["criteria"]:
        if c["status"] != "met":  # named with its source, explained on its own card
            assert CRITERIA[c["id"]]["source"] in first["detail"]
            assert c["reason"] not in first["detail"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_card_repeats_another(client, name):
    cards = _cards(client, name, "order-sign")
    summaries = [c["summary"] for c in cards]
    assert len(summaries) == len(set(summaries))
    ids = [c["extension"][CRITERION]["id"] for c in cards if CRITERION in c.get("extension", {})]
    assert len(ids) == len(set(ids))


def test_weight_out_of_range_is_one_card_that_also_blocks_the_dose(client):
    cards = _cards(client, "weight-22kg", "order-sign")
    ids = [c["extension"][CRITERION]["id"] for c in cards if CRITERION in c.get("extension", {})]
    assert ids == ["weight-in-label-range"]
    assert "Also blocks:** Dose within the FDA labeled" in cards[1]["detail"]


def test_orders_sit_on_the_card_that_explains_them(client):
    cards = _cards(client, "missing-labs", "order-sign")
    for card in cards:
        for s in card.get("suggestions", []):
            if s["label"].startswith("Order baseline"):
                assert CRITERION in card.get("extension", {}) or "label baseline" in card["detail"].lower() \
                    or "creatinine" in s["label"].lower()
    liver = next(c for c in cards if c.get("extension", {}).get(CRITERION, {}).get("id") == "baseline-liver-function")
    assert liver["suggestions"] and "Hepatic function panel" in liver["suggestions"][0]["label"]


def test_every_fixture_patient_has_a_name_and_every_draft_order_authored_on():
    """The sandbox shows "Unknown" for a patient without Patient.name; CRD orders carry authoredOn."""
    fixtures = Path(__file__).resolve().parent.parent / "fhir_fixtures"
    checked = 0
    for path in fixtures.glob("*.json"):
        bundle = json.loads(path.read_text())
        for entry in bundle.get("entry", []):
            r = entry["resource"]
            if r["resourceType"] == "Patient":
                assert r["name"][0]["given"] and r["name"][0]["family"], path.name
                checked += 1
            if r.get("status") == "draft":
                assert r["authoredOn"], (path.name, r["id"])
    assert checked == len(list(fixtures.glob("*.json")))


def test_numbers_and_units_read_as_a_clinician_writes_them(client):
    cards = _cards(client, "eligible-infant", "order-sign")
    assert "8.25 × 10^14 vg" in cards[0]["detail"] and "e+14" not in cards[0]["detail"]
    assert "0 × 5.5 mL" not in cards[0]["detail"]
    lab_cards = _cards(client, "missing-labs", "order-sign")
    text = " ".join(c["detail"] for c in lab_cards)
    assert "10*3/uL" not in text
    liver = next(c for c in lab_cards if c.get("extension", {}).get(CRITERION, {}).get("id") ==
                 "baseline-liver-function")
    assert "Missing: AST, ALT, total bilirubin and PT/INR." in liver["detail"]  # not "ast, alt, bilirubin, pt"


def test_platelets_shown_with_readable_units():
    from cds_service.facts import Measurement
    m = Measurement("platelets", 300, "10*3/uL", None, "Observation/plt", ref_low=150, ref_high=450)
    assert m.evidence.text == "300 × 10^3/µL, lower limit 150 × 10^3/µL on unknown date"  # low is the finding
