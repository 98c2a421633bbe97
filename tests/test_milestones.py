"""After the boxed-warning months: the outcomes milestone assessments on the monitoring service (issue 17.2)."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from conftest import make_app
from fhir_fake import both_routes, hook_request, load

from cds_service.facts import Assessment, PatientFacts
from cds_service.hooks import MONITORING, SERVICES
from cds_service.quantities import add_months
from cds_service.rules.milestones import evaluate_milestones

URL = "/cds-services/zolgensma-monitoring"
SOURCES = SERVICES[MONITORING].sources
EXT = "org.example.zolgensma-cds.milestones"

# scenario -> ({month: status}, {month: evidence}, {month: missing}, summary words, indicator)
EXPECTED = {
    "monitoring-month-6-due": ({6: "due", 12: "upcoming", 60: "upcoming"}, {},
                               {6: ["motor-scale", "developmental-milestones"]}, "month-6 milestone assessment due",
                               "info"),
    "monitoring-month-12-done": ({6: "done", 12: "done", 24: "upcoming"},
                                 {6: ["Observation/chop-m6", "Observation/milestones-m6"],
                                  12: ["Observation/chop-m12", "Observation/milestones-m12"]}, {},
                                 "up to date; next month 24 on 2027-11-20", "info"),
    "monitoring-month-13-overdue": ({6: "done", 12: "overdue", 24: "upcoming"}, {12: ["Observation/hfmse-m12"]},
                                    {12: ["developmental-milestones"]}, "month-12 milestone assessment overdue",
                                    "warning"),
}


def _post(client, body):
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def _milestone_card(response):
    return next(c for c in response["cards"] if EXT in c.get("extension", {}))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_milestone_visits_through_prefetch_and_fhir_server(name, client, rsps):
    via_prefetch = both_routes(client, URL, name, "patient-view", SOURCES, rsps)
    assert any("category=exam" in call.request.url for call in rsps.calls)  # the assessments were queried

    statuses, evidence, missing, words, indicator = EXPECTED[name]
    card = _milestone_card(via_prefetch)
    visits = {v["month"]: v for v in card["extension"][EXT]["visits"]}
    assert sorted(visits) == [6, 12, 24, 36, 60]
    for month, status in statuses.items():
        assert visits[month]["status"] == status, (month, visits[month])
    for month, refs in evidence.items():
        assert visits[month]["evidence"] == refs
    for month, gaps in missing.items():
        assert visits[month]["missing"] == gaps
    assert words in card["summary"] and card["indicator"] == indicator
    assert card["extension"][EXT]["ventilatorFreeSurvival"] == "no-permanent-ventilation-recorded"
    assert "CHOP-INTEND" in card["detail"] and "What counts as done" in card["detail"]
    # the documents the visits rest on, no setting name, and no label link where the label is not cited
    assert card["source"]["label"] == "Zolgensma outcomes milestones (billing guide; DR.005.D efficacy monitoring)"
    assert "CDS_LOCAL_CODES" not in card["detail"] and "`" not in card["detail"]
    assert ("FDA label" in card["detail"]) == any("fda.gov" in link["url"] for link in card.get("links", []))


def test_no_milestone_card_in_the_first_months(client):
    for name in ("monitoring-day-20", "monitoring-day-100-abnormal"):
        cards = _post(client, hook_request(name, "patient-view", sources=SOURCES))["cards"]
        assert not any(EXT in c.get("extension", {}) for c in cards)


def test_unread_assessments_make_a_visit_unknown_never_overdue(client):
    body = hook_request("monitoring-month-13-overdue", "patient-view", sources=SOURCES)
    body["prefetch"]["assessments"] = {"resourceType": "OperationOutcome",
                                      "issue": [{"severity": "error", "code": "timeout"}]}
    del body["fhirServer"], body["fhirAuthorization"]
    card = _milestone_card(_post(client, body))
    visits = {v["month"]: v["status"] for v in card["extension"][EXT]["visits"]}
    assert visits[6] == visits[12] == "unknown" and visits[24] == "upcoming"
    assert card["indicator"] == "warning" and "not verifiable" in card["summary"]


def test_ventilation_on_record_is_shown(client):
    resources = load("monitoring-month-12-done") + [{
        "resourceType": "Condition", "id": "trach", "subject": {"reference": "Patient/monitoring-month-12-done"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "code": {"text": "Tracheostomy status"}}]
    body = hook_request("monitoring-month-12-done", "patient-view", sources=SOURCES, resources=resources)
    card = _milestone_card(_post(client, body))
    assert card["extension"][EXT]["ventilatorFreeSurvival"] == "ventilation-recorded"
    assert "Condition/trach" in card["detail"]


def test_a_site_code_mapped_by_configuration_counts():
    app = make_app(LOCAL_CODES={"http://clinic.example.org/pt|CI-T": "chop-intend"})
    resources = copy.deepcopy(load("monitoring-month-13-overdue"))
    for r in resources:
        if r.get("id") == "hfmse-m12":
            r["code"] = {"coding": [{"system": "http://clinic.example.org/pt", "code": "CI-T"}]}
        if r.get("id") == "milestones-m6":
            r["id"], r["effectiveDateTime"] = "milestones-m12", "2026-10-05"
    body = hook_request("monitoring-month-13-overdue", "patient-view", sources=SOURCES, resources=resources)
    card = _milestone_card(_post(app.test_client(), body))
    visits = {v["month"]: v for v in card["extension"][EXT]["visits"]}
    assert visits[12]["status"] == "done" and "Observation/hfmse-m12" in visits[12]["evidence"]
    assert visits[6]["status"] == "overdue"  # its milestones moved to month 12


def test_window_boundaries():
    day0 = date(2026, 1, 31)
    due = add_months(day0, 6)
    assert due == date(2026, 7, 31) and add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)

    def status(today, when):
        facts = PatientFacts("Patient/p", sources_read={"assessments", "conditions"}, assessments=[
            Assessment("rhs", "Observation/r", when, "RHS: 40"),
            Assessment("developmental-milestones", "Observation/m", when, "walks")])
        return evaluate_milestones(facts, day0, today).visits[0].status

    assert status(date(2026, 8, 30), date(2026, 8, 30)) == "done"  # last day of the window
    assert status(date(2026, 8, 31), date(2026, 8, 31)) == "overdue"  # a day late: not this visit's
    assert status(date(2026, 7, 1), date(2026, 6, 30)) == "due"  # before the window: not this visit's
    assert evaluate_milestones(PatientFacts("Patient/p"), day0, date(2026, 5, 1)) is None  # too early for a card
