"""Review 2026-11-24e, item T1: a prior Zolgensma dose recorded only as a MedicationDispense (a kit handed over) was
never read ("can go ahead", coverage `covered`, readiness "every gate met"). MedicationDispense is now a source of
the one-time-dose criterion, read completely as the administrations are. Each case through prefetch and through
the FHIR server, with identical answers; the card a clinician reads is checked, not only the status."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.data_access import SOURCES
from cds_service.services import READINESS, SERVICES, discovery

SIGN = "/cds-services/zolgensma-order-sign"
NDC = "http://hl7.org/fhir/sid/ndc"
HCPCS = "urn:oid:2.16.840.1.113883.6.285"
PATIENT = {"reference": "Patient/eligible-infant"}


def _dispense(coding: dict, status="completed", when="2026-03-01", rid="md1", **more) -> dict:
    return {"resourceType": "MedicationDispense", "id": rid, "status": status, "subject": PATIENT,
            "medicationCodeableConcept": {"coding": [coding]}, "whenHandedOver": when, **more}


def _answer(client, *added: dict, name="eligible-infant", url=SIGN, hook="order-sign", sources=()) -> dict:
    resources = copy.deepcopy(load(name)) + [copy.deepcopy(r) for r in added]
    return answer_both_routes(client, resources, url, name, hook=hook, sources=sources)


@pytest.fixture
def client():
    return make_app().test_client()


@pytest.mark.parametrize("coding, status, when, shown", [
    ({"system": NDC, "code": "71894-129-05"}, "completed", "2026-03-01", "NDC 71894-129-05"),
    ({"system": NDC, "code": "71894-115-01"}, "completed", "2026-03-01", "NDC 71894-115-01"),  # the vial
    ({"system": HCPCS, "code": "J3399"}, "in-progress", "2026-06-01", "J3399"),
])
def test_a_zolgensma_dispense_is_a_prior_dose(client, coding, status, when, shown):
    answer = _answer(client, _dispense(coding, status, when))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "prior-dose", "not-eligible")
    detail = criterion_card(answer, "one-time-dose")["detail"]
    assert "MedicationDispense/md1" in detail and shown in detail and when in detail
    assert "handed over" in detail
    assert answer["cards"][0]["summary"].startswith("Do not infuse Zolgensma")
    assert "can go ahead" not in answer["cards"][0]["summary"]


def test_the_same_answer_as_a_recorded_administration(client):
    """The dispense gives what a MedicationAdministration of the same kit and date gives today."""
    administration = {"resourceType": "MedicationAdministration", "id": "ma1", "status": "completed",
                      "subject": PATIENT, "effectiveDateTime": "2026-03-01",
                      "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-129-05"}]}}
    by_dispense = criterion_outcome(_answer(client, _dispense({"system": NDC, "code": "71894-129-05"})),
                                    "one-time-dose")
    by_administration = criterion_outcome(_answer(client, administration), "one-time-dose")
    assert (by_dispense["status"], by_dispense["reasonCode"], by_dispense["overall"]) == \
        (by_administration["status"], by_administration["reasonCode"], by_administration["overall"])


@pytest.mark.parametrize("dispense, why", [
    (_dispense({"system": NDC, "code": "71894-129-05"}, status="unknown"), "status unknown"),
    (_dispense({"system": NDC, "code": "71894-129-05"}, status=7), "MedicationDispense/md1"),
    (_dispense({"system": NDC, "code": "71894-999-01"}), "labeler 71894 (Novartis Gene Therapies)"),
    ({**_dispense({}), "medicationCodeableConcept": {}}, "the medication cannot be identified"),
])
def test_an_unreadable_dispense_leaves_the_criterion_unknown(client, dispense, why):
    answer = _answer(client, dispense)
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("unknown", "source-incomplete")
    assert got["overall"] != "eligible"
    detail = criterion_card(answer, "one-time-dose")["detail"]
    assert "MedicationDispense/md1" in detail and why in detail


@pytest.mark.parametrize("dispense", [
    _dispense({"system": NDC, "code": "71894-129-05"}, status="cancelled"),
    _dispense({"system": NDC, "code": "71894-129-05"}, status="entered-in-error"),
    # the kit for the order under review: not a prior dose
    _dispense({"system": NDC, "code": "71894-129-05"}, authorizingPrescription=[
        {"reference": "MedicationRequest/zolgensma-order"}]),
    # another medication
    _dispense({"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8638", "display": "prednisolone"}),
])
def test_a_dispense_that_is_no_dose_keeps_the_eligible_infant_eligible(client, dispense):
    answer = _answer(client, dispense)
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "no-prior-dose", "eligible")
    assert "MedicationDispenses" in got["reason"]


def test_the_eligible_infant_stays_eligible_and_names_dispenses_among_the_records_read(client):
    answer = _answer(client)
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["overall"]) == ("met", "eligible")
    assert "MedicationDispenses" in got["reason"]


def test_the_readiness_plan_is_not_ready_after_a_dispense(client):
    resources_patient = {"reference": "Patient/readiness-all-done"}
    dispense = {**_dispense({"system": NDC, "code": "71894-129-05"}), "subject": resources_patient}
    answer = _answer(client, dispense, name="readiness-all-done", url="/cds-services/zolgensma-readiness",
                     hook="patient-view", sources=SERVICES[READINESS].sources)
    assert all("every gate met" not in card["summary"] for card in answer["cards"])


def test_the_full_prefetch_gains_the_dispenses_and_the_lean_stays_lean():
    source = next(s for s in SOURCES if s.name == "medication-dispenses")
    assert source.templates == ("MedicationDispense?patient={{context.patientId}}&_count=200",) and source.default
    full = {e["id"]: e.get("prefetch", {}) for e in discovery("full")["services"]}
    lean = {e["id"]: e.get("prefetch", {}) for e in discovery("lean")["services"]}
    assert "medicationDispenses" in full["zolgensma-order-sign"] and "medicationDispenses" in full[READINESS]
    assert "medicationDispenses" not in lean.get("zolgensma-order-sign", {})
    assert "medicationDispenses" not in lean[READINESS]
