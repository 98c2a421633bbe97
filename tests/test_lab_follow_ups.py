"""The FHIR-server route's lab follow-ups (cds_service/follow_ups.py): what the prefetch route has in hand (the
labs prefetch is the whole categorised lab history) and the server route's searches by code and in the 30-day
window do not bring.

- review 2026-11-24b C2: a report filed under a name only ("SMN1 deletion analysis") on the SMN1 result's day is
  read on the server route too: a carrier report next to copy number 0 is `review` on both routes.
- review 2026-11-24b A5: an AAV9 titer with no usable date is named "no usable date" on both routes (the server
  route said "missing": its window search cannot find an undated result).
Each case through prefetch and through the FHIR server, with identical answers."""

from __future__ import annotations

import copy

import pytest
import responses
from conftest import make_app
from fhir_fake import FakeFhir, answer_both_routes, criterion_card, criterion_outcome, hook_request, load

SIGN = "/cds-services/zolgensma-order-sign"
LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]
REPORT_DAY = "Observation?date=2026-03-20&patient=eligible-infant&category=laboratory&_sort=-date&_count=200"
HISTORY = "Observation?patient=eligible-infant&category=laboratory&_sort=-date&_count=200"


def _with(*extra: dict, drop: str | None = None, change: dict | None = None) -> list[dict]:
    resources = [r for r in copy.deepcopy(load("eligible-infant")) if r.get("id") != drop]
    for r in resources:
        if change and r.get("id") in change:
            change[r["id"]](r)
    return resources + [copy.deepcopy(e) for e in extra]


CARRIER_REPORT = {"resourceType": "Observation", "id": "smn1-text", "status": "final", "category": LAB,
                  "code": {"text": "SMN1 deletion analysis"}, "subject": {"reference": "Patient/eligible-infant"},
                  "effectiveDateTime": "2026-03-20", "valueString": "One copy of SMN1 detected: carrier."}


def _server_calls(resources: list[dict], tamper=None, **config) -> tuple[dict, list[str]]:
    """The FHIR-server route's answer and the searches it made."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFhir(resources, tamper=tamper)
        fake.register(rsps)
        response = make_app(**config).test_client().post(
            SIGN, json=hook_request("eligible-infant", mode="server", resources=resources))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json, fake.calls


# --- C2 ----------------------------------------------------------------------------------------------------------
def test_a_carrier_report_beside_copy_number_0_is_review_on_both_routes_quoting_it(client):
    answer = answer_both_routes(client, _with(CARRIER_REPORT))
    got = criterion_outcome(answer, "smn1-biallelic")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("review", "genetics-conflict", "needs-review")
    assert answer["cards"][0]["summary"] == "Zolgensma needs Medical Director review: SMN1 results conflict"
    detail = criterion_card(answer, "smn1-biallelic")["detail"]
    assert "**Source:** DR.005.D initial criterion 2" in detail
    assert "- SMN1 copy number 0 (2026-03-20) (Observation/smn1-variant)" in detail
    assert ('(Observation/smn1-text) — report text: "One copy of SMN1 detected: carrier."' in detail)


def test_the_server_route_reads_the_lab_results_of_the_smn1_result_s_day_once_the_prefetch_route_none():
    answer, calls = _server_calls(_with(CARRIER_REPORT))
    assert calls.count(REPORT_DAY) == 1  # after the labs' answers named the day (other sources may still be read)
    labs = [i for i, c in enumerate(calls) if c.startswith("Observation?") and c != REPORT_DAY]
    assert calls.index(REPORT_DAY) > max(labs)
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "review"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeFhir(_with(CARRIER_REPORT))
        fake.register(rsps)
        make_app().test_client().post(SIGN, json=hook_request("eligible-infant", resources=_with(CARRIER_REPORT)))
    assert fake.calls == []  # the prefetch holds the whole categorised lab history


def test_a_report_day_that_cannot_be_read_stops_the_genetics_met_and_only_it():
    def failing(query: str, answer: dict) -> dict:
        if "date=2026-03-20" in query:
            return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return answer

    answer, _ = _server_calls(load("eligible-infant"), tamper=failing)
    got = criterion_outcome(answer, "smn1-biallelic")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "source-incomplete", "incomplete")
    assert "genetics-reports" in criterion_card(answer, "smn1-biallelic")["detail"]
    statuses = {c["id"]: c["status"] for c in answer["cards"][0]["extension"][
        "org.example.zolgensma-cds.eligibility"]["criteria"]}
    assert statuses["aav9-titer"] == statuses["baseline-liver-function"] == "met"


def test_a_report_that_agrees_keeps_the_eligible_infant_eligible(client):
    agreeing = {**CARRIER_REPORT, "valueString": "Homozygous deletion of SMN1 exon 7 detected (0 copies)."}
    answer = answer_both_routes(client, _with(agreeing))
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "met"
    assert answer["cards"][0]["summary"].startswith("Zolgensma can go ahead")


# --- A5 ----------------------------------------------------------------------------------------------------------
def _undated(titer: dict) -> None:
    del titer["effectiveDateTime"]


def _period_end_only(titer: dict) -> None:
    del titer["effectiveDateTime"]
    titer["effectivePeriod"] = {"end": "2026-11-20"}


@pytest.mark.parametrize("undate", [_undated, _period_end_only])
def test_an_undated_titer_is_named_as_undated_on_both_routes_never_missing(client, undate):
    answer = answer_both_routes(client, _with(change={"aav9": undate}))
    got = criterion_outcome(answer, "aav9-titer")
    assert (got["status"], got["reasonCode"], got["overall"]) == ("unknown", "titer-undated", "incomplete")
    assert answer["cards"][0]["summary"] == "Zolgensma not ready: AAV9 titer has no usable date"
    card = criterion_card(answer, "aav9-titer")
    assert card["summary"] == "Anti-AAV9 titer has no usable date: recency cannot be checked"
    assert r"- titer \<1:25, method ELISA (from Observation.method), on unknown date (Observation/aav9)" in card[
        "detail"]


def test_the_server_route_reads_the_lab_history_only_when_no_titer_was_found():
    _, calls = _server_calls(_with(change={"aav9": _undated}))
    assert calls.count(HISTORY) == 1
    _, calls = _server_calls(load("eligible-infant"))
    assert HISTORY not in calls


def test_no_titer_on_record_is_still_missing_on_both_routes(client):
    answer = answer_both_routes(client, _with(drop="aav9"))
    got = criterion_outcome(answer, "aav9-titer")
    assert (got["status"], got["reasonCode"]) == ("unknown", "titer-missing")


def test_the_readiness_service_reads_the_report_too_and_both_routes_agree(client):
    """The patient-view readiness plan: a carrier report beside copy number 0 is a gate under review on both
    routes (the server route said "every gate met")."""
    from cds_service.services import READINESS, SERVICES

    resources = copy.deepcopy(load("readiness-all-done")) + [
        {**CARRIER_REPORT, "subject": {"reference": "Patient/readiness-all-done"}}]
    answer = answer_both_routes(client, resources, url="/cds-services/zolgensma-readiness",
                                name="readiness-all-done", hook="patient-view", sources=SERVICES[READINESS].sources)
    card = answer["cards"][0]
    # review 2026-11-24g G8: a review gate is named as the order-sign check names it (was "to do: SMN1 genetics")
    assert card["summary"] == "Zolgensma readiness for 2026-12-01: Medical Director review: SMN1 results conflict"
    assert card["indicator"] == "warning"
    row = "| Bi-allelic SMN1 confirmation | Genetically confirmed bi-allelic SMN1 deletions or variants | **review** |"
    assert row in card["detail"]


def test_a_lab_history_read_incompletely_leaves_the_titer_unknown_and_the_genetics_met():
    """No titer in the window: the lab history is read (within the limits: one page here, of 300 results), and the
    SMN1 result's day is searched on its own, so criterion 2 does not depend on how long the history is."""
    from fhir_fake import long_history

    answer, calls = _server_calls(long_history(_with(drop="aav9"), 300, 0), FHIR_MAX_PAGES=1)
    assert HISTORY in calls and REPORT_DAY in calls
    assert criterion_outcome(answer, "smn1-biallelic")["status"] == "met"
    assert criterion_outcome(answer, "aav9-titer")["status"] == "unknown"
    issues = answer["cards"][0]["extension"]["org.example.zolgensma-cds.eligibility"]["dataIssues"]
    assert any(i["source"] == "lab-history" and i["problem"].startswith("not read completely") for i in issues)
