"""Review 2026-11-24e item T5: a Zolgensma dose filed as an Immunization (some EHRs record biologics so) is read
(prefetch key `immunizations`; `Immunization?patient=..&_count=200` on the FHIR server, read completely).
Completed and coded as a Zolgensma kit: a prior dose (`not-met`); named in text only, or the same vector under
another name: `review`; not done or entered in error, or another vaccine: nothing; a vaccine code that cannot be
read, or a search that failed: one-time-dose `unknown`. Each case through prefetch and the FHIR server, with
identical answers (answer_both_routes)."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, answer_each_route, load

from cds_service.data_access import prefetch_templates

EXT = "org.example.zolgensma-cds.eligibility"
PATIENT = {"reference": "Patient/eligible-infant"}
KIT = {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "71894-129-05"}]}


def _record(*extra: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(r) for r in extra]


def _immunization(code: dict, status: str = "completed", when: str = "2026-03-01") -> dict:
    return {"resourceType": "Immunization", "id": "imm-1", "status": status, "patient": PATIENT, "vaccineCode": code,
            "occurrenceDateTime": when}


def _one_time(answer: dict) -> tuple[dict, dict]:
    outcome = answer["cards"][0]["extension"][EXT]
    return outcome, next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")


def test_the_full_prefetch_asks_for_the_immunizations():
    assert prefetch_templates()["immunizations"] == "Immunization?patient={{context.patientId}}&_count=200"


def test_the_eligible_infant_stays_eligible_and_the_immunizations_are_named_as_read(client):
    outcome, one_time = _one_time(answer_both_routes(client, _record()))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"
    assert "Immunizations" in one_time["reason"]


def test_a_zolgensma_kit_recorded_as_an_immunization_is_a_prior_dose(client):
    answer = answer_both_routes(client, _record(_immunization(KIT)))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"], outcome["overall"]) == ("not-met", "prior-dose",
                                                                                "not-eligible")
    assert answer["cards"][0]["summary"] == "Do not infuse Zolgensma: prior Zolgensma dose on record"
    assert one_time["evidence"] == ["Immunization/imm-1"]
    details = " ".join(c.get("detail", "") for c in answer["cards"])
    assert "Zolgensma recorded as an immunization (completed, NDC 71894-129-05) on 2026-03-01" in details


@pytest.mark.parametrize("code, shown", [
    ({"text": "Zolgensma infusion"}, "Immunization (completed) naming Zolgensma in text only: Zolgensma infusion"),
    ({"text": "Itvisma"}, "Immunization (completed): Itvisma"),
])
def test_an_immunization_naming_the_product_in_text_only_goes_to_review(client, code, shown):
    answer = answer_both_routes(client, _record(_immunization(code)))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"], outcome["overall"]) == ("review", "possible-prior-dose",
                                                                                "needs-review")
    assert f"Immunization/imm-1 ({shown}, 2026-03-01)" in one_time["reason"]


@pytest.mark.parametrize("record", [
    _immunization(KIT, status="not-done"), _immunization(KIT, status="entered-in-error"),
    _immunization({"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08"}],
                   "text": "Hep B, adolescent or pediatric"}),
], ids=["not-done", "entered-in-error", "another-vaccine"])
def test_an_immunization_not_given_or_another_vaccine_is_no_prior_dose(client, record):
    outcome, one_time = _one_time(answer_both_routes(client, _record(record)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


def test_an_immunization_whose_vaccine_cannot_be_read_leaves_one_time_dose_unknown(client):
    outcome, one_time = _one_time(answer_both_routes(client, _record(_immunization({"coding": "71894-129-05"}))))
    assert (one_time["status"], outcome["overall"]) == ("unknown", "incomplete")
    assert "Immunization/imm-1" in one_time["reason"]


@pytest.mark.parametrize("failure", ["failed", "truncated"])
def test_an_immunization_search_not_read_completely_leaves_one_time_dose_unknown(client, failure):
    def tamper(query, answer):
        if not query.startswith("Immunization"):
            return answer
        if failure == "failed":
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return {**answer, "total": len(answer.get("entry") or ()) + 5}
    for mode, answer in answer_each_route(client, _record(), tamper=tamper).items():
        outcome, one_time = _one_time(answer)
        assert (one_time["status"], outcome["overall"]) == ("unknown", "incomplete"), mode
        assert "immunizations" in one_time["reason"], mode


def _answered_with(resource: dict):
    """A server whose Immunization search also returns `resource` (it ignored the patient parameter)."""
    def tamper(query, answer):
        if query.startswith("Immunization"):
            entries = [*(answer.get("entry") or ()), {"resource": resource}]
            return {**answer, "entry": entries, "total": len(entries)}
        return answer
    return tamper


def test_another_patients_immunization_is_never_evidence(client):
    """A search for this patient's immunizations that returns another patient's is not a complete answer: one naming
    Zolgensma leaves one-time-dose unknown (never a prior dose of this child); another vaccine changes nothing."""
    sibling = {"reference": "Patient/sibling"}
    answer = answer_both_routes(client, _record(), tamper=_answered_with(_immunization(KIT) | {"patient": sibling}))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], outcome["overall"]) == ("unknown", "incomplete")
    assert "Immunization/imm-1" in one_time["reason"] and "Patient/sibling" in one_time["reason"]
    hep_b = _immunization({"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08"}]}) | {"patient": sibling}
    outcome, one_time = _one_time(answer_both_routes(client, _record(), tamper=_answered_with(hep_b)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"
