"""Monitoring (patient-view) reads dispenses (review 2026-11-24e follow-up of T1): a child whose only record of the
Zolgensma dose is a completed MedicationDispense gets the post-infusion schedule, day 0 from the date the kit was
handed over, and the card says that record gave the date. An administration (or procedure) dates the infusion
whenever there is one: a dispense handed over on another day neither moves day 0 nor counts as a second dose.
Each case through prefetch and through the FHIR server, identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, answer_each_route, load

from cds_service.hooks import MONITORING, SERVICES

URL = "/cds-services/zolgensma-monitoring"
DAY_3 = "monitoring-day-3"  # infused 2026-11-20 (MedicationAdministration/zolgensma-infusion), today 2026-11-23
EXT = "org.example.zolgensma-cds.monitoring"


def _monitoring(client, resources: list[dict]) -> dict:
    return answer_both_routes(client, resources, url=URL, name=DAY_3, hook="patient-view",
                              sources=SERVICES[MONITORING].sources)


def _dispense(handed_over: str, status: str = "completed") -> dict:
    return {"resourceType": "MedicationDispense", "id": "zolgensma-kit", "status": status,
            "subject": {"reference": f"Patient/{DAY_3}"}, "whenHandedOver": handed_over,
            "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                      "code": "71894-129-05"}], "text": "Zolgensma kit"}}


def _without_administration() -> list[dict]:
    return [r for r in copy.deepcopy(load(DAY_3)) if r["resourceType"] != "MedicationAdministration"]


def _schedule(answer: dict) -> dict:
    return next(c for c in answer["cards"] if EXT in (c.get("extension") or {}))


def test_a_dispense_alone_gives_the_schedule_from_its_date_and_says_so(client):
    assert _monitoring(client, _without_administration())["cards"] == []  # no dose on record: nothing to say
    answer = _monitoring(client, _without_administration() + [_dispense("2026-11-19")])
    card = _schedule(answer)
    assert card["extension"][EXT]["infusionDate"] == "2026-11-19"
    assert card["extension"][EXT]["infusionEvidence"] == "MedicationDispense/zolgensma-kit"
    assert answer["cards"][0]["summary"].startswith("Zolgensma day 4")
    assert "**Zolgensma infused 2026-11-19** (MedicationDispense/zolgensma-kit)" in card["detail"]
    assert "**Day 0 is the date the Zolgensma kit was handed over** (MedicationDispense/zolgensma-kit" in card["detail"]
    assert "Confirm the infusion date" in card["detail"]


def test_the_administration_dates_the_infusion_beside_a_dispense(client):
    plain = _monitoring(client, copy.deepcopy(load(DAY_3)))
    for handed_over in ("2026-11-19", "2026-11-21"):  # the day before, and (wrongly) a day after the infusion
        answer = _monitoring(client, copy.deepcopy(load(DAY_3)) + [_dispense(handed_over)])
        card = _schedule(answer)
        assert card["extension"][EXT]["infusionDate"] == "2026-11-20"
        assert card["extension"][EXT]["infusionEvidence"] == "MedicationAdministration/zolgensma-infusion"
        assert "handed over" not in card["detail"]
        assert [c["summary"] for c in answer["cards"]] == [c["summary"] for c in plain["cards"]]


def test_a_dispense_not_handed_over_gives_no_schedule(client):
    assert _monitoring(client, _without_administration() + [_dispense("2026-11-19", "cancelled")])["cards"] == []


def test_a_dispense_search_that_failed_is_named_when_no_day_0_is_found(client):
    def fail(query, answer):
        if query.startswith("MedicationDispense"):
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return answer
    answers = answer_each_route(client, _without_administration(), tamper=fail, url=URL, name=DAY_3,
                                hook="patient-view", sources=SERVICES[MONITORING].sources)
    for mode, answer in answers.items():
        assert len(answer["cards"]) == 1 and answer["cards"][0]["indicator"] == "warning", mode
        assert "medication-dispenses" in answer["cards"][0]["detail"], mode
