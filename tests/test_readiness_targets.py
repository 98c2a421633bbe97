"""The readiness plan's target date (order, infusion request, appointment, prednisolone start) and its lean
reading (a patient-view service runs on every chart open)."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest
from conftest import TODAY, make_app
from fhir_fake import FakeFhir, hook_request, load

from cds_service.facts import Order, PatientFacts, PlannedInfusion
from cds_service.hooks import READINESS, SERVICES
from cds_service.rules.readiness import DATE_SOURCES, choose_target
from cds_service.translate import Translator

URL = "/cds-services/zolgensma-readiness"
SOURCES = SERVICES[READINESS].sources
EXT = "org.example.zolgensma-cds.readiness"
PID = "readiness-appointment"


def _plan(client, name, resources=None, mode="prefetch"):
    body = hook_request(name, "patient-view", mode, sources=SOURCES, resources=resources)
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["cards"]


# --- appointments -----------------------------------------------------------------------------------------
def test_a_text_recognised_appointment_is_the_target_and_the_card_says_so(client):
    card = _plan(client, "readiness-appointment")[0]
    plan = card["extension"][EXT]
    assert (plan["target"], plan["targetBasis"], plan["targetEvidence"], plan["targetRecognisedBy"]) == (
        "2026-12-02", "appointment", "Appointment/infusion-visit", "text")
    # the clinic follow-up (11-26), the teaching session (11-25), the cancelled slot (11-30) and the past
    # visit are not the infusion: no other planned date is listed
    assert "otherPlannedDates" not in plan and "notes" not in plan
    assert "from the appointment Appointment/infusion-visit on 2026-12-02" in card["detail"]
    assert "recognised by its text only" in card["detail"] and "IV infusion, day 0" in card["detail"]


def _appointment(**changes) -> dict:
    resource = copy.deepcopy(next(r for r in load(PID) if r.get("id") == "infusion-visit"))
    resource.update(changes)
    return resource


def _facts(*appointments) -> PatientFacts:
    return Translator(PID).build({"appointments": list(appointments)}, None, [], [], TODAY)


def _when(facts):
    return [(p.reference, p.when.isoformat(), p.recognised_by) for p in facts.planned_infusions]


@pytest.mark.parametrize("changes, recognised", [
    ({}, "text"),
    # J3399 coded as the appointment's service type: recognised by code, whatever the text says
    ({"description": "Infusion chair 4 h", "serviceType": [{"coding": [
        {"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "code": "J3399"}]}]}, "code"),
    ({"description": "Gene therapy infusion"}, "text"),
    ({"description": "Neuromuscular clinic"}, None),  # not recognisable: never the infusion
    ({"description": "Gene therapy consult"}, None),
    ({"description": "Zolgensma pre-infusion labs"}, None),
    ({"description": "Itvisma intrathecal dose"}, None),  # another product
    ({"status": "cancelled"}, None),
    ({"status": "fulfilled"}, None),
    ({"participant": [{"actor": {"reference": "Patient/sibling"}, "status": "accepted"}]}, None),  # not hers
    ({"participant": [{"actor": {"reference": f"Patient/{PID}"}, "status": "declined"}]}, None),
])
def test_which_appointments_are_the_infusion(changes, recognised):
    facts = _facts(_appointment(**changes))
    assert [p.recognised_by for p in facts.planned_infusions] == ([recognised] if recognised else [])


def test_another_patients_appointment_is_reported_not_read():
    facts = _facts(_appointment(participant=[{"actor": {"reference": "Patient/sibling"}}]))
    assert not facts.planned_infusions
    assert any("Patient/sibling" in i.problem for i in facts.issues)


def test_an_appointment_for_the_zolgensma_order_is_recognised_by_reference():
    order = {"resourceType": "MedicationRequest", "id": "zolg", "status": "active", "intent": "order",
             "subject": {"reference": f"Patient/{PID}"},
             "medicationCodeableConcept": {"text": "Zolgensma kit"}}
    visit = _appointment(description="Infusion center", supportingInformation=[{"reference": "MedicationRequest/zolg"}])
    facts = Translator(PID).build({"appointments": [visit], "medication-requests": [order]}, None, [], [], TODAY)
    assert _when(facts) == [("Appointment/infusion-visit", "2026-12-02", "reference")]
    # the same visit referring to nothing we know is not the infusion
    other = _appointment(description="Infusion center", supportingInformation=[{"reference": "MedicationRequest/x"}])
    assert not _facts(other).planned_infusions


def test_a_recognised_appointment_without_a_start_is_reported_not_used():
    visit = _appointment()
    del visit["start"]
    facts = _facts(visit)
    assert not facts.planned_infusions
    assert any("no start date" in i.problem for i in facts.issues)


def test_an_infusion_request_dates_the_plan_and_the_differing_appointment_is_listed(client):
    plan = _plan(client, "readiness-infusion-request")[0]["extension"][EXT]
    assert (plan["target"], plan["targetBasis"], plan["targetRecognisedBy"]) == ("2026-12-03", "service-request",
                                                                               "code")
    assert plan["otherPlannedDates"] == [{"reference": "Appointment/infusion-visit", "date": "2026-12-04"}]


# --- precedence (pure) ---------------------------------------------------------------------------------------
BIRTH = date(2026, 3, 10)
EARLIEST, LAST = TODAY + timedelta(days=1), date(2028, 3, 9)


def _p(ref, kind, days, how):
    return PlannedInfusion(ref, kind, TODAY + timedelta(days=days), how, "booked", "x")


def _steroid(start_days, status="active", ref="MedicationRequest/pred"):
    start = TODAY + timedelta(days=start_days)
    return Order(ref, "corticosteroid", status, "prednisolone", start=start, end=start + timedelta(days=29))


def _choose(order_days=None, plans=(), steroids=()):
    order = Order("MedicationRequest/z", "zolgensma", "active", "Zolgensma",
                  planned_date=TODAY + timedelta(days=order_days)) if order_days is not None else None
    facts = PatientFacts("Patient/p", birth_date=BIRTH, order=order, planned_infusions=list(plans),
                         steroid_orders=list(steroids), sources_read=set(DATE_SOURCES))
    c = choose_target(facts, TODAY, EARLIEST, LAST)
    return c.basis, (c.target - TODAY).days, c.recognised_by, [(r, (d - TODAY).days) for r, d in c.others], c.notes


def test_target_precedence():
    appt_text, appt_code = _p("Appointment/t", "appointment", 5, "text"), _p("Appointment/c", "appointment", 12, "code")
    request = _p("ServiceRequest/s", "service-request", 10, "code")
    # the order's date first (it is what the order-sign check evaluates); the others are listed
    assert _choose(9, [appt_text, request]) == ("order", 9, "", [("ServiceRequest/s", 10), ("Appointment/t", 5)],
                                                ("other-planned-dates",))
    assert _choose(None, [appt_text, request])[:3] == ("service-request", 10, "code")
    # an appointment recognised by code before an earlier one recognised by text only
    assert _choose(None, [appt_text, appt_code])[:3] == ("appointment", 12, "code")
    assert _choose(None, [appt_text])[:3] == ("appointment", 5, "text")
    # dates before today are never a target; an order dated in the past is said so
    past = _p("Appointment/old", "appointment", -3, "code")
    assert _choose(-10, [past]) == ("earliest-feasible", 1, "", [], ("order-date-in-past",))
    # the same date twice is not a conflict
    assert _choose(5, [appt_text])[3:] == ([], ())


def test_a_date_source_not_read_is_said_unless_the_order_gives_the_date(client, rsps):
    """Appointments unreadable (server error): the plan falls back to the earliest feasible date and says a
    planned date may be missing; the data-issues card says why."""
    body = hook_request(PID, "patient-view", sources=SOURCES)
    body["prefetch"]["appointments"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                                                                      "code": "exception"}]}
    del body["fhirServer"], body["fhirAuthorization"]
    cards = client.post(URL, json=body).json["cards"]
    plan = cards[0]["extension"][EXT]
    assert plan["targetBasis"] == "earliest-feasible" and plan["notes"] == ["planned-dates-unread"]
    assert "could be read (appointments)" in cards[0]["detail"] and any("appointments" in c["detail"]
                                                                        for c in cards[1:])
    facts = PatientFacts("Patient/p", birth_date=BIRTH, order=Order(
        "MedicationRequest/z", "zolgensma", "active", "Zolgensma", planned_date=TODAY + timedelta(days=9)))
    assert choose_target(facts, TODAY, EARLIEST, LAST).notes == ()  # the order's own date comes first anyway


def test_a_prednisolone_plan_starting_after_day_minus_1_moves_the_target():
    assert _choose(None, [], [_steroid(14)])[:2] == ("steroid-plan", 15)
    # starting at or before day -1 of the earliest feasible date: nothing to move
    assert _choose(None, [], [_steroid(0)])[:2] == ("earliest-feasible", 1)
    # two current plans: the prescriber settles them (criterion 7 review); no date is inferred
    assert _choose(None, [], [_steroid(14), _steroid(20, ref="MedicationRequest/p2")])[:2] == ("earliest-feasible", 1)
    # an ended plan is not a plan
    assert _choose(None, [], [_steroid(14, status="completed")])[:2] == ("earliest-feasible", 1)
    # a dated order or appointment wins over the steroid start (criterion 7 then says the plan starts late)
    assert _choose(None, [_p("Appointment/c", "appointment", 3, "code")], [_steroid(14)])[:2] == ("appointment", 3)


def test_a_prednisolone_plan_past_the_last_possible_date_does_not_move_the_target():
    facts = PatientFacts("Patient/p", birth_date=BIRTH, steroid_orders=[_steroid(30)], sources_read=set(DATE_SOURCES))
    last = TODAY + timedelta(days=20)
    c = choose_target(facts, TODAY, EARLIEST, last)
    assert (c.basis, c.target, c.notes) == ("earliest-feasible", EARLIEST, ("steroid-plan-too-late",))


def test_steroid_plan_target_clears_the_late_start_block(client):
    """The plan starting 2026-12-07, evaluated for the earliest feasible date, would block criterion 7
    (steroid-starts-late); dated from its start it does not."""
    gates = {g["criterion"]: g for g in _plan(client, "readiness-steroid-later")[0]["extension"][EXT]["gates"]}
    assert gates["corticosteroid-plan"]["reasonCode"] != "steroid-starts-late"
    assert gates["corticosteroid-plan"]["status"] != "blocks"


# --- lean reading ----------------------------------------------------------------------------------------------
def _server_calls(rsps, name, resources=None):
    fake = FakeFhir(resources or load(name))
    fake.register(rsps)
    client = make_app().test_client()
    body = hook_request(name, "patient-view", "server", sources=SOURCES, resources=resources)
    response = client.post(URL, json=body)
    assert response.status_code == 200
    return response.json["cards"], fake.calls


def test_an_adult_chart_open_costs_the_patient_read_only(rsps):
    resources = [dict(r, birthDate="1980-05-01") if r["resourceType"] == "Patient" else r
                 for r in load("readiness-all-done")]
    cards, calls = _server_calls(rsps, "readiness-all-done", resources)
    assert cards == [] and calls == ["Patient/readiness-all-done"]


def test_a_child_without_sma_costs_the_patient_conditions_and_smn1_searches_only(rsps):
    cards, calls = _server_calls(rsps, "readiness-not-concerned")
    assert cards == []
    assert calls[0] == "Patient/readiness-not-concerned" and len(calls) == 3
    assert sorted(c.split("?")[0] for c in calls[1:]) == ["Condition", "Observation"]
    smn1 = next(c for c in calls if c.startswith("Observation"))
    assert "code=" in smn1 and "category=laboratory" not in smn1  # by code, no lab-history scan


def test_a_child_with_sma_reads_everything_including_appointments(rsps):
    cards, calls = _server_calls(rsps, "readiness-appointment")
    assert cards[0]["extension"][EXT]["targetBasis"] == "appointment"
    appointments = [c for c in calls if c.startswith("Appointment?")]
    assert appointments == ["Appointment?patient=readiness-appointment&status=proposed,pending,booked"
                            "&date=ge2026-11-23&_count=50"]


@pytest.mark.parametrize("mode", ["lean", "full"])
def test_discovery_prefetches_the_patient_only_when_lean(mode):
    services = make_app(PREFETCH=mode).test_client().get("/cds-services").json["services"]
    readiness = next(s for s in services if s["id"] == READINESS)
    if mode == "lean":
        assert readiness["prefetch"] == {"patient": "Patient/{{context.patientId}}"}
    else:
        assert {"patient", "conditions", "labs", "appointments", "medicationRequests"} <= set(readiness["prefetch"])


def test_a_long_appointment_text_is_quoted_shortened():
    facts = _facts(_appointment(description="Zolgensma infusion " + "x" * 300))
    assert len(facts.planned_infusions[0].shown) == 160 and facts.planned_infusions[0].shown.endswith("…")
