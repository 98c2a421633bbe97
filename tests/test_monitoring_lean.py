"""The monitoring services' lean reading (issue 14): a patient-view service runs on every chart open, so it reads
the Patient, then (not an adult) the sources day 0 is found in, and the rest only for a child with a Zolgensma dose
on record, or one who might have one because those sources were not read completely."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import FakeFhir, both_routes, hook_request, load, long_history, monitoring_names, without_ids

from cds_service.hooks import MONITORING, MONITORING_LAB_ORDERS, SERVICES

URL = "/cds-services/zolgensma-monitoring"
LAB_ORDERS_URL = "/cds-services/zolgensma-monitoring-lab-orders"
SOURCES = SERVICES[MONITORING].sources
DAY_45 = "monitoring-day-45-overdue"
NO_DOSE = "monitoring-no-infusion"  # a child of 8 months, no Zolgensma on record
# the dispenses too: a kit handed over may be the only record of the dose (review 2026-11-24e)
DOSE_SEARCHES = ["MedicationAdministration", "MedicationDispense", "MedicationRequest", "Procedure", "ServiceRequest"]


def _adult(name: str) -> list[dict]:
    return [dict(r, birthDate="1980-05-01") if r["resourceType"] == "Patient" else r for r in load(name)]


def _served(rsps, name, resources=None, prefetched=(), url=URL, body=None, tamper=None, **config):
    """Cards and the FHIR requests made, the Patient (or the `prefetched` keys) prefetched, the rest queried."""
    record = resources or load(name)
    fake = FakeFhir(record, tamper=tamper)
    fake.register(rsps)
    if body is None:
        body = hook_request(name, "patient-view", "server", resources=record)
        if prefetched:
            body["prefetch"] = hook_request(name, "patient-view", sources=prefetched, resources=record,
                                            tamper=tamper)["prefetch"]
    response = make_app(**config).test_client().post(url, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"], fake.calls


def _kinds(calls: list[str]) -> list[str]:
    return sorted(c.split("?")[0].split("/")[0] for c in calls)


@pytest.mark.parametrize("name", [DAY_45, NO_DOSE])
def test_an_adult_chart_open_costs_the_patient_read_only(rsps, name):
    """Even with a Zolgensma administration on record (outside the label, under 2 years): an adult's chart."""
    cards, calls = _served(rsps, name, _adult(name))
    assert cards == [] and calls == [f"Patient/{name}"]
    rsps.reset()
    cards, calls = _served(rsps, name, _adult(name), prefetched=("patient",))  # the lean prefetch: nothing asked
    assert cards == [] and calls == []


def test_a_child_without_a_dose_costs_the_patient_and_the_dose_searches_only(rsps):
    cards, calls = _served(rsps, NO_DOSE)
    assert cards == []
    assert calls[0] == f"Patient/{NO_DOSE}" and _kinds(calls[1:]) == DOSE_SEARCHES
    # read completely as before (every record, 200 a page): the same evidence evaluate_monitoring dates day 0 from
    assert all(f"patient={NO_DOSE}" in c and "_count=200" in c for c in calls[1:])
    rsps.reset()
    cards, calls = _served(rsps, NO_DOSE, prefetched=("patient",))
    assert cards == [] and _kinds(calls) == DOSE_SEARCHES


def test_a_child_with_a_dose_reads_everything(rsps):
    cards, calls = _served(rsps, DAY_45, prefetched=("patient",))
    assert cards[0]["extension"]["org.example.zolgensma-cds.monitoring"]["day"] == 45
    # Observations: the lab history, the monitored tests by code (a result without the laboratory category), the
    # assessments
    assert _kinds(calls) == ["Condition", *DOSE_SEARCHES[:3], "Observation", "Observation", "Observation",
                             "Procedure", "ServiceRequest"]


@pytest.mark.parametrize("name", monitoring_names())
def test_every_monitoring_fixture_gives_the_same_cards_through_the_lean_and_the_full_prefetch(name, client, rsps):
    """Full prefetch == no prefetch (both_routes) == the lean prefetch (the Patient) with the rest queried."""
    full = both_routes(client, URL, name, "patient-view", SOURCES, rsps)
    rsps.reset()
    lean, _ = _served(rsps, name, prefetched=("patient",))
    assert without_ids(lean) == without_ids(full["cards"])


def _failing(source: str):
    def tamper(query: str, answer: dict) -> dict:
        return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]} \
            if query.startswith(source) else answer
    return tamper


def _truncated(source: str):
    def tamper(query: str, answer: dict) -> dict:
        if query.startswith(source) and answer.get("resourceType") == "Bundle":
            answer = dict(answer, total=len(answer["entry"]) + 1)  # one more than sent, and no next link
        return answer
    return tamper


@pytest.mark.parametrize("tamper, why", [
    (_failing("MedicationAdministration?"), "medication-administrations could not be read"),
    (_truncated("MedicationAdministration?"), "medication-administrations: the server counted"),
    (_failing("Procedure?"), "procedures could not be read"),
])
def test_a_dose_source_not_read_completely_never_silences_a_child(rsps, tamper, why):
    """The dose might be in what was not read: not quiet; the warning card says why there is no schedule (the
    behaviour before the lean reading), having read the rest as before."""
    cards, calls = _served(rsps, NO_DOSE, tamper=tamper)
    (card,) = cards
    assert card["indicator"] == "warning" and "day 0" in card["summary"]
    assert why in card["detail"], card["detail"]
    assert {"Observation", "Condition"} <= set(_kinds(calls))
    # the same through prefetch: the EHR's fetch failed or was cut, and no FHIR server to ask again
    rsps.reset()
    body = hook_request(NO_DOSE, "patient-view", sources=SOURCES, tamper=tamper)
    del body["fhirServer"], body["fhirAuthorization"]
    via_prefetch, _ = _served(rsps, NO_DOSE, body=body)
    assert len(via_prefetch) == 1 and via_prefetch[0]["indicator"] == "warning"


def test_a_dose_source_cut_by_the_entry_limit_never_silences_a_child(rsps):
    """A NICU infant's 300 other administrations over a 100-entry limit: not read completely, so not quiet."""
    cards, _ = _served(rsps, NO_DOSE, long_history(load(NO_DOSE), 0, 300), FHIR_MAX_ENTRIES=100)
    (card,) = cards
    assert card["indicator"] == "warning" and "medication-administrations" in card["detail"]


def _by_reference(record: list[dict]) -> list[dict]:
    """The day-45 infusion naming its Medication only by reference, that Medication on the server."""
    record = copy.deepcopy(record)
    infusion = next(r for r in record if r.get("id") == "zolgensma-infusion")
    medication = {"resourceType": "Medication", "id": "zolgensma-kit",
                  "code": infusion.pop("medicationCodeableConcept")}
    infusion["medicationReference"] = {"reference": "Medication/zolgensma-kit"}
    return record + [medication]


def test_a_dose_naming_its_medication_by_reference_is_found_at_the_dose_step(rsps):
    full, _ = _served(rsps, DAY_45, prefetched=SOURCES)
    rsps.reset()
    cards, calls = _served(rsps, DAY_45, _by_reference(load(DAY_45)), prefetched=("patient",))
    assert calls.count("Medication?_id=zolgensma-kit&_count=1") == 1  # read once, at the dose step
    outcome = cards[0]["extension"]["org.example.zolgensma-cds.monitoring"]
    assert outcome["day"] == 45 and outcome == full[0]["extension"]["org.example.zolgensma-cds.monitoring"]


def test_a_medication_that_cannot_be_read_never_silences_a_child(rsps):
    record = [r for r in _by_reference(load(DAY_45)) if r["resourceType"] != "Medication"]
    cards, _ = _served(rsps, DAY_45, record, prefetched=("patient",))
    (card,) = cards
    assert card["indicator"] == "warning" and "MedicationAdministration/zolgensma-infusion" in card["detail"]


@pytest.mark.parametrize("patient", [
    {"birthDate": "2026-13-40"},  # unreadable
    {"id": "someone-else"},  # not this patient's: not read
    None,  # the Patient read fails
])
def test_no_readable_age_is_no_reason_to_be_quiet(rsps, patient):
    record = load(DAY_45)
    if patient is None:
        cards, _ = _served(rsps, DAY_45, record, tamper=_failing("Patient/"))
    else:
        record = [dict(r, **patient) if r["resourceType"] == "Patient" else r for r in record]
        cards, _ = _served(rsps, DAY_45, record)
    assert cards[0]["extension"]["org.example.zolgensma-cds.monitoring"]["day"] == 45


@pytest.mark.parametrize("mode", ["lean", "full"])
def test_discovery_prefetches_the_patient_only_when_lean(mode):
    services = {s["id"]: s for s in make_app(PREFETCH=mode).test_client().get("/cds-services").json["services"]}
    monitoring, lab_orders = services[MONITORING], services[MONITORING_LAB_ORDERS]
    if mode == "lean":
        assert monitoring["prefetch"] == {"patient": "Patient/{{context.patientId}}"}
        assert "prefetch" not in lab_orders  # an order that is not a lab order needs nothing
    else:
        keys = {"patient", "labs", "labCodes", "medicationRequests", "medicationAdministrations", "procedures",
                "medicationDispenses", "serviceRequests", "conditions", "assessments"}
        assert set(monitoring["prefetch"]) == set(lab_orders["prefetch"]) == keys


# --- zolgensma-monitoring-lab-orders (order-select) --------------------------------------------------------------
def _order_select(name: str, code: dict, resources=None) -> dict:
    body = hook_request(name, "patient-view", "server", resources=resources)
    order = {"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft", "intent": "order", "code": code,
             "subject": {"reference": f"Patient/{name}"}}
    body["hook"] = "order-select"
    body["context"].update(draftOrders={"resourceType": "Bundle", "entry": [{"resource": order}]},
                           selections=["ServiceRequest/sr-1"])
    return body


LFT = {"coding": [{"system": "http://loinc.org", "code": "24325-3"}], "text": "Hepatic function panel"}
CT_HEAD = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "70450"}]}


def test_a_non_laboratory_order_costs_no_fhir_query(rsps):
    cards, calls = _served(rsps, DAY_45, url=LAB_ORDERS_URL, body=_order_select(DAY_45, CT_HEAD))
    assert cards == [] and calls == []


def test_a_lab_order_costs_the_lean_steps_for_a_patient_it_does_not_concern(rsps):
    adult = _adult(DAY_45)
    cards, calls = _served(rsps, DAY_45, adult, url=LAB_ORDERS_URL, body=_order_select(DAY_45, LFT, adult))
    assert cards == [] and calls == [f"Patient/{DAY_45}"]
    rsps.reset()
    cards, calls = _served(rsps, NO_DOSE, url=LAB_ORDERS_URL, body=_order_select(NO_DOSE, LFT))
    assert cards == [] and calls[0] == f"Patient/{NO_DOSE}" and _kinds(calls[1:]) == DOSE_SEARCHES
    rsps.reset()
    cards, _ = _served(rsps, DAY_45, url=LAB_ORDERS_URL, body=_order_select(DAY_45, LFT))
    assert cards[0]["extension"]["org.example.zolgensma-cds.monitoring"]["day"] == 45
