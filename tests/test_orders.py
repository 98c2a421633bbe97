"""Suggested orders and the kit: valid R4 resources, shown where they must be and nowhere else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fhir_fake import hook_request, scenario_names

from cds_service.fhir_validation import model_for
from cds_service.wording import Wording

SIGN = "/cds-services/zolgensma-order-sign"
ROOT = Path(__file__).parent.parent


def _cards(client, name, body=None):
    return client.post(SIGN, json=body or hook_request(name)).json["cards"]


def _suggestions(cards):
    return [s for c in cards for s in c.get("suggestions", [])]


def _resources(cards):
    # a delete names its resource by resourceId and carries none
    return [a["resource"] for s in _suggestions(cards) for a in s["actions"] if a["type"] != "delete"]


@pytest.mark.parametrize("name", [n for n in scenario_names() if n != "no-zolgensma"])
def test_every_suggested_resource_validates_as_r4(client, name):
    for resource in _resources(_cards(client, name)):
        model_for(resource["resourceType"]).model_validate(resource)


def _card_for(cards, criterion):
    return next(c for c in cards
                if c.get("extension", {}).get("org.example.zolgensma-cds.criterion", {}).get("id") == criterion)


def test_prednisolone_suggested_only_without_a_steroid_plan(client):
    cards = _cards(client, "no-steroid-plan")
    card = _card_for(cards, "corticosteroid-plan")
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    order = action["resource"]
    assert order["resourceType"] == "MedicationRequest"
    assert order["medicationCodeableConcept"]["coding"][0]["code"] == "8638"
    dosage = order["dosageInstruction"][0]
    assert dosage["doseAndRate"][0]["doseQuantity"] == {"value": 7.0, "unit": "mg",
                                                       "system": "http://unitsofmeasure.org", "code": "mg"}
    assert dosage["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-11-30", "end": "2026-12-29"}
    assert "2.3 mL of 15 mg/5 mL" in dosage["text"] and "0.97 mg/kg/day" in dosage["text"]
    assert "taper" in order["note"][0]["text"]
    for name in ("eligible-infant", "missing-labs", "titer-1-100"):
        assert not any(r["resourceType"] == "MedicationRequest" for r in _resources(_cards(client, name)))


def test_prednisolone_dose_rounds_to_half_mg():
    from datetime import date

    from cds_service.facts import Measurement, Order, PatientFacts
    from cds_service.orders import OrderSuggester
    from cds_service.rules.eligibility import evaluate

    facts = PatientFacts("Patient/p", birth_date=date(2026, 3, 1), sources_read={"medication-requests"})
    facts.order = Order("MedicationRequest/z", "zolgensma", "draft", "Zolgensma", planned_date=date(2026, 12, 1))
    facts.measurements = [Measurement("weight", 4.3, "kg", date(2026, 11, 25), "Observation/w")]
    evaluation = evaluate(facts, date(2026, 11, 23))
    s = OrderSuggester(Wording.load(ROOT / "cards").orders, evaluation, facts, lambda: "x").prednisolone()
    dose = s["actions"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]
    assert dose == 4.5


def test_baseline_lab_orders_for_missing_labs(client):
    cards = _cards(client, "missing-labs")
    lft = _card_for(cards, "baseline-liver-function")["suggestions"][0]["actions"]
    codes = [a["resource"]["code"]["coding"][0]["code"] for a in lft]
    assert codes == ["24325-3", "5902-2"]  # hepatic panel, PT/INR
    assert all(a["resource"]["occurrencePeriod"] == {"end": "2026-11-30"} for a in lft)
    plt = _card_for(cards, "baseline-platelets-troponin")["suggestions"][0]["actions"]
    assert [a["resource"]["code"]["coding"][0]["code"] for a in plt] == ["58410-2", "10839-9"]


def test_aav9_titer_order_is_text_only_when_stale(client):
    cards = _cards(client, "titer-stale")
    [action] = _card_for(cards, "aav9-titer")["suggestions"][0]["actions"]
    code = action["resource"]["code"]
    assert "coding" not in code and "ELISA" in code["text"]  # no verified LOINC code exists


def test_no_baseline_orders_when_labs_are_current(client):
    cards = _cards(client, "eligible-infant")
    assert all(s["label"].startswith("Order post-infusion") for s in _suggestions(cards))


def test_monitoring_orders_have_the_label_schedule(client):
    cards = _cards(client, "eligible-infant")
    monitoring = next(c for c in cards if c["summary"].startswith("Zolgensma monitoring"))
    resources = monitoring["suggestions"][0]["actions"]
    by_code = {a["resource"]["code"]["coding"][0]["code"]: a["resource"]["occurrenceTiming"]["event"]
               for a in resources}
    assert by_code["24325-3"] == ["2026-12-08", "2026-12-15", "2026-12-22", "2026-12-29", "2027-01-12",
                                  "2027-01-26", "2027-02-09", "2027-02-23"]
    assert by_code["777-3"] == by_code["24325-3"]
    assert by_code["10839-9"] == ["2026-12-08", "2026-12-15", "2026-12-22", "2026-12-29", "2027-01-26",
                                  "2027-02-23"]
    assert "2027-02-23" in monitoring["detail"]


def test_no_monitoring_card_when_not_eligible(client):
    assert not any(c["summary"].startswith("Zolgensma monitoring") for c in _cards(client, "titer-1-100"))


def test_monitoring_without_planned_date_gives_no_dated_orders(client):
    body = hook_request("eligible-infant")
    body["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0].pop("timing")
    cards = _cards(client, None, body)
    monitoring = next(c for c in cards if c["summary"].startswith("Zolgensma monitoring"))
    assert "suggestions" not in monitoring
    assert cards[0]["extension"]["org.example.zolgensma-cds.eligibility"]["asOfBasis"] == "today"


def test_label_baseline_creatinine_suggested_when_missing(client):
    body = hook_request("eligible-infant")
    for key in ("labs", "labCodes"):
        entries = body["prefetch"][key]["entry"]
        body["prefetch"][key]["entry"] = [e for e in entries if e["resource"]["id"] != "creatinine"]
    monitoring = next(c for c in _cards(client, None, body) if c["summary"].startswith("Zolgensma monitoring"))
    labels = [s["label"] for s in monitoring["suggestions"]]
    assert any("Serum creatinine" in label for label in labels)


def test_kit_in_outcome_and_card(client):
    cards = _cards(client, "dose-off-band")
    kit = cards[0]["extension"]["org.example.zolgensma-cds.eligibility"]["kit"]
    assert kit == {"weightKg": 7.2, "bandKg": [7.1, 7.5], "doseVolumeMl": 41.3, "doseVg": 8.25e14,
                   "vials5_5ml": 0, "vials8_3ml": 5, "vialSplitVerified": False, "ndc": "71894-129-05",
                   "ndcVerified": True}
    card = _card_for(cards, "dose-within-label")
    assert card["indicator"] == "critical"
    assert "41.3 mL" in card["summary"] and "60.5 mL" in card["summary"]


def test_fixtures_are_what_the_build_script_makes(tmp_path):
    before = {p.name: p.read_text() for p in (ROOT / "fhir_fixtures").glob("*.json")}
    subprocess.run([sys.executable, str(ROOT / "fhir_fixtures" / "build.py")], check=True)
    after = {p.name: p.read_text() for p in (ROOT / "fhir_fixtures").glob("*.json")}
    assert before == after
    for text in after.values():
        bundle = json.loads(text)
        for entry in bundle["entry"]:
            model_for(entry["resource"]["resourceType"]).model_validate(entry["resource"])


def test_kit_is_shown_on_the_summary_card(client):
    detail = _cards(client, "eligible-infant")[0]["detail"]
    assert ("**Label kit for 7.2 kg** (FDA label 2.1 dose table, dose at the band's upper limit): band 7.1-7.5 kg, "
            "41.3 mL = 8.25 × 10^14 vg, 5 × 8.3 mL vials, kit NDC 71894-129-05.") in detail
    assert "derived from the label's pattern" not in detail


def test_derived_kit_rows_are_not_presented_as_authoritative(client):
    detail = _cards(client, "age-25-months")[0]["detail"]  # 11.0 kg: band 10.6-11.0, a derived row
    assert "kit NDC 71894-136-08" in detail and "derived from the label's pattern" in detail


def test_order_template_codes_are_verified_terminology_codes():
    """Suggested orders carry only codes that terminology.py marks verified, with the same display."""
    from cds_service import terminology

    known = {(c.system, c.code): c for c in vars(terminology).values() if isinstance(c, terminology.Code)}
    templates = Wording.load(ROOT / "cards").orders["tests"]
    for name, spec in templates.items():
        pairs = ([(spec["loinc"], spec["display"])] if "loinc" in spec else []) + [tuple(x) for x in
                                                                                  spec.get("alsoLoinc", [])]
        for code, display in pairs:
            term = known[(terminology.LOINC, code)]
            assert term.verified and term.display == display, name
    assert terminology.PREDNISOLONE.verified


def test_every_emitted_coding_is_verified(client):
    from cds_service import terminology

    known = {(c.system, c.code): c for c in vars(terminology).values() if isinstance(c, terminology.Code)}
    for name in [n for n in scenario_names() if n != "no-zolgensma"]:
        for resource in _resources(_cards(client, name)):
            concept = resource.get("code") or resource.get("medicationCodeableConcept")
            for coding in concept.get("coding", []):
                assert known[(coding["system"], coding["code"])].verified, coding


def test_derived_ndc_is_flagged_wherever_a_card_names_it(client):
    body = hook_request("age-25-months")  # 11.0 kg: kit 71894-136-08 is a derived row
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["dosageInstruction"][0].pop("doseAndRate")
    order["medicationCodeableConcept"] = {"text": "Zolgensma"}
    cards = client.post(SIGN, json=body).json["cards"]
    card = _card_for(cards, "dose-within-label")
    assert "71894-136-08 (derived NDC: confirm against the SPL)" in card["detail"]
