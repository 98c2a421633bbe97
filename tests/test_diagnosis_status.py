"""The SMA diagnosis's verification status (review 2026-11-24b item Q1).

Criterion 2 rests on the genetic result (DR.005.D: bi-allelic SMN1 loss is diagnostic of SMA), so a coded SMA
diagnosis is not required for `met`. A clinician's refuted SMA diagnosis, with no other SMA diagnosis standing,
contradicts a bi-allelic result: `review`. An entered-in-error one is ignored (not evidence either way). An
unconfirmed / provisional / differential diagnosis is shown on the billing card with its status, never as the
diagnosis to code (ICD-10-CM Official Guidelines IV.H). Each case through prefetch and through the FHIR server,
with identical answers."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, criterion_card, criterion_outcome, load

VS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _status(code: str) -> dict:
    return {"coding": [{"system": VS, "code": code}]}


def _with_sma(status: str | None, code: str = "G12.0", display: str = "Infantile spinal muscular atrophy, type I",
              *extra: dict) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    sma = next(r for r in resources if r.get("id") == "sma")
    sma["code"] = {"coding": [{"system": ICD, "code": code, "display": display}], "text": display}
    if status:
        sma["verificationStatus"] = _status(status)
    return resources + [copy.deepcopy(e) for e in extra]


def _billing(answer: dict) -> dict:
    return next(c for c in answer["cards"] if c["summary"].startswith("Bill J3399"))


def test_a_refuted_sma_diagnosis_beside_a_biallelic_result_is_review_naming_both(client):
    answer = answer_both_routes(client, _with_sma("refuted"))
    got = criterion_outcome(answer, "smn1-biallelic")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "diagnosis-refuted", "needs-review")
    assert answer["cards"][0]["summary"] == "Zolgensma needs Medical Director review: SMA diagnosis refuted on record"
    card = criterion_card(answer, "smn1-biallelic")
    assert card["summary"] == "SMA diagnosis marked refuted beside a bi-allelic SMN1 result: refer to Medical Director"
    assert "**Source:** DR.005.D initial criterion 2" in card["detail"]
    assert "- SMN1 copy number 0 (2026-03-20) (Observation/smn1-variant)" in card["detail"]
    assert ("- Infantile spinal muscular atrophy, type I \\[G12.0\\], onset 2026-03-20; verification status refuted "
            "(Condition/sma)") in card["detail"]
    # a refuted diagnosis is never billed
    assert "code the SMA type" in _billing(answer)["summary"]


def test_a_refuted_sma_type_beside_a_confirmed_one_refines_the_type_and_stays_met(client):
    confirmed = {"resourceType": "Condition", "id": "sma-type-1", "subject": {"reference": "Patient/eligible-infant"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]},
                 "verificationStatus": _status("confirmed"),
                 "code": {"coding": [{"system": ICD, "code": "G12.0"}], "text": "SMA type 1"}}
    answer = answer_both_routes(client, _with_sma("refuted", "G12.1", "Other inherited spinal muscular atrophy",
                                                  confirmed))
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "met"
    assert answer["cards"][0]["summary"].startswith("Zolgensma can go ahead")
    assert _billing(answer)["summary"].endswith("diagnosis G12.0")


def test_an_entered_in_error_sma_diagnosis_is_ignored(client):
    """Not evidence either way: the genetic result decides (met); the billing card asks for the diagnosis."""
    answer = answer_both_routes(client, _with_sma("entered-in-error"))
    got = criterion_outcome(answer, "smn1-biallelic")
    assert (got["status"], got["overall"]) == ("met", "eligible")
    billing = _billing(answer)
    assert billing["summary"].endswith("code the SMA type (G12.0/G12.1/G12.9)")
    assert "No G12.0 / G12.1 / G12.9 diagnosis is coded; code the documented SMA type." in billing["detail"]
    assert "Condition/sma" not in billing["detail"]


@pytest.mark.parametrize("status", ["unconfirmed", "provisional", "differential"])
def test_an_uncertain_sma_diagnosis_is_shown_with_its_status_never_as_the_code_to_bill(client, status):
    answer = answer_both_routes(client, _with_sma(status, "G12.9", "Spinal muscular atrophy, unspecified"))
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "met"  # the genetic result decides
    billing = _billing(answer)
    assert billing["summary"].endswith("code the SMA type (G12.0/G12.1/G12.9)")  # not "diagnosis G12.9"
    detail = billing["detail"]
    assert "No confirmed G12.0 / G12.1 / G12.9 diagnosis is coded" in detail
    assert "ICD-10-CM Official Guidelines for Coding and Reporting, Section IV.H" in detail
    assert f"- G12.9 Spinal muscular atrophy, unspecified (Condition/sma): verification status **{status}**" in detail
    assert "- G12.9 Spinal muscular atrophy, unspecified (Condition/sma)\n" not in detail


def test_a_confirmed_sma_diagnosis_is_billed_as_before(client):
    answer = answer_both_routes(client, _with_sma("confirmed"))
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "met"
    billing = _billing(answer)
    assert billing["summary"].endswith("diagnosis G12.0") and "uncertain" not in billing["detail"]
