"""Every fixture scenario, through prefetch and through the FHIR-server fallback, with identical results."""

from __future__ import annotations

import json

import pytest
from conftest import make_app
from fhir_fake import FakeFhir, hook_request, load, only_follow_ups, scenario_names, without_generated_ids

EXT_ELIGIBILITY = "org.example.zolgensma-cds.eligibility"  # card extension names (README)
EXT_CRITERION = "org.example.zolgensma-cds.criterion"
EXT_NOTE = "org.example.zolgensma-cds.note"

# scenario -> (overall outcome, {criterion: status} that must hold; all others must be "met")
EXPECTED = {
    "eligible-infant": ("eligible", {}),
    "titer-1-100": ("not-eligible", {"aav9-titer": "not-met"}),
    "titer-stale": ("incomplete", {"aav9-titer": "unknown"}),
    "age-25-months": ("not-eligible", {"age-under-2": "not-met"}),
    "premature-not-term": ("not-eligible", {"gestational-age": "not-met"}),
    "infection": ("not-eligible", {"no-active-infection": "not-met"}),
    "prior-dose": ("not-eligible", {"one-time-dose": "not-met"}),
    "aca-plan": ("not-eligible", {"benefit-covered": "not-met"}),
    "weight-22kg": ("not-eligible", {"weight-in-label-range": "not-met", "dose-within-label": "not-met"}),
    "missing-labs": ("incomplete", {"baseline-liver-function": "unknown", "baseline-platelets-troponin": "unknown"}),
    "advanced-sma": ("needs-review", {"no-advanced-sma": "review"}),
    "missing-genetics": ("incomplete", {"smn1-biallelic": "unknown"}),
    "labs-other-units": ("eligible", {}),
    "local-lab-codes": ("eligible", {}),
    "no-steroid-plan": ("incomplete", {"corticosteroid-plan": "unknown"}),
    "dose-off-band": ("not-eligible", {"dose-within-label": "not-met"}),
    "lft-high": ("needs-review", {"baseline-liver-function": "review"}),
    "site-office": ("eligible", {}),  # site of care is payer guidance (billing card), not a DR.005.D criterion
    "weight-between-bands": ("eligible", {}),
    "weight-below-table": ("not-eligible", {"weight-in-label-range": "not-met", "dose-within-label": "not-met"}),
    "baseline-platelets-low": ("eligible", {}),  # met, with a warning card (CAUTIONS below)
    # ALT without a reference range: 2 x ULN cannot be checked (review above it), so never met.
    "baseline-alt-no-range": ("incomplete", {"baseline-liver-function": "unknown"}),
    # No usable planned date: the steroid course cannot be shown to start by day -1.
    "turning-2-no-planned-date": ("incomplete", {"corticosteroid-plan": "unknown"}),
    "planned-date-last-year": ("incomplete", {"corticosteroid-plan": "unknown"}),
    "ga-later-estimate": ("not-eligible", {"gestational-age": "not-met"}),
    "steroid-7-days": ("not-eligible", {"corticosteroid-plan": "not-met"}),
    "steroid-ended-active": ("incomplete", {"corticosteroid-plan": "unknown"}),
    "steroid-two-orders": ("needs-review", {"corticosteroid-plan": "review"}),
    "steroid-mg-per-day": ("eligible", {}),
}
# Clinical rules a reviewer would sign (issue 12): genetics, prior dose, advanced SMA, infection, prescriber, titer.
EXPECTED.update({
    "prior-dose-generic": ("not-eligible", {"one-time-dose": "not-met"}),
    "prior-dose-statement": ("not-eligible", {"one-time-dose": "not-met"}),
    "prior-dose-procedure": ("not-eligible", {"one-time-dose": "not-met"}),
    "draft-order-contained-medication": ("eligible", {}),
    "advanced-sma-tracheostomy": ("needs-review", {"no-advanced-sma": "review"}),
    "advanced-sma-home-ventilator": ("needs-review", {"no-advanced-sma": "review"}),
    "genetics-negative-text": ("needs-review", {"smn1-biallelic": "review"}),
    "genetics-carrier": ("incomplete", {"smn1-biallelic": "unknown"}),
    "genetics-compound-het": ("eligible", {}),
    "genetics-text-positive": ("needs-review", {"smn1-biallelic": "review"}),
    "prescriber-psychiatrist": ("incomplete", {"specialist-prescriber": "unknown"}),
    "titer-nab-by-name": ("incomplete", {"aav9-titer": "unknown"}),
    "infection-cmv-45-days": ("not-eligible", {"no-active-infection": "not-met"}),
    "fever-last-night": ("not-eligible", {"no-active-infection": "not-met"}),
})
# Clinician/payer review of the eligibility rules (tests/test_eligibility_review.py has the reasons).
EXPECTED.update({
    "baseline-pt-prolonged": ("needs-review", {"baseline-liver-function": "review"}),
    "baseline-inr-high": ("needs-review", {"baseline-liver-function": "review"}),
    "titer-method-unstated": ("incomplete", {"aav9-titer": "unknown"}),
    "dose-vg-per-kg": ("incomplete", {"dose-within-label": "unknown"}),
    "gastroenteritis-noninfective": ("eligible", {}),
    "bipap-dependent": ("needs-review", {"no-advanced-sma": "review"}),
    "titer-positive": ("incomplete", {"aav9-titer": "unknown"}),
    "titer-not-detected": ("incomplete", {"aav9-titer": "unknown"}),
})
NO_CARDS = {"no-zolgensma"}
# Scenarios evaluated as of today (2026-11-23): no planned date, or one before today.
AS_OF_TODAY = {"turning-2-no-planned-date", "planned-date-last-year"}
# scenario -> (criterion, reason) met with a risk: a warning card of its own (issue 12 item 10)
CAUTIONS = {
    "baseline-platelets-low": ("baseline-platelets-troponin", "baseline-platelets-low"),
    "turning-2-no-planned-date": ("age-under-2", "under-2-turning-2-soon"),
    "weight-between-bands": ("weight-in-label-range", "weight-between-bands"),
}


def test_every_fixture_has_an_expectation():
    assert set(scenario_names()) == set(EXPECTED) | NO_CARDS
    assert len(scenario_names()) >= 15


def _outcome(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"][0]["extension"][EXT_ELIGIBILITY]


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
def test_scenario_prefetch_and_fhir_server_agree(name, hook, client, rsps):
    url = f"/cds-services/zolgensma-{hook}"
    fake = FakeFhir(load(name))
    fake.register(rsps)
    via_prefetch = client.post(url, json=hook_request(name, hook, "prefetch"))
    assert only_follow_ups(fake.calls), "prefetch path queries only lab results absent from it, by code"

    fake.calls.clear()
    via_server = client.post(url, json=hook_request(name, hook, "server"))
    assert fake.calls, "fallback path must query the FHIR server"

    overall, special = EXPECTED[name]
    outcome = _outcome(via_prefetch)
    statuses = {c["id"]: c["status"] for c in outcome["criteria"]}
    assert outcome["overall"] == overall, statuses
    for criterion, status in statuses.items():
        assert status == special.get(criterion, "met"), (criterion, status, outcome["criteria"])
    if name in AS_OF_TODAY:
        assert outcome["asOf"] == "2026-11-23" and outcome["asOfBasis"] == "today"
    else:
        assert outcome["asOf"] == "2026-12-01" and outcome["asOfBasis"] == "planned-infusion-date"
    assert without_generated_ids(via_prefetch.json) == without_generated_ids(via_server.json)


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_no_zolgensma_in_order_gives_no_cards(mode, client, rsps):
    FakeFhir(load("no-zolgensma")).register(rsps)
    response = client.post("/cds-services/zolgensma-order-sign", json=hook_request("no-zolgensma", mode=mode))
    assert response.status_code == 200
    assert response.json == {"cards": []}
    assert not rsps.calls, "no data is fetched for orders we do not act on"


def test_paged_prefetch_and_paged_server_agree(client, rsps):
    fake = FakeFhir(load("eligible-infant"), page_size=3)
    fake.register(rsps)
    paged = client.post("/cds-services/zolgensma-order-sign",
                        json=hook_request("eligible-infant", mode="prefetch", page_size=3))
    assert any("_offset=" in c for c in fake.calls), "next links in prefetch Bundles are followed"
    assert _outcome(paged)["overall"] == "eligible"
    fake.calls.clear()
    served = client.post("/cds-services/zolgensma-order-sign", json=hook_request("eligible-infant", mode="server"))
    assert _outcome(served)["overall"] == "eligible"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fast_and_strict_validation_agree(name, client, rsps):
    """The subset models (fast) and the full fhir.resources R4B models (strict) give the same answer."""
    FakeFhir(load(name)).register(rsps)  # Medications named by reference are read from it
    strict = make_app(STRICT_VALIDATION=True).test_client()
    body = hook_request(name)
    url = "/cds-services/zolgensma-order-sign"
    assert without_generated_ids(client.post(url, json=body).json) == without_generated_ids(
        strict.post(url, json=body).json)


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_weight_between_bands_is_dosed_at_the_higher_band(mode, client, rsps):
    FakeFhir(load("weight-between-bands")).register(rsps)
    response = client.post("/cds-services/zolgensma-order-sign", json=hook_request("weight-between-bands", mode=mode))
    kit = _outcome(response)["kit"]
    assert (kit["weightKg"], kit["bandKg"], kit["doseVolumeMl"], kit["ndc"]) == (3.05, [3.1, 3.5], 19.3, "71894-121-03")
    assert "takes the higher band" in response.json["cards"][0]["detail"]


@pytest.mark.parametrize("name", sorted(CAUTIONS))
@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_met_with_a_risk_gets_a_warning_card(name, mode, client, rsps):
    FakeFhir(load(name)).register(rsps)
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request(name, mode=mode)).json["cards"]
    criterion, reason = CAUTIONS[name]
    outcome = {c["id"]: c for c in cards[0]["extension"][EXT_ELIGIBILITY]["criteria"]}[criterion]
    assert (outcome["status"], outcome["reasonCode"], outcome["caution"]) == ("met", reason, True)
    card = next(c for c in cards if c.get("extension", {}).get(EXT_CRITERION, {}).get("id") == criterion)
    assert card["indicator"] == "warning" and card["extension"][EXT_CRITERION]["status"] == "met"
    words = ("Repeat", "reference range", "planned infusion date", "confirm the band")
    assert any(word in card["detail"] for word in words)
    others = [c for c in cards[0]["extension"][EXT_ELIGIBILITY]["criteria"] if c["id"] != criterion]
    assert not any(c.get("caution") for c in others)


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_planned_date_before_today_is_not_used_and_said_to_look_wrong(mode, client, rsps):
    FakeFhir(load("planned-date-last-year")).register(rsps)
    cards = client.post("/cds-services/zolgensma-order-sign",
                        json=hook_request("planned-date-last-year", mode=mode)).json["cards"]
    outcome = cards[0]["extension"][EXT_ELIGIBILITY]
    assert (outcome["asOf"], outcome["asOfBasis"], outcome["plannedDate"], outcome["notes"]) == (
        "2026-11-23", "today", "2025-12-01", ["planned-date-in-past"])
    criteria = {c["id"]: c for c in outcome["criteria"]}
    # Titer (2026-11-20) and weight (2026-11-20) are current as of today, not "no usable date" / "not found".
    assert criteria["aav9-titer"]["status"] == "met" and criteria["weight-in-label-range"]["status"] == "met"
    note = next(c for c in cards if EXT_NOTE in c.get("extension", {}))
    assert note["indicator"] == "warning" and "2025-12-01" in note["summary"] and "looks wrong" in note["summary"]
    assert note["extension"][EXT_NOTE] == {"code": "planned-date-in-past", "plannedDate": "2025-12-01"}
    dated = json.dumps([c.get("suggestions", []) for c in cards])
    assert "2025-1" not in dated, "no order is dated from a planned date in the past"


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_gestational_age_at_birth_is_not_overridden_by_a_later_estimate(mode, client, rsps):
    FakeFhir(load("ga-later-estimate")).register(rsps)
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request("ga-later-estimate", mode=mode)).json[
        "cards"]
    ga = next(c for c in cards[0]["extension"][EXT_ELIGIBILITY]["criteria"] if c["id"] == "gestational-age")
    assert (ga["status"], ga["reasonCode"], ga["evidence"]) == ("not-met", "before-term", ["Observation/ga-birth"])
    assert "32 weeks" in ga["reason"] and "36.0 weeks" in ga["reason"] and "2026-12-08" in ga["reason"]


@pytest.mark.parametrize("name, reason, text", [
    ("steroid-7-days", "steroid-course-short", "covers 7 of those days"),
    ("steroid-ended-active", "steroid-plan-ended", "have ended"),
    ("steroid-two-orders", "steroid-orders-concurrent", "together that is 2.91 mg/kg/day"),
    ("steroid-mg-per-day", "steroid-plan-ok", "0.97 mg/kg/day"),
])
@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_corticosteroid_course(name, reason, text, mode, client, rsps):
    FakeFhir(load(name)).register(rsps)
    cards = client.post("/cds-services/zolgensma-order-sign", json=hook_request(name, mode=mode)).json["cards"]
    steroid = next(c for c in cards[0]["extension"][EXT_ELIGIBILITY]["criteria"]
                   if c["id"] == "corticosteroid-plan")
    assert steroid["reasonCode"] == reason and text in steroid["reason"], steroid
    if name == "steroid-two-orders":
        assert steroid["evidence"][:2] == ["MedicationRequest/prednisolone-plan",
                                           "MedicationRequest/prednisolone-plan-2"]
    if name == "steroid-ended-active":  # the ended order is evidence, and a new course is offered
        card = next(c for c in cards if c.get("extension", {}).get(EXT_CRITERION, {}).get("id")
                    == "corticosteroid-plan")
        assert card["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "MedicationRequest"
