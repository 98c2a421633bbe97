"""Review 2026-11-24e items T2 and T4: a prior dose recorded as a completed infusion ServiceRequest, or as a prior
dose of the same vector under another name (Itvisma, AVXS-101). DR.005.D renewal: Zolgensma is a one-time-only
dose; a prior gene therapy goes to the Medical Director. Each case through prefetch and through the FHIR server,
with identical answers (answer_both_routes)."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load

EXT = "org.example.zolgensma-cds.eligibility"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
PATIENT = {"reference": "Patient/eligible-infant"}


def _record(*extra: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(r) for r in extra]


def _service_request(status: str, code: dict, sr_id: str = "sr-infusion") -> dict:
    return {"resourceType": "ServiceRequest", "id": sr_id, "status": status, "intent": "order", "subject": PATIENT,
            "code": code, "occurrenceDateTime": "2026-03-01"}


def _administration(text: str, ma_id: str = "ma-prior") -> dict:
    return {"resourceType": "MedicationAdministration", "id": ma_id, "status": "completed", "subject": PATIENT,
            "medicationCodeableConcept": {"text": text}, "effectiveDateTime": "2026-03-01"}


def _outcome(answer: dict) -> tuple[dict, dict]:
    outcome = answer["cards"][0]["extension"][EXT]
    return outcome, next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")


def _all_text(answer: dict) -> str:
    return " ".join(f"{c.get('summary', '')} {c.get('detail', '')}" for c in answer["cards"])


J3399_CODE = {"coding": [{"system": HCPCS, "code": "J3399"}], "text": "Zolgensma infusion"}


def test_the_eligible_infant_stays_eligible(client):
    outcome, one_time = _outcome(answer_both_routes(client, _record()))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"
    assert "completed infusion ServiceRequests" in one_time["reason"]


def test_a_completed_j3399_infusion_service_request_is_a_prior_dose(client):
    answer = answer_both_routes(client, _record(_service_request("completed", J3399_CODE)))
    outcome, one_time = _outcome(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("not-met", "prior-dose")
    assert outcome["overall"] != "eligible"
    text = _all_text(answer)
    assert "ServiceRequest/sr-infusion" in text and "2026-03-01" in text
    assert "Zolgensma infusion ServiceRequest completed" in text


def test_a_completed_infusion_service_request_named_in_text_only_goes_to_review(client):
    answer = answer_both_routes(client, _record(_service_request("completed", {"text": "Zolgensma infusion"})))
    outcome, one_time = _outcome(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert outcome["overall"] != "eligible"
    assert "ServiceRequest/sr-infusion" in one_time["reason"] and "Zolgensma infusion" in one_time["reason"]
    assert "Medical Director" in one_time["reason"] and "2026-03-01" in one_time["reason"]
    assert "ServiceRequest/sr-infusion" in _all_text(answer)


@pytest.mark.parametrize("status", ["revoked", "entered-in-error"])
def test_a_revoked_or_erroneous_infusion_service_request_is_no_evidence(client, status):
    outcome, one_time = _outcome(answer_both_routes(client, _record(_service_request(status, J3399_CODE))))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


def test_a_completed_lab_service_request_is_neither_a_dose_nor_a_pending_order(client):
    lab = _service_request("completed", {"coding": [{"system": "http://loinc.org", "code": "1742-6"}],
                                         "text": "ALT"}, "sr-alt")
    lab["category"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}]
    plain = answer_both_routes(client, _record())
    answer = answer_both_routes(client, _record(lab))
    outcome, one_time = _outcome(answer)
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"
    assert "ServiceRequest/sr-alt" not in str(answer)
    assert [c["summary"] for c in answer["cards"]] == [c["summary"] for c in plain["cards"]]


@pytest.mark.parametrize("text", ["Itvisma (onasemnogene abeparvovec-brve) intrathecal", "AVXS-101 gene therapy"])
def test_a_prior_dose_of_the_same_vector_under_another_name_goes_to_review(client, text):
    answer = answer_both_routes(client, _record(_administration(text)))
    outcome, one_time = _outcome(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert outcome["overall"] != "eligible"
    assert "MedicationAdministration/ma-prior" in one_time["reason"] and text.split()[0] in one_time["reason"]
    assert "2026-03-01" in one_time["reason"] and "Medical Director" in one_time["reason"]


def test_an_itvisma_statement_not_taken_is_no_evidence(client):
    statement = {"resourceType": "MedicationStatement", "id": "ms-itvisma", "status": "not-taken",
                 "subject": PATIENT, "medicationCodeableConcept": {"text": "Itvisma"},
                 "effectiveDateTime": "2026-03-01"}
    outcome, one_time = _outcome(answer_both_routes(client, _record(statement)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


def test_a_failed_service_request_search_leaves_one_time_dose_unknown(client):
    """A completed infusion ServiceRequest is a prior dose: "no prior dose" cannot rest on a ServiceRequest search
    that failed (the FHIR-server route; prefetch never fails)."""
    def fail(query, answer):
        if query.startswith("ServiceRequest"):
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return answer
    from fhir_fake import answer_each_route
    # each route on its own: their data-issue cards count the failure apart
    for mode, answer in answer_each_route(client, _record(), tamper=fail).items():
        outcome, one_time = _outcome(answer)
        assert (one_time["status"], outcome["overall"]) == ("unknown", "incomplete"), mode
        assert "service-requests" in one_time["reason"], mode


@pytest.mark.parametrize("extra", [
    _service_request("completed", {"text": "Zolgensma infusion"})
    | {"subject": {"reference": "Patient/readiness-all-done"}},
    _administration("Itvisma (onasemnogene abeparvovec-brve) intrathecal")
    | {"subject": {"reference": "Patient/readiness-all-done"}},
])
def test_readiness_never_says_every_gate_met_with_a_possible_prior_dose(client, extra):
    import responses
    from fhir_fake import FakeFhir, hook_request

    from cds_service.hooks import READINESS, SERVICES
    record = copy.deepcopy(load("readiness-all-done")) + [copy.deepcopy(extra)]
    summaries = []
    for mode in ("prefetch", "server"):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            FakeFhir(record).register(rsps)
            body = hook_request("readiness-all-done", "patient-view", mode, resources=record,
                                sources=SERVICES[READINESS].sources)
            cards = client.post("/cds-services/zolgensma-readiness", json=body).json["cards"]
        summaries.append(cards[0]["summary"])
    # review 2026-11-24g G8: named as the order-sign check names it (was "to do: prior dose")
    assert summaries[0] == summaries[1] and "Medical Director review: possible prior" in summaries[0]
    assert "every gate met" not in summaries[0]


def test_a_procedure_naming_itvisma_goes_to_review(client):
    procedure = {"resourceType": "Procedure", "id": "p-itvisma", "status": "completed", "subject": PATIENT,
                 "code": {"text": "Itvisma intrathecal administration"}, "performedDateTime": "2026-03-01"}
    outcome, one_time = _outcome(answer_both_routes(client, _record(procedure)))
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert "Procedure/p-itvisma" in one_time["reason"] and "Itvisma intrathecal" in one_time["reason"]
