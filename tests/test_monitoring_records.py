"""Monitoring (patient-view) with a second Zolgensma administration on record (review 2026-11-24d S4), each case
through prefetch and through the FHIR server with identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load

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
