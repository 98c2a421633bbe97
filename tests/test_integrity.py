"""Evidence integrity (issue 11): no `met` and no `eligible` from data that was not fully read, not
understood, or not this patient's. Every case runs through prefetch AND through the FHIR server, with
identical results; the charts are the fixtures with one realistic defect each."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import FakeFhir, hook_request, load
from fhir_fake import without_generated_ids as strip_ids

from cds_service.hooks import SERVICES

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


# Read leniently, decide strictly, element by element ----------------------------------------------
def test_ventilator_dependence_with_invalid_onset_is_still_advanced_sma(rsps):
    response = both(rsps, with_added(condition("vent", *VENTILATOR, onsetDateTime="2026-13-01")))
    assert statuses(response)["no-advanced-sma"] == "review"
    assert "onsetDateTime (invalid)" in issues_text(response)


@pytest.mark.parametrize("noise", [{"recordedDate": "yesterday"}, {"id": "rsv_1"}, {"onsetPeriod": {"start": 5}}])
def test_infection_with_an_invalid_element_it_does_not_need_is_still_an_infection(noise, rsps):
    infection = condition("rsv", *RSV, **noise)
    response = both(rsps, with_added(infection))
    assert statuses(response)["no-active-infection"] == "not-met"
    assert outcome(response)["overall"] == "not-eligible"
    assert "(invalid)" in issues_text(response)


def test_whitespace_and_case_in_codes_are_noise(rsps):
    infection = condition("rsv", *RSV)
    infection["clinicalStatus"]["coding"][0]["code"] = " Active "
    infection["code"]["coding"][0]["code"] = "J21.0 "
    response = both(rsps, with_added(infection))
    assert statuses(response)["no-active-infection"] == "not-met"


def test_prior_order_with_invalid_dosage_is_still_a_prior_dose(rsps):
    prior = {"resourceType": "MedicationRequest", "id": "old-zolgensma", "status": "completed", "intent": "order",
             "subject": {"reference": f"Patient/{PATIENT}"},
             "medicationCodeableConcept": {"text": "Zolgensma (onasemnogene abeparvovec-xioi)"},
             "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": "lots"}}]}]}
    response = both(rsps, with_added(prior))
    assert statuses(response)["one-time-dose"] == "not-met"


def test_prior_administration_with_invalid_date_is_still_a_prior_dose(rsps):
    response = both(rsps, with_added(prior_administration(effectiveDateTime="2025-02-30")))
    assert statuses(response)["one-time-dose"] == "not-met"


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


@pytest.mark.parametrize("mode", ["prefetch", "server"])
def test_labs_truncated_blocks_latest_result_conclusions(mode, rsps):
    """Through the server the labs come from several searches, each truncated (so the reasons' wording
    differs from the one prefetched Bundle's); the statuses are the same."""
    truncate = _bundle_entries("Observation?patient=eligible-infant&", lambda b: b.update(total=len(b["entry"]) + 1))

    def labs_only(query, answer):  # every lab search (one or several), not the vital signs
        vitals = any(code in query for code in ("29463-7", "76516-4", "8310-5", "vital-signs"))
        return answer if vitals else truncate(query, answer)

    FakeFhir(load(PATIENT), tamper=labs_only).register(rsps)
    response = make_app().test_client().post(SIGN, json=hook_request(PATIENT, mode=mode, tamper=labs_only)).json
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


# 3. Identity: only this patient's data is evidence -------------------------------------------------
def _sibling(resource: dict) -> dict:
    resource = copy.deepcopy(resource)
    for element in ("subject", "patient", "beneficiary"):
        if element in resource:
            resource[element] = {"reference": "Patient/sibling"}
    return resource


def _replace(record: list[dict], rid: str, change) -> list[dict]:
    return [change(copy.deepcopy(r)) if r.get("id") == rid else r for r in record]


def test_a_siblings_titer_is_not_evidence(rsps):
    record = [r for r in load(PATIENT) if r.get("id") != "aav9"]
    sibling_titer = _sibling(next(r for r in load(PATIENT) if r.get("id") == "aav9"))
    response = both(rsps, tamper=_bundle_entries("Observation?patient=eligible-infant&category=laboratory",
                                                 lambda b: b["entry"].append({"resource": sibling_titer})),
                    resources=record)
    titer = criterion(response, "aav9-titer")
    assert titer["status"] == "unknown"
    assert "Patient/sibling" in issues_text(response)
    assert not any("Observation/aav9" == e for e in titer.get("evidence", []))


def test_reassigned_ventilator_condition_is_not_silence(rsps):
    vent = _sibling(condition("vent", *VENTILATOR))
    response = both(rsps, tamper=_bundle_entries("Condition?", lambda b: b["entry"].append({"resource": vent})))
    assert statuses(response)["no-advanced-sma"] == "unknown"  # a search that returns others' data is not complete
    assert outcome(response)["overall"] == "incomplete"


def test_another_patients_patient_resource_does_not_set_the_age(rsps):
    other = dict(next(r for r in load(PATIENT) if r["resourceType"] == "Patient"), id="sibling",
                 birthDate="2026-06-01")

    def swap(query, answer):
        return other if query.startswith("Patient/") else answer

    client = make_app().test_client()
    response = client.post(SIGN, json=hook_request(PATIENT, tamper=swap))
    s = statuses(response.json)
    assert s["age-under-2"] == "unknown" and s["gestational-age"] == "unknown"
    assert "Patient resource for sibling" in issues_text(response.json)
    FakeFhir(load(PATIENT), tamper=swap).register(rsps)
    served = client.post(SIGN, json=hook_request(PATIENT, mode="server"))
    assert statuses(served.json) == s


def test_resource_that_names_no_patient_is_not_evidence(rsps):
    def strip_subject(query, answer):
        if answer.get("resourceType") == "Bundle":
            answer = copy.deepcopy(answer)
            for e in answer.get("entry", []):
                if e["resource"].get("id") == "aav9":
                    e["resource"].pop("subject")
        return answer

    # The search finds it by patient (the fake matches on the stored copy); the body sent lacks the subject.
    response = both(rsps, tamper=strip_subject)
    assert statuses(response)["aav9-titer"] == "unknown"
    assert "does not name a patient" in issues_text(response)


# 4. Time: results dated after now are not evidence ---------------------------------------------
@pytest.mark.parametrize("rid, cid", [("aav9", "aav9-titer"), ("weight", "weight-in-label-range"),
                                      ("troponin", "baseline-platelets-troponin")])
def test_future_dated_result_is_not_current(rid, cid, rsps):
    record = _replace(load(PATIENT), rid, lambda r: {**r, "effectiveDateTime": "2026-11-25T09:00:00Z"})
    response = both(rsps, record)
    assert statuses(response)[cid] == "unknown"
    assert "after the current time" in issues_text(response)


def test_clock_skew_of_a_few_minutes_is_allowed_and_stated(rsps):
    from datetime import UTC, datetime

    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    app = make_app(NOW=lambda: now)
    within = _replace(load(PATIENT), "aav9", lambda r: {**r, "effectiveDateTime": "2026-11-23T12:04:00Z"})
    assert statuses(both(rsps, within, app=app))["aav9-titer"] == "met"
    rsps.reset()
    beyond = _replace(load(PATIENT), "aav9", lambda r: {**r, "effectiveDateTime": "2026-11-23T12:06:00Z"})
    assert statuses(both(rsps, beyond, app=app))["aav9-titer"] == "unknown"


# 6. Plausibility: impossible values are not evidence and never a 5xx ---------------------------------
def _value(rid: str, **value):
    def change(r):
        r = {k: v for k, v in r.items() if not k.startswith("value")}
        r.update(value)
        return r
    return _replace(load(PATIENT), rid, change)


@pytest.mark.parametrize("rid, value, cid", [
    ("aav9", {"valueQuantity": {"value": 0.01, "unit": "{titer}"}}, "aav9-titer"),
    ("aav9", {"valueRatio": {"numerator": {"value": 100}, "denominator": {"value": 1}}}, "aav9-titer"),
    ("aav9", {"valueString": "1:0"}, "aav9-titer"),
    ("ga-birth", {"valueQuantity": {"value": 150, "unit": "wk", "system": "http://unitsofmeasure.org",
                                    "code": "wk"}}, "gestational-age"),
    ("ga-birth", {"valueQuantity": {"value": -8486824, "unit": "wk"}}, "gestational-age"),
    ("weight", {"valueQuantity": {"value": 1e308, "unit": "kg"}}, "weight-in-label-range"),
    ("weight", {"valueQuantity": {"value": 7200, "unit": "kg"}}, "weight-in-label-range"),
    ("alt", {"valueQuantity": {"value": -5, "unit": "U/L"}}, "baseline-liver-function"),
    ("platelets", {"valueQuantity": {"value": 1e9, "unit": "10*3/uL"}}, "baseline-platelets-troponin"),
])
def test_implausible_values_are_skipped_and_reported(rid, value, cid, rsps):
    response = both(rsps, _value(rid, **value))
    assert statuses(response)[cid] != "met"
    assert outcome(response)["overall"] != "eligible"
    assert f"/{rid}" in issues_text(response)


def test_birth_date_in_the_future_is_not_a_birth_date(rsps):
    record = _replace(load(PATIENT), PATIENT, lambda r: {**r, "birthDate": "9999-01-01"})
    response = both(rsps, record)
    assert statuses(response)["age-under-2"] == "unknown"
    assert "after today" in issues_text(response)


# 7. Units: an unrecognised unit makes a value unusable, never ignored --------------------------------
def _dose(value, unit, code=None):
    record = load(PATIENT)
    order = next(r for r in record if r.get("id") == "zolgensma-order")
    quantity = {"value": value, **({"unit": unit} if unit else {})}
    if code:
        quantity.update(system="http://unitsofmeasure.org", code=code)
    order["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": quantity}]
    return record


@pytest.mark.parametrize("unit", ["cc", "millilitre", "mL", "cm3"])
def test_documented_volume_synonyms_are_millilitres(unit, rsps):
    response = both(rsps, _dose(60.5, unit))
    dose = criterion(response, "dose-within-label")
    assert dose["status"] == "not-met" and dose["reasonCode"] == "dose-off-band"
    rsps.reset()
    assert statuses(both(rsps, _dose(41.3, unit)))["dose-within-label"] == "met"


@pytest.mark.parametrize("unit", ["drops", "vials", None])
def test_unrecognised_dose_unit_is_unknown_and_reported(unit, rsps):
    response = both(rsps, _dose(41.3, unit))
    dose = criterion(response, "dose-within-label")
    assert dose["status"] == "unknown" and dose["reasonCode"] == "dose-unit-unknown"
    assert "not recognised" in issues_text(response)
    assert outcome(response)["overall"] == "incomplete"


def test_unrecognised_lab_unit_is_unknown_and_reported(rsps):
    response = both(rsps, _value("troponin", valueQuantity={"value": 0.01, "unit": "furlongs"}))
    assert statuses(response)["baseline-platelets-troponin"] == "unknown"
    assert "furlongs" in issues_text(response)


# 5. Contradictions: same-day results that disagree; Bundle order never decides -----------------------
def _twin(rid: str, new_id: str, **value):
    """The chart with a second result of `rid`'s analyte on the same date, with another value."""
    record = load(PATIENT)
    original = next(r for r in record if r.get("id") == rid)
    twin = {k: v for k, v in copy.deepcopy(original).items() if not k.startswith("value")}
    twin.update(id=new_id, **value)
    return record, twin


@pytest.mark.parametrize("first", [True, False], ids=["twin-first", "twin-last"])
@pytest.mark.parametrize("rid, value, cids", [
    ("aav9", {"valueString": "1:200"}, ("aav9-titer",)),
    ("weight", {"valueQuantity": {"value": 9.4, "unit": "kg", "system": "http://unitsofmeasure.org",
                                  "code": "kg"}}, ("dose-within-label",)),
])
def test_disagreeing_same_day_results_are_not_decided_by_order(first, rid, value, cids, rsps):
    record, twin = _twin(rid, f"{rid}-twin", **value)
    record = [twin] + record if first else record + [twin]
    response = both(rsps, record)
    for cid in cids:
        found = criterion(response, cid)
        assert found["status"] == "unknown" and found["reasonCode"] == "conflicting-results", found
        assert {f"Observation/{rid}", f"Observation/{rid}-twin"} <= set(found["evidence"])
    assert outcome(response)["overall"] == "incomplete"
    assert "disagree" in issues_text(response)


def test_order_of_disagreeing_results_gives_identical_responses(rsps):
    record, twin = _twin("aav9", "aav9-twin", valueString="1:200")
    one = both(rsps, record + [twin])
    rsps.reset()
    other = both(rsps, [twin] + record)
    assert strip_ids(one) == strip_ids(other)


def test_same_day_results_that_lead_to_the_same_status_keep_it(rsps):
    record, twin = _twin("alt", "alt-twin", valueQuantity={"value": 31, "unit": "U/L"})
    response = both(rsps, record + [twin])
    assert statuses(response)["baseline-liver-function"] == "met"
    assert "alt results of" in issues_text(response)


# 8. Monitoring: a readable administration date sets day 0; otherwise a card says why there is none ----
MONITORING = "monitoring-day-45-overdue"
MONITORING_URL = "/cds-services/zolgensma-monitoring"
MONITORING_SOURCES = SERVICES["zolgensma-monitoring"].sources


def monitoring_both(rsps, record):
    client = make_app().test_client()
    body = hook_request(MONITORING, "patient-view", sources=MONITORING_SOURCES, resources=record)
    via_prefetch = client.post(MONITORING_URL, json=body)
    FakeFhir(record).register(rsps)
    via_server = client.post(MONITORING_URL, json=hook_request(MONITORING, "patient-view", "server",
                                                               sources=MONITORING_SOURCES, resources=record))
    assert via_prefetch.status_code == via_server.status_code == 200
    assert strip_ids(via_prefetch.json) == strip_ids(via_server.json)
    return via_prefetch.json


def _infusion(**change):
    record = load(MONITORING)
    infusion = next(r for r in record if r.get("id") == "zolgensma-infusion")
    infusion.update(change)
    return [r for r in record if r is not infusion] + [infusion]


@pytest.mark.parametrize("change", [
    {"id": "zolgensma_infusion"},
    {"status": " Completed"},
    {"effectivePeriod": {"start": "2026-10-09T10:00:00Z", "end": "2026-10-09T25:00:00Z"}, "effectiveDateTime": None},
    {"note": "not an array", "dosage": {"dose": {"value": "x"}}},
])
def test_readable_administration_date_still_sets_day_zero(change, rsps):
    change = {k: v for k, v in change.items() if v is not None}
    record = _infusion(**change)
    if "effectivePeriod" in change:
        record[-1].pop("effectiveDateTime")
    response = monitoring_both(rsps, record)
    extension = response["cards"][0]["extension"]["org.example.zolgensma-cds.monitoring"]
    assert extension["infusionDate"] == "2026-10-09" and extension["day"] == 45


@pytest.mark.parametrize("change, why", [
    ({"effectiveDateTime": "2026-10-9"}, "no readable date"),
    ({"status": 7}, "MedicationAdministration/zolgensma-infusion"),
    ({"effectiveDateTime": "2027-01-01"}, "after the current time"),
])
def test_no_day_zero_gives_a_card_saying_why(change, why, rsps):
    response = monitoring_both(rsps, _infusion(**change))
    (card,) = response["cards"]
    assert card["indicator"] == "warning"
    assert "day 0" in card["summary"]
    assert why in card["detail"]


def test_no_administration_at_all_still_gives_no_cards(rsps):
    record = [r for r in load(MONITORING) if r.get("id") != "zolgensma-infusion"]
    assert monitoring_both(rsps, record) == {"cards": []}


def test_a_zolgensma_order_for_another_patient_is_refused_not_evaluated(client):
    """Identity (issue 11): the order under evaluation must be this patient's, like every record."""
    import json
    from pathlib import Path
    body = json.loads((Path(__file__).parent.parent / "fhir_fixtures/requests/eligible-infant.order-sign.json")
                      .read_text())
    order = body["context"]["draftOrders"]["entry"][0]["resource"]
    order["subject"] = {"reference": "Patient/a-sibling"}
    answer = client.post("/cds-services/zolgensma-order-sign", json=body)
    assert answer.status_code in (400, 422)
    assert answer.get_json()["resourceType"] == "OperationOutcome"
    order["subject"] = {"reference": f"Patient/{body['context']['patientId']}"}
    assert client.post("/cds-services/zolgensma-order-sign", json=body).status_code == 200


def test_a_procedure_whose_used_product_is_unreadable_leaves_the_prior_dose_unknown(client):
    """Found by the property test: a Procedure whose usedCode coding has a number for its system was read as
    "not Zolgensma", so "no prior dose" was met; what was given is unknown."""
    body = hook_request("prior-dose-procedure")
    procedure = body["prefetch"]["procedures"]["entry"][0]["resource"]
    procedure["usedCode"][0]["coding"][0]["system"] = 12345
    outcome = client.post(SIGN, json=body).json["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]
    assert {c["id"]: c["status"] for c in outcome["criteria"]}["one-time-dose"] == "unknown"
    assert any("usedCode not readable" in i["problem"] for i in outcome["dataIssues"])
