"""Evidence integrity (issue 11): no `met` and no `eligible` from data that was not fully read, not
understood, or not this patient's. Every case runs through prefetch AND through the FHIR server, with
identical results; the charts are the fixtures with one realistic defect each."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import FakeFhir, hook_request, load
from test_scenarios import _strip_ids as strip_ids

SIGN = "/cds-services/zolgensma-order-sign"
PATIENT = "eligible-infant"


def both(rsps, resources=None, tamper=None, name=PATIENT, app=None, **server_options):
    """The response through prefetch and through the FHIR server (asserted identical); returns it."""
    client = (app or make_app()).test_client()
    record = load(name) if resources is None else resources
    via_prefetch = client.post(SIGN, json=hook_request(name, resources=record, tamper=tamper))
    assert via_prefetch.status_code == 200, via_prefetch.get_data(as_text=True)
    fake = FakeFhir(record, tamper=tamper, **server_options)
    fake.register(rsps)
    via_server = client.post(SIGN, json=hook_request(name, mode="server", resources=record))
    assert via_server.status_code == 200, via_server.get_data(as_text=True)
    assert fake.calls
    assert strip_ids(via_prefetch.json) == strip_ids(via_server.json)
    return via_prefetch.json


def outcome(response: dict) -> dict:
    return response["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]


def statuses(response: dict) -> dict:
    return {c["id"]: c["status"] for c in outcome(response)["criteria"]}


def criterion(response: dict, cid: str) -> dict:
    return next(c for c in outcome(response)["criteria"] if c["id"] == cid)


def issues_text(response: dict) -> str:
    return " | ".join(f"{i['source']}: {i['problem']}" for i in outcome(response).get("dataIssues", []))


def coverage_covered(response: dict) -> str | None:
    for action in response.get("systemActions", []):
        for ext in action["resource"].get("extension", []):
            for sub in ext.get("extension", []):
                if sub["url"] == "covered":
                    return sub["valueCode"]
    return None


def with_added(resource: dict, name=PATIENT) -> list[dict]:
    return load(name) + [resource]


def condition(cid: str, icd10: str, display: str, **extra) -> dict:
    resource = {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{PATIENT}"},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                               "code": "active"}]},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": icd10,
                                     "display": display}], "text": display}}
    resource.update(extra)
    return resource


VENTILATOR = ("Z99.11", "Dependence on respirator [ventilator] status")
RSV = ("J21.0", "Acute bronchiolitis due to respiratory syncytial virus")


def prior_administration(**extra) -> dict:
    resource = {"resourceType": "MedicationAdministration", "id": "prior-zolgensma", "status": "completed",
                "subject": {"reference": f"Patient/{PATIENT}"},
                "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                          "code": "71894-129-05"}],
                                              "text": "Zolgensma"},
                "effectiveDateTime": "2025-06-01"}
    resource.update(extra)
    return resource


def test_baseline_chart_is_eligible(rsps):
    assert outcome(both(rsps))["overall"] == "eligible"


# 1. An unreadable resource never turns an exclusion into `met` ---------------------------------------
@pytest.mark.parametrize("broken", [
    {"code": "not a concept"},
    {"clinicalStatus": {"coding": "active"}},
    {"onsetDateTime": 20260101, "code": {"coding": [{"code": 99}]}},
], ids=["code-not-object", "status-not-array", "code-number"])
def test_unreadable_condition_makes_negative_searches_unknown(broken, rsps):
    bad = condition("mystery", *VENTILATOR, **broken)
    response = both(rsps, with_added(bad))
    s = statuses(response)
    assert s["no-advanced-sma"] == "unknown" and s["no-active-infection"] == "unknown"
    assert outcome(response)["overall"] == "incomplete"
    assert criterion(response, "no-advanced-sma")["reasonCode"] == "source-incomplete"
    assert "Condition/mystery" in criterion(response, "no-advanced-sma")["reason"]
    assert coverage_covered(response) == "conditional"


def test_prior_administration_with_status_noise_is_still_a_prior_dose(rsps):
    response = both(rsps, with_added(prior_administration(status="Completed ")))
    assert statuses(response)["one-time-dose"] == "not-met"


def test_unidentifiable_administration_makes_renewal_unknown(rsps):
    response = both(rsps, with_added(prior_administration(medicationCodeableConcept={"coding": [{"code": 5}]})))
    assert statuses(response)["one-time-dose"] == "unknown"
    assert "MedicationAdministration/prior-zolgensma" in criterion(response, "one-time-dose")["reason"]


def _bundle_entries(query_prefix: str, change):
    def tamper(query, answer):
        if query.startswith(query_prefix) and answer.get("resourceType") == "Bundle":
            answer = copy.deepcopy(answer)
            change(answer)
        return answer
    return tamper


@pytest.mark.parametrize("change", [
    lambda b: b["entry"].append({"fullUrl": "urn:uuid:1"}),
    lambda b: b["entry"].append({"resource": "Condition/rsv"}),
    lambda b: b["entry"].append({"resource": {"id": "no-type"}}),
    lambda b: b.update(entry={"resource": b["entry"][0]["resource"]}),
], ids=["entry-without-resource", "resource-not-object", "no-resourceType", "entry-not-array"])
def test_bundle_entries_that_are_not_resources_make_the_source_incomplete(change, rsps):
    response = both(rsps, tamper=_bundle_entries("Condition?", change))
    s = statuses(response)
    assert s["no-advanced-sma"] == "unknown" and s["no-active-infection"] == "unknown"
    assert outcome(response)["overall"] == "incomplete"


def test_duplicate_id_whose_second_copy_is_bad_is_not_ignored(rsps):
    good = condition("dup", "G12.0", "Infantile spinal muscular atrophy, type I")
    bad = condition("dup", *VENTILATOR, onsetDateTime="yesterday", recordedDate={"bad": 1})
    bad["code"]["coding"][0]["code"] = ["Z99.11"]
    response = both(rsps, tamper=_bundle_entries("Condition?", lambda b: b["entry"].extend(
        [{"resource": good}, {"resource": bad}])))
    assert statuses(response)["no-advanced-sma"] == "unknown"


# 2. A truncated source never looks complete --------------------------------------------------------
def test_total_above_entries_without_next_is_truncation(rsps):
    def drop_oldest(bundle):
        bundle["entry"] = bundle["entry"][:-1]  # total still counts it

    response = both(rsps, tamper=_bundle_entries("Condition?", drop_oldest))
    assert statuses(response)["no-advanced-sma"] == "unknown"
    assert statuses(response)["no-active-infection"] == "unknown"
    assert "counted 1 results but sent 0" in criterion(response, "no-advanced-sma")["reason"]
    assert "not read completely" in issues_text(response)


def test_labs_truncated_blocks_latest_result_conclusions(rsps):
    response = both(rsps, tamper=_bundle_entries("Observation?patient=eligible-infant&category=laboratory",
                                                 lambda b: b.update(total=len(b["entry"]) + 1)))
    s = statuses(response)
    for cid in ("aav9-titer", "baseline-liver-function", "baseline-platelets-troponin", "smn1-biallelic"):
        assert s[cid] == "unknown", cid
    assert s["no-advanced-sma"] == "met"  # conditions were read completely
    assert outcome(response)["overall"] == "incomplete"


@pytest.mark.parametrize("severity,complete", [("warning", False), ("error", False), ("information", True)])
def test_outcome_entry_above_information_is_truncation(severity, complete, rsps):
    entry = {"resource": {"resourceType": "OperationOutcome", "issue": [
        {"severity": severity, "code": "incomplete", "diagnostics": "Results truncated at 100"}]},
        "search": {"mode": "outcome"}}
    response = both(rsps, tamper=_bundle_entries("MedicationAdministration?", lambda b: b["entry"].append(entry)))
    assert statuses(response)["one-time-dose"] == ("met" if complete else "unknown")
    assert ("Results truncated at 100" in criterion(response, "one-time-dose")["reason"]) is not complete


def test_page_limit_reached_keeps_evidence_but_not_absence(rsps):
    app = make_app(FHIR_MAX_PAGES=1)
    record = with_added(condition("rsv", *RSV, onsetDateTime="2026-11-20"))
    record += [condition(f"old-{i}", "L20.9", "Atopic dermatitis") for i in range(3)]
    fake = FakeFhir(record, page_size=2)
    fake.register(rsps)
    response = app.test_client().post(SIGN, json=hook_request(PATIENT, mode="server", resources=record))
    s = statuses(response.json)
    assert s["no-advanced-sma"] == "unknown"
    assert "more than 1 pages" in criterion(response.json, "no-advanced-sma")["reason"]


def test_prefetch_next_page_without_server_is_a_gap_not_a_loss(rsps):
    body = hook_request(PATIENT, page_size=2)
    del body["fhirServer"], body["fhirAuthorization"]
    response = make_app().test_client().post(SIGN, json=body)
    assert response.status_code == 200
    s = statuses(response.json)
    assert s["no-advanced-sma"] == "met"  # one condition, one page: complete
    assert s["aav9-titer"] == "unknown"  # labs: only the first page was read
    assert "next page not read" in issues_text(response.json)
