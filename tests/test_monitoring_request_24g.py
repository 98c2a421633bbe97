"""Review 2026-11-24g G6: monitoring for a child whose infusion is recorded only as a completed ServiceRequest.
Coded (HCPCS J3399), it dates day 0 as order-sign reads it as a prior dose; named only in text (a gene-therapy
infusion), a notice to confirm day 0, never a schedule. Both routes, identical answers."""

from __future__ import annotations

import copy

from fhir_fake import answer_both_routes, load

from cds_service.hooks import MONITORING, SERVICES

URL = "/cds-services/zolgensma-monitoring"
NAME = "monitoring-day-31-normal"
P = {"reference": f"Patient/{NAME}"}
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


def _answer(client, extra):
    record = [r for r in copy.deepcopy(load(NAME)) if r.get("id") != "zolgensma-infusion"] + [extra]
    return answer_both_routes(client, record, url=URL, name=NAME, hook="patient-view",
                              sources=SERVICES[MONITORING].sources)["cards"]


def _request(code):
    return {"resourceType": "ServiceRequest", "id": "s1", "status": "completed", "intent": "order", "subject": P,
            "code": code, "occurrenceDateTime": "2026-10-23"}


def test_a_completed_j3399_request_dates_day_0_and_says_so(client):
    cards = _answer(client, _request({"coding": [{"system": HCPCS, "code": "J3399"}], "text": "Zolgensma infusion"}))
    first = cards[0]
    assert first["summary"] == "Zolgensma day 31: monitoring on schedule; next LFT on 2026-12-04"
    outcome = first["extension"]["org.example.zolgensma-cds.monitoring"]
    assert outcome["infusionDate"] == "2026-10-23" and outcome["infusionEvidence"] == "ServiceRequest/s1"
    assert "**Day 0 is the date on a completed Zolgensma infusion request** (ServiceRequest/s1, 2026-10-23)" \
        in first["detail"]
    assert any(c["summary"].startswith("Liver tests unremarkable after the steroid course") for c in cards)


def test_a_gene_therapy_request_named_in_text_only_gives_a_notice_not_a_schedule(client):
    cards = _answer(client, _request({"text": "Gene therapy infusion"}))
    assert len(cards) == 1
    card = cards[0]
    assert card["summary"] == "No Zolgensma monitoring schedule: the infusion date (day 0) could not be read"
    assert card["indicator"] == "warning"
    assert "ServiceRequest/s1" in card["detail"] and "may record a Zolgensma infusion" in card["detail"]
    assert "org.example.zolgensma-cds.monitoring" not in (card.get("extension") or {})


def test_an_open_request_dated_a_month_ago_is_no_day_0_but_a_notice(client):
    """An active J3399 request whose date is past may have been given (review 2026-11-24g G7): a possible dose,
    never a schedule; named so that day 0 gets confirmed."""
    extra = dict(_request({"coding": [{"system": HCPCS, "code": "J3399"}]}), status="active")
    cards = _answer(client, extra)
    assert [c["summary"] for c in cards] == [
        "No Zolgensma monitoring schedule: the infusion date (day 0) could not be read"]
    assert "ServiceRequest/s1" in cards[0]["detail"] and "may record a Zolgensma infusion" in cards[0]["detail"]
