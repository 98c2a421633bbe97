"""Review 2026-11-24f, item F1: advanced SMA (DR.005.D criterion 3: "complete limb paralysis, invasive ventilation
support, etc. If YES, refer to Medical Director"; FDA label 1, limitations of use) recorded in common shapes was
missed and the answer was "can go ahead": clinicians' shorthand ("Trach/vent"), tracheostomy ICD-10-CM codes sent
code only (Z43.0, J95.0x), CPT 31603/31605, CPT 94003 in progress, HCPCS E0465/E0466 devices, and any
DeviceRequest (never read). Each shape now goes to review, through prefetch and through the FHIR server with
identical answers; the card a clinician reads names the criterion, the policy and the record."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.data_access import SOURCES
from cds_service.services import READINESS, SERVICES, discovery

SIGN = "/cds-services/zolgensma-order-sign"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "urn:oid:2.16.840.1.113883.6.285"
ME = {"reference": "Patient/eligible-infant"}
ACTIVE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}


def condition(code: dict, rid="c-adv") -> dict:
    return {"resourceType": "Condition", "id": rid, "clinicalStatus": ACTIVE, "code": code, "subject": ME,
            "onsetDateTime": "2026-09-01"}


def procedure(code: dict, status="completed", rid="p-adv") -> dict:
    return {"resourceType": "Procedure", "id": rid, "status": status, "code": code, "subject": ME,
            "performedDateTime": "2026-09-01"}


def device(kind: dict, rid="d-adv") -> dict:
    return {"resourceType": "Device", "id": rid, "status": "active", "type": kind, "patient": ME}


def device_request(status="active", rid="dr-vent", **code) -> dict:
    code = code or {"codeCodeableConcept": {
        "coding": [{"system": HCPCS, "code": "E0465",
                    "display": "Home ventilator, any type, used with invasive interface (e.g., tracheostomy tube)"}],
        "text": "Home ventilator via tracheostomy"}}
    return {"resourceType": "DeviceRequest", "id": rid, "status": status, "intent": "order", "subject": ME,
            "authoredOn": "2026-10-01", **code}


def _answer(client, *added: dict, name="eligible-infant", url=SIGN, hook="order-sign", sources=(), tamper=None):
    resources = copy.deepcopy(load(name)) + [copy.deepcopy(r) for r in added]
    return answer_both_routes(client, resources, url, name, hook=hook, sources=sources, tamper=tamper)


@pytest.fixture
def client():
    return make_app().test_client()


SHAPES = [
    # clinicians' shorthand on a Condition
    (condition({"text": "Trach and vent dependent"}), "Condition/c-adv", "Trach and vent dependent"),
    (condition({"text": "Trach/vent since 09/2026"}), "Condition/c-adv", "Trach/vent since 09/2026"),
    (condition({"text": "Flaccid paralysis of all extremities"}), "Condition/c-adv", "paralysis of all extremities"),
    (condition({"text": "Flaccid paralysis of all limbs"}), "Condition/c-adv", "paralysis of all limbs"),
    # ICD-10-CM tracheostomy codes, code only
    (condition({"coding": [{"system": ICD, "code": "Z43.0"}]}), "Condition/c-adv", "Z43.0"),
    (condition({"coding": [{"system": ICD, "code": "J95.03"}]}), "Condition/c-adv", "J95.03"),
    (condition({"coding": [{"system": ICD, "code": "J95.00"}]}), "Condition/c-adv", "J95.00"),
    (condition({"coding": [{"system": ICD, "code": "J95.09"}]}), "Condition/c-adv", "J95.09"),
    # procedures
    (procedure({"coding": [{"system": CPT, "code": "31603"}]}), "Procedure/p-adv", "CPT 31603"),
    (procedure({"coding": [{"system": CPT, "code": "31605"}]}), "Procedure/p-adv", "CPT 31605"),
    (procedure({"text": "Trach placement"}), "Procedure/p-adv", "Trach placement"),
    (procedure({"coding": [{"system": CPT, "code": "94003"}]}, status="in-progress"), "Procedure/p-adv",
     "Procedure (in-progress): CPT 94003"),
    # devices
    (device({"coding": [{"system": HCPCS, "code": "E0465"}]}), "Device/d-adv", "HCPCS E0465"),
    (device({"coding": [{"system": "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "E0466"}]}),
     "Device/d-adv", "HCPCS E0466"),
    (device({"text": "Home vent (invasive)"}), "Device/d-adv", "Home vent (invasive)"),
    (device({"text": "Shiley trach 3.5"}), "Device/d-adv", "Shiley trach 3.5"),
    # a DeviceRequest (never read before)
    (device_request(), "DeviceRequest/dr-vent",
     "Device request (active): Home ventilator via tracheostomy \\[HCPCS E0465\\]"),  # brackets escaped
    (device_request(status="draft", codeCodeableConcept={"coding": [{"system": HCPCS, "code": "E0465"}]}),
     "DeviceRequest/dr-vent", "Device request (draft): HCPCS E0465"),
    (device_request(status="on-hold", codeCodeableConcept={"text": "Trach tube, Bivona 3.0 uncuffed"}),
     "DeviceRequest/dr-vent", "Trach tube"),
]


@pytest.mark.parametrize("record, reference, shown", SHAPES, ids=[s[2] for s in SHAPES])
def test_each_shape_of_advanced_sma_goes_to_medical_director_review(client, record, reference, shown):
    answer = _answer(client, record)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "advanced-sma-recorded", "needs-review")
    summary = answer["cards"][0]["summary"]
    assert "Medical Director" in summary and "can go ahead" not in summary
    card = criterion_card(answer, "no-advanced-sma")
    assert "refer to Medical Director (DR.005.D criterion 3)" in card["summary"]
    assert "DR.005.D initial criterion 3" in card["detail"]
    assert reference in card["detail"] and shown in card["detail"]


def test_a_tracheostomy_stoma_infection_is_both_an_infection_and_a_tracheostomy(client):
    answer = _answer(client, condition({"coding": [{"system": ICD, "code": "J95.02",
                                                    "display": "Infection of tracheostomy stoma"}]}))
    assert criterion_outcome(answer, "no-advanced-sma")["status"] == "review"
    assert criterion_outcome(answer, "no-active-infection")["status"] == "not-met"
    assert "J95.02" in criterion_card(answer, "no-advanced-sma")["detail"]


@pytest.mark.parametrize("record", [
    condition({"text": "Ventricular septal defect, small, restrictive"}),
    condition({"text": "Apnea of prematurity; caffeine to prevent events"}),
    condition({"text": "Ventral hernia"}),
    condition({"coding": [{"system": ICD, "code": "J95.1", "display": "Acute pulmonary insufficiency following "
                                                                       "thoracic surgery"}]}),
    procedure({"text": "Prevent hypothermia bundle"}),
    # ventilation management that is over: a NICU course of ventilation, not dependence (a finished procedure counts
    # only if invasive, as before)
    procedure({"coding": [{"system": CPT, "code": "94003"}]}, status="completed"),
    procedure({"text": "Vent weaning"}, status="completed"),
    device({"text": "Feeding pump (event log)"}),
    device_request(codeCodeableConcept={"text": "Feeding pump"}),
    device_request(status="revoked"),
    device_request(status="entered-in-error"),
], ids=["ventricular", "prevent/event", "ventral", "J95.1", "proc prevent", "94003 done", "vent weaning done",
        "device event", "feeding pump request", "revoked", "entered-in-error"])
def test_look_alike_words_and_withdrawn_requests_keep_the_eligible_infant_eligible(client, record):
    answer = _answer(client, record)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("met", "no-advanced-sma-recorded", "eligible")
    assert "can go ahead" in answer["cards"][0]["summary"]


def test_a_device_request_naming_a_device_by_reference(client):
    """codeReference: the Device is read (from the devices searched, or contained); one that cannot be read may be
    a ventilator, so "no advanced SMA" cannot rest on the DeviceRequest source."""
    vent = device({"coding": [{"system": HCPCS, "code": "E0465"}]}, rid="vent-1")
    by_ref = device_request(codeReference={"reference": "Device/vent-1"})
    answer = _answer(client, vent, by_ref)
    assert "DeviceRequest/dr-vent" in criterion_card(answer, "no-advanced-sma")["detail"]

    unknown = _answer(client, device_request(codeReference={"reference": "Device/elsewhere"}))
    got = criterion_outcome(unknown, "no-advanced-sma")
    assert got["status"] == "unknown" and got["overall"] != "eligible"
    detail = criterion_card(unknown, "no-advanced-sma")["detail"]
    assert "DeviceRequest/dr-vent" in detail and "could not be read" in detail


def test_an_unreadable_device_request_leaves_the_criterion_unknown(client):
    broken = device_request()
    broken["status"] = 7  # not a code
    answer = _answer(client, broken)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert got["status"] == "unknown" and got["overall"] != "eligible"
    assert "DeviceRequest/dr-vent" in criterion_card(answer, "no-advanced-sma")["detail"]


def _incomplete_device_requests(query: str, answer: dict) -> dict:
    if query.startswith("DeviceRequest?") and answer.get("resourceType") == "Bundle":
        return {**answer, "total": 60}  # more than received, and no next link
    return answer


def test_an_incomplete_device_request_source_is_never_met(client):
    answer = _answer(client, tamper=_incomplete_device_requests)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["reasonCode"]) == ("unknown", "source-incomplete")
    assert got["overall"] != "eligible"
    assert "device-requests" in criterion_card(answer, "no-advanced-sma")["detail"]


def test_the_eligible_infant_stays_eligible(client):
    answer = _answer(client)
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["overall"]) == ("met", "eligible")
    assert "requested" in got["reason"]


def test_readiness_is_not_every_gate_met_with_a_ventilator_request(client):
    request = {**device_request(), "subject": {"reference": "Patient/readiness-all-done"}}
    answer = _answer(client, request, name="readiness-all-done", url=f"/cds-services/{READINESS}",
                     hook="patient-view", sources=SERVICES[READINESS].sources)
    assert all("every gate met" not in card["summary"] for card in answer["cards"])
    assert any("advanced SMA" in card["summary"] for card in answer["cards"])


def test_order_select_answers_the_same_review():
    client = make_app().test_client()
    answer = _answer(client, condition({"text": "Trach/vent since 09/2026"}),
                     url="/cds-services/zolgensma-order-select", hook="order-select")
    got = criterion_outcome(answer, "no-advanced-sma")
    assert (got["status"], got["overall"]) == ("review", "needs-review")


def test_the_full_prefetch_gains_the_device_requests_and_the_lean_stays_lean():
    source = next(s for s in SOURCES if s.name == "device-requests")
    assert source.templates == ("DeviceRequest?patient={{context.patientId}}&_count=50",) and source.default
    full = {e["id"]: e.get("prefetch", {}) for e in discovery("full")["services"]}
    lean = {e["id"]: e.get("prefetch", {}) for e in discovery("lean")["services"]}
    assert "deviceRequests" in full["zolgensma-order-sign"] and "deviceRequests" in full[READINESS]
    assert "deviceRequests" not in lean.get("zolgensma-order-sign", {})
