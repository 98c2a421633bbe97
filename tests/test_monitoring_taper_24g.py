"""Review 2026-11-24g: the taper decision after the 30-day corticosteroid course (G3, G5) and the monitoring
summary beside a troponin-I rise (G11). Each case through prefetch and through the FHIR server, identical."""

from __future__ import annotations

import copy

import pytest
from fhir_fake import answer_both_routes, load, with_prednisolone

from cds_service.hooks import MONITORING, SERVICES

URL = "/cds-services/zolgensma-monitoring"
NAME = "monitoring-day-31-normal"  # infusion 2026-10-23, today day 31; course ended 2026-11-20 (day 28)
SOURCES = SERVICES[MONITORING].sources


def _answer(client, resources):
    return answer_both_routes(client, resources, url=URL, name=NAME, hook="patient-view", sources=SOURCES)


def _record(drop=(), eie=(), course=True):
    """The day-31 record with a prednisolone course order running (FDA label 2.1), minus `drop`, with `eie`
    marked entered-in-error."""
    resources = [r for r in copy.deepcopy(load(NAME)) if r.get("id") not in drop]
    for r in resources:
        if r.get("id") in eie:
            r["status"] = "entered-in-error"
    return with_prednisolone(resources, NAME, start="2026-10-22", end="2026-12-31") if course else resources


def _taper_cards(cards):
    return [c for c in cards if "taper" in c["summary"].lower() or "Taper" in c["summary"]]


def _taper_orders(cards):
    return [a["resource"] for c in cards for s in c.get("suggestions", []) for a in s["actions"]
            if a["resource"]["resourceType"] == "MedicationRequest"]


def test_control_course_running_and_day_28_tests_unremarkable_suggests_the_taper(client):
    cards = _answer(client, _record())["cards"]
    card = next(c for c in cards if c["summary"].startswith("Liver tests unremarkable after the steroid course"))
    assert "Observation/alt-d28" in card["detail"] and len(_taper_orders(cards)) == 1


@pytest.mark.parametrize("drop, eie, missing", [
    ((), ("alt-d28",), "ALT: latest 2026-11-13 (day 21), drawn during the course"),
    (("alt-d28",), (), "ALT: latest 2026-11-13 (day 21), drawn during the course"),
    (("alt-d28", "ast-d28"), (), "ALT: latest 2026-11-13 (day 21), drawn during the course; AST: latest "
                                 "2026-11-13 (day 21), drawn during the course"),
    (("alt-d28", "ast-d28", "tbili-d28", "pt-d28", "platelets-d28", "troponin-d28"), (),
     "total bilirubin: latest 2026-11-13 (day 21), drawn during the course; PT/INR: latest 2026-11-13"),
])
def test_g3_no_taper_on_liver_tests_drawn_during_the_course(client, drop, eie, missing):
    """G3: the day-21 ALT (during the course, full-dose steroid) is not the end-of-course check (FDA label 2.1;
    clinical-facts 5.2, day 28 +/- 2 days): no taper suggested, the liver tests ordered instead."""
    cards = _answer(client, _record(drop, eie))["cards"]
    assert not any(c["summary"].startswith("Liver tests unremarkable") for c in cards)
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("End-of-course liver tests needed before the taper"))
    assert card["summary"] == ("End-of-course liver tests needed before the taper decision: continue prednisolone "
                               "1 mg/kg/day meanwhile")
    assert card["indicator"] == "warning"
    assert "each drawn from 2026-11-18 (day 26) on and within the last 10 days" in card["detail"]
    assert missing in card["detail"]
    assert "FDA label 2.1" in card["detail"] and "clinical-facts 5.2" in card["detail"]
    codes = [a["resource"]["code"]["coding"][0]["code"] for s in card["suggestions"] for a in s["actions"]]
    assert "24325-3" in codes and "5902-2" in codes  # hepatic panel, PT/INR


def test_g3_a_late_day_27_draw_counts_as_end_of_course(client):
    """A draw within the schedule's 2 days before day 28 is the end-of-course check."""
    resources = _record()
    for r in resources:
        if r.get("id") in ("alt-d28", "ast-d28", "tbili-d28", "pt-d28"):
            r["effectiveDateTime"] = "2026-11-18"
    cards = _answer(client, resources)["cards"]
    assert any(c["summary"].startswith("Liver tests unremarkable after the steroid course") for c in cards)


def test_g3_no_steroid_order_and_day_28_alt_missing_never_suggests_a_taper(client):
    cards = _answer(client, _record(eie=("alt-d28",), course=False))["cards"]
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("No active prednisolone order since day 28"))
    assert "ALT: latest 2026-11-13 (day 21), drawn during the course" in card["detail"]


P = {"reference": f"Patient/{NAME}"}
PRED = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8638"}], "text": "prednisolone"}


def _order(oid, status, start, end, text="prednisolone"):
    return {"resourceType": "MedicationRequest", "id": oid, "status": status, "intent": "order", "subject": P,
            "medicationCodeableConcept": dict(PRED, text=text), "authoredOn": start,
            "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"start": start, "end": end},
                                                         "frequency": 1, "period": 1, "periodUnit": "d"}},
                                   "doseAndRate": [{"doseQuantity": {"value": 4, "unit": "mg"}}]}]}


@pytest.mark.parametrize("extra", [
    _order("pred", "stopped", "2026-10-22", "2026-11-02"),
    {"resourceType": "MedicationAdministration", "id": "pred-last", "status": "completed", "subject": P,
     "medicationCodeableConcept": PRED, "effectiveDateTime": "2026-11-02",
     "dosage": {"dose": {"value": 4, "unit": "mg"}}},
])
def test_g5_course_stopped_at_day_10_says_so_and_suggests_no_taper(client, extra):
    """G5 (a): the record shows the course ended at day 10: no taper 'from 1 mg/kg/day' of a dose not given."""
    cards = _answer(client, _record(course=False) + [copy.deepcopy(extra)])["cards"]
    assert not _taper_orders(cards)
    assert not any("1 mg/kg/day continues" in c["detail"] for c in cards)
    card = next(c for c in cards if c["summary"].startswith("Prednisolone stopped"))
    assert card["summary"] == ("Prednisolone stopped 2026-11-02 (day 10): the 30-day course did not run to day 28; "
                               "confirm with the prescriber before any taper")
    assert card["indicator"] == "warning" and not card.get("suggestions")
    assert "FDA label 2.1" in card["detail"] and f"{extra['resourceType']}/{extra['id']}" in card["detail"]


def test_g5_course_order_ended_on_day_28_asks_to_confirm_before_a_taper(client):
    cards = _answer(client, _record(course=False) + [_order("pred", "completed", "2026-10-22", "2026-11-20")])["cards"]
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("No corticosteroid order open since"))
    assert card["summary"] == ("No corticosteroid order open since 2026-11-20 (day 28): confirm prednisolone before "
                               "any taper")


def test_g5_active_taper_order_is_named_and_never_ordered_twice(client):
    taper = _order("pred-taper", "active", "2026-11-21", "2026-12-18", text="prednisolone taper")
    cards = _answer(client, _record(course=False) + [taper])["cards"]
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("Taper order on record"))
    assert card["summary"] == ("Taper order on record: MedicationRequest/pred-taper (prednisolone taper, 2026-11-21 to "
                               "2026-12-18); no second taper suggested")
    assert card["indicator"] == "info" and not card.get("suggestions")


def test_g5_taper_order_beside_a_running_course_is_not_duplicated(client):
    taper = _order("pred-taper", "active", "2026-11-21", "2026-12-18", text="prednisolone 15 mg/5 mL")
    cards = _answer(client, _record() + [taper])["cards"]  # course order open too; the taper named by its start
    assert not _taper_orders(cards)
    assert any(c["summary"].startswith("Taper order on record: MedicationRequest/pred-taper") for c in cards)


def test_g5_taper_order_is_named_on_the_end_of_course_tests_card(client):
    taper = _order("pred-taper", "active", "2026-11-21", "2026-12-18", text="prednisolone taper")
    cards = _answer(client, _record(eie=("alt-d28",)) + [taper])["cards"]
    assert not _taper_orders(cards)
    card = next(c for c in cards if c["summary"].startswith("End-of-course liver tests needed"))
    assert "**A corticosteroid order that may be the taper is open**: MedicationRequest/pred-taper" in card["detail"]


@pytest.mark.parametrize("value, unit, ranges", [
    (500, "pg/mL", []),  # no range: the rise is against the baseline
    (40, "ng/L", None),  # the fixture's range in ng/mL
])
def test_g11_first_card_names_a_troponin_rise(client, value, unit, ranges):
    resources = _record()
    trop = next(r for r in resources if r.get("id") == "troponin-d28")
    trop["valueQuantity"].update(value=value, unit=unit, code=unit)
    if ranges is not None:
        trop["referenceRange"] = ranges
    cards = _answer(client, resources)["cards"]
    assert any(c["summary"].startswith("Troponin-I has risen after Zolgensma") for c in cards)
    assert cards[0]["summary"] == "Zolgensma day 31: latest troponin-I abnormal; see the cards below"
    assert cards[0]["indicator"] == "warning"


def test_g11_another_patients_newer_alt_holds_the_taper_as_unusable(client):
    alien = copy.deepcopy(next(r for r in load(NAME) if r.get("id") == "alt-d28"))
    alien.update(id="alt-alien", subject={"reference": "Patient/someone-else"}, effectiveDateTime="2026-11-22")

    def tamper(query, answer):
        if query.startswith("Observation") and answer.get("resourceType") == "Bundle":
            answer = copy.deepcopy(answer)
            answer.setdefault("entry", []).insert(0, {"resource": alien, "search": {"mode": "match"}})
        return answer

    answer = answer_both_routes(client, _record(), url=URL, name=NAME, hook="patient-view", sources=SOURCES,
                                tamper=tamper)
    card = next(c for c in answer["cards"] if c["summary"].startswith("Taper on hold"))
    assert card["summary"] == ("Taper on hold: a newer liver result could not be used; continue prednisolone "
                               "1 mg/kg/day")
    assert "Observation/alt-alien" in card["detail"] and not _taper_orders(answer["cards"])
