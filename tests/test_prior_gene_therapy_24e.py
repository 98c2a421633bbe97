"""Review 2026-11-24e items T3 and T4 (remainder): a prior dose recorded without identifying Zolgensma.
T3: a Procedure recording a gene-therapy infusion in free text only (code text, display, note) is a possible prior
dose: one-time-dose `review` ("a gene-therapy infusion is recorded on <date>: confirm it was not Zolgensma"); an
ordinary infusion (CPT 96365 "IV antibiotics") or a procedure around the therapy (an AAV9 antibody test, a consult)
is not. T4: the same vector under another name (Itvisma, AVXS-101) on a completed MedicationRequest or a
MedicationDispense is a possible prior dose too. Each case through prefetch and through the FHIR server, with
identical answers (answer_both_routes)."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load

EXT = "org.example.zolgensma-cds.eligibility"
CPT = "http://www.ama-assn.org/go/cpt"
PATIENT = {"reference": "Patient/eligible-infant"}


def _record(*extra: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(r) for r in extra]


def _procedure(code: dict, note: str | None = None, when: str = "2026-03-01", status: str = "completed") -> dict:
    procedure = {"resourceType": "Procedure", "id": "p-infusion", "status": status, "subject": PATIENT,
                 "code": code, "performedDateTime": when}
    if note:
        procedure["note"] = [{"text": note}]
    return procedure


def _one_time(answer: dict) -> tuple[dict, dict]:
    outcome = answer["cards"][0]["extension"][EXT]
    return outcome, next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")


def _summaries(answer: dict) -> list[str]:
    return [c["summary"] for c in answer["cards"]]


GENE_THERAPY_PROCEDURES = {
    "cpt-96365-text": (_procedure({"coding": [{"system": CPT, "code": "96365"}], "text": "gene therapy infusion"}),
                       "gene therapy infusion [CPT 96365]"),
    "cpt-96365-note": (_procedure({"coding": [{"system": CPT, "code": "96365",
                                               "display": "IV infusion, initial hour"}]},
                                  note="onasemnogene abeparvovec infused"),
                       "note: onasemnogene abeparvovec infused"),
    "aav9-text-only": (_procedure({"text": "AAV9 SMN1 gene replacement therapy infusion"}),
                       "AAV9 SMN1 gene replacement therapy infusion"),
    "gene-therapy-text-only": (_procedure({"text": "Gene therapy"}), "Gene therapy"),
}


@pytest.mark.parametrize("case", GENE_THERAPY_PROCEDURES)
def test_a_gene_therapy_infusion_named_only_in_text_goes_to_review(client, case):
    procedure, shown = GENE_THERAPY_PROCEDURES[case]
    answer = answer_both_routes(client, _record(procedure))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "gene-therapy-infusion")
    assert outcome["overall"] == "needs-review"
    assert answer["cards"][0]["summary"] == ("Zolgensma needs Medical Director review: a gene-therapy infusion is "
                                             "recorded on 2026-03-01: confirm it was not Zolgensma")
    assert "A gene-therapy infusion is recorded on 2026-03-01: confirm it was not Zolgensma" in _summaries(answer)
    assert "Procedure/p-infusion (Procedure (completed): " in one_time["reason"] and shown in one_time["reason"]
    assert "no Zolgensma NDC, no HCPCS J3399" in one_time["reason"]
    assert "Medical Director" in one_time["reason"] and one_time["evidence"] == ["Procedure/p-infusion"]


NOT_GENE_THERAPY = {
    "cpt-96365-antibiotics": _procedure({"coding": [{"system": CPT, "code": "96365"}], "text": "IV antibiotics"}),
    "cpt-96365-no-text": _procedure({"coding": [{"system": CPT, "code": "96365"}]}),
    "aav9-antibody-test": _procedure({"text": "AAV9 total antibody assay (pre gene therapy)"}),
    "gene-therapy-consult": _procedure({"text": "Gene therapy eligibility consultation"}),
    "smn1-testing": _procedure({"text": "SMN1 gene deletion analysis"}),
    "infusion-note-unrelated": _procedure({"coding": [{"system": CPT, "code": "96365"}], "text": "IV fluids"},
                                          note="bolus for dehydration; tolerated well"),
    "gene-therapy-not-done": _procedure({"text": "gene therapy infusion"}, status="not-done"),
}


@pytest.mark.parametrize("case", NOT_GENE_THERAPY)
def test_an_ordinary_infusion_or_a_procedure_around_the_therapy_is_no_prior_dose(client, case):
    plain = answer_both_routes(client, _record())
    answer = answer_both_routes(client, _record(NOT_GENE_THERAPY[case]))
    outcome, one_time = _one_time(answer)
    assert outcome["overall"] == "eligible" and (one_time["status"], one_time["reasonCode"]) == ("met", "no-prior-dose")
    assert _summaries(answer) == _summaries(plain)


def test_a_gene_therapy_infusion_dated_after_now_is_reported_and_rules_nothing_out(client):
    answer = answer_both_routes(client, _record(_procedure({"text": "gene therapy infusion"}, when="2027-01-05")))
    outcome, one_time = _one_time(answer)
    assert one_time["status"] == "unknown" and outcome["overall"] != "eligible"
    assert any(i["source"] == "Procedure/p-infusion" and "after the current time" in i["problem"]
               for i in outcome["dataIssues"])


def test_a_coded_prior_dose_beside_a_gene_therapy_text_is_a_prior_dose(client):
    j3399 = {"resourceType": "MedicationAdministration", "id": "ma-j3399", "status": "completed", "subject": PATIENT,
             "medicationCodeableConcept": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.285", "code": "J3399"}]},
             "effectiveDateTime": "2026-02-01"}
    _, one_time = _one_time(answer_both_routes(
        client, _record(_procedure({"text": "gene therapy infusion"}), j3399)))
    assert (one_time["status"], one_time["reasonCode"]) == ("not-met", "prior-dose")


def test_a_gene_therapy_text_beside_a_same_vector_record_lists_both(client):
    itvisma = {"resourceType": "MedicationAdministration", "id": "ma-itvisma", "status": "completed",
               "subject": PATIENT, "medicationCodeableConcept": {"text": "Itvisma"}, "effectiveDateTime": "2026-02-01"}
    _, one_time = _one_time(answer_both_routes(client, _record(_procedure({"text": "gene therapy infusion"}), itvisma)))
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert "Procedure/p-infusion" in one_time["reason"] and "MedicationAdministration/ma-itvisma" in one_time["reason"]


# --- T4 remainder: the same vector under another name on an order or a dispense ------------------------------------
def _request(status: str, text: str) -> dict:
    return {"resourceType": "MedicationRequest", "id": "mr-prior", "status": status, "intent": "order",
            "subject": PATIENT, "medicationCodeableConcept": {"text": text}, "authoredOn": "2026-03-01"}


def _dispense(status: str, text: str) -> dict:
    return {"resourceType": "MedicationDispense", "id": "md-prior", "status": status, "subject": PATIENT,
            "medicationCodeableConcept": {"text": text}, "whenHandedOver": "2026-03-01"}


@pytest.mark.parametrize("record", [
    _request("completed", "Itvisma (onasemnogene abeparvovec-brve) intrathecal"),
    _request("stopped", "AVXS-101 gene therapy"),
    _dispense("completed", "AVXS-101 gene therapy"),
    _dispense("in-progress", "Itvisma 1.2 x 10^14 vg intrathecal"),
], ids=["request-completed-itvisma", "request-stopped-avxs", "dispense-completed-avxs", "dispense-itvisma"])
def test_the_same_vector_ordered_or_dispensed_before_goes_to_review(client, record):
    answer = answer_both_routes(client, _record(record))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert outcome["overall"] == "needs-review"
    ref = f"{record['resourceType']}/{record['id']}"
    assert f"{ref} ({record['resourceType']} ({record['status']}): {record['medicationCodeableConcept']['text']}, " \
           "2026-03-01)" in one_time["reason"]
    assert answer["cards"][0]["summary"] == ("Zolgensma needs Medical Director review: possible prior onasemnogene "
                                             "abeparvovec dose on record")


@pytest.mark.parametrize("record", [_request("active", "Itvisma"), _request("cancelled", "Itvisma"),
                                    _dispense("declined", "AVXS-101")], ids=["active", "cancelled", "declined"])
def test_a_same_vector_order_not_given_is_no_prior_dose(client, record):
    outcome, one_time = _one_time(answer_both_routes(client, _record(record)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"
