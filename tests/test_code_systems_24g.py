"""Review 2026-11-24g, item G1: diagnosis and procedure codes were recognised only under the exact ICD-10-CM and CPT
URIs. A Condition coded under the ICD-10-CM OID (as C-CDA-derived FHIR sends it) or in WHO ICD-10, or a tracheostomy
Procedure under the CPT OID or the https URL, gave "can go ahead" (criteria 3 and 10). Every alias of a code system
(terminology.SYSTEM_ALIASES) is now read as its canonical URI, WHO ICD-10 codes by their own prefixes (Z99.1, not
ICD-10-CM's Z99.11), through prefetch and the FHIR server with identical answers."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.services import READINESS, SERVICES

SIGN = "/cds-services/zolgensma-order-sign"
CM_OID = "urn:oid:2.16.840.1.113883.6.90"
WHO = "http://hl7.org/fhir/sid/icd-10"
CPT_OID = "urn:oid:2.16.840.1.113883.6.12"
ME = {"reference": "Patient/eligible-infant"}
ACTIVE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}


def coded_condition(system: str, code: str, rid="c-code", patient=ME) -> dict:
    return {"resourceType": "Condition", "id": rid, "clinicalStatus": ACTIVE, "subject": patient,
            "code": {"coding": [{"system": system, "code": code}]}, "recordedDate": "2026-11-10"}


def coded_procedure(system: str, code: str, rid="p-code") -> dict:
    return {"resourceType": "Procedure", "id": rid, "status": "completed", "subject": ME,
            "code": {"coding": [{"system": system, "code": code}]}, "performedDateTime": "2026-10-01"}


def _answer(client, *added, name="eligible-infant", url=SIGN, hook="order-sign", sources=()):
    resources = copy.deepcopy(load(name)) + [copy.deepcopy(r) for r in added]
    return answer_both_routes(client, resources, url, name, hook=hook, sources=sources)


@pytest.fixture
def client():
    return make_app().test_client()


ADVANCED = [
    (coded_condition(CM_OID, "Z99.11"), "Condition/c-code", "Z99.11"),
    (coded_condition("http://hl7.org/fhir/sid/ICD-10-CM", "Z93.0"), "Condition/c-code", "Z93.0"),  # case of the URI
    (coded_condition(WHO, "Z99.1"), "Condition/c-code", "Z99.1"),
    (coded_condition(WHO, "Z93.0"), "Condition/c-code", "Z93.0"),
    (coded_condition("urn:oid:2.16.840.1.113883.6.3", "J95.0"), "Condition/c-code", "J95.0"),
    (coded_condition(WHO, "G82.3"), "Condition/c-code", "G82.3"),  # flaccid tetraplegia
    (coded_procedure(CPT_OID, "31600"), "Procedure/p-code", "CPT 31600"),
    (coded_procedure("https://www.ama-assn.org/go/cpt", "31601"), "Procedure/p-code", "CPT 31601"),
]


@pytest.mark.parametrize("record, reference, shown", ADVANCED, ids=[f"{a[0]['code']['coding'][0]['system']} {a[2]}"
                                                                   for a in ADVANCED])
def test_advanced_sma_under_another_system_identifier_goes_to_review(client, record, reference, shown):
    answer = _answer(client, record)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "advanced-sma-recorded", "needs-review")
    assert "Medical Director" in answer["cards"][0]["summary"]
    detail = criterion_card(answer, "no-advanced-sma")["detail"]
    assert "DR.005.D initial criterion 3" in detail and reference in detail and shown in detail


@pytest.mark.parametrize("system", [CM_OID, WHO])
def test_pneumonia_under_the_oid_or_who_icd10_is_an_active_infection(client, system):
    answer = _answer(client, coded_condition(system, "J18.9"))
    got = criterion_outcome(answer, "no-active-infection")
    assert (got["status"], got["overall"]) == ("not-met", "not-eligible")
    assert answer["cards"][0]["summary"] == "Do not infuse Zolgensma: active infection or fever on record"
    assert "J18.9" in criterion_card(answer, "no-active-infection")["detail"]


def test_who_icd10_is_read_by_its_own_codes(client):
    """WHO R65.2 is SIRS of non-infectious origin (ICD-10-CM R65.2 is severe sepsis); ICD-10-CM's Z99.11 is not a
    WHO code: neither is read as the other system's meaning."""
    answer = _answer(client, coded_condition(WHO, "R65.2"))
    assert criterion_outcome(answer, "no-active-infection")["status"] == "met"
    assert "can go ahead" in answer["cards"][0]["summary"]
    cm = _answer(client, coded_condition(CM_OID, "R65.21"))
    assert criterion_outcome(cm, "no-active-infection")["status"] == "not-met"


def test_the_billing_card_names_the_diagnosis_coded_under_the_oid_as_icd10cm(client):
    resources = copy.deepcopy(load("eligible-infant"))
    sma = next(r for r in resources if r["id"] == "sma")
    sma["code"]["coding"][0]["system"] = CM_OID
    answer = answer_both_routes(client, resources, SIGN, "eligible-infant")
    assert "can go ahead" in answer["cards"][0]["summary"]
    billing = next(c for c in answer["cards"] if c["summary"].startswith("Bill J3399"))
    assert billing["summary"].endswith("diagnosis G12.0")
    assert "**ICD-10-CM from the documented SMA type:**\n- G12.0 Infantile spinal muscular atrophy" in billing["detail"]
    assert "urn:oid" not in str(answer)


def test_order_select_and_readiness_read_the_aliases_too(client):
    select = _answer(client, coded_condition(CM_OID, "Z99.11"), url="/cds-services/zolgensma-order-select",
                     hook="order-select")
    assert criterion_outcome(select, "no-advanced-sma")["status"] == "review"
    for code in ("Z99.11", "J18.9"):
        record = coded_condition(CM_OID, code, patient={"reference": "Patient/readiness-all-done"})
        answer = _answer(client, record, name="readiness-all-done", url=f"/cds-services/{READINESS}",
                         hook="patient-view", sources=SERVICES[READINESS].sources)
        assert all("every gate met" not in card["summary"] for card in answer["cards"])
