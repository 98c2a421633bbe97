"""Review 2026-11-24b, items E1, E2, F1, F2, F3, G1: prior Zolgensma doses coded by the vial NDC or by an
unidentified NDC of Zolgensma's labeler, stopped orders, orders that give more than one dose, and corticosteroid
orders that are not a scheduled systemic course. Each case through prefetch and through the FHIR server, with
identical answers; the card a clinician reads is checked, not only the status."""

from __future__ import annotations

import copy

import pytest
from conftest import make_app
from fhir_fake import ELIGIBILITY_EXTENSION, answer_both_routes, criterion_card, criterion_outcome, load

from cds_service.hooks import MONITORING, READINESS, SERVICES

SIGN = "/cds-services/zolgensma-order-sign"
NDC = "http://hl7.org/fhir/sid/ndc"
PATIENT = {"reference": "Patient/eligible-infant"}


def _answer(client, resources: list[dict], name="eligible-infant", url=SIGN, hook="order-sign", sources=(),
            tamper=None) -> dict:
    """The answer through prefetch, checked equal (ids aside) to the FHIR-server route's."""
    return answer_both_routes(client, resources, url, name, hook=hook, sources=sources, tamper=tamper)


def _eligible(changes=None, *added: dict) -> list[dict]:
    resources = copy.deepcopy(load("eligible-infant"))
    for rid, change in (changes or {}).items():
        change(next(r for r in resources if r.get("id") == rid))
    return resources + [copy.deepcopy(r) for r in added]


def _administration(code: str, text: str | None = None, status="completed") -> dict:
    concept = {"coding": [{"system": NDC, "code": code}]} | ({"text": text} if text else {})
    return {"resourceType": "MedicationAdministration", "id": "ma1", "status": status,
            "medicationCodeableConcept": concept, "subject": PATIENT, "effectiveDateTime": "2026-06-01"}


@pytest.fixture
def client():
    return make_app().test_client()


# --- E1: the vial NDC; other NDCs of Zolgensma's labeler ----------------------------------------------------


@pytest.mark.parametrize("code", ["71894-115-01", "71894-0115-01", "71894011501", "7189411501", "71894-115"])
def test_a_prior_dose_coded_with_the_vial_ndc_is_a_prior_dose(client, code):
    answer = _answer(client, _eligible(None, _administration(code)))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "prior-dose", "not-eligible")
    card = criterion_card(answer, "one-time-dose")
    assert "MedicationAdministration/ma1" in card["detail"] and f"NDC {code}" in card["detail"]
    assert "2026-06-01" in card["detail"]
    assert answer["cards"][0]["summary"].startswith("Do not infuse Zolgensma")


@pytest.mark.parametrize("code", ["71894-110-01", "71894011001", "71894-999-01"])
def test_another_ndc_of_zolgensmas_labeler_is_unknown_never_no_prior_dose(client, code):
    """71894-110-01 (the 5.5 mL vial's probable NDC) is unverified: not read as Zolgensma, nor passed over."""
    answer = _answer(client, _eligible(None, _administration(code)))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("unknown", "source-incomplete")
    assert got["overall"] != "eligible"
    detail = criterion_card(answer, "one-time-dose")["detail"]
    assert "MedicationAdministration/ma1" in detail and f"NDC {code}" in detail and "2026-06-01" in detail
    assert "labeler 71894 (Novartis Gene Therapies)" in detail and "may be a Zolgensma dose" in detail


def test_a_labeler_ndc_named_as_zolgensma_is_a_prior_dose_and_itvisma_stays_distinct(client):
    named = criterion_outcome(
        _answer(client, _eligible(None, _administration("71894-110-01", "ZOLGENSMA 5.5 mL vial"))), "one-time-dose")
    assert (named["status"], named["reasonCode"]) == ("not-met", "prior-dose")
    # Itvisma (onasemnogene abeparvovec-brve, intrathecal) is another product of the same maker (clinical-facts 1.7):
    # not a Zolgensma dose, but a prior dose of the same vector, for the Medical Director (review 2026-11-24e T4;
    # was `met` here)
    itvisma = criterion_outcome(
        _answer(client, _eligible(None, _administration("71894-999-01", "Itvisma intrathecal"))), "one-time-dose")
    assert (itvisma["status"], itvisma["reasonCode"], itvisma["overall"]) == (
        "review", "possible-prior-dose", "needs-review")


def test_an_order_on_record_for_an_unidentified_labeler_product_is_unknown(client):
    order = {"resourceType": "MedicationRequest", "id": "mr1", "status": "completed", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-999-01"}]},
             "subject": PATIENT, "authoredOn": "2026-05-20"}
    got = criterion_outcome(_answer(client, _eligible(None, order)), "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("unknown", "source-incomplete")


def _monitored(code: str) -> list[dict]:
    resources = copy.deepcopy(load("monitoring-day-45-overdue"))
    infusion = next(r for r in resources if r.get("id") == "zolgensma-infusion")
    infusion["medicationCodeableConcept"] = {"coding": [{"system": NDC, "code": code}]}
    return resources


def _patient_view(client, resources, name, service):
    return _answer(client, resources, name, f"/cds-services/{service}", "patient-view", SERVICES[service].sources)


def test_monitoring_follows_a_child_dosed_with_the_vial_ndc(client):
    cards = _patient_view(client, _monitored("71894-115-01"), "monitoring-day-45-overdue", MONITORING)["cards"]
    assert cards and cards[0]["summary"].startswith("Zolgensma day 45: 6 monitoring draws overdue")


def test_monitoring_says_why_there_is_no_schedule_for_an_unidentified_labeler_product(client):
    cards = _patient_view(client, _monitored("71894-999-01"), "monitoring-day-45-overdue", MONITORING)["cards"]
    assert cards, "a possible Zolgensma dose must not leave the monitoring service silent"
    text = " ".join(c["summary"] + c.get("detail", "") for c in cards)
    assert "MedicationAdministration/zolgensma-infusion" in text and "NDC 71894-999-01" in text


@pytest.mark.parametrize("code", ["71894-115-01", "71894-999-01"])
def test_readiness_never_says_every_gate_met_for_a_child_who_may_have_been_dosed(client, code):
    resources = [r for r in _eligible() if r.get("id") != "zolgensma-order"] + [_administration(code)]
    cards = _patient_view(client, resources, "eligible-infant", READINESS)["cards"]
    assert not any("every gate met" in c["summary"] for c in cards)
    if code == "71894-999-01":  # a possible dose: the readiness plan names the record to check
        assert "NDC 71894-999-01" in " ".join(c["summary"] + c.get("detail", "") for c in cards)


# --- F1, F2, F3: an order that gives more than one dose ----------------------------------------------------
def _order_change(change):
    return _eligible({"zolgensma-order": change})


def _timing(timing: dict):
    def change(order):
        order["dosageInstruction"][0]["timing"] = timing
    return change


def _ml(value: float) -> dict:
    return {"doseQuantity": {"value": value, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}}


BID = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "BID"}]}


@pytest.mark.parametrize(("timing", "named"), [
    ({"event": ["2026-12-01", "2026-12-20"]}, "timing.event lists 2 times (2026-12-01, 2026-12-20)"),
    ({"event": ["2026-12-01"], "repeat": {"count": 2}}, "timing.repeat.count is 2"),
    ({"repeat": {"boundsPeriod": {"start": "2026-12-01", "end": "2026-12-05"}, "frequency": 1, "period": 1,
                 "periodUnit": "d"}}, "a dose every 1 d from 2026-12-01 to 2026-12-05"),
    ({"event": ["2026-12-01"], "code": BID}, "timing.code BID is a repeating schedule"),
    ({"event": ["2026-12-01"], "repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
     "timing.repeat.frequency is 2 per 1 d"),
    ({"event": ["2026-12-01"], "repeat": {"count": 1, "countMax": 3}}, "timing.repeat.countMax is 3"),
])
def test_an_order_giving_more_than_one_infusion_is_not_met(client, timing, named):
    answer = _answer(client, _order_change(_timing(timing)))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "order-several-doses", "not-eligible")
    card = criterion_card(answer, "one-time-dose")
    assert card["summary"] == "The Zolgensma order gives more than one dose: Zolgensma is a single infusion"
    assert named in card["detail"] and "MedicationRequest/zolgensma-order" in card["detail"]
    assert "FDA label 2" in card["detail"]


def test_the_planned_date_does_not_depend_on_the_order_of_the_event_dates(client):
    early_first = _answer(client, _order_change(_timing({"event": ["2026-12-01", "2026-12-20"]})))
    late_first = _answer(client, _order_change(_timing({"event": ["2026-12-20", "2026-12-01"]})))
    for answer in (early_first, late_first):
        outcome = answer["cards"][0]["extension"][ELIGIBILITY_EXTENSION]
        assert outcome["asOf"] == "2026-12-01"
    statuses = [{c["id"]: c["status"] for c in a["cards"][0]["extension"][ELIGIBILITY_EXTENSION]["criteria"]}
                for a in (early_first, late_first)]
    assert statuses[0] == statuses[1]


@pytest.mark.parametrize(("timing", "named"), [
    ({"event": ["2026-12-01"], "repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
     "timing.event with timing.repeat every 1 d and no count or end: it may repeat"),
    ({"event": ["2026-12-01"], "code": {"text": "per protocol"}}, "timing.code “per protocol” cannot be read as once"),
])
def test_an_order_whose_timing_cannot_be_read_as_one_infusion_is_unknown(client, timing, named):
    answer = _answer(client, _order_change(_timing(timing)))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("unknown", "order-doses-unclear")
    assert got["overall"] != "eligible"
    assert named in criterion_card(answer, "one-time-dose")["detail"]


@pytest.mark.parametrize("timing", [
    {"event": ["2026-12-01"]},
    {"event": ["2026-12-01"], "repeat": {"count": 1}},
    {"event": ["2026-12-01"], "code": {"text": "once"}},
    {"event": ["2026-12-01"], "code": BID, "repeat": {"count": 1}},  # at most one, whatever the pattern
    {"repeat": {"boundsPeriod": {"start": "2026-12-01", "end": "2026-12-01"}, "frequency": 1, "period": 1,
                "periodUnit": "d"}},
])
def test_an_order_for_one_infusion_stays_eligible(client, timing):
    got = criterion_outcome(_answer(client, _order_change(_timing(timing))), "one-time-dose")
    assert (got["status"], got["overall"]) == ("met", "eligible")


@pytest.mark.parametrize("change", [
    lambda o: o["dosageInstruction"][0].__setitem__("doseAndRate", [_ml(41.3), _ml(60.5)]),
    lambda o: o["dosageInstruction"].append({**copy.deepcopy(o["dosageInstruction"][0]),
                                             "doseAndRate": [_ml(60.5)]}),
])
def test_an_order_with_two_doses_is_judged_on_both(client, change):
    answer = _answer(client, _order_change(change))
    got = criterion_outcome(answer, "dose-within-label")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("not-met", "doses-several-off", "not-eligible")
    card = criterion_card(answer, "dose-within-label")
    assert "41.3 mL; 60.5 mL" in card["detail"] and "60.5 mL differs" in card["detail"]
    assert "FDA label 2.1" in card["detail"]


def test_two_dosage_instructions_are_two_infusions(client):
    second = lambda o: o["dosageInstruction"].append(copy.deepcopy(o["dosageInstruction"][0]))  # noqa: E731
    answer = _answer(client, _order_change(second))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("not-met", "order-several-doses")
    assert "2 dosageInstruction entries" in criterion_card(answer, "one-time-dose")["detail"]


def test_the_same_dose_in_ml_and_in_vector_genomes_is_one_dose(client):
    vg = {"doseQuantity": {"value": 8.25e14, "unit": "vg", "system": "http://unitsofmeasure.org", "code": "{vg}"}}
    change = lambda o: o["dosageInstruction"][0].__setitem__("doseAndRate", [_ml(41.3), vg])  # noqa: E731
    got = criterion_outcome(_answer(client, _order_change(change)), "dose-within-label")
    assert (got["status"], got["overall"]) == ("met", "eligible")


@pytest.mark.parametrize(("low", "high", "status"), [(38.5, 41.3, "not-met"), (41.3, 41.3, "met")])
def test_a_dose_range_is_judged_on_both_ends(client, low, high, status):
    dose_range = {"doseRange": {"low": _ml(low)["doseQuantity"], "high": _ml(high)["doseQuantity"]}}
    answer = _answer(client, _order_change(
        lambda o: o["dosageInstruction"][0].__setitem__("doseAndRate", [dose_range])))
    got = criterion_outcome(answer, "dose-within-label")
    assert got["status"] == status
    if status == "not-met":
        assert "38.5 mL (low end of doseRange) differs" in criterion_card(answer, "dose-within-label")["detail"]


@pytest.mark.parametrize(("dispense", "status", "named"), [
    ({"quantity": {"value": 2, "unit": "kit"}}, "not-met", "dispenseRequest.quantity is 2 kit: more than one kit"),
    ({"numberOfRepeatsAllowed": 1}, "not-met", "dispenseRequest.numberOfRepeatsAllowed is 1"),
    ({"quantity": {"value": 2}}, "unknown", "dispenseRequest.quantity is 2 with no unit"),
])
def test_more_than_one_kit_dispensed_is_not_one_dose(client, dispense, status, named):
    answer = _answer(client, _order_change(lambda o: o.__setitem__("dispenseRequest", dispense)))
    got = criterion_outcome(answer, "one-time-dose")
    assert got["status"] == status and got["overall"] != "eligible"
    assert named in criterion_card(answer, "one-time-dose")["detail"]


def test_one_kit_dispensed_stays_eligible(client):
    answer = _answer(client, _order_change(lambda o: o.__setitem__("dispenseRequest", {
        "quantity": {"value": 1, "unit": "kit"}, "numberOfRepeatsAllowed": 0})))
    assert criterion_outcome(answer, "one-time-dose")["overall"] == "eligible"


# --- G1: a corticosteroid order that is not the label's scheduled systemic course ---------------------------


def _steroid(change) -> list[dict]:
    return _eligible({"prednisolone-plan": change})


def _dosage(**values):
    return lambda o: o["dosageInstruction"][0].update(values)


@pytest.mark.parametrize(("change", "kinds", "named"), [
    (_dosage(asNeededBoolean=True), "as needed", "as needed (dosageInstruction.asNeeded), not scheduled"),
    (lambda o: o.update(status="on-hold"), "on hold", "on hold (status on-hold)"),
    (lambda o: o.update(intent="proposal"), "a proposal", "a proposal (intent proposal), not an order"),
    (lambda o: o.update(intent="plan"), "a plan", "a plan (intent plan), not an order"),
    (_dosage(route={"text": "topical"}), "not systemic", "not systemic (route topical)"),
    (_dosage(route={"coding": [{"system": "http://snomed.info/sct", "code": "6064005"}]}), "not systemic",
     "not systemic (route 6064005)"),
    (_dosage(route={"text": "inhaled"}), "not systemic", "not systemic (route inhaled)"),
    (lambda o: o.update(medicationCodeableConcept={"text": "prednisolone acetate 1% ophthalmic suspension"}),
     "not systemic", "not systemic (the product is prednisolone acetate 1% ophthalmic suspension)"),
    (_dosage(route={"text": "intrathecal"}), "of a route not recognised as systemic",
     "of a route not recognised as systemic (intrathecal)"),
])
def test_a_steroid_order_that_is_not_a_scheduled_systemic_course_is_unknown(client, change, kinds, named):
    answer = _answer(client, _steroid(change))
    got = criterion_outcome(answer, "corticosteroid-plan")
    assert (got["status"], got["reasonCode"]) == ("unknown", "steroid-order-not-a-course")
    assert got["overall"] != "eligible"
    card = criterion_card(answer, "corticosteroid-plan")
    assert card["summary"] == f"Prednisolone order is {kinds}: not the label's scheduled systemic course"
    assert f"MedicationRequest/prednisolone-plan is {named}" in card["detail"]
    assert "FDA label 2.1" in card["detail"] and "DR.005.D 7" in card["detail"]


def test_an_unsigned_draft_on_record_is_not_the_course_but_one_of_this_session_is(client):
    resources = _eligible()
    plan = next(r for r in resources if r.get("id") == "prednisolone-plan")
    resources.remove(plan)
    draft = copy.deepcopy(plan) | {"status": "draft"}

    def on_record(query, answer):  # the draft comes with the record's MedicationRequests, not in draftOrders
        if query.startswith("MedicationRequest?") and answer.get("resourceType") == "Bundle":
            return answer | {"entry": [*answer.get("entry", []), {"resource": draft}],
                             "total": answer.get("total", 0) + 1}
        return answer

    answer = _answer(client, resources, tamper=on_record)
    got = criterion_outcome(answer, "corticosteroid-plan")
    assert (got["status"], got["reasonCode"]) == ("unknown", "steroid-order-not-a-course")
    assert "an unsigned draft on record (status draft)" in " ".join(c.get("detail", "") for c in answer["cards"])
    # the same draft signed in this ordering session (draftOrders) is the course
    in_session = criterion_outcome(_answer(client, resources + [draft]), "corticosteroid-plan")
    assert (in_session["status"], in_session["overall"]) == ("met", "eligible")


@pytest.mark.parametrize("route", [{"text": "oral"}, {"text": "by mouth"}, {"text": "PO"}, {"text": "via G-tube"},
                                   {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]}])
def test_a_scheduled_systemic_steroid_order_stays_met(client, route):
    got = criterion_outcome(_answer(client, _steroid(_dosage(route=route))), "corticosteroid-plan")
    assert (got["status"], got["overall"]) == ("met", "eligible")


def test_a_prn_order_beside_the_scheduled_course_does_not_disturb_it(client):
    prn = copy.deepcopy(next(r for r in _eligible() if r.get("id") == "prednisolone-plan"))
    prn["id"] = "prednisolone-prn"
    prn["dosageInstruction"][0]["asNeededBoolean"] = True
    got = criterion_outcome(_answer(client, _eligible(None, prn)), "corticosteroid-plan")
    assert (got["status"], got["overall"]) == ("met", "eligible")


# --- E2: a stopped or unknown-status Zolgensma order on record ----------------------------------------------
@pytest.mark.parametrize("status", ["stopped", "unknown"])
def test_a_stopped_or_unknown_zolgensma_order_is_not_no_prior_dose(client, status):
    order = {"resourceType": "MedicationRequest", "id": "mr1", "status": status, "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-128-05"}]},
             "subject": PATIENT, "authoredOn": "2026-05-20"}
    answer = _answer(client, _eligible(None, order))
    got = criterion_outcome(answer, "one-time-dose")
    assert (got["status"], got["reasonCode"]) == ("unknown", "source-incomplete")
    assert got["overall"] != "eligible"
    detail = criterion_card(answer, "one-time-dose")["detail"]
    assert f"MedicationRequest/mr1 (a Zolgensma order of 2026-05-20 with status {status}" in detail
    assert "confirm nothing was infused" in detail


def test_a_cancelled_zolgensma_order_is_still_no_prior_dose(client):
    order = {"resourceType": "MedicationRequest", "id": "mr1", "status": "cancelled", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": NDC, "code": "71894-128-05"}]},
             "subject": PATIENT, "authoredOn": "2026-05-20"}
    assert criterion_outcome(_answer(client, _eligible(None, order)), "one-time-dose")["overall"] == "eligible"
