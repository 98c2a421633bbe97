"""Review 2026-11-24b, D1 and D2: active Conditions coded in ICD-10-CM outside the old short list.

An infection anywhere in ICD-10-CM (COVID-19, meningitis, pyelonephritis, a gastrostomy infection, ...) makes
criterion 10 `not-met` (FDA label W&P 5.2: postpone until resolved); quadriplegia or a paralytic syndrome sends
criterion 3 to review (DR.005.D 3). Each case through prefetch and through the FHIR server, identical answers,
and on the readiness service too."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load

from cds_service.facts import ConditionFact
from cds_service.hooks import READINESS, SERVICES
from cds_service.rules.conditions import is_advanced_sma, is_infection

SIGN = "/cds-services/zolgensma-order-sign"
EXT = "org.example.zolgensma-cds.eligibility"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
PATIENT = {"reference": "Patient/eligible-infant"}


def _condition(code: str | None = None, display: str | None = None, text: str | None = None) -> dict:
    concept: dict = {}
    if code:
        concept["coding"] = [{"system": ICD, "code": code} | ({"display": display} if display else {})]
    if text:
        concept["text"] = text
    return {"resourceType": "Condition", "id": "added", "subject": PATIENT, "code": concept,
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]}}


def _with(*added: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(a) for a in added]


def _answer(client, resources: list[dict], url: str = SIGN, hook: str = "order-sign", sources=()) -> dict:
    return answer_both_routes(client, resources, url, hook=hook, sources=tuple(sources))


def _criterion(answer: dict, cid: str) -> dict:
    outcome = answer["cards"][0]["extension"][EXT]
    return next(c for c in outcome["criteria"] if c["id"] == cid) | {"overall": outcome["overall"]}


def _card(answer: dict, summary_start: str) -> dict:
    return next(c for c in answer["cards"] if c["summary"].startswith(summary_start))


# Code only (no display, no text): the reviewer's list, and one of each further group.
INFECTION_CODES = ["U07.1", "G03.9", "G04.90", "N10", "K94.22", "J95.851", "J32.9", "P39.1", "K65.9", "I33.0",
                   "R65.21", "R50.9", "H70.90", "J69.0", "L03.90", "M86.9", "T80.211A", "P36.9", "U071", "H10.9"]


@pytest.mark.parametrize("code", INFECTION_CODES)
def test_an_active_infection_coded_only_in_icd10cm_is_not_met(client, code):
    answer = _answer(client, _with(_condition(code)))
    got = _criterion(answer, "no-active-infection")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "infection-present", "not-eligible")
    card = _card(answer, "Active infection or fever on record: postpone Zolgensma until resolved")
    assert "Condition/added" in card["detail"] and code in card["detail"]  # the evidence: which Condition, which code
    assert "DR.005.D initial criterion 10" in card["detail"] and "FDA label" in card["detail"]
    assert answer["cards"][0]["summary"].startswith("Do not infuse Zolgensma")


@pytest.mark.parametrize("display", ["Encephalitis and encephalomyelitis, unspecified",
                                     "Acute and subacute infective endocarditis", "Peritonitis, unspecified",
                                     "Unspecified mastoiditis, unspecified ear", "Infected gastrostomy site"])
def test_an_infection_named_only_in_text_is_not_met(client, display):
    answer = _answer(client, _with(_condition(text=display)))
    got = _criterion(answer, "no-active-infection")
    assert (got["status"], got["reasonCode"]) == ("not-met", "infection-present")
    assert display in _card(answer, "Active infection or fever on record")["detail"]


# Common, non-infectious conditions of an infant with SMA must not trip the infection gate.
@pytest.mark.parametrize("code,display", [
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"), ("R62.51", "Failure to thrive (child)"),
    ("Z93.1", "Gastrostomy status"), ("R13.12", "Dysphagia, oropharyngeal phase"),
    ("K52.9", "Noninfective gastroenteritis and colitis, unspecified"), ("J96.10", "Chronic respiratory failure"),
    ("L22", "Diaper dermatitis"), ("B91", "Sequelae of poliomyelitis"), ("R56.9", "Afebrile seizure"),
    ("K94.23", "Gastrostomy malfunction"), ("H10.13", "Acute atopic conjunctivitis, bilateral"),
    ("H10.45", "Other chronic allergic conjunctivitis"),
    ("T80.211S", "Bloodstream infection due to central venous catheter, sequela"),
])
def test_non_infectious_infant_conditions_do_not_trip_the_gate(code, display):
    fact = ConditionFact("Condition/c", frozenset({(ICD, code)}), f"{display} [{code}]", True, None)
    assert not is_infection(fact)


def test_a_non_infectious_condition_keeps_the_eligible_infant_eligible(client):
    answer = _answer(client, _with(_condition("K21.9", "Gastro-esophageal reflux disease without esophagitis")))
    got = _criterion(answer, "no-active-infection")
    assert (got["status"], got["overall"]) == ("met", "eligible")


@pytest.mark.parametrize("code,display", [("G82.50", "Quadriplegia, unspecified"),
                                          ("G82.53", "Quadriplegia, C5-C7 complete"),
                                          ("G83.9", "Paralytic syndrome, unspecified"), ("G82.54", None)])
def test_quadriplegia_or_a_paralytic_syndrome_is_referred_for_review(client, code, display):
    answer = _answer(client, _with(_condition(code, display)))
    got = _criterion(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "advanced-sma-recorded", "needs-review")
    card = _card(answer, "Advanced SMA marker on record: refer to Medical Director")
    assert "Condition/added" in card["detail"] and code in card["detail"]
    assert "paralysis" in card["detail"] and "DR.005.D initial criterion 3" in card["detail"]


def test_tetraplegia_in_text_is_referred_for_review(client):
    answer = _answer(client, _with(_condition(text="Flaccid tetraplegia")))
    got = _criterion(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"]) == ("review", "advanced-sma-recorded")
    assert "Flaccid tetraplegia" in _card(answer, "Advanced SMA marker on record")["detail"]


def test_paraplegia_that_is_not_complete_is_not_an_advanced_sma_marker():
    # G82.20 "Paraplegia, unspecified" / G82.22 incomplete: weakness of the legs is SMA itself, not "complete
    # limb paralysis"; G82.21 "Paraplegia, complete" is.
    def fact(code):
        return ConditionFact("Condition/c", frozenset({(ICD, code)}), "", True, None)
    assert not is_advanced_sma(fact("G82.20")) and not is_advanced_sma(fact("G82.22"))
    assert is_advanced_sma(fact("G82.21"))


READY = f"/cds-services/{READINESS}"


def _without_order(*added: dict) -> list[dict]:
    return [r for r in _with(*added) if r.get("id") != "zolgensma-order"]


def test_readiness_blocks_on_a_coded_infection_and_asks_review_for_quadriplegia(client):
    sources = SERVICES[READINESS].sources
    clean = _answer(client, _without_order(), READY, "patient-view", sources)
    assert clean["cards"][0]["summary"].startswith("Zolgensma readiness: every gate met")
    covid = _answer(client, _without_order(_condition("U07.1")), READY, "patient-view", sources)
    assert covid["cards"][0]["summary"].startswith("Zolgensma readiness: not possible on 2026-12-01: infection")
    quad = _answer(client, _without_order(_condition("G82.50", "Quadriplegia, unspecified")), READY,
                   "patient-view", sources)
    assert "advanced SMA" in quad["cards"][0]["summary"]
    assert not quad["cards"][0]["summary"].startswith("Zolgensma readiness: every gate met")



# Review 2026-11-24b, K1: respiratory support recorded as a Procedure, and a home ventilator named only by model.
def _procedure(text: str, status: str, **when) -> dict:
    return {"resourceType": "Procedure", "id": "niv", "status": status, "subject": PATIENT, "code": {"text": text},
            **when}


def _device(name: str) -> dict:
    return {"resourceType": "Device", "id": "vent", "status": "active", "patient": PATIENT,
            "deviceName": [{"name": name, "type": "manufacturer-name"}]}


@pytest.mark.parametrize("procedure", [
    _procedure("BiPAP 16 hours/day", "in-progress", performedPeriod={"start": "2026-09-01"}),
    _procedure("Non-invasive ventilation, 18 h/day", "completed", performedPeriod={"start": "2026-09-01"}),
])
def test_ongoing_respiratory_support_recorded_as_a_procedure_is_referred_for_review(client, procedure):
    answer = _answer(client, _with(procedure))
    got = _criterion(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "advanced-sma-recorded", "needs-review")
    detail = _card(answer, "Advanced SMA marker on record")["detail"]
    assert "Procedure/niv" in detail and procedure["code"]["text"] in detail and "2026-09-01" in detail


def test_a_finished_non_invasive_support_episode_is_not_an_advanced_sma_marker(client):
    episode = _procedure("BiPAP during RSV admission", "completed",
                         performedPeriod={"start": "2026-04-01", "end": "2026-04-06"})
    assert _criterion(_answer(client, _with(episode)), "no-advanced-sma")["status"] == "met"


@pytest.mark.parametrize("name", ["Philips Trilogy 100", "ResMed Astral 150", "Breas Vivo 50", "LTV 1200"])
def test_a_home_ventilator_named_only_by_model_is_referred_for_review(client, name):
    answer = _answer(client, _with(_device(name)))
    got = _criterion(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"]) == ("review", "advanced-sma-recorded")
    detail = _card(answer, "Advanced SMA marker on record")["detail"]
    assert "Device/vent" in detail and name in detail


def test_a_feeding_pump_is_not_a_ventilator(client):
    pump = _device("Kangaroo Joey enteral feeding pump")
    assert _criterion(_answer(client, _with(pump)), "no-advanced-sma")["status"] == "met"
