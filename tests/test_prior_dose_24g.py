"""Review 2026-11-24g items G2, G7 and G10: prior Zolgensma doses still missed (each gave "can go ahead").
G2: one vocabulary of the therapy's names (cds_service/translate/therapy_text.py) read by every resource family: a
problem-list Condition naming it as given, a medication record or a completed ServiceRequest naming a gene therapy
(AAV9), OAV101 (onasemnogene abeparvovec's development code) are possible prior doses (`review`), never doses.
G7: an active or on-hold Zolgensma infusion request whose date has passed may have been carried out (`review`).
G10: a `stopped` Zolgensma MedicationDispense may have been handed over in part (`unknown`, like a stopped order).
DR.005.D renewal criteria and FDA label section 1: one-time dose. Each case through prefetch and through the FHIR
server with identical answers (answer_both_routes)."""

from __future__ import annotations

import copy

import pytest
import responses
from fhir_fake import FakeFhir, answer_both_routes, answer_each_route, hook_request, load, without_generated_ids

from cds_service.translate.therapy_text import act_names_dose, condition_names_dose, therapy_named

EXT = "org.example.zolgensma-cds.eligibility"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"
PATIENT = {"reference": "Patient/eligible-infant"}
REVIEW_SUMMARY = "Zolgensma needs Medical Director review: "


def _record(*extra: dict) -> list[dict]:
    return copy.deepcopy(load("eligible-infant")) + [copy.deepcopy(r) for r in extra]


def _one_time(answer: dict) -> tuple[dict, dict]:
    outcome = answer["cards"][0]["extension"][EXT]
    return outcome, next(c for c in outcome["criteria"] if c["id"] == "one-time-dose")


def _condition(text: str, note: str | None = None, status: str = "active") -> dict:
    condition = {"resourceType": "Condition", "id": "c-history", "subject": PATIENT,
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": status}]},
                 "code": {"text": text}, "recordedDate": "2026-03-05"}
    if note:
        condition["note"] = [{"text": note}]
    return condition


def _service_request(status: str, code: dict, when: str = "2026-03-01", sr_id: str = "sr-infusion") -> dict:
    return {"resourceType": "ServiceRequest", "id": sr_id, "status": status, "intent": "order", "subject": PATIENT,
            "code": code, "occurrenceDateTime": when, "authoredOn": "2026-02-20"}


def _medication_record(rtype: str, text: str, status: str = "completed", rid: str = "m-prior") -> dict:
    record = {"resourceType": rtype, "id": rid, "status": status, "subject": PATIENT}
    if rtype == "Immunization":
        return record | {"vaccineCode": {"text": text}, "occurrenceDateTime": "2026-03-01", "patient": PATIENT}
    record["medicationCodeableConcept"] = {"text": text}
    dated = {"MedicationAdministration": "effectiveDateTime", "MedicationStatement": "effectiveDateTime",
             "MedicationDispense": "whenHandedOver", "MedicationRequest": "authoredOn"}[rtype]
    if rtype == "MedicationRequest":
        record["intent"] = "order"
    return record | {dated: "2026-03-01"}


J3399 = {"coding": [{"system": HCPCS, "code": "J3399"}], "text": "Zolgensma infusion"}


# --- the vocabulary itself (pure) ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, named", [
    ("S/p Zolgensma (onasemnogene abeparvovec) infusion 03/2026", "product"),
    ("OAV101 intrathecal", "product"), ("OAV-101 IT", "product"), ("AVXS-101", "product"),
    ("AAV9 gene replacement therapy infusion", "gene-therapy"), ("SMN1 gene deletion analysis", None)])
def test_one_vocabulary_names_the_therapy(text, named):
    assert therapy_named(text) == named


@pytest.mark.parametrize("text, expected", [
    ("S/p Zolgensma (onasemnogene abeparvovec) infusion 03/2026", "product"),
    ("History of SMN1 gene replacement therapy", "gene-therapy"),
    ("Zolgensma-induced hepatitis", "product"),
    ("SMA type 1, gene therapy candidate", None), ("Zolgensma planned", None), ("No prior gene therapy", None),
    ("AAV9 antibodies elevated, ineligible for gene therapy", None), ("Spinal muscular atrophy type 1", None)])
def test_a_condition_names_a_dose_only_as_given(text, expected):
    assert condition_names_dose(text) == expected


def test_an_act_record_naming_a_gene_therapy_is_a_possible_dose_unless_it_is_around_it():
    assert act_names_dose("AAV9 gene therapy") == "gene-therapy"
    assert act_names_dose("Itvisma consult") == "product"  # the vector under another name, whatever it says (T4)
    assert act_names_dose("Gene therapy eligibility consultation") is None
    assert act_names_dose("AAV9 total antibody assay") is None


# --- G2 through both routes --------------------------------------------------------------------------------------
CONDITIONS = {
    "s/p in code text": _condition("S/p Zolgensma (onasemnogene abeparvovec) infusion 03/2026"),
    "s/p in a note, resolved": _condition("Spinal muscular atrophy type 1", note="s/p Zolgensma 03/2026",
                                          status="resolved"),
    "history of gene therapy": _condition("History of SMN1 gene replacement therapy"),
}


@pytest.mark.parametrize("case", CONDITIONS)
def test_a_condition_naming_the_therapy_as_given_goes_to_review(client, case):
    answer = answer_both_routes(client, _record(CONDITIONS[case]))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert outcome["overall"] == "needs-review"
    assert answer["cards"][0]["summary"] == REVIEW_SUMMARY + "possible prior onasemnogene abeparvovec dose on record"
    assert "Condition/c-history (Condition (" in one_time["reason"]
    assert "not itself proof of a dose" in one_time["reason"] and "2026-03-05" in one_time["reason"]
    assert "Medical Director" in one_time["reason"] and one_time["evidence"] == ["Condition/c-history"]


def test_the_condition_quoted_on_a_card_is_escaped(client):
    answer = answer_both_routes(client, _record(_condition("S/p Zolgensma **given** 03/2026")))
    details = " ".join(c.get("detail", "") for c in answer["cards"] if "Condition/c-history" in c.get("detail", ""))
    assert "Zolgensma" in details and "**given**" not in details


@pytest.mark.parametrize("text", ["SMA type 1, gene therapy candidate", "Zolgensma planned",
                                  "No prior gene therapy"])
def test_a_condition_planning_the_therapy_changes_nothing(client, text):
    outcome, one_time = _one_time(answer_both_routes(client, _record(_condition(text))))
    assert outcome["overall"] == "eligible" and (one_time["status"], one_time["reasonCode"]) == ("met", "no-prior-dose")


def test_a_refuted_condition_naming_the_therapy_changes_nothing(client):
    refuted = _condition("S/p Zolgensma infusion") | {"verificationStatus": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}]}}
    outcome, one_time = _one_time(answer_both_routes(client, _record(refuted)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


@pytest.mark.parametrize("rtype", ["MedicationAdministration", "MedicationStatement", "MedicationDispense",
                                   "MedicationRequest", "Immunization"])
def test_a_medication_record_naming_a_gene_therapy_goes_to_review_in_every_family(client, rtype):
    answer = answer_both_routes(client, _record(_medication_record(rtype, "AAV9 gene therapy")))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "gene-therapy-infusion")
    assert outcome["overall"] == "needs-review"
    assert answer["cards"][0]["summary"] == (REVIEW_SUMMARY + "a gene-therapy infusion is recorded on 2026-03-01: "
                                             "confirm it was not Zolgensma")
    assert f"{rtype}/m-prior ({rtype} (completed): AAV9 gene therapy" in one_time["reason"]


@pytest.mark.parametrize("text", ["OAV101 intrathecal", "OAV-101 IT"])
def test_oav101_is_the_same_vector(client, text):
    answer = answer_both_routes(client, _record(_medication_record("MedicationAdministration", text)))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "possible-prior-dose")
    assert f"MedicationAdministration/m-prior (MedicationAdministration (completed): {text}" in one_time["reason"]
    assert "2026-03-01" in one_time["reason"]


def test_a_completed_aav9_service_request_reads_the_procedure_vocabulary(client):
    code = {"coding": [{"system": CPT, "code": "96365"}], "text": "AAV9 gene replacement therapy infusion"}
    answer = answer_both_routes(client, _record(_service_request("completed", code)))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "gene-therapy-infusion")
    assert "ServiceRequest/sr-infusion (gene-therapy ServiceRequest completed (AAV9 gene replacement therapy " \
           "infusion [CPT 96365])" in one_time["reason"]


def test_a_completed_gene_therapy_consult_request_changes_nothing(client):
    code = {"text": "Gene therapy eligibility consultation"}
    outcome, one_time = _one_time(answer_both_routes(client, _record(_service_request("completed", code))))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


def test_a_failed_condition_search_leaves_one_time_dose_unknown(client):
    """A Condition may record the dose: "no prior dose" cannot rest on a Condition search that failed."""
    def fail(query, answer):
        if query.startswith("Condition"):
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return answer
    for mode, answer in answer_each_route(client, _record(), tamper=fail).items():
        _, one_time = _one_time(answer)
        assert one_time["status"] == "unknown" and "conditions" in one_time["reason"], mode


# --- G7 --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["active", "on-hold"])
def test_an_open_infusion_request_past_its_date_goes_to_review(client, status):
    answer = answer_both_routes(client, _record(_service_request(status, J3399)))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "open-infusion-request")
    assert outcome["overall"] == "needs-review"
    assert answer["cards"][0]["summary"] == (REVIEW_SUMMARY + "a Zolgensma infusion request dated 2026-03-01 is "
                                             "still open: confirm it was not given")
    assert (f"ServiceRequest/sr-infusion (Zolgensma infusion request still open (status {status}), never marked "
            "completed: Zolgensma infusion [HCPCS J3399], 2026-03-01)") in one_time["reason"]
    assert "Medical Director" in one_time["reason"]


def test_an_open_aav9_request_past_its_date_goes_to_review(client):
    code = {"text": "AAV9 gene replacement therapy infusion"}
    _, one_time = _one_time(answer_both_routes(client, _record(_service_request("active", code))))
    assert (one_time["status"], one_time["reasonCode"]) == ("review", "open-infusion-request")


@pytest.mark.parametrize("open_request", [
    _service_request("active", J3399, when="2026-12-01"),  # the plan
    _service_request("active", J3399) | {"occurrenceDateTime": None,
                                         "occurrencePeriod": {"start": "2026-11-01", "end": "2026-12-31"}},
    _service_request("active", {"text": "Zolgensma education"}),
    _service_request("draft", J3399),
])
def test_an_open_request_not_past_or_not_the_infusion_changes_nothing(client, open_request):
    open_request = {k: v for k, v in open_request.items() if v is not None}
    outcome, one_time = _one_time(answer_both_routes(client, _record(open_request)))
    assert outcome["overall"] == "eligible" and one_time["status"] == "met"


def test_an_infusion_request_drafted_in_this_session_is_no_prior_dose(client):
    record = _record()
    draft = _service_request("active", J3399, sr_id="sr-draft")
    answers = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeFhir(record).register(rsps)
        for mode in ("prefetch", "server"):
            body = hook_request("eligible-infant", "order-sign", mode=mode, resources=record)
            body["context"]["draftOrders"]["entry"].append({"resource": copy.deepcopy(draft)})
            response = client.post("/cds-services/zolgensma-order-sign", json=body)
            assert response.status_code == 200
            answers.append(response.json)
    assert without_generated_ids(answers[0]) == without_generated_ids(answers[1])
    _, one_time = _one_time(answers[0])
    assert one_time["status"] == "met"


# --- G10 --------------------------------------------------------------------------------------------------------
def test_a_stopped_zolgensma_dispense_leaves_one_time_dose_unknown(client):
    dispense = {"resourceType": "MedicationDispense", "id": "md-stopped", "status": "stopped", "subject": PATIENT,
                "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-129-05"}]},
                "whenHandedOver": "2026-03-01"}
    answer = answer_both_routes(client, _record(dispense))
    outcome, one_time = _one_time(answer)
    assert (one_time["status"], one_time["reasonCode"]) == ("unknown", "source-incomplete")
    assert outcome["overall"] == "incomplete"
    assert answer["cards"][0]["summary"] == "Zolgensma not ready: prior dose: records not fully read"
    assert ("MedicationDispense/md-stopped (skipped: a Zolgensma dispense with status stopped (dated 2026-03-01): "
            "halted before all of it was done") in one_time["reason"]
    assert "confirm nothing was infused" in one_time["reason"]
