"""Monitoring (patient-view): a second Zolgensma administration on record (review 2026-11-24d S4), and the
prednisolone course at days 0-27 (S5). Each case through prefetch and through the FHIR server, identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load, with_prednisolone

from cds_service.hooks import MONITORING, SERVICES

URL = "/cds-services/zolgensma-monitoring"
DAY_3 = "monitoring-day-3"  # infused 2026-11-20 (MedicationAdministration/zolgensma-infusion), today 2026-11-23


def _monitoring(client, resources: list[dict]) -> dict:
    return answer_both_routes(client, resources, url=URL, name=DAY_3, hook="patient-view",
                              sources=SERVICES[MONITORING].sources)


def _with_second_administration(effective: str) -> list[dict]:
    resources = copy.deepcopy(load(DAY_3))
    first = next(r for r in resources if r["resourceType"] == "MedicationAdministration")
    second = dict(copy.deepcopy(first), id="inf2", effectiveDateTime=effective)
    return resources + [second]


def _card(answer: dict, start: str) -> dict:
    return next(c for c in answer["cards"] if c["summary"].startswith(start))


def test_a_second_administration_is_named_and_day_0_said(client):
    for effective, shown in (("2026-11-02", "2026-11-02"), ("2026-11", "unknown date")):
        answer = _monitoring(client, _with_second_administration(effective))
        card = _card(answer, "2 Zolgensma administrations on record (one-time therapy): confirm day 0, now 2026-11-20")
        assert card["indicator"] == "warning"
        assert "MedicationAdministration/zolgensma-infusion" in card["detail"]
        assert "MedicationAdministration/inf2" in card["detail"]
        assert f"on {shown}" in card["detail"]
        assert "counts day 0 from the latest dated record, 2026-11-20" in card["detail"]
        assert "FDA label 2.1" in card["detail"]
        assert answer["cards"][0]["indicator"] == "warning"  # the first card is never calmer than the alerts
        assert answer["cards"][0]["summary"].startswith("Zolgensma day 3")  # day 0 still 2026-11-20


def test_one_administration_says_nothing_about_other_records(client):
    answer = _monitoring(client, copy.deepcopy(load(DAY_3)))
    assert not any("administrations on record" in c["summary"] for c in answer["cards"])


STEROID_NONE = "Day 3: no prednisolone course on record (FDA label 2.1: 1 mg/kg/day from day -1 to day 28)"


def _steroid_cards(answer: dict) -> list[dict]:
    return [c for c in answer["cards"] if "prednisolone course" in c["summary"]]


def test_no_corticosteroid_on_record_at_day_3_is_a_warning(client):
    answer = _monitoring(client, copy.deepcopy(load(DAY_3)))
    card = _card(answer, STEROID_NONE)
    assert card["indicator"] == "warning"
    assert "No active corticosteroid order, and no corticosteroid given today or yesterday, is on record" \
        in card["detail"]
    assert "read completely" in card["detail"] and "no corticosteroid order on record at all" in card["detail"]
    assert "day -1 to day 28 (here to 2026-12-18)" in card["detail"]
    assert "no order is suggested here" in card["detail"] and not card.get("suggestions")
    assert answer["cards"][0]["indicator"] == "warning"  # "on schedule", but never calmer than this card


def test_an_ended_prednisolone_order_is_named(client):
    resources = with_prednisolone(copy.deepcopy(load(DAY_3)), DAY_3, start="2026-11-19", end="2026-11-21",
                                  status="completed")
    card = _card(_monitoring(client, resources), STEROID_NONE)
    assert "the last one on record ended 2026-11-21" in card["detail"]
    assert "MedicationRequest/prednisolone-course" in card["detail"]


def test_an_active_prednisolone_order_or_a_dose_given_yesterday_settles_it(client):
    answer = _monitoring(client, with_prednisolone(copy.deepcopy(load(DAY_3)), DAY_3))
    assert _steroid_cards(answer) == []
    assert answer["cards"][0]["indicator"] == "info"
    given = copy.deepcopy(load(DAY_3)) + [{
        "resourceType": "MedicationAdministration", "id": "pred-d2", "status": "completed",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "8638"}], "text": "prednisolone"},
        "subject": {"reference": f"Patient/{DAY_3}"}, "effectiveDateTime": "2026-11-22"}]
    assert _steroid_cards(_monitoring(client, given)) == []
    given[-1]["effectiveDateTime"] = "2026-11-20"  # three days ago: the course is not shown to run today
    assert [c["summary"] for c in _steroid_cards(_monitoring(client, given))] == [STEROID_NONE]


def test_an_unidentifiable_medication_order_leaves_the_course_unconfirmed(client):
    resources = copy.deepcopy(load(DAY_3)) + [{
        "resourceType": "MedicationRequest", "id": "mystery", "status": "active", "intent": "order",
        "medicationCodeableConcept": {}, "subject": {"reference": f"Patient/{DAY_3}"}}]
    card = _card(_monitoring(client, resources), "Day 3: prednisolone course not confirmed, medication records "
                                                  "not all read (FDA label 2.1)")
    assert card["indicator"] == "warning"
    assert "MedicationRequest/mystery" in card["detail"]
    assert "is not known" in card["detail"]
